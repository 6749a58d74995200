// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fragment of `speebpf suggest` (src/render/suggest.c) from a snapshot
 * of tallies made by hand: narrow: entries for built-in ANY-side rules,
 * with each address's count and first/last seen; rules that narrow: does
 * not take said in comments; site rules for audit would-drops; freed rule
 * slots ignored; --min-count. Then the fragment is merged into the example
 * fleet (deploy/fleet.example.yaml) and must parse and compile, with the
 * narrowed rule allowing exactly the addresses seen and the site rule
 * enforced on the host in its direction.
 *
 * Run from the top of the tree, or set SPEE_EXAMPLE_FLEET to the file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "policy.h"
#include "suggest.h"

#define NS 1000000000ull
/* The snapshot was taken at monotonic 1000 s, realtime 2023-11-14T22:13:20Z. */
#define MONO_NOW (1000 * NS)
#define REAL_NOW (1700000000ull * NS)

enum { SLOT_CAS_HTTPS = 3, SLOT_IH_EWS = 5, SLOT_SITE = 7, SLOT_FREED = 9, SLOT_CA = 11 };

static void meta(struct tally_snapshot *s, uint16_t slot, const char *id, uint8_t dirs)
{
	snprintf(s->meta[slot].id, sizeof(s->meta[slot].id), "%s", id);
	s->meta[slot].dirs = dirs;
}

static void addr_of(const char *text, uint8_t *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	*family = strchr(text, ':') ? SPEE_FAMILY_V6 : SPEE_FAMILY_V4;
	assert_int_equal(inet_pton(*family == SPEE_FAMILY_V6 ? AF_INET6 : AF_INET, text, addr), 1);
}

/* seconds before the snapshot */
static struct spee_tally tally(uint64_t count, unsigned first_ago, unsigned last_ago)
{
	return (struct spee_tally){ .count = count,
				    .first_ns = MONO_NOW - first_ago * NS,
				    .last_ns = MONO_NOW - last_ago * NS };
}

static void add_seen(struct tally_snapshot *s, uint16_t rule, uint8_t dir, const char *addr,
		     struct spee_tally t)
{
	struct tally_seen *e;

	s->seen = realloc(s->seen, (s->n_seen + 1) * sizeof(*s->seen));
	assert_non_null(s->seen);
	e = &s->seen[s->n_seen++];
	memset(e, 0, sizeof(*e));
	e->key.rule = rule;
	e->key.dir = dir;
	addr_of(addr, &e->key.family, e->key.addr);
	e->t = t;
}

static void add_would(struct tally_snapshot *s, uint8_t dir, const char *addr, uint8_t proto,
		      uint16_t port, struct spee_tally t)
{
	struct tally_would *e;

	s->would = realloc(s->would, (s->n_would + 1) * sizeof(*s->would));
	assert_non_null(s->would);
	e = &s->would[s->n_would++];
	memset(e, 0, sizeof(*e));
	e->key.dir = dir;
	e->key.proto = proto;
	e->key.port = htons(port);
	addr_of(addr, &e->key.family, e->key.addr);
	e->t = t;
}

/* What an audit-mode cas1 of the example fleet could have noted. */
static struct tally_snapshot *snapshot(void)
{
	struct tally_snapshot *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->mono_ns = MONO_NOW;
	s->real_ns = REAL_NOW;
	s->cfg.mode = SPEE_MODE_AUDIT;
	s->cfg.generation = 4;
	snprintf(s->rec.host, sizeof(s->rec.host), "cas1");
	meta(s, SLOT_CAS_HTTPS, "cas-https", 1 << SPEE_DIR_INGRESS);
	meta(s, SLOT_IH_EWS, "ih-ews", 1 << SPEE_DIR_EGRESS);
	meta(s, SLOT_SITE, "public-web", 1 << SPEE_DIR_INGRESS);
	meta(s, SLOT_FREED, "gone-rule", 0);
	meta(s, SLOT_CA, "ca-revocation", 1 << SPEE_DIR_EGRESS);
	add_seen(s, SLOT_CAS_HTTPS, SPEE_DIR_INGRESS, "198.18.4.2", tally(1, 50, 50));
	add_seen(s, SLOT_CAS_HTTPS, SPEE_DIR_INGRESS, "198.18.4.1", tally(5, 100, 10));
	add_seen(s, SLOT_CAS_HTTPS, SPEE_DIR_INGRESS, "fd00:5e::4:1", tally(2, 30, 20));
	add_seen(s, SLOT_IH_EWS, SPEE_DIR_EGRESS, "198.19.2.10", tally(3, 60, 5));
	add_seen(s, SLOT_SITE, SPEE_DIR_INGRESS, "198.18.9.7", tally(1, 40, 40));
	add_seen(s, SLOT_FREED, SPEE_DIR_INGRESS, "198.18.6.6", tally(9, 40, 40));
	add_seen(s, SLOT_CA, SPEE_DIR_EGRESS, "198.19.2.81", tally(2, 40, 40));
	add_would(s, SPEE_DIR_INGRESS, "198.18.4.1", IPPROTO_TCP, 9100, tally(4, 80, 1));
	add_would(s, SPEE_DIR_INGRESS, "198.18.4.2", IPPROTO_TCP, 9100, tally(1, 70, 70));
	add_would(s, SPEE_DIR_EGRESS, "198.18.4.9", IPPROTO_UDP, 123, tally(2, 90, 3));
	return s;
}

