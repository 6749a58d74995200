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
#include <unistd.h>

#include "config.h"
#include "labels.h"
#include "explain.h"
#include "policy.h"
#include "protocols.h"

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
		const char *proto = e->proto == SPEE_PROTO_LOCAL ? "local" : proto_kind_label(e->proto);

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

/* The final order's key of an entry: direction, rule order, protocol, first port. */
static uint64_t final_key(const struct policy *p, const struct policy_entry *e)
{
	uint64_t order = e->reason == SPEE_REASON_RULE ? e->rule : p->n_rules + e->reason;

	return (uint64_t)e->dir << 56 | order << 24 | (uint64_t)e->proto << 16 | e->port_lo;
}

/*
 * The compiled entries come by (direction, rule order, protocol, first
 * port), then peer, however many ports the rules use: 200 rules on
 * ports of their own, both families, peers by role and ANY.
 */
static void entries_come_in_the_final_order_with_many_ports(void **state)
{
	char path[] = "/tmp/spee-policy-XXXXXX";
	struct compiled c;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "hosts:\n"
		   "  - {name: mgmt1, roles: [MGMT], addresses: [198.18.0.10, \"fd00:5e::10\"]}\n"
		   "  - {name: cas1, roles: [CAS, IH], addresses: [198.18.0.11, \"fd00:5e::11\"]}\n"
		   "  - {name: cas2, roles: [CAS], addresses: [198.18.0.12]}\n"
		   "rules:\n");
	for (int i = 0; i < 200; i++)
		fprintf(f, "  - {id: r%d, proto: %s, port: %d, from: [%s], to: [%s]}\n", i,
			i % 3 ? "tcp" : "udp", 10000 + 7 * i, i % 4 ? "CAS" : "any",
			i % 2 ? "MGMT" : "CAS");
	assert_int_equal(fclose(f), 0);
	compile(&c, path, "cas1");
	unlink(path);
	assert_true(c.p->n_entries > 200);
	for (size_t i = 1; i < c.p->n_entries; i++) {
		const struct policy_entry *a = &c.p->entries[i - 1], *b = &c.p->entries[i];
		uint64_t ka = final_key(c.p, a), kb = final_key(c.p, b);

		if (ka > kb || (ka == kb && a->peer_kind == ENTRY_PEER_PREFIX &&
				b->peer_kind == ENTRY_PEER_PREFIX && prefix_cmp(&a->prefix, &b->prefix) >= 0))
			fail_msg("entries %zu and %zu out of order: %s / %s", i - 1, i,
				 c.lines[i - 1], c.lines[i]);
	}
	release(&c);
}

/* ---- CONTRACT.md section 4 ---- */

#define REAL_HOST "tests/fixtures/config/real-host.yaml"

static bool has_line(const struct compiled *c, const char *line)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->lines[i], line))
			return true;
	return false;
}

static void expect_has(const struct compiled *c, const char *line, bool want)
{
	if (has_line(c, line) != want)
		print_error("'%s' should %sbe an entry\n", line, want ? "" : "not ");
	assert_true(has_line(c, line) == want);
}

static struct policy *compile_text(const char *yaml, const char *host, struct config **cfg)
{
	struct diags d = { 0 };
	struct policy *p = NULL;
	int err = config_parse("mem.yaml", yaml, strlen(yaml), cfg, &d);

	if (!err)
		err = policy_compile(*cfg, host, NULL, &p, &d);
	if (err)
		diags_print(stderr, &d);
	assert_int_equal(err, 0);
	diags_free(&d);
	return p;
}

static const struct policy_note *find_note(const struct policy *p, enum note_kind kind)
{
	for (size_t i = 0; i < p->n_notes; i++)
		if (p->notes[i].kind == kind)
			return &p->notes[i];
	return NULL;
}

