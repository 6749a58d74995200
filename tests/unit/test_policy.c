// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy compiler: the exact entries of every seed row on an MGMT, a CAS,
 * an IH and an all-in-one host, in both directions, and what the config's
 * overrides, narrowing, site rules and failsafe rules do to them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "labels.h"
#include "explain.h"
#include "policy.h"

#define FIXTURES "tests/fixtures/policy/"

struct compiled {
	struct config *cfg;
	struct policy *p;
	char **lines;
	size_t n;
};

/* "ingress tcp 8471 198.18.0.11 mgmt-internal": one line per entry, in compiled order. */
static void render(struct compiled *c)
{
	const struct policy *p = c->p;

	c->lines = calloc(p->n_entries + 1, sizeof(*c->lines));
	assert_non_null(c->lines);
	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];
		char peer[ADDR_TEXT_LEN + 256], port[16], who[64];
		const char *proto = e->proto == SPEE_PROTO_LOCAL ? "local" : proto_label(e->proto);

		if (e->peer_kind == ENTRY_PEER_NAME)
			snprintf(peer, sizeof(peer), "%s", e->name);
		else
			prefix_format(&e->prefix, peer, sizeof(peer));
		if (e->port_lo == e->port_hi)
			snprintf(port, sizeof(port), "%u", e->port_lo);
		else
			snprintf(port, sizeof(port), "%u-%u", e->port_lo, e->port_hi);
		if (e->reason == SPEE_REASON_RULE)
			snprintf(who, sizeof(who), "%s", p->rules[e->rule].id);
		else
			snprintf(who, sizeof(who), "(%s)", reason_label(e->reason));
		assert_true(asprintf(&c->lines[i], "%s %s %s %s %s", dir_label(e->dir), proto, port,
				     peer, who) > 0);
	}
	c->n = p->n_entries;
}

static void compile(struct compiled *c, const char *fixture, const char *host)
{
	struct diags d = { 0 };
	int err;

	memset(c, 0, sizeof(*c));
	err = config_load(fixture, &c->cfg, &d);
	if (err)
		diags_print(stderr, &d);
	assert_int_equal(err, 0);
	err = policy_compile(c->cfg, host, NULL, &c->p, &d);
	if (err)
		diags_print(stderr, &d);
	assert_int_equal(err, 0);
	diags_free(&d);
	render(c);
}

static void release(struct compiled *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->lines[i]);
	free(c->lines);
	policy_free(c->p);
	config_free(c->cfg);
}

static void expect_lines(const struct compiled *c, const char *const *want, size_t n_want)
{
	for (size_t i = 0; i < c->n || i < n_want; i++) {
		const char *got = i < c->n ? c->lines[i] : "(none)";
		const char *exp = i < n_want ? want[i] : "(none)";

		if (strcmp(got, exp))
			print_error("entry %zu: got '%s', want '%s'\n", i, got, exp);
		assert_string_equal(got, exp);
	}
}

#define EXPECT(c, ...)                                                                             \
	do {                                                                                       \
		static const char *const want_[] = { __VA_ARGS__ };                                \
		expect_lines(c, want_, sizeof(want_) / sizeof(want_[0]));                          \
	} while (0)

static bool has_note(const struct policy *p, enum note_kind kind, const char *rule,
		     const char *other)
{
	for (size_t i = 0; i < p->n_notes; i++)
		if (p->notes[i].kind == kind && p->notes[i].rule &&
		    !strcmp(p->notes[i].rule, rule) &&
		    (!other || (p->notes[i].other && !strcmp(p->notes[i].other, other))))
			return true;
	return false;
}

static uint8_t dirs_of(const struct policy *p, const char *id)
{
	int r = policy_find_rule(p, id);

	return r < 0 ? 0xff : p->rules[r].dirs;
}

#define IN (1u << SPEE_DIR_INGRESS)
#define OUT (1u << SPEE_DIR_EGRESS)

