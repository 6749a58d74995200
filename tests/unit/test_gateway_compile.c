// SPDX-License-Identifier: GPL-2.0-only
/*
 * Gateway mode's compile (src/policy/gateway.c) and image
 * (src/kernel/maps_gateway.c, maps_image.c): every inventory host compiled,
 * hosts of the same entries sharing a policy id, host indexes in inventory
 * order, entries keyed by policy id with tcp/udp ANY as /0 trie entries and
 * no port-table bits, no host-own entries, the ethertypes once. No kernel
 * calls: the maps themselves are tests/bpf/test_gateway_apply.c
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "gateway.h"
#include "maps.h"
#include "maps_gateway.h"

/*
 * cas1 and cas2 hold the same role and nothing names either alone: one
 * policy. cas3 is named by a site rule of its own: another. 198.19.0.0/24
 * names all three CAS on the `from` side of an egress rule.
 */
static const char yaml[] = "hosts:\n"
			   "  - {name: mgmt1, roles: [MGMT], addresses: [198.18.0.10]}\n"
			   "  - {name: cas1, roles: [CAS], addresses: [198.18.0.11, \"fd00:5e::11\"]}\n"
			   "  - {name: cas2, roles: [CAS], addresses: [198.18.0.12]}\n"
			   "  - {name: cas3, roles: [CAS], addresses: [198.18.0.13]}\n"
			   "  - {name: ih1, roles: [IH], addresses: [198.18.0.21]}\n"
			   "networks:\n"
			   "  ADM: [198.18.9.0/24]\n"
			   "rules:\n"
			   "  - {id: backup-agent, port: 10000, from: [198.18.9.60], to: [cas3]}\n"
			   "resolvers: [198.19.2.53]\n"
			   "ethertypes: [lldp]\n";

struct fx {
	struct config *cfg;
	struct gateway_policy *g;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct diags d = { 0 };

	assert_non_null(f);
	assert_int_equal(config_parse("gw.yaml", yaml, sizeof(yaml) - 1, &f->cfg, &d), 0);
	assert_int_equal(gateway_compile(f->cfg, NULL, &f->g, &d), 0);
	diags_free(&d);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	gateway_free(f->g);
	config_free(f->cfg);
	free(f);
	return 0;
}

static const struct gateway_host *host_named(const struct gateway_policy *g, const char *name)
{
	for (size_t h = 0; h < g->n_hosts; h++)
		if (!strcmp(g->hosts[h].host->name, name))
			return &g->hosts[h];
	fail_msg("no host %s", name);
	return NULL;
}

static void every_host_is_compiled_and_numbered_in_inventory_order(void **state)
{
	const struct fx *f = *state;
	static const char *const order[] = { "mgmt1", "cas1", "cas2", "cas3", "ih1" };

	assert_int_equal(f->g->n_hosts, 5);
	for (size_t h = 0; h < 5; h++) {
		assert_string_equal(f->g->hosts[h].host->name, order[h]);
		assert_int_equal(f->g->hosts[h].index, h + 1);
		assert_non_null(f->g->hosts[h].p);
		assert_ptr_equal(f->g->hosts[h].p->host, f->g->hosts[h].host);
	}
}

static void hosts_of_the_same_entries_share_a_policy_id(void **state)
{
	const struct fx *f = *state;
	const struct gateway_host *cas1 = host_named(f->g, "cas1"), *cas2 = host_named(f->g, "cas2");
	const struct gateway_host *cas3 = host_named(f->g, "cas3"), *mgmt = host_named(f->g, "mgmt1");
	const struct gateway_host *ih = host_named(f->g, "ih1");

	/* ids 1.. in the order of each policy's first host */
	assert_int_equal(f->g->n_policies, 4);
	assert_int_equal(mgmt->policy, 1);
	assert_int_equal(cas1->policy, 2);
	assert_int_equal(cas2->policy, 2);
	assert_int_equal(cas3->policy, 3);
	assert_int_equal(ih->policy, 4);
	assert_ptr_equal(gateway_policy_of(f->g, 2), cas1->p);
	/* cas1 and cas2 differ in their own addresses only: those are not compared */
	assert_true(gateway_same_entries(cas1->p, cas2->p));
	assert_false(gateway_same_entries(cas1->p, cas3->p));
	assert_false(gateway_same_entries(cas1->p, mgmt->p));
}

