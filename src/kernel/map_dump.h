/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * map_dump.h - reading every entry of a BPF hash or trie in a few batch
 * syscalls (key by key where the map type has no batch operations), for
 * the policy writers and the gateway's bookkeeping: one syscall per 1,024
 * entries instead of two per entry.
 */
#ifndef SPEE_MAP_DUMP_H
#define SPEE_MAP_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Entries read: keys ksz apart, values vsz apart (for a per-CPU map, vsz covers every CPU). */
struct map_dump {
	uint8_t *keys;
	uint8_t *vals;
	size_t n;
	size_t cap;
};

/* A per-CPU map's value as the syscalls read it (every possible CPU's, 8-aligned); 0 on error. */
size_t map_dump_percpu_size(size_t value_size);

/* True when a batch operation failed only because the map type has none. */
bool map_no_batch_ops(int err);

/* Every entry of map fd into dp (emptied first). Returns 0 or a negative errno. */
int map_dump_read(int fd, size_t ksz, size_t vsz, struct map_dump *dp);

void map_dump_free(struct map_dump *dp);

#endif
