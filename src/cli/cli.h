/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cli.h - what the subcommands share: the handler signature, the exit
 * status convention and option helpers. Handlers (src/cmd_<name>.c) return 0;
 * -CLI_EUSAGE for a usage or config problem they have reported (exit 2); or
 * another negative errno for a runtime failure they have reported (exit 1).
 */
#ifndef SPEE_CLI_H
#define SPEE_CLI_H

#include <stdbool.h>

/* Set by main from -v/--verbose: libbpf's own messages are shown. */
extern int cli_verbose;

/* A usage error: the handler already printed why. Maps to exit status 2. */
#define CLI_EUSAGE 2000

struct command {
	const char *name;
	int (*handler)(int argc, char **argv);
	const char *summary;
};

/* Parses a decimal number in [min, max]. Returns false when s is not one. */
bool cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

struct config;
struct diags;
struct json_object;
struct policy_env;
struct prefix;

/*
 * Loads and validates a config file. On failure prints every problem (as
 * JSON on stdout when json is set, else on stderr) and returns -CLI_EUSAGE.
 */
int cli_load_config(const char *path, bool json, struct config **out);

/* Prints diagnostics: on stderr, or as {"error": ..., "errors": [...]} on stdout. */
void cli_print_diags(const struct diags *d, bool json, const char *summary);

/* The machine's resolvers for policy_env; *storage must be freed by the caller. */
int cli_policy_env(struct policy_env *env, struct prefix **storage);

struct cfg_host;

/*
 * The machine's configured addresses into env (local_known), for compiling
 * the policy of this machine's host; *storage must be freed by the caller.
 */
int cli_machine_addrs(struct policy_env *env, struct prefix **storage);

/* True when h is the host this machine selects for itself (by hostname, else address). */
bool cli_is_this_machine(const struct config *cfg, const struct cfg_host *h);

/*
 * Warns on stderr about each inventory address of h that is not configured
 * on the machine env describes (it does not count as the host itself).
 * Returns how many.
 */
int cli_warn_missing_addrs(const struct cfg_host *h, const struct policy_env *env);

/* Prints a JSON document on stdout and releases it. */
void cli_json_print(struct json_object *o);

/* Handlers, one per file. */
int do_check(int argc, char **argv);
int do_explain(int argc, char **argv);
int do_apply(int argc, char **argv);
int do_stats(int argc, char **argv);
int do_status(int argc, char **argv);
int do_detach(int argc, char **argv);
int do_run(int argc, char **argv);
int do_confirm(int argc, char **argv);
int do_events(int argc, char **argv);

#endif
