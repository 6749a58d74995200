// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf apply: compile this host's policy and make the kernel enforce it,
 * creating the instance or updating it in place. Exits 0 once the policy is
 * enforced.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_opts.h"
#include "cli.h"
#include "config.h"
#include "confirm.h"
#include "host.h"
#include "instance.h"
#include "loader.h"
#include "names.h"
#include "policy.h"
#include "resolve.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: speebpf apply -c FILE [--host NAME] [--iface IF]... [--cgroup DIR]\n"
		"                     [--pin-dir DIR] [--audit] [--resolve NAME=ADDR[,ADDR]]...\n"
		"  -c, --config FILE  the fleet config\n"
		"      --host NAME    this machine's inventory host (default: by hostname or address)\n"
		"      --iface IF     interface for XDP, repeatable (default: every up, non-loopback\n"
		"                     interface on a new instance; unchanged on an existing one)\n"
		"      --cgroup DIR   cgroup v2 directory for the egress programs (default: the\n"
		"                     cgroup2 root on a new instance; unchanged on an existing one)\n"
		"      --pin-dir DIR  where the instance is pinned (default %s)\n"
		"      --audit        count what would be dropped, drop nothing\n"
		"      --confirm SECS revert to the previous policy unless `speebpf confirm`\n"
		"                     runs within SECS seconds\n"
		"      --resolve N=A  use these addresses for DNS name N instead of resolving it\n",
		INSTANCE_DEFAULT_PIN_DIR);
}

int do_apply(int argc, char **argv)
{
	struct apply_opts o;
	struct config *cfg = NULL;
	struct policy *p = NULL;
	struct prefix *resolvers = NULL, *local = NULL;
	struct name_table names = { 0 };
	struct policy_env env;
	const struct cfg_host *host;
	struct apply_request req;
	struct apply_outcome out;
	struct confirm_snapshot snap = { 0 };
	struct diags d = { 0 };
	int err;

	err = apply_opts_parse(argc, argv, &o, usage);
	if (err)
		goto out;
	loader_set_verbose(cli_verbose);
	err = cli_load_config(o.config, false, &cfg);
	if (err)
		goto out;
	err = host_select(cfg, o.host, &host, &d);
	if (err) {
		cli_print_diags(&d, false, NULL);
		err = -CLI_EUSAGE;
		goto out;
	}
	err = cli_policy_env(&env, &resolvers);
	/* only the host's addresses configured here are the host itself */
	if (!err)
		err = cli_machine_addrs(&env, &local);
	if (!err) {
		cli_warn_missing_addrs(host, &env);
		err = policy_compile(cfg, host->name, &env, &p, &d);
	}
	if (err) {
		cli_print_diags(&d, false, NULL);
		goto out;
	}
	err = apply_opts_resolve(&o, p, &names);
	if (err)
		goto out;
	req = (struct apply_request){
		.policy = p,
		.names = &names,
		.pin_dir = o.pin_dir,
		.ifaces = o.ifaces,
		.n_ifaces = o.n_ifaces,
		.cgroup = o.cgroup,
		.audit = o.audit,
	};
	if (o.confirm_secs) {
		err = confirm_prepare(o.pin_dir, &snap, &d);
		if (err) {
			cli_print_diags(&d, false, NULL);
			goto out;
		}
	}
	err = instance_apply(&req, &out, &d);
	if (err) {
		cli_print_diags(&d, false, NULL);
		fprintf(stderr, "speebpf: apply failed; %s\n",
			out.created || !instance_exists(o.pin_dir) ?
				"nothing was changed" :
				"the policy that was running is still enforced");
		goto out;
	}
	printf("%s %s: policy generation %u enforced for host %s (+%zu/-%zu entries",
	       out.created ? "created" : "updated", o.pin_dir, out.generation, host->name,
	       out.added, out.removed);
	if (out.attached || out.detached)
		printf("; %zu link%s attached, %zu removed", out.attached,
		       out.attached == 1 ? "" : "s", out.detached);
	if (out.migrated)
		printf("; maps of another build's layout replaced, without a gap");
	if (out.grown)
		printf("; the policy maps grew to %u exact and %u prefix entries, without a gap",
		       out.exact_size, out.prefix_size);
	printf(")%s\n", o.audit || p->mode == SPEE_MODE_AUDIT ? " in audit mode" : "");
	if (o.confirm_secs) {
		err = confirm_arm(o.pin_dir, &snap, out.generation, (unsigned)o.confirm_secs, &d);
		if (err) {
			cli_print_diags(&d, false, NULL);
			goto out;
		}
		if (snap.existed)
			printf("run `speebpf confirm --pin-dir %s` within %lu s, or generation %u "
			       "reverts to generation %u\n",
			       o.pin_dir, o.confirm_secs, out.generation, snap.inst.generation);
		else
			printf("run `speebpf confirm --pin-dir %s` within %lu s, or the instance is "
			       "removed again\n",
			       o.pin_dir, o.confirm_secs);
	}
out:
	confirm_snapshot_free(&snap);
	if (err == 1)
		err = 0;
	diags_free(&d);
	names_free(&names);
	policy_free(p);
	free(resolvers);
	free(local);
	config_free(cfg);
	apply_opts_free(&o);
	return err;
}
