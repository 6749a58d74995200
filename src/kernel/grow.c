// SPDX-License-Identifier: GPL-2.0-only
/*
 * New maps for a running instance (grow.h). A pinned map keeps the size
 * and layout it was created with, and the programs hold the maps they were
 * loaded with, so new maps mean programs loaded again around them and put
 * in place through the links, which swap programs atomically.
 */
#include "grow.h"

#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "links.h"
#include "maps.h"
#include "pindir.h"

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

/* An array's entries into one of a longer value (an older build's record), zero-extended. */
static int copy_extended(int old_fd, const struct bpf_map_info *old, int new_fd)
{
	struct bpf_map_info now;
	uint8_t *buf;
	int err = loader_map_info(new_fd, &now);

	if (err)
		return err;
	buf = malloc(now.value_size);
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

/* Step 2 for map i: the old entries, when the new map keeps the same ones (or longer ones). */
static int carry_over(enum spee_map_id i, int old_fd, const struct bpf_map_info *old_info,
		      int new_fd, struct diags *d)
{
	int err;

	if (old_fd >= 0 && loader_extends(i, old_info))
		err = copy_extended(old_fd, old_info, new_fd);
	else if (old_fd < 0 || !loader_same_entries(i, old_info) ||
		 old_info->type == BPF_MAP_TYPE_RINGBUF)
		return 0; /* starts empty; the caller checked that it may */
	else
		err = maps_copy_entries(old_fd, new_fd, old_info->key_size, value_bytes(old_info));
	if (err)
		diag_add(d, NULL, 0, 0, "cannot copy %s into its new map: %s", spee_map_names[i],
			 strerror(-err));
	return err;
}

/*
 * Step 4: the new maps of mask pinned at the maps' paths. Each is pinned
 * beside its path first, then renamed over it, so that the path never goes
 * missing. On failure the old maps are pinned again where they were.
 */
static int pins_replace(const char *pin_dir, uint32_t mask, const struct spee_map_fds *old,
			const struct spee_map_fds *new, struct diags *d)
{
	char path[SPEE_MAP_COUNT][PATH_MAX], tmp[SPEE_MAP_COUNT][PATH_MAX];
	int order[SPEE_MAP_COUNT], n = 0, pinned = 0, renamed = 0, err = 0;

	for (int i = 0; i < SPEE_MAP_COUNT && !err; i++) {
		if (!(mask & (1u << i)))
			continue;
		order[n] = i;
		err = pindir_map(path[n], sizeof(path[n]), pin_dir, (enum spee_map_id)i);
		if (!err)
			err = pindir_staging(tmp[n], sizeof(tmp[n]), path[n]);
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
		/* the old map back at its path, the same way (a map that was missing stays so) */
		if (old->fd[order[k]] < 0)
			unlink(path[k]);
		else if (!bpf_obj_pin(old->fd[order[k]], tmp[k]))
			rename(tmp[k], path[k]);
	}
	for (int k = 0; k < n; k++)
		unlink(tmp[k]);
	return err;
}

/* Step 0: whether each map of mask may be replaced, and the sizes it needs. */
static int check_replaceable(const struct instance *inst, uint32_t mask, struct loader_sizes *sz,
			     struct bpf_map_info *info, struct diags *d)
{
	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		bool keeps;

		if (!(mask & (1u << i)))
			continue;
		memset(&info[i], 0, sizeof(info[i]));
		if (inst->maps.fd[i] >= 0 && loader_map_info(inst->maps.fd[i], &info[i])) {
			diag_add(d, NULL, 0, 0, "cannot inspect pinned map %s", spee_map_names[i]);
			return -EIO;
		}
		keeps = inst->maps.fd[i] >= 0 && (loader_same_entries((enum spee_map_id)i, &info[i]) ||
						  loader_extends((enum spee_map_id)i, &info[i]));
		if (!keeps && !(spee_map_flags[i] & SPEE_MAPF_REBUILDS)) {
			if (inst->maps.fd[i] < 0)
				diag_add(d, NULL, 0, 0,
					 "map %s is not pinned at %s: detach the instance and apply "
					 "again",
					 spee_map_names[i], inst->pin_dir);
			else
				diag_add(d, NULL, 0, 0,
					 "pinned map %s keeps its entries otherwise than this build "
					 "(key %u, value %u bytes): detach the instance and apply again",
					 spee_map_names[i], info[i].key_size, info[i].value_size);
			return -EPROTO;
		}
		if ((spee_map_flags[i] & SPEE_MAPF_SIZED) && sz->max_entries[i] < info[i].max_entries)
			sz->max_entries[i] = info[i].max_entries; /* never smaller */
	}
	return 0;
}

