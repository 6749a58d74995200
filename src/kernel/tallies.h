/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tallies.h - what the kernel noted for `speebpf suggest` (spee_abi.h:
 * spee_seen, spee_would), read from an instance's maps with the rule ids
 * and the instance record that give it meaning. render/suggest.c turns it
 * into a config fragment.
 */
#ifndef SPEE_TALLIES_H
#define SPEE_TALLIES_H

#include <stddef.h>
#include <stdint.h>

#include "spee_abi.h"
#include "instance.h"

struct tally_seen {
	struct spee_seen_key key;
	struct spee_tally t;
};

struct tally_would {
	struct spee_would_key key;
	struct spee_tally t;
};

struct tally_snapshot {
	uint64_t mono_ns, real_ns; /* CLOCK_MONOTONIC and CLOCK_REALTIME when read */
	struct spee_slot_cfg cfg; /* the active slot's settings (mode) */
	struct spee_instance rec;
	struct spee_rule_meta meta[SPEE_MAX_RULES];
	struct tally_seen *seen;
	size_t n_seen;
	struct tally_would *would;
	size_t n_would;
};

/*
 * Fills s (the caller's, zeroed or freed before) from the instance's maps.
 * Returns 0, or a negative errno (said in d).
 */
int tallies_read(struct instance *inst, struct tally_snapshot *s, struct diags *d);

/* Frees the entries s holds (not s). */
void tallies_free(struct tally_snapshot *s);

/* CLOCK_REALTIME seconds of a bpf_ktime_get_ns() time of the snapshot. */
int64_t tallies_real_time(const struct tally_snapshot *s, uint64_t mono_ns);

#endif
