// SPDX-License-Identifier: GPL-2.0-only
/*
 * maps_image.c and the loader's sizes: counter slot assignment and the
 * image of one policy slot, as pure functions (no kernel calls); the key
 * a policy entry gets in spee_exact and spee_prefix; the sizes a policy
 * asks of the maps. Writing images into loaded maps is tests/bpf/test_maps.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "loader.h"
#include "maps.h"

/* ---- a tiny policy builder for image tests ---- */

struct mini {
	struct policy p;
	struct policy_rule rules[8];
	struct policy_entry entries[16];
};

static void mini_init(struct mini *m)
{
	memset(m, 0, sizeof(*m));
	m->p.rules = m->rules;
	m->p.entries = m->entries;
}

static uint16_t mini_rule(struct mini *m, const char *id, uint8_t dirs)
{
	struct policy_rule *r = &m->rules[m->p.n_rules];

	snprintf(r->id, sizeof(r->id), "%s", id);
	r->proto = IPPROTO_TCP;
	r->port_lo = r->port_hi = 443;
	r->dirs = dirs;
	r->matrix_index = -1;
	return (uint16_t)m->p.n_rules++;
}

static void mini_entry(struct mini *m, uint8_t dir, uint8_t proto, uint16_t lo, uint16_t hi,
		       const char *peer, uint8_t reason, uint16_t rule)
{
	struct policy_entry *e = &m->entries[m->p.n_entries++];

	e->dir = dir;
	e->proto = proto;
	e->port_lo = lo;
	e->port_hi = hi;
	e->reason = reason;
	e->rule = rule;
	if (prefix_parse(peer, &e->prefix) == PREFIX_OK) {
		e->peer_kind = ENTRY_PEER_PREFIX;
	} else {
		e->peer_kind = ENTRY_PEER_NAME;
		e->name = peer;
	}
}

static const struct maps_exact_entry *find_exact(const struct maps_image *img, uint8_t dir,
						 uint8_t proto, uint16_t port, const char *addr)
{
	struct spee_rule_key k = { .slot = img->slot, .dir = dir, .proto = proto,
				   .port = htons(port) };

	if (inet_pton(AF_INET, addr, k.addr) == 1) {
		k.family = SPEE_FAMILY_V4;
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, k.addr), 1);
		k.family = SPEE_FAMILY_V6;
	}
	for (size_t i = 0; i < img->n_exact; i++)
		if (!memcmp(&img->exact[i].key, &k, sizeof(k)))
			return &img->exact[i];
	return NULL;
}

static const struct spee_port_info *port_info(const struct maps_image *img, uint8_t dir,
					      uint32_t l4, uint16_t port)
{
	return &img->ports[spee_port_index(0, dir, l4, port)];
}

/* ---- step 1: slots ---- */

static struct spee_rule_meta *table_new(void)
{
	struct spee_rule_meta *t = calloc(SPEE_MAX_RULES, sizeof(*t));

	assert_non_null(t);
	return t;
}

static void new_rules_take_never_used_slots_in_rule_order(void **state)
{
	struct spee_rule_meta *cur = table_new(), *next = table_new();
	bool fresh[SPEE_MAX_RULES];
	uint16_t slots[8];
	struct diags d = {};
	struct mini m;

	(void)state;
	mini_init(&m);
	mini_rule(&m, "a", 1);
	mini_rule(&m, "not-here", 0);
	mini_rule(&m, "b", 2);
	assert_int_equal(maps_assign_slots(cur, &m.p, next, slots, fresh, &d), 0);
	assert_int_equal(slots[0], 1);
	assert_int_equal(slots[1], SPEE_RULE_NONE);
	assert_int_equal(slots[2], 2);
	assert_true(fresh[1] && fresh[2]);
	assert_string_equal(next[1].id, "a");
	assert_int_equal(next[2].dirs, 2);
	free(cur);
	free(next);
}

