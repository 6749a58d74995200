// SPDX-License-Identifier: GPL-2.0-only
/*
 * src/base/: addresses and prefixes (addr.c), DNS name tables (names.c),
 * diagnostics (diag.c) and the run-merging sort (runsort.h), the pieces
 * every layer builds on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "diag.h"
#include "names.h"
#include "runsort.h"

static void prefixes_parse_and_say_what_is_wrong(void **state)
{
	struct prefix p;
	char buf[ADDR_TEXT_LEN];

	(void)state;
	assert_int_equal(prefix_parse("198.18.9.0/24", &p), PREFIX_OK);
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(p.len, 24);
	prefix_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "198.18.9.0/24");
	assert_int_equal(prefix_parse("fd00:5e::10", &p), PREFIX_OK);
	assert_true(prefix_is_host(&p));
	prefix_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "fd00:5e::10");
	assert_int_equal(prefix_parse("198.18.9.1/24", &p), PREFIX_HOST_BITS);
	assert_int_equal(prefix_parse("198.18.9.0/33", &p), PREFIX_BAD_LENGTH);
	assert_int_equal(prefix_parse("198.18.0.300", &p), PREFIX_BAD_ADDRESS);
	assert_int_equal(prefix_parse("exchange.example.com", &p), PREFIX_NOT_ADDRESS);
	assert_false(addr_parse("198.18.9.0/24", &p));
	assert_true(addr_parse("198.18.9.1", &p));
}

static void prefixes_order_and_contain(void **state)
{
	struct prefix net, host, other, any = prefix_any(AF_INET);

	(void)state;
	assert_int_equal(prefix_parse("198.18.9.0/24", &net), PREFIX_OK);
	assert_int_equal(prefix_parse("198.18.9.50", &host), PREFIX_OK);
	assert_int_equal(prefix_parse("198.19.9.50", &other), PREFIX_OK);
	assert_true(prefix_contains(&net, &host));
	assert_false(prefix_contains(&net, &other));
	assert_true(prefix_contains(&any, &other));
	assert_true(prefix_cmp(&net, &host) < 0);
	assert_true(prefix_cmp(&host, &other) < 0);
	assert_int_equal(prefix_cmp(&host, &host), 0);
	assert_true(dns_name_valid("my.mailstore.com"));
	assert_false(dns_name_valid("localhost"));
}

static void a_name_table_keeps_addresses_sorted_and_unique(void **state)
{
	struct name_table t = { 0 }, copy = { 0 };
	const struct name_addrs *na;
	char buf[ADDR_TEXT_LEN];

	(void)state;
	assert_int_equal(names_set_from_arg(&t, "my.mailstore.com=198.19.2.101,198.19.2.100,"
						"198.19.2.101"),
			 0);
	na = names_find(&t, "my.mailstore.com");
	assert_non_null(na);
	assert_int_equal(na->n_addrs, 2);
	prefix_format(&na->addrs[0], buf, sizeof(buf));
	assert_string_equal(buf, "198.19.2.100");
	assert_true(na->resolved);
	assert_int_not_equal(names_set_from_arg(&t, "=198.19.2.1"), 0);
	assert_int_not_equal(names_set_from_arg(&t, "name.example="), 0);
	assert_int_not_equal(names_set_from_arg(&t, "name.example=not-an-address"), 0);
	assert_null(names_find(&t, "name.example"));
	/* a copy is whole and independent */
	((struct name_addrs *)na)->failures = 3;
	((struct name_addrs *)na)->last_error = strdup("timeout");
	assert_int_equal(names_copy(&copy, &t), 0);
	names_free(&t);
	na = names_find(&copy, "my.mailstore.com");
	assert_non_null(na);
	assert_int_equal(na->n_addrs, 2);
	assert_int_equal(na->failures, 3);
	assert_string_equal(na->last_error, "timeout");
	names_free(&copy);
}

static void diagnostics_say_where_and_a_null_list_takes_none(void **state)
{
	struct diags d = { 0 };
	struct json_object *o, *v;
	char buf[128];

	(void)state;
	assert_int_equal(diag_add(NULL, "f.yaml", 1, 2, "nobody listens"), 0);
	assert_int_equal(diag_add(&d, "f.yaml", 3, 7, "unknown role '%s'", "MGNT"), 0);
	assert_int_equal(diag_add(&d, NULL, 0, 0, "no file"), 0);
	diag_format(&d.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "f.yaml:3:7: unknown role 'MGNT'");
	o = diag_place_json(&d.v[0]);
	assert_true(json_object_object_get_ex(o, "line", &v));
	assert_int_equal(json_object_get_int(v), 3);
	assert_true(json_object_object_get_ex(o, "column", &v));
	assert_int_equal(json_object_get_int(v), 7);
	json_object_put(o);
	o = diag_place_json(&d.v[1]);
	assert_int_equal(json_object_object_length(o), 0);
	json_object_put(o);
	diags_truncate(&d, 1);
	assert_int_equal(d.n, 1);
	diags_free(&d);
}

/* An item: what it sorts by, and where it started (to see stability). */
struct sort_probe {
	uint32_t key;
	uint32_t at;
};

static int cmp_probe(const struct sort_probe *a, const struct sort_probe *b)
{
	return a->key < b->key ? -1 : a->key > b->key;
}

RUNSORT_DEFINE(sort_probes, struct sort_probe, cmp_probe)

/*
 * Whatever runs the input has (none, one, many, uneven, an odd number of
 * them), the result is ascending and equal keys keep their order.
 */
static void runsort_sorts_stably_whatever_runs_it_is_given(void **state)
{
	enum { N = 2000 };
	struct sort_probe *v = calloc(N, sizeof(*v));
	unsigned seed = 7;

	(void)state;
	assert_non_null(v);
	for (int shape = 0; shape < 5; shape++) {
		size_t n = shape == 4 ? N - 1 : N;

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			switch (shape) {
			case 0: /* random, many ties */
				v[i].key = (seed >> 16) % 50;
				break;
			case 1: /* already sorted: one run */
				v[i].key = (uint32_t)i / 3;
				break;
			case 2: /* descending: every item a run */
				v[i].key = (uint32_t)(n - i);
				break;
			default: /* ascending runs of uneven lengths, overlapping */
				v[i].key = (uint32_t)(i % (37 + shape * 11)) * 5 + (seed >> 30);
				break;
			}
			v[i].at = (uint32_t)i;
		}
		assert_int_equal(sort_probes(v, n), 0);
		for (size_t i = 1; i < n; i++) {
			assert_true(v[i - 1].key <= v[i].key);
			if (v[i - 1].key == v[i].key)
				assert_true(v[i - 1].at < v[i].at);
		}
	}
	/* nothing and one item are left alone */
	assert_int_equal(sort_probes(v, 0), 0);
	assert_int_equal(sort_probes(v, 1), 0);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prefixes_parse_and_say_what_is_wrong),
		cmocka_unit_test(prefixes_order_and_contain),
		cmocka_unit_test(a_name_table_keeps_addresses_sorted_and_unique),
		cmocka_unit_test(diagnostics_say_where_and_a_null_list_takes_none),
		cmocka_unit_test(runsort_sorts_stably_whatever_runs_it_is_given),
	};

	return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
