/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bench.h - what the parts of the benchmark harness (tools/bench/) share:
 * the options, the two clocks and the statistics, the result records of each
 * part, the targets and the JSON they are written to. Included by the C
 * files of tools/bench/.
 *
 * The harness runs inside the sandbox tools/bench/run.sh makes (two network
 * namespaces joined by a veth pair); every figure is measured in the same
 * run, and where it is a ratio in the same round, as what it is compared
 * with. It prints only progress (stderr); the results go to a JSON file from
 * which tools/bench/render.py renders BENCHMARKS.md and the summary.
 */
#ifndef SPEE_BENCH_H
#define SPEE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_SIZES 4 /* inventories of 10, 1,000, 10,000 and 100,000 hosts */
extern const size_t bench_sizes[BENCH_SIZES];

struct bench_opts {
	int rounds;	      /* test_run rounds, alternating the programs */
	int repeat;	      /* test_run repetitions per measurement */
	int sock_packets;     /* packets a measurement of the egress rows on real sockets */
	int cp_reps;	      /* control-plane repetitions */
	int flood_rounds;     /* A/B pairs of the floods */
	double flood_seconds; /* target length of one flood measurement */
	int conn_count;	      /* connections in one measurement of the allowed flood */
	int n_sizes;	      /* how many of bench_sizes (fewer with --quick) */
	const char *rx_netns; /* /run/netns/...: the measured host */
	const char *tx_netns; /* the floods' sender */
	const char *rx_if;
	const char *tx_if;
	const char *tmp_dir; /* generated configs go here */
	const char *cgroup;  /* a child cgroup of the run's own: the allowed flood, egress on sockets */
	const char *json_path;
	const char *previous; /* the previous run's JSON, to compare with */
	const char *label;    /* what was measured (the git commit), for the report */
	const char *xdpfilter_obj;
	const char *self; /* this program, re-run for the memory probe */
	int cpu;	  /* the CPU the test_run rounds and the receivers are pinned to */
};

/* min / median / max of n samples */
struct stat3 {
	double min;
	double med;
	double max;
	int n;
};

/*
 * The two clocks of a BPF_PROG_TEST_RUN measurement, ns per packet: the
 * calling thread's CPU time across the syscall (the program runs inside it)
 * and the kernel's own duration (ktime around the repetitions, paused while
 * the thread yields; reported in whole nanoseconds).
 */
enum bench_clock { CLK_CPU, CLK_KERNEL, CLK_COUNT };

struct clock2 {
	struct stat3 c[CLK_COUNT];
};

/* A socket row's second figure, in the slot of the clock it has not (struct dp_row_result). */
#define CLK_SOCK_MEDIAN CLK_CPU

/*
 * The times of a table of rows by variants (programs), each on both clocks,
 * over rounds: t[row][variant][clock][round].
 */
#define BENCH_CELL(t, variants, rounds, row, v, c, r)                                              \
	(t)[(((size_t)(row) * (variants) + (v)) * CLK_COUNT + (c)) * (rounds) + (r)]

/*
 * What bench_rounds times: variant v of row `row` into ns[] (one time a
 * clock). 1 for a pair that is not measured, 0, or a negative errno.
 */
typedef int (*bench_time_fn)(void *ctx, int row, int v, double ns[CLK_COUNT]);

/*
 * Fills t (BENCH_CELL's layout, rows x variants x rounds): every pair once
 * a round, the variants taking turns in an order that shifts every round,
 * so that none always runs first or right after the same one. Logs each
 * round's time under `what`. 0, or the first error (which ends the rounds).
 */
int bench_rounds(double *t, int rows, int variants, int rounds, bench_time_fn time, void *ctx,
		 const char *what);

uint64_t bench_now_ns(void);
uint64_t bench_thread_cpu_ns(void);
void stat3_of(const double *v, int n, struct stat3 *out);
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Runs prog_fd `repeat` times on data (with ctx for skb programs, else
 * NULL); ns per packet on both clocks in ns[], the return code in retval.
 * 0 or a negative errno.
 */
int bench_test_run(int prog_fd, const void *data, int len, const void *ctx, int ctx_len,
		   int repeat, double ns[CLK_COUNT], uint32_t *retval);

/*
 * Parks an XDP program on a veth of its own, down, in the current network
 * namespace (named after prefix, with a number n), and returns that veth's
 * ifindex or a negative errno. An attached program stays in the kernel's
 * XDP dispatcher; BPF_PROG_TEST_RUN otherwise adds it there and takes it
 * out again on every call, a text patch that costs milliseconds of CPU
 * time on a VM, which the thread's clock would count. bench_unpark_xdp
 * takes it off again (the namespace removes the veth).
 */
