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
#include "speebpf.skel.h"

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

/* The slot in the maps is exactly what the cache says it holds. */
static void expect_slot_is_cached(const struct spee_map_fds *m, const struct maps_cache *c,
				  uint8_t slot)
{
	const struct maps_cache_slot *cs = &c->slot[slot];
	struct maps_image img;
	struct diags d = {};
	size_t listed = 0;

	assert_true(cs->valid);
	assert_int_equal(maps_read_slot(m, slot, &img, &d), 0);
	assert_int_equal(img.n_exact, cs->n_exact);
	assert_memory_equal(img.exact, cs->exact, img.n_exact * sizeof(*img.exact));
	assert_int_equal(img.n_prefix, cs->n_prefix);
	if (img.n_prefix)
		assert_memory_equal(img.prefix, cs->prefix, img.n_prefix * sizeof(*img.prefix));
	for (uint32_t k = 0; k < MAPS_SLOT_PORTS; k++) {
		static const struct spee_port_info zero;
		const struct spee_port_info *want = &zero;

		if (listed < cs->n_ports && cs->port_idx[listed] == k)
			want = &cs->port_val[listed++];
		assert_memory_equal(&img.ports[k], want, sizeof(*want));
	}
	assert_int_equal(listed, cs->n_ports);
	maps_image_free(&img);
	diags_free(&d);
}

/*
 * The agent's applies go by the cache of both slots and compare only the
 * ports either image uses: policies that differ in their ports, applied by
 * turns, leave each slot exactly as reading it back would, and an apply
 * that reads the slots back finds nothing to change.
 */
