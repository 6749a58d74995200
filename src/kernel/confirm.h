/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * confirm.h - apply --confirm SECS: the new policy reverts to the previous
 * one unless `speebpf confirm` runs within SECS, the way network devices
 * protect an operator who changes the rules that carry their own session.
 *
 * Reverting is cheap because of the two policy slots: the previous policy
 * is still whole in the slot the programs stopped reading, so a revert is
 * one switch back (plus the rule table as it was). A detached watcher
 * process does it at the deadline; confirm clears the deadline in the
 * instance record. A new instance reverts to no instance at all.
 */
#ifndef SPEE_CONFIRM_H
#define SPEE_CONFIRM_H

#include <stdbool.h>
#include <stdint.h>

#include "spee_abi.h"
#include "diag.h"

/* What the instance was before the apply that may have to be undone. */
struct confirm_snapshot {
	bool existed;
	struct spee_runtime rt;
	struct spee_instance inst;
	struct spee_rule_meta *rules; /* [SPEE_MAX_RULES] */
};

/* Takes the snapshot (before applying). */
int confirm_prepare(const char *pin_dir, struct confirm_snapshot *snap, struct diags *d);

/*
 * After a successful apply of `generation`: records the deadline and starts
 * the watcher that reverts at it. Consumes the snapshot.
 */
int confirm_arm(const char *pin_dir, struct confirm_snapshot *snap, uint32_t generation,
		unsigned secs, struct diags *d);

void confirm_snapshot_free(struct confirm_snapshot *snap);

/*
 * speebpf confirm: keeps the pending policy. Sets *generation to it.
 * Returns -ENOENT when nothing is pending, -ETIME when it is too late.
 */
int confirm_commit(const char *pin_dir, uint32_t *generation, struct diags *d);

#endif