int bench_park_xdp(const char *prefix, int n, int prog_fd);
void bench_unpark_xdp(int ifindex);

/* setns() into the network namespace at path. 0 or a negative errno. */
int bench_enter_netns(const char *path);

/* Writes len bytes to dir/name; the path goes to out. 0 or a negative errno. */
int bench_write_file(const char *dir, const char *name, const char *buf, size_t len, char *out,
		     size_t out_len);

/* Pins the calling thread to cpu (-1: every CPU). */
int bench_pin_cpu(int cpu);

/*
 * Other tenants of the machine: bench_tenants_start notes every user task's
 * CPU time (kernel threads work for this run too); bench_tenants_busy then lists the tasks that took at least a tenth
 * of a CPU since, and gives what all of them took together (in CPUs).
 */
#define BENCH_TENANTS_MAX 8
struct tenant {
	char comm[20];
	double cpu_share; /* of one CPU */
};
void bench_tenants_start(void);

/*
 * How many other tasks were runnable beside the single-threaded parts (the
 * data and control planes), sampled every 100 ms while on: short-lived
 * tasks (compilers, tests) that the tenants above cannot see.
 * bench_others_running stops the sampling and gives the mean.
 */
void bench_others_sample(bool on);
double bench_others_running(long *samples);
int bench_tenants_busy(struct tenant *out, int max, double *total);

/* ---- the machine and its check (check.c) ---- */

struct machine {
	char release[72]; /* uname -r */
	char build[128];   /* uname -v: the kernel build */
	char arch[72];
	char cpu[128];
	long cores;
	long mem_mib;
	char libbpf[16];
	double load_start[3], load_end[3];
	struct tenant tenants[BENCH_TENANTS_MAX];
	int n_tenants;
	double tenants_total; /* CPUs the other tasks took together over the run */
	double others_running; /* other tasks runnable beside the measurements, on average */
	long others_samples;
};

void machine_read(struct machine *m);
void machine_load(double out[3]);

/* A fixed measurement: the empty XDP program and the reference filter on a one-entry table. */
struct check_sample {
	struct clock2 empty;
	struct clock2 reference;
	double empty_spread; /* slowest round over fastest, CPU clock */
	double reference_spread;
};

/* A quiet machine of this kind: above these the run is disturbed (ns, CPU clock). */
#define CHECK_EMPTY_MAX_NS 12.0
#define CHECK_REFERENCE_MAX_NS 35.0
#define CHECK_SPREAD_MAX 1.35 /* slowest round over fastest */
#define CHECK_TENANT_MAX 0.5  /* CPUs the other tasks took together over the run */
#define CHECK_OTHERS_MAX 0.5  /* other tasks runnable beside the measurements, on average */

#define CHECK_REASONS 8
struct check_result {
	struct check_sample start, end;
	bool have_end;
	bool disturbed;
	char reasons[CHECK_REASONS][160];
	int n_reasons;
};

int check_run(const struct bench_opts *o, struct check_sample *s);
/* Judges the samples, the data plane's own empty program and the tenants. */
struct dp_results;
void check_judge(struct check_result *c, const struct dp_results *dp, const struct machine *m);

/* ---- data plane (xdp.c) ---- */

enum dp_path {
	DP_PEER,	   /* SYN allowed by a peer (exact address) rule */
	DP_ANY,		   /* SYN allowed by an ANY rule */
	DP_CIDR,	   /* SYN allowed by an ADM (prefix) rule */
	DP_REFUSED,	   /* SYN no rule allows */
	DP_REPLY,	   /* SYN-ACK of an outbound connection (flow map hit) */
	DP_VLAN,	   /* an 802.1Q-tagged SYN allowed by a peer rule */
	DP_EGRESS_ALLOW,   /* cgroup_skb egress: outbound SYN a rule allows */
	DP_EGRESS_ESTAB,   /* cgroup_skb egress: an ACK of that connection */
	DP_EGRESS_REFUSE,  /* cgroup_skb egress: outbound SYN no rule allows */
	/* The same hook on real sockets (egress_sock.c), not BPF_PROG_TEST_RUN: */
	DP_EGRESS_SOCK_SYN,   /* a kernel TCP socket's SYN a rule allows */
	DP_EGRESS_SOCK_ESTAB, /* a packet of a kernel TCP socket's open connection */
	DP_PATH_COUNT,
};
extern const char *const dp_path_ids[DP_PATH_COUNT];

