// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exporters against the reference model. The nftables ruleset's
 * new-connection chains are read back from the exported text and run, first
 * match wins, on queries drawn from every entry of every host of the policy
 * fixtures (each prefix's first and last address, each DNS name's addresses,
 * each range's ends and middle, and neighbours that must miss): the counter
 * of the first nft rule that matches must name the rule explain_decide
 * picks, most specific prefix and earlier row included. Then the errors,
 * the names refresh, the keyword ids and the quoting the exporters promise.
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
#include <sys/socket.h>

#include "config.h"
#include "explain.h"
#include "export.h"
#include "labels.h"
#include "names.h"
#include "policy.h"
#include "protocols.h"
#include "windows.h"

static const char *const fixtures[] = {
	"tests/fixtures/policy/fleet.yaml",
	"tests/fixtures/policy/site.yaml",
	"tests/fixtures/policy/aio.yaml",
	"tests/fixtures/export/fleet.yaml",
	"deploy/fleet.example.yaml",
	"tests/fixtures/config/real-host.yaml", /* icmp, icmpv6, ip, baselines */
};

/* ---- reading the ruleset back ------------------------------------------------ */

#define MAX_SETS 256
#define MAX_ELEMS 64
#define MAX_ROWS 512

struct nset {
	char name[300];
	struct prefix elems[MAX_ELEMS];
	size_t n;
};

struct nrow {
	char chain[16];
	char set[300]; /* "" for none */
	uint8_t proto;
	unsigned lo, hi;
	char counter[96];
};

struct ruleset {
	struct nset sets[MAX_SETS];
	size_t n_sets;
	struct nrow rows[MAX_ROWS];
	size_t n_rows;
};

/* The elements of a set's body: everything between "elements = {" and "}". */
static void parse_elements(struct nset *s, const char *body)
{
	const char *p = strstr(body, "elements = {");
	char word[64];
	int used;

	if (!p)
		return;
	p += strlen("elements = {");
	while (sscanf(p, " %63[^, }\n\t]%n", word, &used) == 1) {
		assert_true(s->n < MAX_ELEMS);
		assert_int_equal(prefix_parse(word, &s->elems[s->n]), PREFIX_OK);
		s->n++;
		p += used;
		while (*p == ',' || *p == ' ' || *p == '\n' || *p == '\t')
			p++;
		if (*p == '}')
			break;
	}
}

static void parse_row(struct nrow *r, const char *chain, const char *line)
{
	char proto[8];
	const char *p = line;
	int used;

	memset(r, 0, sizeof(*r));
	snprintf(r->chain, sizeof(r->chain), "%s", chain);
	if (sscanf(p, " %*s %*s @%299s%n", r->set, &used) == 1 && (!strncmp(p, "ip ", 3) ||
								    !strncmp(p, "ip6 ", 4)))
		p += used;
	else
		r->set[0] = '\0';
	/* "tcp dport 443", "udp dport 1-2", "icmp type 8", "icmpv6 type 128", "meta l4proto 112" */
	if (sscanf(p, " meta l4proto %u%n", &r->lo, &used) == 1) {
		r->proto = (uint8_t)r->lo;
		r->lo = r->hi = 0;
		p += used;
	} else if (sscanf(p, " %7s type %u%n", proto, &r->lo, &used) == 2) {
		assert_true(!strcmp(proto, "icmp") || !strcmp(proto, "icmpv6"));
		r->proto = !strcmp(proto, "icmp") ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		r->hi = r->lo;
		p += used;
	} else {
		assert_int_equal(sscanf(p, " %7s dport %u%n", proto, &r->lo, &used), 2);
		r->hi = r->lo;
		p += used;
		if (*p == '-') {
			assert_int_equal(sscanf(p, "-%u%n", &r->hi, &used), 1);
			p += used;
		}
		r->proto = !strcmp(proto, "tcp") ? IPPROTO_TCP : IPPROTO_UDP;
		assert_true(!strcmp(proto, "tcp") || !strcmp(proto, "udp"));
	}
	assert_int_equal(sscanf(p, " counter name \"%95[^\"]\" accept", r->counter), 1);
}

static void parse_ruleset(char *text, struct ruleset *rs)
{
	char chain[32] = "", *set_body = NULL;
	struct nset *set = NULL;

	memset(rs, 0, sizeof(*rs));
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (set) {
			if (!strcmp(line, "\t}")) {
				parse_elements(set, set_body);
				free(set_body);
				set_body = NULL;
				set = NULL;
			} else {
				size_t n = strlen(set_body), m = strlen(line);

				set_body = realloc(set_body, n + m + 2);
				assert_non_null(set_body);
				memcpy(set_body + n, line, m);
				strcpy(set_body + n + m, "\n");
			}
			continue;
		}
		if (!strncmp(line, "\tset ", 5)) {
			assert_true(rs->n_sets < MAX_SETS);
			set = &rs->sets[rs->n_sets++];
			assert_int_equal(sscanf(line, "\tset %299s {", set->name), 1);
			set_body = strdup("");
		} else if (!strncmp(line, "\tchain ", 7)) {
			assert_int_equal(sscanf(line, "\tchain %31s {", chain), 1);
		} else if (!strcmp(line, "\t}")) {
			chain[0] = '\0';
		} else if ((!strcmp(chain, "input4") || !strcmp(chain, "input6") ||
			    !strcmp(chain, "output4") || !strcmp(chain, "output6")) &&
			   strncmp(line, "\t\t#", 3)) {
			assert_true(rs->n_rows < MAX_ROWS);
			parse_row(&rs->rows[rs->n_rows++], chain, line + 2);
		}
	}
	assert_null(set);
}

