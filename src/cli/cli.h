/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cli.h - what the command handlers share: opening the instance as the
 * command's table entry says, loading a config, printing diagnostics and
 * JSON. The command line itself is cmdline.h's.
 */
#ifndef SPEE_CLI_H
#define SPEE_CLI_H

#include <stdbool.h>

#include "cmdline.h"
#include "instance.h"

/*
 * Opens the instance at --pin-dir the way the command's table entry says
 * (INSTANCE_READ, _WRITE or _CREATE). On failure prints why (as JSON with
 * --json) and returns the error.
 */
int cli_open_instance(const struct cli_args *a, struct instance **out);

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

#endif
