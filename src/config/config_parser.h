/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * config_parser.h - the state the schema stages of the config parser share
 * (config_peers.c, config_rules.c, config.c), and their conventions.
 * Private to src/config/.
 *
 * Parse functions return 0, -EINVAL after reporting a problem with its
 * place, or -ENOMEM. Callers go on after -EINVAL, so that one run reports
 * every problem of the file; a section may return 0 after reporting problems
 * of its items. The file is valid when no diagnostic was added.
 */
#ifndef SPEE_CONFIG_PARSER_H
#define SPEE_CONFIG_PARSER_H

#include <stdbool.h>
#include <stddef.h>

#include "config_index.h"
#include "config_model.h"
#include "config_yaml.h"

/* A host address already in the inventory, to catch it a second time. */
struct seen_addr {
	struct prefix addr;
	size_t host;
	int line;
};

struct cfg_parser {
	struct yctx y;
	struct config *cfg;
	struct seen_addr *seen;
	size_t n_seen;
	size_t cap_seen;
	struct cfg_index seen_index; /* of seen[], by address */
	struct cfg_index name_index; /* of cfg->hosts[], by name (valid names only) */
};

/* The inventory host with this (valid) name, or SIZE_MAX; hosts are parsed first. */
size_t cfg_host_by_name(const struct cfg_parser *p, const char *name);

/* The inventory host holding exactly address a (a full-length prefix), or CFG_NO_HOST. */
size_t cfg_host_by_addr(const struct cfg_parser *p, const struct prefix *a);

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

#endif