static void a_host_name_target_is_enforced_on_that_host_only(void **state)
{
	struct compiled c;

	(void)state;
	compile(&c, REAL_HOST, "ih1");
	assert_int_equal(dirs_of(c.p, "backup-agent"), IN);
	expect_has(&c, "ingress tcp 10000 198.18.9.60 backup-agent", true);
	/* an inventory address stands for its host: esp from ih1's address, to ih1 */
	assert_int_equal(dirs_of(c.p, "esp-to-ih"), IN | OUT);
	expect_has(&c, "ingress ip 0 198.18.0.21 esp-to-ih", true);
	release(&c);
	compile(&c, REAL_HOST, "cas1");
	assert_int_equal(dirs_of(c.p, "backup-agent"), 0);
	assert_int_equal(dirs_of(c.p, "esp-to-ih"), 0);
	/* vrrp between cas1 and cas2, named by host: both ways on each of them */
	assert_int_equal(dirs_of(c.p, "vrrp"), IN | OUT);
	expect_has(&c, "ingress ip 0 198.18.0.12 vrrp", true);
	expect_has(&c, "egress ip 0 198.18.0.12 vrrp", true);
	release(&c);
	compile(&c, REAL_HOST, "mgmt1");
	assert_int_equal(dirs_of(c.p, "vrrp"), 0);
	release(&c);
}

static void icmp_rules_keep_to_their_family(void **state)
{
	struct compiled c;
	const struct policy_note *n;

	(void)state;
	compile(&c, REAL_HOST, "mgmt1");
	/* ADM is IPv4 only: ping-from-adm has its entry, base-echo6-in none, and says so */
	expect_has(&c, "ingress icmp 8 198.18.9.0/24 ping-from-adm", true);
	assert_int_equal(dirs_of(c.p, "base-echo6-in"), IN);
	assert_true(has_note(c.p, NOTE_FAMILY, "base-echo6-in", NULL));
	/* icmpv6 to an IPv6 prefix; the IPv4 /0 of ANY never becomes an icmpv6 entry */
	expect_has(&c, "egress icmpv6 128 fd00:5e::/64 ping6-out", true);
	expect_has(&c, "egress icmpv6 128 ::/0 base-echo6-out", true);
	expect_has(&c, "egress icmpv6 128 0.0.0.0/0 base-echo6-out", false);
	expect_has(&c, "egress icmp 8 0.0.0.0/0 base-echo-out", true);
	expect_has(&c, "egress icmp 8 ::/0 base-echo-out", false);
	/* the baseline's echo from ADM is the site rule's on the wire: counted there */
	n = find_note(c.p, NOTE_INDISTINGUISHABLE);
	assert_non_null(n);
	assert_string_equal(n->rule, "base-echo-in");
	assert_string_equal(n->other, "ping-from-adm");
	release(&c);
}

static void baselines_compile_after_every_other_rule(void **state)
{
	struct compiled c;
	int first_base;

	(void)state;
	compile(&c, REAL_HOST, "ih1");
	expect_has(&c, "egress udp 123 198.18.7.123 base-ntp", true);
	expect_has(&c, "egress udp 67 0.0.0.0/0 base-dhcp", true);
	expect_has(&c, "ingress udp 68 0.0.0.0/0 base-dhcp-reply", true);
	expect_has(&c, "egress udp 547 ff02::1:2 base-dhcpv6", true);
	expect_has(&c, "ingress udp 546 fe80::/10 base-dhcpv6-reply", true);
	expect_has(&c, "ingress tcp 10250 198.18.8.0/24 base-kubelet", true);
	expect_has(&c, "egress tcp 6443 198.18.8.0/24 base-apiserver", true);
	expect_has(&c, "ingress tcp 9600 198.18.9.50 base-agent-metrics", true);
	for (size_t i = 0; i < 4; i++) {
		static const char *const overlay[] = { "udp 4789 198.18.0.12 base-vxlan",
						       "udp 8472 198.18.0.10 base-vxlan-linux",
						       "udp 6081 fd00:5e::10 base-geneve",
						       "tcp 179 198.18.0.11 base-bgp" };
		char line[128];

		snprintf(line, sizeof(line), "ingress %s", overlay[i]);
		expect_has(&c, line, true);
		snprintf(line, sizeof(line), "egress %s", overlay[i]);
		expect_has(&c, line, true);
	}
	/* after the matrix, the site rules and the failsafe, in the table's order */
	first_base = policy_find_rule(c.p, "base-ntp");
	assert_true(first_base > policy_find_rule(c.p, "failsafe-ssh"));
	for (size_t r = 0; r < c.p->n_rules; r++) {
		assert_int_equal(c.p->rules[r].origin == RULE_BASELINE, (int)r >= first_base);
		if ((int)r >= first_base)
			assert_memory_equal(c.p->rules[r].id, "base-", 5);
	}
	release(&c);

	/* Without baseline: none of it. */
	compile(&c, FIXTURES "fleet.yaml", "ih1");
	for (size_t r = 0; r < c.p->n_rules; r++)
		assert_int_not_equal(c.p->rules[r].origin, RULE_BASELINE);
	release(&c);
}

