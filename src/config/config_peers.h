/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * config_peers.h - addresses and peer terms of the config (config_peers.c):
 * what from, to, narrow and networks hold. Private to src/config/.
 */
#ifndef SPEE_CONFIG_PEERS_H
#define SPEE_CONFIG_PEERS_H

#include <stdbool.h>

#include "config_parser.h"

/* A single address, without a prefix length (hosts, resolvers). */
int cfg_parse_addr(struct cfg_parser *p, const struct ynode *n, struct prefix *a);

/*
 * A list of terms (roles, ANY, networks, addresses, CIDRs, DNS names), which
 * must not be empty; with member set, the members of a network (addresses,
 * CIDRs, DNS names, any), which may be.
 */
int cfg_parse_peers(struct cfg_parser *p, const struct ynode *n, bool member, struct peer_list *out);

#endif
