// SPDX-License-Identifier: GPL-2.0-only
/* A whole verify run from a fleet config (verify_fleet.h). */
#include "verify_fleet.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "resolve.h"
#include "verify_probe.h"

#define VERIFY_RESOLVE_TIMEOUT_MS 2000

/*
 * Compiles every host's policy into all[] (inventory order): this host's
 * with env as given (with the machine's addresses, as apply compiles it),
 * the peers' without them - the machine's addresses say which of this
 * host's inventory addresses are itself, and nothing of another host's.
 */
static int compile_all(const struct config *cfg, const struct cfg_host *self,
		       const struct policy_env *env, struct policy **all, struct diags *d)
{
	struct policy_env peer_env = *env;

	peer_env.local_addrs = NULL;
	peer_env.n_local_addrs = 0;
	peer_env.local_known = false;
	for (size_t h = 0; h < cfg->n_hosts; h++) {
		int err = policy_compile(cfg, cfg->hosts[h].name,
					 &cfg->hosts[h] == self ? env : &peer_env, &all[h], d);

		if (err)
			return err;
	}
	return 0;
}

static void add_name(char ***names, size_t *n, const char *name)
{
	char **grown;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*names)[i], name))
			return;
	grown = realloc(*names, (*n + 1) * sizeof(**names));
	if (!grown)
		return; /* unresolved, it allows nothing: the plan is the same as with no_resolve */
	*names = grown;
	(*names)[(*n)++] = (char *)name;
}

/*
 * Resolves the DNS names of the entries a plan can meet: our egress and the
 * peers' ingress, TCP. A name that resolves to a peer (or to us) opens ports
 * there like an address; one already in t is not looked up.
 */
static void resolve_names(struct policy *const *all, size_t n, const struct policy *self,
			  struct name_table *t)
{
	struct resolver *r;
	char **names = NULL;
	size_t n_names = 0;

	for (size_t h = 0; h < n; h++) {
		uint8_t dir = all[h] == self ? SPEE_DIR_EGRESS : SPEE_DIR_INGRESS;

		for (size_t i = 0; i < all[h]->n_entries; i++) {
			const struct policy_entry *e = &all[h]->entries[i];

			if (e->peer_kind == ENTRY_PEER_NAME && e->dir == dir &&
			    e->proto == IPPROTO_TCP && !names_find(t, e->name))
				add_name(&names, &n_names, e->name);
		}
	}
	if (n_names && !resolver_open(&r, VERIFY_RESOLVE_TIMEOUT_MS)) {
		resolver_resolve_all(r, t, names, n_names);
		resolver_close(r);
	}
	free(names);
}

/*
 * This host's inventory addresses that the machine holds, in inventory
 * order: probes leave from them, so that peers judge the addresses the
 * config names. Those it does not hold are warnings.
 */
static int pick_sources(const struct cfg_host *host, struct verify_fleet *out, struct diags *d)
{
	struct prefix *local = NULL;
	size_t n_local = 0, n = 0;
	char text[ADDR_TEXT_LEN];
	int err;

	err = host_local_addresses(&local, &n_local);
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot list this machine's addresses: %s", strerror(-err));
		return err;
	}
	out->sources = calloc(host->n_addrs ? host->n_addrs : 1, sizeof(*out->sources));
	if (!out->sources) {
		free(local);
		return -ENOMEM;
	}
	for (size_t a = 0; a < host->n_addrs; a++) {
		bool held = false;

		for (size_t l = 0; l < n_local && !held; l++)
			held = !prefix_cmp(&host->addrs[a], &local[l]);
		if (held) {
			out->sources[n++] = host->addrs[a];
			continue;
		}
		prefix_format(&host->addrs[a], text, sizeof(text));
		diag_add(&out->warnings, NULL, 0, 0, "%s of host %s is not on this machine", text,
			 host->name);
	}
	free(local);
	out->n_sources = n;
	if (!n) {
		diag_add(d, NULL, 0, 0,
			 "none of host %s's addresses is on this machine: verify runs on the host "
			 "it verifies (--host)",
			 host->name);
		return -EADDRNOTAVAIL;
	}
	return 0;
}

int verify_fleet_run(const struct config *cfg, const struct verify_fleet_opts *opts,
		     struct verify_fleet *out, struct diags *d)
{
	struct verify_run_opts run = {.timeout_ms = opts->timeout_ms};
	struct name_table names = {0};
	struct verify_input in = {0};
	const struct policy *self = NULL;
	const struct cfg_host *host;
	struct policy **all;
	int err;

	memset(out, 0, sizeof(*out));
	all = calloc(cfg->n_hosts ? cfg->n_hosts : 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	err = host_select(cfg, opts->host, &host, d);
	if (err) {
		err = -ESRCH;
		goto out;
	}
	err = pick_sources(host, out, d);
	if (!err)
		err = compile_all(cfg, host, opts->env, all, d) ? -EINVAL : 0;
	if (!err && opts->pinned)
		err = names_copy(&names, opts->pinned);
	if (err)
		goto out;
	for (size_t h = 0; h < cfg->n_hosts; h++)
		if (&cfg->hosts[h] == host)
			self = all[h];
	if (!opts->no_resolve)
		resolve_names(all, cfg->n_hosts, self, &names);

	in.self = self;
	in.peers = (const struct policy *const *)all;
	in.n_peers = cfg->n_hosts;
	in.names = &names;
	in.sources = out->sources;
	in.n_sources = out->n_sources;
	err = verify_plan_build(&in, &out->plan);
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot plan the probes: %s", strerror(-err));
		goto out;
	}
	err = verify_run(&out->plan, &run);
	if (err)
		diag_add(d, NULL, 0, 0, "the probes could not run: %s", strerror(-err));
out:
	for (size_t h = 0; h < cfg->n_hosts; h++)
		policy_free(all[h]);
	free(all);
	names_free(&names);
	return err;
}

void verify_fleet_free(struct verify_fleet *v)
{
	verify_plan_free(&v->plan);
	free(v->sources);
	diags_free(&v->warnings);
	memset(v, 0, sizeof(*v));
}