static bool has_local_entry(const struct policy *p, const char *addr)
{
	struct prefix a;

	assert_int_equal(prefix_parse(addr, &a), PREFIX_OK);
	for (size_t i = 0; i < p->n_entries; i++)
		if (p->entries[i].proto == SPEE_PROTO_LOCAL && !prefix_cmp(&p->entries[i].prefix, &a))
			return true;
	return false;
}

static void a_host_compiles_as_a_host_that_is_not_this_machine(void **state)
{
	const struct fx *f = *state;
	const struct gateway_host *cas1 = host_named(f->g, "cas1"), *cas2 = host_named(f->g, "cas2");

	/* every inventory address of a host is the host (no local addresses known) */
	assert_true(has_local_entry(cas1->p, "198.18.0.11"));
	assert_true(has_local_entry(cas1->p, "fd00:5e::11"));
	assert_false(has_local_entry(cas1->p, "198.18.0.12"));
	assert_true(has_local_entry(cas2->p, "198.18.0.12"));
}

static void the_fleet_enforces_every_rule_in_the_directions_any_host_does(void **state)
{
	const struct fx *f = *state;
	int backup = policy_find_rule(&f->g->fleet, "backup-agent");

	assert_null(f->g->fleet.host);
	assert_ptr_equal(gateway_of(&f->g->fleet), f->g);
	assert_null(gateway_of(f->g->hosts[0].p));
	assert_true(backup >= 0);
	/* only cas3 enforces it, as ingress; the fleet does too */
	assert_int_equal(f->g->fleet.rules[backup].dirs, 1u << SPEE_DIR_INGRESS);
	assert_int_equal(host_named(f->g, "cas1")->p->rules[backup].dirs, 0);
	for (size_t r = 0; r < f->g->fleet.n_rules; r++) {
		uint8_t any = 0;

		for (size_t h = 0; h < f->g->n_hosts; h++)
			any |= f->g->hosts[h].p->rules[r].dirs;
		assert_int_equal(f->g->fleet.rules[r].dirs, any);
		assert_null(f->g->fleet.rules[r].peers_text[0]);
	}
}

/* The image of slot 1, counter slots assigned from an empty table. */
static void image_of(const struct fx *f, struct maps_image *img, uint16_t **slot_of_rule)
{
	struct spee_rule_meta *cur = calloc(SPEE_MAX_RULES, sizeof(*cur));
	struct spee_rule_meta *next = calloc(SPEE_MAX_RULES, sizeof(*next));
	bool *fresh = calloc(SPEE_MAX_RULES, sizeof(*fresh));
	struct diags d = { 0 };

	*slot_of_rule = calloc(f->g->fleet.n_rules, sizeof(**slot_of_rule));
	assert_non_null(cur);
	assert_non_null(next);
	assert_non_null(fresh);
	assert_non_null(*slot_of_rule);
	assert_int_equal(maps_assign_slots(cur, &f->g->fleet, next, *slot_of_rule, fresh, &d), 0);
	assert_int_equal(maps_gateway_image(f->g, NULL, *slot_of_rule, 1, img, &d), 0);
	assert_int_equal(d.n, 0);
	free(cur);
	free(next);
	free(fresh);
}

static const struct maps_prefix_entry *find_prefix(const struct maps_image *img, uint8_t dir,
						   uint8_t proto, uint16_t port, uint16_t policy,
						   const char *addr, uint8_t len)
{
	struct spee_prefix_key k = { .prefixlen = SPEE_PREFIX_FIXED_BITS + len,
				     .slot = img->slot,
				     .dir = dir,
				     .proto = proto,
				     .port = htons(port),
				     .policy = policy };

	if (inet_pton(AF_INET, addr, k.addr) == 1)
		k.family = SPEE_FAMILY_V4;
	else
		assert_int_equal(inet_pton(AF_INET6, addr, k.addr), 1), k.family = SPEE_FAMILY_V6;
	for (size_t i = 0; i < img->n_prefix; i++)
		if (!memcmp(&img->prefix[i].key, &k, sizeof(k)))
			return &img->prefix[i];
	return NULL;
}

