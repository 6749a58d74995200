// SPDX-License-Identifier: GPL-2.0-only
/*
 * render/: what stats and events print, from a snapshot or an event made
 * here (no kernel). stats --json has the contract's shape (CONTRACT.md
 * section 3): every enforced rule once per direction, zeros included, and
 * every drop reason by name; the Prometheus names are the agent's; an event
 * line names its flow, its reason and the rule the port is open to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_text.h"
#include "stats.h"

static struct counter_snapshot *snapshot(void)
{
	struct counter_snapshot *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->rt.active = 1;
	s->rt.slot[1].generation = 4;
	s->rt.slot[1].mode = SPEE_MODE_ENFORCE;
	snprintf(s->inst.host, sizeof(s->inst.host), "mgmt1");
	/* slot 3: cas-https, ingress only; slot 7: syslog, both directions, a range */
	snprintf(s->meta[3].id, sizeof(s->meta[3].id), "cas-https");
	s->meta[3].proto = IPPROTO_TCP;
	s->meta[3].dirs = 1u << SPEE_DIR_INGRESS;
	s->meta[3].port_lo = s->meta[3].port_hi = 443;
	snprintf(s->meta[7].id, sizeof(s->meta[7].id), "syslog");
	s->meta[7].proto = IPPROTO_UDP;
	s->meta[7].dirs = (1u << SPEE_DIR_INGRESS) | (1u << SPEE_DIR_EGRESS);
	s->meta[7].port_lo = 514;
	s->meta[7].port_hi = 520;
	s->rules[3][SPEE_DIR_INGRESS] = (struct spee_counter){ 12, 1480 };
	s->reasons[SPEE_REASON_NO_RULE][SPEE_DIR_INGRESS] = (struct spee_counter){ 3, 180 };
	/* non-IP frames: PPPoE dropped coming in, LLDP passed going out */
	s->reasons[SPEE_REASON_ETHERTYPE][SPEE_DIR_INGRESS] = (struct spee_counter){ 5, 300 };
	s->l2[SPEE_L2_PPPOE][0][SPEE_DIR_INGRESS] = (struct spee_counter){ 5, 300 };
	s->l2[SPEE_L2_LLDP][1][SPEE_DIR_EGRESS] = (struct spee_counter){ 2, 120 };
	return s;
}

static struct json_object *find_rule(struct json_object *rules, const char *id, const char *dir)
{
	for (size_t i = 0; i < json_object_array_length(rules); i++) {
		struct json_object *r = json_object_array_get_idx(rules, i), *v;

		if (json_object_object_get_ex(r, "id", &v) &&
		    !strcmp(json_object_get_string(v), id) &&
		    json_object_object_get_ex(r, "direction", &v) &&
		    !strcmp(json_object_get_string(v), dir))
			return r;
	}
	return NULL;
}

static long long field(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_int64(v);
}

static void stats_json_has_every_rule_once_per_direction(void **state)
{
	struct counter_snapshot *s = snapshot();
	struct json_object *root = stats_json(s), *rules, *drops, *mode, *r;

	(void)state;
	assert_true(json_object_object_get_ex(root, "mode", &mode));
	assert_string_equal(json_object_get_string(mode), "enforce");
	assert_true(json_object_object_get_ex(root, "rules", &rules));
	assert_int_equal(json_object_array_length(rules), 3);
	r = find_rule(rules, "cas-https", "ingress");
	assert_non_null(r);
	assert_int_equal(field(r, "port"), 443);
	assert_int_equal(field(r, "packets"), 12);
	assert_int_equal(field(r, "bytes"), 1480);
	assert_null(find_rule(rules, "cas-https", "egress"));
	r = find_rule(rules, "syslog", "egress");
	assert_non_null(r);
	assert_int_equal(field(r, "packets"), 0); /* unused: there, with zeros */
	assert_int_equal(field(r, "port_end"), 520);
	assert_true(json_object_object_get_ex(root, "drops", &drops));
	/* every drop reason, both directions */
	assert_int_equal(json_object_array_length(drops),
			 __builtin_popcount(SPEE_REASON_DROPS) * SPEE_DIR_MAX);
	json_object_put(root);
	free(s);
}

