// SPDX-License-Identifier: GPL-2.0-only
/*
 * The reference model, table-driven: for every rule of the matrix (and the
 * failsafe, DNS and loopback entries) an allowed peer and a refused one, on
 * the host and in the direction the rule is enforced; then specificity, ties,
 * DNS names, ranges, audit mode and default actions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "explain.h"
#include "labels.h"
#include "names.h"
#include "policy.h"

#define FIXTURES "tests/fixtures/policy/"

struct row {
	const char *fixture;
	const char *host;
	const char *dir;
	const char *proto; /* tcp, udp; icmp, icmpv6 (port: the type); ip (port: the protocol) */
	unsigned port;
	const char *peer;
	const char *verdict; /* "pass" or "drop" */
	const char *why; /* a rule id, or "(reason)" */
};

#define F FIXTURES "fleet.yaml"
#define S FIXTURES "site.yaml"
#define A FIXTURES "aio.yaml"
#define R "tests/fixtures/config/real-host.yaml" /* CONTRACT.md section 4 */

static const struct row rows[] = {
	/* icmp, icmpv6 and ip rules; baselines; host name targets */
	{ R, "cas1", "ingress", "icmp", 8, "198.18.9.5", "pass", "ping-from-adm" },
	{ R, "cas1", "ingress", "icmp", 8, "198.19.1.1", "drop", "(no-rule)" },
	{ R, "cas1", "ingress", "icmp", 13, "198.18.9.5", "drop", "(no-rule)" },
	{ R, "cas1", "ingress", "icmp", 3, "198.19.1.1", "pass", "(icmp)" },
	{ R, "cas1", "ingress", "icmpv6", 2, "fd00:5e::99", "pass", "(icmp)" },
	{ R, "cas1", "ingress", "icmpv6", 135, "fe80::1", "pass", "(nd)" },
	{ R, "cas1", "ingress", "icmpv6", 128, "fd00:5e::99", "drop", "(no-rule)" },
	{ R, "cas1", "egress", "icmp", 8, "198.19.1.1", "pass", "base-echo-out" },
	{ R, "cas1", "egress", "icmpv6", 128, "fd00:5e::99", "pass", "base-echo6-out" },
	{ R, "mgmt1", "egress", "icmpv6", 128, "fd00:5e::99", "pass", "ping6-out" },
	{ R, "cas1", "ingress", "ip", 112, "198.18.0.12", "pass", "vrrp" },
	{ R, "cas1", "egress", "ip", 112, "198.18.0.12", "pass", "vrrp" },
	{ R, "cas1", "ingress", "ip", 112, "198.18.0.21", "drop", "(no-rule)" },
	{ R, "cas1", "ingress", "ip", 50, "198.18.0.12", "drop", "(no-rule)" },
	{ R, "ih1", "ingress", "ip", 50, "198.18.0.21", "pass", "esp-to-ih" },
	{ R, "mgmt1", "ingress", "ip", 112, "198.18.0.12", "drop", "(no-rule)" },
	{ R, "ih1", "ingress", "tcp", 10000, "198.18.9.60", "pass", "backup-agent" },
	{ R, "cas1", "ingress", "tcp", 10000, "198.18.9.60", "drop", "(no-rule)" },
	{ R, "ih1", "egress", "udp", 123, "198.18.7.123", "pass", "base-ntp" },
	{ R, "ih1", "egress", "udp", 123, "198.18.7.124", "drop", "(no-rule)" },
	{ R, "ih1", "ingress", "tcp", 10250, "198.18.8.7", "pass", "base-kubelet" },
	{ R, "ih1", "ingress", "tcp", 10250, "198.18.9.5", "drop", "(no-rule)" },
	{ R, "ih1", "egress", "tcp", 6443, "198.18.8.1", "pass", "base-apiserver" },
	{ R, "ih1", "ingress", "udp", 8472, "198.18.0.11", "pass", "base-vxlan-linux" },
	{ R, "ih1", "ingress", "udp", 8472, "198.18.9.5", "drop", "(no-rule)" },
	{ R, "ih1", "ingress", "tcp", 9600, "198.18.9.50", "pass", "base-agent-metrics" },
	{ R, "ih1", "ingress", "tcp", 9600, "198.18.9.51", "drop", "(no-rule)" },
	/* MGMT: ingress */
	{ F, "mgmt1", "ingress", "tcp", 8470, "198.18.9.50", "pass", "mgmt-console" },
	{ F, "mgmt1", "ingress", "tcp", 8470, "198.19.1.1", "drop", "(no-rule)" },
	{ F, "mgmt1", "ingress", "tcp", 8471, "198.18.0.11", "pass", "mgmt-internal" },
	{ F, "mgmt1", "ingress", "tcp", 8471, "fd00:5e::21", "pass", "mgmt-internal" },
	{ F, "mgmt1", "ingress", "tcp", 8471, "198.18.9.50", "drop", "(no-rule)" },
	{ F, "mgmt1", "ingress", "tcp", 8474, "198.18.9.50", "pass", "mgmt-api" },
	{ F, "mgmt1", "ingress", "tcp", 8474, "198.18.0.21", "pass", "mgmt-pairing" },
	{ F, "mgmt1", "ingress", "tcp", 8474, "198.19.1.1", "drop", "(no-rule)" },
	{ F, "mgmt1", "ingress", "tcp", 22, "198.18.9.50", "pass", "failsafe-ssh" },
	{ F, "mgmt1", "ingress", "tcp", 22, "198.18.0.11", "drop", "(no-rule)" },
	{ F, "mgmt1", "ingress", "udp", 8471, "198.18.0.11", "drop", "(no-rule)" },
	/* MGMT: egress */
	{ F, "mgmt1", "egress", "tcp", 80, "198.19.2.80", "pass", "ca-revocation" },
	{ F, "mgmt1", "egress", "tcp", 81, "198.19.2.80", "drop", "(no-rule)" },
	{ F, "mgmt1", "egress", "tcp", 443, "198.19.2.100", "pass", "mgmt-license" },
	{ F, "mgmt1", "egress", "tcp", 443, "198.19.2.44", "drop", "(no-rule)" },
	{ F, "mgmt1", "egress", "tcp", 587, "198.19.2.25", "pass", "mgmt-smtp" },
	{ F, "mgmt1", "egress", "tcp", 587, "fd00:5e::2:25", "pass", "mgmt-smtp" },
	{ F, "mgmt1", "egress", "tcp", 25, "198.19.2.25", "drop", "(no-rule)" },
	{ F, "mgmt1", "egress", "tcp", 8472, "198.18.0.21", "pass", "ih-internal" },
	{ F, "mgmt1", "egress", "tcp", 8472, "198.18.0.11", "drop", "(no-rule)" },
	{ F, "mgmt1", "egress", "tcp", 8473, "198.18.0.11", "pass", "cas-internal" },
	{ F, "mgmt1", "egress", "tcp", 8473, "198.18.0.21", "drop", "(no-rule)" },
	{ F, "mgmt1", "egress", "udp", 53, "198.19.2.53", "pass", "(dns)" },
	{ F, "mgmt1", "egress", "tcp", 53, "198.19.2.53", "pass", "(dns)" },
	{ F, "mgmt1", "egress", "udp", 53, "198.19.2.54", "drop", "(no-rule)" },
	{ F, "mgmt1", "egress", "tcp", 8470, "198.18.0.10", "pass", "(loopback)" },
	{ F, "mgmt1", "egress", "tcp", 9999, "127.0.0.1", "pass", "(loopback)" },
	{ F, "mgmt1", "egress", "udp", 9999, "::1", "pass", "(loopback)" },
	/* CAS */
	{ F, "cas1", "ingress", "tcp", 143, "198.19.1.1", "pass", "cas-imap" },
	{ F, "cas1", "ingress", "tcp", 143, "fd00:5e::1:1", "pass", "cas-imap" },
	{ F, "cas1", "ingress", "tcp", 144, "198.19.1.1", "drop", "(no-rule)" },
	{ F, "cas1", "ingress", "tcp", 443, "198.19.1.1", "pass", "cas-https" },
	{ F, "cas1", "ingress", "udp", 443, "198.19.1.1", "drop", "(no-rule)" },
	{ F, "cas1", "ingress", "tcp", 993, "198.19.1.1", "pass", "cas-imaps" },
	{ F, "cas1", "ingress", "tcp", 995, "198.19.1.1", "drop", "(no-rule)" },
	{ F, "cas1", "ingress", "tcp", 8473, "198.18.0.10", "pass", "cas-internal" },
	{ F, "cas1", "ingress", "tcp", 8473, "198.18.0.21", "drop", "(no-rule)" },
	{ F, "cas1", "egress", "tcp", 8471, "198.18.0.10", "pass", "mgmt-internal" },
	{ F, "cas1", "egress", "tcp", 8471, "198.18.0.21", "drop", "(no-rule)" },
	{ F, "cas1", "egress", "tcp", 8472, "198.18.0.21", "pass", "ih-internal" },
	{ F, "cas1", "egress", "tcp", 8472, "198.18.0.10", "drop", "(no-rule)" },
	{ F, "cas1", "egress", "tcp", 8474, "fd00:5e::10", "pass", "mgmt-pairing" },
	{ F, "cas1", "egress", "tcp", 8474, "198.18.0.21", "drop", "(no-rule)" },
	{ F, "cas1", "egress", "tcp", 443, "198.19.2.100", "drop", "(no-rule)" },
	{ F, "cas1", "egress", "tcp", 80, "fd00:5e::2:80", "pass", "ca-revocation" },
	/* IH */
	{ F, "ih1", "ingress", "tcp", 8472, "198.18.0.11", "pass", "ih-internal" },
	{ F, "ih1", "ingress", "tcp", 8472, "fd00:5e::10", "pass", "ih-internal" },
	{ F, "ih1", "ingress", "tcp", 8472, "198.19.1.1", "drop", "(no-rule)" },
	{ F, "ih1", "ingress", "tcp", 143, "198.19.1.1", "drop", "(no-rule)" },
	{ F, "ih1", "egress", "tcp", 110, "198.19.2.25", "pass", "ih-pop3" },
	{ F, "ih1", "egress", "tcp", 143, "198.19.2.25", "pass", "ih-imap" },
	{ F, "ih1", "egress", "tcp", 389, "198.19.2.89", "pass", "ih-ldap" },
	{ F, "ih1", "egress", "tcp", 443, "198.19.2.44", "pass", "ih-ews" },
	{ F, "ih1", "egress", "tcp", 443, "198.19.2.45", "pass", "ih-ews" }, /* icewarp: indistinguishable */
	{ F, "ih1", "egress", "tcp", 443, "fd00:5e::2:44", "pass", "ih-ews" },
	{ F, "ih1", "egress", "tcp", 587, "198.19.2.25", "pass", "ih-smtp" },
	{ F, "ih1", "egress", "tcp", 636, "198.19.2.89", "pass", "ih-ldaps" },
	{ F, "ih1", "egress", "tcp", 993, "198.19.2.25", "pass", "ih-imaps" },
	{ F, "ih1", "egress", "tcp", 995, "198.19.2.25", "pass", "ih-pop3s" },
	{ F, "ih1", "egress", "tcp", 4040, "198.19.2.46", "pass", "ih-kerio" },
	{ F, "ih1", "egress", "tcp", 4041, "198.19.2.46", "drop", "(no-rule)" },
	{ F, "ih1", "egress", "tcp", 25, "198.19.2.25", "drop", "(no-rule)" },
	{ F, "ih1", "egress", "udp", 110, "198.19.2.25", "drop", "(no-rule)" },
	{ F, "ih1", "egress", "tcp", 8471, "198.18.0.10", "pass", "mgmt-internal" },
	{ F, "ih1", "egress", "tcp", 8474, "198.18.0.10", "pass", "mgmt-pairing" },
	{ F, "ih1", "egress", "tcp", 8473, "198.18.0.11", "drop", "(no-rule)" },
	/* overrides, narrowing (most specific wins), ranges, audit mode, default pass */
	{ S, "mgmt1", "ingress", "tcp", 9470, "198.18.9.50", "pass", "mgmt-console" },
	{ S, "mgmt1", "ingress", "tcp", 8470, "198.18.9.50", "pass", "(no-rule)" }, /* audit */
	{ S, "ih1", "egress", "tcp", 443, "198.19.2.45", "pass", "ih-icewarp" },
	{ S, "ih1", "egress", "tcp", 443, "198.19.2.47", "pass", "ih-icewarp" }, /* by DNS name */
	{ S, "ih1", "egress", "tcp", 443, "198.19.2.46", "pass", "ih-ews" },
	{ S, "ih1", "egress", "tcp", 4040, "198.19.2.46", "pass", "(no-rule)" }, /* disabled */
	{ S, "ih1", "egress", "tcp", 80, "198.19.2.80", "pass", "ca-revocation" },
	{ S, "ih1", "egress", "tcp", 80, "198.19.2.81", "pass", "(no-rule)" }, /* CA narrowed */
	{ S, "ih1", "egress", "udp", 514, "198.19.2.99", "pass", "syslog" },
	{ S, "ih1", "ingress", "tcp", 8000, "198.18.9.7", "pass", "app-range" },
	{ S, "ih1", "ingress", "tcp", 8075, "198.18.9.7", "pass", "app-range" },
	{ S, "ih1", "ingress", "tcp", 8150, "198.18.9.7", "pass", "app-wide" },
	{ S, "ih1", "ingress", "tcp", 8201, "198.18.9.7", "pass", "(no-rule)" },
	{ S, "ih1", "ingress", "tcp", 9100, "198.18.7.9", "pass", "node-exporter" },
	{ S, "ih1", "ingress", "tcp", 22, "198.18.9.50", "pass", "failsafe-ssh-mon" },
	{ S, "ih1", "ingress", "tcp", 22, "198.18.9.51", "pass", "(no-rule)" }, /* failsafe replaced */
	/* all in one: the more specific name beats the earlier ANY row; equal ones go to the earlier row */
	{ A, "aio", "egress", "tcp", 443, "198.19.2.100", "pass", "mgmt-license" },
	{ A, "aio", "egress", "tcp", 443, "198.19.2.44", "pass", "ih-ews" },
	{ A, "aio", "egress", "tcp", 587, "198.19.2.25", "pass", "mgmt-smtp" },
	{ A, "aio", "ingress", "tcp", 8471, "198.18.0.30", "pass", "mgmt-internal" },
	{ A, "aio", "ingress", "tcp", 8470, "fd00:5e::9ff", "pass", "mgmt-console" },
	{ A, "aio", "ingress", "tcp", 8470, "fd00:5e::a00", "drop", "(no-rule)" },
};

