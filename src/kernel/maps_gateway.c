// SPDX-License-Identifier: GPL-2.0-only
/*
 * maps_gateway.c - gateway mode's policy in the maps (maps_gateway.h):
 * the image from every policy id (maps_build_parts), and the gateway's own
 * maps written around maps.c's slot write and flip (maps_apply_source).
 * Its maps hold one entry per host address or per (host, rule, direction):
 * thousands, read back in batches (map_dump.h) and written where they differ.
 */
#include "maps_gateway.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "map_dump.h"

/* ---- the image ---- */

/* One part per policy id, and the fleet's ethertypes once with policy 0. */
static struct maps_part *gateway_parts(const struct gateway_policy *g, size_t *n)
{
	struct maps_part *parts = calloc((size_t)g->n_policies + 1, sizeof(*parts));

	*n = 0;
	if (!parts)
		return NULL;
	for (uint16_t k = 1; k <= g->n_policies; k++)
		parts[(*n)++] = (struct maps_part){ .p = gateway_policy_of(g, k),
						    .policy = k,
						    .kind = MAPS_PART_GATEWAY_POLICY };
	parts[(*n)++] = (struct maps_part){ .p = g->hosts[0].p, .kind = MAPS_PART_GATEWAY_FLEET };
	return parts;
}

int maps_gateway_image(const struct gateway_policy *g, const struct name_table *t,
		       const uint16_t *slot_of_rule, uint8_t slot, struct maps_image *img,
		       struct diags *d)
{
	size_t n;
	struct maps_part *parts = gateway_parts(g, &n);
	int err;

	if (!parts)
		return -ENOMEM;
	err = maps_build_parts(parts, n, t, slot_of_rule, slot, img, d);
	free(parts);
	return err;
}

static size_t rule_ctr_count(const struct gateway_policy *g)
{
	size_t n = 0;

	for (size_t h = 0; h < g->n_hosts; h++)
		for (size_t r = 0; r < g->hosts[h].p->n_rules; r++)
			n += (size_t)__builtin_popcount(g->hosts[h].p->rules[r].dirs);
	return n;
}

void maps_gateway_count(const struct gateway_policy *g, const struct name_table *t,
			struct maps_gateway_counts *c)
{
	size_t n;
	struct maps_part *parts = gateway_parts(g, &n);

	memset(c, 0, sizeof(*c));
	if (parts)
		maps_count_parts(parts, n, t, &c->exact, &c->prefix);
	free(parts);
	for (size_t h = 0; h < g->n_hosts; h++)
		c->host_addrs += g->hosts[h].host->n_addrs;
	c->rule_ctrs = rule_ctr_count(g);
}

/* ---- host indexes ---- */

struct held {
	uint16_t index;
	char name[SPEE_GW_NAME_LEN];
};

static int cmp_held_name(const void *a, const void *b)
{
	return strcmp(((const struct held *)a)->name, ((const struct held *)b)->name);
}

/* spee_gw_names as it is, sorted by name. */
static int read_names(int fd, struct held **out, size_t *n)
{
	struct map_dump dp = {};
	struct held *v;
	int err = map_dump_read(fd, sizeof(__u32), sizeof(struct spee_gw_name), &dp);

	*out = NULL;
	*n = 0;
	if (err)
		return err;
	v = calloc(dp.n ? dp.n : 1, sizeof(*v));
	if (!v) {
		map_dump_free(&dp);
		return -ENOMEM;
	}
	for (size_t i = 0; i < dp.n; i++) {
		struct spee_gw_name name;
		__u32 key;

		memcpy(&key, dp.keys + i * sizeof(key), sizeof(key));
		memcpy(&name, dp.vals + i * sizeof(name), sizeof(name));
		if (!key || key > GATEWAY_MAX_HOSTS)
			continue; /* no index of ours */
		v[*n].index = (uint16_t)key;
		snprintf(v[*n].name, sizeof(v[*n].name), "%.*s", SPEE_GW_NAME_LEN - 1, name.name);
		(*n)++;
	}
	map_dump_free(&dp);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_held_name);
	*out = v;
	return 0;
}

