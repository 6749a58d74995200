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
#include "gateway.h"
#include "host.h"
#include "maps.h"
#include "names.h"
#include "policy.h"
#include "resolve.h"
#include "verify_fleet.h"
#include "verify_text.h"

/* What apply and run compile: the config, this host, its policy, the names' addresses. */
struct compiled {
	struct config *cfg;
	const struct cfg_host *host; /* NULL in gateway mode */
	struct policy *p; /* gateway mode: &gw->fleet, owned by gw */
	struct gateway_policy *gw; /* --gateway: every inventory host's policy */
	struct name_table names;
	struct policy_env env; /* the machine's resolvers */
	struct prefix *resolvers;
	struct prefix *local; /* the machine's addresses */
};

static void compiled_free(struct compiled *c)
{
	names_free(&c->names);
	if (c->gw)
		gateway_free(c->gw);
	else
		policy_free(c->p);
	free(c->resolvers);
	free(c->local);
	config_free(c->cfg);
}

/* --gateway: every inventory host, none of them this machine. */
static int compile_gateway(const struct cli_args *a, struct compiled *c)
{
	struct diags d = { 0 };
	size_t n_ifaces;
	char *const *ifaces = cli_list(a, CLI_OPT_IFACE, &n_ifaces);
	bool all = false;
	int err;


	for (size_t i = 0; i < n_ifaces; i++)
		all |= !strcmp(ifaces[i], APPLY_IFACES_ALL);
	if (all) {
		fprintf(stderr, "speebpf %s: --gateway needs the interfaces by name: --iface all "
				"would put it on every interface of the machine\n",
			a->cmd->name);
		return -CLI_EUSAGE;
	}
	err = cli_policy_env(&c->env, &c->resolvers);
	if (!err)
		err = gateway_compile(c->cfg, &c->env, &c->gw, &d);
	if (!err) {
		c->p = &c->gw->fleet;
		if (maps_check_datapath(c->p, &d))
			err = -CLI_EUSAGE;
	}
	/* a bridge device, or no such interface: the command line's problem (exit 2) */
	if (!err && apply_check_gateway_ifaces(ifaces, n_ifaces, &d))
		err = -CLI_EUSAGE;
	if (err)
		cli_print_diags(&d, false, NULL);
	diags_free(&d);
	return err ? err : resolve_policy_names(c->p, &a->pinned, &c->names);
}

static int compile(const struct cli_args *a, struct compiled *c)
{
	struct diags d = { 0 };
	int err;

	memset(c, 0, sizeof(*c));
	err = cli_load_config(cli_text(a, CLI_OPT_CONFIG), false, &c->cfg);
	if (err)
		return err;
	if (cli_flag(a, CLI_OPT_GATEWAY))
		return compile_gateway(a, c);
	err = host_select(c->cfg, cli_text(a, CLI_OPT_HOST), &c->host, &d);
	if (err) {
		cli_print_diags(&d, false, NULL);
		diags_free(&d);
		return -CLI_EUSAGE;
	}
	err = cli_policy_env(&c->env, &c->resolvers);
	/* only the host's addresses configured here are the host itself */
	if (!err)
		err = cli_machine_addrs(&c->env, &c->local);
	if (!err) {
		cli_warn_missing_addrs(c->host, &c->env);
		err = policy_compile(c->cfg, c->host->name, &c->env, &c->p, &d);
	}
	/* A rule the kernel programs cannot enforce: the config's problem, as exit 2. */
	if (!err && maps_check_datapath(c->p, &d))
		err = -CLI_EUSAGE;
	if (err)
		cli_print_diags(&d, false, NULL);
	diags_free(&d);
	return err ? err : resolve_policy_names(c->p, &a->pinned, &c->names);
}

