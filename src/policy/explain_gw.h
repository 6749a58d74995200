/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * explain_gw.h - the reference model of gateway mode (CONTRACT.md section
 * 5): the verdict a gateway in front of the inventory hosts gives a new
 * connection crossing it. The source's egress rules judge it when the
 * source is an inventory host, the destination's ingress rules when the
 * destination is one; egress first, and the first refusal decides. A
 * connection between two addresses of no inventory host is transit: it
 * passes. Each side is explain_decide() on that host's policy, so that the
 * gateway and host mode agree rule for rule.
 */
#ifndef SPEE_EXPLAIN_GW_H
#define SPEE_EXPLAIN_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "config.h"
#include "explain.h"
#include "names.h"
#include "policy.h"

/* The inventory host holding addr (the first in inventory order), or NULL. */
const struct cfg_host *explain_gw_host_of(const struct config *cfg, const struct prefix *addr);

/*
 * A host's policy as a gateway enforces it: compiled as apply --gateway
 * compiles it, for a host the machine is not (env's resolvers only, when
 * the config names none; env's local and receive addresses are not the
 * host's). env may be NULL.
 */
int explain_gw_compile(const struct config *cfg, const struct cfg_host *host,
		       const struct policy_env *env, struct policy **out, struct diags *d);

/* One side asked: a host's rules in one direction. */
struct explain_gw_side {
	const struct policy *p; /* the host's (borrowed) */
	uint8_t dir; /* enum spee_dir: egress for the source, ingress for the destination */
	struct explain_result res;
	bool refused; /* its verdict is a drop, audit mode aside (a would-drop in audit mode) */
};

struct explain_gw_result {
	bool transit; /* neither address is an inventory host's */
	size_t n_sides; /* the sides asked, in order: 0 (transit), 1 or 2 */
	struct explain_gw_side side[2];
	bool skipped; /* the destination's side was not asked: the source's refused */
	int refused_by; /* the index of the side that refused, or -1 */
	bool pass; /* the combined verdict, after the mode */
	uint8_t reason; /* enum spee_reason: the refusing side's, else the last side's */
};

/*
 * Decides a new connection from from to to (proto, port as in
 * explain_query). src and dst: the policies of the inventory hosts holding
 * from and to, or NULL for an address of none; names from t (may be NULL).
 */
void explain_gw_decide(const struct policy *src, const struct policy *dst,
		       const struct name_table *t, uint8_t proto, uint16_t port,
		       const struct prefix *from, const struct prefix *to, struct explain_gw_result *r);

#endif