static const struct nset *find_set(const struct ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->n_sets; i++)
		if (!strcmp(rs->sets[i].name, name))
			return &rs->sets[i];
	fail_msg("a rule matches set %s, which the ruleset does not define", name);
	return NULL;
}

/* The counter of the first new-connection rule that matches, or NULL: nft's own walk. */
static const char *nft_first_match(const struct ruleset *rs, const struct explain_query *q)
{
	char chain[16];

	snprintf(chain, sizeof(chain), "%s%d", q->dir == SPEE_DIR_INGRESS ? "input" : "output",
		 q->peer.family == AF_INET ? 4 : 6);
	for (size_t i = 0; i < rs->n_rows; i++) {
		const struct nrow *r = &rs->rows[i];
		bool in = !r->set[0];

		if (strcmp(r->chain, chain) || r->proto != q->proto || q->port < r->lo ||
		    q->port > r->hi)
			continue;
		if (!in) {
			const struct nset *s = find_set(rs, r->set);

			for (size_t k = 0; k < s->n && !in; k++)
				in = prefix_contains(&s->elems[k], &q->peer);
		}
		if (in)
			return r->counter;
	}
	return NULL;
}

/* ---- the queries --------------------------------------------------------------- */

static struct prefix last_address(const struct prefix *p)
{
	struct prefix a = *p;

	for (int bit = p->len; bit < prefix_max_len(p->family); bit++)
		a.addr[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
	a.len = (uint8_t)prefix_max_len(p->family);
	return a;
}

static struct prefix address(const char *s)
{
	struct prefix a;

