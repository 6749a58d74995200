// SPDX-License-Identifier: GPL-2.0-only
#include "stats.h"

#include <json-c/json.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labels.h"
#include "prom.h"

/* A (slot, direction) pair of an enforced rule, for sorting. */
struct rule_row {
	uint16_t slot;
	uint8_t dir;
	const struct spee_rule_meta *m;
};

static int cmp_rows(const void *pa, const void *pb)
{
	const struct rule_row *a = pa, *b = pb;

	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	if (a->m->port_lo != b->m->port_lo)
		return a->m->port_lo < b->m->port_lo ? -1 : 1;
	return strcmp(a->m->id, b->m->id);
}

/* Every enforced rule once per direction it is enforced in, sorted; returns the count. */
static size_t rule_rows(const struct counter_snapshot *s, struct rule_row *rows)
{
	size_t n = 0;

	for (uint16_t slot = 1; slot < SPEE_MAX_RULES; slot++)
		for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++)
			if (s->meta[slot].dirs & (1u << dir))
				rows[n++] = (struct rule_row){ slot, dir, &s->meta[slot] };
	qsort(rows, n, sizeof(*rows), cmp_rows);
	return n;
}

/*
 * Gateway mode: a (host, rule, direction) the policy enforces, as
 * spee_gw_ctr lists it (user space creates one counter for each). A
 * counter of a host without a name, or of a rule no longer enforced in
 * that direction, is a leftover of an earlier policy: not shown.
 */
struct gw_row {
	struct rule_row r;
	const struct counter_gw_host *host;
	const struct spee_counter *c;
};

static int cmp_gw_rows(const void *pa, const void *pb)
{
	const struct gw_row *a = pa, *b = pb;

	if (a->host->index != b->host->index)
		return a->host->index < b->host->index ? -1 : 1;
	return cmp_rows(&a->r, &b->r);
}

/* The gateway's rule counters, by host index, then as rule_rows(); NULL: none. */
static struct gw_row *gw_rule_rows(const struct counter_snapshot *s, size_t *n)
{
	struct gw_row *rows = calloc(s->gw.n ? s->gw.n : 1, sizeof(*rows));
	size_t h = 0;

	*n = 0;
	if (!rows)
		return NULL;
	for (size_t i = 0; i < s->gw.n; i++) {
		const struct counter_gw_entry *e = &s->gw.ctr[i];

		/* both sorted by host index: walk them together */
		while (h < s->gw.n_hosts && s->gw.hosts[h].index < e->key.host)
			h++;
		if (h == s->gw.n_hosts || s->gw.hosts[h].index != e->key.host ||
		    e->key.reason != SPEE_REASON_RULE || e->key.rule == SPEE_RULE_NONE ||
		    e->key.rule >= SPEE_MAX_RULES || e->key.dir >= SPEE_DIR_MAX ||
		    !(s->meta[e->key.rule].dirs & (1u << e->key.dir)))
			continue;
		rows[(*n)++] = (struct gw_row){
			.r = { e->key.rule, e->key.dir, &s->meta[e->key.rule] },
			.host = &s->gw.hosts[h],
			.c = &e->c,
		};
	}
	if (*n)
		qsort(rows, *n, sizeof(*rows), cmp_gw_rows);
	return rows;
}

/* A host's drops for a reason and direction (zeros until its first: the program creates it). */
static struct spee_counter gw_drop(const struct counter_snapshot *s, uint16_t host, unsigned reason,
				   unsigned dir)
{
	struct spee_gw_ctr_key key = {
		.host = host, .rule = SPEE_RULE_NONE, .dir = (uint8_t)dir, .reason = (uint8_t)reason,
	};
	const struct counter_gw_entry *e = counter_gw_find(s, &key);

	return e ? e->c : (struct spee_counter){ 0, 0 };
}

static void port_text(const struct spee_rule_meta *m, char *buf, size_t len)
{
	if (m->port_lo == m->port_hi)
		snprintf(buf, len, "%s/%u", proto_label(m->proto), m->port_lo);
	else
		snprintf(buf, len, "%s/%u-%u", proto_label(m->proto), m->port_lo, m->port_hi);
}

static double rate(uint64_t now, uint64_t before, double secs)
{
	return secs > 0 && now >= before ? (double)(now - before) / secs : 0;
}

