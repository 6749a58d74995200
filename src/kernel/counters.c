// SPDX-License-Identifier: GPL-2.0-only
#include "counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Sums one per-CPU counter; values of a per-CPU map are laid out one per possible CPU. */
static int read_percpu(int fd, uint32_t index, struct spee_counter *buf, int ncpu,
		       struct spee_counter *out)
{
	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(fd, &index, buf))
		return -errno;
	for (int c = 0; c < ncpu; c++) {
		out->packets += buf[c].packets;
		out->bytes += buf[c].bytes;
	}
	return 0;
}

/* The maps of one snapshot. */
struct counter_maps {
	int runtime, instance, rule_meta, rule_ctr, reason_ctr, ev_stats;
};

static int read_maps(const struct counter_maps *m, struct counter_snapshot *s)
{
	int ncpu = libbpf_num_possible_cpus();
	struct spee_counter *buf;
	struct timespec ts;
	uint32_t zero = 0;
	int err = 0;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	buf = calloc((size_t)ncpu, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->taken_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (bpf_map_lookup_elem(m->runtime, &zero, &s->rt) ||
	    bpf_map_lookup_elem(m->instance, &zero, &s->inst)) {
		err = -errno;
		goto out;
	}
	for (uint32_t slot = 0; slot < SPEE_MAX_RULES && !err; slot++) {
		if (bpf_map_lookup_elem(m->rule_meta, &slot, &s->meta[slot])) {
			err = -errno;
			break;
		}
		for (uint32_t dir = 0; dir < SPEE_DIR_MAX && !err; dir++)
			if (s->meta[slot].dirs & (1u << dir))
				err = read_percpu(m->rule_ctr, spee_rule_ctr_index(slot, dir), buf,
						  ncpu, &s->rules[slot][dir]);
	}
	for (uint32_t r = 0; r < SPEE_REASON_MAX && !err; r++)
		for (uint32_t dir = 0; dir < SPEE_DIR_MAX && !err; dir++)
			err = read_percpu(m->reason_ctr, spee_reason_ctr_index(r, dir), buf, ncpu,
					  &s->reasons[r][dir]);
	for (uint32_t c = 0; c < SPEE_L2_MAX && !err; c++)
		for (uint32_t pass = 0; pass < 2 && !err; pass++)
			for (uint32_t dir = 0; dir < SPEE_DIR_MAX && !err; dir++)
				err = read_percpu(m->reason_ctr, spee_l2_ctr_index(c, pass, dir), buf,
						  ncpu, &s->l2[c][pass][dir]);
	/* One u64 a CPU: read through the counter buffer, which is larger. */
	for (uint32_t e = 0; e < SPEE_EV_STAT_MAX && !err; e++) {
		uint64_t *v = (uint64_t *)buf;

		if (bpf_map_lookup_elem(m->ev_stats, &e, v)) {
			err = -errno;
			break;
		}
		for (int c = 0; c < ncpu; c++)
			s->events[e] += v[c];
	}
out:
	free(buf);
	return err;
}

int counters_read(struct instance *inst, struct counter_snapshot *s)
{
	struct counter_maps m;
	int err;

	/* The owner may replace map fds (growth, an upgrade): not while they are read here. */
	pthread_mutex_lock(&inst->mu);
	m = (struct counter_maps){
		.runtime = inst->maps.fd[SPEE_MAP_RT],
		.instance = inst->maps.fd[SPEE_MAP_INST],
		.rule_meta = inst->maps.fd[SPEE_MAP_RULES],
		.rule_ctr = inst->maps.fd[SPEE_MAP_RULE_CTR],
		.reason_ctr = inst->maps.fd[SPEE_MAP_REASON_CTR],
		.ev_stats = inst->maps.fd[SPEE_MAP_EV_STATS],
	};
	err = read_maps(&m, s);
	pthread_mutex_unlock(&inst->mu);
	return err;
}