static void mgmt_host_gets_the_mgmt_rows(void **state)
{
	struct compiled c;

	(void)state;
	compile(&c, FIXTURES "fleet.yaml", "mgmt1");
	EXPECT(&c,
	       "ingress tcp 8470 198.18.9.0/24 mgmt-console",
	       "ingress tcp 8471 198.18.0.11 mgmt-internal",
	       "ingress tcp 8471 198.18.0.21 mgmt-internal",
	       "ingress tcp 8471 fd00:5e::21 mgmt-internal",
	       "ingress tcp 8474 198.18.9.0/24 mgmt-api",
	       "ingress tcp 8474 198.18.0.11 mgmt-pairing",
	       "ingress tcp 8474 198.18.0.21 mgmt-pairing",
	       "ingress tcp 8474 fd00:5e::21 mgmt-pairing",
	       "ingress tcp 22 198.18.9.0/24 failsafe-ssh",
	       "ingress local 0 198.18.0.10 (loopback)",
	       "ingress local 0 fd00:5e::10 (loopback)",
	       "egress tcp 80 0.0.0.0/0 ca-revocation",
	       "egress tcp 80 ::/0 ca-revocation",
	       "egress tcp 443 my.mailstore.com mgmt-license",
	       "egress tcp 587 0.0.0.0/0 mgmt-smtp",
	       "egress tcp 587 ::/0 mgmt-smtp",
	       "egress tcp 8472 198.18.0.21 ih-internal",
	       "egress tcp 8472 fd00:5e::21 ih-internal",
	       "egress tcp 8473 198.18.0.11 cas-internal",
	       "egress tcp 53 198.19.2.53 (dns)",
	       "egress udp 53 198.19.2.53 (dns)",
	       "egress local 0 198.18.0.10 (loopback)",
	       "egress local 0 fd00:5e::10 (loopback)");
	/* Rows that do not concern a MGMT host are not enforced on it at all. */
	assert_int_equal(dirs_of(c.p, "cas-https"), 0);
	assert_int_equal(dirs_of(c.p, "ih-pop3"), 0);
	assert_int_equal(dirs_of(c.p, "mgmt-internal"), IN);
	assert_int_equal(dirs_of(c.p, "mgmt-license"), OUT);
	assert_true(has_note(c.p, NOTE_NAME, "mgmt-license", NULL));
	release(&c);
}

static void cas_host_gets_the_cas_rows(void **state)
{
	struct compiled c;

	(void)state;
	compile(&c, FIXTURES "fleet.yaml", "cas1");
	EXPECT(&c,
	       "ingress tcp 143 0.0.0.0/0 cas-imap",
	       "ingress tcp 143 ::/0 cas-imap",
	       "ingress tcp 443 0.0.0.0/0 cas-https",
	       "ingress tcp 443 ::/0 cas-https",
	       "ingress tcp 993 0.0.0.0/0 cas-imaps",
	       "ingress tcp 993 ::/0 cas-imaps",
	       "ingress tcp 8473 198.18.0.10 cas-internal",
	       "ingress tcp 8473 fd00:5e::10 cas-internal",
	       "ingress tcp 22 198.18.9.0/24 failsafe-ssh",
	       "ingress local 0 198.18.0.11 (loopback)",
	       "egress tcp 80 0.0.0.0/0 ca-revocation",
	       "egress tcp 80 ::/0 ca-revocation",
	       "egress tcp 8471 198.18.0.10 mgmt-internal",
	       "egress tcp 8471 fd00:5e::10 mgmt-internal",
	       "egress tcp 8472 198.18.0.21 ih-internal",
	       "egress tcp 8472 fd00:5e::21 ih-internal",
	       "egress tcp 8474 198.18.0.10 mgmt-pairing",
	       "egress tcp 8474 fd00:5e::10 mgmt-pairing",
	       "egress tcp 53 198.19.2.53 (dns)",
	       "egress udp 53 198.19.2.53 (dns)",
	       "egress local 0 198.18.0.11 (loopback)");
	assert_int_equal(c.p->n_notes, 0);
	release(&c);
}