/* The name a host is known by in spee_gw_names (cut to fit). */
static void host_label(const struct gateway_host *h, char out[SPEE_GW_NAME_LEN])
{
	snprintf(out, SPEE_GW_NAME_LEN, "%.*s", SPEE_GW_NAME_LEN - 1, h->host->name);
}

/*
 * index[h]: the index host h keeps (the one its name holds) or gets (the
 * lowest one no host holds, in inventory order); fresh[h]: it is new to
 * that index, whose counters start from zero.
 */
static int assign_hosts(const struct held *cur, size_t n_cur, const struct gateway_policy *g,
			uint16_t *index, bool *fresh)
{
	bool *taken = calloc(GATEWAY_MAX_HOSTS + 1, sizeof(*taken));
	uint32_t next = 1;

	if (!taken)
		return -ENOMEM;
	for (size_t h = 0; h < g->n_hosts; h++) {
		struct held want = { 0 };
		const struct held *got;

		host_label(&g->hosts[h], want.name);
		got = n_cur ? bsearch(&want, cur, n_cur, sizeof(*cur), cmp_held_name) : NULL;
		index[h] = got && !taken[got->index] ? got->index : 0;
		fresh[h] = !index[h];
		taken[index[h]] = true;
	}
	/* indexes of hosts gone stay taken until after the flip: the active slot counts on them */
	for (size_t i = 0; i < n_cur; i++)
		taken[cur[i].index] = true;
	for (size_t h = 0; h < g->n_hosts; h++) {
		if (index[h])
			continue;
		while (next <= GATEWAY_MAX_HOSTS && taken[next])
			next++;
		if (next > GATEWAY_MAX_HOSTS) {
			/* more hosts than indexes with the gone ones still held: take theirs */
			for (next = 1; next <= GATEWAY_MAX_HOSTS; next++) {
				bool held_now = false;

				for (size_t k = 0; k < h && !held_now; k++)
					held_now = index[k] == next;
				if (!held_now)
					break;
			}
			if (next > GATEWAY_MAX_HOSTS) {
				free(taken);
				return -ENOSPC;
			}
		}
		index[h] = (uint16_t)next;
		taken[next] = true;
	}
	free(taken);
	return 0;
}

int maps_gateway_read_hosts(const struct spee_map_fds *m, const struct gateway_policy *g,
			    uint16_t *index, struct diags *d)
{
	struct held *cur = NULL;
	size_t n_cur = 0;
	int err = read_names(m->fd[SPEE_MAP_GW_NAMES], &cur, &n_cur);

	if (err) {
		diag_add(d, NULL, 0, 0, "cannot read map spee_gw_names: %s", strerror(-err));
		return err;
	}
	for (size_t h = 0; h < g->n_hosts; h++) {
		struct held want = { 0 };
		const struct held *got;

		host_label(&g->hosts[h], want.name);
		got = n_cur ? bsearch(&want, cur, n_cur, sizeof(*cur), cmp_held_name) : NULL;
		index[h] = got ? got->index : 0;
	}
	free(cur);
	return 0;
}

/* ---- the applying ---- */

struct gw_apply {
	const struct gateway_policy *g;
	struct held *cur; /* spee_gw_names before this apply, sorted by name */
	size_t n_cur;
	uint16_t *index; /* [n_hosts] */
	bool *fresh; /* [n_hosts] */
	int32_t *host_at; /* [GATEWAY_MAX_HOSTS + 1]: the host holding each index, or -1 */
};

static uint8_t family_of(const struct prefix *a)
{
	return a->family == AF_INET ? SPEE_FAMILY_V4 : SPEE_FAMILY_V6;
}

static void host_key(struct spee_gw_host_key *k, uint8_t slot, const struct prefix *a)
{
	memset(k, 0, sizeof(*k));
	k->slot = slot;
	k->family = family_of(a);
	memcpy(k->addr, a->addr, a->family == AF_INET ? 4 : 16);
}

struct host_entry {
	struct spee_gw_host_key key;
	struct spee_gw_host v;
};

static int cmp_host_entry(const void *a, const void *b)
{
	return memcmp(&((const struct host_entry *)a)->key, &((const struct host_entry *)b)->key,
		      sizeof(struct spee_gw_host_key));
}

/*
 * What spee_gw_hosts should hold in slot, sorted by key: each address once,
 * the first host's in inventory order (the config holds each once anyway).
 */
