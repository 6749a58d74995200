// SPDX-License-Identifier: GPL-2.0-only
#include "counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "map_dump.h"

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

/* The maps of one snapshot; gw_names and gw_ctr -1 when the instance has none. */
struct counter_maps {
	int runtime, instance, rule_meta, rule_ctr, reason_ctr, ev_stats, gw_names, gw_ctr;
};

static int cmp_gw_key(const struct spee_gw_ctr_key *a, const struct spee_gw_ctr_key *b)
{
	if (a->host != b->host)
		return a->host < b->host ? -1 : 1;
	if (a->rule != b->rule)
		return a->rule < b->rule ? -1 : 1;
	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	return a->reason < b->reason ? -1 : a->reason > b->reason;
}

static int cmp_gw_entries(const void *a, const void *b)
{
	return cmp_gw_key(&((const struct counter_gw_entry *)a)->key,
			  &((const struct counter_gw_entry *)b)->key);
}

static int cmp_gw_hosts(const void *a, const void *b)
{
	const struct counter_gw_host *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* spee_gw_names, by index: the hosts of a gateway (none in host mode). */
static int read_gw_names(int fd, struct counter_gw *gw)
{
	struct map_dump dp = {};
	int err;

	if (fd < 0)
		return 0; /* pinned by a build without gateway mode */
	err = map_dump_read(fd, sizeof(uint32_t), sizeof(struct spee_gw_name), &dp);
	if (!err && dp.n) {
		gw->hosts = calloc(dp.n, sizeof(*gw->hosts));
		if (!gw->hosts)
			err = -ENOMEM;
	}
	for (size_t i = 0; !err && i < dp.n; i++) {
		struct counter_gw_host *h;
		struct spee_gw_name v;
		uint32_t key;

		memcpy(&key, dp.keys + i * sizeof(key), sizeof(key));
		memcpy(&v, dp.vals + i * sizeof(v), sizeof(v));
		if (key > UINT16_MAX || key == SPEE_GW_HOST_NONE)
			continue; /* no host index: not ours to show */
		h = &gw->hosts[gw->n_hosts++];
		h->index = (uint16_t)key;
		memcpy(h->name, v.name, sizeof(h->name));
		h->name[sizeof(h->name) - 1] = '\0';
	}
	map_dump_free(&dp);
	if (err)
		return err;
	if (gw->n_hosts)
		qsort(gw->hosts, gw->n_hosts, sizeof(*gw->hosts), cmp_gw_hosts);
	return 0;
}

/* spee_gw_ctr, each counter summed over the CPUs, by key. */
static int read_gw_ctr(int fd, int ncpu, struct counter_gw *gw)
{
	const size_t ksz = sizeof(struct spee_gw_ctr_key);
	const size_t vsz = map_dump_percpu_size(sizeof(struct spee_counter));
	struct map_dump dp = {};
	int err;

	if (fd < 0)
		return 0;
	if (!vsz)
		return -EINVAL;
	err = map_dump_read(fd, ksz, vsz, &dp);
	if (!err && dp.n) {
		gw->ctr = calloc(dp.n, sizeof(*gw->ctr));
		if (!gw->ctr)
			err = -ENOMEM;
	}
	for (size_t i = 0; !err && i < dp.n; i++) {
		struct counter_gw_entry *e = &gw->ctr[gw->n++];
		const struct spee_counter *c = (const void *)(dp.vals + i * vsz);

		memcpy(&e->key, dp.keys + i * ksz, ksz);
		for (int k = 0; k < ncpu; k++) {
			e->c.packets += c[k].packets;
			e->c.bytes += c[k].bytes;
		}
	}
	map_dump_free(&dp);
	if (err)
		return err;
	if (gw->n)
		qsort(gw->ctr, gw->n, sizeof(*gw->ctr), cmp_gw_entries);
	return 0;
}

void counters_release(struct counter_snapshot *s)
{
	free(s->gw.hosts);
	free(s->gw.ctr);
	memset(&s->gw, 0, sizeof(s->gw));
}

const struct counter_gw_entry *counter_gw_find(const struct counter_snapshot *s,
					       const struct spee_gw_ctr_key *key)
{
	struct counter_gw_entry want = { .key = *key };

	if (!s->gw.n)
		return NULL;
	return bsearch(&want, s->gw.ctr, s->gw.n, sizeof(*s->gw.ctr), cmp_gw_entries);
}

const char *counter_gw_host_name(const struct counter_snapshot *s, uint16_t index)
{
	struct counter_gw_host want = { .index = index };
	const struct counter_gw_host *h;

	if (!s->gw.n_hosts)
		return NULL;
	h = bsearch(&want, s->gw.hosts, s->gw.n_hosts, sizeof(*s->gw.hosts), cmp_gw_hosts);
	return h ? h->name : NULL;
}

static int read_maps(const struct counter_maps *m, struct counter_snapshot *s)
{
	int ncpu = libbpf_num_possible_cpus();
	struct spee_counter *buf;
	struct timespec ts;
	uint32_t zero = 0;
	int err = 0;

	memset(s, 0, sizeof(*s));
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	buf = calloc((size_t)ncpu, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
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
	/* Gateway mode: the counters per host, with the hosts' names. */
	if (!err)
		err = read_gw_names(m->gw_names, &s->gw);
	if (!err && s->gw.n_hosts)
		err = read_gw_ctr(m->gw_ctr, ncpu, &s->gw);
out:
	if (err)
		counters_release(s);
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
		.gw_names = inst->maps.fd[SPEE_MAP_GW_NAMES],
		.gw_ctr = inst->maps.fd[SPEE_MAP_GW_CTR],
	};
	err = read_maps(&m, s);
	pthread_mutex_unlock(&inst->mu);
	return err;
}
