// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf verify: from this host, a TCP connect to every inventory peer on
 * every port this host's egress opens to it, and to one port no rule names;
 * each result against what the fleet's policy says (verify.h). Exit 0 when
 * every probe gave what it must, 1 when one did not, 2 for usage or config.
 */
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "host.h"
#include "names.h"
#include "policy.h"
#include "resolve.h"
#include "verify.h"
#include "verify_metrics.h"
#include "verify_probe.h"

/* Compiles every host's policy: ours decides the probes, the peers' what they must give. */
static int compile_all(const struct config *cfg, const struct policy_env *env, bool json,
		       struct policy ***out)
{
	struct policy **all = calloc(cfg->n_hosts, sizeof(*all));
	struct diags d = { 0 };
	int err = 0;

	if (!all)
		return -ENOMEM;
	for (size_t h = 0; h < cfg->n_hosts && !err; h++) {
		err = policy_compile(cfg, cfg->hosts[h].name, env, &all[h], &d);
		if (err)
			cli_print_diags(&d, json, NULL);
	}
	diags_free(&d);
	*out = all;
	return err;
}

static void add_name(char ***names, size_t *n, const char *name)
{
	char **grown;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*names)[i], name))
			return;
	grown = realloc(*names, (*n + 1) * sizeof(**names));
	if (!grown)
		return; /* unresolved, it allows nothing: the plan is the same as with --no-resolve */
	*names = grown;
	(*names)[(*n)++] = (char *)name;
}

/*
 * Resolves the DNS names of the entries a plan can meet: our egress and the
 * peers' ingress, TCP. A name that resolves to a peer (or to us) opens ports
 * there like an address; one pinned with --resolve is not looked up.
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
	if (n_names && !resolver_open(&r, 2000)) {
		resolver_resolve_all(r, t, names, n_names);
		resolver_close(r);
	}
	free(names);
}

/*
 * This host's inventory addresses that the machine holds: probes leave from
 * them, so that peers judge the addresses the config names. Those it does not
 * hold are said on stderr; none at all is a usage error (verify runs on the
 * host it verifies).
 */
static int pick_sources(const struct cfg_host *host, struct prefix **out, size_t *n_out)
{
	struct prefix *local = NULL, *src;
	size_t n_local = 0, n = 0;
	char text[ADDR_TEXT_LEN];
	int err;

	*out = NULL;
	*n_out = 0;
	err = host_local_addresses(&local, &n_local);
	if (err) {
		fprintf(stderr, "speebpf verify: cannot list this machine's addresses: %s\n",
			strerror(-err));
		return err;
	}
	src = calloc(host->n_addrs, sizeof(*src));
	if (!src) {
		free(local);
		return -ENOMEM;
	}
	for (size_t a = 0; a < host->n_addrs; a++)
		for (size_t l = 0; l < n_local; l++)
			if (!prefix_cmp(&host->addrs[a], &local[l])) {
				src[n++] = host->addrs[a];
				break;
			}
	free(local);
	for (size_t a = 0, s = 0; n && a < host->n_addrs; a++) {
		if (s < n && !prefix_cmp(&host->addrs[a], &src[s])) {
			s++;
			continue;
		}
		prefix_format(&host->addrs[a], text, sizeof(text));
		fprintf(stderr, "speebpf verify: warning: %s of host %s is not on this machine\n",
			text, host->name);
	}
	if (!n) {
		fprintf(stderr,
			"speebpf verify: none of host %s's addresses is on this machine: verify "
			"runs on the host it verifies (--host)\n",
			host->name);
		free(src);
		return -CLI_EUSAGE;
	}
	*out = src;
	*n_out = n;
	return 0;
}

