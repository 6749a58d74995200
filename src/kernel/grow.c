// SPDX-License-Identifier: GPL-2.0-only
/*
 * New maps for a running instance (grow.h). A pinned map keeps the size
 * and layout it was created with, and the programs hold the maps they were
 * loaded with, so new maps mean programs loaded again around them and put
 * in place through the links, which swap programs atomically.
 */
#include "grow.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "instance.h"
#include "loader.h"
#include "maps.h"

/* Maps whose state rebuilds itself: another build's layout of them may start empty. */
#define MAY_START_EMPTY                                                                          \
	((1u << SPEE_MAP_FLOWS) | (1u << SPEE_MAP_FRAGS) | (1u << SPEE_MAP_RULE_CTR) |            \
	 (1u << SPEE_MAP_REASON_CTR) | (1u << SPEE_MAP_EVENTS) | (1u << SPEE_MAP_EV_BUCKET) |     \
	 (1u << SPEE_MAP_EV_STATS))

/* An array's entries into a map of the same keys and a longer value, zero-extended. */
static int copy_extended(int old_fd, const struct bpf_map_info *old, int new_fd)
{
	struct bpf_map_info now;
	uint8_t *buf;
	int err = loader_map_info(new_fd, &now);

	if (err)
		return err;
	buf = calloc(1, now.value_size);
	if (!buf)
		return -ENOMEM;
	for (__u32 k = 0; k < old->max_entries && k < now.max_entries && !err; k++) {
		memset(buf, 0, now.value_size);
		if (bpf_map_lookup_elem(old_fd, &k, buf) || bpf_map_update_elem(new_fd, &k, buf, 0))
			err = -errno;
	}
	free(buf);
	return err;
}

/* The pinned maps to be replaced, opened whatever their layout (fd -1 for the others). */
static int open_old(const char *pin_dir, uint32_t mask, struct spee_map_fds *old,
		    struct bpf_map_info *info, struct diags *d)
{
	char path[PATH_MAX];

	spee_map_fds_init(old);
	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		if (!(mask & (1u << i)))
			continue;
		snprintf(path, sizeof(path), "%s/maps/%s", pin_dir, spee_map_names[i]);
		old->fd[i] = bpf_obj_get(path);
		if (old->fd[i] < 0 || loader_map_info(old->fd[i], &info[i])) {
			int err = -errno;

			diag_add(d, NULL, 0, 0, "cannot open pinned map %s: %s", path,
				 strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Entries of one map, as many bytes a value as the syscalls move (per-CPU: one a CPU). */
static size_t value_bytes(const struct bpf_map_info *info)
{
	bool per_cpu = info->type == BPF_MAP_TYPE_PERCPU_ARRAY ||
		       info->type == BPF_MAP_TYPE_PERCPU_HASH ||
		       info->type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	int cpus = per_cpu ? libbpf_num_possible_cpus() : 1;

	return per_cpu ? ((info->value_size + 7u) & ~7u) * (size_t)(cpus > 0 ? cpus : 1)
		       : info->value_size;
}

/* Step 2 for map i: the old entries, when the new map keeps the same ones. */
static int carry_over(enum spee_map_id i, int old_fd, const struct bpf_map_info *old_info,
		      int new_fd, struct diags *d)
{
	int err;

	if (old_fd < 0)
		return 0; /* a map this build adds: nothing to carry */
	if (loader_extends(i, old_info))
		err = copy_extended(old_fd, old_info, new_fd);
	else if (!loader_same_entries(i, old_info) || old_info->type == BPF_MAP_TYPE_RINGBUF)
		return 0; /* starts empty; open_old's caller checked that it may */
	else
		err = maps_copy_entries(old_fd, new_fd, old_info->key_size, value_bytes(old_info));
	if (err)
		diag_add(d, NULL, 0, 0, "cannot copy %s into its new map: %s", spee_map_names[i],
			 strerror(-err));
	return err;
}

/*
 * The links of the instance and, for each live one, its program before the
 * switch (and an interface's tc egress filter's).
 */
struct switched_links {
	struct link_state *links;
	int *old_prog; /* fd, or -1: not live, or not switched */
	int *old_tc; /* fd, or -1 */
	size_t n;
};

static void links_free(struct switched_links *s)
{
	for (size_t i = 0; i < s->n && s->old_prog; i++) {
		if (s->old_prog[i] >= 0)
			close(s->old_prog[i]);
		if (s->old_tc[i] >= 0)
			close(s->old_tc[i]);
	}
	free(s->old_prog);
	free(s->old_tc);
	free(s->links);
	memset(s, 0, sizeof(*s));
}

/* Puts the programs the links ran before back; best effort, as it is the way out of a failure. */
static void links_restore(struct switched_links *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->old_prog[i] >= 0)
			attach_update(s->links[i].pin, s->old_prog[i]);
		if (s->old_tc[i] >= 0)
			ifaces_tc_attach(s->links[i].ifindex, s->old_tc[i]);
	}
}

/* Step 3: every live link runs l's program for its kind. */
static int links_switch(const char *pin_dir, const struct loader *l, struct switched_links *s,
			struct diags *d)
{
	struct iface_progs iprogs;
	int err = attach_list(pin_dir, &s->links, &s->n);

