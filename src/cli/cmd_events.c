// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf events: the drops of an instance, one line each. Without --follow
 * it prints what is waiting in the ring buffer (the drops since the last
 * reader, as far as the ring and the rate limit kept them) and exits.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "events.h"
#include "instance.h"
#include "loader.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: speebpf events [--pin-dir DIR] [--follow] [--json]\n"
		     "  Prints the drops waiting to be read (one reader at a time consumes\n"
		     "  them); --follow keeps printing as they happen, until Ctrl-C.\n");
}

int do_events(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'p' }, { "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },	     { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *pin_dir = INSTANCE_DEFAULT_PIN_DIR;
	struct events_reader *r;
	uint64_t st[SPEE_EV_STAT_MAX];
	struct diags d = { 0 };
	bool follow = false, json = false;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pin_dir = optarg;
			break;
		case 'f':
			follow = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return -CLI_EUSAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -CLI_EUSAGE;
	}
	loader_set_verbose(cli_verbose);
	err = events_open(pin_dir, json, stdout, &r, &d);
	if (err) {
		if (err == -ENOENT)
			fprintf(stderr, "speebpf: no instance is pinned at %s\n", pin_dir);
		else
			cli_print_diags(&d, json, NULL);
		diags_free(&d);
		return err;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	do {
		err = events_poll(r, follow ? 200 : 0);
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
	diags_free(&d);
	return err;
}
