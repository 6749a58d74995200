// SPDX-License-Identifier: GPL-2.0-only
/*
 * targets.c - the targets of issue 16, judged on a run's results. Every
 * data-plane target is judged on the program's own work: its cost less the
 * empty program's of the same round (the hook's fixed cost, which differs
 * from machine to machine and would pull every ratio toward 1), on the
 * thread-CPU clock, with the kernel's clock beside it; a figure taken at
 * several inventories is judged at the worst of them. Whether a verdict
 * holds is decided with the previous run (json.c), not here.
 */
#include "bench.h"

#include <stdarg.h>
#include <string.h>

struct goal {
	const char *group;
	const char *goal;
	double limit;
	bool at_least;
	const char *unit;
};

static const struct goal G_REF = {
    "dp-ref", "<= 1.10x the reference filter, net of the empty program, at every inventory",
    1.10, false, "x"};
static const struct goal G_XF = {
    "dp-xf", "<= 0.7x xdp-filter, net of the empty program, at every inventory", 0.7, false,
    "x"};
static const struct goal G_FLAT = {
    "dp-flat", "flat: the program's own work at 100,000 hosts <= 1.10x that at 10", 1.10, false,
    "x"};
/*
 * The egress targets are judged on real TCP traffic: kernel sockets, the
 * kernel's run-time statistics. BPF_PROG_TEST_RUN's skb has no TCP socket,
 * so the test-run rows take the raw-socket path: figures, not judged.
 */
static const struct goal G_EG_SYN = {
    "eg-syn",
    "egress allowed SYN <= 4x the empty cgroup program (kernel TCP sockets, the kernel's "
    "run-time statistics)",
    4.0, false, "x"};
static const struct goal G_EG_ACK = {
    "eg-ack",
    "egress established packet <= 2x the empty cgroup program (kernel TCP sockets, the "
    "kernel's run-time statistics)",
    2.0, false, "x"};
static const struct goal G_EG_SYN_RAW = {
    "eg-syn-raw",
    "egress allowed SYN on the raw-socket path (BPF_PROG_TEST_RUN, whose skb has no TCP socket) "
    "/ the empty cgroup program: a figure, the target is judged on kernel sockets",
    0, false, "x"};
static const struct goal G_EG_ACK_RAW = {
    "eg-ack-raw",
    "egress established packet on the raw-socket path (BPF_PROG_TEST_RUN: a flow lookup) / the "
    "empty cgroup program: a figure, the target is judged on kernel sockets",
    0, false, "x"};
static const struct goal G_APPLY = {
    "cp-apply", "full 10,000-host apply <= 25 ms (read, compile, write the maps; CPU)", 25.0,
    false, "ms"};
static const struct goal G_CHANGE = {
    "cp-change", "one-host change at 10,000 hosts <= 2 ms (maps_apply, agent; CPU)", 2.0, false,
    "ms"};
static const struct goal G_LOAD = {
    "cp-load", "program load (the verifier, the maps) <= 40 ms at 10,000 hosts (CPU)", 40.0,
    false, "ms"};
static const struct goal G_APPLY100K = {
    "cp-apply100k", "100,000-host apply <= 250 ms (read, compile, write the maps; CPU)", 250.0,
    false, "ms"};
static const struct goal G_RSS = {"cp-rss", "agent memory <= 16 MiB resident at 10,000 hosts",
				  16.0, false, "MiB"};
static const struct goal G_FLOOD = {
    "flood-refused",
    "refused-SYN flood >= 4x nftables' packets a second on the receiving CPU", 4.0, true, "x"};
static const struct goal G_CONN = {
    "flood-allowed",
    "allowed-connection flood (SYN, then data) against nftables with conntrack: connections a "
    "second on the receiving CPU",
    0, true, "x"};

static const char *const size_text[BENCH_SIZES] = {"10", "1,000", "10,000", "100,000"};

struct collector {
	struct target *t;
	int n, max;
};

static struct target *add(struct collector *c, const struct goal *g, const char *subject,
			  double value, double min, double max)
{
	struct target *t;

	if (c->n == c->max)
		return NULL;
	t = &c->t[c->n++];
	memset(t, 0, sizeof(*t));
	t->group = g->group;
	t->goal = g->goal;
	t->unit = g->unit;
	t->has_limit = g->limit > 0;
	t->limit = g->limit;
	t->at_least = g->at_least;
	snprintf(t->subject, sizeof(t->subject), "%s", subject);
	snprintf(t->id, sizeof(t->id), "%s/%s", g->group, subject);
	t->value = value;
	t->min = min;
	t->max = max;
	t->met = !t->has_limit || (t->at_least ? value >= t->limit : value <= t->limit);
	return t;
}

