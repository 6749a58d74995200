// SPDX-License-Identifier: GPL-2.0-only
/*
 * plan's enforced side (kernel/plan_sides.c) on a real, loaded object: what
 * is read back from the active policy slot is exactly the side built for
 * the policy that was applied, before and after a switch to another one,
 * with its settings and generation; and against the other policy it names
 * just what differs. So plan compares the kernel's state, not a file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "instance.h"
#include "loader.h"
#include "maps.h"
#include "plan.h"
#include "plan_sides.h"

/* A handle over a loaded object's maps, as instance_open would give one for its pins. */
static void handle_of(struct instance *inst, const struct loader *l)
{
	memset(inst, 0, sizeof(*inst));
	snprintf(inst->pin_dir, sizeof(inst->pin_dir), "(the test's object)");
	inst->maps = l->maps;
	inst->lock_fd = -1;
	inst->names_fd = -1; /* no DNS answers kept: plan reads none */
}

/* The entries of two sides are the same, entry for entry. */
static void assert_same_entries(const struct plan_side *a, const struct plan_side *b)
{
	assert_int_equal(a->n_entries, b->n_entries);
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct plan_entry *x = &a->entries[i], *y = &b->entries[i];

		assert_int_equal(x->dir, y->dir);
		assert_int_equal(x->proto, y->proto);
		assert_int_equal(x->reason, y->reason);
		assert_int_equal(x->port_lo, y->port_lo);
		assert_int_equal(x->port_hi, y->port_hi);
		assert_int_equal(prefix_cmp(&x->peer, &y->peer), 0);
		assert_string_equal(x->rule, y->rule);
	}
}

static void built(enum fixture_id id, const struct name_table *t, struct plan_side *s)
{
	struct policy *p = fixture_policy(id);
	struct diags d = {};

	assert_non_null(p);
	assert_int_equal(plan_side_build(p, t, false, s, &d), 0);
	fixture_policy_free(p);
}

static void the_active_slot_reads_back_as_the_side_built_for_its_policy(void **state)
{
	struct policy *main_p = fixture_policy(FX_MAIN), *sw = fixture_policy(FX_SWITCHED);
	struct plan_side read, want_main, want_sw;
	struct name_table t = {};
	struct maps_apply_result res;
	struct loader_sizes sz;
	struct instance inst;
	struct plan_diff diff;
	struct loader l;
	struct diags d = {};
	size_t by_rule = 0;

	(void)state;
	assert_non_null(main_p);
	assert_non_null(sw);
	assert_int_equal(fixture_names(&t), 0);
	loader_sizes_default(&sz);
	assert_int_equal(loader_load(&l, &sz, NULL, &d), 0);
	handle_of(&inst, &l);
	built(FX_MAIN, &t, &want_main);
	built(FX_SWITCHED, &t, &want_sw);

	assert_int_equal(maps_apply(&l.maps, main_p, &t, NULL, &res, &d), 0);
	assert_int_equal(plan_side_read(&inst, &read, &d), 0);
	assert_true(read.enforced);
	assert_int_equal(read.generation, res.generation);
	assert_int_equal(read.mode, SPEE_MODE_ENFORCE);
	assert_same_entries(&read, &want_main);
	for (size_t i = 0; i < read.n_entries; i++)
		by_rule += read.entries[i].reason == SPEE_REASON_RULE && read.entries[i].rule[0];
	assert_true(by_rule > 10); /* the rules' ids came back from spee_rules */
	plan_side_free(&read);

	/* switched: the other slot is active now, with counter slots reused and freed */
	assert_int_equal(maps_apply(&l.maps, sw, &t, NULL, &res, &d), 0);
	assert_int_equal(plan_side_read(&inst, &read, &d), 0);
	assert_int_equal(read.generation, res.generation);
	assert_same_entries(&read, &want_sw);
	assert_int_equal(plan_diff(&read, &want_main, &diff), 0);
	assert_int_equal(diff.n_groups, 2); /* metrics and ntp-out */
	assert_false(diff.mode_changed);
	plan_diff_free(&diff);
	plan_side_free(&read);

	/* and back, in audit mode */
	assert_int_equal(maps_apply(&l.maps, main_p, &t, &(struct maps_apply_opts){ .audit = true },
				    &res, &d),
			 0);
	assert_int_equal(plan_side_read(&inst, &read, &d), 0);
	assert_int_equal(read.mode, SPEE_MODE_AUDIT);
	assert_same_entries(&read, &want_main);
	plan_side_free(&read);

	plan_side_free(&want_main);
	plan_side_free(&want_sw);
	diags_free(&d);
	loader_close(&l);
	names_free(&t);
	fixture_policy_free(main_p);
	fixture_policy_free(sw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_active_slot_reads_back_as_the_side_built_for_its_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