/* Non-IP frames by ethertype class: every class, verdict and direction, zeros included. */
static void stats_json_breaks_non_ip_frames_down_by_class(void **state)
{
	struct counter_snapshot *s = snapshot();
	struct json_object *root = stats_json(s), *l2, *v;
	int found = 0;

	(void)state;
	assert_true(json_object_object_get_ex(root, "non_ip", &l2));
	assert_int_equal(json_object_array_length(l2), SPEE_L2_MAX * 2 * SPEE_DIR_MAX);
	for (size_t i = 0; i < json_object_array_length(l2); i++) {
		struct json_object *o = json_object_array_get_idx(l2, i);
		const char *cls, *dir;
		bool passed;

		assert_true(json_object_object_get_ex(o, "class", &v));
		cls = json_object_get_string(v);
		assert_true(json_object_object_get_ex(o, "direction", &v));
		dir = json_object_get_string(v);
		assert_true(json_object_object_get_ex(o, "passed", &v));
		passed = json_object_get_boolean(v);
		if (!strcmp(cls, "pppoe") && !passed && !strcmp(dir, "ingress")) {
			assert_int_equal(field(o, "packets"), 5);
			assert_int_equal(field(o, "bytes"), 300);
			found++;
		} else if (!strcmp(cls, "lldp") && passed && !strcmp(dir, "egress")) {
			assert_int_equal(field(o, "packets"), 2);
			found++;
		} else {
			assert_int_equal(field(o, "packets"), 0);
		}
	}
	assert_int_equal(found, 2);
	json_object_put(root);
	free(s);
}

static void stats_text_lists_the_classes_that_saw_frames(void **state)
{
	struct counter_snapshot *s = snapshot();
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	stats_render_text(out, s, NULL);
	fclose(out);
	assert_non_null(strstr(text, "NON-IP BY CLASS"));
	assert_non_null(strstr(text, "pppoe"));
	assert_non_null(strstr(text, "lldp"));
	assert_null(strstr(text, "mpls")); /* a class that saw nothing is left out */
	free(text);
	free(s);
}

static void prometheus_uses_the_agents_names(void **state)
{
	struct counter_snapshot *s = snapshot();
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	stats_render_prometheus(out, s);
	fclose(out);
	assert_non_null(strstr(text, "speebpf_rule_packets_total{rule=\"cas-https\",direction="
				     "\"ingress\",proto=\"tcp\",port=\"443\"} 12\n"));
	assert_non_null(strstr(text, "speebpf_drop_packets_total{direction=\"ingress\",reason="
				     "\"no-rule\"} 3\n"));
	assert_non_null(strstr(text, "speebpf_policy_generation 4\n"));
	assert_non_null(strstr(text, "speebpf_non_ip_packets_total{direction=\"ingress\","
				     "class=\"pppoe\",verdict=\"drop\"} 5\n"));
	assert_non_null(strstr(text, "speebpf_non_ip_packets_total{direction=\"egress\","
				     "class=\"lldp\",verdict=\"pass\"} 2\n"));
	free(text);
	free(s);
}

/* Host mode's JSON has no gateway keys: its output is the contract's, unchanged. */
static void stats_json_of_a_host_names_no_gateway_host(void **state)
{
	struct counter_snapshot *s = snapshot();
	struct json_object *root = stats_json(s), *rules, *drops, *v;

	(void)state;
	assert_false(json_object_object_get_ex(root, "gateway", &v));
	assert_false(json_object_object_get_ex(root, "hosts", &v));
	assert_true(json_object_object_get_ex(root, "rules", &rules));
	assert_true(json_object_object_get_ex(root, "drops", &drops));
	for (size_t i = 0; i < json_object_array_length(rules); i++)
		assert_false(json_object_object_get_ex(json_object_array_get_idx(rules, i), "host",
						       &v));
	for (size_t i = 0; i < json_object_array_length(drops); i++)
		assert_false(json_object_object_get_ex(json_object_array_get_idx(drops, i), "host",
						       &v));
	json_object_put(root);
	free(s);
}

/* A host name that needs escaping in a Prometheus label: a quote, a backslash, a newline. */
#define ODD_HOST "cas\"1\\x\n"

/*
 * A gateway's snapshot: the rules of snapshot() (slot 3 cas-https, ingress;
 * slot 7 syslog, both ways), counted per host as spee_gw_ctr holds them:
 * mgmt1 (index 1) enforces syslog egress, ODD_HOST (index 4) cas-https and
 * syslog ingress and dropped 4 packets coming in. Leftovers of an earlier
 * policy are there too, and are not shown: a counter of index 2 (no name
 * any more) and one of slot 5 (a rule enforced nowhere now).
 */
