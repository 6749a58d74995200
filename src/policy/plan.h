/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * plan.h - `speebpf plan` (CONTRACT.md section 6): what applying a new
 * policy would change on this host. Pure: no kernel, no sockets. The CLI
 * brings the two sides and the live connections (src/kernel/plan_sides.h,
 * src/kernel/conns.h) and prints what comes out.
 *
 * A side is an allowlist in the form the kernel holds it: one entry per
 * (direction, protocol, peer prefix, verdict) and run of ports, the verdict
 * named by the rule's id (or an implicit allowance: DNS to the resolvers, the
 * host's own addresses). The enforced side is read back from an instance's
 * active policy slot; the new one is the image apply would write for the new
 * config. So both come from the same representation, with the collisions,
 * shadowing and name resolution already decided the way the kernel sees them,
 * and a difference in the plan is a difference in what the kernel would do.
 *
 * The difference is grouped by rule, direction and protocol: rules added or
 * removed, and for a rule in both, the ports and the peers it gained or lost
 * (a port moved is one removed and one added). DNS names are compared by
 * their addresses (the instance's last answers against the ones found now).
 *
 * A live connection is judged as a new connection of its direction by both
 * sides with the reference model (explain.h), over entries built from the
 * side: it is reported when the enforced side lets it in or out and the new
 * one would not, with the rule (or reason) that allows it today.
 */
#ifndef SPEE_PLAN_H
#define SPEE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spee_abi.h"
#include "addr.h"
#include "names.h"
#include "policy.h"

/* One allowlist entry as the kernel holds it (a port run of one peer and verdict). */
struct plan_entry {
	uint8_t dir; /* enum spee_dir */
	uint8_t proto; /* IPPROTO_TCP, IPPROTO_UDP, or SPEE_PROTO_LOCAL (port 0) */
	uint8_t reason; /* SPEE_REASON_RULE, or an implicit allowance (_DNS, _LOOPBACK) */
	uint16_t port_lo, port_hi;
	struct prefix peer;
	char rule[SPEE_RULE_ID_LEN]; /* the rule's id when reason is SPEE_REASON_RULE, else "" */
};

struct plan_side {
	bool enforced; /* false: no instance, nothing is enforced (an empty policy) */
	uint32_t generation; /* of the enforced policy; 0 for a new one */
	uint8_t mode; /* enum spee_mode */
	uint8_t default_action[SPEE_DIR_MAX]; /* enum spee_action */
	struct plan_entry *entries; /* after plan_side_finish: sorted, port runs merged */
	size_t n_entries, cap_entries;
	struct name_table names; /* the DNS names behind its entries, with their addresses */
	struct policy *model; /* explain's view of the entries (plan_side_finish) */
};

/* Adds one entry (a port or a port run). Returns 0 or -ENOMEM. */
int plan_side_add(struct plan_side *s, const struct plan_entry *e);

/*
 * Sorts the entries (rule id, reason, direction, protocol, peer, port),
 * merges runs of consecutive ports into one entry, and builds the model the
 * connections are judged by. Returns 0 or -ENOMEM.
 */
int plan_side_finish(struct plan_side *s);

void plan_side_free(struct plan_side *s);

/* A set of ports: sorted, disjoint, not adjacent. */
struct plan_ports {
	struct plan_range {
		uint16_t lo, hi;
	} *v;
	size_t n;
};

/* A set of peer prefixes: sorted (prefix_cmp), unique. */
struct plan_peers {
	struct prefix *v;
	size_t n;
};

enum plan_change {
	PLAN_SAME,
	PLAN_ADDED,
	PLAN_REMOVED,
	PLAN_CHANGED,
};

/* "same", "added", "removed", "changed". */
const char *plan_change_label(enum plan_change c);

/* One rule (or implicit allowance) in one direction and protocol, on both sides. */
struct plan_group {
	char rule[SPEE_RULE_ID_LEN]; /* "" for an implicit allowance */
	uint8_t reason, dir, proto;
	enum plan_change change; /* never PLAN_SAME in a diff */
	struct plan_ports ports_before, ports_after;
	struct plan_ports ports_added, ports_removed;
	struct plan_peers peers_before, peers_after;
	struct plan_peers peers_added, peers_removed;
	bool reshaped; /* the same ports and peers, in other combinations */
};

struct plan_name {
	char *name;
	enum plan_change change; /* PLAN_SAME: the same addresses now as enforced */
	struct plan_peers before, after; /* the enforced answer; the one found now */
	bool resolved_after; /* found now (false: the new policy's rules for it allow nothing) */
};

struct plan_diff {
	bool mode_changed;
	bool default_changed[SPEE_DIR_MAX];
	struct plan_group *groups; /* in rule id order, then reason, direction, protocol */
	size_t n_groups;
	struct plan_name *names; /* every name of either side, sorted */
	size_t n_names;
};

/* Compares the enforced side with the new one. Returns 0 or -ENOMEM (out empty). */
int plan_diff(const struct plan_side *before, const struct plan_side *after, struct plan_diff *out);

void plan_diff_free(struct plan_diff *d);

/* Anything differs: a setting, a group, a name's addresses. */
bool plan_diff_differs(const struct plan_diff *d);

/* How the connection was seen. */
#define PLAN_SEEN_SOCKET 0x1u /* in the kernel's socket table */
#define PLAN_SEEN_FLOW 0x2u /* in the flow state (spee_flows) */

/* Which way a connection was opened, as far as the socket table tells. */
enum plan_conn_dir {
	PLAN_CONN_UNKNOWN, /* a UDP flow: datagrams tell nothing of who began */
	PLAN_CONN_IN, /* accepted: a TCP listener holds the local port */
	PLAN_CONN_OUT, /* opened from this host: TCP with no listener there, a connected UDP socket */
};

/* A live connection, from the host's side. */
struct plan_conn {
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	struct prefix local, remote; /* host prefixes; IPv4-mapped IPv6 is IPv4 here */
	uint16_t lport, rport;
	uint8_t tcp_state; /* TCP_ESTABLISHED...; 0 for UDP */
	enum plan_conn_dir opened;
	unsigned seen; /* PLAN_SEEN_* */
};

/* A side's decision on a new connection. */
struct plan_verdict {
	bool pass;
	bool enforced; /* false: the side enforces nothing (everything passes) */
	uint8_t reason; /* enum spee_reason */
	char rule[SPEE_RULE_ID_LEN]; /* reason RULE: the rule's id */
	const struct plan_entry *entry; /* the entry that matched, or NULL */
};

/* Decides a new connection (explain_decide over the side's entries). */
void plan_decide(const struct plan_side *s, uint8_t dir, uint8_t proto, uint16_t port,
		 const struct prefix *peer, struct plan_verdict *v);

/* A connection the new side would no longer allow. */
struct plan_cut {
	struct plan_conn conn;
	uint8_t dir; /* the direction it was judged in */
	struct plan_verdict before, after;
};

struct plan_cuts {
	struct plan_cut *v;
	size_t n;
	size_t judged; /* connections judged (those not judged: loopback, the host itself) */
};

/*
 * Judges every connection by both sides. A connection whose direction the
 * socket table does not tell (a UDP flow) is taken in the direction in which
 * a rule of the enforced side allows it (egress when both do or neither).
 * Returns 0 or -ENOMEM.
 */
int plan_judge(const struct plan_side *before, const struct plan_side *after,
	       const struct plan_conn *conns, size_t n, struct plan_cuts *out);

void plan_cuts_free(struct plan_cuts *c);

#endif