/* The programs a row runs through: speebpf, the reference, xdp-filter per inventory, the empty one. */
enum dp_prog { DPP_SPEE, DPP_REF, DPP_XF, DPP_COUNT };
#define DPV(p, s) ((p) * BENCH_SIZES + (s))
#define DPV_EMPTY (DPP_COUNT * BENCH_SIZES)
#define DP_VARIANTS (DPV_EMPTY + 1)

struct dp_row_result {
	char id[16];   /* "peer4" */
	char name[64]; /* "IPv4 SYN, peer rule" */
	enum dp_path path;
	int family; /* 4 or 6 */
	bool egress;
	/*
	 * Measured on real sockets, on the kernel's run-time statistics: the
	 * measurement's run time over its runs is kept as CLK_KERNEL, the
	 * median packet's as CLK_SOCK_MEDIAN (there is no thread-CPU clock).
	 */
	bool socket;
	bool has[DP_VARIANTS];
	struct clock2 ns[DP_VARIANTS];	/* ns per packet */
	struct clock2 net[DP_VARIANTS]; /* the same less the empty program of the same round */
	/* same-round ratios per inventory */
	struct clock2 vs_ref_net[BENCH_SIZES]; /* speebpf net / reference net */
	struct clock2 vs_xf_net[BENCH_SIZES];  /* speebpf net / xdp-filter net */
	struct clock2 vs_empty[BENCH_SIZES];   /* speebpf / the empty program */
	struct clock2 flat;		       /* speebpf net at the largest inventory / at 10 */
	char expect[48]; /* the verdict checked before timing: rule id or reason */
};

#define DP_MAX_ROWS 22

/* The refused IPv4 SYN at 1,000 hosts with drop events in each state. */
enum dp_events {
	DPE_OFF,	/* events: {rate: 0} */
	DPE_SENT,	/* written to the ring (the ring emptied between runs) */
	DPE_SUPPRESSED, /* held back by the token bucket, as in a flood */
	DPE_LOST,	/* the ring is full: no reader */
	DPE_COUNT,
};

struct dp_results {
	struct dp_row_result row[DP_MAX_ROWS];
	int n_rows;
	int n_sizes;
	int rounds;
	int repeat;
	int sock_packets; /* packets a measurement of the rows on real sockets */
	int cpu;
	bool xf_loaded;
	char xf_obj[128];
	char xf_note[256];
	size_t exact_entries[BENCH_SIZES]; /* spee_exact entries per slot */
	bool events_measured;
	int events_repeat;
	int events_batches;
	struct stat3 events_ns[DPE_COUNT];    /* ns per packet */
	struct stat3 events_extra[DPE_COUNT]; /* same-round ns over events off */
};

int dp_run(const struct bench_opts *o, struct dp_results *r);

/* ---- the egress program on real sockets (egress_sock.c) ---- */

/*
 * A sender process in the run's child cgroup, with kernel TCP sockets, and
 * its peer in the other namespace: what a kernel socket's packet costs the
 * cgroup_skb/egress program, on the kernel's own clock (BPF_ENABLE_STATS:
 * the program's run_time_ns over its run_cnt). Opened from the measured
 * host's namespace (the current one).
 */
struct egress_sock;
enum egress_sock_kind {
	ES_SYN,		/* a connect() to an allowed peer that answers nothing */
	ES_ESTABLISHED, /* a small write on an open connection */
};

int egress_sock_open(const struct bench_opts *o, struct egress_sock **out);

/* Attaches prog_fd to the cgroup and, for ES_ESTABLISHED, connects (family 4 or 6). */
int egress_sock_attach(struct egress_sock *e, int prog_fd, enum egress_sock_kind kind,
		       int family);

/*
 * count packets of that kind through the hook: the program's run time over
 * its runs (mean, ns), the median packet's run time (ns), and the runs.
 */
int egress_sock_run(struct egress_sock *e, int count, double *mean, double *median,
		    uint64_t *runs);

/* Closes the connection and detaches the program. */
void egress_sock_detach(struct egress_sock *e);
void egress_sock_close(struct egress_sock *e);

/* ---- gateway mode beside host mode (gateway.c) ---- */

enum gw_path {
	GW_ANY,	      /* SYN from outside the inventory, ANY rule: one end asked */
	GW_REFUSED,   /* SYN from outside no rule allows */
	GW_REPLY,     /* SYN-ACK of bench0's connection to its IH peer (flow hit) */
	GW_EAST_WEST, /* SYN IH peer -> bench0: the sender's egress and bench0's ingress rule */
	GW_PATH_COUNT,
};
extern const char *const gw_path_ids[GW_PATH_COUNT];