static void a_rule_keeps_the_slot_holding_its_id(void **state)
{
	struct spee_rule_meta *cur = table_new(), *next = table_new();
	bool fresh[SPEE_MAX_RULES];
	uint16_t slots[8];
	struct diags d = {};
	struct mini m;

	(void)state;
	snprintf(cur[7].id, sizeof(cur[7].id), "b");
	cur[7].dirs = 1;
	mini_init(&m);
	mini_rule(&m, "a", 1);
	mini_rule(&m, "b", 1);
	assert_int_equal(maps_assign_slots(cur, &m.p, next, slots, fresh, &d), 0);
	assert_int_equal(slots[1], 7);
	assert_false(fresh[7]);
	assert_int_equal(slots[0], 1);
	free(cur);
	free(next);
}

static void vanished_ids_keep_their_slot_until_released(void **state)
{
	struct spee_rule_meta *cur = table_new(), *next = table_new();
	bool fresh[SPEE_MAX_RULES];
	uint16_t slots[8];
	struct diags d = {};
	struct mini m;

	(void)state;
	snprintf(cur[1].id, sizeof(cur[1].id), "gone");
	cur[1].dirs = 1;
	mini_init(&m);
	mini_rule(&m, "new", 1);
	assert_int_equal(maps_assign_slots(cur, &m.p, next, slots, fresh, &d), 0);
	assert_int_equal(slots[0], 2); /* slot 1 still counts for the active policy */
	assert_int_equal(next[1].dirs, 1);
	maps_release_slots(next, &m.p, slots);
	assert_int_equal(next[1].dirs, 0);
	assert_string_equal(next[1].id, "gone"); /* so that it may come back to its slot */
	assert_int_equal(maps_find_rule_slot(next, "gone"), 0);
	assert_int_equal(maps_find_rule_slot(next, "new"), 2);
	free(cur);
	free(next);
}

static void a_returning_id_finds_its_freed_slot(void **state)
{
	struct spee_rule_meta *cur = table_new(), *next = table_new();
	bool fresh[SPEE_MAX_RULES];
	uint16_t slots[8];
	struct diags d = {};
	struct mini m;

	(void)state;
	snprintf(cur[5].id, sizeof(cur[5].id), "back");
	mini_init(&m);
	mini_rule(&m, "back", 1);
	assert_int_equal(maps_assign_slots(cur, &m.p, next, slots, fresh, &d), 0);
	assert_int_equal(slots[0], 5);
	assert_false(fresh[5]);
	free(cur);
	free(next);
}

static void a_freed_slot_given_to_another_id_is_fresh(void **state)
{
	struct spee_rule_meta *cur = table_new(), *next = table_new();
	bool fresh[SPEE_MAX_RULES];
	uint16_t slots[8];
	struct diags d = {};
	struct mini m;

	(void)state;
	/* every slot has been used; slot 9 is free, held last by another id */
	for (int s = 1; s < SPEE_MAX_RULES; s++) {
		snprintf(cur[s].id, sizeof(cur[s].id), "r%d", s);
		cur[s].dirs = s == 9 ? 0 : 1;
	}
	mini_init(&m);
	mini_rule(&m, "newcomer", 1);
	assert_int_equal(maps_assign_slots(cur, &m.p, next, slots, fresh, &d), 0);
	assert_int_equal(slots[0], 9);
	assert_true(fresh[9]);
	assert_string_equal(next[9].id, "newcomer");
	free(cur);
	free(next);
}

static void running_out_of_slots_is_enospc(void **state)
{
	struct spee_rule_meta *cur = table_new(), *next = table_new();
	bool fresh[SPEE_MAX_RULES];
	uint16_t slots[8];
	struct diags d = {};
	struct mini m;

	(void)state;
	for (int s = 1; s < SPEE_MAX_RULES; s++) {
		snprintf(cur[s].id, sizeof(cur[s].id), "r%d", s);
		cur[s].dirs = 1;
	}
	mini_init(&m);
	mini_rule(&m, "one-too-many", 1);
	assert_int_equal(maps_assign_slots(cur, &m.p, next, slots, fresh, &d), -ENOSPC);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.v[0].msg, "one-too-many"));
	diags_free(&d);
	free(cur);
	free(next);
}

/* ---- step 2: images ---- */