	if (err) {
		diag_add(d, NULL, 0, 0, "cannot list the links of %s: %s", pin_dir, strerror(-err));
		return err;
	}
	s->old_prog = malloc((s->n ? s->n : 1) * sizeof(*s->old_prog));
	s->old_tc = malloc((s->n ? s->n : 1) * sizeof(*s->old_tc));
	if (!s->old_prog || !s->old_tc)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		s->old_prog[i] = s->old_tc[i] = -1;
	instance_iface_progs(l, &iprogs);
	for (size_t i = 0; i < s->n; i++) {
		const struct link_state *ls = &s->links[i];
		int old;

		if (!ls->alive)
			continue; /* a detached link is for the next reconcile to attach again */
		old = bpf_prog_get_fd_by_id(ls->prog_id);
		if (old < 0) {
			err = -errno;
			diag_add(d, NULL, 0, 0, "cannot open the program of %s: %s", ls->pin,
				 strerror(-err));
			return err;
		}
		/* noted first: an interface's update may fail between its two programs */
		s->old_prog[i] = old;
		if (ls->kind == LINK_XDP && ls->tc_prog_id)
			s->old_tc[i] = bpf_prog_get_fd_by_id(ls->tc_prog_id);
		if (ls->kind == LINK_XDP)
			err = attach_iface_update(&iprogs, ls);
		else
			err = attach_update(ls->pin,
					    loader_prog_fd(l, instance_link_prog(ls->kind)));
		if (err) {
			diag_add(d, NULL, 0, 0, "cannot update the program of %s: %s", ls->pin,
				 strerror(-err));
			return err;
		}
	}
	return 0;
}

/*
 * Step 4: the new maps of mask pinned at the old maps' paths. Each is
 * pinned beside its path first, then renamed over it, so that the path
 * never goes missing. On failure the old maps are pinned again where they
 * were.
 */
static int pins_replace(const char *pin_dir, uint32_t mask, const struct spee_map_fds *old,
			const struct spee_map_fds *new, struct diags *d)
{
	char path[SPEE_MAP_COUNT][PATH_MAX], tmp[SPEE_MAP_COUNT][PATH_MAX + 8];
	int order[SPEE_MAP_COUNT], n = 0, pinned = 0, renamed = 0, err = 0;

	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		if (!(mask & (1u << i)))
			continue;
		order[n] = i;
		snprintf(path[n], sizeof(path[n]), "%s/maps/%s", pin_dir, spee_map_names[i]);
		/* bpffs refuses dots in names */
		snprintf(tmp[n], sizeof(tmp[n]), "%s-new", path[n]);
		unlink(tmp[n]); /* left by a process that died here */
		n++;
	}
	for (; pinned < n && !err; pinned++)
		if (bpf_obj_pin(new->fd[order[pinned]], tmp[pinned]))
			err = -errno;
	for (; renamed < n && !err; renamed++)
		if (rename(tmp[renamed], path[renamed]))
			err = -errno;
	if (!err)
		return 0;
	diag_add(d, NULL, 0, 0, "cannot pin the new maps under %s/maps: %s", pin_dir,
		 strerror(-err));
	/* renamed counts the attempt that failed: the ones before it are in place */
	for (int k = 0; k + 1 < renamed; k++) {
		/* the old map back at its path, the same way */
		if (!bpf_obj_pin(old->fd[order[k]], tmp[k]))
			rename(tmp[k], path[k]);
	}
	for (int k = 0; k < n; k++)
		unlink(tmp[k]);
	return err;
}

