// SPDX-License-Identifier: GPL-2.0-only
/*
 * map_dump.c - every entry of a hash or trie: batch where the map type has
 * it, else key by key (see map_dump.h).
 */
#include "map_dump.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* The kernel's own "not supported" (ENOTSUPP), which reaches user space as is. */
#define KERNEL_ENOTSUPP 524

/* True when a batch operation failed only because the map type has none. */
bool map_no_batch_ops(int err)
{
	return err == -EINVAL || err == -ENOTSUP || err == -EOPNOTSUPP || err == -KERNEL_ENOTSUPP;
}

size_t map_dump_percpu_size(size_t value_size)
{
	int ncpu = libbpf_num_possible_cpus();

	return ncpu > 0 ? (size_t)ncpu * ((value_size + 7) / 8 * 8) : 0;
}

void map_dump_free(struct map_dump *dp)
{
	free(dp->keys);
	free(dp->vals);
	memset(dp, 0, sizeof(*dp));
}

static int dump_reserve(struct map_dump *dp, size_t want, size_t ksz, size_t vsz)
{
	uint8_t *k, *v;
	size_t cap = dp->cap ? dp->cap : 1024;

	if (want <= dp->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	k = realloc(dp->keys, cap * ksz);
	if (!k)
		return -ENOMEM;
	dp->keys = k;
	v = realloc(dp->vals, cap * vsz);
	if (!v)
		return -ENOMEM;
	dp->vals = v;
	dp->cap = cap;
	return 0;
}

/*
 * Batch cursors. Hash maps use a 4-byte bucket index, but the kernel's
 * generic batch code (tries, arrays) writes a whole key there, so a cursor
 * must hold the largest key of any map it walks.
 */
#define BATCH_TOKEN_MAX 64

int map_dump_read(int fd, size_t ksz, size_t vsz, struct map_dump *dp)
{
	uint8_t in_tok[BATCH_TOKEN_MAX] __attribute__((aligned(8))) = { 0 };
	uint8_t out_tok[BATCH_TOKEN_MAX] __attribute__((aligned(8))) = { 0 };
	uint8_t *prev = NULL, *key = NULL;
	bool first = true;
	int err;

	dp->n = 0;
	for (;;) {
		__u32 count = 1024;

		err = dump_reserve(dp, dp->n + count, ksz, vsz);
		if (err)
			return err;
		err = bpf_map_lookup_batch(fd, first ? NULL : in_tok, out_tok,
					   dp->keys + dp->n * ksz, dp->vals + dp->n * vsz, &count,
					   NULL);
		if (err && err != -ENOENT) {
			if (first && map_no_batch_ops(err))
				break; /* e.g. LPM tries before 6.x have no batch operations */
			return err;
		}
		dp->n += count;
		if (err == -ENOENT)
			return 0;
		memcpy(in_tok, out_tok, sizeof(in_tok));
		first = false;
	}

	/* Key by key. */
	dp->n = 0;
	prev = calloc(1, ksz);
	key = calloc(1, ksz);
	if (!prev || !key) {
		err = -ENOMEM;
		goto out;
	}
	for (err = bpf_map_get_next_key(fd, NULL, key); !err;
	     err = bpf_map_get_next_key(fd, prev, key)) {
		err = dump_reserve(dp, dp->n + 1, ksz, vsz);
		if (err)
			goto out;
		err = bpf_map_lookup_elem(fd, key, dp->vals + dp->n * vsz);
		if (err == -ENOENT)
			continue; /* deleted meanwhile */
		if (err)
			goto out;
		memcpy(dp->keys + dp->n * ksz, key, ksz);
		dp->n++;
		memcpy(prev, key, ksz);
	}
	err = err == -ENOENT ? 0 : err;
out:
	free(prev);
	free(key);
	return err;
}
