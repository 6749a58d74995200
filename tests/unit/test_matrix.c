// SPDX-License-Identifier: GPL-2.0-only
/*
 * The built-in matrix against the vendor's table: every row of
 * ../shared/seed/spe-multi-server-firewall.txt is present, in order, with the
 * same port, source, target and description, and nothing else is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "matrix.h"

#define SEED_DEFAULT "../shared/seed/spe-multi-server-firewall.txt"
#define MAX_ROWS 64

struct seed_row {
	unsigned port;
	char source[64];
	char target[64];
	char description[512];
};

static struct seed_row rows[MAX_ROWS];
static size_t n_rows;
static const char *seed_path;

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	if (*s == ' ')
		memmove(s, s + 1, n);
}

/* A table row reads "PORT | SOURCE | TARGET | DESCRIPTION |". */
static int load_seed(void **state)
{
	char line[2048];
	FILE *f;

	(void)state;
	seed_path = getenv("SPEE_SEED_FILE") ? getenv("SPEE_SEED_FILE") : SEED_DEFAULT;
	f = fopen(seed_path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *field[5], *save = NULL, *p = line;
		size_t nf = 0;

		if (line[0] < '0' || line[0] > '9')
			continue;
		for (char *tok = strtok_r(p, "|", &save); tok && nf < 5; tok = strtok_r(NULL, "|", &save))
			field[nf++] = tok;
		assert_true(nf >= 4);
		assert_true(n_rows < MAX_ROWS);
		for (size_t i = 0; i < 4; i++)
			trim(field[i]);
		rows[n_rows].port = (unsigned)atoi(field[0]);
		snprintf(rows[n_rows].source, sizeof(rows[n_rows].source), "%s", field[1]);
		snprintf(rows[n_rows].target, sizeof(rows[n_rows].target), "%s", field[2]);
		snprintf(rows[n_rows].description, sizeof(rows[n_rows].description), "%s", field[3]);
		n_rows++;
	}
	fclose(f);
	return 0;
}

static void skip_without_seed(void)
{
	if (n_rows == 0) {
		print_message("SKIPPED: seed table %s not found (set SPEE_SEED_FILE)\n", seed_path);
		skip();
	}
}

static void every_seed_row_is_a_matrix_rule_in_order(void **state)
{
	(void)state;
	skip_without_seed();
	assert_int_equal(n_rows, matrix_rule_count);
	for (size_t i = 0; i < n_rows; i++) {
		const struct matrix_rule *r = &matrix_rules[i];
		char from[64], to[64], desc[600];

		matrix_side_text(r, true, from, sizeof(from));
		matrix_side_text(r, false, to, sizeof(to));
		snprintf(desc, sizeof(desc), "%s%s", r->optional ? "Optional: " : "", r->description);
		assert_int_equal(rows[i].port, r->port);
		assert_string_equal(rows[i].source, from);
		assert_string_equal(rows[i].target, to);
		assert_string_equal(rows[i].description, desc);
	}
}

static void the_seed_has_the_contracts_22_rows(void **state)
{
	(void)state;
	skip_without_seed();
	assert_int_equal(n_rows, 22);
}

static void rule_ids_are_unique_and_findable(void **state)
{
	(void)state;
	for (size_t i = 0; i < matrix_rule_count; i++) {
		assert_int_equal(matrix_find(matrix_rules[i].id), (int)i);
		assert_true(strlen(matrix_rules[i].id) < 48);
	}
	assert_int_equal(matrix_find("no-such-rule"), -1);
}

/* Every term is something the config vocabulary knows: a role, ANY, ADM, CA or a DNS name. */
static void every_side_uses_the_config_vocabulary(void **state)
{
	(void)state;
	for (size_t i = 0; i < matrix_rule_count; i++) {
		const struct matrix_rule *r = &matrix_rules[i];
		const char *const *sides[2] = { r->from, r->to };

		for (size_t s = 0; s < 2; s++) {
			assert_non_null(sides[s][0]);
			for (size_t t = 0; t < MATRIX_SIDE_MAX && sides[s][t]; t++) {
				const char *term = sides[s][t];

				assert_true(role_parse(term) || !strcmp(term, "ANY") ||
					    !strcmp(term, "ADM") || !strcmp(term, "CA") ||
					    dns_name_valid(term));
			}
		}
	}
}

static void ca_revocation_comes_from_every_host(void **state)
{
	const struct matrix_rule *r = &matrix_rules[matrix_find("ca-revocation")];

	(void)state;
	assert_true(r->from_every_host);
	for (size_t t = 0; t < 3; t++)
		assert_non_null(r->from[t]);
	assert_int_equal(role_parse(r->from[0]) | role_parse(r->from[1]) | role_parse(r->from[2]),
			 ROLE_ALL);
}

static void only_mgmt_pairing_is_optional(void **state)
{
	(void)state;
	for (size_t i = 0; i < matrix_rule_count; i++)
		assert_int_equal(matrix_rules[i].optional,
				 !strcmp(matrix_rules[i].id, "mgmt-pairing"));
}

static void roles_parse_and_format(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(role_parse("MGMT"), ROLE_MGMT);
	assert_int_equal(role_parse("CAS"), ROLE_CAS);
	assert_int_equal(role_parse("IH"), ROLE_IH);
	assert_int_equal(role_parse("ih"), 0);
	roles_format(ROLE_MGMT | ROLE_IH, buf, sizeof(buf));
	assert_string_equal(buf, "MGMT, IH");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_seed_has_the_contracts_22_rows),
		cmocka_unit_test(every_seed_row_is_a_matrix_rule_in_order),
		cmocka_unit_test(rule_ids_are_unique_and_findable),
		cmocka_unit_test(every_side_uses_the_config_vocabulary),
		cmocka_unit_test(ca_revocation_comes_from_every_host),
		cmocka_unit_test(only_mgmt_pairing_is_optional),
		cmocka_unit_test(roles_parse_and_format),
	};

	return cmocka_run_group_tests(tests, load_seed, NULL);
}