static struct counter_snapshot *gw_snapshot(void)
{
	struct counter_snapshot *s = snapshot();
	static const struct counter_gw_entry ctr[] = {
		{ { .host = 1, .rule = 5, .dir = SPEE_DIR_INGRESS, .reason = SPEE_REASON_RULE },
		  { 9, 900 } },
		{ { .host = 1, .rule = 7, .dir = SPEE_DIR_EGRESS, .reason = SPEE_REASON_RULE },
		  { 2, 200 } },
		{ { .host = 2, .rule = 3, .dir = SPEE_DIR_INGRESS, .reason = SPEE_REASON_RULE },
		  { 7, 700 } },
		{ { .host = 4, .rule = SPEE_RULE_NONE, .dir = SPEE_DIR_INGRESS,
		    .reason = SPEE_REASON_NO_RULE },
		  { 4, 240 } },
		{ { .host = 4, .rule = 3, .dir = SPEE_DIR_INGRESS, .reason = SPEE_REASON_RULE },
		  { 12, 1480 } },
		{ { .host = 4, .rule = 7, .dir = SPEE_DIR_INGRESS, .reason = SPEE_REASON_RULE },
		  { 0, 0 } },
	};

	s->inst.host[0] = '\0';
	s->gw.n_hosts = 2;
	s->gw.hosts = calloc(2, sizeof(*s->gw.hosts));
	assert_non_null(s->gw.hosts);
	s->gw.hosts[0].index = 1;
	snprintf(s->gw.hosts[0].name, sizeof(s->gw.hosts[0].name), "mgmt1");
	s->gw.hosts[1].index = 4;
	snprintf(s->gw.hosts[1].name, sizeof(s->gw.hosts[1].name), ODD_HOST);
	s->gw.n = sizeof(ctr) / sizeof(ctr[0]);
	s->gw.ctr = malloc(sizeof(ctr));
	assert_non_null(s->gw.ctr);
	memcpy(s->gw.ctr, ctr, sizeof(ctr));
	s->rules[3][SPEE_DIR_INGRESS] = (struct spee_counter){ 19, 2180 };
	s->reasons[SPEE_REASON_NO_RULE][SPEE_DIR_INGRESS] = (struct spee_counter){ 5, 300 };
	return s;
}

static void gw_snapshot_free(struct counter_snapshot *s)
{
	counters_release(s);
	free(s);
}

static const char *text_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static struct json_object *find_host_rule(struct json_object *rules, const char *host,
					  const char *id, const char *dir)
{
	struct json_object *found = NULL;

	for (size_t i = 0; i < json_object_array_length(rules); i++) {
		struct json_object *r = json_object_array_get_idx(rules, i);
		const char *h = text_of(r, "host");

		if (h && !strcmp(h, host) && !strcmp(text_of(r, "id"), id) &&
		    !strcmp(text_of(r, "direction"), dir)) {
			assert_null(found); /* once per (host, rule, direction) */
			found = r;
		}
	}
	return found;
}

