// SPDX-License-Identifier: GPL-2.0-only
/*
 * verify: which probes a host's plan holds and what each must give (over
 * the fixtures' compiled policies), how a finished connect is classified,
 * the verdict, the metrics, and the engine itself on loopback sockets
 * (a listener, a closed port, a listener whose full queue drops SYNs, and a
 * source address the machine does not hold).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "names.h"
#include "policy.h"
#include "verify.h"
#include "verify_metrics.h"
#include "verify_probe.h"

#define FLEET "tests/fixtures/policy/fleet.yaml"
#define SITES "tests/fixtures/verify/sites.yaml"
#define AUDIT "tests/fixtures/verify/audit.yaml"
#define EGRESS_PASS "tests/fixtures/verify/egress-pass.yaml"

/* A fleet config, every host's policy, and one host's plan. */
struct fleet {
	struct config *cfg;
	struct policy *pol[8];
	struct name_table names;
	struct prefix sources[4];
	size_t n_sources;
	struct verify_plan plan;
};

static void pin(struct name_table *t, const char *name, const char *addr)
{
	struct prefix p;

	assert_true(addr_parse(addr, &p));
	assert_int_equal(names_set(t, name, &p, 1, 60), 0);
}

static struct prefix addr(const char *s)
{
	struct prefix p;

	assert_true(addr_parse(s, &p));
	return p;
}

static void fleet_load(struct fleet *f, const char *path)
{
	struct diags d = { 0 };

	memset(f, 0, sizeof(*f));
	assert_int_equal(config_load(path, &f->cfg, &d), 0);
	assert_true(f->cfg->n_hosts <= 8);
	for (size_t h = 0; h < f->cfg->n_hosts; h++)
		assert_int_equal(policy_compile(f->cfg, f->cfg->hosts[h].name, NULL, &f->pol[h], &d),
				 0);
	diags_free(&d);
}

/* Plans for host `self`, probing from the given sources (NULL-terminated). */
static void fleet_plan(struct fleet *f, const char *self, ...)
{
	struct verify_input in = { 0 };
	const char *s;
	va_list ap;

	va_start(ap, self);
	while ((s = va_arg(ap, const char *)))
		f->sources[f->n_sources++] = addr(s);
	va_end(ap);
	for (size_t h = 0; h < f->cfg->n_hosts; h++)
		if (!strcmp(f->cfg->hosts[h].name, self))
			in.self = f->pol[h];
	assert_non_null(in.self);
	in.peers = (const struct policy *const *)f->pol;
	in.n_peers = f->cfg->n_hosts;
	in.names = &f->names;
	in.sources = f->sources;
	in.n_sources = f->n_sources;
	assert_int_equal(verify_plan_build(&in, &f->plan), 0);
}

static void fleet_free(struct fleet *f)
{
	verify_plan_free(&f->plan);
	for (size_t h = 0; h < f->cfg->n_hosts; h++)
		policy_free(f->pol[h]);
	names_free(&f->names);
	config_free(f->cfg);
}

/* The probe to dst:port, or NULL. */
static const struct verify_probe *find(const struct verify_plan *plan, const char *dst,
				       unsigned port)
{
	struct prefix a = addr(dst);

	for (size_t i = 0; i < plan->n_probes; i++)
		if (!prefix_cmp(&plan->probes[i].dst, &a) && plan->probes[i].port == port)
			return &plan->probes[i];
	return NULL;
}

static size_t count_to(const struct verify_plan *plan, const char *dst)
{
	struct prefix a = addr(dst);
	size_t n = 0;

	for (size_t i = 0; i < plan->n_probes; i++)
		n += !prefix_cmp(&plan->probes[i].dst, &a);
	return n;
}

struct want {
	unsigned port;
	enum verify_result expect;
	const char *rule; /* this host's egress rule, "" for none */
	const char *peer_rule; /* the peer's ingress rule, "" for none */
};

