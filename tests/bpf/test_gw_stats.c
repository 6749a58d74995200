// SPDX-License-Identifier: GPL-2.0-only
/*
 * The stats reader on a gateway's maps (kernel/counters.c, render/stats.c)
 * of a real loaded object: the test writes what gateway mode's user space
 * and programs write (host names in spee_gw_names, per-CPU counters in
 * spee_gw_ctr: a zero entry for every (host, rule, direction) enforced, and
 * drops per host), and reads them back as `stats` does: summed over the
 * CPUs, more entries than the reader's first allocation, leftovers of an
 * earlier policy left out, and an instance without host names read as host
 * mode, exactly as before.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "config.h"
#include "counters.h"
#include "instance.h"
#include "loader.h"
#include "maps.h"
#include "policy.h"
#include "stats.h"

static const char fleet[] = "hosts:\n"
			    "  - {name: mgmt1, roles: [MGMT], addresses: [198.18.0.10]}\n"
			    "  - {name: cas1, roles: [CAS], addresses: [198.18.0.11]}\n"
			    "  - {name: ih1, roles: [IH], addresses: [198.18.0.21]}\n"
			    "networks: {ADM: [198.18.9.0/24]}\n";

#define N_HOSTS 40 /* hosts gw-1..gw-40: more counters than the reader first makes room for */

struct fixture {
	struct loader l;
	struct instance inst; /* a handle on the loaded object's maps, as instance_open() makes */
	int ncpu;
	uint16_t slots[SPEE_MAX_RULES]; /* the enforced rule slots */
	uint8_t dirs[SPEE_MAX_RULES]; /* their directions (bits) */
	size_t n_slots;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct counter_snapshot *s = calloc(1, sizeof(*s));
	struct loader_sizes sz;
	struct config *cfg;
	struct policy *p;
	struct diags d = { 0 };
	struct maps_apply_opts opts = { 0 };
	struct maps_apply_result res;

	assert_non_null(f);
	assert_non_null(s);
	loader_sizes_default(&sz);
	assert_int_equal(loader_load(&f->l, &sz, NULL, &d), 0);
	/* a policy, so that spee_rules names rules and spee_rt has a generation */
	assert_int_equal(config_parse("gw.yaml", fleet, strlen(fleet), &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, "mgmt1", NULL, &p, &d), 0);
	assert_int_equal(maps_apply(&f->l.maps, p, NULL, &opts, &res, &d), 0);
	policy_free(p);
	config_free(cfg);
	diags_free(&d);

	f->inst.maps = f->l.maps;
	f->inst.lock_fd = -1;
	pthread_mutex_init(&f->inst.mu, NULL);
	f->ncpu = libbpf_num_possible_cpus();
	assert_true(f->ncpu > 0);
	assert_int_equal(counters_read(&f->inst, s), 0);
	for (uint16_t slot = 1; slot < SPEE_MAX_RULES; slot++)
		if (s->meta[slot].dirs) {
			f->slots[f->n_slots] = slot;
			f->dirs[f->n_slots++] = s->meta[slot].dirs;
		}
	assert_true(f->n_slots >= 5);
	counters_release(s);
	free(s);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pthread_mutex_destroy(&f->inst.mu);
	loader_close(&f->l);
	free(f);
	return 0;
}

static void put_name(struct fixture *f, uint32_t host, const char *name)
{
	struct spee_gw_name v = { 0 };

	snprintf(v.name, sizeof(v.name), "%s", name);
	assert_int_equal(bpf_map_update_elem(f->l.maps.fd[SPEE_MAP_GW_NAMES], &host, &v, BPF_ANY),
			 0);
}

/* A counter as the programs leave it: packets on CPU 0 and bytes on the last CPU, the rest on 1. */
static void put_ctr(struct fixture *f, uint16_t host, uint16_t rule, uint8_t dir, uint8_t reason,
		    uint64_t packets, uint64_t bytes)
{
	struct spee_gw_ctr_key k = { .host = host, .rule = rule, .dir = dir, .reason = reason };
	struct spee_counter *v = calloc((size_t)f->ncpu, sizeof(*v));

	assert_non_null(v);
	if (f->ncpu == 1) {
		v[0] = (struct spee_counter){ packets, bytes };
	} else {
		v[0].packets = packets / 2;
		v[f->ncpu - 1].packets = packets - packets / 2;
		v[f->ncpu - 1].bytes = bytes;
	}
	assert_int_equal(bpf_map_update_elem(f->l.maps.fd[SPEE_MAP_GW_CTR], &k, v, BPF_ANY), 0);
	free(v);
}

