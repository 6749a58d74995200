// SPDX-License-Identifier: GPL-2.0-only
/*
 * The gateway's reference model (explain_gw.c), table-driven over the seed:
 * ingress of each inventory host from ADM and the internet, egress to the
 * internet, the CA and my.mailstore.com, east-west between MGMT, CAS and
 * IH in both directions, allowed and refused on either side (a refusal of
 * the source's egress rules leaves the destination unasked), transit, and
 * audit mode.
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
#include "explain_gw.h"
#include "labels.h"
#include "names.h"
#include "policy.h"

#define F "tests/fixtures/policy/fleet.yaml" /* mgmt1 .10, cas1 .11, ih1 .21; ADM 198.18.9.0/24 */
#define S "tests/fixtures/policy/site.yaml" /* audit; egress default pass; mgmt-pairing disabled */

struct row {
	const char *fixture;
	const char *from, *to;
	const char *proto; /* tcp, udp */
	unsigned port;
	const char *verdict;
	/* each side asked, "HOST DIR RULE" or "HOST DIR (reason)", "; " between; "+ unasked" */
	const char *sides;
};

static const struct row rows[] = {
	/* ingress of an inventory host, from ADM and the internet */
	{ F, "198.18.9.50", "198.18.0.10", "tcp", 8470, "pass", "mgmt1 ingress mgmt-console" },
	{ F, "198.18.9.50", "198.18.0.10", "tcp", 8474, "pass", "mgmt1 ingress mgmt-api" },
	{ F, "198.18.9.50", "198.18.0.10", "tcp", 22, "pass", "mgmt1 ingress failsafe-ssh" },
	{ F, "198.19.1.1", "198.18.0.10", "tcp", 8470, "drop", "mgmt1 ingress (no-rule)" },
	{ F, "198.19.1.1", "198.18.0.10", "tcp", 22, "drop", "mgmt1 ingress (no-rule)" },
	{ F, "198.19.1.1", "198.18.0.11", "tcp", 443, "pass", "cas1 ingress cas-https" },
	{ F, "198.19.1.1", "198.18.0.11", "tcp", 143, "pass", "cas1 ingress cas-imap" },
	{ F, "198.19.1.1", "198.18.0.11", "tcp", 993, "pass", "cas1 ingress cas-imaps" },
	{ F, "198.19.1.1", "198.18.0.11", "udp", 443, "drop", "cas1 ingress (no-rule)" },
	{ F, "198.19.1.1", "198.18.0.21", "tcp", 8472, "drop", "ih1 ingress (no-rule)" },
	{ F, "198.19.1.1", "198.18.0.21", "tcp", 143, "drop", "ih1 ingress (no-rule)" },
	{ F, "fd00:5e::1:1", "fd00:5e::21", "tcp", 8472, "drop", "ih1 ingress (no-rule)" },
	/* egress to the internet, the CA (any in this fleet) and my.mailstore.com */
	{ F, "198.18.0.10", "198.19.2.100", "tcp", 443, "pass", "mgmt1 egress mgmt-license" },
	{ F, "198.18.0.10", "198.19.2.44", "tcp", 443, "drop", "mgmt1 egress (no-rule)" },
	{ F, "198.18.0.10", "198.19.2.80", "tcp", 80, "pass", "mgmt1 egress ca-revocation" },
	{ F, "198.18.0.10", "198.19.2.25", "tcp", 587, "pass", "mgmt1 egress mgmt-smtp" },
	{ F, "198.18.0.10", "198.19.2.25", "tcp", 25, "drop", "mgmt1 egress (no-rule)" },
	{ F, "198.18.0.10", "198.19.2.53", "udp", 53, "pass", "mgmt1 egress (dns)" },
	{ F, "198.18.0.11", "198.19.2.100", "tcp", 443, "drop", "cas1 egress (no-rule)" },
	{ F, "198.18.0.11", "198.19.2.80", "tcp", 80, "pass", "cas1 egress ca-revocation" },
	{ F, "198.18.0.21", "198.19.2.25", "tcp", 110, "pass", "ih1 egress ih-pop3" },
	{ F, "198.18.0.21", "198.19.2.25", "tcp", 143, "pass", "ih1 egress ih-imap" },
	{ F, "198.18.0.21", "198.19.2.89", "tcp", 389, "pass", "ih1 egress ih-ldap" },
	{ F, "198.18.0.21", "198.19.2.44", "tcp", 443, "pass", "ih1 egress ih-ews" },
	{ F, "fd00:5e::21", "fd00:5e::2:44", "tcp", 443, "pass", "ih1 egress ih-ews" },
	{ F, "198.18.0.21", "198.19.2.25", "tcp", 587, "pass", "ih1 egress ih-smtp" },
	{ F, "198.18.0.21", "198.19.2.89", "tcp", 636, "pass", "ih1 egress ih-ldaps" },
	{ F, "198.18.0.21", "198.19.2.25", "tcp", 993, "pass", "ih1 egress ih-imaps" },
	{ F, "198.18.0.21", "198.19.2.25", "tcp", 995, "pass", "ih1 egress ih-pop3s" },
	{ F, "198.18.0.21", "198.19.2.46", "tcp", 4040, "pass", "ih1 egress ih-kerio" },
	{ F, "198.18.0.21", "198.19.2.25", "tcp", 25, "drop", "ih1 egress (no-rule)" },
	{ F, "198.18.0.21", "198.19.2.100", "tcp", 80, "pass", "ih1 egress ca-revocation" },
	/* east-west, allowed at both ends */
	{ F, "198.18.0.11", "198.18.0.10", "tcp", 8471, "pass",
	  "cas1 egress mgmt-internal; mgmt1 ingress mgmt-internal" },
	{ F, "198.18.0.21", "198.18.0.10", "tcp", 8471, "pass",
	  "ih1 egress mgmt-internal; mgmt1 ingress mgmt-internal" },
	{ F, "fd00:5e::21", "fd00:5e::10", "tcp", 8471, "pass",
	  "ih1 egress mgmt-internal; mgmt1 ingress mgmt-internal" },
	{ F, "198.18.0.11", "198.18.0.10", "tcp", 8474, "pass",
	  "cas1 egress mgmt-pairing; mgmt1 ingress mgmt-pairing" },
	{ F, "198.18.0.21", "198.18.0.10", "tcp", 8474, "pass",
	  "ih1 egress mgmt-pairing; mgmt1 ingress mgmt-pairing" },
	{ F, "198.18.0.10", "198.18.0.21", "tcp", 8472, "pass",
	  "mgmt1 egress ih-internal; ih1 ingress ih-internal" },
	{ F, "198.18.0.11", "198.18.0.21", "tcp", 8472, "pass",
	  "cas1 egress ih-internal; ih1 ingress ih-internal" },
	{ F, "198.18.0.10", "198.18.0.11", "tcp", 8473, "pass",
	  "mgmt1 egress cas-internal; cas1 ingress cas-internal" },
	/* an IH's client traffic to a CAS: its 143 to ANY, the CAS's 143 from ANY */
	{ F, "198.18.0.21", "198.18.0.11", "tcp", 143, "pass",
	  "ih1 egress ih-imap; cas1 ingress cas-imap" },
	/* east-west, refused by the source's egress rules: the destination is not asked */
	{ F, "198.18.0.11", "198.18.0.10", "tcp", 8470, "drop", "cas1 egress (no-rule) + unasked" },
	{ F, "198.18.0.21", "198.18.0.11", "tcp", 8473, "drop", "ih1 egress (no-rule) + unasked" },
	{ F, "198.18.0.10", "198.18.0.10", "tcp", 9999, "drop", "mgmt1 egress (no-rule) + unasked" },
	{ F, "198.18.0.11", "198.18.0.21", "tcp", 8473, "drop", "cas1 egress (no-rule) + unasked" },
	/* east-west, allowed out by the source and refused in by the destination */
	{ F, "198.18.0.21", "198.18.0.10", "tcp", 443, "drop",
	  "ih1 egress ih-ews; mgmt1 ingress (no-rule)" },
	{ F, "198.18.0.10", "198.18.0.11", "tcp", 587, "drop",
	  "mgmt1 egress mgmt-smtp; cas1 ingress (no-rule)" },
	{ F, "198.18.0.10", "198.18.0.21", "tcp", 80, "drop",
	  "mgmt1 egress ca-revocation; ih1 ingress (no-rule)" },
	/* neither end an inventory host's: transit */
	{ F, "198.18.9.50", "198.18.9.51", "tcp", 8470, "pass", "(transit)" },
	{ F, "198.19.1.1", "198.19.2.25", "tcp", 25, "pass", "(transit)" },
	{ F, "fd00:5e::1:1", "fd00:5e::2:25", "udp", 53, "pass", "(transit)" },
	/*
	 * S: audit mode, egress default pass. What no egress rule allows passes
	 * out (no refusal: the destination is asked); a refusal is counted and
	 * passes.
	 */
	{ S, "198.18.0.21", "198.18.0.10", "tcp", 8474, "pass",
	  "ih1 egress (no-rule); mgmt1 ingress (no-rule)" },
	{ S, "198.19.1.1", "198.18.0.10", "tcp", 9470, "pass", "mgmt1 ingress (no-rule)" },
	{ S, "198.18.9.5", "198.18.0.10", "tcp", 9470, "pass", "mgmt1 ingress mgmt-console" },
};

