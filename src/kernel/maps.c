// SPDX-License-Identifier: GPL-2.0-only
/*
 * maps.c - policy map contents written one slot at a time and switched in
 * one update: steps 3 and 4 of maps.h and the whole apply. Steps 1 and 2
 * (slots and images, no kernel calls) are in maps_image.c.
 */
#include "maps.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "config.h"
#include "map_dump.h"

/* ---- reading maps back ---- */

static int map_max_entries(int fd, __u32 *max)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int err = bpf_obj_get_info_by_fd(fd, &info, &len);

	if (err)
		return err;
	*max = info.max_entries;
	return 0;
}

/* ---- writing many elements ---- */

/* Elements per batch syscall: big enough that the syscall's own cost vanishes. */
#define BATCH_MAX 8192

/*
 * Writes n key/value pairs, in batches where the map type has them (hash
 * maps and arrays do), else one by one. done counts what was written.
 */
static int update_pairs(int fd, const uint8_t *keys, const uint8_t *vals, size_t n, size_t ksz,
			size_t vsz, size_t *done)
{
	bool batch = true;
	size_t i = 0;

	while (i < n) {
		int err;

		if (batch) {
			__u32 count = (__u32)(n - i < BATCH_MAX ? n - i : BATCH_MAX);

			err = bpf_map_update_batch(fd, keys + i * ksz, vals + i * vsz, &count, NULL);
			if (err && i == 0 && map_no_batch_ops(err)) {
				/*
				 * Without batch operations the kernel leaves count as it was, so
				 * it says nothing; writing again from here is harmless.
				 */
				batch = false;
				continue;
			}
			i += count;
			*done += count;
			if (err)
				return err;
			continue;
		}
		err = bpf_map_update_elem(fd, keys + i * ksz, vals + i * vsz, BPF_ANY);
		if (err)
			return err;
		i++;
		(*done)++;
	}
	return 0;
}

/* Deletes n keys the same way; keys already gone are not an error. */
static int delete_keys(int fd, const uint8_t *keys, size_t n, size_t ksz, size_t *done)
{
	bool batch = true;
	size_t i = 0;

	while (i < n) {
		int err;

		if (batch) {
			__u32 count = (__u32)(n - i < BATCH_MAX ? n - i : BATCH_MAX);

			err = bpf_map_delete_batch(fd, keys + i * ksz, &count, NULL);
			if (err && i == 0 && map_no_batch_ops(err)) {
				batch = false;
				continue;
			}
			i += count;
			*done += count;
			if (err == -ENOENT) {
				i++; /* the batch stopped at a key that is not there: skip it */
				continue;
			}
			if (err)
				return err;
			continue;
		}
		err = bpf_map_delete_elem(fd, keys + i * ksz);
		if (err && err != -ENOENT)
			return err;
		i++;
		(*done)++;
	}
	return 0;
}

/* ---- step 3: writing one slot ---- */

/*
 * The plan for one hash or trie: which keys to write and which to delete,
 * decided from what the slot holds now before anything is written.
 */
struct plan {
	const char *map;
	int fd;
	size_t ksz, vsz;
	uint8_t *upd_keys, *upd_vals;
	size_t n_upd;
	uint8_t *del_keys;
	size_t n_del;
	bool delete_first;
	size_t need; /* entries the map must hold at once: the other slot's and the image */
};

static void plan_free(struct plan *pl)
{
	free(pl->upd_keys);
	free(pl->upd_vals);
	free(pl->del_keys);
}

struct kv_ref {
	const uint8_t *key;
	const uint8_t *val;
};

static int cmp_kv(const void *a, const void *b, void *ksz)
{
	return memcmp(((const struct kv_ref *)a)->key, ((const struct kv_ref *)b)->key,
		      *(const size_t *)ksz);
}

/*
 * What a slot holds, when the caller knows it without reading the map: the
 * slot's entries (key then value, entry_sz apart, sorted by key) and how
 * many entries the other slot has.
 */
struct known {
	const void *entries;
	size_t n;
	size_t n_other;
};

/*
 * want: the image's entries (sorted by key). The slot's byte is at
 * slot_off in every key. known: the slot's contents, or NULL to read the
 * map. Fills pl, or returns -E2BIG when the map cannot hold the result.
 */
