/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * plan_sides.h - the two sides of `speebpf plan` (plan.h), in the form the
 * kernel holds a policy: what an instance enforces, read back from its
 * active policy slot, and what apply would write for a compiled policy,
 * built with the same image code (maps_build_image) apply writes with.
 *
 * Why the maps and not the config the instance record names: the record
 * names a path and a hash, and the file at that path is often the very one
 * being edited (or gone); DNS answers move; and an `apply --audit`, a
 * revert of --confirm or drift may stand between the file and the kernel.
 * The active slot is what every packet meets. Comparing it with the image
 * of the new policy compares like with like: collisions of rules on one
 * key, shadowing and resolved names are decided the same way on both sides.
 */
#ifndef SPEE_PLAN_SIDES_H
#define SPEE_PLAN_SIDES_H

#include <stdbool.h>

#include "diag.h"
#include "instance.h"
#include "names.h"
#include "plan.h"
#include "policy.h"

/*
 * The enforced side (inst locked): the active slot's entries with their
 * rules' ids (spee_rules), its settings and generation, and the DNS answers
 * the instance keeps (namestore.h). Returns 0 or a negative errno (said in d).
 */
int plan_side_read(struct instance *inst, struct plan_side *out, struct diags *d);

/*
 * The side apply would write for p, its names' addresses from t (may be
 * NULL), in audit mode when audit (apply --audit). Pure. Returns 0 or a
 * negative errno (said in d).
 */
int plan_side_build(const struct policy *p, const struct name_table *t, bool audit,
		    struct plan_side *out, struct diags *d);

#endif