#define GW_MAX_ROWS 8

struct gw_row_result {
	char id[16];   /* "east-west4" */
	char name[64]; /* "IPv4 east-west SYN, peer rule at both ends" */
	bool east_west;
	char expect[48];	/* the rule or reason checked before timing */
	struct clock2 empty;	/* the empty XDP program, ns per packet */
	struct clock2 gateway;	/* spee_gw_xdp, net of the empty XDP program */
	struct clock2 host_in;	/* host mode: bench0's spee_xdp, net */
	struct clock2 host_out; /* host mode, east-west: the sender's spee_egress, net of the empty skb program */
	struct clock2 host;	/* host mode's whole cost of the packet: in (+ out) */
	struct clock2 vs_host;	/* gateway / host, same round */
};

struct gw_results {
	struct gw_row_result row[GW_MAX_ROWS];
	int n_rows;
	size_t hosts;
	unsigned policies; /* the gateway's distinct policies for those hosts */
	int rounds;
	int repeat;
	int cpu;
};

int gw_run(const struct bench_opts *o, struct gw_results *r);

/* ---- control plane (ctrl.c) ---- */

#define CP_SIZES 3     /* 1,000, 10,000, 100,000 hosts */
#define CP_MEM_SIZES 4 /* 1,000, 10,000 (IPv4 only and dual-stack), 100,000 */

/*
 * Milliseconds, twice: wall clock, and the process's CPU time (user and
 * system), which leaves out what other tenants of a shared machine took.
 */
struct timing {
	struct stat3 wall;
	struct stat3 cpu;
};

/* What the verifier said of each program of the object (bpf_prog_info). */
#define CP_PROGS 8
struct cp_prog {
	char name[32];
	uint32_t verified_insns;
	uint32_t xlated_bytes;
	uint32_t jited_bytes;
};

struct cp_size_result {
	size_t n_hosts;
	int family; /* 4 or 6 */
	size_t yaml_bytes;
	size_t exact_entries; /* per slot */
	int reps;
	struct timing parse;	/* config_load (read, YAML, schema) */
	struct timing compile;	/* policy_compile */
	struct timing load;	/* loader_sizes_for + loader_load (the verifier, the maps) */
	struct timing apply;	/* maps_apply into an empty slot, with the cache (agent) */
	struct timing apply_rb; /* the same, reading the slot back (a fresh process) */
	struct timing same;	/* maps_apply of the same policy again, with the cache */
	struct timing same_rb;	/* the same, reading the slot back */
	struct timing total;	/* parse + compile + apply (no program load) */
	struct timing total_rb; /* parse + compile + apply_rb */
};

struct cp_change_result {
	size_t n_hosts;
	int family;
	int steps; /* of each kind */
	struct timing parse_compile;
	struct timing apply;	/* maps_apply on the populated instance, with the cache */
	struct timing apply_rb; /* the same, reading the slot back */
	struct timing total;	/* parse + compile + apply */
	struct timing total_rb;
	size_t changed;	 /* median entries written or removed per step */
	bool consistent; /* every step, cached or read back, wrote the same number */
	bool verified;	 /* a read-back apply of the last policy found nothing to change */
};

struct mem_result {
	size_t n_hosts;
	bool v4, v6;
	long rss_start_kb; /* the process before reading anything */
	long rss_busy_kb; /* right after the applies, before the agent's idle trim */
	long rss_kb; /* holding config, policy, loaded object and the cached images of both slots */
	long hwm_kb; /* peak */
	long heap_kb;				      /* mallinfo2: in use at the end */
	long maps_kb;				      /* sum of the maps' memlock (fdinfo) */
	long exact_kb, ports_kb, flows_kb, prefix_kb; /* the largest maps */
};

struct cp_results {
	struct cp_size_result size[CP_SIZES * 2];
	int n_size;
	struct cp_change_result change[2];
	int n_change;
	struct mem_result mem[CP_MEM_SIZES];
	int n_mem;
	struct cp_prog prog[CP_PROGS];
	int n_prog;
};

int cp_run(const struct bench_opts *o, struct cp_results *r);

/* The memory probe: a fresh process measuring itself (main.c runs it for --mem-probe). */
int cp_mem_probe(const char *config_path, FILE *out);

/* ---- the refused-SYN flood (flood.c) ---- */