static int wanted_hosts(const struct gateway_policy *g, const uint16_t *index, uint8_t slot,
			struct host_entry **out, size_t *n)
{
	struct host_entry *v;
	size_t total = 0, k = 0;

	*out = NULL;
	*n = 0;
	for (size_t h = 0; h < g->n_hosts; h++)
		total += g->hosts[h].host->n_addrs;
	v = calloc(total ? total : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t h = 0; h < g->n_hosts; h++) {
		const struct cfg_host *ch = g->hosts[h].host;

		for (size_t i = 0; i < ch->n_addrs; i++, k++) {
			host_key(&v[k].key, slot, &ch->addrs[i]);
			v[k].v.policy = g->hosts[h].policy;
			v[k].v.host = index[h];
		}
	}
	qsort(v, total, sizeof(*v), cmp_host_entry);
	for (size_t i = 0; i < total; i++)
		if (!*n || cmp_host_entry(&v[*n - 1], &v[i]))
			v[(*n)++] = v[i];
	*out = v;
	return 0;
}

static const struct host_entry *find_host(const struct host_entry *v, size_t n,
					  const struct spee_gw_host_key *key)
{
	struct host_entry k = { .key = *key };

	return n ? bsearch(&k, v, n, sizeof(*v), cmp_host_entry) : NULL;
}

/* Entries of a hash whose first byte (the slot) is, or is not, slot. */
static int count_slot(int fd, size_t ksz, size_t vsz, uint8_t slot, size_t *mine, size_t *other)
{
	struct map_dump dp = {};
	int err = map_dump_read(fd, ksz, vsz, &dp);

	*mine = *other = 0;
	for (size_t i = 0; !err && i < dp.n; i++) {
		if (dp.keys[i * ksz] == slot)
			(*mine)++;
		else
			(*other)++;
	}
	map_dump_free(&dp);
	return err;
}

static size_t map_count(int fd, size_t ksz, size_t vsz)
{
	size_t mine, other;

	return count_slot(fd, ksz, vsz, 0, &mine, &other) ? 0 : mine + other;
}

static uint32_t max_entries(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

static int gw_check(const struct maps_source *src, const struct spee_map_fds *m, uint8_t slot,
		    struct maps_write_stats *st, struct diags *d)
{
	const struct gw_apply *ga = src->arg;
	struct maps_gateway_counts c;
	size_t mine, other, ctrs, names;
	int err = count_slot(m->fd[SPEE_MAP_GW_HOSTS], sizeof(struct spee_gw_host_key),
			     sizeof(struct spee_gw_host), slot, &mine, &other);

	if (err)
		return err;
	maps_gateway_count(ga->g, NULL, &c);
	/*
	 * Counters and names of hosts and rules gone stay until after the flip.
	 * The counters are counted as if none of the policy's were there yet
	 * (an upper bound: the maps are sized for twice the policy's).
	 */
	ctrs = map_count(m->fd[SPEE_MAP_GW_CTR], sizeof(struct spee_gw_ctr_key),
			 map_dump_percpu_size(sizeof(struct spee_counter))) +
	       c.rule_ctrs;
	names = ga->n_cur;
	for (size_t h = 0; h < ga->g->n_hosts; h++)
		names += ga->fresh[h];
	st->gw_hosts_needed = other + c.host_addrs;
	st->gw_ctr_needed = ctrs;
	st->gw_names_needed = names;
	if (st->gw_hosts_needed > max_entries(m->fd[SPEE_MAP_GW_HOSTS]) ||
	    ctrs > max_entries(m->fd[SPEE_MAP_GW_CTR]) ||
	    names > max_entries(m->fd[SPEE_MAP_GW_NAMES])) {
		diag_add(d, NULL, 0, 0,
			 "the gateway's maps are too small for %zu hosts (%zu addresses, %zu rule "
			 "counters)",
			 ga->g->n_hosts, c.host_addrs, c.rule_ctrs);
		return -E2BIG;
	}
	return 0;
}

/* Zeroes for one per-CPU counter, on every CPU. */
static struct spee_counter *percpu_zero(void)
{
	int ncpu = libbpf_num_possible_cpus();

	return ncpu > 0 ? calloc((size_t)ncpu, sizeof(struct spee_counter)) : NULL;
}

static int cmp_ctr_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct spee_gw_ctr_key));
}