static void header(FILE *out, const struct counter_snapshot *s)
{
	const struct spee_slot_cfg *cfg = snapshot_cfg(s);
	char when[64] = "never";

	if (s->inst.applied_at) {
		time_t t = (time_t)(s->inst.applied_at / 1000000000ull);
		struct tm tm;

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", localtime_r(&t, &tm));
	}
	if (snapshot_is_gateway(s))
		fprintf(out, "gateway for %zu host%s: mode %s, policy generation %u, applied %s\n",
			s->gw.n_hosts, s->gw.n_hosts == 1 ? "" : "s", mode_label(cfg->mode),
			cfg->generation, when);
	else
		fprintf(out, "host %s: mode %s, policy generation %u, applied %s\n",
			s->inst.host[0] ? s->inst.host : "?", mode_label(cfg->mode), cfg->generation,
			when);
}

static void rate_text(FILE *out, const struct spee_counter *c, const struct spee_counter *p,
		      double secs)
{
	fprintf(out, " %10.1f %12.1f", rate(c->packets, p->packets, secs),
		rate(c->bytes, p->bytes, secs));
}

/*
 * Gateway mode: each host's rules (every one it enforces, zeros included)
 * and the drops its rules made (those that saw any), host by host.
 */
static void gw_text(FILE *out, const struct counter_snapshot *s,
		    const struct counter_snapshot *prev, double secs)
{
	const struct spee_slot_cfg *cfg = snapshot_cfg(s);
	static const struct spee_counter zero;
	size_t n, r = 0;
	struct gw_row *rows = gw_rule_rows(s, &n);
	char port[24];

	if (!rows)
		return;
	for (size_t h = 0; h < s->gw.n_hosts; h++) {
		const struct counter_gw_host *host = &s->gw.hosts[h];
		bool dropped = false;

		fprintf(out, "\nhost %s\n%-18s %-8s %-14s %12s %14s", host->name, "RULE", "DIR",
			"PORT", "PACKETS", "BYTES");
		fprintf(out, prev ? " %10s %12s\n" : "\n", "PKT/S", "BYTES/S");
		for (; r < n && rows[r].host == host; r++) {
			const struct spee_counter *c = rows[r].c;

			port_text(rows[r].r.m, port, sizeof(port));
			fprintf(out, "%-18s %-8s %-14s %12llu %14llu", rows[r].r.m->id,
				dir_label(rows[r].r.dir), port, (unsigned long long)c->packets,
				(unsigned long long)c->bytes);
			if (prev) {
				struct spee_gw_ctr_key key = {
					.host = host->index, .rule = rows[r].r.slot,
					.dir = rows[r].r.dir, .reason = SPEE_REASON_RULE,
				};
				const struct counter_gw_entry *p = counter_gw_find(prev, &key);

				rate_text(out, c, p ? &p->c : &zero, secs);
			}
			fprintf(out, "\n");
		}
		for (unsigned reason = 0; reason < SPEE_REASON_MAX; reason++) {
			for (unsigned dir = 0; reason_is_drop(reason) && dir < SPEE_DIR_MAX; dir++) {
				struct spee_counter c = gw_drop(s, host->index, reason, dir);

				if (!c.packets)
					continue;
				if (!dropped)
					fprintf(out, "%-18s %-8s %-14s %12s %14s\n",
						cfg->mode == SPEE_MODE_AUDIT ? "WOULD DROP" : "DROPPED",
						"DIR", "REASON", "PACKETS", "BYTES");
				dropped = true;
				fprintf(out, "%-18s %-8s %-14s %12llu %14llu", "", dir_label(dir),
					reason_label(reason), (unsigned long long)c.packets,
					(unsigned long long)c.bytes);
				if (prev) {
					struct spee_counter p = gw_drop(prev, host->index, reason, dir);

					rate_text(out, &c, &p, secs);
				}
				fprintf(out, "\n");
			}
		}
	}
	fprintf(out, "\nALL HOSTS (every packet the gateway judged; drops include those of no "
		     "host)\n");
	free(rows);
}