/* Exactly these probes go to dst, in this order (ascending ports). */
static void expect_probes(const struct verify_plan *plan, const char *peer, const char *dst,
			  const struct want *w, size_t n)
{
	struct prefix a = addr(dst);
	size_t k = 0;

	for (size_t i = 0; i < plan->n_probes; i++) {
		const struct verify_probe *p = &plan->probes[i];

		if (prefix_cmp(&p->dst, &a))
			continue;
		if (k == n)
			fail_msg("an unexpected probe to %s:%u (%s)", dst, p->port, p->rule);
		if (p->port != w[k].port || p->expect != w[k].expect || strcmp(p->rule, w[k].rule) ||
		    strcmp(p->peer_rule, w[k].peer_rule))
			fail_msg("probe %zu to %s: got %u %s %s/%s, want %u %s %s/%s", k, dst, p->port,
				 verify_result_label(p->expect), p->rule, p->peer_rule, w[k].port,
				 verify_result_label(w[k].expect), w[k].rule, w[k].peer_rule);
		assert_string_equal(p->peer, peer);
		assert_int_equal(p->unlisted, w[k].rule[0] == '\0');
		assert_int_equal(p->result, VERIFY_NOT_RUN);
		k++;
	}
	if (k != n)
		fail_msg("%zu probes to %s, want %zu", k, dst, n);
}

#define OPEN VERIFY_OPEN
#define HERE VERIFY_BLOCKED_HERE
#define PATH VERIFY_BLOCKED_PATH
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The matrix as the IH sees it: every port its egress opens, at an MGMT and at a CAS. */
static void an_instance_host_probes_every_port_its_egress_opens_to_each_peer(void **state)
{
	/* CA is ANY in this fixture: ca-revocation (80) goes to every peer too. */
	static const struct want to_mgmt[] = {
		{ 1, HERE, "", "" }, /* the port no rule names */
		{ 80, PATH, "ca-revocation", "" },
		{ 110, PATH, "ih-pop3", "" },
		{ 143, PATH, "ih-imap", "" },
		{ 389, PATH, "ih-ldap", "" },
		{ 443, PATH, "ih-ews", "" },
		{ 587, PATH, "ih-smtp", "" },
		{ 636, PATH, "ih-ldaps", "" },
		{ 993, PATH, "ih-imaps", "" },
		{ 995, PATH, "ih-pop3s", "" },
		{ 4040, PATH, "ih-kerio", "" },
		{ 8471, OPEN, "mgmt-internal", "mgmt-internal" },
		{ 8474, OPEN, "mgmt-pairing", "mgmt-pairing" },
	};
	static const struct want to_cas[] = {
		{ 1, HERE, "", "" },
		{ 80, PATH, "ca-revocation", "" },
		{ 110, PATH, "ih-pop3", "" },
		{ 143, OPEN, "ih-imap", "cas-imap" },
		{ 389, PATH, "ih-ldap", "" },
		{ 443, OPEN, "ih-ews", "cas-https" },
		{ 587, PATH, "ih-smtp", "" },
		{ 636, PATH, "ih-ldaps", "" },
		{ 993, OPEN, "ih-imaps", "cas-imaps" },
		{ 995, PATH, "ih-pop3s", "" },
		{ 4040, PATH, "ih-kerio", "" },
	};
	struct fleet f;

	(void)state;
	fleet_load(&f, FLEET);
	fleet_plan(&f, "ih1", "198.18.0.21", "fd00:5e::21", NULL);
	expect_probes(&f.plan, "mgmt1", "198.18.0.10", to_mgmt, N(to_mgmt));
	expect_probes(&f.plan, "mgmt1", "fd00:5e::10", to_mgmt, N(to_mgmt));
	expect_probes(&f.plan, "cas1", "198.18.0.11", to_cas, N(to_cas));
	assert_int_equal(f.plan.n_probes, 2 * N(to_mgmt) + N(to_cas));
	assert_int_equal(f.plan.n_skipped, 0);
	assert_string_equal(f.plan.host, "ih1");
	/* Peers in inventory order: mgmt1's probes come first. */
	assert_string_equal(f.plan.probes[0].peer, "mgmt1");
	assert_string_equal(f.plan.probes[f.plan.n_probes - 1].peer, "cas1");
	fleet_free(&f);
}