static void colliding_exact_entries_keep_the_first(void **state)
{
	uint16_t slots[8] = { 3, 4 };
	struct maps_image img;
	struct diags d = {};
	struct mini m;
	const struct maps_exact_entry *e;

	(void)state;
	mini_init(&m);
	mini_rule(&m, "first", 1);
	mini_rule(&m, "second", 1);
	mini_entry(&m, 0, IPPROTO_TCP, 443, 443, "198.18.3.7", SPEE_REASON_RULE, 0);
	mini_entry(&m, 0, IPPROTO_TCP, 443, 443, "198.18.3.7", SPEE_REASON_RULE, 1);
	assert_int_equal(maps_build_image(&m.p, NULL, slots, 1, &img, &d), 0);
	assert_int_equal(img.n_exact, 1);
	e = find_exact(&img, 0, IPPROTO_TCP, 443, "198.18.3.7");
	assert_non_null(e);
	assert_int_equal(e->v.rule, 3);
	assert_int_equal(e->v.reason, SPEE_REASON_RULE);
	assert_int_equal(e->key.slot, 1);
	assert_int_equal(port_info(&img, 0, SPEE_L4_TCP, 443)->lookup[SPEE_FAMILY_V4],
			 SPEE_LOOKUP_EXACT);
	maps_image_free(&img);
}

static void colliding_prefixes_and_any_keep_the_first(void **state)
{
	uint16_t slots[8] = { 3, 4 };
	struct maps_image img;
	struct diags d = {};
	struct mini m;
	const struct spee_port_info *pi;

	(void)state;
	mini_init(&m);
	mini_rule(&m, "first", 1);
	mini_rule(&m, "second", 1);
	mini_entry(&m, 0, IPPROTO_TCP, 443, 443, "198.18.3.0/24", SPEE_REASON_RULE, 0);
	mini_entry(&m, 0, IPPROTO_TCP, 443, 443, "198.18.3.0/24", SPEE_REASON_RULE, 1);
	mini_entry(&m, 0, IPPROTO_TCP, 443, 443, "0.0.0.0/0", SPEE_REASON_RULE, 0);
	mini_entry(&m, 0, IPPROTO_TCP, 443, 443, "0.0.0.0/0", SPEE_REASON_RULE, 1);
	mini_entry(&m, 0, IPPROTO_TCP, 443, 443, "::/0", SPEE_REASON_RULE, 1);
	assert_int_equal(maps_build_image(&m.p, NULL, slots, 0, &img, &d), 0);
	assert_int_equal(img.n_prefix, 1);
	assert_int_equal(img.prefix[0].v.rule, 3);
	assert_int_equal(img.prefix[0].key.prefixlen, SPEE_PREFIX_FIXED_BITS + 24);
	assert_int_equal(img.prefix[0].key.port, htons(443));
	pi = port_info(&img, 0, SPEE_L4_TCP, 443);
	assert_int_equal(pi->any_rule[SPEE_FAMILY_V4], 3);
	assert_int_equal(pi->any_rule[SPEE_FAMILY_V6], 4);
	assert_int_equal(pi->lookup[SPEE_FAMILY_V4], SPEE_LOOKUP_PREFIX);
	assert_int_equal(pi->lookup[SPEE_FAMILY_V6], 0);
	maps_image_free(&img);
}

/*
 * The image lists the port elements it sets, ascending and each once (the
 * cache and the slot's diff go by that list): every non-zero element, and
 * none that is zero.
 */
