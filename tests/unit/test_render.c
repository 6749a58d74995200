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
		cmocka_unit_test(an_event_line_names_the_flow_the_reason_and_the_open_rule),
	};

	return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