static void snapshot_free(struct tally_snapshot *s)
{
	tallies_free(s);
	free(s);
}

/* The fragment as a string (the caller frees it). */
static char *render(const struct tally_snapshot *s, uint64_t min)
{
	struct suggest_opts o = { .min_count = min, .source = "/sys/fs/bpf/test", .roles = "CAS" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(suggest_render(f, s, &o), 0);
	fclose(f);
	return buf;
}

/* a appears in text, and before b when b is given. */
static void assert_before(const char *text, const char *a, const char *b)
{
	const char *pa = strstr(text, a), *pb = b ? strstr(text, b) : NULL;

	if (!pa)
		fail_msg("missing: %s\nin:\n%s", a, text);
	if (b && (!pb || pb < pa))
		fail_msg("'%s' is not before '%s' in:\n%s", a, b, text);
}

static void narrow_lists_each_any_rules_addresses_with_counts(void **state)
{
	struct tally_snapshot *s = snapshot();
	char *out = render(s, 1);

	(void)state;
	assert_before(out, "# speebpf suggest /sys/fs/bpf/test: host cas1, audit mode, policy "
			   "generation 4\n",
		      "narrow:\n");
	/* rules by id, addresses most seen first */
	assert_before(out, "narrow:\n  cas-https:  # ingress, 3 addresses\n", "  ih-ews:");
	assert_before(out,
		      "    - 198.18.4.1  # 5 connections, first 2023-11-14T22:11:40Z, last "
		      "2023-11-14T22:13:10Z\n",
		      "    - \"fd00:5e::4:1\"  # 2 connections");
	assert_before(out, "    - \"fd00:5e::4:1\"  # 2 connections",
		      "    - 198.18.4.2  # 1 connection, first 2023-11-14T22:12:30Z");
	assert_before(out, "  ih-ews:  # egress, 1 address\n    - 198.19.2.10  # 3 connections",
		      NULL);
	/* what narrow: cannot take is said, not written as config */
	assert_before(out,
		      "# public-web is not a built-in rule (narrow: takes only those): replace "
		      "ANY in its from/to with:\n#   - 198.18.9.7  # 1 connection",
		      NULL);
	assert_before(out, "# ca-revocation reaches ANY through a network set to any", NULL);
	assert_null(strstr(out, "  public-web:"));
	assert_null(strstr(out, "  ca-revocation:"));
	/* a freed slot names no rule */
	assert_null(strstr(out, "198.18.6.6"));
	assert_null(strstr(out, "gone-rule"));
	free(out);
	snapshot_free(s);
}

static void would_drops_become_site_rules_of_this_host(void **state)
{
	struct tally_snapshot *s = snapshot();
	char *out = render(s, 1);

	(void)state;
	assert_before(out,
		      "rules:\n"
		      "  - id: suggest-cas1-in-tcp-9100\n"
		      "    proto: tcp\n"
		      "    port: 9100\n"
		      "    from:\n"
		      "      - 198.18.4.1  # 4 would-drops, first 2023-11-14T22:12:00Z, last "
		      "2023-11-14T22:13:19Z\n"
		      "      - 198.18.4.2  # 1 would-drop, first",
		      NULL);
	assert_before(out, "    to: [CAS]\n    description: \"ingress would-drops seen on cas1 in audit mode\"\n",
		      "  - id: suggest-cas1-out-udp-123\n");
	assert_before(out,
		      "  - id: suggest-cas1-out-udp-123\n"
		      "    proto: udp\n"
		      "    port: 123\n"
		      "    to:\n"
		      "      - 198.18.4.9  # 2 would-drops",
		      NULL);
	assert_before(out, "    from: [CAS]\n", NULL);
	free(out);
	snapshot_free(s);
}

static void without_the_hosts_roles_would_drops_are_only_said(void **state)
{
	struct tally_snapshot *s = snapshot();
	struct suggest_opts o = { .why_no_roles = "the applied config /x.yaml no longer loads" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	assert_int_equal(suggest_render(f, s, &o), 0);
	fclose(f);
	assert_null(strstr(buf, "\nrules:"));
	assert_before(buf,
		      "# would-drops, ingress tcp/9100 (no rule written: the applied config /x.yaml "
		      "no longer loads):\n#   - 198.18.4.1  # 4 would-drops",
		      NULL);
	assert_before(buf, "\nnarrow:\n", NULL); /* narrowing needs no roles */
	free(buf);
	snapshot_free(s);
}

static void min_count_leaves_out_the_rarely_seen(void **state)
{
	struct tally_snapshot *s = snapshot();
	char *out = render(s, 2);

	(void)state;
	assert_before(out, "# Addresses seen fewer than 2 times are left out.\n", NULL);
	assert_before(out, "  cas-https:  # ingress, 2 addresses\n", NULL);
	assert_null(strstr(out, "198.18.4.2"));
	assert_null(strstr(out, "public-web")); /* its only address was seen once */
	assert_before(out, "      - 198.18.4.1  # 4 would-drops", NULL);
	free(out);
	out = render(s, 100);
	assert_null(strstr(out, "\nnarrow:"));
	assert_null(strstr(out, "\nrules:"));
	free(out);
	snapshot_free(s);
}

static void nothing_seen_is_an_empty_fragment(void **state)
{
	struct tally_snapshot s = { .mono_ns = MONO_NOW, .real_ns = REAL_NOW };
	char *out = render(&s, 1);

	(void)state;
	assert_null(strstr(out, "\nnarrow:"));
	assert_null(strstr(out, "\nrules:"));
	/* comments only: nothing but lines starting with '#' */
	for (const char *l = out; *l; l = strchr(l, '\n') + 1)
		assert_int_equal(*l, '#');
	free(out);
}

static void rule_ids_are_valid_and_fit(void **state)
{
	char id[SPEE_RULE_ID_LEN];

	(void)state;
	suggest_rule_id("IH-2.example", SPEE_DIR_EGRESS, IPPROTO_UDP, 65535, id);
	assert_string_equal(id, "suggest-ih-2-example-out-udp-65535");
	suggest_rule_id("a-very-long-host-name-of-a-very-large-fleet.example.com",
			SPEE_DIR_INGRESS, IPPROTO_TCP, 8080, id);
	assert_true(strlen(id) < SPEE_RULE_ID_LEN);
	assert_string_equal(id + strlen(id) - strlen("-in-tcp-8080"), "-in-tcp-8080");
	assert_null(strstr(id, "--"));
	suggest_rule_id("", SPEE_DIR_INGRESS, IPPROTO_TCP, 1, id);
	assert_string_equal(id, "suggest-host-in-tcp-1");
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		fail_msg("cannot open %s (run from the top of the tree)", path);
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	assert_true(n > 0);
	return buf;
}

/*
 * The fragment merged into a config as an operator would: the entries of
 * each top-level key of the fragment go under the same key of the config
 * (after its own), or the key is added at the end. Block style only.
 */
static char *merge(const char *base, const char *frag)
{
	char *out = strdup(base);
	const char *l = frag;

	assert_non_null(out);
	while (*l) {
		const char *end = strchr(l, '\n'), *body, *stop;
		char key[64], *at, *merged;
		size_t klen;

		assert_non_null(end);
		if (*l == '#' || *l == ' ' || *l == '\n') {
			l = end + 1;
			continue;
		}
		klen = (size_t)(end - l);
		assert_true(klen < sizeof(key) - 2);
		key[0] = '\n';
		memcpy(key + 1, l, klen);
		key[klen + 1] = '\0'; /* "\nnarrow:" */
		body = end + 1;
		for (stop = body; *stop && (*stop == ' ' || *stop == '#');)
			stop = strchr(stop, '\n') + 1;
		at = strstr(out, key);
		if (at) {
			/* after the key's own entries: the next line that starts a top-level key */
			const char *next = strchr(at + 1, '\n') + 1;

			while (*next && (*next == ' ' || *next == '#' || *next == '\n'))
				next = strchr(next, '\n') + 1;
			assert_true(asprintf(&merged, "%.*s%.*s%s", (int)(next - out), out,
					     (int)(stop - body), body, next) > 0);
		} else {
			assert_true(asprintf(&merged, "%s\n%.*s", out, (int)(stop - l), l) > 0);
		}
		free(out);
		out = merged;
		l = stop;
	}
	return out;
}

/* Does the compiled policy's rule id allow peer (an address) in dir? */
static bool allows(const struct policy *p, const char *id, uint8_t dir, const char *peer)
{
	int r = policy_find_rule(p, id);
	struct prefix a;

	assert_true(r >= 0);
	assert_true(addr_parse(peer, &a));
	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];

		if (e->reason == SPEE_REASON_RULE && e->rule == r && e->dir == dir &&
		    e->peer_kind == ENTRY_PEER_PREFIX && prefix_contains(&e->prefix, &a))
			return true;
	}
	return false;
}

