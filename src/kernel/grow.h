/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * grow.h - gives a running instance new maps without a gap in enforcement:
 * bigger policy maps when a policy outgrows the spee_exact or spee_prefix
 * it was created with (a pinned map keeps its size), or maps of this
 * build's layout where another build pinned others (or none). The
 * instance's handle takes the new maps (instance.h). Used by apply.c.
 */
#ifndef SPEE_GROW_H
#define SPEE_GROW_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "instance.h"
#include "loader.h"

/*
 * Replaces the maps of mask (bits 1 << SPEE_MAP_*) of inst (locked for
 * writing), sized by sz and never smaller than they were:
 *   1. the programs are loaded again around the new maps, every other map
 *      being the instance's (shared with the programs running now);
 *   2. each new map gets the old one's entries where the two keep the same
 *      entries (only flags or size differ); a map of another layout, or one
 *      that is not pinned at all, starts empty when it holds state that
 *      rebuilds itself (SPEE_MAPF_REBUILDS), and is refused (-EPROTO, before
 *      anything changes) when it holds the policy or the instance record;
 *   3. every live link is switched to the new programs (atomically each;
 *      until all are, old and new programs give the same verdicts);
 *   4. the new maps are pinned in place of the old ones, and become the
 *      handle's.
 * A failure before step 4 puts the old programs back and leaves the
 * instance as it was. Returns 0 or a negative errno, with the reason in d.
 */
int grow_replace_maps(struct instance *inst, const struct loader_sizes *sz, uint32_t mask,
		      struct diags *d);

/*
 * Replaces spee_exact and spee_prefix with maps that hold exact_needed and
 * prefix_needed entries with room to spare (grow_replace_maps).
 */
int grow_policy_maps(struct instance *inst, size_t exact_needed, size_t prefix_needed,
		     struct diags *d);

/*
 * Replaces every map st says is too small (its *_needed above its size):
 * the policy maps and gateway mode's host table, names and counters.
 */
int grow_for(struct instance *inst, const struct maps_write_stats *st, struct diags *d);

#endif