	assert_true(addr_parse(s, &a));
	return a;
}

struct tally {
	size_t queries;
	size_t rule_hits;
};

static void check_query(const struct policy *p, const struct name_table *t,
			const struct ruleset *rs, struct explain_query q, struct tally *n)
{
	struct explain_result r;
	char want[96], text[ADDR_TEXT_LEN];
	const char *got;

	q.peer.len = (uint8_t)prefix_max_len(q.peer.family);
	explain_decide(p, t, &q, &r);
	if (r.reason == SPEE_REASON_LOOPBACK)
		return; /* the host's own addresses: `oif "lo"` in the base chain */
	if (r.reason == SPEE_REASON_RULE)
		snprintf(want, sizeof(want), "rule.%s.%s", q.dir == SPEE_DIR_INGRESS ? "in" : "out",
			 p->rules[r.rule].id);
	else if (r.reason == SPEE_REASON_DNS)
		snprintf(want, sizeof(want), "reason.out.dns");
	else
		want[0] = '\0';
	got = nft_first_match(rs, &q);
	if (strcmp(got ? got : "", want)) {
		prefix_format(&q.peer, text, sizeof(text));
		fail_msg("host %s %s %s/%u peer %s: nftables counts it as '%s', explain as '%s'",
			 p->host->name, dir_label(q.dir), proto_kind_label(q.proto), q.port, text,
			 got ? got : "(no rule)", want[0] ? want : "(no rule)");
	}
	n->queries++;
	n->rule_hits += want[0] != '\0';
}

/* Queries on either side of every entry's edges: its addresses, and its ports' ends and middle. */
static void check_entry(const struct policy *p, const struct name_table *t,
			const struct ruleset *rs, const struct policy_entry *e, struct tally *n)
{
	static const char *const nobody[] = { "198.51.100.7", "2001:db8:ffff::7" };
	struct prefix addrs[64];
	size_t n_addrs = 0;
	unsigned ports[] = { e->port_lo, e->port_hi, (e->port_lo + e->port_hi) / 2u,
			     e->port_lo - 1u, e->port_hi + 1u };

	if (e->peer_kind == ENTRY_PEER_PREFIX) {
		addrs[n_addrs++] = e->prefix;
		addrs[n_addrs++] = last_address(&e->prefix);
	} else {
		const struct name_addrs *na = names_find(t, e->name);

		for (size_t i = 0; na && i < na->n_addrs && n_addrs < 60; i++)
			addrs[n_addrs++] = na->addrs[i];
	}
	for (size_t i = 0; i < 2; i++)
		addrs[n_addrs++] = address(nobody[i]);
	for (size_t a = 0; a < n_addrs; a++) {
		for (size_t k = 0; k < sizeof(ports) / sizeof(ports[0]); k++) {
			static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };

			if (!proto_has_ports(e->proto) && e->proto != SPEE_PROTO_LOCAL)
				break; /* icmp and ip: below */
			if (ports[k] < 1 || ports[k] > 65535)
				continue;
			for (size_t pr = 0; pr < sizeof(protos); pr++) {
				struct explain_query q = {
					.dir = e->dir,
					.proto = protos[pr],
					.port = (uint16_t)ports[k],
					.peer = addrs[a],
				};

				check_query(p, t, rs, q, n);
			}
		}
	}
}

/*
 * An icmp or ip entry: its own type or protocol, the neighbours that must
 * miss (an icmp type either side, another protocol), and the same numbers
 * as tcp and udp ports, which must not match it either.
 */
static void check_other_proto_entry(const struct policy *p, const struct name_table *t,
				    const struct ruleset *rs, const struct policy_entry *e,
				    struct tally *n)
{
	struct prefix addrs[] = { e->prefix, last_address(&e->prefix), address("198.51.100.7"),
				  address("2001:db8:ffff::7") };
	struct explain_query q = { .dir = e->dir };

	if (e->peer_kind != ENTRY_PEER_PREFIX)
		return; /* no fixture has names on these rules */
	for (size_t a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++) {
		q.peer = addrs[a];
		if (proto_is_icmp(e->proto)) {
			q.proto = e->proto;
			for (int d = -1; d <= 1; d++) {
				q.port = (uint16_t)(e->port_lo + d);
				check_query(p, t, rs, q, n);
			}
		} else {
			q.port = 0;
			q.proto = e->proto;
			check_query(p, t, rs, q, n);
			q.proto = e->proto == 253 ? 254 : 253;
			check_query(p, t, rs, q, n);
			q.proto = IPPROTO_TCP; /* the protocol number as a port: no match */
			q.port = e->proto;
			check_query(p, t, rs, q, n);
		}
	}
}

