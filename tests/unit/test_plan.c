// SPDX-License-Identifier: GPL-2.0-only
/*
 * plan: a side built from a compiled policy decides every connection as
 * explain does over the policy itself; the difference of two sides names
 * exactly the rules, ports, peers, settings and DNS names that differ (and
 * not the rules the kernel never sees, such as a tie's loser); live
 * connections are judged in their direction by both sides, and reported
 * when only the enforced one lets them through, with the rule of today.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "explain.h"
#include "fixture.h"
#include "names.h"
#include "plan.h"
#include "plan_sides.h"
#include "policy.h"

#define BASE "tests/fixtures/plan/base.yaml"
#define CHANGED "tests/fixtures/plan/changed.yaml"
#define AUDIT "tests/fixtures/plan/audit.yaml"

static struct prefix addr(const char *s)
{
	struct prefix p;

	assert_int_equal(prefix_parse(s, &p), PREFIX_OK);
	return p;
}

static void pin(struct name_table *t, const char *name, const char *a)
{
	struct prefix p = addr(a);

	assert_int_equal(names_set(t, name, &p, 1, 60), 0);
}

/* The side apply would write for a fixture policy. */
static void fixture_side(enum fixture_id id, struct plan_side *s)
{
	struct policy *p = fixture_policy(id);
	struct name_table t = { 0 };
	struct diags d = { 0 };

	assert_non_null(p);
	assert_int_equal(fixture_names(&t), 0);
	assert_int_equal(plan_side_build(p, &t, false, s, &d), 0);
	names_free(&t);
	fixture_policy_free(p);
}

/* A config compiled for mgmt1, and the side of it; the config outlives the side's build. */
static void config_side(const char *path, const struct name_table *t, bool audit,
			struct plan_side *s)
{
	struct config *cfg = NULL;
	struct policy *p = NULL;
	struct diags d = { 0 };

	assert_int_equal(config_load(path, &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, "mgmt1", NULL, &p, &d), 0);
	assert_int_equal(plan_side_build(p, t, audit, s, &d), 0);
	diags_free(&d);
	policy_free(p);
	config_free(cfg);
}

/* The group of rule in dir, or NULL. */
static const struct plan_group *group(const struct plan_diff *d, const char *rule, uint8_t dir)
{
	for (size_t i = 0; i < d->n_groups; i++)
		if (!strcmp(d->groups[i].rule, rule) && d->groups[i].dir == dir)
			return &d->groups[i];
	return NULL;
}

static const struct plan_name *name(const struct plan_diff *d, const char *n)
{
	for (size_t i = 0; i < d->n_names; i++)
		if (!strcmp(d->names[i].name, n))
			return &d->names[i];
	return NULL;
}

static void assert_ports(const struct plan_ports *p, size_t n, ...)
{
	va_list ap;

	assert_int_equal(p->n, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(p->v[i].lo, va_arg(ap, unsigned));
		assert_int_equal(p->v[i].hi, va_arg(ap, unsigned));
	}
	va_end(ap);
}

static void assert_peers(const struct plan_peers *p, size_t n, ...)
{
	va_list ap;

	assert_int_equal(p->n, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		struct prefix want = addr(va_arg(ap, const char *));

		assert_int_equal(prefix_cmp(&p->v[i], &want), 0);
	}
	va_end(ap);
}

/* ---- a side decides as explain does ---- */

