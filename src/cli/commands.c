// SPDX-License-Identifier: GPL-2.0-only
/* commands.c - the table of every command, and `speebpf help` (commands.h). */
#include "commands.h"

#include <string.h>

#define DECLARE(name) extern const struct cli_command cmd_##name;
CLI_COMMANDS(DECLARE)
#undef DECLARE

static const struct cli_command cmd_help;

const struct cli_command *const cli_commands[] = {
#define ENTRY(name) &cmd_##name,
	CLI_COMMANDS(ENTRY)
#undef ENTRY
	&cmd_help,
};

const size_t cli_n_commands = sizeof(cli_commands) / sizeof(cli_commands[0]);

const struct cli_command *cli_find_command(const char *name)
{
	for (size_t i = 0; i < cli_n_commands; i++)
		if (!strcmp(name, cli_commands[i]->name))
			return cli_commands[i];
	return NULL;
}

void cli_list_commands(FILE *out)
{
	fprintf(out, "usage: speebpf [-v] COMMAND [OPTIONS]\n       speebpf --version\n\ncommands:\n");
	for (size_t i = 0; i < cli_n_commands; i++)
		fprintf(out, "  %-9s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
	fprintf(out, "\n'speebpf COMMAND --help' shows a command's options.\n");
}

static int do_help(const struct cli_args *a, struct instance *inst)
{
	const struct cli_command *cmd;

	(void)inst;
	if (!a->n_operands) {
		cli_list_commands(stdout);
		return 0;
	}
	cmd = cli_find_command(a->operands[0]);
	if (!cmd || a->n_operands > 1) {
		fprintf(stderr, "speebpf help: %s '%s'\n", cmd ? "one command, not" : "no command",
			a->operands[cmd ? 1 : 0]);
		return -CLI_EUSAGE;
	}
	cli_usage(stdout, cmd, true);
	return 0;
}

static const struct cli_command cmd_help = {
	.name = "help",
	.summary = "this list, or a command's options",
	.operands = "[COMMAND]",
	.run = do_help,
};
