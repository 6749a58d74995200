// SPDX-License-Identifier: GPL-2.0-only
/* objects.c - the tables of objects.h, generated from include/spee_objects.h. */
#include "objects.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The instance record keeps one program tag per program of the list. */
_Static_assert(SPEE_PROG_COUNT <= SPEE_PROG_KINDS + SPEE_PROG_KINDS_MORE,
	       "more programs than spee_instance has tags for: raise SPEE_PROG_KINDS_MORE (the "
	       "record grows at its end, and an older one is carried over: SPEE_MAPF_EXTENDS)");
/* Masks of maps are 32-bit. */
_Static_assert(SPEE_MAP_COUNT <= 32, "map masks are 32 bits");

#define MAP_NAME(id, name, flags) [SPEE_MAP_##id] = #name,
const char *const spee_map_names[SPEE_MAP_COUNT] = { SPEE_MAPS(MAP_NAME) };
#undef MAP_NAME

#define MAP_FLAGS(id, name, flags) [SPEE_MAP_##id] = (flags),
const unsigned spee_map_flags[SPEE_MAP_COUNT] = { SPEE_MAPS(MAP_FLAGS) };
#undef MAP_FLAGS

#define SCRATCH_NAME(name) #name,
const char *const spee_scratch_map_names[] = { SPEE_SCRATCH_MAPS(SCRATCH_NAME) };
#undef SCRATCH_NAME
const size_t spee_scratch_map_count =
	sizeof(spee_scratch_map_names) / sizeof(spee_scratch_map_names[0]);

#define PROG_INFO(id, name, where, frames, pin) [SPEE_PROG_##id] = { #name, where, frames, pin },
const struct spee_prog_info spee_progs[SPEE_PROG_COUNT] = { SPEE_PROGS(PROG_INFO) };
#undef PROG_INFO

void spee_prog_kind(enum spee_prog_id prog, char *buf, size_t len)
{
	const char *pin = spee_progs[prog].pin;
	size_t n;

	if (!pin) { /* a tc filter: named by its program */
		snprintf(buf, len, "%s", spee_progs[prog].name);
		return;
	}
	n = strlen(pin);
	if (spee_where_per_iface(spee_progs[prog].where) && n && pin[n - 1] == '-')
		n--;
	snprintf(buf, len, "%.*s", (int)n, pin);
}

int spee_prog_for(enum spee_attach_where where, enum spee_frames frames)
{
	for (int p = 0; p < SPEE_PROG_COUNT; p++)
		if (spee_progs[p].where == where && spee_progs[p].frames == frames)
			return p;
	return -1;
}

bool spee_prog_names_hook(enum spee_prog_id prog)
{
	return spee_progs[prog].where == SPEE_ATTACH_CGROUP ||
	       (spee_where_per_iface(spee_progs[prog].where) &&
		spee_progs[prog].frames == SPEE_FRAMES_ETHERNET);
}

uint8_t *spee_instance_prog_tag(struct spee_instance *rec, enum spee_prog_id prog)
{
	if (prog < SPEE_PROG_KINDS)
		return rec->prog_tag[prog];
	return rec->prog_tag_more[prog - SPEE_PROG_KINDS];
}

void spee_map_fds_init(struct spee_map_fds *m)
{
	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		m->fd[i] = -1;
}

void spee_map_fds_close(struct spee_map_fds *m)
{
	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		if (m->fd[i] >= 0)
			close(m->fd[i]);
	spee_map_fds_init(m);
}