static void a_host_does_not_probe_itself(void **state)
{
	struct fleet f;

	(void)state;
	fleet_load(&f, FLEET);
	fleet_plan(&f, "mgmt1", "198.18.0.10", "fd00:5e::10", NULL);
	for (size_t i = 0; i < f.plan.n_probes; i++)
		assert_string_not_equal(f.plan.probes[i].peer, "mgmt1");
	/* ih-internal and cas-internal are what MGMT opens to its peers. */
	assert_int_equal(find(&f.plan, "198.18.0.21", 8472)->expect, OPEN);
	assert_int_equal(find(&f.plan, "fd00:5e::21", 8472)->expect, OPEN);
	assert_int_equal(find(&f.plan, "198.18.0.11", 8473)->expect, OPEN);
	assert_null(find(&f.plan, "198.18.0.11", 8472)); /* no rule of MGMT opens 8472 to a CAS */
	fleet_free(&f);
}

static void a_range_is_probed_at_both_ends_only(void **state)
{
	struct fleet f;
	const struct verify_probe *lo, *hi;

	(void)state;
	fleet_load(&f, SITES);
	fleet_plan(&f, "ih1", "198.18.0.21", "fd00:5e::21", NULL);
	lo = find(&f.plan, "198.18.0.10", 8000);
	hi = find(&f.plan, "198.18.0.10", 8100);
	assert_non_null(lo);
	assert_non_null(hi);
	assert_int_equal(lo->expect, OPEN);
	assert_string_equal(lo->rule, "app-range");
	assert_string_equal(lo->peer_rule, "app-range");
	assert_int_equal(hi->expect, OPEN);
	for (unsigned port = 8001; port < 8100; port++)
		assert_null(find(&f.plan, "198.18.0.10", port));
	assert_non_null(find(&f.plan, "fd00:5e::10", 8000));
	assert_non_null(find(&f.plan, "fd00:5e::10", 8100));
	fleet_free(&f);
}

static void a_rule_to_any_must_be_blocked_on_the_path_where_the_peer_refuses_it(void **state)
{
	struct fleet f;

	(void)state;
	fleet_load(&f, SITES);
	fleet_plan(&f, "ih1", "198.18.0.21", "fd00:5e::21", NULL);
	assert_int_equal(find(&f.plan, "198.18.0.10", 1)->expect, PATH);
	assert_string_equal(find(&f.plan, "198.18.0.10", 1)->rule, "low-any");
	assert_int_equal(find(&f.plan, "198.18.0.10", 10)->expect, PATH);
	assert_null(find(&f.plan, "198.18.0.10", 5));
	assert_int_equal(find(&f.plan, "198.18.0.10", 443)->expect, PATH);
	fleet_free(&f);
}

static void the_unlisted_port_is_the_lowest_that_no_rule_of_either_end_names(void **state)
{
	struct fleet f;
	const struct verify_probe *p;
	size_t unlisted = 0;

	(void)state;
	fleet_load(&f, SITES);
	/* ih1's egress names 1-10 (low-any), mgmt1's ingress 11 (adm-11). */
	assert_int_equal(verify_unlisted_port(f.pol[1], f.pol[0]), 12);
	/* mgmt1's egress names none of the low ports; ih1's ingress names 22 and 8472. */
	assert_int_equal(verify_unlisted_port(f.pol[0], f.pol[1]), 1);
	fleet_plan(&f, "ih1", "198.18.0.21", "fd00:5e::21", NULL);
	p = find(&f.plan, "198.18.0.10", 12);
	assert_non_null(p);
	assert_true(p->unlisted);
	assert_int_equal(p->expect, HERE);
	assert_string_equal(p->rule, "");
	for (size_t i = 0; i < f.plan.n_probes; i++)
		unlisted += f.plan.probes[i].unlisted;
	assert_int_equal(unlisted, 2); /* one per address of mgmt1 */
	fleet_free(&f);
}

