// SPDX-License-Identifier: GPL-2.0-only
/*
 * json.c - a run as JSON (json-c), and the comparison of two runs.
 *
 * The document ("schema": 2) has these members; every figure of several
 * samples is a stat, {"med", "min", "max", "n"}, and a figure measured on
 * both clocks is {"cpu": stat, "kernel": stat}:
 *   run        label (the commit measured), started (UTC), seconds, options
 *   machine    kernel release and build, arch, cpu, cores, mem_mib, libbpf,
 *              load_start/load_end (loadavg), tenants [{comm, cpu_share}]
 *   check      limits, start and end samples (empty, reference: clocks;
 *              spreads), disturbed, reasons []
 *   dataplane  sizes, exact_entries, rounds, repeat, cpu, xdp_filter,
 *              sock_packets,
 *              rows [{id, name, path, family, hook, method ("test run":
 *                     BPF_PROG_TEST_RUN; "kernel socket": real sockets, the
 *                     kernel's run-time statistics, whose clocks are
 *                     {"kernel": run time over runs, "median": the median
 *                     packet's}),
 *                     counted_under, empty: clocks, flat: clocks,
 *                     sizes [{hosts, speebpf, reference, xdp_filter (ns: clocks),
 *                             net {speebpf, reference, xdp_filter}: clocks,
 *                             vs_ref_net, vs_xf_net, vs_empty: clocks}]}]
 *   events     repeat, batches, states [{state, ns, extra}]
 *   gateway    hosts, policies, rounds, repeat, cpu, rows [{id, name, east_west,
 *              counted_under, empty, gateway, host_in, host_out, host, vs_host: clocks}]
 *   flood      (refused SYNs) hosts, rounds, nft_elements, modes [...]
 *   conn       (allowed connections) conns, in_flight, payload, speebpf, nftables, cpu_ratio
 *   control    sizes [...], change [...], memory [...], programs [...]
 *   targets    [{id, group, goal, subject, at, unit, value, min, max, second,
 *               second_label, limit, at_least, met, parts [{name, value, unit}]}]
 *   previous   what the comparison found (below)
 * A number that is not finite is null.
 *
 * The comparison (json_compare) reads the previous run's document: it is
 * comparable when the machine (kernel release and build, CPU, cores) is the
 * same. Every stat gets "prev" (the previous median) and "moved" (true when
 * the median moved by more than its section's tolerance); every target gets
 * "previous" {value, met}, "moved" (the relative change) and "verdict":
 *   met / missed      the same in both runs, neither of them disturbed;
 *   not reproduced    met in one run, missed in the other;
 *   unconfirmed       no comparable, undisturbed previous run to confirm it;
 *   not judged        this run was disturbed;
 *   measured          a figure with no target.
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <json-c/json.h>

/* How far a median may move between two runs on a quiet machine and still be the same figure. */
static const struct {
	const char *section;
	double tolerance;
} tolerances[] = {
    {"dataplane", 0.05}, {"gateway", 0.05}, {"events", 0.15}, {"flood", 0.10}, {"conn", 0.10},
    {"control", 0.10},	 {"memory", 0.05}, {"check", 0.10},
};

static double tolerance_of(const char *section)
{
	for (size_t i = 0; i < sizeof(tolerances) / sizeof(tolerances[0]); i++)
		if (!strcmp(tolerances[i].section, section))
			return tolerances[i].tolerance;
	return 0.10;
}

/* The section a target's figure comes from, for its tolerance. */
static const char *target_section(const char *group)
{
	if (!strncmp(group, "dp-", 3) || !strncmp(group, "eg-", 3))
		return "dataplane";
	if (!strcmp(group, "cp-rss"))
		return "memory";
	if (!strncmp(group, "cp-", 3))
		return "control";
	if (!strcmp(group, "flood-allowed"))
		return "conn";
	return "flood";
}

/* ---- building ---- */

static json_object *num(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL;
}

