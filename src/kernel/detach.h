/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * detach.h - removes an instance: every link (the programs go with them),
 * every map pin, the pin directory. Used by the detach command and by the
 * confirm watcher when a new instance was not confirmed.
 */
#ifndef SPEE_DETACH_H
#define SPEE_DETACH_H

#include "diag.h"
#include "instance.h"

/* inst must be locked for writing; afterwards it exists no more. */
int detach_instance(struct instance *inst, struct diags *d);

#endif