static void pin(struct name_table *t, const char *name, const char *addr)
{
	struct prefix p;

	assert_true(addr_parse(addr, &p));
	assert_int_equal(names_set(t, name, &p, 1, 60), 0);
}

static void check_row(const struct row *r)
{
	struct config *cfg;
	struct policy *p;
	struct diags d = { 0 };
	struct name_table names = { 0 };
	struct explain_query q = { 0 };
	struct explain_result res;
	char why[64];

	assert_int_equal(config_load(r->fixture, &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, r->host, NULL, &p, &d), 0);
	pin(&names, "my.mailstore.com", "198.19.2.100");
	pin(&names, "icewarp.example.net", "198.19.2.47");
	q.dir = (uint8_t)dir_from_label(r->dir);
	q.proto = (uint8_t)proto_from_label(r->proto);
	q.port = (uint16_t)r->port;
	if (!strcmp(r->proto, "icmp") || !strcmp(r->proto, "icmpv6")) {
		q.proto = !strcmp(r->proto, "icmp") ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	} else if (!strcmp(r->proto, "ip")) {
		q.proto = (uint8_t)r->port;
		q.port = 0;
	}
	assert_true(addr_parse(r->peer, &q.peer));
	explain_decide(p, &names, &q, &res);
	if (res.rule >= 0)
		snprintf(why, sizeof(why), "%s", p->rules[res.rule].id);
	else
		snprintf(why, sizeof(why), "(%s)", reason_label(res.reason));
	if (strcmp(why, r->why) || strcmp(res.pass ? "pass" : "drop", r->verdict))
		print_error("%s %s %s/%u %s: got %s %s, want %s %s\n", r->host, r->dir, r->proto,
			    r->port, r->peer, res.pass ? "pass" : "drop", why, r->verdict, r->why);
	assert_string_equal(why, r->why);
	assert_string_equal(res.pass ? "pass" : "drop", r->verdict);
	names_free(&names);
	policy_free(p);
	config_free(cfg);
	diags_free(&d);
}

