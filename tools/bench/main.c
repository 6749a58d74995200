// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf-bench - the benchmarks of `make bench`. tools/bench/run.sh makes
 * the sandbox (two network namespaces joined by a veth pair, a temporary
 * directory) and runs this program in it; this program measures the data
 * plane, the control plane and the flood, prints a table and writes
 * BENCHMARKS.md.
 *
 * Internal: `speebpf-bench --mem-probe CONFIG` is the fresh process whose
 * resident memory the control-plane part reports.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: speebpf-bench --rx-netns PATH --tx-netns PATH --rx-if IF --tx-if IF\n"
		   "                     --tmp DIR [--md FILE] [--rounds N] [--repeat N]\n"
		   "                     [--flood-rounds N] [--cp-reps N] [--quick] [--only PART]\n"
		   "                     [--xdp-filter OBJ] [--cpu N]\n"
		   "Run by tools/bench/run.sh (make bench), which makes the sandbox.\n"
		   "PART: dp (data plane), cp (control plane), flood.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"rx-netns", required_argument, NULL, 'r'},
	    {"tx-netns", required_argument, NULL, 't'},
	    {"rx-if", required_argument, NULL, 'R'},
	    {"tx-if", required_argument, NULL, 'T'},
	    {"tmp", required_argument, NULL, 'd'},
	    {"md", required_argument, NULL, 'm'},
	    {"rounds", required_argument, NULL, 'n'},
	    {"repeat", required_argument, NULL, 'p'},
	    {"flood-rounds", required_argument, NULL, 'f'},
	    {"cp-reps", required_argument, NULL, 'c'},
	    {"quick", no_argument, NULL, 'q'},
	    {"only", required_argument, NULL, 'o'},
	    {"xdp-filter", required_argument, NULL, 'x'},
	    {"cpu", required_argument, NULL, 'u'},
	    {"mem-probe", required_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct bench_opts o = {
	    .rounds = 5,
	    .repeat = 1000000,
	    .cp_reps = 7,
	    .flood_rounds = 6,
	    .flood_seconds = 1.0,
	    .n_sizes = BENCH_SIZES,
	    .xdpfilter_obj = "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_dny_all.o",
	    .cpu = 1,
	};
	static struct dp_results dp;
	static struct cp_results cp;
	static struct flood_results flood;
	struct bench_report rep = {.opts = &o};
	const char *only = NULL;
	uint64_t t0 = bench_now_ns();
	int c, err = 0;

	o.self = argv[0];
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.rx_netns = optarg;
			break;
		case 't':
			o.tx_netns = optarg;
			break;
		case 'R':
			o.rx_if = optarg;
			break;
		case 'T':
			o.tx_if = optarg;
			break;
		case 'd':
			o.tmp_dir = optarg;
			break;
		case 'm':
			o.md_path = optarg;
			break;
		case 'n':
			o.rounds = atoi(optarg);
			break;
		case 'p':
			o.repeat = atoi(optarg);
			break;
		case 'f':
			o.flood_rounds = atoi(optarg);
			break;
		case 'c':
			o.cp_reps = atoi(optarg);
			break;
		case 'q':
			/* A smoke run: every part, small and short. */
			o.rounds = 3;
			o.repeat = 100000;
			o.cp_reps = 3;
			o.flood_rounds = 2;
			o.flood_seconds = 0.3;
			o.n_sizes = 2;
			break;
		case 'o':
			only = optarg;
			break;
		case 'x':
			o.xdpfilter_obj = optarg;
			break;
		case 'u':
			o.cpu = atoi(optarg);
			break;
		case 'M':
			return cp_mem_probe(optarg, stdout) ? 1 : 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!o.rx_netns || !o.tx_netns || !o.rx_if || !o.tx_if || !o.tmp_dir || o.rounds < 1 ||
	    o.repeat < 1 || o.cp_reps < 1 || o.flood_rounds < 1) {
		usage(stderr);
		return 2;
	}
	if (o.cpu >= sysconf(_SC_NPROCESSORS_ONLN))
		o.cpu = 0;
	loader_set_verbose(false);

	bench_tenants_start();
	err = bench_enter_netns(o.rx_netns);
	if (err) {
		bench_log("cannot enter %s: %s", o.rx_netns, strerror(-err));
		return 1;
	}
	/*
	 * The flood first: the other parts create and free maps of up to a
	 * million entries, and the kernel frees those in the background (RCU,
	 * workqueues) for a while after, on the CPUs the flood measures.
	 */
	if (!only || !strcmp(only, "flood")) {
		err = flood_run(&o, &flood);
		if (err) {
			bench_log("flood failed: %s", strerror(-err));
			return 1;
		}
		rep.flood = &flood;
	}
	if (!only || !strcmp(only, "dp")) {
		err = dp_run(&o, &dp);
		if (err) {
			bench_log("data plane failed: %s", strerror(-err));
			return 1;
		}
		rep.dp = &dp;
	}
	if (!only || !strcmp(only, "cp")) {
		err = cp_run(&o, &cp);
		if (err) {
			bench_log("control plane failed: %s", strerror(-err));
			return 1;
		}
		rep.cp = &cp;
	}
	rep.seconds = (double)(bench_now_ns() - t0) / 1e9;
	bench_tenants_busy(rep.tenants, sizeof(rep.tenants));
	report_print(stdout, &rep);
	if (o.md_path) {
		err = report_markdown(o.md_path, &rep);
		if (err) {
			bench_log("cannot write %s: %s", o.md_path, strerror(-err));
			return 1;
		}
		bench_log("wrote %s", o.md_path);
	}
	return 0;
}