static void a_built_side_decides_every_connection_as_explain_does(void **state)
{
	static const enum fixture_id ids[] = { FX_MAIN, FX_AUDIT, FX_DEFPASS, FX_SWITCHED };
	static const char *const peers[] = {
		FX_HOST4, FX_HOST6, FX_CAS4, FX_CAS6, FX_IH4, FX_ADM4, FX_ADM6, FX_VIP4, FX_LAB4,
		FX_OUT4,  FX_OUT6,  FX_RES4, FX_RES6, FX_MS4, FX_MS6,  "127.0.0.1", "::1",
	};
	static const uint16_t ports[] = { 22,	53,   80,   123,  443,	514,  8443, 8470, 8471,
					  8472, 8474, 9000, 9002, 9003, 9004, 9100, 1 };
	size_t checked = 0, by_rule = 0;

	(void)state;
	for (size_t f = 0; f < sizeof(ids) / sizeof(ids[0]); f++) {
		struct policy *p = fixture_policy(ids[f]);
		struct name_table t = { 0 };
		struct plan_side s;

		assert_non_null(p);
		assert_int_equal(fixture_names(&t), 0);
		fixture_side(ids[f], &s);
		for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++)
			for (int pr = 0; pr < 2; pr++)
				for (size_t a = 0; a < sizeof(peers) / sizeof(peers[0]); a++)
					for (size_t k = 0; k < sizeof(ports) / sizeof(ports[0]); k++) {
						uint8_t proto = pr ? IPPROTO_UDP : IPPROTO_TCP;
						struct explain_query q = {
							.dir = dir,
							.proto = proto,
							.port = ports[k],
							.peer = addr(peers[a]),
						};
						struct explain_result want;
						struct plan_verdict got;

						explain_decide(p, &t, &q, &want);
						plan_decide(&s, dir, proto, ports[k], &q.peer, &got);
						assert_true(got.enforced);
						assert_int_equal(got.pass, want.pass);
						assert_int_equal(got.reason, want.reason);
						if (want.rule >= 0) {
							assert_string_equal(got.rule,
									    p->rules[want.rule].id);
							by_rule++;
						} else {
							assert_string_equal(got.rule, "");
						}
						checked++;
					}
		plan_side_free(&s);
		names_free(&t);
		fixture_policy_free(p);
	}
	assert_true(checked > 4000);
	assert_true(by_rule > 100); /* the queries reach rules, not only the default */
}

static void nothing_enforced_passes_everything(void **state)
{
	struct plan_side none = { 0 };
	struct prefix out = addr(FX_OUT4);
	struct plan_verdict v;

	(void)state;
	plan_decide(&none, SPEE_DIR_INGRESS, IPPROTO_TCP, 8471, &out, &v);
	assert_true(v.pass);
	assert_false(v.enforced);
}

/* ---- differences ---- */

static void the_same_policy_plans_no_difference(void **state)
{
	struct plan_side a, b;
	struct plan_diff d;

	(void)state;
	fixture_side(FX_MAIN, &a);
	fixture_side(FX_MAIN, &b);
	assert_int_equal(plan_diff(&a, &b, &d), 0);
	assert_false(plan_diff_differs(&d));
	assert_int_equal(d.n_groups, 0);
	plan_diff_free(&d);
	plan_side_free(&a);
	plan_side_free(&b);
}

static void a_port_run_is_one_entry(void **state)
{
	struct plan_side s;
	size_t runs = 0;

	(void)state;
	fixture_side(FX_MAIN, &s);
	for (size_t i = 0; i < s.n_entries; i++)
		if (!strcmp(s.entries[i].rule, "web-range")) {
			assert_int_equal(s.entries[i].port_lo, 9000);
			assert_int_equal(s.entries[i].port_hi, 9003);
			runs++;
		}
	assert_int_equal(runs, 1);
	plan_side_free(&s);
}