static void ih_host_gets_the_ih_rows_and_icewarp_is_reported(void **state)
{
	struct compiled c;

	(void)state;
	compile(&c, FIXTURES "fleet.yaml", "ih1");
	EXPECT(&c,
	       "ingress tcp 8472 198.18.0.10 ih-internal",
	       "ingress tcp 8472 198.18.0.11 ih-internal",
	       "ingress tcp 8472 fd00:5e::10 ih-internal",
	       "ingress tcp 22 198.18.9.0/24 failsafe-ssh",
	       "ingress local 0 198.18.0.21 (loopback)",
	       "ingress local 0 fd00:5e::21 (loopback)",
	       "egress tcp 80 0.0.0.0/0 ca-revocation",
	       "egress tcp 80 ::/0 ca-revocation",
	       "egress tcp 110 0.0.0.0/0 ih-pop3",
	       "egress tcp 110 ::/0 ih-pop3",
	       "egress tcp 143 0.0.0.0/0 ih-imap",
	       "egress tcp 143 ::/0 ih-imap",
	       "egress tcp 389 0.0.0.0/0 ih-ldap",
	       "egress tcp 389 ::/0 ih-ldap",
	       "egress tcp 443 0.0.0.0/0 ih-ews",
	       "egress tcp 443 ::/0 ih-ews",
	       "egress tcp 587 0.0.0.0/0 ih-smtp",
	       "egress tcp 587 ::/0 ih-smtp",
	       "egress tcp 636 0.0.0.0/0 ih-ldaps",
	       "egress tcp 636 ::/0 ih-ldaps",
	       "egress tcp 993 0.0.0.0/0 ih-imaps",
	       "egress tcp 993 ::/0 ih-imaps",
	       "egress tcp 995 0.0.0.0/0 ih-pop3s",
	       "egress tcp 995 ::/0 ih-pop3s",
	       "egress tcp 4040 0.0.0.0/0 ih-kerio",
	       "egress tcp 4040 ::/0 ih-kerio",
	       "egress tcp 8471 198.18.0.10 mgmt-internal",
	       "egress tcp 8471 fd00:5e::10 mgmt-internal",
	       "egress tcp 8474 198.18.0.10 mgmt-pairing",
	       "egress tcp 8474 fd00:5e::10 mgmt-pairing",
	       "egress tcp 53 198.19.2.53 (dns)",
	       "egress udp 53 198.19.2.53 (dns)",
	       "egress local 0 198.18.0.21 (loopback)",
	       "egress local 0 fd00:5e::21 (loopback)");
	/* ih-icewarp is enforced (it appears in stats) but every packet counts as ih-ews. */
	assert_int_equal(dirs_of(c.p, "ih-icewarp"), OUT);
	assert_true(has_note(c.p, NOTE_INDISTINGUISHABLE, "ih-icewarp", "ih-ews"));
	release(&c);
}

