// SPDX-License-Identifier: GPL-2.0-only
/*
 * An instance on a real BPF filesystem, a veth of a namespace of the
 * test's own and a child cgroup of the test's own (kernel/apply.c, links.c,
 * instance.c, detach.c): created whole; updated in place without touching
 * a link; reconciled (a detached link attached again, a foreign program
 * replaced in place, a stray pin removed); repaired after a create that
 * died halfway; a handle kept across another process's growth reopens only
 * the maps that were replaced; detach leaves nothing. Runs under
 * tests/run-unit.sh --bpffs (a private bpffs at /sys/fs/bpf).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "apply.h"
#include "attach.h"
#include "bpfenv.h"
#include "config.h"
#include "detach.h"
#include "fixture.h"
#include "grow.h"
#include "ifaces.h"
#include "instance.h"
#include "links.h"
#include "loader.h"
#include "pindir.h"

#define IFACE "spe-ia"

static char pin_dir[128], cgroup[512];
static char *ifaces[] = { IFACE };

/* The fixture policies have no config or host of their own: these stand for them. */
static struct config cfg = {
	.udp_timeout = CONFIG_DEFAULT_UDP_TIMEOUT,
	.events_rate = CONFIG_DEFAULT_EVENTS_RATE,
	.events_burst = CONFIG_DEFAULT_EVENTS_BURST,
};
static struct cfg_host host = { .name = "mgmt1" };

static struct policy *policy(enum fixture_id id)
{
	struct policy *p = fixture_policy(id);

	assert_non_null(p);
	p->cfg = &cfg;
	p->host = &host;
	return p;
}

/*
 * The handles a test has open: closed by the teardown when a failed
 * assertion left the test early, so that no lock outlives it.
 */
static struct instance *open_handles[4];

static struct instance *open_as(enum instance_mode mode)
{
	struct instance *inst;
	struct diags d = {};

	if (instance_open(pin_dir, mode, &inst, &d)) {
		diags_print(stderr, &d);
		fail();
	}
	diags_free(&d);
	for (size_t i = 0; i < 4; i++)
		if (!open_handles[i]) {
			open_handles[i] = inst;
			break;
		}
	return inst;
}

static void close_inst(struct instance *inst)
{
	for (size_t i = 0; i < 4; i++)
		if (open_handles[i] == inst)
			open_handles[i] = NULL;
	instance_close(inst);
}

static int close_handles(void **state)
{
	(void)state;
	for (size_t i = 0; i < 4; i++) {
		instance_close(open_handles[i]);
		open_handles[i] = NULL;
	}
	return 0;
}

/* Applies policy id with the test's cgroup and, with_iface, its interface; returns the outcome. */
/* with_iface: the test's interface; else --iface all (the test's veth holds no inventory address) */
static struct apply_outcome apply_on(struct instance *inst, enum fixture_id id, bool with_iface)
{
	static char all[] = APPLY_IFACES_ALL;
	char *every[] = { all };
	struct policy *p = policy(id);
	struct name_table t = {};
	struct apply_request req = {
		.policy = p,
		.names = &t,
		.ifaces = with_iface ? ifaces : every,
		.n_ifaces = 1,
		.cgroup = cgroup,
	};
	struct apply_outcome out;
	struct diags d = {};

	assert_int_equal(fixture_names(&t), 0);
	if (apply_policy(inst, &req, &out, &d)) {
		diags_print(stderr, &d);
		fail();
	}
	diags_free(&d);
	names_free(&t);
	fixture_policy_free(p);
	return out;
}

static struct apply_outcome apply(struct instance *inst, enum fixture_id id)
{
	return apply_on(inst, id, true);
}

static struct links_assessment assess(struct instance *inst)
{
	struct links_assessment a;

	assert_int_equal(links_assess(inst, NULL, &a), 0);
	return a;
}

static uint32_t link_id_of(const struct links_assessment *a, enum spee_prog_id prog)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].known && a->v[i].prog == (int)prog)
			return a->v[i].link_id;
	return 0;
}

static const char *pin_of(const struct links_assessment *a, enum spee_prog_id prog)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].known && a->v[i].prog == (int)prog)
			return a->v[i].pin;
	return NULL;
}

