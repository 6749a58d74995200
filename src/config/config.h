/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * config.h - the fleet config (CONTRACT.md section 2): YAML in, a validated
 * struct config (config_model.h) out, or every problem as
 * "FILE:LINE:COL: message". Read by host.c, policy.c and the commands.
 */
#ifndef SPEE_CONFIG_H
#define SPEE_CONFIG_H

#include <stddef.h>

#include "config_model.h"
#include "diag.h"

/*
 * Reads and validates a config file. On success *out is set and 0 returned.
 * Returns -EINVAL when the file is not a valid config (every problem added to
 * d, with its line and column), or another negative errno when it cannot be
 * read (also added to d). *out is NULL on failure.
 */
int config_load(const char *path, struct config **out, struct diags *d);

/*
 * A config file's bytes (*out malloc'd, *len long): a regular file only,
 * opened without blocking; why not, added to d (a FIFO is named as one).
 */
int config_read_file(const char *path, char **out, size_t *len, struct diags *d);

/* The same as config_load for a buffer; `path` is only used in messages. */
int config_parse(const char *path, const char *buf, size_t len, struct config **out,
		 struct diags *d);

#endif