static void all_in_one_host_gets_every_row_and_overlaps_are_reported(void **state)
{
	struct compiled c;

	(void)state;
	compile(&c, FIXTURES "aio.yaml", "aio");
	EXPECT(&c,
	       "ingress tcp 143 0.0.0.0/0 cas-imap",
	       "ingress tcp 143 ::/0 cas-imap",
	       "ingress tcp 443 0.0.0.0/0 cas-https",
	       "ingress tcp 443 ::/0 cas-https",
	       "ingress tcp 993 0.0.0.0/0 cas-imaps",
	       "ingress tcp 993 ::/0 cas-imaps",
	       "ingress tcp 8470 198.18.9.0/24 mgmt-console",
	       "ingress tcp 8470 fd00:5e::900/120 mgmt-console",
	       "ingress tcp 8471 198.18.0.30 mgmt-internal",
	       "ingress tcp 8471 fd00:5e::30 mgmt-internal",
	       "ingress tcp 8472 198.18.0.30 ih-internal",
	       "ingress tcp 8472 fd00:5e::30 ih-internal",
	       "ingress tcp 8473 198.18.0.30 cas-internal",
	       "ingress tcp 8473 fd00:5e::30 cas-internal",
	       "ingress tcp 8474 198.18.9.0/24 mgmt-api",
	       "ingress tcp 8474 fd00:5e::900/120 mgmt-api",
	       "ingress tcp 8474 198.18.0.30 mgmt-pairing",
	       "ingress tcp 8474 fd00:5e::30 mgmt-pairing",
	       "ingress tcp 22 198.18.9.0/24 failsafe-ssh",
	       "ingress tcp 22 fd00:5e::900/120 failsafe-ssh",
	       "ingress local 0 198.18.0.30 (loopback)",
	       "ingress local 0 fd00:5e::30 (loopback)",
	       "egress tcp 80 0.0.0.0/0 ca-revocation",
	       "egress tcp 80 ::/0 ca-revocation",
	       "egress tcp 110 0.0.0.0/0 ih-pop3",
	       "egress tcp 110 ::/0 ih-pop3",
	       "egress tcp 143 0.0.0.0/0 ih-imap",
	       "egress tcp 143 ::/0 ih-imap",
	       "egress tcp 389 0.0.0.0/0 ih-ldap",
	       "egress tcp 389 ::/0 ih-ldap",
	       "egress tcp 443 0.0.0.0/0 ih-ews",
	       "egress tcp 443 ::/0 ih-ews",
	       "egress tcp 443 my.mailstore.com mgmt-license",
	       "egress tcp 587 0.0.0.0/0 mgmt-smtp",
	       "egress tcp 587 ::/0 mgmt-smtp",
	       "egress tcp 636 0.0.0.0/0 ih-ldaps",
	       "egress tcp 636 ::/0 ih-ldaps",
	       "egress tcp 993 0.0.0.0/0 ih-imaps",
	       "egress tcp 993 ::/0 ih-imaps",
	       "egress tcp 995 0.0.0.0/0 ih-pop3s",
	       "egress tcp 995 ::/0 ih-pop3s",
	       "egress tcp 4040 0.0.0.0/0 ih-kerio",
	       "egress tcp 4040 ::/0 ih-kerio",
	       "egress tcp 8471 198.18.0.30 mgmt-internal",
	       "egress tcp 8471 fd00:5e::30 mgmt-internal",
	       "egress tcp 8472 198.18.0.30 ih-internal",
	       "egress tcp 8472 fd00:5e::30 ih-internal",
	       "egress tcp 8473 198.18.0.30 cas-internal",
	       "egress tcp 8473 fd00:5e::30 cas-internal",
	       "egress tcp 8474 198.18.0.30 mgmt-pairing",
	       "egress tcp 8474 fd00:5e::30 mgmt-pairing",
	       "egress tcp 53 198.19.2.53 (dns)",
	       "egress udp 53 198.19.2.53 (dns)",
	       "egress local 0 198.18.0.30 (loopback)",
	       "egress local 0 fd00:5e::30 (loopback)");
	assert_int_equal(dirs_of(c.p, "mgmt-internal"), IN | OUT);
	assert_true(has_note(c.p, NOTE_INDISTINGUISHABLE, "ih-icewarp", "ih-ews"));
	assert_true(has_note(c.p, NOTE_INDISTINGUISHABLE, "ih-smtp", "mgmt-smtp"));
	/* mgmt-license is more specific than ih-ews: no note, it wins on its addresses. */
	assert_false(has_note(c.p, NOTE_SHADOWED, "mgmt-license", NULL));
	release(&c);
}