static void dns_names_count_when_they_resolve_to_either_end(void **state)
{
	struct fleet f;
	const struct verify_probe *p;

	(void)state;
	fleet_load(&f, SITES);
	fleet_plan(&f, "ih1", "198.18.0.21", "fd00:5e::21", NULL);
	/* Unresolved, a name allows nothing: no probe of by-name, and from-name does not open 9001. */
	assert_null(find(&f.plan, "198.18.0.10", 9000));
	p = find(&f.plan, "198.18.0.10", 9001);
	assert_int_equal(p->expect, PATH);
	assert_string_equal(p->rule, "wide-9001");
	assert_string_equal(p->peer_rule, "");
	fleet_free(&f);

	fleet_load(&f, SITES);
	pin(&f.names, "mgmt.example.net", "198.18.0.10");
	pin(&f.names, "ih.example.net", "198.18.0.21");
	fleet_plan(&f, "ih1", "198.18.0.21", "fd00:5e::21", NULL);
	p = find(&f.plan, "198.18.0.10", 9000);
	assert_non_null(p);
	assert_string_equal(p->rule, "by-name");
	assert_int_equal(p->expect, PATH); /* a DNS name on the to side is no host's ingress */
	assert_null(find(&f.plan, "fd00:5e::10", 9000)); /* the name has no IPv6 address */
	p = find(&f.plan, "198.18.0.10", 9001);
	assert_int_equal(p->expect, OPEN);
	assert_string_equal(p->peer_rule, "from-name");
	/* From the IPv6 source, which the name does not hold, mgmt1 refuses 9001. */
	assert_int_equal(find(&f.plan, "fd00:5e::10", 9001)->expect, PATH);
	fleet_free(&f);
}

static void probes_leave_from_the_first_source_of_their_family(void **state)
{
	struct fleet f;
	struct prefix v4 = addr("198.18.0.21"), v6 = addr("fd00:5e::21");

	(void)state;
	fleet_load(&f, SITES);
	fleet_plan(&f, "ih1", "198.18.0.21", "fd00:5e::21", "198.18.0.22", NULL);
	assert_true(f.plan.n_probes > 0);
	for (size_t i = 0; i < f.plan.n_probes; i++) {
		const struct verify_probe *p = &f.plan.probes[i];

		assert_int_equal(prefix_cmp(&p->src, p->dst.family == AF_INET ? &v4 : &v6), 0);
	}
	fleet_free(&f);
}

static void every_address_of_a_peer_is_probed_but_link_local_ones(void **state)
{
	struct prefix ll = addr("fe80::21");
	struct fleet f;

	(void)state;
	fleet_load(&f, SITES);
	fleet_plan(&f, "mgmt1", "198.18.0.10", "fd00:5e::10", NULL);
	assert_int_equal(find(&f.plan, "198.18.0.21", 8472)->expect, OPEN);
	assert_int_equal(find(&f.plan, "198.18.0.22", 8472)->expect, OPEN);
	assert_int_equal(find(&f.plan, "fd00:5e::21", 8472)->expect, OPEN);
	assert_int_equal(count_to(&f.plan, "fe80::21"), 0);
	assert_int_equal(f.plan.n_skipped, 1);
	assert_string_equal(f.plan.skipped[0].peer, "ih1");
	assert_int_equal(prefix_cmp(&f.plan.skipped[0].addr, &ll), 0);
	assert_non_null(strstr(f.plan.skipped[0].why, "link-local"));
	fleet_free(&f);
}