/* Non-IP frames by ethertype class, the classes that saw any (a breakdown of non-ip/ethertype). */
static void l2_text(FILE *out, const struct counter_snapshot *s)
{
	bool any = false;

	for (unsigned c = 0; c < SPEE_L2_MAX; c++) {
		for (unsigned pass = 0; pass < 2; pass++) {
			for (unsigned dir = 0; dir < SPEE_DIR_MAX; dir++) {
				const struct spee_counter *k = &s->l2[c][pass][dir];

				if (!k->packets)
					continue;
				if (!any)
					fprintf(out, "\n%-18s %-8s %-14s %12s %14s\n",
						"NON-IP BY CLASS", "DIR", "VERDICT", "PACKETS", "BYTES");
				any = true;
				fprintf(out, "%-18s %-8s %-14s %12llu %14llu\n", l2_class_label(c),
					dir_label(dir), pass ? "passed" : "dropped",
					(unsigned long long)k->packets, (unsigned long long)k->bytes);
			}
		}
	}
}

void stats_render_text(FILE *out, const struct counter_snapshot *s,
		       const struct counter_snapshot *prev)
{
	struct rule_row *rows = calloc(SPEE_MAX_RULES * SPEE_DIR_MAX, sizeof(*rows));
	double secs = prev ? (double)(s->taken_ns - prev->taken_ns) / 1e9 : 0;
	const struct spee_slot_cfg *cfg = snapshot_cfg(s);
	size_t n;
	char port[24];

	if (!rows)
		return;
	header(out, s);
	n = snapshot_is_gateway(s) ? 0 : rule_rows(s, rows);
	if (snapshot_is_gateway(s)) {
		gw_text(out, s, prev, secs);
	} else {
		fprintf(out, "\n%-18s %-8s %-14s %12s %14s", "RULE", "DIR", "PORT", "PACKETS",
			"BYTES");
		fprintf(out, prev ? " %10s %12s\n" : "\n", "PKT/S", "BYTES/S");
	}
	for (size_t i = 0; i < n; i++) {
		const struct spee_counter *c = &s->rules[rows[i].slot][rows[i].dir];

		port_text(rows[i].m, port, sizeof(port));
		fprintf(out, "%-18s %-8s %-14s %12llu %14llu", rows[i].m->id,
			dir_label(rows[i].dir), port, (unsigned long long)c->packets,
			(unsigned long long)c->bytes);
		if (prev) {
			const struct spee_counter *p = &prev->rules[rows[i].slot][rows[i].dir];

			fprintf(out, " %10.1f %12.1f", rate(c->packets, p->packets, secs),
				rate(c->bytes, p->bytes, secs));
		}
		fprintf(out, "\n");
	}
	for (int drops = 1; drops >= 0; drops--) {
		fprintf(out, "\n%-18s %-8s %-14s %12s %14s\n",
			drops ? (cfg->mode == SPEE_MODE_AUDIT ? "WOULD DROP" : "DROPPED") :
				"PASSED (no rule)",
			"DIR", "REASON", "PACKETS", "BYTES");
		for (unsigned r = 0; r < SPEE_REASON_MAX; r++) {
			if (r == SPEE_REASON_RULE || reason_is_drop(r) != drops)
				continue;
			for (unsigned dir = 0; dir < SPEE_DIR_MAX; dir++) {
				const struct spee_counter *c = &s->reasons[r][dir];

				fprintf(out, "%-18s %-8s %-14s %12llu %14llu", "", dir_label(dir),
					reason_label(r), (unsigned long long)c->packets,
					(unsigned long long)c->bytes);
				if (prev) {
					const struct spee_counter *p = &prev->reasons[r][dir];

					fprintf(out, " %10.1f %12.1f",
						rate(c->packets, p->packets, secs),
						rate(c->bytes, p->bytes, secs));
				}
				fprintf(out, "\n");
			}
		}
	}
	l2_text(out, s);
	fprintf(out, "\ndrop events: %llu sent, %llu held back by the rate limit (%u/s, burst %u "
		     "a CPU), %llu lost\n",
		(unsigned long long)s->events[SPEE_EV_SENT],
		(unsigned long long)s->events[SPEE_EV_SUPPRESSED], cfg->events_rate,
		cfg->events_burst, (unsigned long long)s->events[SPEE_EV_LOST]);
	if (cfg->default_action[SPEE_DIR_INGRESS] == SPEE_ACTION_PASS ||
	    cfg->default_action[SPEE_DIR_EGRESS] == SPEE_ACTION_PASS)
		fprintf(out, "\n(no-rule is passed, not dropped, where the default is pass: "
			     "ingress %s, egress %s)\n",
			action_label(cfg->default_action[SPEE_DIR_INGRESS]),
			action_label(cfg->default_action[SPEE_DIR_EGRESS]));
	free(rows);
}