static void host_mode_reads_as_before(void **state)
{
	struct fixture *f = *state;
	struct counter_snapshot *s = calloc(1, sizeof(*s));
	struct json_object *root, *v;

	assert_non_null(s);
	/* counters without names (none written yet): not a gateway */
	put_ctr(f, 1, f->slots[0], SPEE_DIR_INGRESS, SPEE_REASON_RULE, 3, 30);
	assert_int_equal(counters_read(&f->inst, s), 0);
	assert_false(snapshot_is_gateway(s));
	assert_int_equal(s->gw.n, 0);
	root = stats_json(s);
	assert_false(json_object_object_get_ex(root, "gateway", &v));
	json_object_put(root);
	counters_release(s);
	free(s);
	assert_int_equal(bpf_map_delete_elem(f->l.maps.fd[SPEE_MAP_GW_CTR],
					     &(struct spee_gw_ctr_key){ .host = 1,
									.rule = f->slots[0],
									.dir = SPEE_DIR_INGRESS,
									.reason = SPEE_REASON_RULE }),
			 0);
}

static void a_gateways_counters_are_read_per_host(void **state)
{
	struct fixture *f = *state;
	struct counter_snapshot *s = calloc(1, sizeof(*s));
	struct json_object *root, *rules, *drops, *hosts, *v;
	size_t want_rules = 0, host_rules = 0, host_drops = 0;
	char name[32];

	assert_non_null(s);
	for (uint16_t h = 1; h <= N_HOSTS; h++) {
		snprintf(name, sizeof(name), "gw-%u", h);
		put_name(f, h, name);
		/* every host enforces every rule slot in each of its directions, zeros included */
		for (size_t i = 0; i < f->n_slots; i++)
			for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++)
				if (f->dirs[i] & (1u << dir)) {
					put_ctr(f, h, f->slots[i], dir, SPEE_REASON_RULE,
						h == 7 && i == 0 ? 1001 : 0, h == 7 && i == 0 ? 64064 : 0);
					want_rules++;
				}
	}
	/* a drop of host 7, one of host 40 going out */
	put_ctr(f, 7, SPEE_RULE_NONE, SPEE_DIR_INGRESS, SPEE_REASON_NO_RULE, 5, 300);
	put_ctr(f, 40, SPEE_RULE_NONE, SPEE_DIR_EGRESS, SPEE_REASON_FRAGMENT, 2, 3000);
	/* leftovers: a host index without a name, a rule slot no longer enforced */
	put_ctr(f, 41, f->slots[0], SPEE_DIR_INGRESS, SPEE_REASON_RULE, 9, 9);
	put_ctr(f, 1, SPEE_MAX_RULES - 1, SPEE_DIR_INGRESS, SPEE_REASON_RULE, 9, 9);

	assert_int_equal(counters_read(&f->inst, s), 0);
	assert_true(snapshot_is_gateway(s));
	assert_int_equal(s->gw.n_hosts, N_HOSTS);
	assert_string_equal(counter_gw_host_name(s, 7), "gw-7");
	assert_null(counter_gw_host_name(s, 41));
	assert_int_equal(s->gw.n, want_rules + 4);
	{
		struct spee_gw_ctr_key k = { .host = 7, .rule = f->slots[0],
					     .dir = (f->dirs[0] & 1) ? SPEE_DIR_INGRESS : SPEE_DIR_EGRESS,
					     .reason = SPEE_REASON_RULE };
		const struct counter_gw_entry *e = counter_gw_find(s, &k);

		assert_non_null(e);
		assert_int_equal(e->c.packets, 1001); /* summed over the CPUs */
		assert_int_equal(e->c.bytes, 64064);
	}

	root = stats_json(s);
	assert_true(json_object_object_get_ex(root, "gateway", &v));
	assert_true(json_object_object_get_ex(root, "hosts", &hosts));
	assert_int_equal(json_object_array_length(hosts), N_HOSTS);
	assert_true(json_object_object_get_ex(root, "rules", &rules));
	/* one entry per (host, rule, direction); the leftovers are not there */
	assert_int_equal(json_object_array_length(rules), want_rules);
	for (size_t i = 0; i < json_object_array_length(rules); i++) {
		struct json_object *r = json_object_array_get_idx(rules, i), *id;

		assert_true(json_object_object_get_ex(r, "host", &v));
		assert_true(json_object_object_get_ex(r, "id", &id));
		if (!strcmp(json_object_get_string(v), "gw-7") &&
		    !strcmp(json_object_get_string(id), s->meta[f->slots[0]].id) &&
		    json_object_object_get_ex(r, "packets", &v) && json_object_get_int64(v) == 1001)
			host_rules++;
	}
	assert_int_equal(host_rules, 1);
	assert_true(json_object_object_get_ex(root, "drops", &drops));
	for (size_t i = 0; i < json_object_array_length(drops); i++) {
		struct json_object *d = json_object_array_get_idx(drops, i), *h, *p;

		if (!json_object_object_get_ex(d, "host", &h))
			continue;
		assert_true(json_object_object_get_ex(d, "packets", &p));
		if (json_object_get_int64(p))
			host_drops += (size_t)json_object_get_int64(p);
	}
	assert_int_equal(host_drops, 5 + 2);
	json_object_put(root);
	counters_release(s);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(host_mode_reads_as_before),
		cmocka_unit_test(a_gateways_counters_are_read_per_host),
	};

	return cmocka_run_group_tests_name("gw_stats", tests, setup, teardown);
}
