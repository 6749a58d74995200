// SPDX-License-Identifier: GPL-2.0-only
/*
 * config_index.c - the first-come index behind the inventory's duplicate
 * checks (see config_schema.h). Open addressing with linear probing; the
 * hash of each item is kept so that growing needs no callback.
 */
#include "config_index.h"

#include <errno.h>
#include <stdlib.h>

uint64_t cfg_hash(const void *key, size_t len)
{
	const unsigned char *b = key;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, 64 bits */

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

size_t cfg_index_find(const struct cfg_index *ix, uint64_t hash, cfg_index_eq eq, const void *ctx)
{
	if (!ix->cap)
		return SIZE_MAX;
	for (size_t i = hash & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
		const struct cfg_index_slot *s = &ix->slot[i];

		if (!s->item)
			return SIZE_MAX;
		if (s->hash == (uint32_t)hash && eq(ctx, s->item - 1))
			return s->item - 1;
	}
}

static void place(struct cfg_index_slot *slot, size_t cap, uint32_t hash, uint32_t item_plus_1)
{
	size_t i = hash & (cap - 1);

	while (slot[i].item)
		i = (i + 1) & (cap - 1);
	slot[i].hash = hash;
	slot[i].item = item_plus_1;
}

int cfg_index_reserve(struct cfg_index *ix, size_t n)
{
	struct cfg_index_slot *slot;
	size_t cap = ix->cap ? ix->cap : 64;

	/* At most half full, so that probes stay short. */
	while (cap < 2 * n)
		cap *= 2;
	if (cap == ix->cap)
		return 0;
	slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < ix->cap; i++)
		if (ix->slot[i].item)
			place(slot, cap, ix->slot[i].hash, ix->slot[i].item);
	free(ix->slot);
	ix->slot = slot;
	ix->cap = cap;
	return 0;
}

int cfg_index_add(struct cfg_index *ix, uint64_t hash, size_t item)
{
	int err;

	if (item >= UINT32_MAX)
		return -E2BIG;
	if (2 * (ix->n + 1) > ix->cap) {
		err = cfg_index_reserve(ix, ix->n + 1);
		if (err)
			return err;
	}
	place(ix->slot, ix->cap, (uint32_t)hash, (uint32_t)item + 1);
	ix->n++;
	return 0;
}

void cfg_index_free(struct cfg_index *ix)
{
	free(ix->slot);
	ix->slot = NULL;
	ix->cap = 0;
	ix->n = 0;
}