static void print_text(const struct verify_plan *plan, const struct prefix *src, size_t n_src)
{
	char addr[ADDR_TEXT_LEN], detail[128];
	size_t failed = verify_failures(plan);

	printf("verify %s: %zu probe%s from", plan->host, plan->n_probes,
	       plan->n_probes == 1 ? "" : "s");
	for (size_t i = 0; i < n_src; i++) {
		addr_format(&src[i], addr, sizeof(addr));
		printf("%s %s", i ? "," : "", addr);
	}
	printf(" (timeout %u ms, %.1f s)\n", plan->timeout_ms, plan->duration_ms / 1000.0);
	if (plan->n_probes)
		printf("%-10s %-26s %5s  %-16s %-13s %s\n", "PEER", "ADDRESS", "PORT", "RULE",
		       "EXPECTED", "RESULT");
	for (size_t i = 0; i < plan->n_probes; i++) {
		const struct verify_probe *p = &plan->probes[i];

		addr_format(&p->dst, addr, sizeof(addr));
		verify_describe(p, plan->timeout_ms, detail, sizeof(detail));
		printf("%-10s %-26s %5u  %-16s %-13s %-13s %-4s %s\n", p->peer, addr, p->port,
		       p->rule[0] ? p->rule : p->unlisted ? "(no rule)" : "-",
		       verify_result_label(p->expect), verify_result_label(p->result),
		       verify_probe_ok(p) ? "ok" : "FAIL", detail);
	}
	for (size_t i = 0; i < plan->n_skipped; i++) {
		addr_format(&plan->skipped[i].addr, addr, sizeof(addr));
		printf("skipped %s %s: %s\n", plan->skipped[i].peer, addr, plan->skipped[i].why);
	}
	if (!plan->n_probes)
		printf("nothing to probe: no other inventory host this host can reach\n");
	else if (!failed)
		printf("ok: every probe gave what the policy says\n");
	else
		printf("FAILED: %zu of %zu probes did not give what the policy says\n", failed,
		       plan->n_probes);
}

static struct json_object *string_or_null(const char *s)
{
	return s && s[0] ? json_object_new_string(s) : NULL;
}

static void print_json(const struct verify_plan *plan, const struct prefix *src, size_t n_src)
{
	struct json_object *root = json_object_new_object(), *probes = json_object_new_array();
	struct json_object *skipped = json_object_new_array(), *sources = json_object_new_array();
	char addr[ADDR_TEXT_LEN], detail[128];

	for (size_t i = 0; i < n_src; i++) {
		addr_format(&src[i], addr, sizeof(addr));
		json_object_array_add(sources, json_object_new_string(addr));
	}
	for (size_t i = 0; i < plan->n_probes; i++) {
		const struct verify_probe *p = &plan->probes[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "peer", json_object_new_string(p->peer));
		addr_format(&p->dst, addr, sizeof(addr));
		json_object_object_add(o, "address", json_object_new_string(addr));
		addr_format(&p->src, addr, sizeof(addr));
		json_object_object_add(o, "source", json_object_new_string(addr));
		json_object_object_add(o, "port", json_object_new_int(p->port));
		json_object_object_add(o, "rule", string_or_null(p->rule));
		json_object_object_add(o, "peer_rule", string_or_null(p->peer_rule));
		json_object_object_add(o, "unlisted", json_object_new_boolean(p->unlisted));
		json_object_object_add(o, "expected",
				       json_object_new_string(verify_result_label(p->expect)));
		json_object_object_add(o, "result",
				       json_object_new_string(verify_result_label(p->result)));
		json_object_object_add(o, "ok", json_object_new_boolean(verify_probe_ok(p)));
		verify_describe(p, plan->timeout_ms, detail, sizeof(detail));
		json_object_object_add(o, "detail", json_object_new_string(detail));
		json_object_object_add(o, "timed_out", json_object_new_boolean(p->timed_out));
		json_object_object_add(o, "error",
				       p->error ? json_object_new_string(strerror(p->error)) : NULL);
		json_object_object_add(o, "elapsed_ms", json_object_new_int64(p->elapsed_ms));
		json_object_array_add(probes, o);
	}
	for (size_t i = 0; i < plan->n_skipped; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "peer", json_object_new_string(plan->skipped[i].peer));
		addr_format(&plan->skipped[i].addr, addr, sizeof(addr));
		json_object_object_add(o, "address", json_object_new_string(addr));
		json_object_object_add(o, "why", json_object_new_string(plan->skipped[i].why));
		json_object_array_add(skipped, o);
	}
	json_object_object_add(root, "host", json_object_new_string(plan->host));
	json_object_object_add(root, "ok", json_object_new_boolean(verify_passed(plan)));
	json_object_object_add(root, "failed", json_object_new_int64((int64_t)verify_failures(plan)));
	json_object_object_add(root, "timeout_ms", json_object_new_int64(plan->timeout_ms));
	json_object_object_add(root, "started", json_object_new_int64(plan->started));
	json_object_object_add(root, "duration_ms", json_object_new_int64(plan->duration_ms));
	json_object_object_add(root, "sources", sources);
	json_object_object_add(root, "probes", probes);
	json_object_object_add(root, "skipped", skipped);
	cli_json_print(root);
}

