/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * commands.h - the commands of speebpf, in the order `speebpf help` lists
 * them. Each is a `const struct cli_command cmd_<name>` in cmd_<name>.c
 * (cmdline.h); adding one is a line in CLI_COMMANDS. The table of them all
 * (commands.c) serves main.c, `speebpf help`, and whatever generates
 * documentation from it.
 */
#ifndef SPEE_COMMANDS_H
#define SPEE_COMMANDS_H

#define CLI_COMMANDS(X)                                                                            \
	X(check)                                                                                   \
	X(explain)                                                                                 \
	X(export)                                                                                  \
	X(plan)                                                                                    \
	X(apply)                                                                                   \
	X(confirm)                                                                                 \
	X(run)                                                                                     \
	X(stats)                                                                                   \
	X(status)                                                                                  \
	X(events)                                                                                  \
	X(verify)                                                                                  \
	X(suggest)                                                                                 \
	X(detach)

#include <stddef.h>
#include <stdio.h>

#include "cmdline.h"

/* Every command, `help` last. */
extern const struct cli_command *const cli_commands[];
extern const size_t cli_n_commands;

/* The command of this name, or NULL. */
const struct cli_command *cli_find_command(const char *name);

/* "usage: speebpf [-v] COMMAND [OPTIONS]" and the commands with their summaries. */
void cli_list_commands(FILE *out);

#endif