static void stats_json_of_a_gateway_has_a_rule_entry_per_host(void **state)
{
	struct counter_snapshot *s = gw_snapshot();
	struct json_object *root = stats_json(s), *rules, *drops, *passes, *hosts, *v, *r;
	size_t per_host = 0;

	(void)state;
	assert_true(json_object_object_get_ex(root, "gateway", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(root, "hosts", &hosts));
	assert_int_equal(json_object_array_length(hosts), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(hosts, 0)), "mgmt1");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(hosts, 1)), ODD_HOST);
	assert_true(json_object_object_get_ex(root, "rules", &rules));
	/* every entry has a host; the leftovers (no name, no rule) are not there */
	assert_int_equal(json_object_array_length(rules), 3);
	for (size_t i = 0; i < json_object_array_length(rules); i++)
		assert_non_null(text_of(json_object_array_get_idx(rules, i), "host"));
	/* inventory order: mgmt1's first */
	assert_string_equal(text_of(json_object_array_get_idx(rules, 0), "host"), "mgmt1");
	r = find_host_rule(rules, "mgmt1", "syslog", "egress");
	assert_non_null(r);
	assert_int_equal(field(r, "packets"), 2);
	assert_int_equal(field(r, "port"), 514);
	assert_int_equal(field(r, "port_end"), 520);
	assert_string_equal(text_of(r, "proto"), "udp");
	r = find_host_rule(rules, ODD_HOST, "cas-https", "ingress");
	assert_non_null(r);
	assert_int_equal(field(r, "packets"), 12);
	assert_int_equal(field(r, "bytes"), 1480);
	r = find_host_rule(rules, ODD_HOST, "syslog", "ingress");
	assert_non_null(r);
	assert_int_equal(field(r, "packets"), 0); /* enforced, unused: there, with zeros */
	assert_null(find_host_rule(rules, "mgmt1", "cas-https", "ingress"));

	/* drops: the totals as in host mode, then each host's, every reason and direction */
	assert_true(json_object_object_get_ex(root, "drops", &drops));
	assert_int_equal(json_object_array_length(drops),
			 __builtin_popcount(SPEE_REASON_DROPS) * SPEE_DIR_MAX * (1 + 2));
	for (size_t i = 0; i < json_object_array_length(drops); i++) {
		struct json_object *d = json_object_array_get_idx(drops, i);
		const char *host = text_of(d, "host");
		bool no_rule_in = !strcmp(text_of(d, "reason"), "no-rule") &&
				  !strcmp(text_of(d, "direction"), "ingress");

		if (!host) { /* snapshot()'s: 3 no-rule and 5 ethertype; the gateway's 5 no-rule */
			bool ethertype_in = !strcmp(text_of(d, "reason"), "ethertype") &&
					    !strcmp(text_of(d, "direction"), "ingress");

			assert_int_equal(field(d, "packets"), no_rule_in || ethertype_in ? 5 : 0);
			continue;
		}
		per_host++;
		assert_int_equal(field(d, "packets"), no_rule_in && !strcmp(host, ODD_HOST) ? 4 : 0);
		assert_int_equal(field(d, "bytes"), no_rule_in && !strcmp(host, ODD_HOST) ? 240 : 0);
	}
	assert_int_equal(per_host, __builtin_popcount(SPEE_REASON_DROPS) * SPEE_DIR_MAX * 2);
	/* the reasons that have no host (transit, established...) stay as they are */
	assert_true(json_object_object_get_ex(root, "passes", &passes));
	for (size_t i = 0; i < json_object_array_length(passes); i++)
		assert_false(json_object_object_get_ex(json_object_array_get_idx(passes, i), "host",
						       &v));
	json_object_put(root);
	gw_snapshot_free(s);
}

static void stats_text_of_a_gateway_groups_by_host(void **state)
{
	struct counter_snapshot *s = gw_snapshot(), *prev = gw_snapshot();
	char *text = NULL, *mgmt, *cas, *all;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	prev->taken_ns = s->taken_ns;
	s->taken_ns += 2000000000ull; /* two seconds later: 12 - 2 packets of cas-https */
	prev->gw.ctr[4].c = (struct spee_counter){ 2, 280 };
	stats_render_text(out, s, prev);
	fclose(out);
	assert_non_null(strstr(text, "gateway for 2 hosts: mode enforce, policy generation 4"));
	mgmt = strstr(text, "\nhost mgmt1\n");
	cas = strstr(text, "\nhost " ODD_HOST "\n");
	all = strstr(text, "\nALL HOSTS");
	assert_non_null(mgmt);
	assert_non_null(cas);
	assert_non_null(all);
	assert_true(mgmt < cas && cas < all);
	/* mgmt1's part has its rule and no drops; the other's its rules, drops and rates */
	assert_non_null(strstr(mgmt, "syslog             egress   udp/514-520               2"));
	assert_null(memmem(mgmt, (size_t)(cas - mgmt), "DROPPED", 7));
	assert_non_null(strstr(cas, "cas-https          ingress  tcp/443                  12"
				    "           1480        5.0        600.0\n"));
	assert_non_null(strstr(cas, "syslog             ingress  udp/514-520               0"));
	assert_true(strstr(cas, "DROPPED") < all);
	assert_non_null(strstr(cas, "ingress  no-rule                   4            240"));
	/* the totals after the hosts */
	assert_non_null(strstr(all, "ingress  no-rule                   5            300"));
	free(text);
	gw_snapshot_free(s);
	gw_snapshot_free(prev);
}

