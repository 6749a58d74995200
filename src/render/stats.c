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
	fprintf(out, "host %s: mode %s, policy generation %u, applied %s\n",
		s->inst.host[0] ? s->inst.host : "?", mode_label(cfg->mode), cfg->generation,
		when);
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
	n = rule_rows(s, rows);
	fprintf(out, "\n%-18s %-8s %-14s %12s %14s", "RULE", "DIR", "PORT", "PACKETS", "BYTES");
	fprintf(out, prev ? " %10s %12s\n" : "\n", "PKT/S", "BYTES/S");
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
	n = rule_rows(s, rows);
	for (size_t i = 0; i < n; i++) {
		const struct spee_counter *c = &s->rules[rows[i].slot][rows[i].dir];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_string(rows[i].m->id));
		json_object_object_add(o, "direction",
				       json_object_new_string(dir_label(rows[i].dir)));
		json_object_object_add(o, "proto",
				       json_object_new_string(proto_label(rows[i].m->proto)));
		json_object_object_add(o, "port", json_object_new_int(rows[i].m->port_lo));
		if (rows[i].m->port_hi != rows[i].m->port_lo)
			json_object_object_add(o, "port_end",
					       json_object_new_int(rows[i].m->port_hi));
		json_object_object_add(o, "packets", json_object_new_uint64(c->packets));
		json_object_object_add(o, "bytes", json_object_new_uint64(c->bytes));
		json_object_array_add(rules, o);
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
	free(rows);
	return root;
}

void stats_render_prometheus(FILE *out, const struct counter_snapshot *s)
{
	struct rule_row *rows = calloc(SPEE_MAX_RULES * SPEE_DIR_MAX, sizeof(*rows));
	const struct spee_slot_cfg *cfg = snapshot_cfg(s);
	static const char *const what[2] = { "packets", "bytes" };
	size_t n;

	if (!rows)
		return;
	n = rule_rows(s, rows);
	for (int w = 0; w < 2; w++) {
		fprintf(out, "# HELP speebpf_rule_%s_total %s of new connections (UDP: datagrams) "
			     "allowed by a rule.\n# TYPE speebpf_rule_%s_total counter\n",
			what[w], w ? "Bytes" : "Packets", what[w]);
		for (size_t i = 0; i < n; i++) {
			const struct spee_counter *c = &s->rules[rows[i].slot][rows[i].dir];

			fprintf(out, "speebpf_rule_%s_total{rule=\"", what[w]);
			prom_label_value(out, rows[i].m->id);
			fprintf(out, "\",direction=\"%s\",proto=\"%s\",port=\"%u\"} %llu\n",
				dir_label(rows[i].dir), proto_label(rows[i].m->proto),
				rows[i].m->port_lo,
				(unsigned long long)(w ? c->bytes : c->packets));
		}
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
	free(rows);
}