static void the_metrics_port_and_monitoring_follow_the_config(void **state)
{
	struct config *cfg;
	struct policy *p;
	int r;

	(void)state;
	p = compile_text("hosts:\n"
			 "  - {name: n1, roles: [IH], addresses: [198.18.0.21]}\n"
			 "networks:\n"
			 "  ADM: [198.18.9.0/24]\n"
			 "  K8S_CONTROL: [198.18.8.1]\n"
			 "baseline: [kubernetes-node]\n"
			 "metrics-port: 9700\n",
			 "n1", &cfg);
	r = policy_find_rule(p, "base-agent-metrics");
	assert_true(r >= 0);
	assert_int_equal(p->rules[r].port_lo, 9700);
	assert_string_equal(p->rules[r].peers_text[SPEE_DIR_INGRESS], "MONITORING");
	/* MONITORING defaults to ADM's members */
	for (size_t i = 0; i < p->n_entries; i++)
		if (p->entries[i].reason == SPEE_REASON_RULE && (int)p->entries[i].rule == r) {
			char text[ADDR_TEXT_LEN];

			prefix_format(&p->entries[i].prefix, text, sizeof(text));
			assert_string_equal(text, "198.18.9.0/24");
		}
	/* kubernetes-node alone brings no linux-host row */
	assert_int_equal(policy_find_rule(p, "base-ntp"), -1);
	policy_free(p);
	config_free(cfg);
}

static void narrowing_or_moving_onto_a_port_open_to_any_is_noted(void **state)
{
	struct config *cfg;
	struct policy *p;
	const struct policy_note *n;

	(void)state;
	/* CONTRACT.md: narrow: {ih-ews: [...]} leaves 443 open to ANY through ih-icewarp */
	p = compile_text("hosts:\n"
			 "  - {name: ih1, roles: [IH], addresses: [198.18.0.21]}\n"
			 "narrow:\n"
			 "  ih-ews: [198.18.5.0/28]\n",
			 "ih1", &cfg);
	n = find_note(p, NOTE_NARROW_DEFEATED);
	assert_non_null(n);
	assert_string_equal(n->rule, "ih-ews");
	assert_string_equal(n->other, "ih-icewarp");
	assert_non_null(strstr(n->text, "egress tcp/443 to ANY"));
	policy_free(p);
	config_free(cfg);

	/* narrowing both leaves nothing open: no note */
	p = compile_text("hosts:\n"
			 "  - {name: ih1, roles: [IH], addresses: [198.18.0.21]}\n"
			 "narrow:\n"
			 "  ih-ews: [198.18.5.0/28]\n"
			 "  ih-icewarp: [198.18.5.0/28]\n",
			 "ih1", &cfg);
	assert_null(find_note(p, NOTE_NARROW_DEFEATED));
	policy_free(p);
	config_free(cfg);

	/* mgmt-console (from ADM) moved onto 443, which cas-https opens to ANY here */
	p = compile_text("hosts:\n"
			 "  - {name: aio, roles: [MGMT, CAS], addresses: [198.18.0.10]}\n"
			 "networks:\n"
			 "  ADM: [198.18.9.0/24]\n"
			 "ports:\n"
			 "  mgmt-console: 443\n",
			 "aio", &cfg);
	n = find_note(p, NOTE_PORT_ON_ANY);
	assert_non_null(n);
	assert_string_equal(n->rule, "mgmt-console");
	assert_string_equal(n->other, "cas-https");
	policy_free(p);
	config_free(cfg);
}