static void put(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static void put_num(json_object *o, const char *k, double v)
{
	put(o, k, num(v));
}

static void put_int(json_object *o, const char *k, int64_t v)
{
	put(o, k, json_object_new_int64(v));
}

static void put_str(json_object *o, const char *k, const char *v)
{
	put(o, k, json_object_new_string(v ? v : ""));
}

static void put_bool(json_object *o, const char *k, bool v)
{
	put(o, k, json_object_new_boolean(v));
}

static json_object *jstat(const struct stat3 *s)
{
	json_object *o = json_object_new_object();

	put_num(o, "med", s->med);
	put_num(o, "min", s->min);
	put_num(o, "max", s->max);
	put_int(o, "n", s->n);
	return o;
}

/* Both clocks; a clock not measured (no samples) is left out. */
static json_object *jclock(const struct clock2 *c)
{
	json_object *o = json_object_new_object();

	if (c->c[CLK_CPU].n)
		put(o, "cpu", jstat(&c->c[CLK_CPU]));
	if (c->c[CLK_KERNEL].n)
		put(o, "kernel", jstat(&c->c[CLK_KERNEL]));
	return o;
}

/*
 * A data-plane row's clocks: a test-run row's {"cpu", "kernel"}; a row on
 * real sockets has the kernel's statistics only, {"kernel": run time over
 * runs, "median": the median packet's run time}.
 */
static json_object *jrow_clock(const struct dp_row_result *w, const struct clock2 *c)
{
	json_object *o;

	if (!w->socket)
		return jclock(c);
	o = json_object_new_object();
	put(o, "kernel", jstat(&c->c[CLK_KERNEL]));
	put(o, "median", jstat(&c->c[CLK_SOCK_MEDIAN]));
	return o;
}

static json_object *jtiming(const struct timing *t)
{
	json_object *o = json_object_new_object();

	put(o, "wall", jstat(&t->wall));
	put(o, "cpu", jstat(&t->cpu));
	return o;
}

static json_object *jload(const double l[3])
{
	json_object *a = json_object_new_array();

	for (int i = 0; i < 3; i++)
		json_object_array_add(a, num(l[i]));
	return a;
}

static json_object *run_json(const struct bench_run *r)
{
	const struct bench_opts *o = r->opts;
	json_object *j = json_object_new_object(), *opts = json_object_new_object();

	put_str(j, "label", o->label);
	put_str(j, "started", r->started);
	put_num(j, "seconds", r->seconds);
	put_int(opts, "rounds", o->rounds);
	put_int(opts, "repeat", o->repeat);
	put_int(opts, "sock_packets", o->sock_packets);
	put_int(opts, "cp_reps", o->cp_reps);
	put_int(opts, "flood_rounds", o->flood_rounds);
	put_num(opts, "flood_seconds", o->flood_seconds);
	put_int(opts, "conn_count", o->conn_count);
	put_int(opts, "sizes", o->n_sizes);
	put_int(opts, "cpu", o->cpu);
	put(j, "options", opts);
	return j;
}

static json_object *machine_json(const struct machine *m)
{
	json_object *j = json_object_new_object(), *t = json_object_new_array();

	put_str(j, "kernel", m->release);
	put_str(j, "build", m->build);
	put_str(j, "arch", m->arch);
	put_str(j, "cpu", m->cpu);
	put_int(j, "cores", m->cores);
	put_int(j, "mem_mib", m->mem_mib);
	put_str(j, "libbpf", m->libbpf);
	put(j, "load_start", jload(m->load_start));
	put(j, "load_end", jload(m->load_end));
	for (int i = 0; i < m->n_tenants; i++) {
		json_object *e = json_object_new_object();

		put_str(e, "comm", m->tenants[i].comm);
		put_num(e, "cpu_share", m->tenants[i].cpu_share);
		json_object_array_add(t, e);
	}
	put(j, "tenants", t);
	put_num(j, "tenants_total", m->tenants_total);
	put_num(j, "others_running", m->others_running);
	put_int(j, "others_samples", m->others_samples);
	return j;
}

static json_object *sample_json(const struct check_sample *s)
{
	json_object *j = json_object_new_object();

	put(j, "empty", jclock(&s->empty));
	put(j, "reference", jclock(&s->reference));
	put_num(j, "empty_spread", s->empty_spread);
	put_num(j, "reference_spread", s->reference_spread);
	return j;
}

static json_object *check_json(const struct check_result *c)
{
	json_object *j = json_object_new_object(), *lim = json_object_new_object();
	json_object *why = json_object_new_array();

	put_num(lim, "empty_ns", CHECK_EMPTY_MAX_NS);
	put_num(lim, "reference_ns", CHECK_REFERENCE_MAX_NS);
	put_num(lim, "spread", CHECK_SPREAD_MAX);
	put_num(lim, "tenant_share", CHECK_TENANT_MAX);
	put_num(lim, "others_running", CHECK_OTHERS_MAX);
	put(j, "limits", lim);
	put(j, "start", sample_json(&c->start));
	if (c->have_end)
		put(j, "end", sample_json(&c->end));
	put_bool(j, "disturbed", c->disturbed);
	for (int i = 0; i < c->n_reasons; i++)
		json_object_array_add(why, json_object_new_string(c->reasons[i]));
	put(j, "reasons", why);
	return j;
}

static json_object *dp_json(const struct dp_results *dp)
{
	static const char *const prog_keys[DPP_COUNT] = {"speebpf", "reference", "xdp_filter"};
	json_object *j = json_object_new_object(), *a, *rows = json_object_new_array(), *x;

	a = json_object_new_array();
	for (int s = 0; s < dp->n_sizes; s++)
		json_object_array_add(a, json_object_new_int64((int64_t)bench_sizes[s]));
	put(j, "sizes", a);
	a = json_object_new_array();
	for (int s = 0; s < dp->n_sizes; s++)
		json_object_array_add(a, json_object_new_int64((int64_t)dp->exact_entries[s]));
	put(j, "exact_entries", a);
	put_int(j, "rounds", dp->rounds);
	put_int(j, "repeat", dp->repeat);
	put_int(j, "sock_packets", dp->sock_packets);
	put_int(j, "cpu", dp->cpu);
	x = json_object_new_object();
	put_bool(x, "loaded", dp->xf_loaded);
	put_str(x, "object", dp->xf_obj);
	put_str(x, "note", dp->xf_note);
	put(j, "xdp_filter", x);
	for (int i = 0; i < dp->n_rows; i++) {
		const struct dp_row_result *w = &dp->row[i];
		json_object *row = json_object_new_object(), *sizes = json_object_new_array();

		put_str(row, "id", w->id);
		put_str(row, "name", w->name);
		put_str(row, "path", dp_path_ids[w->path]);
		put_int(row, "family", w->family);
		put_str(row, "hook", w->egress ? "cgroup_skb/egress" : "xdp");
		put_str(row, "method", w->socket ? "kernel socket" : "test run");
		put_str(row, "counted_under", w->expect);
		put(row, "empty", jrow_clock(w, &w->ns[DPV_EMPTY]));
		if (dp->n_sizes > 1)
			put(row, "flat", jrow_clock(w, &w->flat));
		for (int s = 0; s < dp->n_sizes; s++) {
			json_object *z = json_object_new_object(), *net = json_object_new_object();

			put_int(z, "hosts", (int64_t)bench_sizes[s]);
			for (int p = 0; p < DPP_COUNT; p++) {
				if (!w->has[DPV(p, s)])
					continue;
				put(z, prog_keys[p], jrow_clock(w, &w->ns[DPV(p, s)]));
				put(net, prog_keys[p], jrow_clock(w, &w->net[DPV(p, s)]));
			}
			put(z, "net", net);
			if (w->has[DPV(DPP_REF, s)])
				put(z, "vs_ref_net", jrow_clock(w, &w->vs_ref_net[s]));
			if (w->has[DPV(DPP_XF, s)])
				put(z, "vs_xf_net", jrow_clock(w, &w->vs_xf_net[s]));
			put(z, "vs_empty", jrow_clock(w, &w->vs_empty[s]));
			json_object_array_add(sizes, z);
		}
		put(row, "sizes", sizes);
		json_object_array_add(rows, row);
	}
	put(j, "rows", rows);
	return j;
}

static json_object *gw_json(const struct gw_results *gw)
{
	json_object *j = json_object_new_object(), *rows = json_object_new_array();

	put_int(j, "hosts", (int64_t)gw->hosts);
	put_int(j, "policies", gw->policies);
	put_int(j, "rounds", gw->rounds);
	put_int(j, "repeat", gw->repeat);
	put_int(j, "cpu", gw->cpu);
	for (int i = 0; i < gw->n_rows; i++) {
		const struct gw_row_result *w = &gw->row[i];
		json_object *row = json_object_new_object();

		put_str(row, "id", w->id);
		put_str(row, "name", w->name);
		put_bool(row, "east_west", w->east_west);
		put_str(row, "counted_under", w->expect);
		put(row, "empty", jclock(&w->empty));
		put(row, "gateway", jclock(&w->gateway));
		put(row, "host_in", jclock(&w->host_in));
		if (w->east_west)
			put(row, "host_out", jclock(&w->host_out));
		put(row, "host", jclock(&w->host));
		put(row, "vs_host", jclock(&w->vs_host));
		json_object_array_add(rows, row);
	}
	put(j, "rows", rows);
	return j;
}

static json_object *events_json(const struct dp_results *dp)
{
	static const char *const names[DPE_COUNT] = {"off", "sent", "suppressed", "lost"};
	json_object *j = json_object_new_object(), *a = json_object_new_array();

	put_int(j, "repeat", dp->events_repeat);
	put_int(j, "batches", dp->events_batches);
	for (int i = 0; i < DPE_COUNT; i++) {
		json_object *e = json_object_new_object();

		put_str(e, "state", names[i]);
		put(e, "ns", jstat(&dp->events_ns[i]));
		if (i != DPE_OFF)
			put(e, "extra", jstat(&dp->events_extra[i]));
		json_object_array_add(a, e);
	}
	put(j, "states", a);
	return j;
}

static json_object *flood_json(const struct flood_results *f)
{
	json_object *j = json_object_new_object(), *a = json_object_new_array();

	put_str(j, "skipped", f->skipped);
	put_int(j, "rounds", f->rounds);
	put_int(j, "hosts", (int64_t)f->n_hosts);
	put_int(j, "nft_elements", (int64_t)f->nft_elements);
	for (int i = 0; i < 2; i++) {
		const struct flood_mode_result *m = &f->mode[i];
		json_object *e = json_object_new_object();

		if (!m->done)
			continue;
		put_str(e, "mode", m->threaded ? "threaded" : "shared");
		put_int(e, "frames", (int64_t)m->frames);
		put(e, "speebpf_kpps", jstat(&m->spee_kpps));
		put(e, "nft_kpps", jstat(&m->nft_kpps));
		put(e, "ratio", jstat(&m->ratio));
		put(e, "speebpf_offered_kpps", jstat(&m->spee_offered_kpps));
		put(e, "nft_offered_kpps", jstat(&m->nft_offered_kpps));
		put_int(e, "max_mismatch", (int64_t)m->max_mismatch);
		if (m->threaded) {
			put(e, "speebpf_cpu_ns", jstat(&m->spee_cpu_ns));
			put(e, "nft_cpu_ns", jstat(&m->nft_cpu_ns));
			put(e, "cpu_ratio", jstat(&m->cpu_ratio));
		}
		json_object_array_add(a, e);
	}
	put(j, "modes", a);
	return j;
}

static json_object *conn_side_json(const struct conn_side *s)
{
	json_object *j = json_object_new_object();

	put(j, "conns_per_s", jstat(&s->conns_per_s));
	put(j, "rx_pkts_per_conn", jstat(&s->rx_pkts_per_conn));
	put(j, "cpu_us_per_conn", jstat(&s->cpu_us_per_conn));
	put(j, "conns_per_cpu_s", jstat(&s->conns_per_cpu_s));
	put(j, "cpu_ns_per_pkt", jstat(&s->cpu_ns_per_pkt));
	return j;
}

static json_object *conn_json(const struct conn_results *k)
{
	json_object *j = json_object_new_object();

	put_str(j, "skipped", k->skipped);
	put_int(j, "rounds", k->rounds);
	put_int(j, "conns", k->conns);
	put_int(j, "in_flight", k->in_flight);
	put_int(j, "payload", k->payload);
	put_int(j, "segments", k->segments);
	put_int(j, "hosts", (int64_t)k->n_hosts);
	put(j, "speebpf", conn_side_json(&k->side[0]));
	put(j, "empty_xdp", conn_side_json(&k->side[1]));
	put(j, "nftables", conn_side_json(&k->side[2]));
	put(j, "no_filter", conn_side_json(&k->side[3]));
	put(j, "cpu_ratio", jstat(&k->cpu_ratio));
	put(j, "speebpf_own_us", jstat(&k->spee_own_us));
	put(j, "nft_own_us", jstat(&k->nft_own_us));
	put_int(j, "speebpf_refused", (int64_t)k->spee_refused);
	put_int(j, "nft_refused", (int64_t)k->nft_refused);
	return j;
}

static json_object *control_json(const struct cp_results *cp)
{
	json_object *j = json_object_new_object(), *a = json_object_new_array();

	for (int i = 0; i < cp->n_size; i++) {
		const struct cp_size_result *z = &cp->size[i];
		json_object *e = json_object_new_object();

		put_int(e, "hosts", (int64_t)z->n_hosts);
		put_int(e, "family", z->family);
		put_int(e, "yaml_bytes", (int64_t)z->yaml_bytes);
		put_int(e, "exact_entries", (int64_t)z->exact_entries);
		put_int(e, "runs", z->reps);
		put(e, "parse", jtiming(&z->parse));
		put(e, "compile", jtiming(&z->compile));
		put(e, "load", jtiming(&z->load));
		put(e, "apply", jtiming(&z->apply));
		put(e, "apply_read_back", jtiming(&z->apply_rb));
		put(e, "same", jtiming(&z->same));
		put(e, "same_read_back", jtiming(&z->same_rb));
		put(e, "total", jtiming(&z->total));
		put(e, "total_read_back", jtiming(&z->total_rb));
		json_object_array_add(a, e);
	}
	put(j, "sizes", a);
	a = json_object_new_array();
	for (int i = 0; i < cp->n_change; i++) {
		const struct cp_change_result *z = &cp->change[i];
		json_object *e = json_object_new_object();

		put_int(e, "hosts", (int64_t)z->n_hosts);
		put_int(e, "family", z->family);
		put_int(e, "steps", z->steps);
		put(e, "parse_compile", jtiming(&z->parse_compile));
		put(e, "apply", jtiming(&z->apply));
		put(e, "apply_read_back", jtiming(&z->apply_rb));
		put(e, "total", jtiming(&z->total));
		put(e, "total_read_back", jtiming(&z->total_rb));
		put_int(e, "changed", (int64_t)z->changed);
		put_bool(e, "consistent", z->consistent);
		put_bool(e, "verified", z->verified);
		json_object_array_add(a, e);
	}
	put(j, "change", a);
	a = json_object_new_array();
	for (int i = 0; i < cp->n_prog; i++) {
		json_object *e = json_object_new_object();

		put_str(e, "name", cp->prog[i].name);
		put_int(e, "verified_insns", cp->prog[i].verified_insns);
		put_int(e, "xlated_bytes", cp->prog[i].xlated_bytes);
		put_int(e, "jited_bytes", cp->prog[i].jited_bytes);
		json_object_array_add(a, e);
	}
	put(j, "programs", a);
	return j;
}

static json_object *memory_json(const struct cp_results *cp)
{
	json_object *a = json_object_new_array();

	for (int i = 0; i < cp->n_mem; i++) {
		const struct mem_result *m = &cp->mem[i];
		json_object *e = json_object_new_object();

		put_int(e, "hosts", (int64_t)m->n_hosts);
		put_bool(e, "ipv6", m->v6);
		put_int(e, "rss_start_kb", m->rss_start_kb);
		put_int(e, "rss_busy_kb", m->rss_busy_kb);
		put_int(e, "rss_kb", m->rss_kb);
		put_int(e, "hwm_kb", m->hwm_kb);
		put_int(e, "heap_kb", m->heap_kb);
		put_int(e, "maps_kb", m->maps_kb);
		put_int(e, "exact_kb", m->exact_kb);
		put_int(e, "ports_kb", m->ports_kb);
		put_int(e, "flows_kb", m->flows_kb);
		put_int(e, "prefix_kb", m->prefix_kb);
		json_object_array_add(a, e);
	}
	return a;
}

static json_object *targets_json(const struct bench_run *r)
{
	static struct target t[MAX_TARGETS];
	int n = targets_collect(r, t, MAX_TARGETS);
	json_object *a = json_object_new_array();

	for (int i = 0; i < n; i++) {
		json_object *e = json_object_new_object(), *parts = json_object_new_array();

		put_str(e, "id", t[i].id);
		put_str(e, "group", t[i].group);
		put_str(e, "goal", t[i].goal);
		put_str(e, "subject", t[i].subject);
		put_str(e, "at", t[i].at);
		put_str(e, "unit", t[i].unit);
		put_num(e, "value", t[i].value);
		put_num(e, "min", t[i].min);
		put_num(e, "max", t[i].max);
		if (t[i].second_label) {
			put_str(e, "second_label", t[i].second_label);
			put_num(e, "second", t[i].second);
		}
		put(e, "limit", t[i].has_limit ? num(t[i].limit) : NULL);
		put_bool(e, "at_least", t[i].at_least);
		put_bool(e, "met", t[i].met);
		for (int k = 0; k < t[i].n_parts; k++) {
			json_object *p = json_object_new_object();

			put_str(p, "name", t[i].part[k].name);
			put_num(p, "value", t[i].part[k].value);
			put_str(p, "unit", t[i].part[k].unit);
			json_object_array_add(parts, p);
		}
		put(e, "parts", parts);
		json_object_array_add(a, e);
	}
	return a;
}

/* ---- comparing ---- */

static const char *str_at(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

static bool bool_at(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

static json_object *at(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static bool is_number(json_object *v)
{
	return json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int);
}

/* Marks every stat of cur whose median moved by more than tol from prev's. */
static void mark_moved(json_object *cur, json_object *prev, double tol)
{
	if (!cur || !prev)
		return;
	if (json_object_is_type(cur, json_type_array) && json_object_is_type(prev, json_type_array)) {
		size_t n = json_object_array_length(cur);

		if (n != json_object_array_length(prev))
			return; /* a different set of rows: nothing to match */
		for (size_t i = 0; i < n; i++)
			mark_moved(json_object_array_get_idx(cur, i),
				   json_object_array_get_idx(prev, i), tol);
		return;
	}
	if (!json_object_is_type(cur, json_type_object) ||
	    !json_object_is_type(prev, json_type_object))
		return;
	if (is_number(at(cur, "med")) && is_number(at(prev, "med")) && at(cur, "max")) {
		double c = json_object_get_double(at(cur, "med"));
		double p = json_object_get_double(at(prev, "med"));

		put_num(cur, "prev", p);
		put_bool(cur, "moved", p == 0 ? c != 0 : fabs(c / p - 1) > tol);
		return;
	}
	json_object_object_foreach(cur, key, val) mark_moved(val, at(prev, key), tol);
}

static bool same_machine(json_object *a, json_object *b, char *why, size_t len)
{
	static const char *const keys[] = {"kernel", "build", "cpu", "cores"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_object *x = at(a, keys[i]), *y = at(b, keys[i]);
		const char *sx = x ? json_object_get_string(x) : "";
		const char *sy = y ? json_object_get_string(y) : "";

		if (strcmp(sx, sy)) {
			snprintf(why, len, "the previous run was on another %s (%s, not %s)",
				 keys[i], sy, sx);
			return false;
		}
	}
	return true;
}

static const char *verdict(json_object *t, json_object *pt, bool disturbed, bool confirmable)
{
	bool met = bool_at(t, "met");

	if (!at(t, "limit"))
		return "measured";
	if (disturbed)
		return "not judged";
	if (!confirmable || !pt)
		return "unconfirmed";
	if (met != bool_at(pt, "met"))
		return "not reproduced";
	return met ? "met" : "missed";
}

static void compare_targets(json_object *cur, json_object *prev, bool confirmable)
{
	json_object *ts = at(cur, "targets"), *pts = prev ? at(prev, "targets") : NULL;
	bool disturbed = bool_at(at(cur, "check"), "disturbed");
	size_t n = ts ? json_object_array_length(ts) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(ts, i), *pt = NULL;
		const char *id = str_at(t, "id");
		double tol = tolerance_of(target_section(str_at(t, "group")));

		for (size_t k = 0; pts && k < json_object_array_length(pts); k++)
			if (!strcmp(str_at(json_object_array_get_idx(pts, k), "id"), id))
				pt = json_object_array_get_idx(pts, k);
		if (pt && is_number(at(pt, "value")) && is_number(at(t, "value"))) {
			json_object *p = json_object_new_object();
			double v = json_object_get_double(at(t, "value"));
			double pv = json_object_get_double(at(pt, "value"));

			put_num(p, "value", pv);
			put_bool(p, "met", bool_at(pt, "met"));
			put(t, "previous", p);
			put_num(t, "moved", pv ? v / pv - 1 : 0);
			put_num(t, "tolerance", tol);
			put_bool(t, "figure_reproduced", confirmable && pv && fabs(v / pv - 1) <= tol);
		}
		put_str(t, "verdict", verdict(t, pt, disturbed, confirmable));
	}
}

/* Adds cur's "previous" member and marks what moved, from the document prev (may be NULL). */
static void compare(json_object *cur, json_object *prev, const char *prev_path, const char *err)
{
	json_object *p = json_object_new_object(), *tol = json_object_new_object();
	bool comparable = false, confirmable = false;
	char why[256] = "";

	put_str(p, "file", prev_path);
	for (size_t i = 0; i < sizeof(tolerances) / sizeof(tolerances[0]); i++)
		put_num(tol, tolerances[i].section, tolerances[i].tolerance);
	put(p, "tolerances", tol);
	if (!prev) {
		snprintf(why, sizeof(why), "%s", err ? err : "there is no previous run");
	} else {
		comparable = same_machine(at(cur, "machine"), at(prev, "machine"), why, sizeof(why));
		put(p, "run", json_object_get(at(prev, "run")));
		put(p, "machine", json_object_get(at(prev, "machine")));
		put(p, "check", json_object_get(at(prev, "check")));
		if (comparable && bool_at(at(prev, "check"), "disturbed"))
			snprintf(why, sizeof(why), "the previous run was disturbed");
		confirmable = comparable && !why[0];
	}
	put_bool(p, "comparable", comparable);
	put_bool(p, "confirms", confirmable);
	put_str(p, "why_not", why);
	if (comparable) {
		json_object_object_foreach(cur, key, val)
		{
			if (strcmp(key, "targets") && strcmp(key, "previous") && strcmp(key, "run"))
				mark_moved(val, at(prev, key), tolerance_of(key));
		}
	}
	compare_targets(cur, comparable ? prev : NULL, confirmable);
	json_object_object_add(cur, "previous", p);
}

static json_object *load(const char *path, char *err, size_t len)
{
	json_object *o = json_object_from_file(path);

	if (!o)
		snprintf(err, len, "cannot read the previous run's %s: %s", path,
			 json_util_get_last_err() ? json_util_get_last_err() : "no such file");
	else if (!at(o, "schema") || json_object_get_int(at(o, "schema")) != 2) {
		snprintf(err, len, "%s is not a run of this benchmark's schema 2", path);
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static int save(const char *path, json_object *o)
{
	json_c_set_serialization_double_format("%.6g", JSON_C_OPTION_GLOBAL);
	if (json_object_to_file_ext(path, o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						 JSON_C_TO_STRING_NOSLASHESCAPE))
		return -EIO;
	return 0;
}

int json_write_run(const char *path, const struct bench_run *r, const char *prev_path)
{
	json_object *j = json_object_new_object(), *prev = NULL;
	char err[512] = "";
	int ret;

	put_int(j, "schema", 2);
	put(j, "run", run_json(r));
	put(j, "machine", machine_json(&r->machine));
	put(j, "check", check_json(&r->check));
	if (r->dp) {
		put(j, "dataplane", dp_json(r->dp));
		if (r->dp->events_measured)
			put(j, "events", events_json(r->dp));
	}
	if (r->gw)
		put(j, "gateway", gw_json(r->gw));
	if (r->flood)
		put(j, "flood", flood_json(r->flood));
	if (r->conn)
		put(j, "conn", conn_json(r->conn));
	if (r->cp) {
		put(j, "control", control_json(r->cp));
		put(j, "memory", memory_json(r->cp));
	}
	put(j, "targets", targets_json(r));
	if (prev_path)
		prev = load(prev_path, err, sizeof(err));
	compare(j, prev, prev_path, err[0] ? err : NULL);
	ret = save(path, j);
	json_object_put(prev);
	json_object_put(j);
	return ret;
}

int json_compare_files(const char *prev_path, const char *path)
{
	char err[512] = "";
	json_object *cur = load(path, err, sizeof(err)), *prev;
	int ret;

	if (!cur) {
		bench_log("%s", err);
		return -EINVAL;
	}
	json_object_object_del(cur, "previous");
	prev = load(prev_path, err, sizeof(err));
	compare(cur, prev, prev_path, err[0] ? err : NULL);
	ret = save(path, cur);
	json_object_put(prev);
	json_object_put(cur);
	return ret;
}