static void pin(struct name_table *t, const char *name, const char *addr)
{
	struct prefix p;

	assert_true(addr_parse(addr, &p));
	assert_int_equal(names_set(t, name, &p, 1, 60), 0);
}

static void sides_text(const struct explain_gw_result *r, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (r->transit) {
		snprintf(buf, len, "(transit)");
		return;
	}
	for (size_t i = 0; i < r->n_sides; i++) {
		const struct explain_gw_side *s = &r->side[i];

		if (s->res.rule >= 0)
			n += (size_t)snprintf(buf + n, len - n, "%s%s %s %s", i ? "; " : "",
					      s->p->host->name, dir_label(s->dir),
					      s->p->rules[s->res.rule].id);
		else
			n += (size_t)snprintf(buf + n, len - n, "%s%s %s (%s)", i ? "; " : "",
					      s->p->host->name, dir_label(s->dir),
					      reason_label(s->res.reason));
	}
	if (r->skipped)
		snprintf(buf + n, len - n, " + unasked");
}

static void check_row(const struct row *row)
{
	struct config *cfg;
	struct policy *p[2] = { NULL, NULL };
	struct diags d = { 0 };
	struct name_table names = { 0 };
	struct prefix from, to;
	const struct cfg_host *h[2];
	struct explain_gw_result r;
	char got[256];

	assert_int_equal(config_load(row->fixture, &cfg, &d), 0);
	pin(&names, "my.mailstore.com", "198.19.2.100");
	pin(&names, "icewarp.example.net", "198.19.2.47");
	assert_true(addr_parse(row->from, &from));
	assert_true(addr_parse(row->to, &to));
	h[0] = explain_gw_host_of(cfg, &from);
	h[1] = explain_gw_host_of(cfg, &to);
	for (int i = 0; i < 2; i++)
		if (h[i])
			assert_int_equal(explain_gw_compile(cfg, h[i], NULL, &p[i], &d), 0);
	explain_gw_decide(p[0], p[1], &names, (uint8_t)proto_from_label(row->proto),
			  (uint16_t)row->port, &from, &to, &r);
	sides_text(&r, got, sizeof(got));
	if (strcmp(got, row->sides) || strcmp(r.pass ? "pass" : "drop", row->verdict))
		print_error("%s -> %s %s/%u: got %s [%s], want %s [%s]\n", row->from, row->to,
			    row->proto, row->port, r.pass ? "pass" : "drop", got, row->verdict,
			    row->sides);
	assert_string_equal(got, row->sides);
	assert_string_equal(r.pass ? "pass" : "drop", row->verdict);
	/* the combined reason is the refusing side's, else the last side's */
	if (r.transit)
		assert_int_equal(r.reason, SPEE_REASON_TRANSIT);
	else
		assert_int_equal(r.reason,
				 r.side[r.refused_by >= 0 ? r.refused_by : (int)r.n_sides - 1]
					 .res.reason);
	names_free(&names);
	policy_free(p[0]);
	policy_free(p[1]);
	config_free(cfg);
	diags_free(&d);
}