static void every_row_gets_its_verdict(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_row(&rows[i]);
}

/* Every rule of the matrix (except the disabled-by-fixture ones) has an allowed row above. */
static void every_matrix_rule_has_an_allowed_row(void **state)
{
	static const char *const ids[] = {
		"ca-revocation", "ih-pop3",	"ih-imap",	 "cas-imap",	  "ih-ldap",
		"ih-ews",	 "ih-icewarp",	"cas-https",	 "mgmt-license",  "mgmt-smtp",
		"ih-smtp",	 "ih-ldaps",	"cas-imaps",	 "ih-imaps",	  "ih-pop3s",
		"ih-kerio",	 "mgmt-console", "mgmt-internal", "ih-internal",   "cas-internal",
		"mgmt-api",	 "mgmt-pairing", "failsafe-ssh",
	};

	(void)state;
	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		bool found = false;

		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) && !found; i++)
			found = !strcmp(rows[i].why, ids[k]) && !strcmp(rows[i].verdict, "pass");
		if (!found)
			print_error("no allowed row for %s\n", ids[k]);
		assert_true(found);
	}
}

static void an_unresolved_name_allows_nothing(void **state)
{
	struct config *cfg;
	struct policy *p;
	struct diags d = { 0 };
	struct explain_query q = { .dir = SPEE_DIR_EGRESS, .proto = IPPROTO_TCP, .port = 443 };
	struct explain_result res;

	(void)state;
	assert_int_equal(config_load(F, &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, "mgmt1", NULL, &p, &d), 0);
	assert_true(addr_parse("198.19.2.100", &q.peer));
	explain_decide(p, NULL, &q, &res);
	assert_false(res.pass);
	assert_int_equal(res.reason, SPEE_REASON_NO_RULE);
	policy_free(p);
	config_free(cfg);
	diags_free(&d);
}