static void prometheus_of_a_gateway_has_a_host_label(void **state)
{
	struct counter_snapshot *s = gw_snapshot();
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	stats_render_prometheus(out, s);
	fclose(out);
	assert_non_null(strstr(text, "speebpf_rule_packets_total{host=\"mgmt1\",rule=\"syslog\","
				     "direction=\"egress\",proto=\"udp\",port=\"514\"} 2\n"));
	/* the name escaped: quote, backslash, newline */
	assert_non_null(strstr(text, "speebpf_rule_bytes_total{host=\"cas\\\"1\\\\x\\n\","
				     "rule=\"cas-https\",direction=\"ingress\",proto=\"tcp\","
				     "port=\"443\"} 1480\n"));
	/* the rules' series all carry a host: the fleet-wide ones would count everything twice */
	assert_null(strstr(text, "speebpf_rule_packets_total{rule="));
	assert_null(strstr(text, "rule=\"cas-https\",direction=\"ingress\",proto=\"tcp\","
				 "port=\"443\"} 19\n"));
	/* drops: the totals without host, each host's with one */
	assert_non_null(strstr(text, "speebpf_drop_packets_total{direction=\"ingress\",reason="
				     "\"no-rule\"} 5\n"));
	assert_non_null(strstr(text, "speebpf_drop_packets_total{host=\"cas\\\"1\\\\x\\n\","
				     "direction=\"ingress\",reason=\"no-rule\"} 4\n"));
	assert_non_null(strstr(text, "speebpf_drop_bytes_total{host=\"mgmt1\",direction=\"egress\","
				     "reason=\"no-rule\"} 0\n"));
	/* one HELP and TYPE a family */
	assert_non_null(strstr(text, "# TYPE speebpf_drop_packets_total counter\n"));
	assert_null(strstr(strstr(text, "# TYPE speebpf_drop_packets_total counter\n") + 1,
			   "# TYPE speebpf_drop_packets_total counter\n"));
	/* pass reasons have no host */
	assert_null(strstr(text, "speebpf_pass_packets_total{host="));
	free(text);
	gw_snapshot_free(s);
}

static void an_event_line_names_the_flow_the_reason_and_the_open_rule(void **state)
{
	struct counter_snapshot *s = snapshot();
	struct spee_event e = {
		.time_ns = 1000000000ull,
		.dir = SPEE_DIR_INGRESS,
		.reason = SPEE_REASON_NO_RULE,
		.family = SPEE_FAMILY_V4,
		.proto = IPPROTO_TCP,
		.tcp_flags = 0x02, /* SYN */
		.sport = htons(40280),
		.dport = htons(443),
	};
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	inet_pton(AF_INET, "198.19.1.1", e.saddr);
	inet_pton(AF_INET, "198.18.0.11", e.daddr);
	/* 1 s of monotonic time plus this offset: 2026-11-28T22:18:17.525Z */
	event_print(out, false, &e, s->meta, 1795904296525000000ll);
	e.connect = 1;
	e.proto = IPPROTO_TCP;
	e.dir = SPEE_DIR_EGRESS;
	e.dport = htons(993);
	event_print(out, true, &e, s->meta, 1795904296525000000ll);
	/* an unconnected UDP send refused where the socket names its destination */
	e.connect = SPEE_EV_SENDMSG;
	e.proto = IPPROTO_UDP;
	e.dport = htons(53);
	event_print(out, false, &e, s->meta, 1795904296525000000ll);
	event_print(out, true, &e, s->meta, 1795904296525000000ll);
	fclose(out);
	assert_non_null(strstr(text, "2026-11-28T22:18:17.525Z ingress - tcp 198.19.1.1:40280 -> "
				     "198.18.0.11:443 [S] no-rule; the port is open to the peers "
				     "of cas-https\n"));
	assert_non_null(strstr(text, "\"direction\":\"egress\""));
	assert_non_null(strstr(text, "\"src\":null"));
	assert_non_null(strstr(text, "\"connect\":true"));
	assert_non_null(strstr(text, " egress sendmsg() udp 198.18.0.11:53 no-rule\n"));
	assert_non_null(strstr(text, "\"connect\":false,\"sendmsg\":true"));
	assert_non_null(strstr(text, "\"would_allow\":null"));
	free(text);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stats_json_has_every_rule_once_per_direction),
		cmocka_unit_test(stats_json_breaks_non_ip_frames_down_by_class),
		cmocka_unit_test(stats_text_lists_the_classes_that_saw_frames),
		cmocka_unit_test(prometheus_uses_the_agents_names),
		cmocka_unit_test(stats_json_of_a_host_names_no_gateway_host),
		cmocka_unit_test(stats_json_of_a_gateway_has_a_rule_entry_per_host),
		cmocka_unit_test(stats_text_of_a_gateway_groups_by_host),
		cmocka_unit_test(prometheus_of_a_gateway_has_a_host_label),
		cmocka_unit_test(an_event_line_names_the_flow_the_reason_and_the_open_rule),
	};

	return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