static struct json_object *counter_obj(const char *dir, const struct spee_counter *c)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "direction", json_object_new_string(dir));
	json_object_object_add(o, "packets", json_object_new_uint64(c->packets));
	json_object_object_add(o, "bytes", json_object_new_uint64(c->bytes));
	return o;
}

/* A rule entry of the contract's shape; in gateway mode with the host first. */
static struct json_object *rule_obj(const char *host, const struct rule_row *row,
				    const struct spee_counter *c)
{
	struct json_object *o = json_object_new_object();

	if (host)
		json_object_object_add(o, "host", json_object_new_string(host));
	json_object_object_add(o, "id", json_object_new_string(row->m->id));
	json_object_object_add(o, "direction", json_object_new_string(dir_label(row->dir)));
	json_object_object_add(o, "proto", json_object_new_string(proto_label(row->m->proto)));
	json_object_object_add(o, "port", json_object_new_int(row->m->port_lo));
	if (row->m->port_hi != row->m->port_lo)
		json_object_object_add(o, "port_end", json_object_new_int(row->m->port_hi));
	json_object_object_add(o, "packets", json_object_new_uint64(c->packets));
	json_object_object_add(o, "bytes", json_object_new_uint64(c->bytes));
	return o;
}

/* Gateway mode: "gateway": true, the hosts, and a rule entry per (host, rule, direction). */
static void gw_json(const struct counter_snapshot *s, struct json_object *root,
		    struct json_object *rules)
{
	struct json_object *hosts = json_object_new_array();
	size_t n;
	struct gw_row *rows = gw_rule_rows(s, &n);

	json_object_object_add(root, "gateway", json_object_new_boolean(true));
	for (size_t h = 0; h < s->gw.n_hosts; h++)
		json_object_array_add(hosts, json_object_new_string(s->gw.hosts[h].name));
	json_object_object_add(root, "hosts", hosts);
	for (size_t i = 0; rows && i < n; i++)
		json_object_array_add(rules, rule_obj(rows[i].host->name, &rows[i].r, rows[i].c));
	free(rows);
}

/*
 * Gateway mode: after the totals (which stay as in host mode, drops of no
 * host included), each host's drops by reason and direction, with "host".
 */
static void gw_json_drops(const struct counter_snapshot *s, struct json_object *drops)
{
	for (size_t h = 0; h < s->gw.n_hosts; h++)
		for (unsigned r = 0; r < SPEE_REASON_MAX; r++)
			for (unsigned dir = 0; reason_is_drop(r) && dir < SPEE_DIR_MAX; dir++) {
				struct spee_counter c = gw_drop(s, s->gw.hosts[h].index, r, dir);
				struct json_object *o = json_object_new_object();

				json_object_object_add(o, "host",
						       json_object_new_string(s->gw.hosts[h].name));
				json_object_object_add(o, "direction",
						       json_object_new_string(dir_label(dir)));
				json_object_object_add(o, "packets", json_object_new_uint64(c.packets));
				json_object_object_add(o, "bytes", json_object_new_uint64(c.bytes));
				json_object_object_add(o, "reason",
						       json_object_new_string(reason_label(r)));
				json_object_array_add(drops, o);
			}
}

struct json_object *stats_json(const struct counter_snapshot *s)
{
	struct rule_row *rows = calloc(SPEE_MAX_RULES * SPEE_DIR_MAX, sizeof(*rows));
	const struct spee_slot_cfg *cfg = snapshot_cfg(s);
	struct json_object *root = json_object_new_object();
	struct json_object *rules = json_object_new_array(), *drops = json_object_new_array();
	struct json_object *passes = json_object_new_array(), *def = json_object_new_object();
	size_t n;

