// SPDX-License-Identifier: GPL-2.0-only
/* gateway.c - every inventory host's policy, deduplicated into policy ids (gateway.h). */
#include "gateway.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool gateway_entry_per_policy(const struct policy_entry *e)
{
	return e->proto != SPEE_PROTO_LOCAL && e->proto != SPEE_PROTO_ETHERTYPE;
}

static bool same_entry(const struct policy_entry *x, const struct policy_entry *y)
{
	if (x->dir != y->dir || x->proto != y->proto || x->port_lo != y->port_lo ||
	    x->port_hi != y->port_hi || x->peer_kind != y->peer_kind || x->reason != y->reason)
		return false;
	/* the same config: a rule's index is its id */
	if (x->reason == SPEE_REASON_RULE && x->rule != y->rule)
		return false;
	if (x->peer_kind == ENTRY_PEER_NAME)
		return x->name && y->name && !strcmp(x->name, y->name);
	return !prefix_cmp(&x->prefix, &y->prefix);
}

/* The next entry of p at or after *i that is written per policy, or NULL. */
static const struct policy_entry *next_entry(const struct policy *p, size_t *i)
{
	while (*i < p->n_entries && !gateway_entry_per_policy(&p->entries[*i]))
		(*i)++;
	return *i < p->n_entries ? &p->entries[*i] : NULL;
}

bool gateway_same_entries(const struct policy *a, const struct policy *b)
{
	size_t i = 0, j = 0;

	for (;;) {
		const struct policy_entry *x = next_entry(a, &i), *y = next_entry(b, &j);

		if (!x || !y)
			return !x && !y;
		if (!same_entry(x, y))
			return false;
		i++;
		j++;
	}
}

/* FNV-1a over what same_entry compares: equal policies hash equal. */
static uint64_t hash_bytes(uint64_t h, const void *v, size_t n)
{
	const uint8_t *b = v;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t hash_entries(const struct policy *p)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];
		uint16_t rule = e->reason == SPEE_REASON_RULE ? e->rule : 0;

		if (!gateway_entry_per_policy(e))
			continue;
		h = hash_bytes(h, &e->dir, sizeof(e->dir));
		h = hash_bytes(h, &e->proto, sizeof(e->proto));
		h = hash_bytes(h, &e->port_lo, sizeof(e->port_lo));
		h = hash_bytes(h, &e->port_hi, sizeof(e->port_hi));
		h = hash_bytes(h, &e->reason, sizeof(e->reason));
		h = hash_bytes(h, &rule, sizeof(rule));
		if (e->peer_kind == ENTRY_PEER_NAME) {
			if (e->name)
				h = hash_bytes(h, e->name, strlen(e->name));
		} else {
			h = hash_bytes(h, &e->prefix.family, 1);
			h = hash_bytes(h, &e->prefix.len, 1);
			h = hash_bytes(h, e->prefix.addr, 16);
		}
	}
	return h;
}

/* Adds name to the fleet's sorted, unique list of names (borrowed from a host's policy). */
static int add_name(struct policy *fleet, char *name)
{
	size_t lo = 0, hi = fleet->n_names;
	char **grown;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(fleet->names[mid], name);

		if (!c)
			return 0;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	grown = realloc(fleet->names, (fleet->n_names + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	fleet->names = grown;
	memmove(&grown[lo + 1], &grown[lo], (fleet->n_names - lo) * sizeof(*grown));
	grown[lo] = name;
	fleet->n_names++;
	return 0;
}

/* The fleet view: the first host's rules with every host's directions, every host's names. */
static int make_fleet(struct gateway_policy *g)
{
	struct policy *f = &g->fleet;
	const struct policy *first = g->hosts[0].p;
	int err = 0;

	f->cfg = g->cfg;
	f->mode = first->mode;
	memcpy(f->default_action, first->default_action, sizeof(f->default_action));
	f->rules = calloc(first->n_rules ? first->n_rules : 1, sizeof(*f->rules));
	if (!f->rules)
		return -ENOMEM;
	f->n_rules = first->n_rules;
	for (size_t r = 0; r < f->n_rules; r++) {
		f->rules[r] = first->rules[r];
		f->rules[r].dirs = 0;
		memset(f->rules[r].peers_text, 0, sizeof(f->rules[r].peers_text)); /* the hosts' own */
	}
	for (size_t h = 0; h < g->n_hosts && !err; h++) {
		const struct policy *p = g->hosts[h].p;

		/* every host compiles the same config: the same rules in the same order */
		for (size_t r = 0; r < f->n_rules && r < p->n_rules; r++)
			f->rules[r].dirs |= p->rules[r].dirs;
		for (size_t i = 0; i < p->n_names && !err; i++)
			err = add_name(f, p->names[i]);
	}
	return err;
}

int gateway_compile(const struct config *cfg, const struct policy_env *env,
		    struct gateway_policy **out, struct diags *d)
{
	struct policy_env hosts_env = { 0 };
	struct gateway_policy *g;
	uint64_t *hash = NULL;
	int err = 0;

	*out = NULL;
	if (!cfg->n_hosts) {
		diag_add(d, cfg->path, 0, 0, "the inventory has no host for the gateway to protect");
		return -ENOENT;
	}
	if (cfg->n_hosts > GATEWAY_MAX_HOSTS) {
		diag_add(d, cfg->path, 0, 0, "%zu hosts is more than the %d a gateway judges",
			 cfg->n_hosts, GATEWAY_MAX_HOSTS);
		return -E2BIG;
	}
	/* The machine's resolvers only: none of its addresses is an inventory host's. */
	if (env) {
		hosts_env.resolvers = env->resolvers;
		hosts_env.n_resolvers = env->n_resolvers;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->cfg = cfg;
	g->hosts = calloc(cfg->n_hosts, sizeof(*g->hosts));
	g->first_of = calloc(cfg->n_hosts, sizeof(*g->first_of));
	hash = calloc(cfg->n_hosts, sizeof(*hash));
	if (!g->hosts || !g->first_of || !hash) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t h = 0; h < cfg->n_hosts && !err; h++) {
		struct gateway_host *gh = &g->hosts[h];

		gh->host = &cfg->hosts[h];
		gh->index = (uint16_t)(h + 1);
		err = policy_compile(cfg, gh->host->name, &hosts_env, &gh->p, d);
		if (err)
			break;
		g->n_hosts++;
		hash[h] = hash_entries(gh->p);
		for (uint16_t k = 1; k <= g->n_policies && !gh->policy; k++)
			if (hash[g->first_of[k - 1]] == hash[h] &&
			    gateway_same_entries(gateway_policy_of(g, k), gh->p))
				gh->policy = k;
		if (!gh->policy) {
			g->first_of[g->n_policies++] = h;
			gh->policy = g->n_policies;
		}
	}
	if (!err)
		err = make_fleet(g);
out:
	if (err == -ENOMEM)
		diag_add(d, NULL, 0, 0, "out of memory compiling the gateway's policy");
	free(hash);
	if (err) {
		gateway_free(g);
		return err;
	}
	*out = g;
	return 0;
}

void gateway_free(struct gateway_policy *g)
{
	if (!g)
		return;
	for (size_t h = 0; h < g->n_hosts; h++)
		policy_free(g->hosts[h].p);
	free(g->hosts);
	free(g->first_of);
	free(g->fleet.rules);
	free(g->fleet.names); /* the strings are the hosts' */
	free(g);
}
