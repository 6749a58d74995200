/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * objects.h - user space's tables of the BPF object's maps and programs,
 * generated from the lists of include/spee_objects.h: names, flags, where a
 * program is attached and the pin name of its links; and the open map fds
 * of one object or instance. What the skeleton itself says (map shapes,
 * attach types) is loader.h's.
 */
#ifndef SPEE_KERNEL_OBJECTS_H
#define SPEE_KERNEL_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spee_abi.h"
#include "spee_objects.h"

/* The maps' names in the object and under PIN_DIR/maps/: "spee_rt", ... */
extern const char *const spee_map_names[SPEE_MAP_COUNT];

/* SPEE_MAPF_* of each map. */
extern const unsigned spee_map_flags[SPEE_MAP_COUNT];

/* Bits 1 << SPEE_MAP_* of every map of the list. */
#define SPEE_MAP_ALL ((1u << SPEE_MAP_COUNT) - 1)

/* The object's maps that are never pinned (SPEE_SCRATCH_MAPS). */
extern const char *const spee_scratch_map_names[];
extern const size_t spee_scratch_map_count;

struct spee_prog_info {
	const char *name; /* in the object and the skeleton */
	enum spee_attach_where where;
	enum spee_frames frames;
	/* the link's pin name, or its prefix for SPEE_ATTACH_XDP; NULL for SPEE_ATTACH_TC */
	const char *pin;
};

extern const struct spee_prog_info spee_progs[SPEE_PROG_COUNT];

/*
 * What status and the JSON call a program's links: "xdp" for an XDP
 * program (its pin prefix without the dash), the pin name for the cgroup
 * ones, the program's name for a tc filter. Writes at most len bytes.
 */
void spee_prog_kind(enum spee_prog_id prog, char *buf, size_t len);

/* The program of a hook for an interface whose frames start so (an enum spee_prog_id), or -1. */
int spee_prog_for(enum spee_attach_where where, enum spee_frames frames);

/* True for the hooks with one link per interface (host mode's XDP, the gateway's). */
static inline bool spee_where_per_iface(enum spee_attach_where where)
{
	return where == SPEE_ATTACH_XDP || where == SPEE_ATTACH_GW_XDP;
}

/* True for the programs of gateway mode (--gateway); the others are host mode's. */
static inline bool spee_where_gateway(enum spee_attach_where where)
{
	return where == SPEE_ATTACH_GW_XDP || where == SPEE_ATTACH_GW_TC;
}

/*
 * True for the program that names its hook, the one whose links
 * pindir_parse_link() reports: a cgroup program, or an XDP program for
 * Ethernet frames (its variant for IP frames shares the pin).
 */
bool spee_prog_names_hook(enum spee_prog_id prog);

/* The record's tag of prog (spee_abi.h: prog_tag, then prog_tag_more). */
uint8_t *spee_instance_prog_tag(struct spee_instance *rec, enum spee_prog_id prog);

/* Open map fds, indexed by enum spee_map_id; -1 when not open. */
struct spee_map_fds {
	int fd[SPEE_MAP_COUNT];
};

/* Sets every fd to -1. */
void spee_map_fds_init(struct spee_map_fds *m);

/* Closes the open fds and sets every fd to -1. */
void spee_map_fds_close(struct spee_map_fds *m);

#endif