static int plan_make(struct plan *pl, const void *want, size_t n_want, size_t entry_sz,
		     size_t slot_off, uint8_t slot, const struct known *known, struct diags *d)
{
	struct map_dump cur = {};
	struct kv_ref *mine = NULL;
	size_t n_mine = 0, n_other = 0, n_new = 0, n_cur, i = 0, j = 0;
	__u32 max;
	int err;

	err = map_max_entries(pl->fd, &max);
	if (!err && !known)
		err = map_dump_read(pl->fd, pl->ksz, pl->vsz, &cur);
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot read map %s: %s", pl->map, strerror(-err));
		goto out;
	}
	n_cur = known ? known->n : cur.n;
	/*
	 * Room for the worst case, written before it is read: no zeroing, and
	 * only the pages used are ever touched.
	 */
	pl->upd_keys = malloc((n_want ? n_want : 1) * pl->ksz);
	pl->upd_vals = malloc((n_want ? n_want : 1) * pl->vsz);
	pl->del_keys = malloc((n_cur ? n_cur : 1) * pl->ksz);
	if (!known)
		mine = malloc((n_cur ? n_cur : 1) * sizeof(*mine));
	if ((!known && !mine) || !pl->upd_keys || !pl->upd_vals || !pl->del_keys) {
		err = -ENOMEM;
		goto out;
	}
	if (known) {
		/* Already this slot's only, sorted: merged in place below. */
		n_mine = known->n;
		n_other = known->n_other;
	} else {
		for (size_t k = 0; k < cur.n; k++) {
			const uint8_t *key = cur.keys + k * pl->ksz;

			if (key[slot_off] == slot) {
				mine[n_mine].key = key;
				mine[n_mine++].val = cur.vals + k * pl->vsz;
			} else {
				n_other++;
			}
		}
		qsort_r(mine, n_mine, sizeof(*mine), cmp_kv, &pl->ksz);
	}

	/* Merge the sorted image with the slot's sorted contents. */
	while (i < n_want || j < n_mine) {
		const uint8_t *wk = i < n_want ? (const uint8_t *)want + i * entry_sz : NULL;
		const uint8_t *hk = NULL, *hv = NULL;
		int c;

		if (j < n_mine) {
			hk = known ? (const uint8_t *)known->entries + j * entry_sz : mine[j].key;
			hv = known ? hk + pl->ksz : mine[j].val;
		}
		c = !wk ? 1 : !hk ? -1 : memcmp(wk, hk, pl->ksz);
		if (c < 0 || (c == 0 && memcmp(wk + pl->ksz, hv, pl->vsz))) {
			memcpy(pl->upd_keys + pl->n_upd * pl->ksz, wk, pl->ksz);
			memcpy(pl->upd_vals + pl->n_upd * pl->vsz, wk + pl->ksz, pl->vsz);
			pl->n_upd++;
			n_new += c < 0;
		}
		if (c > 0)
			memcpy(pl->del_keys + pl->n_del++ * pl->ksz, hk, pl->ksz);
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}

	pl->need = n_other + n_want;
	if (pl->need > max) {
		diag_add(d, NULL, 0, 0,
			 "map %s holds at most %u entries; this policy needs %zu and the active "
			 "policy %zu",
			 pl->map, max, n_want, n_other);
		err = -E2BIG;
		goto out;
	}
	/* Adding first may not fit while the stale entries are still there. */
	pl->delete_first = n_other + n_mine + n_new > max;
out:
	free(mine);
	map_dump_free(&cur);
	return err;
}

static int plan_delete(const struct plan *pl, size_t *removed)
{
	return delete_keys(pl->fd, pl->del_keys, pl->n_del, pl->ksz, removed);
}

static int plan_update(const struct plan *pl, size_t *added)
{
	return update_pairs(pl->fd, pl->upd_keys, pl->upd_vals, pl->n_upd, pl->ksz, pl->vsz, added);
}

static int plan_run(const struct plan *pl, struct maps_write_stats *st, struct diags *d)
{
	int err;

	if (pl->delete_first) {
		err = plan_delete(pl, &st->removed);
		if (!err)
			err = plan_update(pl, &st->added);
	} else {
		err = plan_update(pl, &st->added);
		if (!err)
			err = plan_delete(pl, &st->removed);
	}
	if (err)
		diag_add(d, NULL, 0, 0, "cannot write map %s: %s", pl->map, strerror(-err));
	return err;
}

/*
 * Reads one slot's part of spee_ports through a read-only mapping of the
 * array (it is BPF_F_MMAPABLE): a copy of 1 MiB instead of 131,072 lookups,
 * which took ~55 ms through the batch syscall.
 */
