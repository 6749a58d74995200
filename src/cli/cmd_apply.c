// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf apply: compile this host's policy and make the kernel enforce it,
 * creating the instance or updating it in place. Exits 0 once the policy is
 * enforced. With --confirm, the snapshot, the apply and the arming happen
 * under one lock of the instance.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "cli.h"
#include "config.h"
#include "confirm.h"
#include "host.h"
#include "names.h"
#include "policy.h"
#include "resolve.h"

/* What apply and run compile: the config, this host, its policy, the names' addresses. */
struct compiled {
	struct config *cfg;
	const struct cfg_host *host;
	struct policy *p;
	struct name_table names;
	struct prefix *resolvers;
	struct prefix *local; /* the machine's addresses */
};

static void compiled_free(struct compiled *c)
{
	names_free(&c->names);
	policy_free(c->p);
	free(c->resolvers);
	free(c->local);
	config_free(c->cfg);
}

static int compile(const struct cli_args *a, struct compiled *c)
{
	struct policy_env env;
	struct diags d = { 0 };
	int err;

	memset(c, 0, sizeof(*c));
	err = cli_load_config(cli_text(a, CLI_OPT_CONFIG), false, &c->cfg);
	if (err)
		return err;
	err = host_select(c->cfg, cli_text(a, CLI_OPT_HOST), &c->host, &d);
	if (err) {
		cli_print_diags(&d, false, NULL);
		diags_free(&d);
		return -CLI_EUSAGE;
	}
	err = cli_policy_env(&env, &c->resolvers);
	/* only the host's addresses configured here are the host itself */
	if (!err)
		err = cli_machine_addrs(&env, &c->local);
	if (!err) {
		cli_warn_missing_addrs(c->host, &env);
		err = policy_compile(c->cfg, c->host->name, &env, &c->p, &d);
	}
	if (err)
		cli_print_diags(&d, false, NULL);
	diags_free(&d);
	return err ? err : resolve_policy_names(c->p, &a->pinned, &c->names);
}

static void print_outcome(const struct instance *inst, const struct compiled *c,
			  const struct apply_outcome *out, bool audit)
{
	printf("%s %s: policy generation %u enforced for host %s (+%zu/-%zu entries",
	       out->created ? "created" : "updated", inst->pin_dir, out->generation, c->host->name,
	       out->added, out->removed);
	if (out->attached || out->detached)
		printf("; %zu hook%s attached, %zu removed", out->attached,
		       out->attached == 1 ? "" : "s", out->detached);
	if (out->migrated)
		printf("; maps of another build's layout replaced, without a gap");
	if (out->grown)
		printf("; the policy maps grew to %u exact and %u prefix entries, without a gap",
		       out->exact_size, out->prefix_size);
	printf(")%s\n", audit || c->p->mode == SPEE_MODE_AUDIT ? " in audit mode" : "");
}

/* The policy is applied; with --confirm, the watcher that takes it back is armed. */
static int arm(struct instance *inst, const struct confirm_snapshot *snap, uint32_t generation,
	       unsigned long secs)
{
	struct diags d = { 0 };
	int err = confirm_arm(inst, snap, generation, (unsigned)secs, &d);

	if (err)
		cli_print_diags(&d, false, NULL);
	else if (snap->existed)
		printf("run `speebpf confirm --pin-dir %s` within %lu s, or generation %u reverts "
		       "to generation %u\n",
		       inst->pin_dir, secs, generation, snap->inst.generation);
	else
		printf("run `speebpf confirm --pin-dir %s` within %lu s, or the instance is removed "
		       "again\n",
		       inst->pin_dir, secs);
	diags_free(&d);
	return err;
}

static int do_apply(const struct cli_args *a, struct instance *inst)
{
	unsigned long confirm = cli_uint(a, CLI_OPT_CONFIRM);
	struct confirm_snapshot snap = { 0 };
	struct apply_outcome out;
	struct apply_request req;
	struct diags d = { 0 };
	struct compiled c;
	bool existed;
	int err;

	/* Compiled before the lock: a bad config changes nothing and waits for nobody. */
	err = compile(a, &c);
	if (!err)
		err = cli_open_instance(a, &inst);
	if (err)
		goto out;
	existed = inst->exists;
	if (confirm) {
		err = confirm_prepare(inst, &snap, &d);
		if (err) {
			cli_print_diags(&d, false, NULL);
			goto out;
		}
	}
	req = (struct apply_request){
		.policy = c.p,
		.names = &c.names,
		.cgroup = cli_text(a, CLI_OPT_CGROUP),
		.audit = cli_flag(a, CLI_OPT_AUDIT),
	};
	req.ifaces = cli_list(a, CLI_OPT_IFACE, &req.n_ifaces);
	err = apply_policy(inst, &req, &out, &d);
	if (err) {
		cli_print_diags(&d, false, NULL);
		fprintf(stderr, "speebpf: apply failed; %s\n",
			existed ? "the policy that was running is still enforced" :
				  "nothing was changed");
		/* no interface to enforce: the command line must say which (exit 2) */
		if (err == -EADDRNOTAVAIL)
			err = -CLI_EUSAGE;
		goto out;
	}
	print_outcome(inst, &c, &out, req.audit);
	if (confirm)
		err = arm(inst, &snap, out.generation, confirm);
out:
	instance_close(inst);
	confirm_snapshot_free(&snap);
	diags_free(&d);
	compiled_free(&c);
	return err;
}

CLI_COMMAND(apply, .summary = "load and attach this host's policy, or update it in place",
	    .access = CLI_CREATES, .options = CLI_TAKES(CLI_APPLY_OPTIONS, CLI_USE(CONFIRM)),
	    .run = do_apply);
