/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * namestore.h - the last DNS answers of an instance, kept in a pinned map
 * (PIN_DIR/maps/spee_names, pindir.h) beside its policy maps, so that they
 * survive the agent: a restarted agent starts from the last known addresses
 * instead of an empty set while DNS is unreachable, and status can show
 * them. The map is the handle's (instance.h), opened with the others.
 */
#ifndef SPEE_NAMESTORE_H
#define SPEE_NAMESTORE_H

#include "instance.h"
#include "names.h"

/* Writes t into the store (creating and pinning it on first use); names not in t are removed. */
int namestore_save(struct instance *inst, const struct name_table *t);

/* Adds every stored name to t. A missing store is no error (t stays as it is). */
int namestore_load(const struct instance *inst, struct name_table *t);

#endif
