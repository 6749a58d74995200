// SPDX-License-Identifier: GPL-2.0-only
/* speebpf stats: per-rule hit counters and drop counters of a pinned instance. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "counters.h"
#include "instance.h"
#include "loader.h"
#include "stats.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: speebpf stats [--pin-dir DIR] [--json | --prometheus]\n"
		     "                     [--watch SECS [--count N]]\n"
		     "  --watch SECS  refresh every SECS seconds and show rates (text only)\n"
		     "  --count N     with --watch: stop after N refreshes (default: until ^C)\n");
}

int do_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'p' }, { "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'P' },    { "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' },   { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *pin_dir = INSTANCE_DEFAULT_PIN_DIR;
	struct counter_snapshot *cur = NULL, *prev = NULL;
	unsigned long watch = 0, count = 0;
	bool json = false, prom = false;
	struct spee_map_fds m;
	struct counter_maps cm;
	struct diags d = { 0 };
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pin_dir = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'P':
			prom = true;
			break;
		case 'w':
			if (!cli_parse_uint(optarg, 1, 3600, &watch)) {
				fprintf(stderr, "speebpf stats: --watch %s: seconds, 1-3600\n", optarg);
				return -CLI_EUSAGE;
			}
			break;
		case 'n':
			if (!cli_parse_uint(optarg, 1, ULONG_MAX, &count)) {
				fprintf(stderr, "speebpf stats: --count %s: a number of refreshes, 1 "
						"or more\n",
					optarg);
				return -CLI_EUSAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return -CLI_EUSAGE;
		}
	}
	if (optind != argc || (json && prom) || (watch && (json || prom)) || (count && !watch)) {
		usage(stderr);
		return -CLI_EUSAGE;
	}
	loader_set_verbose(cli_verbose);
	err = loader_open_pinned(&m, pin_dir, &d);
	if (err) {
		if (err == -ENOENT)
			fprintf(stderr, "speebpf: no instance is pinned at %s\n", pin_dir);
		else
			cli_print_diags(&d, json, NULL);
		diags_free(&d);
		return err;
	}
	counter_maps_from(&m, &cm);
	cur = malloc(sizeof(*cur));
	prev = malloc(sizeof(*prev));
	if (!cur || !prev) {
		err = -ENOMEM;
		goto out;
	}
	err = counters_read(&cm, cur);
	if (err) {
		fprintf(stderr, "speebpf: cannot read the counters under %s: %s\n", pin_dir,
			strerror(-err));
		goto out;
	}
	if (json) {
		cli_json_print(stats_json(cur));
	} else if (prom) {
		stats_render_prometheus(stdout, cur);
	} else if (!watch) {
		stats_render_text(stdout, cur, NULL);
	} else {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		while (!stop) {
			struct counter_snapshot *t;

			sleep((unsigned)watch);
			if (stop)
				break;
			t = prev;
			prev = cur;
			cur = t;
			err = counters_read(&cm, cur);
			if (err)
				break;
			printf("\033[H\033[2J");
			stats_render_text(stdout, cur, prev);
			fflush(stdout);
			if (count && !--count)
				break;
		}
	}
out:
	free(cur);
	free(prev);
	loader_close_pinned(&m);
	diags_free(&d);
	return err;
}