/* Ingress judges packets addressed to the host; one through it passes as transit. */
static void a_packet_not_addressed_to_the_host_is_transit(void **state)
{
	struct config *cfg;
	struct policy *p;
	struct diags d = { 0 };
	struct explain_query q = { .dir = SPEE_DIR_INGRESS, .proto = IPPROTO_TCP, .port = 8470,
				   .transit = true };
	struct explain_result res;

	(void)state;
	assert_int_equal(config_load(F, &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, "mgmt1", NULL, &p, &d), 0);
	assert_true(addr_parse("198.19.1.1", &q.peer));
	explain_decide(p, NULL, &q, &res);
	assert_true(res.pass);
	assert_true(res.transit);
	assert_int_equal(res.rule, -1);
	/* the same packet addressed to the host is judged, and dropped */
	q.transit = false;
	explain_decide(p, NULL, &q, &res);
	assert_false(res.pass);
	assert_false(res.transit);
	assert_int_equal(res.reason, SPEE_REASON_NO_RULE);
	policy_free(p);
	config_free(cfg);
	diags_free(&d);
}

static void reason_labels_round_trip(void **state)
{
	(void)state;
	for (unsigned r = 0; r < SPEE_REASON_MAX; r++)
		assert_int_equal(reason_from_label(reason_label(r)), (int)r);
	for (unsigned d = 0; d < SPEE_DIR_MAX; d++)
		assert_int_equal(dir_from_label(dir_label(d)), (int)d);
	for (unsigned m = 0; m < SPEE_MODE_MAX; m++)
		assert_int_equal(mode_from_label(mode_label(m)), (int)m);
	for (unsigned a = 0; a < SPEE_ACTION_MAX; a++)
		assert_int_equal(action_from_label(action_label(a)), (int)a);
	assert_string_equal(reason_label(SPEE_REASON_NO_RULE), "no-rule");
	assert_string_equal(reason_label(SPEE_REASON_FRAGMENT), "fragment");
	assert_string_equal(reason_label(SPEE_REASON_MALFORMED), "malformed");
	assert_int_equal(reason_from_label("bogus"), -1);
}