static void no_ssh_and_a_loopback_resolver_are_warnings(void **state)
{
	struct config *cfg;
	struct policy *p;
	const struct policy_note *n;

	(void)state;
	p = compile_text("hosts:\n"
			 "  - {name: m, roles: [MGMT], addresses: [198.18.0.10]}\n"
			 "failsafe: []\n"
			 "resolvers: [127.0.0.53, 198.19.2.53]\n",
			 "m", &cfg);
	n = find_note(p, NOTE_NO_SSH);
	assert_non_null(n);
	assert_true(n->warning);
	n = find_note(p, NOTE_LOOPBACK_RESOLVER);
	assert_non_null(n);
	assert_true(n->warning);
	assert_non_null(strstr(n->text, "127.0.0.53"));
	assert_null(strstr(n->text, "198.19.2.53"));
	policy_free(p);
	config_free(cfg);

	/* a site rule that lets SSH in is enough; so is ingress pass */
	p = compile_text("hosts:\n"
			 "  - {name: m, roles: [MGMT], addresses: [198.18.0.10]}\n"
			 "failsafe: []\n"
			 "rules:\n"
			 "  - {id: ssh, port: 22, from: [198.18.9.1], to: [m]}\n",
			 "m", &cfg);
	assert_null(find_note(p, NOTE_NO_SSH));
	assert_null(find_note(p, NOTE_LOOPBACK_RESOLVER));
	policy_free(p);
	config_free(cfg);
	p = compile_text("hosts:\n"
			 "  - {name: m, roles: [MGMT], addresses: [198.18.0.10]}\n"
			 "failsafe: []\n"
			 "default: {ingress: pass}\n",
			 "m", &cfg);
	assert_null(find_note(p, NOTE_NO_SSH));
	policy_free(p);
	config_free(cfg);
}

static void rules_enforced_on_no_host_are_fleet_notes(void **state)
{
	static const char yaml[] =
		"hosts:\n"
		"  - {name: m, roles: [MGMT], addresses: [198.18.0.10]}\n"
		"networks:\n"
		"  LAB: [198.18.0.0/24]\n"
		"rules:\n"
		"  - {id: by-name, port: 1, from: [ANY], to: [m]}\n"
		"  - {id: by-address, port: 2, from: [ANY], to: [198.18.0.10]}\n"
		"  - {id: by-network, port: 3, from: [ANY], to: [LAB]}\n"
		"  - {id: by-cidr, port: 4, from: [ANY], to: [198.18.0.0/24]}\n"
		"  - {id: elsewhere, port: 5, from: [ANY], to: [198.18.44.0/24]}\n"
		"  - {id: no-ih, port: 6, from: [ANY], to: [IH]}\n";
	struct diags d = { 0 };
	struct policy_note *v;
	struct config *cfg;
	size_t n;

	(void)state;
	assert_int_equal(config_parse("mem.yaml", yaml, sizeof(yaml) - 1, &cfg, &d), 0);
	assert_int_equal(policy_fleet_notes(cfg, &v, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].rule, "by-network");
	assert_non_null(strstr(v[0].text, "198.18.0.0/24 holds inventory addresses"));
	assert_string_equal(v[1].rule, "by-cidr");
	assert_string_equal(v[2].rule, "elsewhere");
	assert_string_equal(v[3].rule, "no-ih");
	assert_non_null(strstr(v[3].text, "holds IH"));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].kind, NOTE_NOWHERE);
		assert_false(v[i].warning);
	}
	policy_notes_free(v, n);
	config_free(cfg);
	diags_free(&d);
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
		cmocka_unit_test(entries_come_in_the_final_order_with_many_ports),
		cmocka_unit_test(a_host_name_target_is_enforced_on_that_host_only),
		cmocka_unit_test(icmp_rules_keep_to_their_family),
		cmocka_unit_test(baselines_compile_after_every_other_rule),
		cmocka_unit_test(the_metrics_port_and_monitoring_follow_the_config),
		cmocka_unit_test(narrowing_or_moving_onto_a_port_open_to_any_is_noted),
		cmocka_unit_test(no_ssh_and_a_loopback_resolver_are_warnings),
		cmocka_unit_test(rules_enforced_on_no_host_are_fleet_notes),
		cmocka_unit_test(only_addresses_on_the_machine_are_local),
		cmocka_unit_test(listed_ethertypes_become_entries_both_ways),
		cmocka_unit_test(ingress_scope_is_the_inventory_and_the_machine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
