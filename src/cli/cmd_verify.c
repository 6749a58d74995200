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
#include "policy.h"
#include "verify.h"
#include "verify_fleet.h"
#include "verify_metrics.h"
#include "verify_text.h"

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
	struct verify_fleet_opts opts = {
		.host = cli_text(a, CLI_OPT_HOST),
		.pinned = &a->pinned,
		.no_resolve = cli_flag(a, CLI_OPT_NO_RESOLVE),
		.timeout_ms = (unsigned)cli_uint(a, CLI_OPT_TIMEOUT_MS),
	};
	struct prefix *resolvers = NULL;
	struct verify_fleet v = { 0 };
	struct config *cfg = NULL;
	struct policy_env env;
	struct diags d = { 0 };
	int err;

	(void)inst; /* it opens no instance */
	err = cli_load_config(cli_text(a, CLI_OPT_CONFIG), json, &cfg);
	if (err)
		goto out;
	err = cli_policy_env(&env, &resolvers);
	if (err) {
		fprintf(stderr, "speebpf: cannot read the system's resolvers: %s\n", strerror(-err));
		goto out;
	}
	opts.env = &env;
	err = verify_fleet_run(cfg, &opts, &v, &d);
	for (size_t i = 0; i < v.warnings.n; i++)
		fprintf(stderr, "speebpf verify: warning: %s\n", v.warnings.v[i].msg);
	if (err) {
		cli_print_diags(&d, json, NULL);
		/* A host not in the inventory, not on this machine, or a bad policy: usage. */
		if (err == -ESRCH || err == -EADDRNOTAVAIL || err == -EINVAL)
			err = -CLI_EUSAGE;
		goto out;
	}
	if (json)
		print_json(&v.plan, v.sources, v.n_sources);
	else if (cli_flag(a, CLI_OPT_PROMETHEUS))
		verify_render_prometheus(stdout, &v.plan);
	else
		verify_text_print(stdout, &v.plan, v.sources, v.n_sources);
	/* Exit 1: a probe did not give what the fleet's policy says it must. */
	err = verify_passed(&v.plan) ? 0 : -EIO;
out:
	verify_fleet_free(&v);
	free(resolvers);
	diags_free(&d);
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