/* The hooks on a cgroup: one program each. */
static int cgroup_hooks(void)
{
	int n = 0;

	for (int p = 0; p < SPEE_PROG_COUNT; p++)
		n += spee_progs[p].where == SPEE_ATTACH_CGROUP;
	return n;
}

/* An interface has two hooks: its XDP link and its tc egress filter. */
#define IFACE_HOOKS 2

/* How many programs are attached to the test's cgroup, of any attach type we use. */
static unsigned cgroup_programs(void)
{
	int fd = open(cgroup, O_RDONLY | O_DIRECTORY);
	unsigned total = 0;

	assert_true(fd >= 0);
	for (int p = 0; p < SPEE_PROG_COUNT; p++) {
		__u32 ids[8], n = 8;

		if (spee_progs[p].where != SPEE_ATTACH_CGROUP)
			continue;
		assert_int_equal(bpf_prog_query(fd, (enum bpf_attach_type)loader_attach_type(p), 0,
						NULL, ids, &n),
				 0);
		total += n;
	}
	close(fd);
	return total;
}

static void a_new_instance_is_pinned_whole_and_every_hook_attached(void **state)
{
	struct instance *inst = open_as(INSTANCE_CREATE);
	struct apply_outcome out;
	struct links_assessment a;
	char path[256];

	(void)state;
	assert_false(inst->exists);
	out = apply(inst, FX_MAIN);
	assert_true(out.created);
	assert_int_equal(out.generation, 1);
	assert_int_equal(out.attached, cgroup_hooks() + IFACE_HOOKS);
	assert_true(inst->exists);
	assert_int_equal(inst->missing | inst->other_layout, 0);
	/* the record names what runs, and maps-new is gone */
	assert_string_equal(inst->rec.host, "mgmt1");
	assert_string_equal(inst->rec.cgroup_path, cgroup);
	assert_int_equal(inst->rec.generation, 1);
	assert_int_equal(pindir_maps_staging_dir(path, sizeof(path), pin_dir), 0);
	assert_int_not_equal(access(path, F_OK), 0);
	a = assess(inst);
	assert_true(links_settled(&a));
	assert_int_equal(a.n, cgroup_hooks() + 1); /* the tc filter is no link */
	for (size_t i = 0; i < a.n; i++)
		if (spee_progs[a.v[i].prog].where == SPEE_ATTACH_XDP) {
			/* a veth: Ethernet frames, and its tc egress filter, the instance's */
			assert_int_equal(a.v[i].prog, SPEE_PROG_XDP);
			assert_int_equal(a.v[i].frames, IFACE_ETHERNET);
			assert_int_not_equal(a.v[i].tc_prog_id, 0);
			assert_true(a.v[i].tc_ours);
		}
	links_assessment_free(&a);
	assert_int_equal(cgroup_programs(), cgroup_hooks());
	close_inst(inst);
}

static void an_update_writes_in_place_and_touches_no_link(void **state)
{
	struct instance *inst = open_as(INSTANCE_CREATE);
	struct links_assessment before, after;
	uint32_t exact_id = inst->map_id[SPEE_MAP_EXACT];
	struct apply_outcome out;

	(void)state;
	before = assess(inst);
	out = apply(inst, FX_SWITCHED);
	assert_false(out.created);
	assert_int_equal(out.generation, 2);
	assert_int_equal(out.attached + out.detached + out.replaced, 0);
	after = assess(inst);
	for (int p = 0; p < SPEE_PROG_COUNT; p++)
		assert_int_equal(link_id_of(&before, p), link_id_of(&after, p));
	assert_int_equal(inst->map_id[SPEE_MAP_EXACT], exact_id);
	assert_int_equal(inst->rec.generation, 2);
	links_assessment_free(&before);
	links_assessment_free(&after);
	close_inst(inst);
}

