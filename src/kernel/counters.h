/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * counters.h - one consistent-enough snapshot of an instance's counters and
 * state, read from its maps: per-CPU counters summed over the possible CPUs,
 * the rule id behind each counter slot, the runtime switch and the instance
 * record. stats.c renders it; status and the metrics endpoint read it too.
 */
#ifndef SPEE_COUNTERS_H
#define SPEE_COUNTERS_H

#include <stdint.h>

#include "spee_abi.h"

/* The maps a snapshot is read from (fds owned by the caller). */
struct counter_maps {
	int runtime; /* spee_rt */
	int instance; /* spee_inst */
	int rule_meta; /* spee_rules */
	int rule_ctr; /* spee_rule_ctr */
	int reason_ctr; /* spee_reason_ctr */
	int ev_stats; /* spee_ev_stats */
};

struct counter_snapshot {
	uint64_t taken_ns; /* CLOCK_MONOTONIC */
	struct spee_runtime rt;
	struct spee_instance inst;
	struct spee_rule_meta meta[SPEE_MAX_RULES];
	struct spee_counter rules[SPEE_MAX_RULES][SPEE_DIR_MAX];
	struct spee_counter reasons[SPEE_REASON_MAX][SPEE_DIR_MAX];
	/* non-IP frames by ethertype class, [passed] 1 when let through (enforce mode) */
	struct spee_counter l2[SPEE_L2_MAX][2][SPEE_DIR_MAX];
	uint64_t events[SPEE_EV_STAT_MAX]; /* drop events sent, held back, lost */
};

struct spee_map_fds;

/* The counter maps among an instance's open maps (maps.h). */
void counter_maps_from(const struct spee_map_fds *m, struct counter_maps *c);

/* Fills s (allocated by the caller; it is large). Returns 0 or a negative errno. */
int counters_read(const struct counter_maps *m, struct counter_snapshot *s);

/* The active slot's settings. */
static inline const struct spee_slot_cfg *snapshot_cfg(const struct counter_snapshot *s)
{
	return &s->rt.slot[s->rt.active & 1];
}

#endif