static void entries_carry_the_policy_id_and_any_is_a_slash_0(void **state)
{
	const struct fx *f = *state;
	uint16_t cas = host_named(f->g, "cas1")->policy, mgmt = host_named(f->g, "mgmt1")->policy;
	int https = policy_find_rule(&f->g->fleet, "cas-https");
	const struct maps_prefix_entry *e;
	struct maps_image img;
	uint16_t *slot_of_rule;

	image_of(f, &img, &slot_of_rule);
	/* no port table in gateway mode */
	assert_int_equal(img.n_port_used, 0);
	for (size_t i = 0; i < MAPS_SLOT_PORTS; i++)
		assert_int_equal(img.ports[i].any_rule[0] | img.ports[i].any_rule[1] |
					 img.ports[i].lookup[0] | img.ports[i].lookup[1],
				 0);
	/* tcp 443 from ANY to CAS: a /0 of CAS's policy, both families; not MGMT's */
	assert_true(https >= 0);
	e = find_prefix(&img, SPEE_DIR_INGRESS, IPPROTO_TCP, 443, cas, "0.0.0.0", 0);
	assert_non_null(e);
	assert_int_equal(e->v.reason, SPEE_REASON_RULE);
	assert_int_equal(e->v.rule, slot_of_rule[https]);
	assert_non_null(find_prefix(&img, SPEE_DIR_INGRESS, IPPROTO_TCP, 443, cas, "::", 0));
	assert_null(find_prefix(&img, SPEE_DIR_INGRESS, IPPROTO_TCP, 443, mgmt, "0.0.0.0", 0));
	assert_null(find_prefix(&img, SPEE_DIR_INGRESS, IPPROTO_TCP, 443, 0, "0.0.0.0", 0));
	for (size_t i = 0; i < img.n_prefix; i++) {
		assert_true(img.prefix[i].key.policy >= 1);
		assert_true(img.prefix[i].key.policy <= f->g->n_policies);
		assert_int_equal(img.prefix[i].key.slot, 1);
	}
	maps_image_free(&img);
	free(slot_of_rule);
}

static void no_own_address_entries_and_the_ethertypes_once(void **state)
{
	const struct fx *f = *state;
	size_t ethertypes = 0, shared = 0;
	uint16_t cas = host_named(f->g, "cas1")->policy;
	struct maps_image img;
	uint16_t *slot_of_rule;

	image_of(f, &img, &slot_of_rule);
	for (size_t i = 0; i < img.n_exact; i++) {
		const struct spee_rule_key *k = &img.exact[i].key;

		assert_int_not_equal(k->proto, SPEE_PROTO_LOCAL);
		if (k->proto == SPEE_PROTO_ETHERTYPE) {
			/* host-independent: policy 0, one per direction */
			assert_int_equal(k->policy, 0);
			assert_int_equal(img.exact[i].v.reason, SPEE_REASON_NON_IP);
			ethertypes++;
			continue;
		}
		assert_true(k->policy >= 1 && k->policy <= f->g->n_policies);
		shared += k->policy == cas;
	}
	assert_int_equal(ethertypes, SPEE_DIR_MAX);
	/* cas1's and cas2's entries are written once, under their shared id */
	assert_true(shared > 0);
	maps_image_free(&img);
	free(slot_of_rule);
}

static void the_counts_bound_the_image(void **state)
{
	const struct fx *f = *state;
	struct maps_gateway_counts c;
	struct maps_image img;
	uint16_t *slot_of_rule;
	size_t rule_ctrs = 0;

	image_of(f, &img, &slot_of_rule);
	maps_gateway_count(f->g, NULL, &c);
	assert_true(c.exact >= img.n_exact);
	assert_true(c.prefix >= img.n_prefix);
	assert_int_equal(c.host_addrs, 6);
	for (size_t h = 0; h < f->g->n_hosts; h++)
		for (size_t r = 0; r < f->g->hosts[h].p->n_rules; r++)
			rule_ctrs += (size_t)__builtin_popcount(f->g->hosts[h].p->rules[r].dirs);
	assert_int_equal(c.rule_ctrs, rule_ctrs);
	assert_true(rule_ctrs > f->g->n_hosts);
	maps_image_free(&img);
	free(slot_of_rule);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_host_is_compiled_and_numbered_in_inventory_order),
		cmocka_unit_test(hosts_of_the_same_entries_share_a_policy_id),
		cmocka_unit_test(a_host_compiles_as_a_host_that_is_not_this_machine),
		cmocka_unit_test(the_fleet_enforces_every_rule_in_the_directions_any_host_does),
		cmocka_unit_test(entries_carry_the_policy_id_and_any_is_a_slash_0),
		cmocka_unit_test(no_own_address_entries_and_the_ethertypes_once),
		cmocka_unit_test(the_counts_bound_the_image),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