/*
 * Deletes every spee_gw_ctr entry for which drop(key) says so. kept (may be
 * NULL): the keys left, sorted, for the caller to free.
 */
static int ctr_delete_if(int fd, bool (*drop)(const struct spee_gw_ctr_key *k, const void *arg),
			 const void *arg, struct spee_gw_ctr_key **kept, size_t *n_kept)
{
	const size_t ksz = sizeof(struct spee_gw_ctr_key);
	const size_t vsz = map_dump_percpu_size(sizeof(struct spee_counter));
	struct spee_gw_ctr_key *keys = NULL;
	struct map_dump dp = {};
	size_t n = 0;
	int err = vsz ? map_dump_read(fd, ksz, vsz, &dp) : -EINVAL;

	if (!err) {
		keys = malloc((dp.n ? dp.n : 1) * ksz);
		if (!keys)
			err = -ENOMEM;
	}
	for (size_t i = 0; !err && i < dp.n; i++) {
		struct spee_gw_ctr_key key;

		memcpy(&key, dp.keys + i * ksz, ksz);
		if (!drop(&key, arg))
			keys[n++] = key;
		else if (bpf_map_delete_elem(fd, &key) && errno != ENOENT)
			err = -errno;
	}
	map_dump_free(&dp);
	if (!err && kept) {
		qsort(keys, n, ksz, cmp_ctr_key);
		*kept = keys;
		*n_kept = n;
		keys = NULL;
	}
	free(keys);
	return err;
}

static bool of_fresh_host(const struct spee_gw_ctr_key *k, const void *arg)
{
	const struct gw_apply *ga = arg;
	int32_t h = ga->host_at[k->host];

	return h >= 0 && ga->fresh[h];
}

/* Writes each host's name at its index, where spee_gw_names (as read: ga->cur) differs. */
static int write_names(const struct gw_apply *ga, int fd)
{
	const struct held **at = calloc(GATEWAY_MAX_HOSTS + 1, sizeof(*at));
	int err = 0;

	if (!at)
		return -ENOMEM;
	for (size_t i = 0; i < ga->n_cur; i++)
		at[ga->cur[i].index] = &ga->cur[i];
	for (size_t h = 0; h < ga->g->n_hosts && !err; h++) {
		struct spee_gw_name name = { 0 };
		__u32 key = ga->index[h];

		host_label(&ga->g->hosts[h], name.name);
		if (at[key] && !strcmp(at[key]->name, name.name))
			continue;
		if (bpf_map_update_elem(fd, &key, &name, BPF_ANY))
			err = -errno;
	}
	free(at);
	return err;
}

static int write_hosts(const struct gw_apply *ga, int fd, uint8_t slot)
{
	const size_t ksz = sizeof(struct spee_gw_host_key), vsz = sizeof(struct spee_gw_host);
	struct host_entry *want = NULL;
	struct map_dump dp = {};
	size_t n_want = 0;
	bool *same = NULL;
	int err = wanted_hosts(ga->g, ga->index, slot, &want, &n_want);

	if (!err)
		err = map_dump_read(fd, ksz, vsz, &dp);
	if (!err) {
		same = calloc(n_want ? n_want : 1, sizeof(*same));
		if (!same)
			err = -ENOMEM;
	}
	/* what the slot holds and should not goes; what it holds as it should stays */
	for (size_t i = 0; !err && i < dp.n; i++) {
		const struct host_entry *w;
		struct spee_gw_host_key key;

		memcpy(&key, dp.keys + i * ksz, ksz);
		if (key.slot != slot)
			continue;
		w = find_host(want, n_want, &key);
		if (w)
			same[w - want] = !memcmp(&w->v, dp.vals + i * vsz, vsz);
		else if (bpf_map_delete_elem(fd, &key) && errno != ENOENT)
			err = -errno;
	}
	for (size_t i = 0; i < n_want && !err; i++)
		if (!same[i] && bpf_map_update_elem(fd, &want[i].key, &want[i].v, BPF_ANY))
			err = -errno;
	map_dump_free(&dp);
	free(same);
	free(want);
	return err;
}