/* Every name of the policy gets addresses; the first also one a prefix entry may hold. */
static void give_names_addresses(const struct policy *p, struct name_table *t)
{
	for (size_t i = 0; i < p->n_names; i++) {
		char v4[32], v6[48];
		struct prefix a[3];
		size_t n = 0;

		snprintf(v4, sizeof(v4), "203.0.113.%zu", 10 + i);
		snprintf(v6, sizeof(v6), "2001:db8::%zx", 10 + i);
		a[n++] = address(v4);
		a[n++] = address(v6);
		if (i == 0)
			a[n++] = address("198.19.2.45");
		assert_int_equal(names_set(t, p->names[i], a, n, 60), 0);
	}
}

static char *export_text(const struct policy *p, const struct name_table *t,
			 enum export_format f, int *err, struct diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);

	assert_non_null(mem);
	*err = export_write(f, p, t, mem, d);
	assert_int_equal(fclose(mem), 0);
	return buf;
}

static void nftables_first_match_is_the_rule_explain_picks(void **state)
{
	struct tally n = { 0 };
	size_t other_hits = 0;

	(void)state;
	for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
		struct config *cfg = NULL;
		struct diags d = { 0 };

		assert_int_equal(config_load(fixtures[f], &cfg, &d), 0);
		for (size_t h = 0; h < cfg->n_hosts; h++) {
			struct name_table t = { 0 };
			struct policy *p = NULL;
			struct ruleset *rs = calloc(1, sizeof(*rs));
			char *text;
			int err;

			assert_non_null(rs);
			assert_int_equal(policy_compile(cfg, cfg->hosts[h].name, NULL, &p, &d), 0);
			give_names_addresses(p, &t);
			text = export_text(p, &t, EXPORT_NFTABLES, &err, &d);
			assert_int_equal(err, 0);
			parse_ruleset(text, rs);
			for (size_t i = 0; i < p->n_entries; i++) {
				const struct policy_entry *e = &p->entries[i];
				size_t hits = n.rule_hits;

				if (e->proto == SPEE_PROTO_LOCAL)
					continue;
				if (proto_has_ports(e->proto)) {
					check_entry(p, &t, rs, e, &n);
					continue;
				}
				check_other_proto_entry(p, &t, rs, e, &n);
				other_hits += n.rule_hits - hits;
			}
			free(text);
			free(rs);
			names_free(&t);
			policy_free(p);
		}
		diags_free(&d);
		config_free(cfg);
	}
	/* Enough queries, and enough of them allowed, that the agreement means something. */
	assert_true(n.queries > 5000);
	assert_true(other_hits > 20); /* icmp, icmpv6 and ip rules among them */
	assert_true(n.rule_hits > n.queries / 10);
}

/* ---- errors and quoting ---------------------------------------------------------- */

static struct policy *compile(const char *fixture, const char *host, struct config **cfg)
{
	struct diags d = { 0 };
	struct policy *p = NULL;

	assert_int_equal(config_load(fixture, cfg, &d), 0);
	assert_int_equal(policy_compile(*cfg, host, NULL, &p, &d), 0);
	diags_free(&d);
	return p;
}

static void a_protocol_the_exporters_do_not_know_is_an_error_naming_the_rule(void **state)
{
	static const enum export_format formats[] = { EXPORT_NFTABLES, EXPORT_WINDOWS_FIREWALL };
	struct config *cfg = NULL;
	struct policy *p = compile("deploy/fleet.example.yaml", "mgmt1", &cfg);
	int r = policy_find_rule(p, "mgmt-console");

	(void)state;
	assert_true(r >= 0);
	/* IPv6's routing header: no rule can name it (the config refuses it), nor export it. */
	p->rules[r].proto = 43;
	for (size_t i = 0; i < p->n_entries; i++)
		if (p->entries[i].reason == SPEE_REASON_RULE && p->entries[i].rule == r)
			p->entries[i].proto = 43;
	for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		struct diags d = { 0 };
		char *text;
		int err;

		text = export_text(p, NULL, formats[f], &err, &d);
		assert_int_equal(err, -EPROTONOSUPPORT);
		assert_int_equal(d.n, 1);
		assert_non_null(strstr(d.v[0].msg, "rule mgmt-console"));
		assert_non_null(strstr(d.v[0].msg, export_format_label(formats[f])));
		assert_string_equal(text, ""); /* nothing written before the check */
		free(text);
		diags_free(&d);
	}
	policy_free(p);
	config_free(cfg);
}

