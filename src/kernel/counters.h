/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * counters.h - one consistent-enough snapshot of an instance's counters and
 * state, read from its maps: per-CPU counters summed over the possible CPUs,
 * the rule id behind each counter slot, the runtime switch and the instance
 * record. render/stats.c renders it, for the stats command and the agent's
 * /metrics.
 */
#ifndef SPEE_COUNTERS_H
#define SPEE_COUNTERS_H

#include <stdint.h>

#include "spee_abi.h"
#include "instance.h"

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

/*
 * Fills s (allocated by the caller; it is large) from the instance's maps.
 * Safe from another thread than inst's owner (the agent's /metrics).
 * Returns 0 or a negative errno.
 */
int counters_read(struct instance *inst, struct counter_snapshot *s);

/* The active slot's settings. */
static inline const struct spee_slot_cfg *snapshot_cfg(const struct counter_snapshot *s)
{
	return &s->rt.slot[s->rt.active & 1];
}

#endif