	json_object_object_add(root, "mode", json_object_new_string(mode_label(cfg->mode)));
	json_object_object_add(root, "rules", rules);
	json_object_object_add(root, "drops", drops);
	json_object_object_add(root, "passes", passes);
	{
		/* non-IP frames by ethertype class: a breakdown of non-ip and ethertype */
		struct json_object *l2 = json_object_new_array();

		for (unsigned c = 0; c < SPEE_L2_MAX; c++)
			for (unsigned pass = 0; pass < 2; pass++)
				for (unsigned dir = 0; dir < SPEE_DIR_MAX; dir++) {
					struct json_object *o =
						counter_obj(dir_label(dir), &s->l2[c][pass][dir]);

					json_object_object_add(o, "class",
							       json_object_new_string(l2_class_label(c)));
					json_object_object_add(o, "passed", json_object_new_boolean(pass));
					json_object_array_add(l2, o);
				}
		json_object_object_add(root, "non_ip", l2);
	}
	json_object_object_add(root, "generation", json_object_new_int64(cfg->generation));
	json_object_object_add(root, "host", json_object_new_string(s->inst.host));
	for (unsigned dir = 0; dir < SPEE_DIR_MAX; dir++)
		json_object_object_add(def, dir_label(dir),
				       json_object_new_string(action_label(cfg->default_action[dir])));
	json_object_object_add(root, "default", def);
	{
		struct json_object *ev = json_object_new_object();

		json_object_object_add(ev, "sent", json_object_new_uint64(s->events[SPEE_EV_SENT]));
		json_object_object_add(ev, "suppressed",
				       json_object_new_uint64(s->events[SPEE_EV_SUPPRESSED]));
		json_object_object_add(ev, "lost", json_object_new_uint64(s->events[SPEE_EV_LOST]));
		json_object_object_add(root, "events", ev);
	}
	if (!rows)
		return root;
	if (snapshot_is_gateway(s)) {
		gw_json(s, root, rules);
	} else {
		n = rule_rows(s, rows);
		for (size_t i = 0; i < n; i++)
			json_object_array_add(rules, rule_obj(NULL, &rows[i],
							      &s->rules[rows[i].slot][rows[i].dir]));
	}
	for (unsigned r = 0; r < SPEE_REASON_MAX; r++) {
		if (r == SPEE_REASON_RULE)
			continue;
		for (unsigned dir = 0; dir < SPEE_DIR_MAX; dir++) {
			struct json_object *o = counter_obj(dir_label(dir), &s->reasons[r][dir]);

			json_object_object_add(o, "reason", json_object_new_string(reason_label(r)));
			json_object_array_add(reason_is_drop(r) ? drops : passes, o);
		}
	}
	if (snapshot_is_gateway(s))
		gw_json_drops(s, drops);
	free(rows);
	return root;
}

/* One rule series; host (gateway mode) as a label of its own, or NULL. */
static void prom_rule(FILE *out, const char *what, const char *host, const struct rule_row *row,
		      const struct spee_counter *c, int bytes)
{
	fprintf(out, "speebpf_rule_%s_total{", what);
	if (host) {
		fputs("host=\"", out);
		prom_label_value(out, host);
		fputs("\",", out);
	}
	fputs("rule=\"", out);
	prom_label_value(out, row->m->id);
	fprintf(out, "\",direction=\"%s\",proto=\"%s\",port=\"%u\"} %llu\n", dir_label(row->dir),
		proto_label(row->m->proto), row->m->port_lo,
		(unsigned long long)(bytes ? c->bytes : c->packets));
}

/*
 * Gateway mode: each host's drops, in the family of the totals with a host
 * label (the series without one are the totals, drops of no host included).
 */
static void prom_gw_drops(FILE *out, const struct counter_snapshot *s, const char *what, int bytes)
{
	for (size_t h = 0; h < s->gw.n_hosts; h++)
		for (unsigned r = 0; r < SPEE_REASON_MAX; r++)
			for (unsigned dir = 0; reason_is_drop(r) && dir < SPEE_DIR_MAX; dir++) {
				struct spee_counter c = gw_drop(s, s->gw.hosts[h].index, r, dir);

				fprintf(out, "speebpf_drop_%s_total{host=\"", what);
				prom_label_value(out, s->gw.hosts[h].name);
				fprintf(out, "\",direction=\"%s\",reason=\"%s\"} %llu\n",
					dir_label(dir), reason_label(r),
					(unsigned long long)(bytes ? c.bytes : c.packets));
			}
}