static void a_peer_address_of_a_family_with_no_source_is_skipped(void **state)
{
	struct fleet f;
	struct prefix v6 = addr("fd00:5e::10");

	(void)state;
	fleet_load(&f, FLEET);
	fleet_plan(&f, "ih1", "198.18.0.21", NULL);
	assert_int_equal(count_to(&f.plan, "fd00:5e::10"), 0);
	assert_true(count_to(&f.plan, "198.18.0.10") > 0);
	assert_int_equal(f.plan.n_skipped, 1);
	assert_int_equal(prefix_cmp(&f.plan.skipped[0].addr, &v6), 0);
	assert_non_null(strstr(f.plan.skipped[0].why, "no IPv6"));
	fleet_free(&f);
}

static void in_audit_mode_every_probe_must_be_open(void **state)
{
	struct fleet f;

	(void)state;
	fleet_load(&f, AUDIT);
	fleet_plan(&f, "ih1", "198.18.0.21", NULL);
	assert_true(f.plan.n_probes > 3);
	for (size_t i = 0; i < f.plan.n_probes; i++)
		assert_int_equal(f.plan.probes[i].expect, OPEN);
	fleet_free(&f);
}

static void with_egress_pass_the_unlisted_port_is_blocked_by_the_peer(void **state)
{
	struct fleet f;
	const struct verify_probe *p;

	(void)state;
	fleet_load(&f, EGRESS_PASS);
	fleet_plan(&f, "ih1", "198.18.0.21", NULL);
	p = find(&f.plan, "198.18.0.10", 1);
	assert_non_null(p);
	assert_true(p->unlisted);
	assert_int_equal(p->expect, PATH);
	assert_int_equal(find(&f.plan, "198.18.0.10", 8471)->expect, OPEN);
	fleet_free(&f);
}

static void a_finished_connect_is_classified_by_its_errno(void **state)
{
	static const struct {
		int err;
		bool timed_out;
		enum verify_result want;
	} rows[] = {
		{ 0, false, OPEN },
		{ ECONNREFUSED, false, OPEN },
		{ ECONNRESET, false, OPEN },
		{ EPERM, false, HERE },
		{ EACCES, false, HERE },
		{ 0, true, PATH },
		{ EHOSTUNREACH, false, PATH },
		{ ENETUNREACH, false, PATH },
		{ ETIMEDOUT, false, PATH },
		{ EADDRNOTAVAIL, false, VERIFY_ERROR },
		{ EMFILE, false, VERIFY_ERROR },
		{ EINVAL, false, VERIFY_ERROR },
	};

	(void)state;
	for (size_t i = 0; i < N(rows); i++)
		if (verify_classify(rows[i].err, rows[i].timed_out) != rows[i].want)
			fail_msg("%s%s: got %s, want %s", strerror(rows[i].err),
				 rows[i].timed_out ? " (timed out)" : "",
				 verify_result_label(verify_classify(rows[i].err, rows[i].timed_out)),
				 verify_result_label(rows[i].want));
	assert_string_equal(verify_result_label(VERIFY_BLOCKED_PATH), "blocked-path");
	assert_string_equal(verify_result_label(VERIFY_BLOCKED_HERE), "blocked-here");
	assert_string_equal(verify_result_label(VERIFY_RESULT_MAX), "?");
}

static void the_verdict_fails_on_any_probe_that_differs(void **state)
{
	struct fleet f;
	size_t n;

	(void)state;
	fleet_load(&f, FLEET);
	fleet_plan(&f, "cas1", "198.18.0.11", NULL);
	n = f.plan.n_probes;
	assert_true(n > 2);
	/* Not run yet: every probe differs from what it must give. */
	assert_int_equal(verify_failures(&f.plan), n);
	assert_false(verify_passed(&f.plan));
	for (size_t i = 0; i < n; i++)
		f.plan.probes[i].result = f.plan.probes[i].expect;
	assert_int_equal(verify_failures(&f.plan), 0);
	assert_true(verify_passed(&f.plan));
	/* An expected block that was open, and an open port blocked anywhere, both fail. */
	f.plan.probes[0].result = f.plan.probes[0].expect == OPEN ? PATH : OPEN;
	assert_int_equal(verify_failures(&f.plan), 1);
	f.plan.probes[1].result = VERIFY_ERROR;
	assert_int_equal(verify_failures(&f.plan), 2);
	assert_false(verify_passed(&f.plan));
	fleet_free(&f);
}

