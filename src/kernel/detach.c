// SPDX-License-Identifier: GPL-2.0-only
/* detach.c - removing an instance (detach.h). */
#include "detach.h"

#include <string.h>

#include "links.h"
#include "pindir.h"

int detach_instance(struct instance *inst, struct diags *d)
{
	int err, removed = links_remove_all(inst);

	if (removed < 0) {
		diag_add(d, NULL, 0, 0, "cannot remove the links under %s: %s", inst->pin_dir,
			 strerror(-removed));
		return removed;
	}
	instance_forget_maps(inst);
	err = pindir_unpin_maps(inst->pin_dir, d);
	return err ? err : pindir_remove(inst->pin_dir, d);
}
