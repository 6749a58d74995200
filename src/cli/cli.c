// SPDX-License-Identifier: GPL-2.0-only
/* Helpers every command uses: the instance, config loading, diagnostics, JSON (cli.h). */
#include "cli.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "host.h"
#include "policy.h"
#include "resolve.h"

int cli_open_instance(const struct cli_args *a, struct instance **out)
{
	static const enum instance_mode modes[] = {
		[CLI_READS] = INSTANCE_READ,
		[CLI_WRITES] = INSTANCE_WRITE,
		[CLI_CREATES] = INSTANCE_CREATE,
		[CLI_READS_IF_ANY] = INSTANCE_READ,
	};
	struct diags d = { 0 };
	int err;

	*out = NULL;
	if (a->cmd->access == CLI_NO_INSTANCE)
		return -EINVAL;
	err = instance_open(cli_text(a, CLI_OPT_PIN_DIR), modes[a->cmd->access], out, &d);
	if (err)
		cli_print_diags(&d, cli_flag(a, CLI_OPT_JSON), NULL);
	diags_free(&d);
	return err;
}

void cli_json_print(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void cli_print_diags(const struct diags *d, bool json, const char *summary)
{
	struct json_object *root, *errors;

	if (!json) {
		diags_print(stderr, d);
		if (summary)
			fprintf(stderr, "%s\n", summary);
		return;
	}
	root = json_object_new_object();
	errors = json_object_new_array();
	for (size_t i = 0; i < d->n; i++) {
		struct json_object *e = diag_place_json(&d->v[i]);
		char text[1024];

		diag_format(&d->v[i], text, sizeof(text));
		json_object_object_add(e, "message", json_object_new_string(d->v[i].msg));
		json_object_object_add(e, "text", json_object_new_string(text));
		json_object_array_add(errors, e);
	}
	json_object_object_add(root, "error",
			       json_object_new_string(summary ? summary : "failed"));
	json_object_object_add(root, "errors", errors);
	cli_json_print(root);
}

int cli_load_config(const char *path, bool json, struct config **out)
{
	struct diags d = { 0 };
	char summary[512];
	int err;

	err = config_load(path, out, &d);
	if (err) {
		snprintf(summary, sizeof(summary), "%s: %zu problem%s", path, d.n,
			 d.n == 1 ? "" : "s");
		cli_print_diags(&d, json, err == -EINVAL ? summary : NULL);
		diags_free(&d);
		return -CLI_EUSAGE;
	}
	diags_free(&d);
	return 0;
}

int cli_policy_env(struct policy_env *env, struct prefix **storage)
{
	struct resolver *r;
	size_t n = 0;
	int err;

	memset(env, 0, sizeof(*env));
	*storage = NULL;
	err = resolver_open(&r, 1000);
	if (err)
		return err;
	err = resolver_servers(r, storage, &n);
	resolver_close(r);
	if (err)
		return err;
	env->resolvers = *storage;
	env->n_resolvers = n;
	return 0;
}

int cli_machine_addrs(struct policy_env *env, struct prefix **storage)
{
	struct prefix *local = NULL, *receive = NULL;
	size_t n_local = 0, n_receive = 0;
	int err = host_local_addresses(&local, &n_local);

	if (!err)
		err = host_receive_addresses(&receive, &n_receive);
	/* one block, so that the caller frees one pointer: the addresses, then the scope */
	if (!err && !(*storage = malloc((n_local + n_receive + 1) * sizeof(**storage))))
		err = -ENOMEM;
	if (!err) {
		if (n_local)
			memcpy(*storage, local, n_local * sizeof(*local));
		if (n_receive)
			memcpy(*storage + n_local, receive, n_receive * sizeof(*receive));
		env->local_addrs = *storage;
		env->n_local_addrs = n_local;
		env->local_known = true;
		env->receive_addrs = *storage + n_local;
		env->n_receive_addrs = n_receive;
		env->receive_known = true;
	}
	free(local);
	free(receive);
	return err;
}

bool cli_is_this_machine(const struct config *cfg, const struct cfg_host *h)
{
	const struct cfg_host *mine = NULL;
	struct diags d = { 0 };
	bool yes = !host_select(cfg, NULL, &mine, &d) && mine == h;

	diags_free(&d);
	return yes;
}

int cli_warn_missing_addrs(const struct cfg_host *h, const struct policy_env *env)
{
	char text[ADDR_TEXT_LEN];
	int missing = 0;

	for (size_t i = 0; i < h->n_addrs; i++) {
		if (policy_env_has_local(env, &h->addrs[i]))
			continue;
		prefix_format(&h->addrs[i], text, sizeof(text));
		fprintf(stderr,
			"speebpf: warning: %s, an address of host %s in the inventory, is not "
			"configured on this machine: it does not count as the host itself, and "
			"what goes to it is judged as to any peer\n",
			text, h->name);
		missing++;
	}
	return missing;
}
