/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * config_index.h - a first-come hash index of items by key, for the
 * parser's duplicate checks (config.c) and YAML anchors (config_yaml.c).
 * Private to src/config/.
 */
#ifndef SPEE_CONFIG_INDEX_H
#define SPEE_CONFIG_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A first-come index of items by key (config_index.c), for the duplicate
 * checks of the inventory: each check costs O(1) instead of a scan of every
 * earlier host, which made a 20,000-host file take seconds to read. The
 * caller hashes the key and says what equal means; for each key the index
 * finds the first item added, the one messages name ("first defined at
 * line N").
 */
struct cfg_index_slot {
	uint32_t hash; /* the low half of the item's */
	uint32_t item; /* item + 1; 0 marks an empty slot */
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

/* Adds item under hash. Returns 0, -ENOMEM, or -E2BIG for an item beyond 32 bits. */
int cfg_index_add(struct cfg_index *ix, uint64_t hash, size_t item);

/*
 * Room for n items in all, taken at once: an index grown by doubling
 * touches twice the memory, every page of it new. Returns 0 or -ENOMEM.
 */
int cfg_index_reserve(struct cfg_index *ix, size_t n);

void cfg_index_free(struct cfg_index *ix);

#endif