static void a_rule_the_kernel_never_sees_is_no_difference(void **state)
{
	struct plan_side a, b;
	struct plan_diff d;
	const struct plan_group *g;

	(void)state;
	/* FX_SWITCHED: ntp-out and lab-https-dup gone, metrics new */
	fixture_side(FX_MAIN, &a);
	fixture_side(FX_SWITCHED, &b);
	assert_int_equal(plan_diff(&a, &b, &d), 0);
	assert_true(plan_diff_differs(&d));
	/* lab-https-dup lost its tie to lab-https: the kernel never held it, nothing changes */
	assert_null(group(&d, "lab-https-dup", SPEE_DIR_INGRESS));
	assert_int_equal(d.n_groups, 2);
	g = group(&d, "ntp-out", SPEE_DIR_EGRESS);
	assert_non_null(g);
	assert_int_equal(g->change, PLAN_REMOVED);
	assert_int_equal(g->proto, IPPROTO_UDP);
	assert_ports(&g->ports_before, 1, 123, 123);
	assert_ports(&g->ports_after, 0);
	assert_peers(&g->peers_removed, 2, "0.0.0.0/0", "::/0");
	g = group(&d, "metrics", SPEE_DIR_INGRESS);
	assert_non_null(g);
	assert_int_equal(g->change, PLAN_ADDED);
	assert_ports(&g->ports_after, 1, 9100, 9100);
	assert_peers(&g->peers_added, 1, "198.18.9.0/24");
	assert_false(d.mode_changed);
	plan_diff_free(&d);
	plan_side_free(&a);
	plan_side_free(&b);
}

static void rules_ports_peers_and_names_that_differ_are_named(void **state)
{
	struct name_table t = { 0 };
	struct plan_side a, b;
	struct plan_diff d;
	const struct plan_group *g;
	const struct plan_name *n;

	(void)state;
	pin(&t, "my.mailstore.com", "198.19.2.100");
	pin(&t, "backup.example.com", "198.19.5.5");
	config_side(BASE, &t, false, &a);
	config_side(CHANGED, &t, false, &b);
	assert_int_equal(plan_diff(&a, &b, &d), 0);
	assert_true(plan_diff_differs(&d));

	g = group(&d, "mgmt-console", SPEE_DIR_INGRESS); /* moved, and the second ADM network */
	assert_non_null(g);
	assert_int_equal(g->change, PLAN_CHANGED);
	assert_ports(&g->ports_removed, 1, 8470, 8470);
	assert_ports(&g->ports_added, 1, 9470, 9470);
	assert_peers(&g->peers_added, 1, "198.18.8.0/24");
	assert_peers(&g->peers_removed, 0);

	g = group(&d, "mgmt-pairing", SPEE_DIR_INGRESS); /* disabled */
	assert_non_null(g);
	assert_int_equal(g->change, PLAN_REMOVED);
	assert_peers(&g->peers_removed, 3, "198.18.0.11", "198.18.0.21", "fd00:5e::21");

	g = group(&d, "mgmt-internal", SPEE_DIR_INGRESS); /* cas2 joins */
	assert_non_null(g);
	assert_int_equal(g->change, PLAN_CHANGED);
	assert_ports(&g->ports_added, 0);
	assert_peers(&g->peers_added, 1, "198.18.0.12");

	g = group(&d, "cas-internal", SPEE_DIR_EGRESS); /* to every CAS */
	assert_non_null(g);
	assert_peers(&g->peers_added, 1, "198.18.0.12");

	g = group(&d, "web-range", SPEE_DIR_INGRESS); /* 8000-8100 -> 8050-8200 */
	assert_non_null(g);
	assert_ports(&g->ports_before, 1, 8000, 8100);
	assert_ports(&g->ports_after, 1, 8050, 8200);
	assert_ports(&g->ports_removed, 1, 8000, 8049);
	assert_ports(&g->ports_added, 1, 8101, 8200);

	g = group(&d, "backup", SPEE_DIR_EGRESS); /* a site rule to a DNS name */
	assert_non_null(g);
	assert_int_equal(g->change, PLAN_ADDED);
	assert_peers(&g->peers_after, 1, "198.19.5.5");

	/* What did not change is not listed */
	assert_null(group(&d, "mgmt-smtp", SPEE_DIR_EGRESS));
	assert_null(group(&d, "mgmt-license", SPEE_DIR_EGRESS));
	g = group(&d, "mgmt-api", SPEE_DIR_INGRESS); /* the same port, one more network */
	assert_non_null(g);
	assert_ports(&g->ports_added, 0);
	assert_peers(&g->peers_added, 1, "198.18.8.0/24");
	for (size_t i = 0; i < d.n_groups; i++)
		assert_string_not_equal(d.groups[i].rule, ""); /* resolvers and addresses: the same */
	g = group(&d, "syslog", SPEE_DIR_INGRESS); /* gone */
	assert_non_null(g);
	assert_int_equal(g->change, PLAN_REMOVED);
	assert_int_equal(g->proto, IPPROTO_UDP);
	assert_int_equal(d.n_groups, 9); /* the eight above and failsafe-ssh's ADM */
	assert_non_null(group(&d, "failsafe-ssh", SPEE_DIR_INGRESS));

	n = name(&d, "backup.example.com");
	assert_non_null(n);
	assert_int_equal(n->change, PLAN_ADDED);
	assert_true(n->resolved_after);
	assert_peers(&n->after, 1, "198.19.5.5");
	n = name(&d, "my.mailstore.com");
	assert_non_null(n);
	assert_int_equal(n->change, PLAN_SAME);
	plan_diff_free(&d);
	plan_side_free(&a);
	plan_side_free(&b);
	names_free(&t);
}