static void reconcile_attaches_what_is_detached_and_replaces_what_is_foreign(void **state)
{
	struct instance *inst = open_as(INSTANCE_CREATE);
	struct links_assessment a;
	struct loader other;
	struct loader_sizes sz;
	struct apply_outcome out;
	struct diags d = {};
	char stray[256];
	int fd;

	(void)state;
	a = assess(inst);
	/* the egress link detached behind the instance's back (its pin stays) */
	fd = bpf_obj_get(pin_of(&a, SPEE_PROG_EGRESS));
	assert_true(fd >= 0);
	assert_int_equal(bpf_link_detach(fd), 0);
	close(fd);
	/* the XDP program replaced by one around other maps */
	loader_sizes_default(&sz);
	assert_int_equal(loader_load(&other, &sz, NULL, &d), 0);
	assert_int_equal(attach_update(pin_of(&a, SPEE_PROG_XDP), loader_prog_fd(&other, SPEE_PROG_XDP)),
			 0);
	/* a staging pin left by a process that died while moving a cgroup link: a link of its own */
	assert_int_equal(pindir_staging(stray, sizeof(stray), pin_of(&a, SPEE_PROG_CONNECT4)), 0);
	assert_int_equal(attach_cgroup(loader_prog_fd(&other, SPEE_PROG_CONNECT4),
				       loader_attach_type(SPEE_PROG_CONNECT4), "connect4", cgroup, stray),
			 0);
	loader_close(&other);
	assert_int_equal(cgroup_programs(), cgroup_hooks()); /* egress gone, the stray one */
	links_assessment_free(&a);
	a = assess(inst);
	assert_int_equal(a.detached, 1);
	assert_int_equal(a.foreign, 1);
	assert_int_equal(a.stray, 1);
	assert_false(links_settled(&a));
	links_assessment_free(&a);

	out = apply(inst, FX_SWITCHED);
	assert_int_equal(out.attached, 1);
	assert_int_equal(out.replaced, 1);
	assert_int_equal(out.detached, 1); /* the stray link */
	a = assess(inst);
	assert_true(links_settled(&a));
	assert_int_equal(a.stray, 0);
	links_assessment_free(&a);
	assert_int_equal(cgroup_programs(), cgroup_hooks());
	diags_free(&d);
	close_inst(inst);
}

/*
 * An interface judged one way only is not enforced: without its tc egress
 * filter (removed behind the instance's back), the instance is not whole,
 * and the next apply puts the filter back beside the link it leaves alone.
 */
static void an_interface_without_its_tc_filter_is_missing_a_hook(void **state)
{
	struct instance *inst = open_as(INSTANCE_CREATE);
	struct links_assessment a;
	struct apply_outcome out;
	uint32_t xdp_link, tc_prog = 0;

	(void)state;
	a = assess(inst);
	assert_true(links_whole(&a));
	xdp_link = link_id_of(&a, SPEE_PROG_XDP);
	links_assessment_free(&a);
	assert_int_equal(ifaces_tc_detach(if_nametoindex(IFACE)), 0);
	a = assess(inst);
	assert_int_equal(a.missing, 1);
	assert_false(links_whole(&a));
	links_assessment_free(&a);

	out = apply(inst, FX_MAIN);
	assert_int_equal(out.attached, 1);
	assert_int_equal(out.replaced + out.detached, 0);
	a = assess(inst);
	assert_true(links_settled(&a));
	assert_int_equal(link_id_of(&a, SPEE_PROG_XDP), xdp_link);
	links_assessment_free(&a);
	assert_int_equal(ifaces_tc_query(if_nametoindex(IFACE), &tc_prog), 0);
	assert_int_not_equal(tc_prog, 0);
	close_inst(inst);
}

static void a_handle_kept_reopens_only_the_maps_another_process_replaced(void **state)
{
	struct instance *kept = open_as(INSTANCE_READ), *other;
	struct spee_map_fds before = kept->maps;
	uint32_t ids[SPEE_MAP_COUNT];
	struct diags d = {};

	(void)state;
	memcpy(ids, kept->map_id, sizeof(ids));
	instance_release(kept);
	other = open_as(INSTANCE_WRITE);
	assert_int_equal(grow_policy_maps(other, 100000, 100, &d), 0);
	close_inst(other);
	assert_int_equal(instance_relock(kept, &d), 0);
	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		bool grown = i == SPEE_MAP_EXACT || i == SPEE_MAP_PREFIX;

		assert_int_equal(kept->map_id[i] != ids[i], grown);
		if (!grown)
			assert_int_equal(kept->maps.fd[i], before.fd[i]); /* the very same fd */
	}
	diags_free(&d);
	close_inst(kept);
}