static void every_row_gets_its_verdict(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_row(&rows[i]);
}

/* Each side is host mode's verdict for that host, so that the gateway and a host agree. */
static void each_side_is_the_hosts_own_verdict(void **state)
{
	struct config *cfg;
	struct policy *gw, *host;
	struct diags d = { 0 };
	struct name_table names = { 0 };
	struct explain_result want;
	struct explain_gw_result r;
	struct prefix from, to;

	(void)state;
	assert_int_equal(config_load(F, &cfg, &d), 0);
	assert_int_equal(explain_gw_compile(cfg, config_find_host(cfg, "ih1"), NULL, &gw, &d), 0);
	assert_int_equal(policy_compile(cfg, "ih1", NULL, &host, &d), 0);
	pin(&names, "my.mailstore.com", "198.19.2.100");
	for (unsigned port = 1; port < 10000; port += 7) {
		struct explain_query q = { .dir = SPEE_DIR_EGRESS, .proto = IPPROTO_TCP,
					   .port = (uint16_t)port };

		assert_true(addr_parse("198.19.2.25", &q.peer));
		assert_true(addr_parse("198.18.0.21", &from));
		to = q.peer;
		explain_decide(host, &names, &q, &want);
		explain_gw_decide(gw, NULL, &names, IPPROTO_TCP, (uint16_t)port, &from, &to, &r);
		assert_int_equal(r.n_sides, 1);
		assert_int_equal(r.side[0].res.reason, want.reason);
		assert_int_equal(r.side[0].res.rule, want.rule);
		assert_int_equal(r.pass, want.pass);
	}
	names_free(&names);
	policy_free(gw);
	policy_free(host);
	config_free(cfg);
	diags_free(&d);
}

/* An address is an inventory host's when it is one of its addresses, not in a network of it. */
static void an_inventory_host_is_found_by_its_addresses(void **state)
{
	struct config *cfg;
	struct diags d = { 0 };
	struct prefix a;

	(void)state;
	assert_int_equal(config_load(F, &cfg, &d), 0);
	assert_true(addr_parse("fd00:5e::10", &a));
	assert_string_equal(explain_gw_host_of(cfg, &a)->name, "mgmt1");
	assert_true(addr_parse("198.18.0.21", &a));
	assert_string_equal(explain_gw_host_of(cfg, &a)->name, "ih1");
	assert_true(addr_parse("198.18.0.12", &a));
	assert_null(explain_gw_host_of(cfg, &a));
	assert_true(addr_parse("198.18.9.50", &a)); /* ADM: a network, no host */
	assert_null(explain_gw_host_of(cfg, &a));
	config_free(cfg);
	diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_row_gets_its_verdict),
		cmocka_unit_test(each_side_is_the_hosts_own_verdict),
		cmocka_unit_test(an_inventory_host_is_found_by_its_addresses),
	};

	return cmocka_run_group_tests_name("explain_gw", tests, NULL, NULL);
}
