/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * matrix.h - the SPE multi-server port matrix (CONTRACT.md section 1), built
 * in as one const table, and the three server roles. Everything else reads
 * the matrix from here; tests/unit/test_matrix.c checks it against the seed.
 */
#ifndef SPEE_MATRIX_H
#define SPEE_MATRIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum role {
	ROLE_MGMT = 1u << 0,
	ROLE_CAS = 1u << 1,
	ROLE_IH = 1u << 2,
};

#define ROLE_ALL (ROLE_MGMT | ROLE_CAS | ROLE_IH)
#define ROLE_COUNT 3

/* "MGMT" -> ROLE_MGMT; 0 when name is not a role. */
unsigned role_parse(const char *name);

/* Name of one role bit. */
const char *role_name(unsigned role);

/* "MGMT, IH" for a set of roles. */
void roles_format(unsigned roles, char *buf, size_t len);

#define MATRIX_SIDE_MAX 4
#define MATRIX_MAILSTORE_NAME "my.mailstore.com"

/*
 * One row of the seed table. A side is a list of terms in the config's own
 * vocabulary (roles, network names, ANY, DNS names), so that built-in and
 * site rules compile the same way. All rows are TCP.
 */
struct matrix_rule {
	const char *id;
	uint16_t port;
	const char *from[MATRIX_SIDE_MAX]; /* NULL-terminated */
	const char *to[MATRIX_SIDE_MAX];
	const char *description; /* the seed's text, without "Optional: " */
	bool optional; /* the seed marks it "Optional:" */
	bool from_every_host; /* the seed writes "ANY": every SPE host, whatever its roles */
};

extern const struct matrix_rule matrix_rules[];
extern const size_t matrix_rule_count;

/* Index of the rule with this id, or -1. */
int matrix_find(const char *id);

/* A side as the seed table writes it ("CAS, IH", "ANY", "my.mailstore.com"). */
void matrix_side_text(const struct matrix_rule *r, bool from, char *buf, size_t len);

/* True when a side of the rule is ANY (what `narrow:` may replace). */
bool matrix_side_is_any(const struct matrix_rule *r, bool from);

#endif