static void an_empty_plan_passes(void **state)
{
	struct verify_plan plan = { 0 };

	(void)state;
	assert_true(verify_passed(&plan));
}

static void the_metrics_name_every_probe_and_the_verdict(void **state)
{
	struct fleet f;
	struct verify_probe *p;
	char *text = NULL, line[128];
	size_t len = 0, n_path = 0;
	FILE *out;

	(void)state;
	fleet_load(&f, FLEET);
	fleet_plan(&f, "cas1", "198.18.0.11", NULL);
	for (size_t i = 0; i < f.plan.n_probes; i++)
		f.plan.probes[i].result = f.plan.probes[i].expect;
	p = (struct verify_probe *)find(&f.plan, "198.18.0.10", 8471);
	p->result = PATH;
	for (size_t i = 0; i < f.plan.n_probes; i++)
		n_path += f.plan.probes[i].result == PATH;
	assert_true(n_path > 1); /* ca-revocation (CA is ANY here) must be blocked at the peers */
	f.plan.started = 1700000000;
	f.plan.duration_ms = 1500;
	out = open_memstream(&text, &len);
	verify_render_prometheus(out, &f.plan);
	fclose(out);
	assert_non_null(strstr(text, "\nspeebpf_verify_ok 0\n"));
	assert_non_null(strstr(text, "\nspeebpf_verify_failed_probes 1\n"));
	assert_non_null(strstr(text, "\nspeebpf_verify_last_run_timestamp_seconds 1700000000\n"));
	assert_non_null(strstr(text, "\nspeebpf_verify_duration_seconds 1.500\n"));
	snprintf(line, sizeof(line), "\nspeebpf_verify_probes{result=\"blocked-path\"} %zu\n",
		 n_path);
	assert_non_null(strstr(text, line));
	assert_non_null(strstr(text, "\nspeebpf_verify_probes{result=\"not-run\"} 0\n"));
	assert_non_null(strstr(text, "\nspeebpf_verify_probe{peer=\"mgmt1\",address=\"198.18.0.10\","
				     "port=\"8471\",rule=\"mgmt-internal\",expected=\"open\","
				     "result=\"blocked-path\"} 0\n"));
	assert_non_null(strstr(text, "\nspeebpf_verify_probe{peer=\"mgmt1\",address=\"198.18.0.10\","
				     "port=\"1\",rule=\"\",expected=\"blocked-here\","
				     "result=\"blocked-here\"} 1\n"));
	assert_non_null(strstr(text, "# TYPE speebpf_verify_probe gauge\n"));
	free(text);
	fleet_free(&f);
}

/* ---- the engine, on loopback ---- */