/*
 * Every (host, rule, direction) counter of the policy: one a slot newly
 * given to another rule starts from zero, the others are kept; have: the
 * map's keys (sorted), so that the counters there already cost no syscall.
 */
static int write_rule_ctrs(const struct gw_apply *ga, int fd, const uint16_t *slot_of_rule,
			   const bool *fresh_rule, const struct spee_gw_ctr_key *have, size_t n_have)
{
	struct spee_counter *zero = percpu_zero();
	int err = 0;

	if (!zero)
		return -ENOMEM;
	for (size_t h = 0; h < ga->g->n_hosts && !err; h++) {
		const struct policy *p = ga->g->hosts[h].p;

		for (size_t r = 0; r < p->n_rules && !err; r++) {
			for (uint8_t dir = 0; dir < SPEE_DIR_MAX && !err; dir++) {
				struct spee_gw_ctr_key k = {
					.host = ga->index[h],
					.rule = slot_of_rule[r],
					.dir = dir,
					.reason = SPEE_REASON_RULE,
				};

				if (!(p->rules[r].dirs & (1u << dir)) || !k.rule)
					continue;
				if (!fresh_rule[k.rule] && n_have &&
				    bsearch(&k, have, n_have, sizeof(*have), cmp_ctr_key))
					continue;
				/* a slot given to another rule starts from zero; else kept */
				if (bpf_map_update_elem(fd, &k, zero,
							fresh_rule[k.rule] ? BPF_ANY : BPF_NOEXIST) &&
				    errno != EEXIST)
					err = -errno;
			}
		}
	}
	free(zero);
	return err;
}

static int gw_before_flip(const struct maps_source *src, const struct spee_map_fds *m,
			  const uint16_t *slot_of_rule, const bool *fresh, uint8_t slot,
			  struct diags *d)
{
	const struct gw_apply *ga = src->arg;
	const char *map = "spee_gw_ctr";
	struct spee_gw_ctr_key *have = NULL;
	size_t n_have = 0;
	int err;

	/* a host new to its index: nothing counted under it before is its */
	err = ctr_delete_if(m->fd[SPEE_MAP_GW_CTR], of_fresh_host, ga, &have, &n_have);
	if (!err) {
		map = "spee_gw_names";
		err = write_names(ga, m->fd[SPEE_MAP_GW_NAMES]);
	}
	if (!err) {
		map = "spee_gw_hosts";
		err = write_hosts(ga, m->fd[SPEE_MAP_GW_HOSTS], slot);
	}
	if (!err) {
		map = "spee_gw_ctr";
		err = write_rule_ctrs(ga, m->fd[SPEE_MAP_GW_CTR], slot_of_rule, fresh, have, n_have);
	}
	free(have);
	if (err)
		diag_add(d, NULL, 0, 0, "cannot write map %s: %s", map, strerror(-err));
	return err;
}

struct settle {
	const struct gw_apply *ga;
	const uint16_t *slot_of_rule;
};

/* A counter no host of the policy has: a host gone, or a rule it no longer enforces. */
static bool unwanted_ctr(const struct spee_gw_ctr_key *k, const void *arg)
{
	const struct settle *s = arg;
	int32_t h = s->ga->host_at[k->host];
	const struct policy *p;

	if (h < 0)
		return true; /* a host gone */
	if (k->reason != SPEE_REASON_RULE || k->rule == SPEE_RULE_NONE)
		return false; /* its drops */
	p = s->ga->g->hosts[h].p;
	for (size_t r = 0; r < p->n_rules; r++)
		if (s->slot_of_rule[r] == k->rule && k->dir < SPEE_DIR_MAX &&
		    (p->rules[r].dirs & (1u << k->dir)))
			return false;
	return true;
}

static int gw_after_flip(const struct maps_source *src, const struct spee_map_fds *m,
			 const uint16_t *slot_of_rule, uint8_t slot, struct diags *d)
{
	const struct gw_apply *ga = src->arg;
	struct settle s = { .ga = ga, .slot_of_rule = slot_of_rule };
	int err;

	(void)slot;
	err = ctr_delete_if(m->fd[SPEE_MAP_GW_CTR], unwanted_ctr, &s, NULL, NULL);
	/* names of hosts gone: the active slot no longer counts on them */
	for (size_t i = 0; i < ga->n_cur && !err; i++) {
		__u32 key = ga->cur[i].index;

		if (ga->host_at[key] < 0 && bpf_map_delete_elem(m->fd[SPEE_MAP_GW_NAMES], &key) &&
		    errno != ENOENT)
			err = -errno;
	}
	if (err)
		diag_add(d, NULL, 0, 0, "cannot remove stale gateway entries: %s", strerror(-err));
	return err;
}

