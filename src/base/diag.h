/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * diag.h - errors and notes that point into a file: "FILE:LINE:COL: message".
 * Collected rather than printed so that a config check reports every problem
 * at once and a running agent can log them. Used by config, policy and the CLI.
 */
#ifndef SPEE_DIAG_H
#define SPEE_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct diag {
	char *file; /* NULL when the problem has no place in a file */
	int line; /* 1-based; 0 when unknown */
	int col; /* 1-based; 0 when unknown */
	char *msg;
};

struct diags {
	struct diag *v;
	size_t n;
	size_t cap;
};

struct json_object;

/* {"file", "line", "column"} of a diagnostic, the ones it has; the caller owns the object. */
struct json_object *diag_place_json(const struct diag *dg);

/* Appends one diagnostic (none when d is NULL). Returns 0, or -ENOMEM. */
int diag_add(struct diags *d, const char *file, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Formats diagnostic i as "file:line:col: msg" (or a shorter form) into buf. */
void diag_format(const struct diag *dg, char *buf, size_t len);

/* Prints every diagnostic, one per line. */
void diags_print(FILE *out, const struct diags *d);

/* Drops the diagnostics from the n-th on (a problem that was then solved). */
void diags_truncate(struct diags *d, size_t n);

void diags_free(struct diags *d);

#endif