static void print_outcome(const struct instance *inst, const struct compiled *c,
			  const struct apply_outcome *out, bool audit)
{
	if (c->gw)
		printf("%s %s: policy generation %u enforced as a gateway for %zu hosts, %u "
		       "policies (+%zu/-%zu entries",
		       out->created ? "created" : "updated", inst->pin_dir, out->generation,
		       c->gw->n_hosts, c->gw->n_policies, out->added, out->removed);
	else
		printf("%s %s: policy generation %u enforced for host %s (+%zu/-%zu entries",
		       out->created ? "created" : "updated", inst->pin_dir, out->generation,
		       c->host->name, out->added, out->removed);
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

/* What happens without a confirmation, for the messages of --verify. */
static const char *revert_text(const struct confirm_snapshot *snap, unsigned long secs)
{
	static char text[128];

	if (snap->existed)
		snprintf(text, sizeof(text), "generation %u comes back within %lu s",
			 snap->inst.generation, secs);
	else
		snprintf(text, sizeof(text), "the new instance is removed within %lu s", secs);
	return text;
}

/*
 * --verify, the policy applied and armed (inst still locked, so the watcher
 * cannot revert meanwhile): probes the fleet from this host with the config
 * just applied; confirms when every probe gave what it must, else leaves the
 * policy to revert at the deadline. Returns 0 when confirmed, -EIO when
 * verify failed (exit 1), another negative errno when it could not run.
 */
static int verify_then_confirm(const struct cli_args *a, struct instance *inst,
			       const struct compiled *c, const struct confirm_snapshot *snap,
			       unsigned long secs)
{
	struct verify_fleet_opts opts = {
		.host = c->host->name,
		.pinned = &c->names, /* --resolve and what apply resolved */
		.timeout_ms = (unsigned)cli_uint(a, CLI_OPT_TIMEOUT_MS),
	};
	struct verify_fleet v = { 0 };
	struct diags d = { 0 };
	uint32_t generation = 0;
	int err;

	opts.env = &c->env;
	err = verify_fleet_run(c->cfg, &opts, &v, &d);
	for (size_t i = 0; i < v.warnings.n; i++)
		fprintf(stderr, "speebpf verify: warning: %s\n", v.warnings.v[i].msg);
	if (err) {
		cli_print_diags(&d, false, NULL);
		fprintf(stderr, "speebpf: verify could not run; not confirmed: %s\n",
			revert_text(snap, secs));
		goto out;
	}
	verify_text_print(stdout, &v.plan, v.sources, v.n_sources);
	if (!verify_passed(&v.plan)) {
		fprintf(stderr, "speebpf: verify failed; not confirmed: %s\n",
			revert_text(snap, secs));
		err = -EIO;
		goto out;
	}
	err = confirm_commit(inst, &generation, &d);
	if (err)
		cli_print_diags(&d, false, NULL);
	else
		printf("verify passed: confirmed, generation %u stays\n", generation);
out:
	verify_fleet_free(&v);
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
		.gateway = c.gw,
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
	if (!err && cli_flag(a, CLI_OPT_VERIFY))
		err = verify_then_confirm(a, inst, &c, &snap, confirm);
out:
	instance_close(inst);
	confirm_snapshot_free(&snap);
	diags_free(&d);
	compiled_free(&c);
	return err;
}

CLI_COMMAND(apply, .summary = "load and attach this host's policy, or update it in place",
	    .description =
		    "  With --confirm SECS, the previous policy comes back unless `speebpf confirm`\n"
		    "  runs within SECS seconds. With --verify too, apply runs `speebpf verify` for\n"
		    "  this host once the policy is enforced and confirms by itself when every probe\n"
		    "  gives what the config says; when one does not, it exits 1 and the policy\n"
		    "  reverts at the deadline. With --gateway (no --host), a router or hypervisor\n"
		    "  judges every inventory host's traffic it forwards or bridges: each --iface\n"
		    "  that is a bridge port gets a tc ingress filter, any other one XDP.",
	    .access = CLI_CREATES,
	    .options = CLI_TAKES(CLI_APPLY_OPTIONS, CLI_USE(CONFIRM), CLI_USE(VERIFY),
				 CLI_USE(TIMEOUT_MS)),
	    .rules = CLI_RULES({ CLI_NEEDS, CLI_OPT_VERIFY, CLI_OPT_CONFIRM },
			       { CLI_NEEDS, CLI_OPT_TIMEOUT_MS, CLI_OPT_VERIFY }, CLI_GATEWAY_RULES,
			       /* verify probes from one host of the fleet: this machine is none */
			       { CLI_EXCLUDES, CLI_OPT_GATEWAY, CLI_OPT_VERIFY }),
	    .run = do_apply);