static void a_name_whose_addresses_moved_changes_its_rules_peers(void **state)
{
	struct name_table then = { 0 }, now = { 0 };
	struct plan_side a, b;
	struct plan_diff d;
	const struct plan_group *g;
	const struct plan_name *n;

	(void)state;
	pin(&then, "my.mailstore.com", "198.19.2.100");
	pin(&now, "my.mailstore.com", "198.19.2.101");
	config_side(BASE, &then, false, &a);
	config_side(BASE, &now, false, &b);
	assert_int_equal(plan_diff(&a, &b, &d), 0);
	assert_int_equal(d.n_groups, 1);
	g = group(&d, "mgmt-license", SPEE_DIR_EGRESS);
	assert_non_null(g);
	assert_peers(&g->peers_removed, 1, "198.19.2.100");
	assert_peers(&g->peers_added, 1, "198.19.2.101");
	n = name(&d, "my.mailstore.com");
	assert_non_null(n);
	assert_int_equal(n->change, PLAN_CHANGED);
	assert_peers(&n->before, 1, "198.19.2.100");
	assert_peers(&n->after, 1, "198.19.2.101");
	plan_diff_free(&d);
	plan_side_free(&a);
	plan_side_free(&b);
	names_free(&then);
	names_free(&now);
}

static void mode_and_defaults_are_settings_that_differ(void **state)
{
	struct name_table t = { 0 };
	struct plan_side a, b, c;
	struct plan_diff d;

	(void)state;
	pin(&t, "my.mailstore.com", "198.19.2.100");
	config_side(BASE, &t, false, &a);
	config_side(AUDIT, &t, false, &b);
	assert_int_equal(plan_diff(&a, &b, &d), 0);
	assert_true(d.mode_changed);
	assert_true(d.default_changed[SPEE_DIR_EGRESS]);
	assert_false(d.default_changed[SPEE_DIR_INGRESS]);
	assert_int_equal(d.n_groups, 0);
	assert_true(plan_diff_differs(&d));
	plan_diff_free(&d);
	/* apply --audit: the same rules, another mode */
	config_side(BASE, &t, true, &c);
	assert_int_equal(plan_diff(&a, &c, &d), 0);
	assert_true(d.mode_changed);
	assert_int_equal(d.n_groups, 0);
	plan_diff_free(&d);
	plan_side_free(&a);
	plan_side_free(&b);
	plan_side_free(&c);
	names_free(&t);
}