static void cached_applies_write_what_reading_back_would(void **state)
{
	struct policy *main_p = fixture_policy(FX_MAIN), *sw = fixture_policy(FX_SWITCHED);
	struct maps_cache cache = {};
	struct maps_apply_opts opts = {.cache = &cache};
	struct maps_apply_result res;
	struct name_table t = {};
	struct loader_sizes sz;
	struct spee_runtime rt;
	struct diags d = {};
	struct loader l;
	size_t ports_written = 0;

	(void)state;
	assert_non_null(main_p);
	assert_non_null(sw);
	assert_int_equal(fixture_names(&t), 0);
	loader_sizes_default(&sz);
	assert_int_equal(loader_load(&l, &sz, NULL, &d), 0);
	maps_cache_assume_empty(&cache);
	/* by turns, each slot holds the other policy before it gets one again */
	for (int step = 0; step < 6; step++) {
		const struct policy *p = (step + 1) / 2 % 2 ? sw : main_p;

		assert_int_equal(maps_apply(&l.maps, p, &t, &opts, &res, &d), 0);
		assert_int_equal(maps_read_runtime(&l.maps, &rt, &d), 0);
		assert_int_equal(rt.active, res.slot);
		expect_slot_is_cached(&l.maps, &cache, res.slot);
		if (step >= 2) /* the slot held the other policy: the difference is written */
			ports_written += res.stats.ports_changed;
	}
	/* the two policies differ in their ports, so the cached diff had ports to write */
	assert_true(ports_written > 0);
	/*
	 * sw is in the active slot (step 5) and main in the other (step 4):
	 * reading back, main goes there, then sw finds its slot as it should be.
	 */
	assert_int_equal(maps_apply(&l.maps, main_p, &t, NULL, &res, &d), 0);
	assert_int_equal(res.stats.added + res.stats.removed + res.stats.ports_changed, 0);
	assert_int_equal(maps_apply(&l.maps, sw, &t, NULL, &res, &d), 0);
	assert_int_equal(res.stats.added + res.stats.removed + res.stats.ports_changed, 0);

	maps_cache_free(&cache);
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

/* ---- the maps of one mode only ---- */

static int map_id_of(int fd)
{
	struct bpf_map_info info;

	assert_int_equal(loader_map_info(fd, &info), 0);
	return (int)info.id;
}

/*
 * A map flagged SPEE_MAPF_HOST (SPEE_MAPF_GATEWAY) is used by no program of
 * the other mode: the ids every loaded program holds, map by map.
 */
static void a_map_of_one_mode_is_used_by_no_program_of_the_other(void **state)
{
	struct loader l;
	struct loader_sizes sz;
	struct diags d = {};
	int checked[2] = {0, 0};

	(void)state;
	loader_sizes_default(&sz);
	assert_int_equal(loader_load(&l, &sz, NULL, &d), 0);
	for (int p = 0; p < SPEE_PROG_COUNT; p++) {
		bool gateway = spee_where_gateway(spee_progs[p].where);
		unsigned other = gateway ? SPEE_MAPF_HOST : SPEE_MAPF_GATEWAY;
		struct bpf_prog_info info = {};
		__u32 ids[64], len = sizeof(info);
		int fd = loader_prog_fd(&l, (enum spee_prog_id)p);

		assert_true(fd >= 0);
		info.nr_map_ids = 64;
		info.map_ids = (__u64)(uintptr_t)ids;
		assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
		assert_true(info.nr_map_ids > 0 && info.nr_map_ids <= 64);
		for (int m = 0; m < SPEE_MAP_COUNT; m++) {
			int id = map_id_of(l.maps.fd[m]);

			if (!(spee_map_flags[m] & other))
				continue;
			for (__u32 k = 0; k < info.nr_map_ids; k++)
				if ((int)ids[k] == id)
					fail_msg("%s uses %s, a map of the other mode",
						 spee_progs[p].name, spee_map_names[m]);
			checked[gateway]++;
		}
	}
	assert_true(checked[0] > 0 && checked[1] > 0); /* both flags are on some map */
	loader_close(&l);
	diags_free(&d);
}

/* A mode's load gives the other mode's sized maps the least room, its own their sizes. */
static void a_mode_sizes_only_its_own_maps(void **state)
{
	static const enum loader_progs modes[] = {LOADER_PROGS_HOST, LOADER_PROGS_GATEWAY};
	struct loader_sizes sz;
	struct diags d = {};

	(void)state;
	loader_sizes_default(&sz);
	for (size_t k = 0; k < sizeof(modes) / sizeof(modes[0]); k++) {
		unsigned other = modes[k] == LOADER_PROGS_HOST ? SPEE_MAPF_GATEWAY : SPEE_MAPF_HOST;
		struct loader l;

		assert_int_equal(loader_load_mode(&l, &sz, NULL, modes[k], &d), 0);
		for (int m = 0; m < SPEE_MAP_COUNT; m++) {
			struct bpf_map_info info;

			if (!(spee_map_flags[m] & SPEE_MAPF_SIZED))
				continue;
			assert_int_equal(loader_map_info(l.maps.fd[m], &info), 0);
			if (spee_map_flags[m] & other)
				/* an LRU gets one entry a CPU */
				assert_true(info.max_entries < 1024);
			else
				assert_int_equal(info.max_entries, sz.max_entries[m]);
		}
		loader_close(&l);
	}
	diags_free(&d);
}

#define BIT(p) (1u << SPEE_PROG_##p)
#define CGROUP_PROGS (BIT(EGRESS) | BIT(CONNECT4) | BIT(CONNECT6) | BIT(SENDMSG4) | BIT(SENDMSG6))

/*
 * A load holds the interface programs of the frames asked for and no
 * others (each one costs a verifier pass), and always host mode's cgroup
 * programs: checked on what the kernel holds, each program's fd and name.
 */
static void a_load_holds_the_interface_programs_of_its_frames_only(void **state)
{
	static const struct {
		enum loader_progs mode;
		unsigned frames;
		uint32_t progs; /* BIT()s */
	} loads[] = {
		{LOADER_PROGS_HOST, LOADER_FRAMES_ETHERNET,
		 CGROUP_PROGS | BIT(XDP) | BIT(TC_EGRESS)},
		{LOADER_PROGS_HOST, LOADER_FRAMES_IP, CGROUP_PROGS | BIT(XDP_L3) | BIT(TC_EGRESS_L3)},
		{LOADER_PROGS_HOST, 0, CGROUP_PROGS},
		{LOADER_PROGS_HOST, LOADER_FRAMES_ALL,
		 CGROUP_PROGS | BIT(XDP) | BIT(TC_EGRESS) | BIT(XDP_L3) | BIT(TC_EGRESS_L3)},
		{LOADER_PROGS_GATEWAY, LOADER_FRAMES_ETHERNET, BIT(GW_XDP) | BIT(GW_TC)},
		{LOADER_PROGS_GATEWAY, LOADER_FRAMES_IP, BIT(GW_XDP_L3)},
	};
	struct loader_sizes sz;
	struct diags d = {};

	(void)state;
	loader_sizes_default(&sz);
	for (size_t k = 0; k < sizeof(loads) / sizeof(loads[0]); k++) {
		struct loader l;

		assert_int_equal(
			loader_load_frames(&l, &sz, NULL, loads[k].mode, loads[k].frames, &d), 0);
		for (int p = 0; p < SPEE_PROG_COUNT; p++) {
			bool want = loads[k].progs & (1u << p);
			int fd = loader_prog_fd(&l, (enum spee_prog_id)p);
			uint8_t tag[SPEE_TAG_SIZE];

			assert_int_equal(loader_has(&l, (enum spee_prog_id)p), want);
			if (!want) {
				assert_true(fd < 0);
				assert_int_equal(loader_prog_tag(&l, (enum spee_prog_id)p, tag),
						 -EBADF);
				continue;
			}
			struct bpf_prog_info info = {};
			uint32_t len = sizeof(info);

			assert_true(fd >= 0);
			assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
			/* the kernel keeps the first 15 characters of a name */
			assert_int_equal(strncmp(info.name, spee_progs[p].name, BPF_OBJ_NAME_LEN - 1),
					 0);
		}
		loader_close(&l);
	}
	diags_free(&d);
}

/*
 * An agent's load leaves the egress program's parse of a copy out (the
 * verifier never checks what cannot be reached); a load for test runs has
 * it only where this kernel's test runs give no direct packet access. Read
 * back from the kernel's frozen .rodata, which the skeleton maps after the
 * load. (Whether the probe is right shows in every egress test: a wrong
 * answer leaves the copy out where it is needed, and the verdicts fail.)
 */
static void only_a_test_run_parses_a_copy(void **state)
{
	struct loader_sizes sz;
	struct diags d = {};

	(void)state;
	loader_sizes_default(&sz);
	for (int on = 0; on < 2; on++) {
		struct loader l;

		loader_set_test_run(on);
		assert_int_equal(
			loader_load_frames(&l, &sz, NULL, LOADER_PROGS_HOST, LOADER_FRAMES_ETHERNET, &d),
			0);
		assert_int_equal(l.skel->rodata->spee_parse_copy, on && !loader_test_run_direct());
		loader_close(&l);
	}
	loader_set_test_run(true);
	diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writes_are_diffs_and_the_active_slot_is_refused),
		cmocka_unit_test(a_map_too_small_is_e2big_before_anything_is_written),
		cmocka_unit_test(cached_applies_write_what_reading_back_would),
		cmocka_unit_test(a_map_of_one_mode_is_used_by_no_program_of_the_other),
		cmocka_unit_test(a_mode_sizes_only_its_own_maps),
		cmocka_unit_test(a_load_holds_the_interface_programs_of_its_frames_only),
		cmocka_unit_test(only_a_test_run_parses_a_copy),
	};

	loader_set_verbose(getenv("SPEE_VERBOSE") != NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
