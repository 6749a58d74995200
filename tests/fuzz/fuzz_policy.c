// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the policy compiler and everything pure after it.
 * Bytes -> config_parse -> policy_compile for every host -> explain_decide
 * over queries sampled from the policy's own entries (and around them) ->
 * the map image maps.c would write. Checks the invariants the kernel
 * relies on: a verdict names a rule of the policy enforced in that
 * direction, entries are in range, the image builds or says why.
 * Built and run by `make fuzz` / `make fuzz-short`.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "diag.h"
#include "explain.h"
#include "maps.h"
#include "names.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define QUERIES 64

static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void check_query(const struct policy *p, const struct name_table *t,
			const struct explain_query *q)
{
	struct explain_result r;

	explain_decide(p, t, q, &r);
	if (r.reason >= SPEE_REASON_MAX)
		abort();
	if (r.reason == SPEE_REASON_RULE) {
		if (r.rule < 0 || (size_t)r.rule >= p->n_rules || !r.entry)
			abort();
		/* a rule only counts where it is enforced */
		if (!(p->rules[r.rule].dirs & (1u << q->dir)))
			abort();
		if (r.entry->proto != q->proto || q->port < r.entry->port_lo ||
		    q->port > r.entry->port_hi)
			abort();
	} else if (r.rule != -1) {
		abort();
	}
	if (r.pass != explain_reason_passes(p, q->dir, r.reason))
		abort();
}

static void check_policy(const struct policy *p, struct name_table *t, uint64_t *seed)
{
	static uint16_t slot_of_rule[8192];
	struct spee_rule_meta *cur = calloc(SPEE_MAX_RULES, sizeof(*cur));
	struct spee_rule_meta *next = calloc(SPEE_MAX_RULES, sizeof(*next));
	bool *fresh = calloc(SPEE_MAX_RULES, sizeof(*fresh));
	struct diags d = {};

	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];

		if (e->dir >= SPEE_DIR_MAX || e->port_lo > e->port_hi)
			abort();
		if (e->reason == SPEE_REASON_RULE && e->rule >= p->n_rules)
			abort();
	}
	/* the names resolve to something, so that name entries take part */
	for (size_t i = 0; i < p->n_names; i++) {
		struct prefix a = { .family = AF_INET, .len = 32, .addr = { 198, 18, 7, 0 } };

		a.addr[3] = (uint8_t)mix(seed);
		names_set(t, p->names[i], &a, 1, 60);
	}
	for (int k = 0; k < QUERIES && p->n_entries; k++) {
		const struct policy_entry *e = &p->entries[mix(seed) % p->n_entries];
		struct explain_query q = { .dir = e->dir, .proto = e->proto };
		uint64_t r = mix(seed);

		if (q.proto == SPEE_PROTO_LOCAL)
			q.proto = (r & 1) ? IPPROTO_TCP : IPPROTO_UDP;
		q.port = (uint16_t)(e->port_lo + (r >> 8) % ((uint32_t)(e->port_hi - e->port_lo) + 1));
		if (r & 2)
			q.port = (uint16_t)(q.port + ((r & 4) ? 1 : -1)); /* just outside, maybe */
		if (e->peer_kind == ENTRY_PEER_PREFIX) {
			q.peer = e->prefix;
			/* somewhere inside, or just past the end */
			q.peer.addr[(q.peer.family == AF_INET ? 4 : 16) - 1] ^= (uint8_t)(r >> 16);
		} else {
			q.peer = (struct prefix){ .family = AF_INET, .addr = { 198, 18, 7, 1 } };
		}
		q.peer.len = (uint8_t)prefix_max_len(q.peer.family);
		check_query(p, t, &q);
	}
	if (p->n_rules <= sizeof(slot_of_rule) / sizeof(slot_of_rule[0]) && cur && next && fresh &&
	    maps_assign_slots(cur, p, next, slot_of_rule, fresh, &d) == 0) {
		struct maps_image img = {};

		if (maps_build_image(p, t, slot_of_rule, 1, &img, &d) == 0) {
			for (size_t i = 0; i < img.n_exact; i++)
				if (img.exact[i].key.slot != 1 || img.exact[i].key.dir >= SPEE_DIR_MAX)
					abort();
		} else if (d.n == 0) {
			abort(); /* a refusal says why */
		}
		maps_image_free(&img);
	}
	diags_free(&d);
	free(cur);
	free(next);
	free(fresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prefix res = { .family = AF_INET, .len = 32, .addr = { 198, 18, 0, 53 } };
	struct policy_env env = { .resolvers = &res, .n_resolvers = 1 };
	struct config *cfg = NULL;
	struct diags d = {};
	uint64_t seed = size;

	for (size_t i = 0; i < size && i < 64; i++)
		seed = seed * 131 + data[i];
	if (config_parse("fuzz.yaml", (const char *)data, size, &cfg, &d) == 0) {
		for (size_t h = 0; h < cfg->n_hosts && h < 8; h++) {
			struct name_table t = {};
			struct policy *p = NULL;
			struct diags pd = {};

			if (policy_compile(cfg, cfg->hosts[h].name, &env, &p, &pd) == 0)
				check_policy(p, &t, &seed);
			else if (pd.n == 0)
				abort(); /* a refusal says why */
			policy_free(p);
			names_free(&t);
			diags_free(&pd);
		}
	}
	config_free(cfg);
	diags_free(&d);
	return 0;
}
