/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * grow.h - gives a running instance bigger policy maps without a gap in
 * enforcement, when a policy outgrows the spee_exact or spee_prefix it was
 * created with (a pinned map keeps its size). Used by instance.c.
 */
#ifndef SPEE_GROW_H
#define SPEE_GROW_H

#include <stddef.h>

#include "diag.h"

/*
 * Replaces spee_exact and spee_prefix of the instance at pin_dir (locked by
 * the caller) with maps that hold exact_needed and prefix_needed entries
 * with room to spare, never smaller than they were:
 *   1. the programs are loaded again around two new maps, every other map
 *      being the pinned one (counters, flows, rules, events are shared);
 *   2. both slots of the old maps are copied into the new ones, so the
 *      active policy judges the same in either;
 *   3. every live link is switched to the new programs (atomically each;
 *      until all are, old and new programs give the same verdicts);
 *   4. the new maps are pinned in place of the old ones.
 * A failure before step 4 puts the old programs back and leaves the
 * instance as it was. Returns 0 or a negative errno, with the reason in d.
 */
int grow_policy_maps(const char *pin_dir, size_t exact_needed, size_t prefix_needed,
		     struct diags *d);

#endif