/* The interface programs the instance's links run (all of them when the links cannot be read). */
static unsigned frames_of_links(struct instance *inst)
{
	struct links_assessment a;
	unsigned frames;

	if (links_assess(inst, NULL, &a))
		return LOADER_FRAMES_ALL;
	frames = links_frames_needed(NULL, &a);
	links_assessment_free(&a);
	return frames;
}

int grow_replace_maps(struct instance *inst, const struct loader_sizes *want, uint32_t mask,
		      struct diags *d)
{
	struct bpf_map_info info[SPEE_MAP_COUNT];
	struct links_switched sw = {};
	struct loader_sizes sz = *want;
	struct spee_map_fds reuse = inst->maps;
	struct loader l = {};
	bool loaded = false;
	int err;

	err = check_replaceable(inst, mask, &sz, info, d);
	/* Step 1: every other map is the pinned one, so counters and state carry on. */
	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		if (mask & (1u << i))
			reuse.fd[i] = -1;
	if (!err)
		err = loader_load_frames(&l, &sz, &reuse, loader_progs_of(&inst->rec),
					 frames_of_links(inst), d);
	loaded = !err;
	/* Step 2: nothing writes the policy maps meanwhile: the instance is locked. */
	for (int i = 0; i < SPEE_MAP_COUNT && !err; i++)
		if (mask & (1u << i))
			err = carry_over((enum spee_map_id)i, inst->maps.fd[i], &info[i],
					 l.maps.fd[i], d);
	if (!err)
		err = links_switch(inst, &l, &sw, d);
	if (!err)
		err = pins_replace(inst->pin_dir, mask, &inst->maps, &l.maps, d);
	if (err && sw.old_prog)
		links_restore(&sw);
	links_switched_free(&sw);
	if (!err)
		err = instance_take_maps(inst, &l.maps, mask, d);
	/* The links hold the programs they run and the programs their maps. */
	if (loaded)
		loader_close(&l);
	return err;
}

int grow_policy_maps(struct instance *inst, size_t exact_needed, size_t prefix_needed,
		     struct diags *d)
{
	struct loader_sizes sz;

	loader_sizes_default(&sz);
	sz.max_entries[SPEE_MAP_EXACT] = loader_room_for(exact_needed, LOADER_EXACT_MIN);
	sz.max_entries[SPEE_MAP_PREFIX] = loader_room_for(prefix_needed, LOADER_PREFIX_MIN);
	return grow_replace_maps(inst, &sz, (1u << SPEE_MAP_EXACT) | (1u << SPEE_MAP_PREFIX), d);
}

int grow_for(struct instance *inst, const struct maps_write_stats *st, struct diags *d)
{
	static const struct {
		enum spee_map_id map;
		size_t offset; /* of the need in maps_write_stats */
		uint32_t min;
	} grows[] = {
		{ SPEE_MAP_EXACT, offsetof(struct maps_write_stats, exact_needed), LOADER_EXACT_MIN },
		{ SPEE_MAP_PREFIX, offsetof(struct maps_write_stats, prefix_needed),
		  LOADER_PREFIX_MIN },
		{ SPEE_MAP_GW_HOSTS, offsetof(struct maps_write_stats, gw_hosts_needed),
		  LOADER_GW_HOSTS_MIN },
		{ SPEE_MAP_GW_CTR, offsetof(struct maps_write_stats, gw_ctr_needed),
		  LOADER_GW_CTR_MIN },
		{ SPEE_MAP_GW_NAMES, offsetof(struct maps_write_stats, gw_names_needed),
		  LOADER_GW_NAMES_MIN },
	};
	struct loader_sizes sz;
	uint32_t mask = 0;

	loader_sizes_default(&sz);
	for (size_t i = 0; i < sizeof(grows) / sizeof(grows[0]); i++) {
		size_t need;
		struct bpf_map_info info;

		memcpy(&need, (const char *)st + grows[i].offset, sizeof(need));
		if (loader_map_info(inst->maps.fd[grows[i].map], &info) || need <= info.max_entries)
			continue;
		sz.max_entries[grows[i].map] = loader_room_for(need, grows[i].min);
		mask |= 1u << grows[i].map;
	}
	/* spee_exact and spee_prefix always, as grow_policy_maps: the refusal named one of them */
	if (!mask) {
		sz.max_entries[SPEE_MAP_EXACT] = loader_room_for(st->exact_needed, LOADER_EXACT_MIN);
		sz.max_entries[SPEE_MAP_PREFIX] =
			loader_room_for(st->prefix_needed, LOADER_PREFIX_MIN);
		mask = (1u << SPEE_MAP_EXACT) | (1u << SPEE_MAP_PREFIX);
	}
	return grow_replace_maps(inst, &sz, mask, d);
}
