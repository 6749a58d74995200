/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * namestore.h - the last DNS answers of an instance, kept in a pinned map
 * (PIN_DIR/maps/spee_names) beside its policy maps, so that they survive
 * the agent: a restarted agent starts from the last known addresses instead
 * of an empty set while DNS is unreachable, and status can show them.
 */
#ifndef SPEE_NAMESTORE_H
#define SPEE_NAMESTORE_H

#include "names.h"

/* Writes t into the store (creating and pinning it on first use); names not in t are removed. */
int namestore_save(const char *pin_dir, const struct name_table *t);

/* Adds every stored name to t. A missing store is no error (t stays as it is). */
int namestore_load(const char *pin_dir, struct name_table *t);

/* Removes the store's pin (detach). */
int namestore_remove(const char *pin_dir);

#endif
