/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * confirm.h - apply --confirm SECS: the new policy reverts to the previous
 * one unless `speebpf confirm` runs within SECS, the way network devices
 * protect an operator who changes the rules that carry their own session.
 *
 * Reverting is cheap because of the two policy slots: the previous policy
 * is still whole in the slot the programs stopped reading, so a revert is
 * one switch back (plus the rule table as it was). The snapshot, the apply
 * and the arming happen under one lock of the instance, so the snapshot is
 * what the apply replaced. A detached watcher process, which keeps the
 * apply's handle, reverts at the deadline; confirm clears the deadline in
 * the instance record, and so does any later successful apply (its policy
 * replaced the one waiting). A new instance reverts to no instance at all.
 */
#ifndef SPEE_CONFIRM_H
#define SPEE_CONFIRM_H

#include <stdbool.h>
#include <stdint.h>

#include "spee_abi.h"
#include "diag.h"
#include "instance.h"

/* What the instance was before the apply that may have to be undone. */
struct confirm_snapshot {
	bool existed;
	struct spee_runtime rt;
	struct spee_instance inst;
	struct spee_rule_meta *rules; /* [SPEE_MAX_RULES] */
};

/*
 * Takes the snapshot, inst locked for the apply that follows. -EBUSY (said
 * in d) while another policy waits for its confirmation.
 */
int confirm_prepare(struct instance *inst, struct confirm_snapshot *snap, struct diags *d);

/*
 * After a successful apply of `generation`, still under the same lock:
 * records the deadline and starts the watcher that reverts at it.
 */
int confirm_arm(struct instance *inst, const struct confirm_snapshot *snap, uint32_t generation,
		unsigned secs, struct diags *d);

void confirm_snapshot_free(struct confirm_snapshot *snap);

/*
 * speebpf confirm (inst locked for writing): keeps the pending policy. Sets
 * *generation to it. Returns -ENOENT when nothing is pending, -ETIME when it
 * is too late.
 */
int confirm_commit(struct instance *inst, uint32_t *generation, struct diags *d);

#endif