static void part(struct target *t, const char *name, double value, const char *unit)
{
	if (t && t->n_parts < TARGET_PARTS) {
		t->part[t->n_parts].name = name;
		t->part[t->n_parts].value = value;
		t->part[t->n_parts++].unit = unit;
	}
}

static void at(struct target *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void at(struct target *t, const char *fmt, ...)
{
	va_list ap;

	if (!t)
		return;
	va_start(ap, fmt);
	vsnprintf(t->at, sizeof(t->at), fmt, ap);
	va_end(ap);
}

/*
 * The clock a row is judged on: the thread's CPU clock, or for a row on
 * real sockets the kernel's statistics (run time over runs).
 */
static enum bench_clock clock_of(const struct dp_row_result *w)
{
	return w->socket ? CLK_KERNEL : CLK_CPU;
}

/* The inventory where the row's ratio (of kind which) is worst; -1 when it was not measured. */
static int worst_size(const struct dp_results *dp, const struct dp_row_result *w, int prog,
		      const struct clock2 *ratios)
{
	enum bench_clock k = clock_of(w);
	int worst = -1;

	for (int s = 0; s < dp->n_sizes; s++) {
		if (!w->has[DPV(prog, s)])
			continue;
		if (worst < 0 || ratios[s].c[k].med > ratios[worst].c[k].med)
			worst = s;
	}
	return worst;
}

static void dp_ratio(struct collector *c, const struct goal *g, const struct dp_results *dp,
		     const struct dp_row_result *w, int prog, const struct clock2 *ratios)
{
	int s = worst_size(dp, w, prog, ratios);
	enum bench_clock k = clock_of(w);
	const struct stat3 *v;
	struct target *t;

	if (s < 0)
		return;
	v = &ratios[s].c[k];
	t = add(c, g, w->name, v->med, v->min, v->max);
	if (!t)
		return;
	at(t, "%s hosts%s", size_text[s], dp->n_sizes > 1 ? " (the worst)" : "");
	t->second_label = w->socket ? "the median packet's" : "kernel's clock";
	t->second = ratios[s].c[w->socket ? CLK_SOCK_MEDIAN : CLK_KERNEL].med;
	if (prog == DPP_SPEE) { /* a ratio to the empty program: gross figures */
		part(t, "speebpf", w->ns[DPV(DPP_SPEE, s)].c[k].med, "ns");
		part(t, "empty program", w->ns[DPV_EMPTY].c[k].med, "ns");
		if (w->socket)
			part(t, "speebpf's own work", w->net[DPV(DPP_SPEE, s)].c[k].med, "ns");
		return;
	}
	part(t, "speebpf's own work", w->net[DPV(DPP_SPEE, s)].c[k].med, "ns");
	part(t, prog == DPP_REF ? "the reference's" : "xdp-filter's", w->net[DPV(prog, s)].c[k].med,
	     "ns");
}

static void dp_targets(struct collector *c, const struct dp_results *dp)
{
	for (int i = 0; i < dp->n_rows; i++) {
		const struct dp_row_result *w = &dp->row[i];

		if (w->egress)
			continue;
		if (w->path != DP_ANY)
			dp_ratio(c, &G_REF, dp, w, DPP_REF, w->vs_ref_net);
	}
	for (int i = 0; i < dp->n_rows; i++)
		if (!dp->row[i].egress && dp->xf_loaded)
			dp_ratio(c, &G_XF, dp, &dp->row[i], DPP_XF, dp->row[i].vs_xf_net);
	for (int i = 0; i < dp->n_rows; i++) {
		const struct dp_row_result *w = &dp->row[i];

		if (w->path == DP_EGRESS_SOCK_SYN)
			dp_ratio(c, &G_EG_SYN, dp, w, DPP_SPEE, w->vs_empty);
		else if (w->path == DP_EGRESS_SOCK_ESTAB)
			dp_ratio(c, &G_EG_ACK, dp, w, DPP_SPEE, w->vs_empty);
	}
	for (int i = 0; i < dp->n_rows; i++) {
		const struct dp_row_result *w = &dp->row[i];

		if (w->path == DP_EGRESS_ALLOW)
			dp_ratio(c, &G_EG_SYN_RAW, dp, w, DPP_SPEE, w->vs_empty);
		else if (w->path == DP_EGRESS_ESTAB)
			dp_ratio(c, &G_EG_ACK_RAW, dp, w, DPP_SPEE, w->vs_empty);
	}
	if (dp->n_sizes < BENCH_SIZES)
		return;
	for (int i = 0; i < dp->n_rows; i++) {
		const struct dp_row_result *w = &dp->row[i];
		enum bench_clock k = clock_of(w);
		const struct stat3 *v = &w->flat.c[k];
		struct target *t = add(c, &G_FLAT, w->name, v->med, v->min, v->max);

		if (!t)
			continue;
		t->second_label = w->socket ? "the median packet's" : "kernel's clock";
		t->second = w->flat.c[w->socket ? CLK_SOCK_MEDIAN : CLK_KERNEL].med;
		part(t, "own work at 10 hosts", w->net[DPV(DPP_SPEE, 0)].c[k].med, "ns");
		part(t, "at 100,000", w->net[DPV(DPP_SPEE, BENCH_SIZES - 1)].c[k].med, "ns");
	}
}

static struct target *timing_target(struct collector *c, const struct goal *g,
				    const char *subject, const struct timing *tm)
{
	struct target *t = add(c, g, subject, tm->cpu.med, tm->cpu.min, tm->cpu.max);

	if (t) {
		t->second_label = "wall clock";
		t->second = tm->wall.med;
	}
	return t;
}

/* The size results of one inventory, IPv4 then IPv6. */
static void cp_size_targets(struct collector *c, const struct cp_results *cp, size_t n_hosts,
			    const struct goal *g, bool load)
{
	char subject[64];

	for (int i = 0; i < cp->n_size; i++) {
		const struct cp_size_result *z = &cp->size[i];
		struct target *t;

		if (z->n_hosts != n_hosts)
			continue;
		snprintf(subject, sizeof(subject), "IPv%d", z->family);
		t = timing_target(c, g, subject, load ? &z->load : &z->total);
		if (!load) {
			part(t, "parse", z->parse.cpu.med, "ms");
			part(t, "compile", z->compile.cpu.med, "ms");
			part(t, "write the maps", z->apply.cpu.med, "ms");
		}
	}
}

static void cp_targets(struct collector *c, const struct cp_results *cp)
{
	char subject[64];

	cp_size_targets(c, cp, 10000, &G_APPLY, false);
	for (int i = 0; i < cp->n_change; i++) {
		const struct cp_change_result *z = &cp->change[i];

		if (z->n_hosts != 10000)
			continue;
		snprintf(subject, sizeof(subject), "IPv%d", z->family);
		timing_target(c, &G_CHANGE, subject, &z->apply);
	}
	cp_size_targets(c, cp, 10000, &G_LOAD, true);
	cp_size_targets(c, cp, 100000, &G_APPLY100K, false);
	for (int i = 0; i < cp->n_mem; i++) {
		const struct mem_result *m = &cp->mem[i];
		struct target *t;

		if (m->n_hosts != 10000)
			continue;
		t = add(c, &G_RSS, m->v6 ? "IPv4 and IPv6" : "IPv4 only", m->rss_kb / 1024.0,
			m->rss_kb / 1024.0, m->rss_kb / 1024.0);
		part(t, "right after the applies", m->rss_busy_kb / 1024.0, "MiB");
		part(t, "peak", m->hwm_kb / 1024.0, "MiB");
	}
}

static void flood_targets(struct collector *c, const struct flood_results *f,
			  const struct conn_results *k)
{
	const struct flood_mode_result *m = &f->mode[0];
	struct target *t;

	if (f->run && m->done) {
		t = add(c, &G_FLOOD, "receiver's NAPI on a CPU of its own", m->cpu_ratio.med,
			m->cpu_ratio.min, m->cpu_ratio.max);
		if (t) {
			t->second_label = "packets a second taken in";
			t->second = m->ratio.med;
			part(t, "speebpf", m->spee_cpu_ns.med, "ns a packet");
			part(t, "nftables", m->nft_cpu_ns.med, "ns a packet");
		}
	}
	if (k && k->run) {
		t = add(c, &G_CONN, "receiver on a CPU of its own", k->cpu_ratio.med,
			k->cpu_ratio.min, k->cpu_ratio.max);
		if (t) {
			t->second_label = "connections a second, speebpf / nftables";
			t->second = k->side[2].conns_per_s.med > 0
					? k->side[0].conns_per_s.med / k->side[2].conns_per_s.med
					: 0;
			part(t, "speebpf", k->side[0].cpu_us_per_conn.med, "µs a connection");
			part(t, "nftables", k->side[2].cpu_us_per_conn.med, "µs a connection");
		}
	}
}

int targets_collect(const struct bench_run *r, struct target *t, int max)
{
	struct collector c = {.t = t, .max = max};

	if (r->dp)
		dp_targets(&c, r->dp);
	if (r->cp)
		cp_targets(&c, r->cp);
	if (r->flood)
		flood_targets(&c, r->flood, r->conn);
	else if (r->conn)
		flood_targets(&c, &(struct flood_results){0}, r->conn);
	return c.n;
}