/* What connect() and sendmsg() name, as the kernel's hooks judge it. */
static void socket_peers_are_judged_as_the_hooks_do(void **state)
{
	static const struct {
		const char *addr, *judged;
		bool itself;
	} cases[] = {
		{ "::ffff:198.18.0.11", "198.18.0.11", false },
		{ "::ffff:127.0.0.1", "127.0.0.1", true },
		{ "::ffff:0.0.0.0", "0.0.0.0", true },
		{ "0.0.0.0", "0.0.0.0", true },
		{ "::", "::", true },
		{ "::1", "::1", true },
		{ "127.3.4.5", "127.3.4.5", true },
		{ "fd00:5e::11", "fd00:5e::11", false },
		{ "198.18.0.11", "198.18.0.11", false },
	};
	char text[ADDR_TEXT_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prefix a;

		assert_true(addr_parse(cases[i].addr, &a));
		assert_int_equal(explain_socket_peer(&a), cases[i].itself);
		prefix_format(&a, text, sizeof(text));
		assert_string_equal(text, cases[i].judged);
	}
	assert_string_equal(reason_label(SPEE_REASON_SOURCE_ROUTE), "source-route");
	assert_string_equal(reason_label(SPEE_REASON_ETHERTYPE), "ethertype");
	assert_string_equal(reason_label(SPEE_REASON_REASSEMBLY), "reassembly");
	assert_true(reason_is_drop(SPEE_REASON_SOURCE_ROUTE) && reason_is_drop(SPEE_REASON_ETHERTYPE));
	assert_false(reason_is_drop(SPEE_REASON_REASSEMBLY) || reason_is_drop(SPEE_REASON_RULE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(socket_peers_are_judged_as_the_hooks_do),
		cmocka_unit_test(every_row_gets_its_verdict),
		cmocka_unit_test(every_matrix_rule_has_an_allowed_row),
		cmocka_unit_test(an_unresolved_name_allows_nothing),
		cmocka_unit_test(a_packet_not_addressed_to_the_host_is_transit),
		cmocka_unit_test(reason_labels_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
