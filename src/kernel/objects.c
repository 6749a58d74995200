// SPDX-License-Identifier: GPL-2.0-only
/* objects.c - the tables of objects.h, generated from include/spee_objects.h. */
#include "objects.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The instance record keeps one program tag per program of the list. */
_Static_assert(SPEE_PROG_COUNT <= SPEE_PROG_KINDS,
	       "more programs than spee_instance.prog_tag holds: raise SPEE_PROG_KINDS");
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

#define PROG_INFO(id, name, where, pin) [SPEE_PROG_##id] = { #name, where, pin },
const struct spee_prog_info spee_progs[SPEE_PROG_COUNT] = { SPEE_PROGS(PROG_INFO) };
#undef PROG_INFO

void spee_prog_kind(enum spee_prog_id prog, char *buf, size_t len)
{
	const char *pin = spee_progs[prog].pin;
	size_t n = strlen(pin);

	if (spee_progs[prog].where == SPEE_ATTACH_IFACE && n && pin[n - 1] == '-')
		n--;
	snprintf(buf, len, "%.*s", (int)n, pin);
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
