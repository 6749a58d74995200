// SPDX-License-Identifier: GPL-2.0-only
/*
 * Growing the policy maps of a running instance (grow.h). A pinned map
 * keeps the size it was created with, and the programs hold the maps they
 * were loaded with, so bigger maps mean programs loaded again around them
 * and put in place through the links, which swap programs atomically.
 */
#include "grow.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "attach.h"
#include "instance.h"
#include "loader.h"
#include "maps.h"

/* The two maps that grow, and what their entries are. */
static const struct {
	enum spee_map_id map;
	size_t key_size, value_size;
	uint32_t min;
} growing[] = {
	{SPEE_MAP_EXACT, sizeof(struct spee_rule_key), sizeof(struct spee_verdict),
	 LOADER_EXACT_MIN},
	{SPEE_MAP_PREFIX, sizeof(struct spee_prefix_key), sizeof(struct spee_verdict),
	 LOADER_PREFIX_MIN},
};

#define N_GROWING (sizeof(growing) / sizeof(growing[0]))

static int max_entries_of(int fd, uint32_t *max)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*max = info.max_entries;
	return 0;
}

/* The links of the instance and, for each live one, its program before the switch. */
struct switched_links {
	struct link_state *links;
	int *old_prog; /* fd, or -1: not live, or not switched */
	size_t n;
};

static void links_free(struct switched_links *s)
{
	for (size_t i = 0; i < s->n && s->old_prog; i++)
		if (s->old_prog[i] >= 0)
			close(s->old_prog[i]);
	free(s->old_prog);
	free(s->links);
	memset(s, 0, sizeof(*s));
}

/* Puts the programs the links ran before back; best effort, as it is the way out of a failure. */
static void links_restore(struct switched_links *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->old_prog[i] >= 0)
			attach_update(s->links[i].pin, s->old_prog[i]);
}

/* Step 3: every live link runs l's program for its kind. */
static int links_switch(const char *pin_dir, const struct loader *l, struct switched_links *s,
			struct diags *d)
{
	int err = attach_list(pin_dir, &s->links, &s->n);

	if (err) {
		diag_add(d, NULL, 0, 0, "cannot list the links of %s: %s", pin_dir, strerror(-err));
		return err;
	}
	s->old_prog = malloc((s->n ? s->n : 1) * sizeof(*s->old_prog));
	if (!s->old_prog)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		s->old_prog[i] = -1;
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
		err = attach_update(ls->pin, loader_prog_fd(l, instance_link_prog(ls->kind)));
		if (err) {
			close(old);
			diag_add(d, NULL, 0, 0, "cannot update the program of %s: %s", ls->pin,
				 strerror(-err));
			return err;
		}
		s->old_prog[i] = old;
	}
	return 0;
}

/*
 * Step 4: the new maps pinned at the old maps' paths. Each is pinned beside
 * its path first, then renamed over it, so that the path never goes
 * missing. On failure the old maps are pinned again where they were.
 */
static int pins_replace(const char *pin_dir, const struct spee_map_fds *old,
			const struct spee_map_fds *new, struct diags *d)
{
	char path[N_GROWING][PATH_MAX], tmp[N_GROWING][PATH_MAX + 8];
	size_t renamed = 0, pinned = 0;
	int err = 0;

	for (size_t i = 0; i < N_GROWING; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/maps/%s", pin_dir,
			 spee_map_names[growing[i].map]);
		snprintf(tmp[i], sizeof(tmp[i]), "%s-new", path[i]); /* bpffs refuses dots */
		unlink(tmp[i]); /* left by a process that died here */
	}
	for (; pinned < N_GROWING && !err; pinned++)
		if (bpf_obj_pin(new->fd[growing[pinned].map], tmp[pinned]))
			err = -errno;
	for (; renamed < N_GROWING && !err; renamed++)
		if (rename(tmp[renamed], path[renamed]))
			err = -errno;
	if (!err)
		return 0;
	diag_add(d, NULL, 0, 0, "cannot pin the grown maps under %s/maps: %s", pin_dir,
		 strerror(-err));
	/* renamed counts the attempt that failed: the ones before it are in place */
	for (size_t i = 0; i + 1 < renamed; i++) {
		/* the old map back at its path, the same way */
		if (!bpf_obj_pin(old->fd[growing[i].map], tmp[i]))
			rename(tmp[i], path[i]);
	}
	for (size_t i = 0; i < N_GROWING; i++)
		unlink(tmp[i]);
	return err;
}

int grow_policy_maps(const char *pin_dir, size_t exact_needed, size_t prefix_needed,
		     struct diags *d)
{
	const size_t needed[N_GROWING] = {exact_needed, prefix_needed};
	struct switched_links sw = {};
	struct spee_map_fds old;
	struct loader_sizes sz;
	struct loader l = {};
	uint32_t *size[N_GROWING] = {&sz.exact, &sz.prefix};
	bool loaded = false;
	int err;

	err = loader_open_pinned(&old, pin_dir, d);
	if (err)
		return err;
	loader_sizes_default(&sz);
	for (size_t i = 0; i < N_GROWING && !err; i++) {
		uint32_t was = 0;

		err = max_entries_of(old.fd[growing[i].map], &was);
		if (err)
			diag_add(d, NULL, 0, 0, "cannot inspect map %s: %s",
				 spee_map_names[growing[i].map], strerror(-err));
		*size[i] = loader_room_for(needed[i], growing[i].min);
		if (*size[i] < was)
			*size[i] = was;
		sz.fresh_maps |= 1u << growing[i].map;
	}
	/* Step 1: every other map is the pinned one, so counters and state carry on. */
	if (!err)
		err = loader_load(&l, &sz, pin_dir, d);
	loaded = !err;
	/* Step 2: nothing writes these maps meanwhile: the instance is locked. */
	for (size_t i = 0; i < N_GROWING && !err; i++) {
		err = maps_copy_entries(old.fd[growing[i].map], l.maps.fd[growing[i].map],
					growing[i].key_size, growing[i].value_size);
		if (err)
			diag_add(d, NULL, 0, 0, "cannot copy %s into its grown map: %s",
				 spee_map_names[growing[i].map], strerror(-err));
	}
	if (!err)
		err = links_switch(pin_dir, &l, &sw, d);
	if (!err)
		err = pins_replace(pin_dir, &old, &l.maps, d);
	if (err && sw.old_prog)
		links_restore(&sw);
	links_free(&sw);
	/* The links hold the programs they run and the programs their maps. */
	if (loaded)
		loader_close(&l);
	loader_close_pinned(&old);
	return err;
}