static void overrides_narrowing_site_rules_and_failsafe_compile(void **state)
{
	struct compiled c;

	(void)state;
	compile(&c, FIXTURES "site.yaml", "ih1");
	EXPECT(&c,
	       "ingress tcp 8472 198.18.0.10 ih-internal",
	       "ingress tcp 9100 198.18.7.0/24 node-exporter",
	       "ingress tcp 9100 198.18.9.50 node-exporter",
	       "ingress tcp 8000-8100 198.18.9.0/24 app-range",
	       /* the earlier site rule keeps the overlap; the later one gets the rest */
	       "ingress tcp 8101-8200 198.18.9.0/24 app-wide",
	       "ingress tcp 22 198.18.7.0/24 failsafe-ssh-mon",
	       "ingress tcp 22 198.18.9.50 failsafe-ssh-mon",
	       "ingress local 0 198.18.0.21 (loopback)",
	       "egress tcp 80 198.19.2.80 ca-revocation",
	       "egress tcp 110 0.0.0.0/0 ih-pop3",
	       "egress tcp 110 ::/0 ih-pop3",
	       "egress tcp 143 0.0.0.0/0 ih-imap",
	       "egress tcp 143 ::/0 ih-imap",
	       "egress tcp 389 0.0.0.0/0 ih-ldap",
	       "egress tcp 389 ::/0 ih-ldap",
	       "egress tcp 443 0.0.0.0/0 ih-ews",
	       "egress tcp 443 ::/0 ih-ews",
	       "egress tcp 443 198.19.2.45 ih-icewarp",
	       "egress tcp 443 icewarp.example.net ih-icewarp",
	       "egress tcp 587 0.0.0.0/0 ih-smtp",
	       "egress tcp 587 ::/0 ih-smtp",
	       "egress tcp 636 0.0.0.0/0 ih-ldaps",
	       "egress tcp 636 ::/0 ih-ldaps",
	       "egress tcp 993 0.0.0.0/0 ih-imaps",
	       "egress tcp 993 ::/0 ih-imaps",
	       "egress tcp 995 0.0.0.0/0 ih-pop3s",
	       "egress tcp 995 ::/0 ih-pop3s",
	       "egress tcp 8471 198.18.0.10 mgmt-internal",
	       "egress udp 514 198.19.2.99 syslog",
	       "egress local 0 198.18.0.21 (loopback)");
	assert_int_equal(dirs_of(c.p, "mgmt-pairing"), 0xff); /* disabled: not a rule at all */
	assert_int_equal(dirs_of(c.p, "ih-kerio"), 0xff);
	assert_int_equal(c.p->mode, SPEE_MODE_AUDIT);
	assert_int_equal(c.p->default_action[SPEE_DIR_EGRESS], SPEE_ACTION_PASS);
	assert_false(has_note(c.p, NOTE_INDISTINGUISHABLE, "ih-icewarp", NULL));
	release(&c);
}

static void port_override_applies_on_both_sides(void **state)
{
	struct compiled mg;

	(void)state;
	compile(&mg, FIXTURES "site.yaml", "mgmt1");
	for (size_t i = 0; i < mg.p->n_entries; i++)
		if (mg.p->entries[i].reason == SPEE_REASON_RULE &&
		    !strcmp(mg.p->rules[mg.p->entries[i].rule].id, "mgmt-console"))
			assert_int_equal(mg.p->entries[i].port_lo, 9470);
	assert_int_equal(mg.p->rules[policy_find_rule(mg.p, "mgmt-console")].port_lo, 9470);
	release(&mg);
}

static void failsafe_list_can_be_emptied(void **state)
{
	static const char yaml[] = "hosts:\n"
				   "  - {name: m, roles: [MGMT], addresses: [198.18.0.10]}\n"
				   "networks: {ADM: [198.18.9.0/24]}\n"
				   "failsafe: []\n";
	struct config *cfg;
	struct policy *p;
	struct diags d = { 0 };

	(void)state;
	assert_int_equal(config_parse("mem.yaml", yaml, sizeof(yaml) - 1, &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, "m", NULL, &p, &d), 0);
	assert_int_equal(policy_find_rule(p, "failsafe-ssh"), -1);
	for (size_t i = 0; i < p->n_entries; i++)
		assert_false(p->entries[i].port_lo == 22);
	policy_free(p);
	config_free(cfg);
	diags_free(&d);
}

static void empty_network_and_missing_role_are_noted(void **state)
{
	static const char yaml[] = "hosts:\n"
				   "  - {name: m, roles: [MGMT], addresses: [198.18.0.10]}\n";
	struct config *cfg;
	struct policy *p;
	struct diags d = { 0 };

	(void)state;
	assert_int_equal(config_parse("mem.yaml", yaml, sizeof(yaml) - 1, &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, "m", NULL, &p, &d), 0);
	assert_true(has_note(p, NOTE_EMPTY, "mgmt-console", NULL));
	assert_true(has_note(p, NOTE_EMPTY, "failsafe-ssh", NULL));
	assert_true(has_note(p, NOTE_ROLE_UNUSED, "mgmt-internal", NULL));
	assert_true(has_note(p, NOTE_ROLE_UNUSED, "cas-internal", NULL));
	/* still enforced, so that stats lists it with zero hits */
	assert_int_equal(dirs_of(p, "mgmt-console"), IN);
	policy_free(p);
	config_free(cfg);
	diags_free(&d);
}