void stats_render_prometheus(FILE *out, const struct counter_snapshot *s)
{
	struct rule_row *rows = calloc(SPEE_MAX_RULES * SPEE_DIR_MAX, sizeof(*rows));
	const struct spee_slot_cfg *cfg = snapshot_cfg(s);
	static const char *const what[2] = { "packets", "bytes" };
	struct gw_row *gw_rows = NULL;
	size_t n, n_gw = 0;

	if (!rows)
		return;
	n = snapshot_is_gateway(s) ? 0 : rule_rows(s, rows);
	gw_rows = snapshot_is_gateway(s) ? gw_rule_rows(s, &n_gw) : NULL;
	for (int w = 0; w < 2; w++) {
		fprintf(out, "# HELP speebpf_rule_%s_total %s of new connections (UDP: datagrams) "
			     "allowed by a rule.\n# TYPE speebpf_rule_%s_total counter\n",
			what[w], w ? "Bytes" : "Packets", what[w]);
		for (size_t i = 0; i < n; i++)
			prom_rule(out, what[w], NULL, &rows[i], &s->rules[rows[i].slot][rows[i].dir],
				  w);
		for (size_t i = 0; gw_rows && i < n_gw; i++)
			prom_rule(out, what[w], gw_rows[i].host->name, &gw_rows[i].r, gw_rows[i].c,
				  w);
	}
	for (int drops = 1; drops >= 0; drops--) {
		const char *kind = drops ? "drop" : "pass";

		for (int w = 0; w < 2; w++) {
			fprintf(out, "# HELP speebpf_%s_%s_total %s %s by reason (drops are "
				     "would-drops in audit mode).\n# TYPE speebpf_%s_%s_total counter\n",
				kind, what[w], w ? "Bytes" : "Packets",
				drops ? "dropped" : "passed without a rule", kind, what[w]);
			for (unsigned r = 0; r < SPEE_REASON_MAX; r++) {
				if (r == SPEE_REASON_RULE || reason_is_drop(r) != drops)
					continue;
				for (unsigned dir = 0; dir < SPEE_DIR_MAX; dir++)
					fprintf(out,
						"speebpf_%s_%s_total{direction=\"%s\",reason=\"%s\"} "
						"%llu\n",
						kind, what[w], dir_label(dir), reason_label(r),
						(unsigned long long)(w ? s->reasons[r][dir].bytes :
									 s->reasons[r][dir].packets));
			}
			if (drops)
				prom_gw_drops(out, s, what[w], w);
		}
	}
	fprintf(out, "# HELP speebpf_non_ip_packets_total Non-IP frames by ethertype class, passed "
		     "or dropped.\n# TYPE speebpf_non_ip_packets_total counter\n");
	for (unsigned c = 0; c < SPEE_L2_MAX; c++)
		for (unsigned pass = 0; pass < 2; pass++)
			for (unsigned dir = 0; dir < SPEE_DIR_MAX; dir++)
				fprintf(out,
					"speebpf_non_ip_packets_total{direction=\"%s\",class=\"%s\","
					"verdict=\"%s\"} %llu\n",
					dir_label(dir), l2_class_label(c), pass ? "pass" : "drop",
					(unsigned long long)s->l2[c][pass][dir].packets);
	fprintf(out, "# HELP speebpf_policy_generation Generation of the policy the kernel "
		     "enforces.\n# TYPE speebpf_policy_generation gauge\n"
		     "speebpf_policy_generation %u\n",
		cfg->generation);
	fprintf(out, "# HELP speebpf_drop_events_total Drop events: sent to the ring, held back by "
		     "the rate limit, lost to a full ring.\n# TYPE speebpf_drop_events_total counter\n"
		     "speebpf_drop_events_total{result=\"sent\"} %llu\n"
		     "speebpf_drop_events_total{result=\"suppressed\"} %llu\n"
		     "speebpf_drop_events_total{result=\"lost\"} %llu\n",
		(unsigned long long)s->events[SPEE_EV_SENT],
		(unsigned long long)s->events[SPEE_EV_SUPPRESSED],
		(unsigned long long)s->events[SPEE_EV_LOST]);
	fprintf(out, "# HELP speebpf_audit_mode 1 when the policy only counts (audit mode).\n"
		     "# TYPE speebpf_audit_mode gauge\nspeebpf_audit_mode %d\n",
		cfg->mode == SPEE_MODE_AUDIT);
	free(gw_rows);
	free(rows);
}