static int listen_on(int backlog, uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Waits (bounded) until a listener's accept queue holds its backlog: tcpi_unacked is its length. */
static void wait_queue_full(int fd)
{
	struct tcp_info ti;

	for (int i = 0; i < 2000; i++) {
		socklen_t len = sizeof(ti);

		assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
		if (ti.tcpi_unacked >= 1)
			return;
		usleep(1000);
	}
	fail_msg("the filler connection never reached the accept queue");
}

static void add_probe(struct verify_plan *plan, const char *src, uint16_t port)
{
	struct verify_probe *p = &plan->probes[plan->n_probes++];

	memset(p, 0, sizeof(*p));
	p->peer = strdup("lo");
	p->src = addr(src);
	p->dst = addr("127.0.0.1");
	p->port = port;
	p->expect = OPEN;
	p->result = VERIFY_NOT_RUN;
}

static void the_engine_gives_every_probe_a_result_within_its_timeout(void **state)
{
	struct verify_run_opts opts = { .timeout_ms = 300, .max_inflight = 4 };
	struct verify_plan plan = { 0 };
	uint16_t open_port, full_port, closed_port;
	int open_fd, full_fd, closed_fd, filler;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	size_t first_open;

	(void)state;
	open_fd = listen_on(256, &open_port);
	/* A queue of one, filled: the kernel drops the next SYNs (no RST), as a firewall would. */
	full_fd = listen_on(0, &full_port);
	filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_port = htons(full_port);
	assert_int_equal(connect(filler, (struct sockaddr *)&sa, sizeof(sa)), 0);
	wait_queue_full(full_fd);
	/* A port bound but not listening: a connect to it is refused with a RST. */
	closed_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_port = 0;
	assert_int_equal(bind(closed_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	{
		socklen_t len = sizeof(sa);

		assert_int_equal(getsockname(closed_fd, (struct sockaddr *)&sa, &len), 0);
		closed_port = ntohs(sa.sin_port);
	}

	plan.probes = calloc(64, sizeof(*plan.probes));
	add_probe(&plan, "127.0.0.1", full_port);
	add_probe(&plan, "127.0.0.1", closed_port);
	add_probe(&plan, "192.0.2.1", open_port); /* a source this machine does not hold */
	first_open = plan.n_probes;
	while (plan.n_probes < 60) /* more than max_inflight: slots are reused */
		add_probe(&plan, "127.0.0.1", open_port);
	assert_int_equal(verify_run(&plan, &opts), 0);

	assert_int_equal(plan.probes[0].result, PATH);
	assert_true(plan.probes[0].timed_out);
	assert_true(plan.probes[0].elapsed_ms >= 300);
	assert_int_equal(plan.probes[1].result, OPEN);
	assert_int_equal(plan.probes[1].error, ECONNREFUSED);
	assert_int_equal(plan.probes[2].result, VERIFY_ERROR);
	assert_int_equal(plan.probes[2].error, EADDRNOTAVAIL);
	for (size_t i = first_open; i < plan.n_probes; i++) {
		assert_int_equal(plan.probes[i].result, OPEN);
		assert_int_equal(plan.probes[i].error, 0);
		assert_false(plan.probes[i].timed_out);
	}
	assert_int_equal(plan.timeout_ms, 300);
	assert_true(plan.started > 0);
	assert_int_equal(verify_failures(&plan), 2); /* the dropped one and the one that could not run */

	close(filler);
	close(full_fd);
	close(closed_fd);
	close(open_fd);
	verify_plan_free(&plan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_instance_host_probes_every_port_its_egress_opens_to_each_peer),
		cmocka_unit_test(a_host_does_not_probe_itself),
		cmocka_unit_test(a_range_is_probed_at_both_ends_only),
		cmocka_unit_test(a_rule_to_any_must_be_blocked_on_the_path_where_the_peer_refuses_it),
		cmocka_unit_test(the_unlisted_port_is_the_lowest_that_no_rule_of_either_end_names),
		cmocka_unit_test(dns_names_count_when_they_resolve_to_either_end),
		cmocka_unit_test(probes_leave_from_the_first_source_of_their_family),
		cmocka_unit_test(every_address_of_a_peer_is_probed_but_link_local_ones),
		cmocka_unit_test(a_peer_address_of_a_family_with_no_source_is_skipped),
		cmocka_unit_test(in_audit_mode_every_probe_must_be_open),
		cmocka_unit_test(with_egress_pass_the_unlisted_port_is_blocked_by_the_peer),
		cmocka_unit_test(a_finished_connect_is_classified_by_its_errno),
		cmocka_unit_test(the_verdict_fails_on_any_probe_that_differs),
		cmocka_unit_test(an_empty_plan_passes),
		cmocka_unit_test(the_metrics_name_every_probe_and_the_verdict),
		cmocka_unit_test(the_engine_gives_every_probe_a_result_within_its_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
