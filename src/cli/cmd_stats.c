// SPDX-License-Identifier: GPL-2.0-only
/* speebpf stats: per-rule hit counters and drop counters of a pinned instance. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "counters.h"
#include "stats.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Refreshes every `secs` seconds, `count` times (0: until a signal), with rates. */
static int watch(struct instance *inst, unsigned long secs, unsigned long count,
		 struct counter_snapshot *cur, struct counter_snapshot *prev)
{
	int err = 0;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop) {
		struct counter_snapshot *t;

		sleep((unsigned)secs);
		if (stop)
			break;
		t = prev;
		prev = cur;
		cur = t;
		counters_release(cur);
		err = counters_read(inst, cur);
		if (err)
			break;
		printf("\033[H\033[2J");
		stats_render_text(stdout, cur, prev);
		fflush(stdout);
		if (count && !--count)
			break;
	}
	return err;
}

static int do_stats(const struct cli_args *a, struct instance *inst)
{
	struct counter_snapshot *cur = NULL, *prev = NULL;
	unsigned long secs = cli_uint(a, CLI_OPT_WATCH);
	int err;

	/* The counters are read through the maps' fds; writers need not wait for a watch. */
	instance_release(inst);
	cur = calloc(1, sizeof(*cur));
	prev = calloc(1, sizeof(*prev));
	err = cur && prev ? counters_read(inst, cur) : -ENOMEM;
	if (err) {
		fprintf(stderr, "speebpf: cannot read the counters under %s: %s\n", inst->pin_dir,
			strerror(-err));
	} else if (cli_flag(a, CLI_OPT_JSON)) {
		cli_json_print(stats_json(cur));
	} else if (cli_flag(a, CLI_OPT_PROMETHEUS)) {
		stats_render_prometheus(stdout, cur);
	} else if (!secs) {
		stats_render_text(stdout, cur, NULL);
	} else {
		err = watch(inst, secs, cli_uint(a, CLI_OPT_COUNT), cur, prev);
	}
	if (cur)
		counters_release(cur);
	if (prev)
		counters_release(prev);
	free(cur);
	free(prev);
	return err;
}

CLI_COMMAND(stats, .summary = "per-rule hit counters and drop counters", .access = CLI_READS,
	    .description =
		    "  In gateway mode (apply --gateway) the counters are per inventory host: the\n"
		    "  text is grouped by host, --json rule entries and per-host drop entries carry\n"
		    "  \"host\", and --prometheus has a host label (the drop series without one are\n"
		    "  the gateway's totals, drops of no host included).",
	    .options = CLI_TAKES(CLI_USE(JSON), CLI_USE(PROMETHEUS), CLI_USE(WATCH), CLI_USE(COUNT)),
	    .rules = CLI_RULES({ CLI_EXCLUDES, CLI_OPT_JSON, CLI_OPT_PROMETHEUS },
			       { CLI_EXCLUDES, CLI_OPT_WATCH, CLI_OPT_JSON },
			       { CLI_EXCLUDES, CLI_OPT_WATCH, CLI_OPT_PROMETHEUS },
			       { CLI_NEEDS, CLI_OPT_COUNT, CLI_OPT_WATCH }),
	    .run = do_stats);