static void the_image_lists_exactly_the_ports_it_sets(void **state)
{
	uint16_t slots[8] = { 3, 4 };
	struct maps_image img;
	struct diags d = {};
	struct mini m;
	size_t listed = 0;

	(void)state;
	mini_init(&m);
	mini_rule(&m, "first", 1);
	mini_rule(&m, "second", 2);
	/* entries out of port order, a range, /0, a prefix and hosts of both families */
	mini_entry(&m, 1, IPPROTO_UDP, 8000, 8002, FX_MS4, SPEE_REASON_RULE, 1);
	mini_entry(&m, 0, IPPROTO_TCP, 443, 443, "198.18.3.0/24", SPEE_REASON_RULE, 0);
	mini_entry(&m, 0, IPPROTO_TCP, 443, 443, FX_MS6, SPEE_REASON_RULE, 0);
	mini_entry(&m, 0, IPPROTO_TCP, 22, 22, "0.0.0.0/0", SPEE_REASON_RULE, 0);
	mini_entry(&m, 1, SPEE_PROTO_LOCAL, 0, 0, FX_HOST6, SPEE_REASON_LOOPBACK, 0);
	assert_int_equal(maps_build_image(&m.p, NULL, slots, 0, &img, &d), 0);
	assert_non_null(img.port_used);
	assert_int_equal(img.n_port_used, 3 + 1 + 1);
	for (uint32_t k = 0; k < MAPS_SLOT_PORTS; k++) {
		static const struct spee_port_info zero;
		bool set = memcmp(&img.ports[k], &zero, sizeof(zero)) != 0;

		if (listed < img.n_port_used && img.port_used[listed] == k) {
			assert_true(set);
			listed++;
		} else {
			assert_false(set);
		}
	}
	assert_int_equal(listed, img.n_port_used);
	maps_image_free(&img);
}

/* One key for both maps: a prefix key is the rule key of the same entry behind its length. */
static void a_prefix_key_is_the_exact_key_behind_a_length(void **state)
{
	uint16_t slots[8] = { 5 };
	struct maps_image img;
	struct diags d = {};
	struct mini m;

	(void)state;
	mini_init(&m);
	mini_rule(&m, "r", 2);
	mini_entry(&m, 1, IPPROTO_UDP, 514, 514, "fd00:5e::/64", SPEE_REASON_RULE, 0);
	mini_entry(&m, 1, IPPROTO_UDP, 514, 514, "fd00:5e::", SPEE_REASON_RULE, 0);
	assert_int_equal(maps_build_image(&m.p, NULL, slots, 1, &img, &d), 0);
	assert_int_equal(img.n_prefix, 1);
	assert_int_equal(img.n_exact, 1);
	assert_int_equal(img.prefix[0].key.prefixlen, SPEE_PREFIX_FIXED_BITS + 64);
	assert_memory_equal(&img.prefix[0].key.slot, &img.exact[0].key, sizeof(img.exact[0].key));
	assert_int_equal(img.exact[0].key.slot, 1);
	assert_int_equal(img.exact[0].key.dir, 1);
	assert_int_equal(img.exact[0].key.proto, IPPROTO_UDP);
	assert_int_equal(img.exact[0].key.family, SPEE_FAMILY_V6);
	assert_int_equal(img.exact[0].key.port, htons(514));
	maps_image_free(&img);
}

/* A prefix key holds the prefix's bits only, whatever the address behind it holds. */
static void a_prefix_key_is_masked_to_its_length(void **state)
{
	static const uint8_t want4[16] = { 198, 18, 0x30 };
	static const uint8_t want6[16] = { 0xfd, 0x00, 0x00, 0x5e, 0, 0, 0, 0xf8 };
	uint16_t slots[8] = { 5 };
	struct maps_image img;
	struct diags d = {};
	struct mini m;

	(void)state;
	mini_init(&m);
	mini_rule(&m, "r", 2);
	mini_entry(&m, 0, IPPROTO_TCP, 443, 443, "198.18.48.0/20", SPEE_REASON_RULE, 0);
	mini_entry(&m, 0, IPPROTO_TCP, 443, 443, "fd00:5e:0:f8::/61", SPEE_REASON_RULE, 0);
	/* host bits behind both prefixes, and bytes behind the IPv4 address */
	memset(m.entries[0].prefix.addr + 2, 0xff, sizeof(m.entries[0].prefix.addr) - 2);
	m.entries[0].prefix.addr[2] = 0x3f;
	memset(m.entries[1].prefix.addr + 8, 0xff, sizeof(m.entries[1].prefix.addr) - 8);
	m.entries[1].prefix.addr[7] = 0xff;
	assert_int_equal(maps_build_image(&m.p, NULL, slots, 1, &img, &d), 0);
	assert_int_equal(img.n_prefix, 2);
	assert_int_equal(img.prefix[0].key.family, SPEE_FAMILY_V4);
	assert_int_equal(img.prefix[0].key.prefixlen, SPEE_PREFIX_FIXED_BITS + 20);
	assert_memory_equal(img.prefix[0].key.addr, want4, sizeof(want4));
	assert_int_equal(img.prefix[1].key.family, SPEE_FAMILY_V6);
	assert_int_equal(img.prefix[1].key.prefixlen, SPEE_PREFIX_FIXED_BITS + 61);
	assert_memory_equal(img.prefix[1].key.addr, want6, sizeof(want6));
	maps_image_free(&img);
}

