// SPDX-License-Identifier: GPL-2.0-only
/*
 * maps.c on a real (unpinned) object: an apply writes the difference from
 * what a slot holds, refuses to write the active slot, and says -E2BIG
 * before anything is written. The pure half (slots, images) is
 * tests/unit/test_maps_image.c; pinned instances are tests/bpf/test_instance.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "fixture.h"
#include "loader.h"
#include "maps.h"

/* ---- writing into a loaded object ---- */

static size_t count_slot(int fd, size_t ksz, size_t slot_off, uint8_t slot)
{
	uint8_t key[64], next[64];
	size_t n = 0;
	int err;

	for (err = bpf_map_get_next_key(fd, NULL, key); !err;
	     err = bpf_map_get_next_key(fd, key, next), memcpy(key, next, ksz))
		n += key[slot_off] == slot;
	return n;
}

static void writes_are_diffs_and_the_active_slot_is_refused(void **state)
{
	struct loader l;
	struct loader_sizes sz;
	struct policy *main_p = fixture_policy(FX_MAIN), *sw = fixture_policy(FX_SWITCHED);
	struct name_table t = {};
	struct maps_apply_result res;
	struct maps_image img;
	struct spee_slot_cfg cfg = {};
	struct maps_write_stats st;
	struct diags d = {};

	(void)state;
	assert_non_null(main_p);
	assert_non_null(sw);
	assert_int_equal(fixture_names(&t), 0);
	loader_sizes_default(&sz);
	assert_int_equal(loader_load(&l, &sz, NULL, &d), 0);

	assert_int_equal(maps_apply(&l.maps, main_p, &t, NULL, &res, &d), 0);
	assert_int_equal(res.slot, 1); /* a fresh object has slot 0 active */
	assert_int_equal(res.generation, 1);
	assert_true(res.stats.added > 0);
	assert_int_equal(res.stats.removed, 0);
	assert_int_equal(count_slot(l.maps.fd[SPEE_MAP_EXACT], sizeof(struct spee_rule_key),
				    offsetof(struct spee_rule_key, slot), 1),
			 res.stats.added - count_slot(l.maps.fd[SPEE_MAP_PREFIX],
						      sizeof(struct spee_prefix_key),
						      offsetof(struct spee_prefix_key, slot), 1));

	/* the switched policy into slot 0, then main again into slot 1: only the difference */
	assert_int_equal(maps_apply(&l.maps, sw, &t, NULL, &res, &d), 0);
	assert_int_equal(res.slot, 0);
	assert_int_equal(maps_apply(&l.maps, main_p, &t, NULL, &res, &d), 0);
	assert_int_equal(res.slot, 1);
	assert_int_equal(res.generation, 3);
	assert_int_equal(res.stats.added + res.stats.removed + res.stats.ports_changed, 0);

	/* slot 1 is active: writing it is refused */
	memset(&img, 0, sizeof(img));
	img.slot = 1;
	img.ports = calloc(MAPS_SLOT_PORTS, sizeof(*img.ports));
	assert_non_null(img.ports);
	assert_int_equal(maps_write_slot(&l.maps, &img, &cfg, &st, &d), -EBUSY);
	maps_image_free(&img);

	diags_free(&d);
	loader_close(&l);
	names_free(&t);
	fixture_policy_free(main_p);
	fixture_policy_free(sw);
}

static void a_map_too_small_is_e2big_before_anything_is_written(void **state)
{
	struct loader l;
	struct loader_sizes sz;
	struct policy *p = fixture_policy(FX_MAIN);
	struct name_table t = {};
	struct maps_apply_result res;
	struct spee_runtime rt;
	struct diags d = {};
	uint8_t key[64];

	(void)state;
	assert_non_null(p);
	assert_int_equal(fixture_names(&t), 0);
	loader_sizes_default(&sz);
	sz.max_entries[SPEE_MAP_PREFIX] = 4; /* the fixture needs more prefixes than this */
	assert_int_equal(loader_load(&l, &sz, NULL, &d), 0);
	assert_int_equal(maps_apply(&l.maps, p, &t, NULL, &res, &d), -E2BIG);
	assert_true(d.n >= 1);
	assert_non_null(strstr(d.v[d.n - 1].msg, "spee_prefix"));
	/* nothing written: both policy maps empty, no switch */
	assert_int_equal(bpf_map_get_next_key(l.maps.fd[SPEE_MAP_EXACT], NULL, key), -ENOENT);
	assert_int_equal(bpf_map_get_next_key(l.maps.fd[SPEE_MAP_PREFIX], NULL, key), -ENOENT);
	assert_int_equal(maps_read_runtime(&l.maps, &rt, &d), 0);
	assert_int_equal(rt.active, 0);
	assert_int_equal(rt.slot[1].generation, 0);

	diags_free(&d);
	loader_close(&l);
	names_free(&t);
	fixture_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writes_are_diffs_and_the_active_slot_is_refused),
		cmocka_unit_test(a_map_too_small_is_e2big_before_anything_is_written),
	};

	loader_set_verbose(getenv("SPEE_VERBOSE") != NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