int grow_replace_maps(const char *pin_dir, const struct loader_sizes *want, struct diags *d)
{
	struct bpf_map_info info[SPEE_MAP_COUNT];
	uint32_t *resizable[SPEE_MAP_COUNT] = {0};
	struct switched_links sw = {};
	uint32_t mask = want->fresh_maps;
	struct loader_sizes sz = *want;
	struct spee_map_fds old;
	struct loader l = {};
	bool loaded = false;
	int err;

	resizable[SPEE_MAP_EXACT] = &sz.exact;
	resizable[SPEE_MAP_PREFIX] = &sz.prefix;
	resizable[SPEE_MAP_FLOWS] = &sz.flows;
	resizable[SPEE_MAP_FRAGS] = &sz.frags;
	err = open_old(pin_dir, mask, &old, info, d);
	for (int i = 0; i < SPEE_MAP_COUNT && !err; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (!loader_same_entries(i, &info[i]) && !(MAY_START_EMPTY & (1u << i)) &&
		    !loader_extends(i, &info[i])) {
			diag_add(d, NULL, 0, 0,
				 "pinned map %s keeps its entries otherwise than this build (key %u, "
				 "value %u bytes): detach the instance and apply again",
				 spee_map_names[i], info[i].key_size, info[i].value_size);
			err = -EPROTO;
		}
		if (resizable[i] && *resizable[i] < info[i].max_entries)
			*resizable[i] = info[i].max_entries; /* never smaller */
	}
	/* Step 1: every other map is the pinned one, so counters and state carry on. */
	if (!err)
		err = loader_load(&l, &sz, pin_dir, d);
	loaded = !err;
	/* Step 2: nothing writes the policy maps meanwhile: the instance is locked. */
	for (int i = 0; i < SPEE_MAP_COUNT && !err; i++)
		if (mask & (1u << i))
			err = carry_over(i, old.fd[i], &info[i], l.maps.fd[i], d);
	if (!err)
		err = links_switch(pin_dir, &l, &sw, d);
	if (!err)
		err = pins_replace(pin_dir, mask, &old, &l.maps, d);
	if (err && sw.old_prog)
		links_restore(&sw);
	links_free(&sw);
	/* The links hold the programs they run and the programs their maps. */
	if (loaded)
		loader_close(&l);
	loader_close_pinned(&old);
	return err;
}

int grow_policy_maps(const char *pin_dir, size_t exact_needed, size_t prefix_needed,
		     struct diags *d)
{
	struct loader_sizes sz;

	loader_sizes_default(&sz);
	sz.exact = loader_room_for(exact_needed, LOADER_EXACT_MIN);
	sz.prefix = loader_room_for(prefix_needed, LOADER_PREFIX_MIN);
	sz.fresh_maps = (1u << SPEE_MAP_EXACT) | (1u << SPEE_MAP_PREFIX);
	return grow_replace_maps(pin_dir, &sz, d);
}