static void nftables_names_refresh_only_the_names_that_resolved(void **state)
{
	struct config *cfg = NULL;
	struct policy *p = compile("tests/fixtures/export/fleet.yaml", "aio1", &cfg);
	struct name_table t = { 0 };
	struct prefix a[2] = { address("198.19.2.100"), address("fd00:5e::2:100") };
	struct diags d = { 0 };
	char *text;
	int err;

	(void)state;
	assert_int_equal(names_set(&t, "my.mailstore.com", a, 2, 60), 0);
	text = export_text(p, &t, EXPORT_NFTABLES_NAMES, &err, &d);
	assert_int_equal(err, 0);
	assert_non_null(strstr(text, "flush set inet speebpf dns4.my.mailstore.com\n"
				     "add element inet speebpf dns4.my.mailstore.com { 198.19.2.100 }\n"
				     "flush set inet speebpf dns6.my.mailstore.com\n"
				     "add element inet speebpf dns6.my.mailstore.com { fd00:5e::2:100 }\n"));
	/* ca.example.com and exchange.example.com did not resolve: their sets are kept as they are */
	assert_null(strstr(text, "set inet speebpf dns4.ca.example.com"));
	assert_non_null(strstr(text, "# ca.example.com: not resolved: its sets keep their addresses"));
	assert_null(strstr(text, "dns6.exchange.example.com {"));
	free(text);
	names_free(&t);
	policy_free(p);
	config_free(cfg);
}

static void keyword_ids_are_rfc_4122_name_based_uuids(void **state)
{
	/* The DNS namespace of RFC 4122 appendix C, and python.org's well-known UUID in it. */
	static const uint8_t ns_dns[16] = { 0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
					    0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8 };
	char id[WIN_KEYWORD_ID_LEN], again[WIN_KEYWORD_ID_LEN], other[WIN_KEYWORD_ID_LEN];

	(void)state;
	win_uuid5(ns_dns, "python.org", id);
	assert_string_equal(id, "{886313e1-3b8a-5372-9b90-0c9aee199e5d}");
	win_keyword_id("my.mailstore.com", id);
	win_keyword_id("my.mailstore.com", again);
	win_keyword_id("my.mailstore.org", other);
	assert_string_equal(id, again);
	assert_string_not_equal(id, other);
}

static char *to_text(void (*put)(FILE *, const char *), const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);

	assert_non_null(mem);
	put(mem, s);
	assert_int_equal(fclose(mem), 0);
	return buf;
}

static void powershell_strings_double_every_quote_powershell_honours(void **state)
{
	char *s;

	(void)state;
	s = to_text(win_put_string, "it's \xe2\x80\x98x\xe2\x80\x99\nnext");
	assert_string_equal(s, "'it''s \xe2\x80\x98\xe2\x80\x98x\xe2\x80\x99\xe2\x80\x99 next'");
	free(s);
	s = to_text(win_put_comment, "a #> b\tc");
	assert_string_equal(s, "a # > b c");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nftables_first_match_is_the_rule_explain_picks),
		cmocka_unit_test(a_protocol_the_exporters_do_not_know_is_an_error_naming_the_rule),
		cmocka_unit_test(nftables_names_refresh_only_the_names_that_resolved),
		cmocka_unit_test(keyword_ids_are_rfc_4122_name_based_uuids),
		cmocka_unit_test(powershell_strings_double_every_quote_powershell_honours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
