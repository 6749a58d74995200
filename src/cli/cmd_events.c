// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf events: the drops of an instance, one line each. Without --follow
 * it prints what is waiting in the ring buffer (the drops since the last
 * reader, as far as the ring and the rate limit kept them) and exits.
 */
#include <signal.h>
#include <stdio.h>

#include "cli.h"
#include "event_text.h"
#include "events.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void print_event(void *ctx, const struct spee_event *e, const struct spee_rule_meta *rules,
			int64_t mono_to_real_ns)
{
	event_print(stdout, *(const bool *)ctx, e, rules, mono_to_real_ns);
}

static int do_events(const struct cli_args *a, struct instance *inst)
{
	bool follow = cli_flag(a, CLI_OPT_FOLLOW), json = cli_flag(a, CLI_OPT_JSON);
	uint64_t st[SPEE_EV_STAT_MAX];
	struct events_reader *r;
	struct diags d = { 0 };
	int err;

	/* Reading goes on without the lock: writers must not wait for a reader that follows. */
	instance_release(inst);
	err = events_open(inst, print_event, &json, &r, &d);
	if (err) {
		cli_print_diags(&d, json, NULL);
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	do {
		err = events_poll(r, follow ? 200 : 0);
		fflush(stdout);
		if (err < 0)
			break;
		err = 0;
	} while (follow && !stop);
	if (!json && events_stats(r, st) == 0)
		fprintf(stderr, "speebpf: %llu events sent since the instance started, %llu held "
				"back by the rate limit, %llu lost (no reader kept up)\n",
			(unsigned long long)st[SPEE_EV_SENT],
			(unsigned long long)st[SPEE_EV_SUPPRESSED],
			(unsigned long long)st[SPEE_EV_LOST]);
	events_close(r);
out:
	diags_free(&d);
	return err;
}

CLI_COMMAND(events, .summary = "drops as they happen: who, where, why",
	    .description = "  Prints the drops waiting to be read (one reader at a time consumes\n"
			   "  them); --follow keeps printing as they happen, until Ctrl-C.",
	    .access = CLI_READS, .options = CLI_TAKES(CLI_USE(FOLLOW), CLI_USE(JSON)),
	    .run = do_events);