static void unknown_host_is_an_error(void **state)
{
	struct config *cfg;
	struct policy *p;
	struct diags d = { 0 };

	(void)state;
	assert_int_equal(config_load(FIXTURES "fleet.yaml", &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, "nobody", NULL, &p, &d), -ENOENT);
	assert_null(p);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.v[0].msg, "'nobody' is not in the inventory"));
	config_free(cfg);
	diags_free(&d);
}

static void system_resolvers_are_used_when_the_config_names_none(void **state)
{
	static const char yaml[] = "hosts:\n"
				   "  - {name: m, roles: [MGMT], addresses: [198.18.0.10]}\n";
	struct prefix res[1];
	struct policy_env env = { .resolvers = res, .n_resolvers = 1 };
	struct config *cfg;
	struct policy *p;
	struct diags d = { 0 };
	size_t dns = 0;

	(void)state;
	assert_true(addr_parse("198.19.2.54", &res[0]));
	assert_int_equal(config_parse("mem.yaml", yaml, sizeof(yaml) - 1, &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, "m", &env, &p, &d), 0);
	for (size_t i = 0; i < p->n_entries; i++)
		if (p->entries[i].reason == SPEE_REASON_DNS) {
			assert_int_equal(prefix_cmp(&p->entries[i].prefix, &res[0]), 0);
			dns++;
		}
	assert_int_equal(dns, 2);
	policy_free(p);
	config_free(cfg);
	diags_free(&d);
}

/*
 * Only the inventory addresses configured on the machine are the host
 * itself: a VIP another machine holds, or a stale address, is a peer.
 */
static void only_addresses_on_the_machine_are_local(void **state)
{
	struct prefix here[2];
	struct policy_env env = { .local_addrs = here, .n_local_addrs = 2, .local_known = true };
	struct diags d = { 0 };
	struct config *cfg;
	struct policy *p;
	size_t local = 0;

	(void)state;
	assert_true(addr_parse("fd00:5e::10", &here[0]));
	assert_true(addr_parse("198.18.77.1", &here[1])); /* the machine's, not the inventory's */
	assert_int_equal(config_load(FIXTURES "fleet.yaml", &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, "mgmt1", &env, &p, &d), 0);
	for (size_t i = 0; i < p->n_entries; i++) {
		/* the ingress scope has every inventory address: it is what the host answers to */
		if (p->entries[i].proto != SPEE_PROTO_LOCAL || p->entries[i].dir != SPEE_DIR_EGRESS)
			continue;
		assert_int_equal(prefix_cmp(&p->entries[i].prefix, &here[0]), 0);
		local++;
	}
	assert_int_equal(local, 1); /* 198.18.0.10 is not on the machine */
	assert_false(policy_env_has_local(&env, &cfg->hosts[0].addrs[0]));
	assert_true(policy_env_has_local(&env, &cfg->hosts[0].addrs[1]));
	policy_free(p);
	/* compiled for a host elsewhere, every inventory address counts */
	env.local_known = false;
	assert_int_equal(policy_compile(cfg, "mgmt1", &env, &p, &d), 0);
	local = 0;
	for (size_t i = 0; i < p->n_entries; i++)
		local += p->entries[i].proto == SPEE_PROTO_LOCAL &&
			 p->entries[i].dir == SPEE_DIR_EGRESS;
	assert_int_equal(local, 2);
	policy_free(p);
	config_free(cfg);
	diags_free(&d);
}

/*
 * The ingress scope: the host's inventory addresses and what the machine
 * takes packets for (its other addresses, its broadcasts), each once;
 * packets to anything else are transit.
 */
