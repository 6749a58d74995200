/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bench.h - what the parts of the benchmark harness (tools/bench/) share:
 * the options, timing and statistics, the result records of each part and
 * the report that prints them. Included by the C files of tools/bench/.
 *
 * The harness runs inside the sandbox tools/bench/run.sh makes (two network
 * namespaces joined by a veth pair); every figure is measured in the same
 * run as the references it is compared with.
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
	int cp_reps;	      /* control-plane repetitions */
	int flood_rounds;     /* A/B pairs of the flood */
	double flood_seconds; /* target length of one flood measurement */
	int n_sizes;	      /* how many of bench_sizes (fewer with --quick) */
	const char *rx_netns; /* /run/netns/...: the measured host */
	const char *tx_netns; /* the flood's sender */
	const char *rx_if;
	const char *tx_if;
	const char *tmp_dir; /* generated configs go here */
	const char *md_path; /* BENCHMARKS.md, or NULL */
	const char *xdpfilter_obj;
	const char *self; /* this program, re-run for the memory probe */
	int cpu;	  /* the CPU the test_run rounds are pinned to */
};

/* min / median / max of n samples */
struct stat3 {
	double min;
	double med;
	double max;
	int n;
};

uint64_t bench_now_ns(void);
void stat3_of(const double *v, int n, struct stat3 *out);
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* setns() into the network namespace at path. 0 or a negative errno. */
int bench_enter_netns(const char *path);

/* Writes len bytes to dir/name; the path goes to out. 0 or a negative errno. */
int bench_write_file(const char *dir, const char *name, const char *buf, size_t len, char *out,
		     size_t out_len);

/* Pins the calling thread to cpu (-1: every CPU). */
int bench_pin_cpu(int cpu);

/*
 * Other tenants of the machine: bench_tenants_start notes every task's CPU
 * time; bench_tenants_busy then lists, in out, the tasks that took at least
 * a tenth of a CPU since, for the report to say what ran beside it.
 */
void bench_tenants_start(void);
void bench_tenants_busy(char *out, size_t len);

/* ---- data plane (xdp.c) ---- */

enum dp_path {
	DP_PEER,	  /* SYN allowed by a peer (exact address) rule */
	DP_ANY,		  /* SYN allowed by an ANY rule */
	DP_CIDR,	  /* SYN allowed by an ADM (prefix) rule */
	DP_REFUSED,	  /* SYN no rule allows */
	DP_REPLY,	  /* SYN-ACK of an outbound connection (flow map hit) */
	DP_VLAN,	  /* an 802.1Q-tagged SYN allowed by a peer rule */
	DP_EGRESS_ALLOW,  /* cgroup_skb egress: outbound SYN a rule allows */
	DP_EGRESS_REFUSE, /* cgroup_skb egress: outbound SYN no rule allows */
	DP_PATH_COUNT,
};

/* Variants: speebpf, the reference filter and xdp-filter per inventory, then the empty program. */
#define DPV_SPEE(s) (s)
#define DPV_REF(s) (BENCH_SIZES + (s))
#define DPV_XF(s) (2 * BENCH_SIZES + (s))
#define DPV_EMPTY (3 * BENCH_SIZES)
#define DP_VARIANTS (3 * BENCH_SIZES + 1)

struct dp_row_result {
	char name[64];
	enum dp_path path;
	int family; /* 4 or 6 */
	bool egress;
	bool has[DP_VARIANTS];
	struct stat3 ns[DP_VARIANTS];	  /* ns per packet */
	struct stat3 vs_ref[BENCH_SIZES]; /* same-round speebpf / reference */
	struct stat3
	    vs_ref_net[BENCH_SIZES];	 /* the same with the empty program's cost taken off both */
	struct stat3 vs_xf[BENCH_SIZES]; /* same-round speebpf / xdp-filter */
	struct stat3 vs_small; /* same-round speebpf at the largest inventory / at 10 hosts */
	char expect[48];       /* the verdict checked before timing: rule id or reason */
};

#define DP_MAX_ROWS 16

/* The refused IPv4 SYN at 1,000 hosts with drop events in each state. */
enum dp_events {
	DPE_OFF, /* events: {rate: 0} */
	DPE_SENT, /* written to the ring (the ring emptied between runs) */
	DPE_SUPPRESSED, /* held back by the token bucket, as in a flood */
	DPE_LOST, /* the ring is full: no reader */
	DPE_COUNT,
};

struct dp_results {
	struct dp_row_result row[DP_MAX_ROWS];
	int n_rows;
	int rounds;
	int repeat;
	bool xf_loaded;
	char xf_note[256];
	size_t exact_entries[BENCH_SIZES]; /* spee_exact entries per slot */
	double load_ms[BENCH_SIZES];	   /* parse + compile + load + apply of each inventory */
	bool events_measured;
	int events_repeat;
	int events_batches;
	struct stat3 events_ns[DPE_COUNT]; /* ns per packet */
	struct stat3 events_extra[DPE_COUNT]; /* same-round ns over events off */
};

int dp_run(const struct bench_opts *o, struct dp_results *r);

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

struct cp_size_result {
	size_t n_hosts;
	int family; /* 4 or 6 */
	size_t yaml_bytes;
	size_t exact_entries; /* per slot */
	int reps;
	struct timing parse;	/* config_load (read, YAML, schema) */
	struct timing compile;	/* policy_compile */
	struct timing load;	/* loader_sizes_for + loader_load (the verifier) */
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
};

int cp_run(const struct bench_opts *o, struct cp_results *r);

/* The memory probe: a fresh process measuring itself (main.c runs it for --mem-probe). */
int cp_mem_probe(const char *config_path, FILE *out);

/* ---- the flood (flood.c) ---- */

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
	 * took in (ns), from /proc/PID/schedstat. Other tenants taking the CPU
	 * lower the pps but not this.
	 */
	struct stat3 spee_cpu_ns;
	struct stat3 nft_cpu_ns;
	struct stat3 cpu_ratio; /* same-round nftables / speebpf */
};

struct flood_results {
	char skipped[256]; /* why the flood did not run, or "" */
	int rounds;
	size_t n_hosts;
	size_t nft_elements;		  /* in the nftables sets */
	struct flood_mode_result mode[2]; /* [0] threaded receiver, [1] shared CPU */
};

int flood_run(const struct bench_opts *o, struct flood_results *r);

/* ---- the report (report.c) ---- */

struct bench_report {
	const struct bench_opts *opts;
	const struct dp_results *dp;
	const struct cp_results *cp;
	const struct flood_results *flood;
	double seconds;	   /* the run's length */
	char tenants[512]; /* other tasks busy during the run (bench_tenants_busy) */
};

void report_print(FILE *out, const struct bench_report *r);
int report_markdown(const char *path, const struct bench_report *r);

#endif