static int gw_build(const struct maps_source *src, const uint16_t *slot_of_rule, uint8_t slot,
		    struct maps_image *img, struct diags *d)
{
	const struct gw_apply *ga = src->arg;

	return maps_gateway_image(ga->g, src->names, slot_of_rule, slot, img, d);
}

int maps_apply_gateway(const struct spee_map_fds *m, const struct gateway_policy *g,
		       const struct name_table *t, const struct maps_apply_opts *opts,
		       struct maps_apply_result *res, struct diags *d)
{
	struct gw_apply ga = { .g = g };
	struct maps_source src = {
		.rules = &g->fleet,
		.names = t,
		.build = gw_build,
		.check = gw_check,
		.before_flip = gw_before_flip,
		.after_flip = gw_after_flip,
		.arg = &ga,
	};
	int err;

	memset(res, 0, sizeof(*res));
	ga.index = calloc(g->n_hosts, sizeof(*ga.index));
	ga.fresh = calloc(g->n_hosts, sizeof(*ga.fresh));
	ga.host_at = malloc((GATEWAY_MAX_HOSTS + 1) * sizeof(*ga.host_at));
	if (!ga.index || !ga.fresh || !ga.host_at) {
		err = -ENOMEM;
		goto out;
	}
	err = read_names(m->fd[SPEE_MAP_GW_NAMES], &ga.cur, &ga.n_cur);
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot read map spee_gw_names: %s", strerror(-err));
		goto out;
	}
	err = assign_hosts(ga.cur, ga.n_cur, g, ga.index, ga.fresh);
	if (err) {
		diag_add(d, NULL, 0, 0, "no host index left for %zu hosts", g->n_hosts);
		goto out;
	}
	for (size_t i = 0; i <= GATEWAY_MAX_HOSTS; i++)
		ga.host_at[i] = -1;
	for (size_t h = 0; h < g->n_hosts; h++)
		ga.host_at[ga.index[h]] = (int32_t)h;
	err = maps_apply_source(m, &src, opts, res, d);
out:
	free(ga.cur);
	free(ga.index);
	free(ga.fresh);
	free(ga.host_at);
	return err;
}

int maps_gateway_check_hosts(const struct spee_map_fds *m, const struct gateway_policy *g,
			     size_t *missing, size_t *extra, size_t *changed, struct diags *d)
{
	const size_t ksz = sizeof(struct spee_gw_host_key), vsz = sizeof(struct spee_gw_host);
	struct host_entry *want = NULL;
	struct map_dump dp = {};
	struct spee_runtime rt;
	uint16_t *index;
	size_t n_want = 0, found = 0;
	int err;

	*missing = *extra = *changed = 0;
	err = maps_read_runtime(m, &rt, d);
	if (err)
		return err;
	index = calloc(g->n_hosts ? g->n_hosts : 1, sizeof(*index));
	if (!index)
		return -ENOMEM;
	err = maps_gateway_read_hosts(m, g, index, d);
	if (!err)
		err = wanted_hosts(g, index, (uint8_t)(rt.active & 1), &want, &n_want);
	if (!err)
		err = map_dump_read(m->fd[SPEE_MAP_GW_HOSTS], ksz, vsz, &dp);
	for (size_t i = 0; !err && i < dp.n; i++) {
		const struct host_entry *w;
		struct spee_gw_host_key key;

		memcpy(&key, dp.keys + i * ksz, ksz);
		if (key.slot != (rt.active & 1))
			continue;
		w = find_host(want, n_want, &key);
		if (!w) {
			(*extra)++;
			continue;
		}
		found++;
		if (memcmp(dp.vals + i * vsz, &w->v, vsz))
			(*changed)++;
	}
	map_dump_free(&dp);
	if (!err)
		*missing = n_want - found;
	free(index);
	free(want);
	return err;
}
