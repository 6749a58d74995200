// SPDX-License-Identifier: GPL-2.0-only
/*
 * report.c - the results: a table on stdout and BENCHMARKS.md (the method,
 * the machine, every figure with min/median/max, the ratios and each
 * target met or missed by how much). The analysis of the misses is prose
 * kept in tools/bench/analysis.md and copied in.
 */
#include "bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#define ANALYSIS_MD "tools/bench/analysis.md"

static const char *const size_names[BENCH_SIZES] = {"10", "1,000", "10,000", "100,000"};

/* n with thousands separators: "100,000". */
static const char *count(size_t n, char *buf, size_t len)
{
	char digits[32];
	size_t nd, o = 0;

	snprintf(digits, sizeof(digits), "%zu", n);
	nd = strlen(digits);
	for (size_t i = 0; i < nd && o + 2 < len; i++) {
		if (i && (nd - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

/* ---- the machine ---- */

struct machine {
	char kernel[256];
	char cpu[256];
	long cores;
	long mem_mib;
	char date[64];
	char load[256];
};

static void machine_read(struct machine *m)
{
	struct utsname u;
	char line[256];
	time_t now = time(NULL);
	FILE *f;

	memset(m, 0, sizeof(*m));
	if (!uname(&u))
		snprintf(m->kernel, sizeof(m->kernel), "%s %s %s", u.sysname, u.release, u.machine);
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c && !m->cpu[0]) {
			snprintf(m->cpu, sizeof(m->cpu), "%s", c + 2);
			m->cpu[strcspn(m->cpu, "\n")] = 0;
		}
	}
	if (f)
		fclose(f);
	m->cores = sysconf(_SC_NPROCESSORS_ONLN);
	m->mem_mib = sysconf(_SC_PHYS_PAGES) / 1024 * sysconf(_SC_PAGESIZE) / 1024;
	strftime(m->date, sizeof(m->date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	f = fopen("/proc/loadavg", "r");
	if (f && fgets(line, sizeof(line), f)) {
		snprintf(m->load, sizeof(m->load), "%s", line);
		m->load[strcspn(m->load, "\n")] = 0;
	}
	if (f)
		fclose(f);
}

/* ---- targets ---- */

struct target {
	const char *what;
	char figure[160];
	double value;
	double limit;
	bool at_least; /* the value must reach limit, not stay under it */
	bool known;
};

static bool target_met(const struct target *t)
{
	return t->at_least ? t->value >= t->limit : t->value <= t->limit;
}

/* "met, 12% to spare" / "missed by 23%" */
static void verdict(const struct target *t, char *buf, size_t len)
{
	double margin;

	if (!t->known) {
		snprintf(buf, len, "not measured");
		return;
	}
	margin = t->at_least ? t->value / t->limit - 1 : 1 - t->value / t->limit;
	if (target_met(t))
		snprintf(buf, len, "met (%.0f%% to spare)", 100 * margin);
	else
		snprintf(buf, len, "**missed** by %.0f%%", -100 * margin);
}

#define MAX_TARGETS 64

struct targets {
	struct target t[MAX_TARGETS];
	int n;
};

static struct target *add(struct targets *ts, const char *what, double value, double limit,
			  bool at_least, bool known, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static struct target *add(struct targets *ts, const char *what, double value, double limit,
			  bool at_least, bool known, const char *fmt, ...)
{
	struct target *t;
	va_list ap;

	if (ts->n == MAX_TARGETS)
		return NULL;
	t = &ts->t[ts->n++];
	t->what = what;
	t->value = value;
	t->limit = limit;
	t->at_least = at_least;
	t->known = known;
	va_start(ap, fmt);
	vsnprintf(t->figure, sizeof(t->figure), fmt, ap);
	va_end(ap);
	return t;
}

static const struct dp_row_result *dp_row(const struct dp_results *dp, enum dp_path p, int fam)
{
	for (int i = 0; dp && i < dp->n_rows; i++)
		if (dp->row[i].path == p && dp->row[i].family == fam)
			return &dp->row[i];
	return NULL;
}

/* The index of 1,000 hosts and of the largest inventory measured. */
static int size_1k(const struct bench_report *r)
{
	(void)r;
	return 1;
}

static int size_big(const struct bench_report *r)
{
	return r->opts->n_sizes - 1;
}

static void collect(const struct bench_report *r, struct targets *ts)
{
	static const enum dp_path allowed[] = {DP_PEER, DP_ANY, DP_CIDR, DP_VLAN};
	static const enum dp_path other[] = {DP_REFUSED, DP_REPLY};
	const struct dp_results *dp = r->dp;
	int k = size_1k(r), big = size_big(r);

	memset(ts, 0, sizeof(*ts));
	for (int fam = 4; fam <= 6; fam += 2)
		for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
			const struct dp_row_result *w = dp_row(dp, allowed[i], fam);

			if (w)
				add(ts, "allowed SYN at 1,000 hosts <= 1.25x the reference filter",
				    w->vs_ref[k].med, 1.25, false, w->has[DPV_REF(k)],
				    "%s: %.2fx [%.2f-%.2f]", w->name, w->vs_ref[k].med,
				    w->vs_ref[k].min, w->vs_ref[k].max);
		}
	for (int fam = 4; fam <= 6; fam += 2)
		for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
			const struct dp_row_result *w = dp_row(dp, other[i], fam);

			if (w)
				add(ts,
				    "refused and reply paths at 1,000 hosts <= 1.5x the reference",
				    w->vs_ref[k].med, 1.5, false, w->has[DPV_REF(k)],
				    "%s: %.2fx [%.2f-%.2f]", w->name, w->vs_ref[k].med,
				    w->vs_ref[k].min, w->vs_ref[k].max);
		}
	for (int i = 0; dp && i < dp->n_rows; i++) {
		const struct dp_row_result *w = &dp->row[i];

		add(ts, "100,000 hosts within 1.1x of 10 hosts on every path", w->vs_small.med, 1.1,
		    false, big == BENCH_SIZES - 1, "%s: %.2fx [%.2f-%.2f]", w->name,
		    w->vs_small.med, w->vs_small.min, w->vs_small.max);
	}
	for (int i = 0; dp && i < dp->n_rows; i++) {
		const struct dp_row_result *w = &dp->row[i];

		if (w->egress)
			continue;
		add(ts, "<= 0.8x xdp-filter's program on the same packets (1,000 hosts)",
		    w->vs_xf[k].med, 0.8, false, w->has[DPV_XF(k)], "%s: %.2fx [%.2f-%.2f]",
		    w->name, w->vs_xf[k].med, w->vs_xf[k].min, w->vs_xf[k].max);
	}
	/*
	 * Judged as the issue defines it, on the packets a second the receiver
	 * took in, with the receiver's NAPI on a CPU of its own (so that the
	 * sender's cost is not in the figure). On a shared VM that figure moves
	 * with what other tenants take, so the receiver's CPU a packet and the
	 * one-CPU ratio are given beside it.
	 */
	if (r->flood) {
		const struct flood_mode_result *f = &r->flood->mode[0], *g = &r->flood->mode[1];

		add(ts, "refused-SYN flood >= 3x the pps of nftables at the receiver", f->ratio.med,
		    3.0, true, f->done,
		    "%.2fx [%.2f-%.2f] (%.0f vs %.0f kpps; offered %.0f in speebpf's rounds); "
		    "receiver CPU a packet %.0f vs %.0f ns (%.2fx); sender on the same CPU %.2fx",
		    f->ratio.med, f->ratio.min, f->ratio.max, f->spee_kpps.med, f->nft_kpps.med,
		    f->spee_offered_kpps.med, f->spee_cpu_ns.med, f->nft_cpu_ns.med,
		    f->cpu_ratio.med, g->ratio.med);
	}
	for (int i = 0; r->cp && i < r->cp->n_change; i++) {
		const struct cp_change_result *c = &r->cp->change[i];

		add(ts,
		    "one-host change to a 10,000-host inventory applied in <= 5 ms (maps_apply)",
		    c->apply.cpu.med, 5.0, false, c->n_hosts == 10000,
		    "IPv%d, agent (cached): %.2f ms CPU; wall %.2f [%.2f-%.2f] ms", c->family,
		    c->apply.cpu.med, c->apply.wall.med, c->apply.wall.min, c->apply.wall.max);
	}
	for (int i = 0; r->cp && i < r->cp->n_size; i++) {
		const struct cp_size_result *c = &r->cp->size[i];

		if (c->n_hosts != 10000)
			continue;
		add(ts, "a full 10,000-host apply <= 50 ms (read, compile, write the maps)",
		    c->total.cpu.med, 50.0, false, true,
		    "IPv%d, agent: %.1f ms CPU (the maps alone %.1f); wall %.1f [%.1f-%.1f] ms",
		    c->family, c->total.cpu.med, c->apply.cpu.med, c->total.wall.med,
		    c->total.wall.min, c->total.wall.max);
	}
	for (int i = 0; r->cp && i < r->cp->n_mem; i++) {
		const struct mem_result *m = &r->cp->mem[i];

		if (m->n_hosts != 10000)
			continue;
		add(ts, "agent memory <= 16 MiB at 10,000 hosts", (double)m->rss_kb / 1024, 16.0,
		    false, true, "%s: %.1f MiB resident (peak %.1f MiB)",
		    m->v6 ? "IPv4 and IPv6" : "IPv4 only", (double)m->rss_kb / 1024,
		    (double)m->hwm_kb / 1024);
	}
}

/* ---- stdout ---- */

static void print_dp(FILE *out, const struct bench_report *r)
{
	const struct dp_results *dp = r->dp;
	int k = size_1k(r), big = size_big(r);

	fprintf(out,
		"\nData plane: ns per packet, median of %d rounds x %d runs (BPF_PROG_TEST_RUN)\n",
		dp->rounds, dp->repeat);
	fprintf(out, "%-36s", "packet");
	for (int s = 0; s < r->opts->n_sizes; s++)
		fprintf(out, " %8s", size_names[s]);
	fprintf(out, " | %8s %8s | %7s %7s %7s\n", "ref", "xdpfilt", "/ref", "/xdpf", "big/10");
	for (int i = 0; i < dp->n_rows; i++) {
		const struct dp_row_result *w = &dp->row[i];

		fprintf(out, "%-36s", w->name);
		for (int s = 0; s < r->opts->n_sizes; s++)
			fprintf(out, " %8.1f", w->ns[DPV_SPEE(s)].med);
		if (w->has[DPV_REF(k)])
			fprintf(out, " | %8.1f", w->ns[DPV_REF(k)].med);
		else
			fprintf(out, " | %8s", "-");
		if (w->has[DPV_XF(k)])
			fprintf(out, " %8.1f", w->ns[DPV_XF(k)].med);
		else
			fprintf(out, " %8s", "-");
		if (w->has[DPV_REF(k)])
			fprintf(out, " | %7.2f", w->vs_ref[k].med);
		else
			fprintf(out, " | %7s", "-");
		if (w->has[DPV_XF(k)])
			fprintf(out, " %7.2f", w->vs_xf[k].med);
		else
			fprintf(out, " %7s", "-");
		fprintf(out, " %7.2f\n", w->vs_small.med);
	}
	fprintf(out, "ref, xdpfilt and the ratios at 1,000 hosts; big/10: %s hosts over 10.\n",
		size_names[big]);
	for (int i = 0; i < dp->n_rows; i++)
		if (dp->row[i].has[DPV_EMPTY] &&
		    (i == 0 || dp->row[i].egress != dp->row[0].egress) &&
		    (!i || !dp->row[i - 1].egress || !dp->row[i].egress))
			fprintf(out, "empty %s program: %.1f ns\n",
				dp->row[i].egress ? "cgroup_skb" : "XDP",
				dp->row[i].ns[DPV_EMPTY].med);
}

static void print_cp(FILE *out, const struct cp_results *cp)
{
	fprintf(out, "\nControl plane: ms, median wall clock (CPU)\n");
	fprintf(out, "%-16s %12s %12s %12s %14s %16s %14s\n", "inventory", "parse", "compile",
		"load", "apply", "apply, read back", "parse+comp+app");
	for (int i = 0; i < cp->n_size; i++) {
		const struct cp_size_result *c = &cp->size[i];
		char name[32];

		snprintf(name, sizeof(name), "%zu IPv%d", c->n_hosts, c->family);
		fprintf(out,
			"%-16s %5.1f (%4.1f) %5.1f (%4.1f) %5.1f (%4.1f) %6.1f (%5.1f) %8.1f "
			"(%5.1f) %6.1f (%5.1f)\n",
			name, c->parse.wall.med, c->parse.cpu.med, c->compile.wall.med,
			c->compile.cpu.med, c->load.wall.med, c->load.cpu.med, c->apply.wall.med,
			c->apply.cpu.med, c->apply_rb.wall.med, c->apply_rb.cpu.med,
			c->total.wall.med, c->total.cpu.med);
	}
	for (int i = 0; i < cp->n_change; i++) {
		const struct cp_change_result *c = &cp->change[i];

		fprintf(
		    out,
		    "one-host change, %zu hosts IPv%d: parse+compile %.1f (%.1f), maps_apply %.2f "
		    "(%.2f) with the cache, %.1f (%.1f) reading back; %s\n",
		    c->n_hosts, c->family, c->parse_compile.wall.med, c->parse_compile.cpu.med,
		    c->apply.wall.med, c->apply.cpu.med, c->apply_rb.wall.med, c->apply_rb.cpu.med,
		    c->verified ? "maps verified" : "MAPS NOT VERIFIED");
	}
	for (int i = 0; i < cp->n_mem; i++) {
		const struct mem_result *m = &cp->mem[i];

		fprintf(out,
			"memory, %zu hosts (%s): resident %.1f MiB, peak %.1f MiB; maps %.1f MiB\n",
			m->n_hosts, m->v6 ? "IPv4+IPv6" : "IPv4", m->rss_kb / 1024.0,
			m->hwm_kb / 1024.0, m->maps_kb / 1024.0);
	}
}

static void print_flood(FILE *out, const struct flood_results *f)
{
	fprintf(out, "\nRefused-SYN flood, %zu-host policy, %d A/B rounds: kpps at the receiver\n",
		f->n_hosts, f->rounds);
	for (int m = 0; m < 2; m++) {
		const struct flood_mode_result *x = &f->mode[m];

		if (!x->done)
			continue;
		fprintf(out, "%-32s speebpf %7.0f  nftables %7.0f  ratio %.2f [%.2f-%.2f]",
			x->threaded ? "receiver on its own CPU:" : "sender and receiver, one CPU:",
			x->spee_kpps.med, x->nft_kpps.med, x->ratio.med, x->ratio.min,
			x->ratio.max);
		if (x->threaded)
			fprintf(out, "; receiver CPU a packet %.0f vs %.0f ns (%.2fx)",
				x->spee_cpu_ns.med, x->nft_cpu_ns.med, x->cpu_ratio.med);
		fprintf(out, "\n");
	}
}

void report_print(FILE *out, const struct bench_report *r)
{
	struct machine m;
	struct targets ts;

	machine_read(&m);
	fprintf(out, "speebpf benchmarks, %s: %s, %s, %ld cores; %.0f s\n", m.date, m.kernel, m.cpu,
		m.cores, r->seconds);
	if (r->tenants[0])
		fprintf(out, "other tasks busy meanwhile: %s\n", r->tenants);
	if (r->dp)
		print_dp(out, r);
	if (r->flood)
		print_flood(out, r->flood);
	if (r->cp)
		print_cp(out, r->cp);
	collect(r, &ts);
	fprintf(out, "\nTargets\n");
	for (int i = 0; i < ts.n; i++) {
		char v[64];

		verdict(&ts.t[i], v, sizeof(v));
		fprintf(out, "  %-24s %s -- %s\n", v[0] == '*' ? "MISSED" : v, ts.t[i].figure,
			ts.t[i].what);
	}
}

/* ---- BENCHMARKS.md ---- */

static void md_stat(FILE *f, const struct stat3 *s, const char *fmt)
{
	char a[32], b[32], c[32];

	snprintf(a, sizeof(a), fmt, s->med);
	snprintf(b, sizeof(b), fmt, s->min);
	snprintf(c, sizeof(c), fmt, s->max);
	fprintf(f, " %s [%s–%s] |", a, b, c);
}

/* The same without the table's cell separator, for a sentence. */
static void md_stat_text(FILE *f, const struct stat3 *s, const char *fmt)
{
	char a[32], b[32], c[32];

	snprintf(a, sizeof(a), fmt, s->med);
	snprintf(b, sizeof(b), fmt, s->min);
	snprintf(c, sizeof(c), fmt, s->max);
	fprintf(f, "%s [%s–%s]", a, b, c);
}

static void md_timing(FILE *f, const struct timing *t)
{
	fprintf(f, " %.2f [%.2f–%.2f] (%.2f) |", t->wall.med, t->wall.min, t->wall.max, t->cpu.med);
}

static void md_targets(FILE *f, const struct bench_report *r)
{
	struct targets ts;
	const char *last = NULL;

	collect(r, &ts);
	fprintf(f, "## Summary\n\n");
	for (int i = 0; i < ts.n; i++) {
		int met = 0, n = 0;

		if (last && !strcmp(last, ts.t[i].what))
			continue;
		last = ts.t[i].what;
		for (int j = i; j < ts.n && !strcmp(ts.t[j].what, last); j++) {
			n++;
			met += ts.t[j].known && target_met(&ts.t[j]);
		}
		fprintf(f, "- %s: %s (met by %d of %d figures)\n", last,
			met == n ? "**met**"
			: met	 ? "**partly missed**"
				 : "**missed**",
			met, n);
	}
	fprintf(f, "\nThe analysis at the end says where the time goes, what was changed to meet "
		   "the targets and what would meet the ones still missed.\n\n");
	last = NULL;
	fprintf(f,
		"## Targets\n\n"
		"Each figure is a median over the run's rounds, with [min–max]; ratios are taken "
		"within a round, so both sides of a ratio were measured seconds apart.\n\n"
		"| target | figure | verdict |\n|---|---|---|\n");
	for (int i = 0; i < ts.n; i++) {
		char v[64];

		verdict(&ts.t[i], v, sizeof(v));
		fprintf(f, "| %s | %s | %s |\n",
			last && !strcmp(last, ts.t[i].what) ? "〃" : ts.t[i].what, ts.t[i].figure,
			v);
		last = ts.t[i].what;
	}
	fprintf(f, "\n");
}

static void md_dp(FILE *f, const struct bench_report *r)
{
	char n1[32], n2[32];
	const struct dp_results *dp = r->dp;
	int k = size_1k(r), big = size_big(r);

	fprintf(f,
		"## Data plane: cost per packet\n\n"
		"Nanoseconds per packet, median [min–max] of %d rounds of %s runs each. "
		"speebpf's exact-entry map holds, per policy slot: ",
		dp->rounds, count((size_t)dp->repeat, n1, sizeof(n1)));
	for (int s = 0; s < r->opts->n_sizes; s++)
		fprintf(f, "%s%s entries at %s hosts", s ? ", " : "",
			count(dp->exact_entries[s], n2, sizeof(n2)), size_names[s]);
	fprintf(f, ".\n\n| packet | speebpf %s |", size_names[0]);
	for (int s = 1; s < r->opts->n_sizes; s++)
		fprintf(f, " %s |", size_names[s]);
	fprintf(f, " reference %s | reference %s | xdp-filter %s | xdp-filter %s |\n|---|",
		size_names[k], size_names[big], size_names[k], size_names[big]);
	for (int s = 0; s < r->opts->n_sizes + 4; s++)
		fprintf(f, "---|");
	fprintf(f, "\n");
	for (int i = 0; i < dp->n_rows; i++) {
		const struct dp_row_result *w = &dp->row[i];
		const int refs[4] = {DPV_REF(k), DPV_REF(big), DPV_XF(k), DPV_XF(big)};

		fprintf(f, "| %s |", w->name);
		for (int s = 0; s < r->opts->n_sizes; s++)
			md_stat(f, &w->ns[DPV_SPEE(s)], "%.1f");
		for (int j = 0; j < 4; j++) {
			if (w->has[refs[j]] && (j < 2 || k != big || j == 2))
				md_stat(f, &w->ns[refs[j]], "%.1f");
			else
				fprintf(f, " – |");
		}
		fprintf(f, "\n");
	}
	for (int e = 0; e < 2; e++)
		for (int i = 0; i < dp->n_rows; i++)
			if (dp->row[i].egress == e && dp->row[i].has[DPV_EMPTY]) {
				fprintf(f, "\nThe empty %s program (the hook's fixed cost): ",
					e ? "cgroup_skb/egress" : "XDP");
				md_stat_text(f, &dp->row[i].ns[DPV_EMPTY], "%.1f");
				fprintf(f, " ns.\n");
				break;
			}

	fprintf(
	    f,
	    "\n### Ratios, taken within each round\n\n"
	    "| packet | speebpf / reference (%s) | the same, net of the empty program | "
	    "speebpf / xdp-filter (%s) | speebpf / xdp-filter (%s) | speebpf %s / speebpf 10 |\n"
	    "|---|---|---|---|---|---|\n",
	    size_names[k], size_names[k], size_names[big], size_names[big]);
	for (int i = 0; i < dp->n_rows; i++) {
		const struct dp_row_result *w = &dp->row[i];

		fprintf(f, "| %s |", w->name);
		if (w->has[DPV_REF(k)]) {
			md_stat(f, &w->vs_ref[k], "%.2f");
			md_stat(f, &w->vs_ref_net[k], "%.2f");
		} else {
			fprintf(f, " – | – |");
		}
		if (w->has[DPV_XF(k)])
			md_stat(f, &w->vs_xf[k], "%.2f");
		else
			fprintf(f, " – |");
		if (w->has[DPV_XF(big)] && big != k)
			md_stat(f, &w->vs_xf[big], "%.2f");
		else
			fprintf(f, " – |");
		md_stat(f, &w->vs_small, "%.2f");
		fprintf(f, "\n");
	}
	if (!dp->xf_loaded)
		fprintf(f, "\nxdp-filter was left out of this run: %s.\n", dp->xf_note);
	fprintf(f, "\nBefore timing, every packet went once through every program and got the "
		   "expected verdict; on speebpf exactly the expected counter moved (the rule or "
		   "reason in the last column).\n\n| packet | counted under |\n|---|---|\n");
	for (int i = 0; i < dp->n_rows; i++)
		fprintf(f, "| %s | %s |\n", dp->row[i].name, dp->row[i].expect);
	fprintf(f, "\n");
}

static void md_events(FILE *f, const struct dp_results *dp)
{
	static const char *const names[DPE_COUNT] = {
		[DPE_OFF] = "events off (`rate: 0`)",
		[DPE_SENT] = "event written to the ring",
		[DPE_SUPPRESSED] = "event held back by the rate limit (a flood)",
		[DPE_LOST] = "event lost: the ring is full (no reader)",
	};

	if (!dp->events_measured)
		return;
	fprintf(f, "## Drop events: what they cost on the drop path\n\n"
		   "The refused IPv4 SYN at 1,000 hosts through the XDP program, %d rounds; in "
		   "each, every state is timed over %d runs of %d packets (the ring holds 4,096 "
		   "events, so a run that writes them stays within it; it is emptied before each "
		   "run of that state). A run that short carries the syscall's own cost, which is "
		   "the same in every state: the last column, taken within each round, is what "
		   "events cost; the packet's cost in long runs is in the table above. Only "
		   "packets that are dropped (or in audit mode would be) pay it; allowed ones "
		   "never reach the event code.\n\n"
		   "| events | ns per packet, runs of %d | more than events off (same round) "
		   "|\n|---|---|---|\n",
		dp->rounds, dp->events_batches, dp->events_repeat, dp->events_repeat);
	for (int st = 0; st < DPE_COUNT; st++) {
		fprintf(f, "| %s |", names[st]);
		md_stat(f, &dp->events_ns[st], "%.1f");
		if (st == DPE_OFF)
			fprintf(f, " – |");
		else
			md_stat(f, &dp->events_extra[st], "%+.1f");
		fprintf(f, "\n");
	}
	fprintf(f, "\n");
}

static void md_flood(FILE *f, const struct flood_results *fl)
{
	char n1[32], n2[32], n3[32];

	fprintf(f, "## Real traffic: a flood of refused SYNs\n\n");
	if (fl->skipped[0])
		fprintf(f, "Part of the flood was left out: %s.\n\n", fl->skipped);
	fprintf(f,
		"The receiver holds the policy of `bench0` in a %s-host inventory; nftables got "
		"the same ingress rules (%s set elements). Thousand packets a second taken in by "
		"the receiver, median [min–max] of %d rounds, each round one measurement of "
		"speebpf then one of nftables with the same number of frames.\n\n"
		"| mode | frames a measurement | speebpf kpps | nftables kpps | speebpf / nftables "
		"(same round) | offered by the sender (speebpf / nftables rounds), kpps | "
		"receiver's CPU a packet, speebpf / nftables, ns | nftables / speebpf CPU (same "
		"round) |\n"
		"|---|---|---|---|---|---|---|---|\n",
		count(fl->n_hosts, n1, sizeof(n1)), count(fl->nft_elements, n2, sizeof(n2)),
		fl->rounds);
	for (int m = 0; m < 2; m++) {
		const struct flood_mode_result *x = &fl->mode[m];

		if (!x->done)
			continue;
		fprintf(f, "| %s | %s |",
			x->threaded ? "receiver's NAPI on its own CPU"
				    : "sender and receiver on one CPU",
			count((size_t)x->frames, n3, sizeof(n3)));
		md_stat(f, &x->spee_kpps, "%.0f");
		md_stat(f, &x->nft_kpps, "%.0f");
		md_stat(f, &x->ratio, "%.2f");
		fprintf(f, " %.0f / %.0f |", x->spee_offered_kpps.med, x->nft_offered_kpps.med);
		if (x->threaded) {
			fprintf(f, " %.0f / %.0f |", x->spee_cpu_ns.med, x->nft_cpu_ns.med);
			md_stat(f, &x->cpu_ratio, "%.2f");
			fprintf(f, "\n");
		} else {
			fprintf(f, " – | – |\n");
		}
	}
	fprintf(f, "\nThe receiver's CPU a packet is the CPU time of its NAPI thread "
		   "(/proc/PID/schedstat) over the packets it took in: what other tenants of the "
		   "machine take lowers the packets a second, not this.\n");
	fprintf(f,
		"\nEach filter's own count of refused SYNs was compared with the receiver's "
		"count in every measurement; the largest difference was %llu and %llu packets "
		"(threaded, shared).\n\n",
		(unsigned long long)fl->mode[0].max_mismatch,
		(unsigned long long)fl->mode[1].max_mismatch);
}

static void md_cp(FILE *f, const struct cp_results *cp)
{
	char n1[32], n2[32], n3[32];

	fprintf(f,
		"## Control plane\n\n"
		"Milliseconds, wall clock median [min–max] and, in parentheses, the median of the "
		"process's CPU time (user and system), which leaves out what other tenants took. "
		"*apply* is `maps_apply` as the agent runs it, with the cache of both slots' "
		"images; *read back* is the same call without the cache, as a fresh `speebpf "
		"apply` runs it (the target slot is read back from the maps). *total* = parse + "
		"compile + apply; loading the programs happens once, on the first apply.\n\n"
		"| inventory | YAML bytes | entries a slot | runs | parse | compile | load | apply "
		"(empty slot) | read back (empty slot) | same policy again | read back, same "
		"policy | total | total, read back |\n"
		"|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < cp->n_size; i++) {
		const struct cp_size_result *c = &cp->size[i];

		fprintf(f, "| %s hosts, IPv%d | %s | %s | %d |", count(c->n_hosts, n1, sizeof(n1)),
			c->family, count(c->yaml_bytes, n2, sizeof(n2)),
			count(c->exact_entries, n3, sizeof(n3)), c->reps);
		md_timing(f, &c->parse);
		md_timing(f, &c->compile);
		md_timing(f, &c->load);
		md_timing(f, &c->apply);
		md_timing(f, &c->apply_rb);
		md_timing(f, &c->same);
		md_timing(f, &c->same_rb);
		md_timing(f, &c->total);
		md_timing(f, &c->total_rb);
		fprintf(f, "\n");
	}
	fprintf(f,
		"\n### A one-host change\n\n"
		"An instance holding the inventory in both slots; each step moves one host to a "
		"new address (each config differs from the one before by one host) and applies "
		"it, alternately with the cache and reading back. Each apply rewrites the slot "
		"the policy before last was in, so it writes the entries of two steps' changes.\n\n"
		"| inventory | steps of each kind | parse + compile | maps_apply, agent (cache) | "
		"maps_apply, read back | total, agent | total, read back | entries written or "
		"removed a step | maps checked |\n|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < cp->n_change; i++) {
		const struct cp_change_result *c = &cp->change[i];

		fprintf(f, "| %s hosts, IPv%d | %d |", count(c->n_hosts, n1, sizeof(n1)), c->family,
			c->steps);
		md_timing(f, &c->parse_compile);
		md_timing(f, &c->apply);
		md_timing(f, &c->apply_rb);
		md_timing(f, &c->total);
		md_timing(f, &c->total_rb);
		fprintf(f, " %zu%s | %s |\n", c->changed, c->consistent ? "" : " (varied)",
			c->verified ? "yes: a read-back apply of the last config found nothing to "
				      "change"
				    : "**no**");
	}
	fprintf(f,
		"\n### Memory\n\n"
		"A fresh process (`speebpf-bench --mem-probe`) that reads the config, compiles it, "
		"loads the programs and applies the policy twice with the cache, then reports its "
		"own memory: it holds what the agent holds between reloads (the parsed config, "
		"the compiled policy, the libbpf object and the cached images of both slots). "
		"The maps' memory is the kernel's charge for each map, `memlock` in its fd's "
		"fdinfo.\n\n"
		"| inventory | resident at start | resident, steady state | peak | heap in use | "
		"maps, total | spee_exact | spee_ports | spee_flows | spee_prefix |\n"
		"|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < cp->n_mem; i++) {
		const struct mem_result *m = &cp->mem[i];

		fprintf(f,
			"| %s hosts, %s | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | "
			"%.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB |\n",
			count(m->n_hosts, n1, sizeof(n1)), m->v6 ? "IPv4 and IPv6" : "IPv4",
			m->rss_start_kb / 1024.0, m->rss_kb / 1024.0, m->hwm_kb / 1024.0,
			m->heap_kb / 1024.0, m->maps_kb / 1024.0, m->exact_kb / 1024.0,
			m->ports_kb / 1024.0, m->flows_kb / 1024.0, m->prefix_kb / 1024.0);
	}
	fprintf(f, "\n");
}

static void md_method(FILE *f, const struct bench_report *r)
{
	const struct bench_opts *o = r->opts;
	char n1[32];

	fprintf(
	    f,
	    "## Method\n\n"
	    "- **Inventories** are generated (tools/bench/gen.c) as the YAML an operator "
	    "writes: host `bench0` holds MGMT and CAS, every tenth other host MGMT, every third "
	    "CAS, the rest IH; each host has an IPv4 and an IPv6 address (the control-plane "
	    "inventories have one family each); ADM is 198.19.255.0/24 and "
	    "fd00:5e::ffff:0/112. speebpf is loaded through src/kernel/loader.c and its maps filled "
	    "through src/kernel/maps.c from the policy src/policy/policy.c compiles for `bench0`: the "
	    "production path of `speebpf apply`.\n"
	    "- **Per-packet cost**: BPF_PROG_TEST_RUN with %s repetitions a measurement, %d "
	    "rounds; in each round every packet runs through every program once, in an order "
	    "that shifts from round to round. The figure is the calling thread's CPU time "
	    "across the call divided by the repetitions (the program runs inside the syscall; "
	    "wall time would also count what other tenants took, and the kernel's own figure "
	    "is truncated to whole nanoseconds). The thread is pinned to CPU %d. Packets are "
	    "TCP SYNs with 20 bytes of options (a real SYN's size); the reply is a SYN-ACK to "
	    "a connection that speebpf's egress program let out first (so it is in the flow "
	    "map). cgroup_skb rows run the egress program with an skb on a veth (not lo).\n"
	    "- **References**, measured in the same rounds: an empty XDP program and an empty "
	    "cgroup_skb program (the hooks' fixed cost); the reference filter "
	    "(tools/bench/bench.bpf.c: the same parsing as speebpf's — Ethernet, two VLAN "
	    "tags, IPv4/IPv6, TCP/UDP, the same bounds checks — then exactly one hash lookup "
	    "{proto, port, source} and one per-CPU counter), holding the same {proto, port, "
	    "source} entries as speebpf's ingress exact map plus one for each row speebpf "
	    "answers otherwise, so that every allowed row is a hit; and xdp-filter's "
	    "deny-policy program `%s` from Debian's xdp-tools, loaded by the harness (its "
	    "maps unpinned), with the ANY rules' ports (143, 443, 993) as port rules and every "
	    "peer address, and the ADM row's one source, as source-address rules (it has no "
	    "prefixes). The references run at 1,000 hosts and at the largest inventory.\n"
	    "- **Flood**: two network namespaces joined by a veth pair. The sender is "
	    "BPF_PROG_TEST_RUN in live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES) running an "
	    "XDP_TX program that gives each frame a random source in 198.19.160.0/19, so the "
	    "frames leave through the sender's veth to the receiver. The receiver's veth runs "
	    "NAPI with GRO on. A: speebpf's XDP program attached (native mode). B: no XDP "
	    "program; nftables with the same rules on the netdev ingress hook (the ANY ports, "
	    "a set of {source . port} for the peers, an interval set of {prefix . port} for "
	    "the networks, then drop SYNs). A and B alternate, the same number of frames "
	    "each; the receiver's count is its veth's rx_packets, checked against each "
	    "filter's own counter. Threaded: the receiver's NAPI runs as a kernel thread "
	    "pinned to CPU %d and the sender on the other CPU, so the count is what the "
	    "receiver can take as long as the sender offers more than that, and the CPU time "
	    "of that thread (/proc/PID/schedstat) gives the receiver's CPU a packet; shared: "
	    "softirq NAPI on the sender's CPU, so the sender's cost is in both figures.\n"
	    "- **Control plane**: wall clock and process CPU time around config_load, "
	    "policy_compile, loader_load and maps_apply, on configs written to files, "
	    "%d runs (3 at 100,000 hosts).\n"
	    "- **Not run**: perf counters (`perf stat -e instructions true` says \"not "
	    "supported\" on this VM, so `bpftool prog profile` cannot count either); "
	    "profiles come from valgrind --tool=callgrind and `perf record -e cpu-clock` "
	    "(a software clock, which works here), BPF costs from "
	    "measuring variants of the program (see the analysis).\n\n",
	    count((size_t)o->repeat, n1, sizeof(n1)), o->rounds, o->cpu, o->xdpfilter_obj, o->cpu,
	    o->cp_reps);
}

static void md_analysis(FILE *f)
{
	char buf[4096];
	size_t n;
	FILE *a = fopen(ANALYSIS_MD, "r");

	if (!a) {
		fprintf(f, "## Analysis\n\n(%s is missing.)\n", ANALYSIS_MD);
		return;
	}
	while ((n = fread(buf, 1, sizeof(buf), a)) > 0)
		fwrite(buf, 1, n, f);
	fclose(a);
}

int report_markdown(const char *path, const struct bench_report *r)
{
	char tmp[4096];
	struct machine m;
	FILE *f;
	int err = 0;

	machine_read(&m);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f,
		"# speebpf benchmarks\n\n"
		"Written by `make bench` (tools/bench/, %.0f seconds) on %s. Run it again as root: "
		"it needs only what tools/install-deps.sh installs, works in network namespaces "
		"of its own and leaves nothing behind. Timing on a shared VM drifts, so every "
		"target is judged on a ratio to a reference measured in the same run, or on CPU "
		"time where it is in milliseconds.\n\n"
		"**Machine**: %s; %s, %ld cores; %ld MiB; libbpf %u.%u (user space); load "
		"average at the end of the run: %s.\n\n",
		r->seconds, m.date, m.kernel, m.cpu, m.cores, m.mem_mib, libbpf_major_version(),
		libbpf_minor_version(), m.load);
	fprintf(f,
		"**Other tasks busy during the run** (a tenth of a CPU or more, from "
		"/proc/PID/stat): %s.\n\n",
		r->tenants[0] ? r->tenants : "none");
	md_targets(f, r);
	if (r->dp) {
		md_dp(f, r);
		md_events(f, r->dp);
	}
	if (r->flood)
		md_flood(f, r->flood);
	if (r->cp)
		md_cp(f, r->cp);
	md_method(f, r);
	md_analysis(f);
	if (fclose(f))
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}