/* One way of running the flood (see flood.c). */
struct flood_mode_result {
	bool done;
	bool threaded; /* the receiver's NAPI in a thread on its own CPU, the sender on the other */
	uint64_t frames;	/* sent per measurement */
	struct stat3 spee_kpps; /* thousand packets a second taken in by the receiver */
	struct stat3 nft_kpps;
	struct stat3 ratio;		/* same-round speebpf / nftables */
	struct stat3 spee_offered_kpps; /* what the sender managed meanwhile */
	struct stat3 nft_offered_kpps;
	/* the largest |filter's own count - receiver's count| in a measurement */
	uint64_t max_mismatch;
	/*
	 * Threaded only: the receiver's NAPI thread's CPU time per packet it
	 * took in (ns), from /proc/PID/schedstat; cpu_ratio is the same-round
	 * nftables / speebpf, i.e. the ratio of the packets a second one
	 * receiving CPU takes. Other tenants taking the CPU lower the pps but
	 * not this.
	 */
	struct stat3 spee_cpu_ns;
	struct stat3 nft_cpu_ns;
	struct stat3 cpu_ratio;
};

struct flood_results {
	bool run;
	char skipped[256]; /* why the threaded measurement did not run, or "" */
	int rounds;
	size_t n_hosts;
	size_t nft_elements;		  /* in the nftables sets */
	struct flood_mode_result mode[2]; /* [0] threaded receiver, [1] shared CPU */
};

int flood_run(const struct bench_opts *o, struct flood_results *r);

/* ---- the allowed-connection flood (connflood.c) ---- */

struct conn_side {
	struct stat3 conns_per_s;      /* connections completed a second */
	struct stat3 rx_pkts_per_conn; /* frames the receiver took in a connection */
	struct stat3 cpu_us_per_conn;  /* the receiving CPU's time a connection */
	struct stat3 conns_per_cpu_s;  /* connections a second of the receiving CPU */
	struct stat3 cpu_ns_per_pkt;   /* the receiving CPU's time a frame it took in */
};

struct conn_results {
	bool run;
	char skipped[256];
	int rounds;
	int conns;	  /* a measurement */
	int in_flight;	  /* connections open at once */
	int payload;	  /* bytes the client sends on each */
	int segments;	  /* in that many writes */
	size_t n_hosts;
	/* speebpf, the empty XDP program alone, nftables with conntrack, no filter */
	struct conn_side side[4];
	struct stat3 cpu_ratio;	  /* same-round nftables / speebpf CPU a connection */
	struct stat3 spee_own_us; /* same-round speebpf - the empty XDP program, a connection */
	struct stat3 nft_own_us;  /* same-round nftables - no filter */
	uint64_t spee_refused;	/* frames speebpf dropped meanwhile (should be 0) */
	uint64_t nft_refused;
};

int conn_run(const struct bench_opts *o, struct conn_results *r);

/* ---- targets (targets.c) ---- */

struct bench_run {
	const struct bench_opts *opts;
	char started[32]; /* UTC, ISO 8601 */
	double seconds;
	struct machine machine;
	struct check_result check;
	const struct dp_results *dp;
	const struct gw_results *gw;
	const struct cp_results *cp;
	const struct flood_results *flood;
	const struct conn_results *conn;
};

#define TARGET_PARTS 3
struct target {
	const char *group; /* the goal's id, e.g. "dp-ref" */
	const char *goal;  /* what it asks, in words */
	char id[128];	   /* unique within a run: the group and the subject */
	char subject[80];  /* "IPv4 SYN, peer rule" */
	char at[48];	   /* where the figure was taken: "10,000 hosts (the worst)" */
	const char *unit;  /* "x", "ms", "MiB" */
	double value, min, max; /* median [min-max] over the rounds */
	const char *second_label; /* a second measure of the same, or NULL */
	double second;
	bool has_limit; /* false: measured, no target */
	double limit;
	bool at_least;
	bool met;
	struct {
		const char *name;
		double value;
		const char *unit;
	} part[TARGET_PARTS]; /* what the figure is made of */
	int n_parts;
};

#define MAX_TARGETS 96
int targets_collect(const struct bench_run *r, struct target *t, int max);

/* ---- JSON (json.c) ---- */

/* Writes the run to path, compared with the previous run's JSON (prev may be NULL). */
int json_write_run(const char *path, const struct bench_run *r, const char *prev);

/* Re-compares an existing run's JSON with a previous one, in place. */
int json_compare_files(const char *prev, const char *path);

#endif
