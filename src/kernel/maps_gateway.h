/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * maps_gateway.h - gateway mode's policy (gateway.h) in the kernel's maps:
 * maps.h's four steps with every host's entries keyed by policy id, plus
 * the maps of its own (spee_abi.h, "Gateway mode"):
 *   spee_gw_hosts  each host's addresses -> {policy id, host index}, per
 *                  policy slot like the entries, so the flip switches both;
 *   spee_gw_names  host index -> name, for stats from a pin dir alone;
 *   spee_gw_ctr    {host, rule slot, dir, RULE} for every rule a host
 *                  enforces, created with zeros before the flip; the ones no
 *                  longer enforced, and every counter of a host gone, are
 *                  removed after it.
 * A host keeps its index from one apply to the next (its counters carry
 * on), as a rule keeps its counter slot; a new instance numbers the hosts
 * 1.. in inventory order, and a new host takes the lowest free index.
 */
#ifndef SPEE_MAPS_GATEWAY_H
#define SPEE_MAPS_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "gateway.h"
#include "maps.h"
#include "names.h"

/* Applies g (names' addresses from t, may be NULL): maps_apply for gateway mode. */
int maps_apply_gateway(const struct spee_map_fds *m, const struct gateway_policy *g,
		       const struct name_table *t, const struct maps_apply_opts *opts,
		       struct maps_apply_result *res, struct diags *d);

/* Step 2: the spee_exact and spee_prefix entries of one slot of g. */
int maps_gateway_image(const struct gateway_policy *g, const struct name_table *t,
		       const uint16_t *slot_of_rule, uint8_t slot, struct maps_image *img,
		       struct diags *d);

/* What one slot of g needs, for sizing the maps. */
struct maps_gateway_counts {
	size_t exact, prefix; /* upper bounds */
	size_t host_addrs; /* spee_gw_hosts entries */
	size_t rule_ctrs; /* spee_gw_ctr entries of rules */
};

void maps_gateway_count(const struct gateway_policy *g, const struct name_table *t,
			struct maps_gateway_counts *c);

/*
 * The host index each host of g holds in the maps now (0: none; [n_hosts]),
 * from spee_gw_names. For status and drift. 0 or a negative errno.
 */
int maps_gateway_read_hosts(const struct spee_map_fds *m, const struct gateway_policy *g,
			    uint16_t *index, struct diags *d);

/*
 * Differences between g and what the active slot's spee_gw_hosts holds:
 * addresses missing, extra or with another policy or index (drift).
 */
int maps_gateway_check_hosts(const struct spee_map_fds *m, const struct gateway_policy *g,
			     size_t *missing, size_t *extra, size_t *changed, struct diags *d);

#endif