static void port_ranges_expand_port_by_port(void **state)
{
	uint16_t slots[8] = { 1 };
	size_t n_exact, n_prefix;
	struct maps_image img;
	struct diags d = {};
	struct mini m;

	(void)state;
	mini_init(&m);
	mini_rule(&m, "range", 1);
	mini_entry(&m, 0, IPPROTO_UDP, 8000, 8099, "198.18.9.0/24", SPEE_REASON_RULE, 0);
	mini_entry(&m, 0, IPPROTO_UDP, 8000, 8009, "198.18.9.9", SPEE_REASON_RULE, 0);
	maps_count_entries(&m.p, NULL, &n_exact, &n_prefix);
	assert_int_equal(n_prefix, 100);
	assert_int_equal(n_exact, 10);
	assert_int_equal(maps_build_image(&m.p, NULL, slots, 0, &img, &d), 0);
	assert_int_equal(img.n_prefix, 100);
	assert_int_equal(img.n_exact, 10);
	assert_int_equal(port_info(&img, 0, SPEE_L4_UDP, 8099)->lookup[0], SPEE_LOOKUP_PREFIX);
	assert_int_equal(port_info(&img, 0, SPEE_L4_UDP, 8009)->lookup[0],
			 SPEE_LOOKUP_PREFIX | SPEE_LOOKUP_EXACT);
	assert_int_equal(port_info(&img, 0, SPEE_L4_UDP, 8100)->lookup[0], 0);
	assert_int_equal(port_info(&img, 0, SPEE_L4_TCP, 8000)->lookup[0], 0);
	maps_image_free(&img);
}

static void names_stand_for_their_addresses_and_unresolved_ones_for_nothing(void **state)
{
	uint16_t slots[8] = { 1, 2 };
	struct name_table t = {};
	struct maps_image img;
	struct diags d = {};
	struct mini m;

	(void)state;
	assert_int_equal(fixture_names(&t), 0);
	mini_init(&m);
	mini_rule(&m, "license", 2);
	mini_rule(&m, "ghost", 2);
	mini_entry(&m, 1, IPPROTO_TCP, 443, 443, "my.mailstore.com", SPEE_REASON_RULE, 0);
	mini_entry(&m, 1, IPPROTO_TCP, 8443, 8443, "nowhere.example.com", SPEE_REASON_RULE, 1);
	mini_entry(&m, 1, IPPROTO_TCP, 9443, 9443, "never.looked.up", SPEE_REASON_RULE, 1);
	assert_int_equal(maps_build_image(&m.p, &t, slots, 0, &img, &d), 0);
	assert_int_equal(img.n_exact, 2);
	assert_non_null(find_exact(&img, 1, IPPROTO_TCP, 443, FX_MS4));
	assert_non_null(find_exact(&img, 1, IPPROTO_TCP, 443, FX_MS6));
	assert_int_equal(port_info(&img, 1, SPEE_L4_TCP, 8443)->lookup[0], 0);
	maps_image_free(&img);
	names_free(&t);
}

static void own_addresses_become_local_entries_on_port_0(void **state)
{
	struct maps_image img;
	struct diags d = {};
	struct mini m;
	const struct maps_exact_entry *e;

	(void)state;
	mini_init(&m);
	mini_entry(&m, 1, SPEE_PROTO_LOCAL, 0, 0, FX_HOST6, SPEE_REASON_LOOPBACK, 0);
	mini_entry(&m, 1, IPPROTO_UDP, 53, 53, FX_RES4, SPEE_REASON_DNS, 0);
	assert_int_equal(maps_build_image(&m.p, NULL, NULL, 0, &img, &d), 0);
	e = find_exact(&img, 1, SPEE_PROTO_LOCAL, 0, FX_HOST6);
	assert_non_null(e);
	assert_int_equal(e->v.reason, SPEE_REASON_LOOPBACK);
	assert_int_equal(e->v.rule, SPEE_RULE_NONE);
	e = find_exact(&img, 1, IPPROTO_UDP, 53, FX_RES4);
	assert_non_null(e);
	assert_int_equal(e->v.reason, SPEE_REASON_DNS);
	/* no port element says anything about LOCAL */
	for (uint32_t i = 0; i < MAPS_SLOT_PORTS; i++)
		if (i != spee_port_index(0, 1, SPEE_L4_UDP, 53))
			assert_int_equal(img.ports[i].lookup[0] | img.ports[i].lookup[1], 0);
	maps_image_free(&img);
}

