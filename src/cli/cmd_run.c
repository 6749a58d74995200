// SPDX-License-Identifier: GPL-2.0-only
/* speebpf run: the agent (see agent.h). */
#include <stdio.h>

#include "agent.h"
#include "apply_opts.h"
#include "cli.h"
#include "instance.h"
#include "loader.h"
#include "log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: speebpf run -c FILE [the options of apply] [--log-format text|json]\n"
		"                   [--drift-interval SECS] [--debounce-ms MS]\n"
		"  Applies, then keeps the policy current: reloads when FILE changes (or on\n"
		"  SIGHUP), re-resolves DNS names when their TTL runs out, checks every\n"
		"  --drift-interval seconds (default 30; 0: never) that the kernel enforces\n"
		"  what was compiled and repairs it if not. SIGTERM and SIGINT stop the agent\n"
		"  and leave the policy enforced; `speebpf detach` removes it.\n"
		"  --log-format json  one JSON object per line on stderr, for log shippers\n");
}

int do_run(int argc, char **argv)
{
	struct apply_opts o;
	struct agent_settings s;
	int err;

	err = apply_opts_parse(argc, argv, &o, usage);
	if (err)
		goto out;
	if (o.log_format) {
		int f = log_format_parse(o.log_format);

		if (f < 0) {
			fprintf(stderr, "speebpf run: --log-format %s: text or json\n", o.log_format);
			err = -CLI_EUSAGE;
			goto out;
		}
		log_set_format((enum log_format)f);
	}
	if (o.confirm_secs) {
		fprintf(stderr, "speebpf run: --confirm belongs to apply\n");
		err = -CLI_EUSAGE;
		goto out;
	}
	loader_set_verbose(cli_verbose);
	s = (struct agent_settings){
		.opts = &o,
		.debounce_ms = (unsigned)o.debounce_ms,
		.drift_interval_s = (unsigned)o.drift_interval,
	};
	err = agent_run(&s);
out:
	if (err == 1)
		err = 0;
	apply_opts_free(&o);
	return err;
}
