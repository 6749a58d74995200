/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * docgen.h - the man page speebpf(8) and the bash completion, written from
 * the command line's tables (cmdline.h CLI_OPTIONS, commands.h, each
 * command's CLI_COMMAND entry): the same source as `--help`, so neither can
 * lack a command or an option the program has. tools/docgen.c writes them
 * at build time; tests/cli/test_docs.sh holds them to the program's help.
 */
#ifndef SPEE_DOCGEN_H
#define SPEE_DOCGEN_H

#include <stdio.h>

/* speebpf(8) in man(7) format; version and date (YYYY-MM-DD) for its title line. */
void docgen_man(FILE *out, const char *version, const char *date);

/* A bash completion script for speebpf (bash-completion's _init_completion). */
void docgen_bash_completion(FILE *out);

#endif