static int do_verify(const struct cli_args *a, struct instance *inst)
{
	bool json = cli_flag(a, CLI_OPT_JSON);
	struct name_table names = { 0 };
	struct config *cfg = NULL;
	struct policy **all = NULL;
	const struct policy *self = NULL;
	struct prefix *resolvers = NULL, *sources = NULL;
	struct policy_env env;
	const struct cfg_host *host;
	struct verify_plan plan = { 0 };
	struct verify_input in = { 0 };
	struct verify_run_opts run = { 0 };
	struct diags d = { 0 };
	size_t n_sources = 0;
	int err;

	(void)inst; /* it opens no instance */
	err = names_copy(&names, &a->pinned); /* --resolve, then what is resolved */
	if (err)
		goto out;
	err = cli_load_config(cli_text(a, CLI_OPT_CONFIG), json, &cfg);
	if (err)
		goto out;
	err = host_select(cfg, cli_text(a, CLI_OPT_HOST), &host, &d);
	if (err) {
		cli_print_diags(&d, json, NULL);
		err = -CLI_EUSAGE;
		goto out;
	}
	err = pick_sources(host, &sources, &n_sources);
	if (err)
		goto out;
	err = cli_policy_env(&env, &resolvers);
	if (err) {
		fprintf(stderr, "speebpf: cannot read the system's resolvers: %s\n", strerror(-err));
		goto out;
	}
	err = compile_all(cfg, &env, json, &all);
	if (err)
		goto out;
	for (size_t h = 0; h < cfg->n_hosts; h++)
		if (&cfg->hosts[h] == host)
			self = all[h];
	if (!cli_flag(a, CLI_OPT_NO_RESOLVE))
		resolve_names(all, cfg->n_hosts, self, &names);

	in.self = self;
	in.peers = (const struct policy *const *)all;
	in.n_peers = cfg->n_hosts;
	in.names = &names;
	in.sources = sources;
	in.n_sources = n_sources;
	err = verify_plan_build(&in, &plan);
	if (err) {
		fprintf(stderr, "speebpf verify: cannot plan the probes: %s\n", strerror(-err));
		goto out;
	}
	run.timeout_ms = (unsigned)cli_uint(a, CLI_OPT_TIMEOUT_MS);
	err = verify_run(&plan, &run);
	if (err) {
		fprintf(stderr, "speebpf verify: the probes could not run: %s\n", strerror(-err));
		goto out;
	}
	if (json)
		print_json(&plan, sources, n_sources);
	else if (cli_flag(a, CLI_OPT_PROMETHEUS))
		verify_render_prometheus(stdout, &plan);
	else
		print_text(&plan, sources, n_sources);
	/* Exit 1: a probe did not give what the fleet's policy says it must. */
	err = verify_passed(&plan) ? 0 : -EIO;
out:
	if (err == 1)
		err = 0;
	verify_plan_free(&plan);
	for (size_t h = 0; all && h < cfg->n_hosts; h++)
		policy_free(all[h]);
	free(all);
	free(sources);
	free(resolvers);
	diags_free(&d);
	names_free(&names);
	config_free(cfg);
	return err;
}

CLI_COMMAND(verify, .summary = "probe the peers: is the matrix open and closed as configured",
	    .description =
		    "  A TCP connect to every other inventory host on every port this host's egress\n"
		    "  opens to it, and to one port no rule names. Each must be open (connected, or\n"
		    "  refused by the peer), blocked-here (refused by this host's policy) or\n"
		    "  blocked-path (no answer), as the fleet config says. Exit 0 when all are.\n"
		    "  Probes leave from this host's inventory addresses (--host).",
	    .options = CLI_TAKES(CLI_REQUIRE(CONFIG), CLI_USE(HOST), CLI_USE(TIMEOUT_MS),
				 CLI_USE(JSON), CLI_USE(PROMETHEUS), CLI_USE(RESOLVE),
				 CLI_USE(NO_RESOLVE)),
	    .rules = CLI_RULES({ CLI_EXCLUDES, CLI_OPT_JSON, CLI_OPT_PROMETHEUS }),
	    .run = do_verify);
