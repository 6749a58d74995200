// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf-bench - the benchmarks of `make bench`. tools/bench/run.sh makes
 * the sandbox (two network namespaces joined by a veth pair, a child cgroup,
 * a temporary directory) and runs this program in it. It checks the
 * machine, measures the floods, the data plane and the control plane,
 * checks the machine again, judges the targets and writes everything to one
 * JSON file, compared with the previous run's; tools/bench/render.py renders
 * BENCHMARKS.md and the summary from it.
 *
 * `speebpf-bench --compare PREV.json RUN.json` compares an existing run
 * with another, in place. Internal: `speebpf-bench --mem-probe CONFIG` is
 * the fresh process whose resident memory the control-plane part reports.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loader.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: speebpf-bench --rx-netns PATH --tx-netns PATH --rx-if IF --tx-if IF\n"
		   "                     --tmp DIR --cgroup DIR --json FILE [--previous FILE]\n"
		   "                     [--label TEXT] [--rounds N] [--repeat N] [--flood-rounds N]\n"
		   "                     [--conn-count N] [--sock-packets N] [--cp-reps N] [--quick]\n"
		   "                     [--only PART] [--xdp-filter OBJ] [--cpu N]\n"
		   "       speebpf-bench --compare PREVIOUS.json RUN.json\n"
		   "Run by tools/bench/run.sh (make bench), which makes the sandbox.\n"
		   "PART: flood, conn (the allowed-connection flood), dp (data plane),\n"
		   "gw (gateway mode's data plane beside host mode's), cp (control plane);\n"
		   "the machine check always runs.\n");
}

static void utc_now(char *buf, size_t len)
{
	time_t now = time(NULL);

	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
}