/*
 * The inline own-address sets hold what the LOCAL entries hold, per
 * direction (egress: the LOOPBACK ones), and say spill when they are full.
 */
static void local_sets_copy_the_local_entries_and_spill_when_full(void **state)
{
	struct spee_local_set sets[SPEE_DIR_MAX];
	struct maps_image img;
	struct diags d = {};
	struct mini m;
	struct in6_addr a6;
	struct in_addr a4;
	char buf[64];

	(void)state;
	mini_init(&m);
	mini_entry(&m, SPEE_DIR_INGRESS, SPEE_PROTO_LOCAL, 0, 0, "198.18.0.10", SPEE_REASON_LOOPBACK, 0);
	mini_entry(&m, SPEE_DIR_INGRESS, SPEE_PROTO_LOCAL, 0, 0, "fd00:5e::10", SPEE_REASON_LOOPBACK, 0);
	mini_entry(&m, SPEE_DIR_EGRESS, SPEE_PROTO_LOCAL, 0, 0, "198.18.0.11", SPEE_REASON_LOOPBACK, 0);
	mini_entry(&m, SPEE_DIR_EGRESS, IPPROTO_UDP, 53, 53, FX_RES4, SPEE_REASON_DNS, 0);
	assert_int_equal(maps_build_image(&m.p, NULL, NULL, 1, &img, &d), 0);
	maps_local_sets(&img, sets);
	assert_int_equal(sets[SPEE_DIR_INGRESS].known, 1);
	assert_int_equal(sets[SPEE_DIR_INGRESS].spill, 0);
	assert_int_equal(sets[SPEE_DIR_INGRESS].n_v4, 1);
	assert_int_equal(sets[SPEE_DIR_INGRESS].n_v6, 1);
	memcpy(&a4, &sets[SPEE_DIR_INGRESS].v4[0], 4);
	assert_string_equal(inet_ntop(AF_INET, &a4, buf, sizeof(buf)), "198.18.0.10");
	memcpy(&a6, sets[SPEE_DIR_INGRESS].v6[0], 16);
	assert_string_equal(inet_ntop(AF_INET6, &a6, buf, sizeof(buf)), "fd00:5e::10");
	assert_int_equal(sets[SPEE_DIR_EGRESS].n_v4, 1);
	assert_int_equal(sets[SPEE_DIR_EGRESS].n_v6, 0);
	memcpy(&a4, &sets[SPEE_DIR_EGRESS].v4[0], 4);
	assert_string_equal(inet_ntop(AF_INET, &a4, buf, sizeof(buf)), "198.18.0.11");
	maps_image_free(&img);

	/* one IPv4 address more than fits: the set says spill, the hash keeps them all */
	mini_init(&m);
	for (int i = 0; i <= SPEE_LOCAL_V4; i++) {
		static char addr[SPEE_LOCAL_V4 + 1][32];

		snprintf(addr[i], sizeof(addr[i]), "198.18.1.%d", i + 1);
		mini_entry(&m, SPEE_DIR_INGRESS, SPEE_PROTO_LOCAL, 0, 0, addr[i], SPEE_REASON_LOOPBACK, 0);
	}
	assert_int_equal(maps_build_image(&m.p, NULL, NULL, 0, &img, &d), 0);
	maps_local_sets(&img, sets);
	assert_int_equal(sets[SPEE_DIR_INGRESS].n_v4, SPEE_LOCAL_V4);
	assert_int_equal(sets[SPEE_DIR_INGRESS].spill, 1);
	assert_int_equal(sets[SPEE_DIR_EGRESS].spill, 0);
	maps_image_free(&img);
}