static void a_create_that_died_halfway_is_repaired_by_the_next_apply(void **state)
{
	struct instance *inst = open_as(INSTANCE_WRITE);
	struct apply_outcome out;
	struct links_assessment a;
	struct diags d = {};
	char path[256];
	int fd;

	(void)state;
	/* what a create killed after pinning its maps, before any link, leaves */
	assert_int_equal(links_remove_all(inst), cgroup_hooks() + 1);
	close_inst(inst);
	assert_int_equal(cgroup_programs(), 0);
	inst = open_as(INSTANCE_CREATE);
	assert_true(inst->exists);
	out = apply_on(inst, FX_MAIN, false); /* --iface all: every up interface */
	assert_false(out.created);
	/* the cgroup hooks, and XDP and the tc filter on both ends of the test's veth */
	assert_int_equal(out.attached, cgroup_hooks() + 2 * IFACE_HOOKS);
	a = assess(inst);
	assert_true(links_settled(&a));
	assert_int_not_equal(link_id_of(&a, SPEE_PROG_XDP), 0);
	links_assessment_free(&a);
	/* what one killed while pinning leaves: a partial maps-new, no maps */
	assert_int_equal(detach_instance(inst, &d), 0);
	close_inst(inst);
	assert_int_equal(pindir_mkdir(pin_dir), 0);
	assert_int_equal(pindir_maps_staging_dir(path, sizeof(path), pin_dir), 0);
	assert_int_equal(pindir_mkdir(path), 0);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "spee_rt", 4, 8, 1, NULL);
	assert_true(fd >= 0);
	strcat(path, "/spee_rt");
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	close(fd);
	inst = open_as(INSTANCE_CREATE);
	assert_false(inst->exists);
	out = apply(inst, FX_MAIN);
	assert_true(out.created);
	assert_int_not_equal(access(path, F_OK), 0);
	diags_free(&d);
	close_inst(inst);
}

static void detach_leaves_nothing(void **state)
{
	struct instance *inst = open_as(INSTANCE_WRITE);
	struct diags d = {};
	uint32_t tc_prog = 1;

	(void)state;
	assert_int_equal(detach_instance(inst, &d), 0);
	close_inst(inst);
	assert_int_not_equal(access(pin_dir, F_OK), 0);
	assert_int_equal(cgroup_programs(), 0);
	/* the interfaces' tc egress filters went with their links */
	assert_int_equal(ifaces_tc_query(if_nametoindex(IFACE), &tc_prog), 0);
	assert_int_equal(tc_prog, 0);
	assert_int_equal(instance_open(pin_dir, INSTANCE_READ, &inst, &d), -ENOENT);
	assert_non_null(strstr(d.v[d.n - 1].msg, "no instance is pinned at"));
	diags_free(&d);
}

static int group_setup(void **state)
{
	char root[256];
	struct stat st;

	(void)state;
	if (stat("/sys/fs/bpf", &st) || attach_cgroup2_root(root, sizeof(root))) {
		fprintf(stderr, "needs bpffs at /sys/fs/bpf and a cgroup2 mount\n");
		return -1;
	}
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/spk-inst-%d", getpid());
	snprintf(cgroup, sizeof(cgroup), "%s/spk-inst-%d", root, getpid());
	if (mkdir(cgroup, 0755) || bpfenv_netns(IFACE, "spe-ib", NULL, NULL) < 0)
		return -1;
	loader_set_verbose(getenv("SPEE_VERBOSE") != NULL);
	return 0;
}

static int group_teardown(void **state)
{
	struct instance *inst;

	(void)state;
	if (!instance_open(pin_dir, INSTANCE_WRITE, &inst, NULL)) {
		detach_instance(inst, NULL);
		instance_close(inst);
	}
	rmdir(cgroup);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(a_new_instance_is_pinned_whole_and_every_hook_attached, close_handles),
		cmocka_unit_test_teardown(an_update_writes_in_place_and_touches_no_link, close_handles),
		cmocka_unit_test_teardown(reconcile_attaches_what_is_detached_and_replaces_what_is_foreign, close_handles),
		cmocka_unit_test_teardown(an_interface_without_its_tc_filter_is_missing_a_hook, close_handles),
		cmocka_unit_test_teardown(a_handle_kept_reopens_only_the_maps_another_process_replaced, close_handles),
		cmocka_unit_test_teardown(a_create_that_died_halfway_is_repaired_by_the_next_apply, close_handles),
		cmocka_unit_test_teardown(detach_leaves_nothing, close_handles),
	};

	return cmocka_run_group_tests_name("instance", tests, group_setup, group_teardown);
}