static void the_fragment_merged_into_the_example_fleet_compiles(void **state)
{
	const char *path = getenv("SPEE_EXAMPLE_FLEET");
	struct tally_snapshot *s = snapshot();
	char *base = read_file(path ? path : "deploy/fleet.example.yaml");
	char *frag = render(s, 1), *merged = merge(base, frag);
	struct diags d = { 0 };
	struct config *cfg = NULL;
	struct policy *p = NULL;

	(void)state;
	if (config_parse("merged.yaml", merged, strlen(merged), &cfg, &d)) {
		diags_print(stderr, &d);
		fail_msg("the merged config does not parse:\n%s", merged);
	}
	/* the example's own narrow: and rules: are still there */
	assert_before(merged, "  ih-icewarp: [198.19.2.45]\n", "  cas-https:");
	assert_before(merged, "  - id: node-exporter\n", "  - id: suggest-cas1-in-tcp-9100\n");
	for (const char *host = "mgmt1"; host; host = !strcmp(host, "mgmt1") ? "ih1" : NULL) {
		assert_int_equal(policy_compile(cfg, host, NULL, &p, &d), 0);
		policy_free(p);
	}
	assert_int_equal(policy_compile(cfg, "cas1", NULL, &p, &d), 0);
	/* cas-https narrowed to exactly what was seen */
	assert_true(allows(p, "cas-https", SPEE_DIR_INGRESS, "198.18.4.1"));
	assert_true(allows(p, "cas-https", SPEE_DIR_INGRESS, "198.18.4.2"));
	assert_true(allows(p, "cas-https", SPEE_DIR_INGRESS, "fd00:5e::4:1"));
	assert_false(allows(p, "cas-https", SPEE_DIR_INGRESS, "198.18.4.3"));
	/* the would-drops allowed, in their direction, on this host */
	assert_true(allows(p, "suggest-cas1-in-tcp-9100", SPEE_DIR_INGRESS, "198.18.4.1"));
	assert_true(allows(p, "suggest-cas1-in-tcp-9100", SPEE_DIR_INGRESS, "198.18.4.2"));
	assert_false(allows(p, "suggest-cas1-in-tcp-9100", SPEE_DIR_INGRESS, "198.18.4.9"));
	assert_true(allows(p, "suggest-cas1-out-udp-123", SPEE_DIR_EGRESS, "198.18.4.9"));
	assert_false(allows(p, "suggest-cas1-out-udp-123", SPEE_DIR_EGRESS, "198.18.4.1"));
	policy_free(p);
	/* the ih-ews narrowing reaches the Instance Host */
	assert_int_equal(policy_compile(cfg, "ih1", NULL, &p, &d), 0);
	assert_true(allows(p, "ih-ews", SPEE_DIR_EGRESS, "198.19.2.10"));
	assert_false(allows(p, "ih-ews", SPEE_DIR_EGRESS, "198.19.2.11"));
	/* the site rules are cas1's alone */
	assert_true(policy_find_rule(p, "suggest-cas1-in-tcp-9100") < 0 ||
		    !p->rules[policy_find_rule(p, "suggest-cas1-in-tcp-9100")].dirs);
	policy_free(p);
	config_free(cfg);
	diags_free(&d);
	free(merged);
	free(frag);
	free(base);
	snapshot_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(narrow_lists_each_any_rules_addresses_with_counts),
	    cmocka_unit_test(would_drops_become_site_rules_of_this_host),
	    cmocka_unit_test(without_the_hosts_roles_would_drops_are_only_said),
	    cmocka_unit_test(min_count_leaves_out_the_rarely_seen),
	    cmocka_unit_test(nothing_seen_is_an_empty_fragment),
	    cmocka_unit_test(rule_ids_are_valid_and_fit),
	    cmocka_unit_test(the_fragment_merged_into_the_example_fleet_compiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
