/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * names.h - the addresses DNS names stand for at a given moment: the table
 * that resolve.c fills and that explain.c and maps.c read. A name that was
 * never resolved has no addresses and allows nothing.
 */
#ifndef SPEE_NAMES_H
#define SPEE_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct name_addrs {
	char *name;
	struct prefix *addrs; /* host prefixes, sorted, unique */
	size_t n_addrs;
	bool resolved; /* at least one answer ever */
	uint32_t ttl; /* of the last answer, seconds */
	int64_t last_ok; /* CLOCK_REALTIME seconds of the last answer, 0 if none */
	uint32_t failures; /* consecutive failures since the last answer */
	char *last_error; /* NULL after a success */
};

struct name_table {
	struct name_addrs *v;
	size_t n;
};

/* The entry for name, or NULL. */
const struct name_addrs *names_find(const struct name_table *t, const char *name);

/* Sets the addresses of name (adding it when new); addrs are copied, sorted, deduplicated. */
int names_set(struct name_table *t, const char *name, const struct prefix *addrs, size_t n,
	      uint32_t ttl);

/* Parses "NAME=ADDR[,ADDR...]" (the --resolve option) into the table. */
int names_set_from_arg(struct name_table *t, const char *arg);

/* Adds (or overwrites) in dst every name of src, with its state. 0 or -ENOMEM. */
int names_copy(struct name_table *dst, const struct name_table *src);

void names_free(struct name_table *t);

#endif
