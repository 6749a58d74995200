// SPDX-License-Identifier: GPL-2.0-only
/* speebpf: the command table, the global options, and errors -> exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "loader.h"

#ifndef SPEEBPF_VERSION
#define SPEEBPF_VERSION "unknown"
#endif

/* The options before the command. */
static const struct cli_command global = {
	.name = "",
	.options = (const struct cli_use[]){ CLI_USE(VERBOSE), CLI_USE(VERSION), CLI_USE_END },
	.operands = "COMMAND [OPTIONS]",
};

/*
 * 0 success, 1 runtime failure, 2 usage or config error (CONTRACT.md
 * section 3), 3 what --exit-code flags (a drop, a difference).
 */
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

/* Parses argv against cmd's options, opens the instance as its table says, and runs it. */
static int run(const struct cli_command *cmd, int argc, char **argv)
{
	struct instance *inst = NULL;
	struct cli_args a;
	int err = cli_parse(cmd, argc, argv, &a);

	if (!err && (cmd->access == CLI_READS || cmd->access == CLI_WRITES))
		err = cli_open_instance(&a, &inst);
	if (!err)
		err = cmd->run(&a, inst);
	instance_close(inst);
	cli_args_free(&a);
	return err == 1 ? 0 : err; /* 1: the help was printed */
}

int main(int argc, char **argv)
{
	const struct cli_command *cmd;
	struct cli_args a;
	int err = cli_parse(&global, argc, argv, &a);

	if (err == 1) { /* --help */
		cli_list_commands(stdout);
		err = 0;
	}
	if (err || cli_flag(&a, CLI_OPT_VERSION)) {
		if (!err) {
			uint8_t id[8];

			loader_object_id(id);
			printf("speebpf %s (BPF object %02x%02x%02x%02x%02x%02x%02x%02x)\n",
			       SPEEBPF_VERSION, id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]);
		}
		cli_args_free(&a);
		return exit_status(err);
	}
	loader_set_verbose(cli_flag(&a, CLI_OPT_VERBOSE));
	if (!a.n_operands) {
		cli_list_commands(stderr);
		cli_args_free(&a);
		return 2;
	}
	cmd = cli_find_command(a.operands[0]);
	if (!cmd) {
		fprintf(stderr, "speebpf: unknown command '%s'\n", a.operands[0]);
		cli_list_commands(stderr);
		cli_args_free(&a);
		return 2;
	}
	/* The command sees its own name as argv[0], as getopt expects. */
	err = run(cmd, a.n_operands, a.operands);
	cli_args_free(&a);
	return exit_status(err);
}
