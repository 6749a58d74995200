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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spee_abi.h"
#include "instance.h"

/* Gateway mode: an inventory host's index (spee_gw_names' key) and name. */
struct counter_gw_host {
	uint16_t index;
	char name[SPEE_GW_NAME_LEN];
};

/* One counter of spee_gw_ctr, summed over the CPUs. */
struct counter_gw_entry {
	struct spee_gw_ctr_key key;
	struct spee_counter c;
};

/*
 * Gateway mode's counters per host (spee_abi.h). Empty in host mode: an
 * instance is in gateway mode when spee_gw_names has entries.
 */
struct counter_gw {
	size_t n_hosts;
	struct counter_gw_host *hosts; /* by index */
	size_t n;
	struct counter_gw_entry *ctr; /* by key: host, rule, dir, reason (counter_gw_find) */
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
	struct counter_gw gw;
};

/*
 * Fills s (allocated by the caller; it is large) from the instance's maps.
 * Safe from another thread than inst's owner (the agent's /metrics). s's
 * earlier contents are not looked at: a snapshot read before is released
 * (counters_release) before it is read into again. Returns 0 or a negative
 * errno (s then holds nothing to release).
 */
int counters_read(struct instance *inst, struct counter_snapshot *s);

/* Frees what counters_read allocated in s (the gateway's counters); s itself stays. */
void counters_release(struct counter_snapshot *s);

/* True for an instance in gateway mode (its snapshot names hosts). */
static inline bool snapshot_is_gateway(const struct counter_snapshot *s)
{
	return s->gw.n_hosts > 0;
}

/* The counter of key in s, or NULL. */
const struct counter_gw_entry *counter_gw_find(const struct counter_snapshot *s,
					       const struct spee_gw_ctr_key *key);

/* The name of host index, or NULL when spee_gw_names has none. */
const char *counter_gw_host_name(const struct counter_snapshot *s, uint16_t index);

/* The active slot's settings. */
static inline const struct spee_slot_cfg *snapshot_cfg(const struct counter_snapshot *s)
{
	return &s->rt.slot[s->rt.active & 1];
}

#endif