static int ports_read(int fd, uint8_t slot, struct spee_port_info *out)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (SPEE_PORT_ENTRIES * sizeof(*out) + page - 1) / page * page;
	const struct spee_port_info *table;
	void *mem;

	/* An mmapable array's elements are 8-byte aligned: a port info is one. */
	_Static_assert(sizeof(*out) % 8 == 0, "spee_ports elements are packed in the mapping");
	mem = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	table = mem;
	memcpy(out, table + spee_port_index(slot, 0, 0, 0), MAPS_SLOT_PORTS * sizeof(*out));
	munmap(mem, len);
	return 0;
}

static bool port_info_zero(const struct spee_port_info *pi)
{
	uint64_t v;

	_Static_assert(sizeof(*pi) == sizeof(v), "a port info compares as one word");
	memcpy(&v, pi, sizeof(v));
	return !v;
}

static bool port_info_eq(const struct spee_port_info *a, const struct spee_port_info *b)
{
	uint64_t x, y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return x == y;
}

/*
 * Writes the slot's port infos that differ from what it holds: known (the
 * cached non-zero ones), or when NULL what reading the slot back says. With
 * both the cache and the image's list of its non-zero ports, only the ports
 * either lists are compared, not all 262,144.
 */
static int ports_write(int fd, const struct maps_image *img, const struct maps_cache_slot *known,
		       size_t *changed, struct diags *d)
{
	static const struct spee_port_info zero;
	const struct spee_port_info *want = img->ports;
	bool listed = known && img->port_used;
	struct spee_port_info *cur = NULL, *vals = NULL;
	__u32 *keys = NULL, n = 0, base = spee_port_index(img->slot, 0, 0, 0);
	size_t next = 0, used = 0, room = MAPS_SLOT_PORTS;
	int err = 0;

	if (!known) {
		cur = calloc(MAPS_SLOT_PORTS, sizeof(*cur));
		if (!cur)
			return -ENOMEM;
		err = ports_read(fd, img->slot, cur);
		if (err) {
			diag_add(d, NULL, 0, 0, "cannot read map spee_ports: %s", strerror(-err));
			goto out;
		}
	}
	if (listed)
		room = known->n_ports + img->n_port_used;
	keys = malloc((room ? room : 1) * sizeof(*keys));
	vals = malloc((room ? room : 1) * sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (__u32 k = 0; k < MAPS_SLOT_PORTS; k++) {
		const struct spee_port_info *now = &zero;

		if (listed) {
			/* the next index either list holds */
			uint32_t a = next < known->n_ports ? known->port_idx[next] : UINT32_MAX;
			uint32_t b = used < img->n_port_used ? img->port_used[used] : UINT32_MAX;

			k = a < b ? a : b;
			if (k >= MAPS_SLOT_PORTS)
				break;
			used += b == k;
		}
		if (!known)
			now = &cur[k];
		else if (next < known->n_ports && known->port_idx[next] == k)
			now = &known->port_val[next++]; /* the cache lists them by index */
		if (port_info_eq(now, &want[k]))
			continue;
		keys[n] = base + k;
		vals[n++] = want[k];
	}
	if (n) {
		size_t done = 0;

		err = update_pairs(fd, (const uint8_t *)keys, (const uint8_t *)vals, n,
				   sizeof(*keys), sizeof(*vals), &done);
	}
	if (err)
		diag_add(d, NULL, 0, 0, "cannot write map spee_ports: %s", strerror(-err));
	*changed += n;
out:
	free(cur);
	free(keys);
	free(vals);
	return err;
}

/* The one element of spee_rt or spee_inst: read into `in`, or written from `out`. */
static int only_element(const struct spee_map_fds *m, enum spee_map_id map, void *in,
			const void *out, struct diags *d)
{
	__u32 zero = 0;
	int err = out ? bpf_map_update_elem(m->fd[map], &zero, out, BPF_ANY)
		      : bpf_map_lookup_elem(m->fd[map], &zero, in);

	if (err)
		diag_add(d, NULL, 0, 0, "cannot %s map %s: %s", out ? "write" : "read",
			 spee_map_names[map], strerror(-err));
	return err;
}

int maps_read_runtime(const struct spee_map_fds *m, struct spee_runtime *rt, struct diags *d)
{
	return only_element(m, SPEE_MAP_RT, rt, NULL, d);
}

static int write_runtime(const struct spee_map_fds *m, const struct spee_runtime *rt,
			 struct diags *d)
{
	return only_element(m, SPEE_MAP_RT, NULL, rt, d);
}


/*
 * maps_write_slot, given what the slot and the other slot hold when the
 * caller knows it (cached), else NULL: the slot is then read back.
 */
static int write_slot(const struct spee_map_fds *m, const struct maps_image *img,
		      const struct spee_slot_cfg *cfg, const struct maps_cache_slot *cur,
		      const struct maps_cache_slot *other, struct maps_write_stats *st,
		      struct diags *d)
{
	struct known kx, kp;
	struct plan ex = {
		.map = "spee_exact",
		.fd = m->fd[SPEE_MAP_EXACT],
		.ksz = sizeof(struct spee_rule_key),
		.vsz = sizeof(struct spee_verdict),
	};
	struct plan px = {
		.map = "spee_prefix",
		.fd = m->fd[SPEE_MAP_PREFIX],
		.ksz = sizeof(struct spee_prefix_key),
		.vsz = sizeof(struct spee_verdict),
	};
	struct spee_runtime rt;
	int err;

	_Static_assert(sizeof(struct maps_exact_entry) ==
			       sizeof(struct spee_rule_key) + sizeof(struct spee_verdict),
		       "image entries are key then value, unpadded");
	_Static_assert(sizeof(struct maps_prefix_entry) ==
			       sizeof(struct spee_prefix_key) + sizeof(struct spee_verdict),
		       "image entries are key then value, unpadded");

	memset(st, 0, sizeof(*st));
	err = maps_read_runtime(m, &rt, d);
	if (err)
		goto out;
	if (img->slot >= SPEE_POLICY_SLOTS || rt.active == img->slot) {
		diag_add(d, NULL, 0, 0, "refusing to write policy slot %u: it is the active one",
			 img->slot);
		err = -EBUSY;
		goto out;
	}
	if (cur && other) {
		kx = (struct known){ cur->exact, cur->n_exact, other->n_exact };
		kp = (struct known){ cur->prefix, cur->n_prefix, other->n_prefix };
	}
	/* Every capacity check before the first write; on -E2BIG, both maps' needs. */
	err = plan_make(&ex, img->exact, img->n_exact, sizeof(*img->exact),
			offsetof(struct spee_rule_key, slot), img->slot, cur && other ? &kx : NULL,
			d);
	if (!err || err == -E2BIG) {
		int err_px = plan_make(&px, img->prefix, img->n_prefix, sizeof(*img->prefix),
				       offsetof(struct spee_prefix_key, slot), img->slot,
				       cur && other ? &kp : NULL, d);

		if (!err || (err_px && err_px != -E2BIG))
			err = err_px;
	}
	st->exact_needed = ex.need;
	st->prefix_needed = px.need;
	if (err)
		goto out;

	/* From here on the slot is neither what it was nor what it will be. */
	rt.slot[img->slot].generation = MAPS_GENERATION_WRITING;
	err = write_runtime(m, &rt, d);
	if (err)
		goto out;
	err = plan_run(&ex, st, d);
	if (err)
		goto out;
	err = plan_run(&px, st, d);
	if (err)
		goto out;
	err = ports_write(m->fd[SPEE_MAP_PORTS], img, cur && other ? cur : NULL, &st->ports_changed,
			  d);
	if (err)
		goto out;
	err = maps_write_local_sets(m, img, d);
	if (err)
		goto out;

	/*
	 * The slot's settings. The whole record is rewritten, but the active
	 * slot's bytes and `active` are written with the values they hold.
	 */
	err = maps_read_runtime(m, &rt, d);
	if (err)
		goto out;
	rt.slot[img->slot] = *cfg;
	err = write_runtime(m, &rt, d);
out:
	plan_free(&ex);
	plan_free(&px);
	return err;
}

int maps_copy_entries(int from_fd, int to_fd, size_t key_size, size_t value_size)
{
	struct map_dump dp = {};
	size_t done = 0;
	int err = map_dump_read(from_fd, key_size, value_size, &dp);

	if (!err && dp.n)
		err = update_pairs(to_fd, dp.keys, dp.vals, dp.n, key_size, value_size, &done);
	map_dump_free(&dp);
	return err;
}

int maps_write_slot(const struct spee_map_fds *m, const struct maps_image *img,
		    const struct spee_slot_cfg *cfg, struct maps_write_stats *st, struct diags *d)
{
	return write_slot(m, img, cfg, NULL, NULL, st, d);
}

/* ---- the cache of what each slot holds ---- */

static void cache_slot_clear(struct maps_cache_slot *cs)
{
	free(cs->exact);
	free(cs->prefix);
	free(cs->port_idx);
	free(cs->port_val);
	memset(cs, 0, sizeof(*cs));
}

void maps_cache_free(struct maps_cache *c)
{
	for (int s = 0; s < SPEE_POLICY_SLOTS; s++)
		cache_slot_clear(&c->slot[s]);
}

void maps_cache_assume_empty(struct maps_cache *c)
{
	maps_cache_free(c);
	for (int s = 0; s < SPEE_POLICY_SLOTS; s++)
		c->slot[s].valid = true;
}

/* The cached slot if spee_rt says it still holds what was cached, else NULL. */
static const struct maps_cache_slot *cache_get(const struct maps_cache *c,
					       const struct spee_runtime *rt, uint8_t slot)
{
	const struct maps_cache_slot *cs;

	if (!c)
		return NULL;
	cs = &c->slot[slot];
	return cs->valid && rt->slot[slot].generation == cs->generation ? cs : NULL;
}

/* Takes img's entries into the cache (img keeps its port table). */
static int cache_put(struct maps_cache *c, struct maps_image *img, uint32_t generation)
{
	struct maps_cache_slot *cs = &c->slot[img->slot];
	size_t n = 0, scan = img->port_used ? img->n_port_used : MAPS_SLOT_PORTS;

	cache_slot_clear(cs);
	/* The image's list of the ports it set, or the whole table. */
	for (size_t i = 0; i < scan; i++)
		n += !port_info_zero(&img->ports[img->port_used ? img->port_used[i] : i]);
	cs->port_idx = malloc((n ? n : 1) * sizeof(*cs->port_idx));
	cs->port_val = malloc((n ? n : 1) * sizeof(*cs->port_val));
	if (!cs->port_idx || !cs->port_val) {
		cache_slot_clear(cs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < scan; i++) {
		uint32_t k = img->port_used ? img->port_used[i] : (uint32_t)i;

		if (port_info_zero(&img->ports[k]))
			continue;
		cs->port_idx[cs->n_ports] = k;
		cs->port_val[cs->n_ports++] = img->ports[k];
	}
	cs->exact = img->exact;
	cs->n_exact = img->n_exact;
	cs->prefix = img->prefix;
	cs->n_prefix = img->n_prefix;
	img->exact = NULL;
	img->n_exact = 0;
	img->prefix = NULL;
	img->n_prefix = 0;
	cs->generation = generation;
	cs->valid = true;
	return 0;
}

/* ---- step 4 ---- */

int maps_flip(const struct spee_map_fds *m, uint8_t slot, struct diags *d)
{
	struct spee_runtime rt;
	int err;

	if (slot >= SPEE_POLICY_SLOTS)
		return -EINVAL;
	err = maps_read_runtime(m, &rt, d);
	if (err)
		return err;
	/*
	 * One update of the whole record. An array update copies the value
	 * into place byte-wise while programs may read it, but it can only
	 * change bytes whose values differ, and here only `active` differs
	 * (the slot settings were written before and are written again
	 * unchanged). `active` goes between 0 and 1, so of its four bytes only
	 * the lowest changes: a reader sees the old or the new value, never a
	 * mixture.
	 */
	rt.active = slot;
	return write_runtime(m, &rt, d);
}

/* ---- the whole apply ---- */

int maps_read_rules(const struct spee_map_fds *m, struct spee_rule_meta *table, struct diags *d)
{
	__u32 keys[SPEE_MAX_RULES], count = SPEE_MAX_RULES, out;
	int err;

	/* One syscall instead of 1,024: an array's batch comes back in index order. */
	err = bpf_map_lookup_batch(m->fd[SPEE_MAP_RULES], NULL, &out, keys, table, &count, NULL);
	if ((!err || err == -ENOENT) && count == SPEE_MAX_RULES)
		return 0;
	if (!err || err == -ENOENT)
		err = -EIO;
	if (map_no_batch_ops(err)) {
		err = 0;
		for (__u32 s = 0; s < SPEE_MAX_RULES && !err; s++)
			err = bpf_map_lookup_elem(m->fd[SPEE_MAP_RULES], &s, &table[s]);
	}
	if (err)
		diag_add(d, NULL, 0, 0, "cannot read map spee_rules: %s", strerror(-err));
	return err;
}

/* Writes the elements of spee_rules that differ between from and to. */
static int write_rules(const struct spee_map_fds *m, const struct spee_rule_meta *from,
		       const struct spee_rule_meta *to, struct diags *d)
{
	for (__u32 s = 0; s < SPEE_MAX_RULES; s++) {
		int err;

		if (!memcmp(&from[s], &to[s], sizeof(to[s])))
			continue;
		err = bpf_map_update_elem(m->fd[SPEE_MAP_RULES], &s, &to[s], BPF_ANY);
		if (err) {
			diag_add(d, NULL, 0, 0, "cannot write map spee_rules: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Zeroes both directions' counters of a rule slot, on every CPU. */
static int zero_rule_counters(const struct spee_map_fds *m, uint16_t slot, struct diags *d)
{
	int ncpu = libbpf_num_possible_cpus();
	struct spee_counter *zero;
	int err = 0;

	if (ncpu < 0)
		return ncpu;
	zero = calloc((size_t)ncpu, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	for (__u32 dir = 0; dir < SPEE_DIR_MAX && !err; dir++) {
		__u32 idx = spee_rule_ctr_index(slot, dir);

		err = bpf_map_update_elem(m->fd[SPEE_MAP_RULE_CTR], &idx, zero, BPF_ANY);
	}
	if (err)
		diag_add(d, NULL, 0, 0, "cannot reset counters in spee_rule_ctr: %s",
			 strerror(-err));
	free(zero);
	return err;
}

/*
 * Forgets what spee_seen noted for the slots given to a new id: the
 * addresses an old rule allowed are not the new one's. The table is read
 * in batches (a full one, 16,384 entries, took ~16 ms key by key) and only
 * when an apply gives a slot to a new id (a rule added or renamed), not for
 * a peer added, moved or removed.
 */
static int forget_seen(const struct spee_map_fds *m, const bool *fresh, struct diags *d)
{
	const size_t ksz = sizeof(struct spee_seen_key);
	int fd = m->fd[SPEE_MAP_SEEN];
	struct map_dump dp = {};
	bool any = false;
	int err;

	for (uint16_t s = 1; s < SPEE_MAX_RULES && !any; s++)
		any = fresh[s];
	if (fd < 0 || !any)
		return 0;
	err = map_dump_read(fd, ksz, sizeof(struct spee_tally), &dp);
	for (size_t i = 0; !err && i < dp.n; i++) {
		struct spee_seen_key k;

		memcpy(&k, dp.keys + i * ksz, ksz);
		if (k.rule < SPEE_MAX_RULES && fresh[k.rule] && bpf_map_delete_elem(fd, &k) &&
		    errno != ENOENT)
			err = -errno;
	}
	map_dump_free(&dp);
	if (err)
		diag_add(d, NULL, 0, 0, "cannot clear entries of spee_seen: %s", strerror(-err));
	return err;
}

static int build_host_image(const struct maps_source *src, const uint16_t *slot_of_rule,
			    uint8_t slot, struct maps_image *img, struct diags *d)
{
	return maps_build_image(src->rules, src->names, slot_of_rule, slot, img, d);
}

int maps_apply(const struct spee_map_fds *m, const struct policy *p, const struct name_table *t,
	       const struct maps_apply_opts *opts, struct maps_apply_result *res, struct diags *d)
{
	const struct maps_source src = { .rules = p, .names = t, .build = build_host_image };

	return maps_apply_source(m, &src, opts, res, d);
}

int maps_apply_source(const struct spee_map_fds *m, const struct maps_source *src,
		      const struct maps_apply_opts *opts, struct maps_apply_result *res,
		      struct diags *d)
{
	const struct policy *p = src->rules;
	struct maps_write_stats gw_needs;
	struct spee_rule_meta *cur = NULL, *next = NULL, *released = NULL;
	uint16_t *slot_of_rule = NULL;
	bool *fresh = NULL, rules_written = false;
	struct maps_image img = {};
	struct spee_slot_cfg cfg = {};
	struct maps_cache *cache = opts ? opts->cache : NULL;
	const struct maps_cache_slot *cur_slot = NULL, *other_slot = NULL;
	struct spee_runtime rt;
	uint32_t timeout, newest = 0;
	uint8_t target;
	int err;

	memset(res, 0, sizeof(*res));
	cur = calloc(SPEE_MAX_RULES, sizeof(*cur));
	next = calloc(SPEE_MAX_RULES, sizeof(*next));
	released = calloc(SPEE_MAX_RULES, sizeof(*released));
	fresh = calloc(SPEE_MAX_RULES, sizeof(*fresh));
	slot_of_rule = calloc(p->n_rules ? p->n_rules : 1, sizeof(*slot_of_rule));
	if (!cur || !next || !released || !fresh || !slot_of_rule) {
		err = -ENOMEM;
		goto out;
	}

	err = maps_read_runtime(m, &rt, d);
	if (err)
		goto out;
	target = (uint8_t)((rt.active & 1) ^ 1);

	err = maps_read_rules(m, cur, d);
	if (err)
		goto out;
	err = maps_assign_slots(cur, p, next, slot_of_rule, fresh, d);
	if (err)
		goto out;
	err = src->build(src, slot_of_rule, target, &img, d);
	if (!err && src->check)
		err = src->check(src, m, target, &res->stats, d);
	if (err)
		goto out;

	/* Slots given to a new id start from zero, before anything can count on them. */
	for (uint16_t s = 1; s < SPEE_MAX_RULES; s++) {
		if (!fresh[s])
			continue;
		err = zero_rule_counters(m, s, d);
		if (err)
			goto out;
	}
	err = forget_seen(m, fresh, d);
	if (err)
		goto out;
	rules_written = true;
	err = write_rules(m, cur, next, d);
	if (err)
		goto out;

	timeout = p->cfg ? p->cfg->udp_timeout : CONFIG_DEFAULT_UDP_TIMEOUT;
	cfg.mode = (uint8_t)(opts && opts->audit ? SPEE_MODE_AUDIT : p->mode);
	cfg.default_action[SPEE_DIR_INGRESS] = (uint8_t)p->default_action[SPEE_DIR_INGRESS];
	cfg.default_action[SPEE_DIR_EGRESS] = (uint8_t)p->default_action[SPEE_DIR_EGRESS];
	cfg.scope = p->host_scope ? SPEE_SCOPE_HOST : 0;
	for (int s = 0; s < SPEE_POLICY_SLOTS; s++) {
		uint32_t g = rt.slot[s].generation;

		/* A slot left half-written by a failed apply carries no generation. */
		if (g != MAPS_GENERATION_WRITING && g > newest)
			newest = g;
	}
	cfg.generation = newest + 1;
	cfg.udp_timeout_ns = (uint64_t)timeout * 1000000000ULL;
	cfg.events_rate = p->cfg ? p->cfg->events_rate : CONFIG_DEFAULT_EVENTS_RATE;
	cfg.events_burst = p->cfg ? p->cfg->events_burst : CONFIG_DEFAULT_EVENTS_BURST;

	cur_slot = cache_get(cache, &rt, target);
	other_slot = cache_get(cache, &rt, target ^ 1);
	gw_needs = res->stats; /* what check found; write_slot starts its own */
	err = write_slot(m, &img, &cfg, cur_slot, other_slot, &res->stats, d);
	res->stats.gw_hosts_needed = gw_needs.gw_hosts_needed;
	res->stats.gw_ctr_needed = gw_needs.gw_ctr_needed;
	res->stats.gw_names_needed = gw_needs.gw_names_needed;
	if (cache)
		cache->slot[target].valid = false; /* until cache_put: the slot has changed */
	if (!err && src->before_flip)
		err = src->before_flip(src, m, slot_of_rule, fresh, target, d);
	if (err)
		goto out;
	err = maps_flip(m, target, d);
	if (err)
		goto out;
	res->slot = target;
	res->generation = cfg.generation;
	if (cache && cache_put(cache, &img, cfg.generation))
		cache->slot[target].valid = false; /* out of memory: read back next time */

	/* The old policy is no longer read: the slots of vanished rules are free. */
	memcpy(released, next, SPEE_MAX_RULES * sizeof(*released));
	maps_release_slots(released, p, slot_of_rule);
	err = write_rules(m, next, released, d);
	rules_written = false;
	if (!err && src->after_flip)
		err = src->after_flip(src, m, slot_of_rule, target, d);
out:
	if (err && rules_written)
		write_rules(m, next, cur, d); /* best effort: stats keep showing the old rules */
	maps_image_free(&img);
	free(cur);
	free(next);
	free(released);
	free(fresh);
	free(slot_of_rule);
	/*
	 * The megabytes of buffers an apply took (the image, its sort, the slot
	 * read back) stay with glibc once freed: the agent gives them back once
	 * it is idle (agent.c, IDLE_TRIM_MS), a command when it exits. Trimmed
	 * here, each apply of a burst paid for the trim and then for faulting
	 * the same pages in again.
	 */
	return err;
}

/* Records whose first ksz bytes are the key, by key. */
static int cmp_record(const void *a, const void *b, void *ksz)
{
	return memcmp(a, b, *(const size_t *)ksz);
}

/*
 * The entries of one slot of a hash or trie (the slot's byte at slot_off of
 * each key) as key-then-value records sorted by key, the image's layout.
 * *out is malloc'd.
 */
static int slot_records(int fd, size_t ksz, size_t vsz, size_t slot_off, uint8_t slot,
			void **out, size_t *n)
{
	struct map_dump dp = {};
	size_t rec = ksz + vsz;
	uint8_t *v;
	int err = map_dump_read(fd, ksz, vsz, &dp);

	*n = 0;
	if (err)
		return err;
	v = malloc((dp.n ? dp.n : 1) * rec);
	if (!v) {
		map_dump_free(&dp);
		return -ENOMEM;
	}
	for (size_t k = 0; k < dp.n; k++) {
		if (dp.keys[k * ksz + slot_off] != slot)
			continue;
		memcpy(v + *n * rec, dp.keys + k * ksz, ksz);
		memcpy(v + *n * rec + ksz, dp.vals + k * vsz, vsz);
		(*n)++;
	}
	qsort_r(v, *n, rec, cmp_record, &ksz);
	map_dump_free(&dp);
	*out = v;
	return 0;
}

int maps_read_slot(const struct spee_map_fds *m, uint8_t slot, struct maps_image *img,
		   struct diags *d)
{
	void *exact = NULL, *prefix = NULL;
	int err;

	memset(img, 0, sizeof(*img));
	img->slot = slot;
	img->ports = calloc(MAPS_SLOT_PORTS, sizeof(*img->ports));
	if (!img->ports)
		return -ENOMEM;
	/* maps_write_slot's static asserts: image entries are key then value, unpadded */
	err = slot_records(m->fd[SPEE_MAP_EXACT], sizeof(struct spee_rule_key),
			   sizeof(struct spee_verdict), offsetof(struct spee_rule_key, slot), slot,
			   &exact, &img->n_exact);
	img->exact = exact;
	if (!err)
		err = slot_records(m->fd[SPEE_MAP_PREFIX], sizeof(struct spee_prefix_key),
				   sizeof(struct spee_verdict),
				   offsetof(struct spee_prefix_key, slot), slot, &prefix,
				   &img->n_prefix);
	img->prefix = prefix;
	if (!err)
		err = ports_read(m->fd[SPEE_MAP_PORTS], slot, img->ports);
	if (!err)
		return 0;
	diag_add(d, NULL, 0, 0, "cannot read policy slot %u back: %s", slot, strerror(-err));
	maps_image_free(img);
	return err;
}

int maps_read_local_addrs(const struct spee_map_fds *m, uint8_t dir, struct prefix **out,
			  size_t *n, struct diags *d)
{
	struct spee_runtime rt;
	struct maps_image img;
	int err;

	*out = NULL;
	*n = 0;
	err = maps_read_runtime(m, &rt, d);
	if (!err)
		err = maps_read_slot(m, (uint8_t)(rt.active & 1), &img, d);
	if (err)
		return err;
	*out = calloc(img.n_exact ? img.n_exact : 1, sizeof(**out));
	if (!*out) {
		maps_image_free(&img);
		return -ENOMEM;
	}
	for (size_t i = 0; i < img.n_exact; i++) {
		const struct spee_rule_key *k = &img.exact[i].key;
		struct prefix *a = &(*out)[*n];

		if (k->proto != SPEE_PROTO_LOCAL || k->dir != dir)
			continue;
		memset(a, 0, sizeof(*a));
		a->family = k->family == SPEE_FAMILY_V4 ? AF_INET : AF_INET6;
		a->len = a->family == AF_INET ? 32 : 128;
		memcpy(a->addr, k->addr, 16);
		(*n)++;
	}
	maps_image_free(&img);
	return 0;
}

int maps_read_instance(const struct spee_map_fds *m, struct spee_instance *inst, struct diags *d)
{
	return only_element(m, SPEE_MAP_INST, inst, NULL, d);
}

int maps_write_instance(const struct spee_map_fds *m, const struct spee_instance *inst,
			struct diags *d)
{
	return only_element(m, SPEE_MAP_INST, NULL, inst, d);
}
