// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf export: one host's policy as a ruleset for another firewall
 * (nftables, Windows Firewall), on stdout. The ruleset is written in full
 * or not at all: a failure leaves stdout empty, so that `speebpf export ...
 * | nft -f -` never loads half a table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "export.h"
#include "names.h"
#include "policy.h"
#include "resolve.h"

#define RESOLVE_TIMEOUT_MS 2000

/* The policy's DNS names that --resolve did not pin, resolved into t. */
static void resolve_names(const struct policy *p, struct name_table *t, bool no_resolve)
{
	struct resolver *r;
	char **todo;
	size_t n = 0;

	if (no_resolve || !p->n_names)
		return;
	todo = calloc(p->n_names, sizeof(*todo));
	if (!todo)
		return;
	for (size_t i = 0; i < p->n_names; i++)
		if (!names_find(t, p->names[i]))
			todo[n++] = p->names[i];
	if (n && !resolver_open(&r, RESOLVE_TIMEOUT_MS)) {
		resolver_resolve_all(r, t, todo, n);
		resolver_close(r);
	}
	free(todo);
}

/* What the operator should know about the ruleset: said on stderr, never in it. */
static void warn(const struct policy *p, const struct name_table *t)
{
	for (size_t i = 0; i < p->n_names; i++) {
		const struct name_addrs *na = names_find(t, p->names[i]);

		if (!na || !na->n_addrs)
			fprintf(stderr,
				"speebpf export: note: %s has no addresses (%s): the rules using it "
				"allow nothing until it resolves\n",
				p->names[i], na && na->last_error ? na->last_error : "not resolved");
	}
	if (!p->cfg->resolvers_from_file)
		fprintf(stderr,
			"speebpf export: note: the config names no resolvers, so DNS is allowed to "
			"this machine's (/etc/resolv.conf); set resolvers: for host %s\n",
			p->host->name);
}

static int do_export(const struct cli_args *a, struct instance *inst)
{
	const char *config_path = cli_text(a, CLI_OPT_CONFIG), *host = cli_text(a, CLI_OPT_HOST);
	int format = export_format_from_label(cli_text(a, CLI_OPT_FORMAT));
	struct name_table names = { 0 };
	struct config *cfg = NULL;
	struct policy *p = NULL;
	struct prefix *resolvers = NULL;
	struct policy_env env;
	struct diags d = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = NULL;
	int err;

	(void)inst; /* it opens no instance */
	err = names_copy(&names, &a->pinned); /* --resolve, then what is resolved */
	if (err)
		goto out;
	err = cli_load_config(config_path, false, &cfg);
	if (err)
		goto out;
	if (!config_find_host(cfg, host)) {
		fprintf(stderr, "speebpf export: host '%s' is not in the inventory of %s\n", host,
			config_path);
		err = -CLI_EUSAGE;
		goto out;
	}
	err = cli_policy_env(&env, &resolvers);
	if (err) {
		fprintf(stderr, "speebpf: cannot read the system's resolvers: %s\n", strerror(-err));
		goto out;
	}
	err = policy_compile(cfg, host, &env, &p, &d);
	if (err) {
		cli_print_diags(&d, false, NULL);
		err = err == -ENOMEM ? err : -CLI_EUSAGE;
		goto out;
	}
	resolve_names(p, &names, cli_flag(a, CLI_OPT_NO_RESOLVE));
	mem = open_memstream(&buf, &len);
	if (!mem) {
		err = -errno;
		fprintf(stderr, "speebpf export: %s\n", strerror(-err));
		goto out;
	}
	err = export_write(format, p, &names, mem, &d);
	if (fclose(mem) && !err)
		err = -EIO;
	mem = NULL;
	if (err) {
		cli_print_diags(&d, false, NULL);
		if (err == -EPROTONOSUPPORT || err == -ENAMETOOLONG)
			err = -CLI_EUSAGE;
		else
			fprintf(stderr, "speebpf export: %s\n", strerror(-err));
		goto out;
	}
	warn(p, &names);
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout)) {
		err = errno ? -errno : -EIO;
		fprintf(stderr, "speebpf export: writing the ruleset: %s\n", strerror(-err));
	}
out:
	if (err == 1)
		err = 0;
	free(buf);
	diags_free(&d);
	policy_free(p);
	free(resolvers);
	names_free(&names);
	config_free(cfg);
	return err;
}

CLI_COMMAND(export, .summary = "this policy as an nftables or Windows Firewall ruleset",
	    .description =
		    "  Prints host NAME's policy as a ruleset for another firewall on stdout.\n"
		    "  FORMAT is one of:\n"
		    "    nftables          an `nft -f` file: table inet speebpf, replaced whole\n"
		    "    nftables-names    the addresses of that table's DNS-name sets, to refresh them\n"
		    "    windows-firewall  a PowerShell script for Windows Server 2019/2022 that\n"
		    "                      replaces the rules of group speebpf\n"
		    "    windows-keywords  the DNS names' addresses, for that script's scheduled task\n"
		    "  DNS names are resolved (c-ares: hosts file, then DNS) unless pinned with\n"
		    "  --resolve; with --no-resolve, names not pinned allow nothing yet.",
	    .options = CLI_TAKES(CLI_REQUIRE(CONFIG), CLI_REQUIRE(HOST), CLI_REQUIRE(FORMAT),
				 CLI_USE(RESOLVE), CLI_USE(NO_RESOLVE)),
	    .run = do_export);