static void ingress_scope_is_the_inventory_and_the_machine(void **state)
{
	struct prefix recv[3], a;
	struct policy_env env = { .receive_addrs = recv, .n_receive_addrs = 3, .receive_known = true };
	struct diags d = { 0 };
	struct config *cfg;
	struct policy *p;
	size_t scope = 0;

	(void)state;
	assert_true(addr_parse("198.18.0.10", &recv[0])); /* an inventory address again: once */
	assert_true(addr_parse("198.18.44.1", &recv[1])); /* a bridge's address */
	assert_true(addr_parse("198.18.44.255", &recv[2])); /* its broadcast */
	assert_int_equal(config_load(FIXTURES "fleet.yaml", &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, "mgmt1", &env, &p, &d), 0);
	assert_true(p->host_scope);
	for (size_t i = 0; i < p->n_entries; i++)
		scope += p->entries[i].proto == SPEE_PROTO_LOCAL &&
			 p->entries[i].dir == SPEE_DIR_INGRESS;
	assert_int_equal(scope, 4); /* 198.18.0.10, fd00:5e::10, 198.18.44.1, .255 */
	assert_true(explain_for_host(p, &recv[1]));
	assert_true(explain_for_host(p, &recv[2]));
	assert_true(addr_parse("fd00:5e::10", &a));
	assert_true(explain_for_host(p, &a));
	assert_true(addr_parse("224.0.0.251", &a));
	assert_true(explain_for_host(p, &a));
	assert_true(addr_parse("ff02::1", &a));
	assert_true(explain_for_host(p, &a));
	assert_true(addr_parse("198.18.44.7", &a)); /* a pod behind the bridge */
	assert_false(explain_for_host(p, &a));
	assert_true(addr_parse("198.18.0.11", &a)); /* another inventory host */
	assert_false(explain_for_host(p, &a));
	policy_free(p);
	config_free(cfg);
	diags_free(&d);
}

/* ethertypes: the non-IP frames passed besides ARP, one entry each way. */
static void listed_ethertypes_become_entries_both_ways(void **state)
{
	static const char yaml[] = "hosts:\n"
				   "  - {name: m, roles: [MGMT], addresses: [198.18.0.10]}\n"
				   "resolvers: [198.18.0.53]\n"
				   "ethertypes: [lldp, pppoe, llc, 0x88b5]\n";
	static const uint16_t want[] = { 0x88cc, 0x8863, 0x8864, SPEE_ETHERTYPE_LLC, 0x88b5 };
	struct diags d = { 0 };
	struct config *cfg;
	struct policy *p;
	size_t found[SPEE_DIR_MAX] = { 0 };

	(void)state;
	assert_int_equal(config_parse("mem.yaml", yaml, sizeof(yaml) - 1, &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, "m", NULL, &p, &d), 0);
	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];
		bool listed = false;

		if (e->proto != SPEE_PROTO_ETHERTYPE)
			continue;
		assert_int_equal(e->reason, SPEE_REASON_NON_IP);
		for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
			listed |= e->port_lo == want[k] && e->port_hi == want[k];
		assert_true(listed);
		found[e->dir]++;
	}
	assert_int_equal(found[SPEE_DIR_INGRESS], 5);
	assert_int_equal(found[SPEE_DIR_EGRESS], 5);
	policy_free(p);
	config_free(cfg);
	diags_free(&d);
}

static void compiling_twice_gives_the_same_entries(void **state)
{
	struct compiled a, b;

	(void)state;
	compile(&a, FIXTURES "aio.yaml", "aio");
	compile(&b, FIXTURES "aio.yaml", "aio");
	assert_int_equal(a.n, b.n);
	for (size_t i = 0; i < a.n; i++)
		assert_string_equal(a.lines[i], b.lines[i]);
	release(&a);
	release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mgmt_host_gets_the_mgmt_rows),
		cmocka_unit_test(cas_host_gets_the_cas_rows),
		cmocka_unit_test(ih_host_gets_the_ih_rows_and_icewarp_is_reported),
		cmocka_unit_test(all_in_one_host_gets_every_row_and_overlaps_are_reported),
		cmocka_unit_test(overrides_narrowing_site_rules_and_failsafe_compile),
		cmocka_unit_test(port_override_applies_on_both_sides),
		cmocka_unit_test(failsafe_list_can_be_emptied),
		cmocka_unit_test(empty_network_and_missing_role_are_noted),
		cmocka_unit_test(unknown_host_is_an_error),
		cmocka_unit_test(system_resolvers_are_used_when_the_config_names_none),
		cmocka_unit_test(compiling_twice_gives_the_same_entries),
		cmocka_unit_test(only_addresses_on_the_machine_are_local),
		cmocka_unit_test(listed_ethertypes_become_entries_both_ways),
		cmocka_unit_test(ingress_scope_is_the_inventory_and_the_machine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
