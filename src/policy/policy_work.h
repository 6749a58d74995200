/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * policy_work.h - what the compiler's passes (policy.c) and its notes
 * (policy_notes.c) share about the rules while a policy is compiled.
 * Private to src/policy/.
 */
#ifndef SPEE_POLICY_WORK_H
#define SPEE_POLICY_WORK_H

#include <stdbool.h>
#include <stddef.h>

#include "spee_abi.h"
#include "addr.h"
#include "config_model.h"
#include "matrix.h"

/*
 * policy.h's, not included: policy.c includes this header, and modules
 * may not include each other (tools/check-layers.sh).
 */
struct policy;

/* A rule's two sides as peer lists, whatever it was written as. */
struct rule_sides {
	struct peer_list from;
	struct peer_list to;
	struct peer terms[2][MATRIX_SIDE_MAX]; /* storage for a built-in row's sides */
};

/* Everything the passes learn about one rule, kept beside the public policy_rule. */
struct rule_work {
	struct rule_sides sides;
	const struct peer_list *peers[SPEE_DIR_MAX]; /* the side expanded per direction */
	size_t candidates[SPEE_DIR_MAX];
	size_t kept[SPEE_DIR_MAX];
	size_t other_family[SPEE_DIR_MAX]; /* prefixes left out: not the rule's family */
	bool any[SPEE_DIR_MAX]; /* a candidate was a /0 (the side is open to ANY) */
	int lost_to; /* the only rule it lost entries to, -1 none, -2 several */
};

/* The notes on the rules of a compiled policy (entries final). */
int policy_rule_notes(struct policy *p, struct rule_work *work);

/* The warnings about the host itself: SSH without a failsafe, loopback resolvers. */
int policy_host_warnings(struct policy *p, const struct prefix *resolvers, size_t n_resolvers);

#endif
