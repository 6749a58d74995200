// SPDX-License-Identifier: GPL-2.0-only
/* speebpf: the command table, global options, and errors -> exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int do_help(int argc, char **argv);

static const struct command commands[] = {
	{ "check", do_check, "validate a fleet config; print this host's allowlists" },
	{ "explain", do_explain, "the verdict the kernel would give one new connection" },
	{ "export", do_export, "this policy as an nftables or Windows Firewall ruleset" },
	{ "apply", do_apply, "load and attach this host's policy, or update it in place" },
	{ "confirm", do_confirm, "keep the policy applied with --confirm" },
	{ "run", do_run, "apply, then keep the policy current (the agent)" },
	{ "stats", do_stats, "per-rule hit counters and drop counters" },
	{ "status", do_status, "what is attached where, mode, policy generation, last apply" },
	{ "events", do_events, "drops as they happen: who, where, why" },
	{ "verify", do_verify, "probe the peers: is the matrix open and closed as configured" },
	{ "detach", do_detach, "remove every program, link and pin of an instance" },
	{ "help", do_help, "this list" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: speebpf [-v] COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'speebpf COMMAND --help' shows a command's options.\n");
}

static int do_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

/* 0 success, 1 runtime failure, 2 usage or config error (CONTRACT.md section 3), 3 flagged. */
static int exit_status(int err)
{
	if (err == 0)
		return 0;
	if (err == -CLI_EUSAGE)
		return 2;
	if (err == -CLI_EFLAGGED)
		return 3;
	return 1;
}

int main(int argc, char **argv)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			cli_verbose = 1;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "speebpf: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < N_COMMANDS; c++) {
		if (!strcmp(argv[i], commands[c].name)) {
			/* Handlers see argv[0] = their own name, as getopt expects. */
			return exit_status(commands[c].handler(argc - i, argv + i));
		}
	}
	fprintf(stderr, "speebpf: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
