// SPDX-License-Identifier: GPL-2.0-only
/* tallies.c - reading spee_seen and spee_would for `speebpf suggest`. */
#include "tallies.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "maps.h"

/*
 * Every entry of a hash map of key size ksz into
 * records of rsz bytes (key, then value at voff). The map changes while it
 * is walked (LRU): an entry gone between its key and its value is skipped.
 */
static int read_table(int fd, const char *name, size_t max, size_t ksz, size_t rsz, size_t voff,
		      void **out, size_t *n, struct diags *d)
{
	unsigned char key[32], next[32];
	unsigned char *recs;
	bool first = true;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (fd < 0) {
		diag_add(d, NULL, 0, 0, "the instance has no map %s (apply with this build first)",
			 name);
		return -ENOENT;
	}
	recs = calloc(max ? max : 1, rsz);
	if (!recs)
		return -ENOMEM;
	while (*n < max) {
		unsigned char *r = recs + *n * rsz;

		if (bpf_map_get_next_key(fd, first ? NULL : key, next)) {
			if (errno != ENOENT)
				err = -errno;
			break;
		}
		first = false;
		memcpy(key, next, ksz);
		memcpy(r, next, ksz);
		if (bpf_map_lookup_elem(fd, next, r + voff)) {
			if (errno == ENOENT)
				continue;
			err = -errno;
			break;
		}
		(*n)++;
	}
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot read map %s: %s", name, strerror(-err));
		free(recs);
		*n = 0;
		return err;
	}
	*out = recs;
	return 0;
}

int tallies_read(struct instance *inst, struct tally_snapshot *s, struct diags *d)
{
	struct spee_runtime rt;
	struct timespec ts;
	void *seen = NULL, *would = NULL;
	int err;

	memset(s, 0, sizeof(*s));
	s->rec = inst->rec;
	err = maps_read_runtime(&inst->maps, &rt, d);
	if (!err)
		err = maps_read_rules(&inst->maps, s->meta, d);
	if (err)
		return err;
	s->cfg = rt.slot[rt.active & 1];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->mono_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->real_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;

	err = read_table(inst->maps.fd[SPEE_MAP_SEEN], "spee_seen", SPEE_SEEN_ENTRIES,
			 sizeof(struct spee_seen_key), sizeof(struct tally_seen), offsetof(struct tally_seen, t), &seen, &s->n_seen,
			 d);
	if (!err)
		err = read_table(inst->maps.fd[SPEE_MAP_WOULD], "spee_would", SPEE_WOULD_ENTRIES,
				 sizeof(struct spee_would_key), sizeof(struct tally_would), offsetof(struct tally_would, t),
				 &would, &s->n_would, d);
	s->seen = seen;
	s->would = would;
	if (err)
		tallies_free(s);
	return err;
}

void tallies_free(struct tally_snapshot *s)
{
	free(s->seen);
	free(s->would);
	s->seen = NULL;
	s->would = NULL;
	s->n_seen = s->n_would = 0;
}

int64_t tallies_real_time(const struct tally_snapshot *s, uint64_t mono_ns)
{
	int64_t ago = (int64_t)(s->mono_ns - mono_ns);

	return ((int64_t)s->real_ns - ago) / 1000000000;
}