static void against_no_instance_everything_is_added(void **state)
{
	struct plan_side none = { 0 }, b;
	struct plan_diff d;

	(void)state;
	fixture_side(FX_MAIN, &b);
	assert_int_equal(plan_diff(&none, &b, &d), 0);
	assert_true(plan_diff_differs(&d));
	assert_true(d.mode_changed);
	assert_true(d.n_groups > 10);
	for (size_t i = 0; i < d.n_groups; i++) {
		assert_int_equal(d.groups[i].change, PLAN_ADDED);
		assert_int_equal(d.groups[i].peers_before.n, 0);
	}
	assert_non_null(group(&d, "mgmt-internal", SPEE_DIR_INGRESS));
	plan_diff_free(&d);
	plan_side_free(&b);
}

/* ---- connections ---- */

static struct plan_conn conn(uint8_t proto, const char *local, uint16_t lport, const char *remote,
			     uint16_t rport, enum plan_conn_dir opened)
{
	struct plan_conn c = { .proto = proto, .local = addr(local), .remote = addr(remote),
			       .lport = lport, .rport = rport, .opened = opened,
			       .seen = PLAN_SEEN_SOCKET };

	c.tcp_state = proto == IPPROTO_TCP ? TCP_ESTABLISHED : 0;
	return c;
}

static const struct plan_cut *cut_of(const struct plan_cuts *c, uint16_t lport, uint16_t rport)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].conn.lport == lport && c->v[i].conn.rport == rport)
			return &c->v[i];
	return NULL;
}

static void connections_the_new_side_refuses_are_cut_with_todays_rule(void **state)
{
	struct plan_side a, b;
	struct plan_cuts cuts;
	const struct plan_cut *c;
	struct plan_conn conns[] = {
		/* ntp-out, a UDP flow: its direction from today's rules (egress) */
		conn(IPPROTO_UDP, FX_HOST4, 40123, FX_OUT4, 123, PLAN_CONN_UNKNOWN),
		/* syslog from ADM, a UDP flow: ingress is where a rule allows it */
		conn(IPPROTO_UDP, FX_HOST4, 514, FX_ADM4, 40514, PLAN_CONN_UNKNOWN),
		/* mgmt-internal from cas1, accepted: stays */
		conn(IPPROTO_TCP, FX_HOST4, 8471, FX_CAS4, 41000, PLAN_CONN_IN),
		/* ih-ews outbound to anyone on 443: stays */
		conn(IPPROTO_TCP, FX_HOST4, 41001, FX_OUT4, 443, PLAN_CONN_OUT),
		/* not allowed today either (it predates the policy): not cut by the new one */
		conn(IPPROTO_TCP, FX_HOST4, 8471, FX_OUT4, 41002, PLAN_CONN_IN),
		/* the host to itself and loopback: never judged */
		conn(IPPROTO_TCP, FX_HOST4, 41003, FX_HOST4, 8471, PLAN_CONN_OUT),
		conn(IPPROTO_TCP, "127.0.0.1", 41004, "127.0.0.1", 9, PLAN_CONN_OUT),
	};

	(void)state;
	fixture_side(FX_MAIN, &a);
	fixture_side(FX_SWITCHED, &b);
	assert_int_equal(plan_judge(&a, &b, conns, sizeof(conns) / sizeof(conns[0]), &cuts), 0);
	assert_int_equal(cuts.judged, 5);
	assert_int_equal(cuts.n, 1);
	c = cut_of(&cuts, 40123, 123);
	assert_non_null(c);
	assert_int_equal(c->dir, SPEE_DIR_EGRESS);
	assert_true(c->before.pass);
	assert_string_equal(c->before.rule, "ntp-out");
	assert_false(c->after.pass);
	assert_int_equal(c->after.reason, SPEE_REASON_NO_RULE);
	plan_cuts_free(&cuts);

	/* the other way round: metrics has nothing live; ntp-out's flow is allowed again */
	assert_int_equal(plan_judge(&b, &a, conns, sizeof(conns) / sizeof(conns[0]), &cuts), 0);
	assert_int_equal(cuts.n, 0);
	plan_cuts_free(&cuts);
	plan_side_free(&a);
	plan_side_free(&b);
}

