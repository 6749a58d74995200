// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf suggest: what an instance's ANY-side rules allowed and what audit
 * mode would have dropped, as a config fragment to review and merge.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "matrix.h"
#include "suggest.h"
#include "tallies.h"

/*
 * The roles of the instance's host, from the config it applied (site
 * rules are enforced by role): into roles, or why not into why.
 */
static void host_roles(const struct spee_instance *rec, char *roles, size_t len, char *why,
		       size_t why_len)
{
	const struct cfg_host *h;
	struct config *cfg = NULL;
	struct diags d = {0};

	roles[0] = '\0';
	if (!rec->host[0] || !rec->config_path[0]) {
		snprintf(why, why_len, "the instance names no host or config");
	} else if (config_load(rec->config_path, &cfg, &d)) {
		snprintf(why, why_len, "the applied config %s no longer loads", rec->config_path);
	} else if (!(h = config_find_host(cfg, rec->host))) {
		snprintf(why, why_len, "host %s is not in %s any more", rec->host, rec->config_path);
	} else {
		roles_format(h->roles, roles, len);
	}
	config_free(cfg);
	diags_free(&d);
}

static int do_suggest(const struct cli_args *a, struct instance *inst)
{
	struct suggest_opts o = { .min_count = cli_uint(a, CLI_OPT_MIN_COUNT),
				  .source = inst->pin_dir };
	struct tally_snapshot *s = calloc(1, sizeof(*s));
	char roles[64], why[2 * SPEE_TEXT_LEN + 64];
	struct diags d = {0};
	int err;

	/* Read through the maps' fds: writers need not wait for the output. */
	instance_release(inst);
	if (!s)
		return -ENOMEM;
	err = tallies_read(inst, s, &d);
	if (err) {
		diags_print(stderr, &d);
		fprintf(stderr, "speebpf: cannot read what %s noted: %s\n", inst->pin_dir,
			strerror(-err));
	} else {
		host_roles(&s->rec, roles, sizeof(roles), why, sizeof(why));
		o.roles = roles[0] ? roles : NULL;
		o.why_no_roles = why;
		err = suggest_render(stdout, s, &o);
		if (err)
			fprintf(stderr, "speebpf: suggest: %s\n", strerror(-err));
	}
	diags_free(&d);
	tallies_free(s);
	free(s);
	return err;
}

CLI_COMMAND(suggest,
	    .summary = "narrow: entries and site rules from what the ANY rules and audit mode saw",
	    .description =
		    "Prints a YAML fragment of the fleet config: narrow: entries listing the remote\n"
		    "addresses each built-in ANY-side rule allowed, and site rules for the\n"
		    "would-drops of audit mode, with counts and first/last seen as comments.",
	    .access = CLI_READS, .options = CLI_TAKES(CLI_USE(MIN_COUNT)), .run = do_suggest);