static bool part(const char *only, const char *name)
{
	return !only || !strcmp(only, name);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"rx-netns", required_argument, NULL, 'r'},
	    {"tx-netns", required_argument, NULL, 't'},
	    {"rx-if", required_argument, NULL, 'R'},
	    {"tx-if", required_argument, NULL, 'T'},
	    {"tmp", required_argument, NULL, 'd'},
	    {"cgroup", required_argument, NULL, 'g'},
	    {"json", required_argument, NULL, 'j'},
	    {"previous", required_argument, NULL, 'P'},
	    {"label", required_argument, NULL, 'l'},
	    {"rounds", required_argument, NULL, 'n'},
	    {"repeat", required_argument, NULL, 'p'},
	    {"flood-rounds", required_argument, NULL, 'f'},
	    {"conn-count", required_argument, NULL, 'C'},
	    {"sock-packets", required_argument, NULL, 'S'},
	    {"cp-reps", required_argument, NULL, 'c'},
	    {"quick", no_argument, NULL, 'q'},
	    {"only", required_argument, NULL, 'o'},
	    {"xdp-filter", required_argument, NULL, 'x'},
	    {"cpu", required_argument, NULL, 'u'},
	    {"mem-probe", required_argument, NULL, 'M'},
	    {"compare", required_argument, NULL, 'K'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct bench_opts o = {
	    .rounds = 9,
	    .repeat = 500000,
	    .sock_packets = 5000,
	    .cp_reps = 7,
	    .flood_rounds = 6,
	    .flood_seconds = 1.0,
	    .conn_count = 20000,
	    .n_sizes = BENCH_SIZES,
	    .xdpfilter_obj = "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_dny_all.o",
	    .label = "",
	    .cpu = 1,
	};
	static struct dp_results dp;
	static struct gw_results gw;
	static struct cp_results cp;
	static struct flood_results flood;
	static struct conn_results conn;
	static struct bench_run run;
	const char *only = NULL, *compare = NULL;
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
		case 'g':
			o.cgroup = optarg;
			break;
		case 'j':
			o.json_path = optarg;
			break;
		case 'P':
			o.previous = optarg;
			break;
		case 'l':
			o.label = optarg;
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
		case 'C':
			o.conn_count = atoi(optarg);
			break;
		case 'S':
			o.sock_packets = atoi(optarg);
			break;
		case 'c':
			o.cp_reps = atoi(optarg);
			break;
		case 'q':
			/* A smoke run: every part, small and short. */
			o.rounds = 3;
			o.repeat = 100000;
			o.sock_packets = 2000;
			o.cp_reps = 3;
			o.flood_rounds = 2;
			o.flood_seconds = 0.3;
			o.conn_count = 2000;
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
		case 'K':
			compare = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (compare) {
		if (optind + 1 != argc) {
			usage(stderr);
			return 2;
		}
		err = json_compare_files(compare, argv[optind]);
		if (err)
			bench_log("cannot compare %s with %s: %s", argv[optind], compare,
				  strerror(-err));
		return err ? 1 : 0;
	}
	if (!o.rx_netns || !o.tx_netns || !o.rx_if || !o.tx_if || !o.tmp_dir || !o.cgroup ||
	    !o.json_path || o.rounds < 1 || o.rounds > 64 || o.repeat < 1 || o.cp_reps < 1 ||
	    o.flood_rounds < 1 || o.conn_count < 1 || o.sock_packets < 1 || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (o.cpu >= sysconf(_SC_NPROCESSORS_ONLN))
		o.cpu = 0;
	loader_set_verbose(false);

	run.opts = &o;
	utc_now(run.started, sizeof(run.started));
	machine_read(&run.machine);
	machine_load(run.machine.load_start);
	bench_tenants_start();
	err = bench_enter_netns(o.rx_netns);
	if (err) {
		bench_log("cannot enter %s: %s", o.rx_netns, strerror(-err));
		return 1;
	}
	err = check_run(&o, &run.check.start);
	if (err) {
		bench_log("machine check failed: %s", strerror(-err));
		return 1;
	}
	/*
	 * The floods first: the other parts create and free maps of up to a
	 * million entries, and the kernel frees those in the background (RCU,
	 * workqueues) for a while after, on the CPUs the floods measure.
	 */
	if (part(only, "flood")) {
		err = flood_run(&o, &flood);
		if (err) {
			bench_log("flood failed: %s", strerror(-err));
			return 1;
		}
		run.flood = &flood;
	}
	if (part(only, "conn")) {
		err = conn_run(&o, &conn);
		if (err) {
			bench_log("allowed-connection flood failed: %s", strerror(-err));
			return 1;
		}
		run.conn = &conn;
	}
	bench_others_sample(true); /* the single-threaded parts */
	if (part(only, "dp")) {
		err = dp_run(&o, &dp);
		if (err) {
			bench_log("data plane failed: %s", strerror(-err));
			return 1;
		}
		run.dp = &dp;
	}
	if (part(only, "gw")) {
		err = gw_run(&o, &gw);
		if (err) {
			bench_log("gateway data plane failed: %s", strerror(-err));
			return 1;
		}
		run.gw = &gw;
	}
	if (part(only, "cp")) {
		err = cp_run(&o, &cp);
		if (err) {
			bench_log("control plane failed: %s", strerror(-err));
			return 1;
		}
		run.cp = &cp;
	}
	run.machine.others_running = bench_others_running(&run.machine.others_samples);
	err = check_run(&o, &run.check.end);
	run.check.have_end = !err;
	run.seconds = (double)(bench_now_ns() - t0) / 1e9;
	run.machine.n_tenants = bench_tenants_busy(run.machine.tenants, BENCH_TENANTS_MAX,
						   &run.machine.tenants_total);
	machine_load(run.machine.load_end);
	check_judge(&run.check, run.dp, &run.machine);
	for (int i = 0; i < run.check.n_reasons; i++)
		bench_log("DISTURBED: %s", run.check.reasons[i]);
	err = json_write_run(o.json_path, &run, o.previous);
	if (err) {
		bench_log("cannot write %s: %s", o.json_path, strerror(-err));
		return 1;
	}
	bench_log("wrote %s", o.json_path);
	return 0;
}
