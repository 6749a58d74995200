/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bpfcase.h - what the kernel-against-model tests share: the environment
 * (a namespace with real sockets, the loaded object, the policies and the
 * name table), applying a policy, and named cases: a packet (after an
 * optional one that sets up state), its expected verdict, reason and rule,
 * checked against the kernel (return code and the one counter that moved)
 * and the packet model (tests/lib/pktmodel.c) alike.
 *
 * Used by tests/bpf/test_diff.c and tests/bpf/test_evasion.c.
 */
#ifndef SPEE_TEST_BPFCASE_H
#define SPEE_TEST_BPFCASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfenv.h"
#include "config.h"
#include "loader.h"
#include "names.h"
#include "pkt.h"
#include "pktmodel.h"
#include "policy.h"

#define BPFCASE_CONFIG "tests/fixtures/bpf/mgmt-ih.yaml"
#define BPFCASE_HOST_CONFIG "tests/fixtures/bpf/linux-host.yaml"
#define BPFCASE_SOCK4 "198.18.1.1"
#define BPFCASE_SOCK6 "fd00:5e::1:1"
#define BPFCASE_LISTEN4_PORT 8470 /* mgmt-console: ADM may open it */
#define BPFCASE_LISTEN6_PORT 9001 /* web-range */
#define BPFCASE_NS 1000000000ULL

/*
 * The policies: the hand-built fixtures (tests/lib/fixture.h), and the
 * ones compiled from BPFCASE_CONFIG for its hosts mgmt1 (MGMT and IH),
 * cas1 (CAS) and ih2 (IH), so that every role's matrix rows are exercised,
 * and BPFCASE_HOST_CONFIG's node1 for the baseline and icmp and ip rules.
 */
enum {
	POL_MAIN,
	POL_AUDIT,
	POL_DEFPASS,
	POL_CONFIG,
	POL_CONFIG_CAS,
	POL_CONFIG_IH,
	POL_HOST, /* BPFCASE_HOST_CONFIG for node1: the linux-host baseline, icmp and ip rules */
	POL_COUNT
};

struct bpfcase_env {
	struct loader l;
	struct name_table names;
	struct policy *pol[POL_COUNT];
	struct config *cfg;
	struct config *host_cfg; /* BPFCASE_HOST_CONFIG */
	int veth;
	int prog[3];		 /* enum bpfcase_prog */
	struct pm_sock socks[8]; /* the real sockets, as the model sees them */
	size_t n_socks;
	int fds[8];
	size_t n_fds;
};

extern struct bpfcase_env bc;

/* What one policy looks like in the maps: the counter slot of each rule. */
struct bpfcase_slots {
	uint16_t of_rule[SPEE_MAX_RULES];
	int rule_of_slot[SPEE_MAX_RULES];
};

/* cmocka group setup and teardown: namespace (veth a/b), sockets, object, policies. */
int bpfcase_setup(const char *veth_a, const char *veth_b);
int bpfcase_teardown(void **state);

uint64_t bpfcase_now_ns(void);

/* Applies policy pol and reads where its rules count. */
int bpfcase_apply(int pol, struct bpfcase_slots *s);

/* Empties the flow and fragment tables; fails the test on error. */
void bpfcase_clear_state(void);

/* bpfcase_clear_state(), and m started on p from the same empty state, with the sockets. */
void bpfcase_fresh_model(struct pktmodel *m, const struct policy *p);

/* "pass, rule mgmt-console" / "drop, no-rule" */
void bpfcase_describe(const struct policy *p, bool pass, uint8_t reason, int rule, char *out,
		      size_t len);

/*
 * The kernel's answer for the packet just run: pass, and the counter that
 * moved since `before` was read (a rule's, or a reason's).
 */
void bpfcase_kernel_answer(const struct bpfenv_counters *before, const struct bpfcase_slots *s,
			   const struct policy *p, bool pass, char *out, size_t len);

/* The programs a case runs through. */
enum bpfcase_prog {
	BPFCASE_XDP, /* XDP on an Ethernet device: the frame as built */
	BPFCASE_EGRESS, /* cgroup_skb egress: the packet after its Ethernet header */
	BPFCASE_XDP_IP, /* XDP on a device without a link header (tun): the frame minus Ethernet */
};

/* A named case. */
struct bpfcase {
	const char *name;
	int prog; /* enum bpfcase_prog */
	int pol;
	struct pkt_spec before; /* sent first through the same program when src is set */
	struct pkt_spec pkt;
	bool pass;
	uint8_t reason;
	const char *rule;
};

/* cmocka test function: *state is a const struct bpfcase. */
void bpfcase_run(void **state);

/*
 * One step of a sequence on m's state (bpfcase_fresh_model() first, with the
 * policy applied): runs spec through prog and the model, and fails unless
 * both give pass, reason and rule (an id, or NULL), and moved that counter
 * by `packets` (1; 0 for a fragment of a counted datagram) and the bytes.
 */
void bpfcase_step(const char *what, int prog, int pol, struct pktmodel *m,
		  const struct bpfcase_slots *s, const struct pkt_spec *spec, bool pass,
		  uint8_t reason, const char *rule, uint64_t packets);

#endif
