// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_config_index.c - the first-come index behind the inventory's
 * duplicate checks (src/config/config_index.c): what it finds across
 * growth and a reserve taken up front, when hashes share their low half,
 * and the items it refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config_index.h"

#define N_KEYS 5000

static char keys[N_KEYS][16];

static bool key_eq(const void *ctx, size_t item)
{
	return !strcmp(ctx, keys[item]);
}

static size_t find(const struct cfg_index *ix, const char *key)
{
	return cfg_index_find(ix, cfg_hash(key, strlen(key)), key_eq, key);
}

static void add_all(struct cfg_index *ix)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "host-%zu", i);
		assert_int_equal(cfg_index_add(ix, cfg_hash(keys[i], strlen(keys[i])), i), 0);
	}
}

static void check_all(const struct cfg_index *ix)
{
	assert_int_equal(ix->n, N_KEYS);
	assert_true(ix->cap >= 2 * ix->n); /* at most half full */
	for (size_t i = 0; i < N_KEYS; i++)
		assert_int_equal(find(ix, keys[i]), i);
	assert_int_equal(find(ix, "host-5000"), SIZE_MAX);
	assert_int_equal(find(ix, ""), SIZE_MAX);
}

static void every_item_is_found_after_growing(void **state)
{
	struct cfg_index ix = {0};

	(void)state;
	assert_int_equal(find(&ix, "host-0"), SIZE_MAX); /* empty, no table yet */
	add_all(&ix);
	check_all(&ix);
	cfg_index_free(&ix);
}

static void a_reserve_takes_the_room_once(void **state)
{
	struct cfg_index ix = {0};
	size_t cap;

	(void)state;
	assert_int_equal(cfg_index_reserve(&ix, N_KEYS), 0);
	cap = ix.cap;
	assert_true(cap >= 2 * N_KEYS && cap < 4 * N_KEYS);
	add_all(&ix);
	assert_int_equal(ix.cap, cap); /* no growth on the way */
	check_all(&ix);
	/* a reserve below what is there keeps the table; one above regrows it whole */
	assert_int_equal(cfg_index_reserve(&ix, 10), 0);
	assert_int_equal(ix.cap, cap);
	assert_int_equal(cfg_index_reserve(&ix, 4 * N_KEYS), 0);
	assert_true(ix.cap >= 8 * N_KEYS);
	check_all(&ix);
	cfg_index_free(&ix);
}

/* Slots keep the low half of a hash: items whose hashes share it are told apart by eq. */
static void hashes_alike_in_their_low_half_are_told_apart(void **state)
{
	struct cfg_index ix = {0};

	(void)state;
	snprintf(keys[0], sizeof(keys[0]), "first");
	snprintf(keys[1], sizeof(keys[1]), "second");
	assert_int_equal(cfg_index_add(&ix, 0x1111111100000042ULL, 0), 0);
	assert_int_equal(cfg_index_add(&ix, 0x2222222200000042ULL, 1), 0);
	assert_int_equal(cfg_index_find(&ix, 0x2222222200000042ULL, key_eq, "second"), 1);
	assert_int_equal(cfg_index_find(&ix, 0x1111111100000042ULL, key_eq, "first"), 0);
	assert_int_equal(cfg_index_find(&ix, 0x42, key_eq, "third"), SIZE_MAX);
	/* a duplicate added later: the first one added is the one found */
	assert_int_equal(cfg_index_add(&ix, 0x1111111100000042ULL, 1), 0);
	snprintf(keys[1], sizeof(keys[1]), "first");
	assert_int_equal(cfg_index_find(&ix, 0x1111111100000042ULL, key_eq, "first"), 0);
	cfg_index_free(&ix);
}

static void an_item_beyond_32_bits_is_refused(void **state)
{
	struct cfg_index ix = {0};

	(void)state;
	assert_int_equal(cfg_index_add(&ix, 1, (size_t)UINT32_MAX), -E2BIG);
	assert_int_equal(ix.n, 0);
	assert_int_equal(cfg_index_add(&ix, 1, (size_t)UINT32_MAX - 1), 0);
	cfg_index_free(&ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_item_is_found_after_growing),
		cmocka_unit_test(a_reserve_takes_the_room_once),
		cmocka_unit_test(hashes_alike_in_their_low_half_are_told_apart),
		cmocka_unit_test(an_item_beyond_32_bits_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