static void an_accepted_connection_is_judged_on_ingress(void **state)
{
	struct name_table t = { 0 };
	struct plan_side a, b;
	struct plan_cuts cuts;
	struct plan_conn conns[] = {
		conn(IPPROTO_TCP, "198.18.0.10", 8474, "198.18.0.21", 40000, PLAN_CONN_IN),
		conn(IPPROTO_TCP, "198.18.0.10", 8470, "198.18.9.7", 40001, PLAN_CONN_IN),
		conn(IPPROTO_UDP, "198.18.0.10", 514, "198.18.9.7", 40002, PLAN_CONN_UNKNOWN),
	};

	(void)state;
	pin(&t, "my.mailstore.com", "198.19.2.100");
	config_side(BASE, &t, false, &a);
	config_side(CHANGED, &t, false, &b);
	assert_int_equal(plan_judge(&a, &b, conns, 3, &cuts), 0);
	/* mgmt-pairing is off, mgmt-console moved to 9470, syslog is gone: all cut */
	assert_int_equal(cuts.n, 3);
	assert_non_null(cut_of(&cuts, 8474, 40000));
	assert_string_equal(cut_of(&cuts, 8474, 40000)->before.rule, "mgmt-pairing");
	assert_int_equal(cut_of(&cuts, 8474, 40000)->dir, SPEE_DIR_INGRESS);
	assert_string_equal(cut_of(&cuts, 8470, 40001)->before.rule, "mgmt-console");
	/* the UDP flow: ingress, where today's rule allows it (egress has no rule to 40002) */
	assert_int_equal(cut_of(&cuts, 514, 40002)->dir, SPEE_DIR_INGRESS);
	assert_string_equal(cut_of(&cuts, 514, 40002)->before.rule, "syslog");
	plan_cuts_free(&cuts);
	plan_side_free(&b);

	/* audit mode cuts nothing: what no rule allows passes */
	config_side(AUDIT, &t, false, &b);
	assert_int_equal(plan_judge(&a, &b, conns, 3, &cuts), 0);
	assert_int_equal(cuts.n, 0);
	plan_cuts_free(&cuts);
	plan_side_free(&a);
	plan_side_free(&b);
	names_free(&t);
}

static void with_nothing_enforced_every_refused_connection_is_cut(void **state)
{
	struct plan_side none = { 0 }, b;
	struct plan_cuts cuts;
	struct plan_conn conns[] = {
		conn(IPPROTO_TCP, FX_HOST4, 8471, FX_OUT4, 41000, PLAN_CONN_IN),
		conn(IPPROTO_TCP, FX_HOST4, 8471, FX_CAS4, 41001, PLAN_CONN_IN),
	};

	(void)state;
	fixture_side(FX_MAIN, &b);
	assert_int_equal(plan_judge(&none, &b, conns, 2, &cuts), 0);
	assert_int_equal(cuts.n, 1);
	assert_int_equal(cuts.v[0].conn.rport, 41000);
	assert_false(cuts.v[0].before.enforced);
	plan_cuts_free(&cuts);
	plan_side_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_built_side_decides_every_connection_as_explain_does),
		cmocka_unit_test(nothing_enforced_passes_everything),
		cmocka_unit_test(the_same_policy_plans_no_difference),
		cmocka_unit_test(a_port_run_is_one_entry),
		cmocka_unit_test(a_rule_the_kernel_never_sees_is_no_difference),
		cmocka_unit_test(rules_ports_peers_and_names_that_differ_are_named),
		cmocka_unit_test(a_name_whose_addresses_moved_changes_its_rules_peers),
		cmocka_unit_test(mode_and_defaults_are_settings_that_differ),
		cmocka_unit_test(against_no_instance_everything_is_added),
		cmocka_unit_test(connections_the_new_side_refuses_are_cut_with_todays_rule),
		cmocka_unit_test(an_accepted_connection_is_judged_on_ingress),
		cmocka_unit_test(with_nothing_enforced_every_refused_connection_is_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
