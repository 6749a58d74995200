/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * config_schema.h - what the schema stages of the config parser share,
 * private to src/config*.c: the parser state and the entry points of
 * config_peers.c (addresses and peer terms) and config_rules.c (matrix
 * overrides, site and failsafe rules), which config.c calls.
 *
 * Parse functions return 0, -EINVAL after reporting a problem with its
 * place, or -ENOMEM. Callers go on after -EINVAL, so that one run reports
 * every problem of the file; a section may return 0 after reporting problems
 * of its items. The file is valid when no diagnostic was added.
 */
#ifndef SPEE_CONFIG_SCHEMA_H
#define SPEE_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "config_yaml.h"

/* A host address already in the inventory, to catch it a second time. */
struct seen_addr {
	struct prefix addr;
	size_t host;
	int line;
};

/*
 * A first-come index of items by key (config_index.c), for the duplicate
 * checks of the inventory: each check costs O(1) instead of a scan of every
 * earlier host, which made a 20,000-host file take seconds to read. The
 * caller hashes the key and says what equal means; for each key the index
 * finds the first item added, the one messages name ("first defined at
 * line N").
 */
struct cfg_index_slot {
	uint64_t hash;
	size_t item; /* item + 1; 0 marks an empty slot */
};

struct cfg_index {
	struct cfg_index_slot *slot;
	size_t cap; /* 0, or a power of two */
	size_t n;
};

/* Is item equal to the key the caller looks for (which ctx holds)? */
typedef bool (*cfg_index_eq)(const void *ctx, size_t item);

uint64_t cfg_hash(const void *key, size_t len);

/* The first item added whose key is equal (eq), or SIZE_MAX. */
size_t cfg_index_find(const struct cfg_index *ix, uint64_t hash, cfg_index_eq eq, const void *ctx);

/* Adds item under hash. Returns 0 or -ENOMEM. */
int cfg_index_add(struct cfg_index *ix, uint64_t hash, size_t item);

void cfg_index_free(struct cfg_index *ix);

struct cfg_parser {
	struct yctx y;
	struct config *cfg;
	struct seen_addr *seen;
	size_t n_seen;
	size_t cap_seen;
	struct cfg_index seen_index; /* of seen[], by address */
	struct cfg_index name_index; /* of cfg->hosts[], by name (valid names only) */
};

/* Names are ASCII whatever the locale. */
static inline bool cfg_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool cfg_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool cfg_loc_before(struct src_loc a, struct src_loc b)
{
	return a.line < b.line || (a.line == b.line && a.col < b.col);
}

/* config_peers.c */

/* A single address, without a prefix length (hosts, resolvers). */
int cfg_parse_addr(struct cfg_parser *p, const struct ynode *n, struct prefix *a);

/*
 * A list of terms (roles, ANY, networks, addresses, CIDRs, DNS names), which
 * must not be empty; with member set, the members of a network (addresses,
 * CIDRs, DNS names, any), which may be.
 */
int cfg_parse_peers(struct cfg_parser *p, const struct ynode *n, bool member, struct peer_list *out);

/* Index of the network with this name. */
bool cfg_network_index(const struct config *cfg, const char *name, size_t *idx);

/* One PEER_ROLE term holding every role: every host of the inventory. */
int cfg_every_host(struct peer_list *l);

void cfg_peers_free(struct peer_list *l);

/* config_rules.c: the sections of the same names. */
int cfg_parse_ports(struct cfg_parser *p, struct ynode *n);
int cfg_parse_disable(struct cfg_parser *p, struct ynode *n);
int cfg_parse_narrow(struct cfg_parser *p, struct ynode *n);
int cfg_parse_site_rules(struct cfg_parser *p, struct ynode *n);
int cfg_parse_failsafe(struct cfg_parser *p, struct ynode *n);

/* failsafe-ssh, for a file without `failsafe:`. */
int cfg_default_failsafe(struct config *cfg);

/* Reports duplicate ids among site and failsafe rules; after both are parsed. */
int cfg_check_rule_ids(struct cfg_parser *p);

void cfg_rules_free(struct cfg_rule *v, size_t n);

#endif