static void a_local_prefix_is_refused(void **state)
{
	struct maps_image img;
	struct diags d = {};
	struct mini m;

	(void)state;
	mini_init(&m);
	mini_entry(&m, 1, SPEE_PROTO_LOCAL, 0, 0, "198.18.0.0/24", SPEE_REASON_LOOPBACK, 0);
	assert_int_equal(maps_build_image(&m.p, NULL, NULL, 0, &img, &d), -EINVAL);
	assert_int_equal(d.n, 1);
	diags_free(&d);
}

/*
 * icmp, icmpv6 and ip rules have no port table: host addresses go to
 * spee_exact with the type (or 0) as the port, prefixes and ANY (a /0) to
 * spee_prefix, and no spee_ports element changes.
 */
static void icmp_and_ip_rules_use_the_hash_and_the_trie_only(void **state)
{
	struct maps_image img;
	struct diags d = {};
	struct mini m;
	uint16_t slots[3] = { 1, 2, 3 };
	uint16_t ping, vrrp, ping6;
	const struct maps_exact_entry *x;
	size_t n_any = 0, n_cidr = 0;

	(void)state;
	mini_init(&m);
	ping = mini_rule(&m, "ping", 1);
	m.rules[ping].proto = IPPROTO_ICMP;
	m.rules[ping].port_lo = m.rules[ping].port_hi = 8;
	vrrp = mini_rule(&m, "vrrp", 3);
	m.rules[vrrp].proto = 112;
	m.rules[vrrp].port_lo = m.rules[vrrp].port_hi = 0;
	ping6 = mini_rule(&m, "ping6", 2);
	m.rules[ping6].proto = IPPROTO_ICMPV6;
	m.rules[ping6].port_lo = m.rules[ping6].port_hi = 128;
	mini_entry(&m, 0, IPPROTO_ICMP, 8, 8, "198.18.9.0/24", SPEE_REASON_RULE, ping);
	mini_entry(&m, 0, IPPROTO_ICMP, 8, 8, "198.18.3.7", SPEE_REASON_RULE, ping);
	mini_entry(&m, 0, 112, 0, 0, "198.18.0.12", SPEE_REASON_RULE, vrrp);
	mini_entry(&m, 1, 112, 0, 0, "198.18.0.12", SPEE_REASON_RULE, vrrp);
	mini_entry(&m, 1, IPPROTO_ICMPV6, 128, 128, "::/0", SPEE_REASON_RULE, ping6);

	assert_int_equal(maps_check_datapath(&m.p, &d), 0);
	assert_int_equal(maps_build_image(&m.p, NULL, slots, 0, &img, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(img.n_exact, 3);
	x = find_exact(&img, 0, IPPROTO_ICMP, 8, "198.18.3.7");
	assert_non_null(x);
	assert_int_equal(x->v.rule, slots[ping]);
	assert_int_equal(x->v.reason, SPEE_REASON_RULE);
	assert_non_null(find_exact(&img, 0, 112, 0, "198.18.0.12"));
	assert_non_null(find_exact(&img, 1, 112, 0, "198.18.0.12"));
	assert_int_equal(img.n_prefix, 2);
	for (size_t i = 0; i < img.n_prefix; i++) {
		const struct spee_prefix_key *k = &img.prefix[i].key;

		if (k->proto == IPPROTO_ICMPV6 && k->dir == 1 && ntohs(k->port) == 128 &&
		    k->prefixlen == SPEE_PREFIX_FIXED_BITS && img.prefix[i].v.rule == slots[ping6])
			n_any++;
		if (k->proto == IPPROTO_ICMP && k->dir == 0 && ntohs(k->port) == 8 &&
		    k->prefixlen == SPEE_PREFIX_FIXED_BITS + 24 && img.prefix[i].v.rule == slots[ping])
			n_cidr++;
	}
	assert_int_equal(n_any, 1);
	assert_int_equal(n_cidr, 1);
	for (size_t i = 0; i < MAPS_SLOT_PORTS; i++)
		assert_int_equal(img.ports[i].any_rule[0] | img.ports[i].any_rule[1] |
					 img.ports[i].lookup[0] | img.ports[i].lookup[1],
				 0);
	maps_image_free(&img);
}

/* Protocols 0 and 255 key the host's own addresses and the ethertypes: never a rule's. */
static void rules_of_the_reserved_protocols_are_refused_by_name(void **state)
{
	struct maps_image img;
	struct diags d = {};
	struct mini m;
	uint16_t slots[2] = { 1, 2 };
	uint16_t bad;

	(void)state;
	mini_init(&m);
	mini_rule(&m, "https", 1);
	bad = mini_rule(&m, "reserved", 1);
	m.rules[bad].proto = 255;
	m.rules[bad].port_lo = m.rules[bad].port_hi = 0;
	mini_entry(&m, 0, IPPROTO_TCP, 443, 443, "198.18.9.0/24", SPEE_REASON_RULE, 0);

	assert_int_equal(maps_check_datapath(&m.p, &d), -EOPNOTSUPP);
	assert_int_equal(maps_build_image(&m.p, NULL, slots, 0, &img, &d), -EOPNOTSUPP);
	assert_null(img.exact);
	assert_int_equal(d.n, 2);
	assert_non_null(strstr(d.v[0].msg, "rule reserved (ip/255) cannot be enforced"));
	diags_free(&d);
	m.rules[bad].dirs = 0; /* not this host's */
	assert_int_equal(maps_check_datapath(&m.p, &d), 0);
	diags_free(&d);
}

static void sizes_leave_room_for_both_slots(void **state)
{
	struct policy *p = fixture_policy(FX_MAIN);
	struct loader_sizes sz;
	struct mini m;

	(void)state;
	loader_sizes_for(p, NULL, &sz);
	assert_int_equal(sz.max_entries[SPEE_MAP_EXACT], LOADER_EXACT_MIN);
	assert_int_equal(sz.max_entries[SPEE_MAP_PREFIX], LOADER_PREFIX_MIN);
	mini_init(&m);
	mini_rule(&m, "wide", 1);
	mini_entry(&m, 0, IPPROTO_TCP, 1, 65535, "198.18.9.0/24", SPEE_REASON_RULE, 0);
	mini_entry(&m, 0, IPPROTO_TCP, 1, 40000, "198.18.9.1/32", SPEE_REASON_RULE, 0);
	loader_sizes_for(&m.p, NULL, &sz);
	assert_true(sz.max_entries[SPEE_MAP_PREFIX] >= 65535u * 2);
	/* 40,000 host entries a slot: both slots and a quarter, in whole 4,096s (preallocated). */
	assert_int_equal(sz.max_entries[SPEE_MAP_EXACT], 102400u);
	fixture_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_rules_take_never_used_slots_in_rule_order),
		cmocka_unit_test(a_rule_keeps_the_slot_holding_its_id),
		cmocka_unit_test(vanished_ids_keep_their_slot_until_released),
		cmocka_unit_test(a_returning_id_finds_its_freed_slot),
		cmocka_unit_test(a_freed_slot_given_to_another_id_is_fresh),
		cmocka_unit_test(running_out_of_slots_is_enospc),
		cmocka_unit_test(colliding_exact_entries_keep_the_first),
		cmocka_unit_test(colliding_prefixes_and_any_keep_the_first),
		cmocka_unit_test(a_prefix_key_is_the_exact_key_behind_a_length),
		cmocka_unit_test(a_prefix_key_is_masked_to_its_length),
		cmocka_unit_test(the_image_lists_exactly_the_ports_it_sets),
		cmocka_unit_test(port_ranges_expand_port_by_port),
		cmocka_unit_test(names_stand_for_their_addresses_and_unresolved_ones_for_nothing),
		cmocka_unit_test(own_addresses_become_local_entries_on_port_0),
		cmocka_unit_test(local_sets_copy_the_local_entries_and_spill_when_full),
		cmocka_unit_test(a_local_prefix_is_refused),
		cmocka_unit_test(icmp_and_ip_rules_use_the_hash_and_the_trie_only),
		cmocka_unit_test(rules_of_the_reserved_protocols_are_refused_by_name),
		cmocka_unit_test(sizes_leave_room_for_both_slots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
