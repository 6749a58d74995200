/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * verify.h - `speebpf verify` (CONTRACT.md section 6): which TCP connects
 * prove this host's part of the matrix, what each must give, and whether it
 * did. No sockets here (verify_probe.h runs the plan): planning and judging
 * are pure functions of compiled policies, for the CLI, the agent and tests.
 *
 * The plan: for every other inventory host (a peer) and each of its
 * addresses, one probe per port that a TCP entry of this host's egress
 * allowlist opens towards that address - both ends of a range, not every
 * port of it (a range is split into map keys at its ends, so the ends are
 * where a mistake shows; 1-65535 would be 65,535 connects a peer) - and one
 * probe to a port that no TCP entry of this host's egress nor of the peer's
 * ingress names (the lowest such port). Peers are inventory hosts only:
 * ANY, CIDRs and DNS names stand for no host we could name, and a rule to
 * ANY is probed at each peer it includes.
 *
 * What a probe must give comes from the reference model (explain.h) over
 * both ends' compiled policies, from the same fleet config: blocked-here
 * where this host's egress refuses it, else blocked-path where the peer's
 * ingress refuses it (from the probe's source address), else open. So a
 * probe of a port a rule to ANY opens, towards a peer that does not accept
 * it, must be blocked-path; audit mode and `default: pass` follow.
 */
#ifndef SPEE_VERIFY_H
#define SPEE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spee_abi.h"
#include "addr.h"
#include "names.h"
#include "policy.h"

/* What a probe gave (or must give). */
enum verify_result {
	VERIFY_OPEN, /* connected, or refused (RST, ICMP port unreachable) by the peer */
	VERIFY_BLOCKED_HERE, /* refused on this host: connect() failed with EPERM */
	VERIFY_BLOCKED_PATH, /* no answer within the timeout, or a host/net unreachable */
	VERIFY_ERROR, /* the probe could not run: socket, bind or connect failed otherwise */
	VERIFY_NOT_RUN,
	VERIFY_RESULT_MAX,
};

/* "open", "blocked-here", "blocked-path", "error", "not-run". */
const char *verify_result_label(unsigned result);

struct verify_probe {
	char *peer; /* the peer's inventory name */
	struct prefix src; /* this host's address the probe leaves from (bound) */
	struct prefix dst; /* the peer's address */
	uint16_t port;
	bool unlisted; /* the probe of a port no rule names */
	enum verify_result expect; /* VERIFY_OPEN, _BLOCKED_HERE or _BLOCKED_PATH */
	char rule[SPEE_RULE_ID_LEN]; /* this host's egress rule that allows it, or "" */
	char peer_rule[SPEE_RULE_ID_LEN]; /* the peer's ingress rule that allows it, or "" */

	/* Filled by verify_run(). */
	enum verify_result result; /* VERIFY_NOT_RUN until then */
	int error; /* the errno connect() gave, 0 when it connected or timed out */
	bool timed_out; /* no answer within the timeout */
	uint32_t elapsed_ms;
};

/* A peer address no probe goes to, and why. */
struct verify_skip {
	char *peer;
	struct prefix addr;
	const char *why; /* static text */
};

struct verify_plan {
	char *host; /* this host's inventory name */
	struct verify_probe *probes; /* peer (inventory order), address, port */
	size_t n_probes;
	struct verify_skip *skipped;
	size_t n_skipped;
	/* Filled by verify_run(). */
	unsigned timeout_ms;
	int64_t started; /* CLOCK_REALTIME seconds; 0 before a run */
	uint32_t duration_ms;
};

struct verify_input {
	const struct policy *self; /* this host's compiled policy */
	const struct policy *const *peers; /* every inventory host's (self is skipped) */
	size_t n_peers;
	const struct name_table *names; /* the DNS names' addresses; may be NULL */
	/*
	 * This host's inventory addresses that the machine holds, in inventory
	 * order: a probe leaves from the first one of its family, so that the
	 * peer judges the address the fleet config names. A peer address of a
	 * family with no source is skipped.
	 */
	const struct prefix *sources;
	size_t n_sources;
};

/* Plans the probes. Returns 0 or -ENOMEM (out is then empty). */
int verify_plan_build(const struct verify_input *in, struct verify_plan *out);

void verify_plan_free(struct verify_plan *plan);

/*
 * The lowest TCP port that no TCP entry of self's egress and none of peer's
 * ingress names (whatever their addresses), or 0 when every port is named.
 */
uint16_t verify_unlisted_port(const struct policy *self, const struct policy *peer);

/*
 * What a finished connect() means: err is 0 (connected) or its errno;
 * timed_out when no answer came within the timeout.
 */
enum verify_result verify_classify(int err, bool timed_out);

/* The probe gave what the policy says it must. */
static inline bool verify_probe_ok(const struct verify_probe *p)
{
	return p->result == p->expect;
}

/* Probes whose result is not what they must give (not run ones included). */
size_t verify_failures(const struct verify_plan *plan);

/* Every probe gave what it must (true for an empty plan: nothing differs). */
static inline bool verify_passed(const struct verify_plan *plan)
{
	return verify_failures(plan) == 0;
}

/* A few words on how the probe ended ("connected", "refused by the peer", ...). */
void verify_describe(const struct verify_probe *p, unsigned timeout_ms, char *buf, size_t len);

#endif
