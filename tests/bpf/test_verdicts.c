// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel's verdicts, packet by packet: one table of rows {name,
 * program, policy, packet, expected verdict, reason, rule}. The runner
 * loads the real skeleton (unpinned), fills its maps through the production
 * maps.c from a policy, runs each row with BPF_PROG_TEST_RUN and checks the
 * return code and that exactly one counter moved, by one packet and the
 * packet's length: the rule's counter when the reason is "rule", else the
 * reason's, in the row's direction.
 *
 * The test runs in a network namespace of its own (unshare), with lo up and
 * a veth pair spk-a/spk-b holding 198.18.1.1 and fd00:5e::1:1, so that:
 *  - egress rows can give test_run a non-loopback ifindex (test_run puts an
 *    skb on the loopback device unless told otherwise, and the egress
 *    program lets everything on lo through as loopback);
 *  - real TCP connections exist for the socket-lookup fallback, which
 *    test_run performs in the caller's namespace.
 * In test_run an skb's socket is a dummy (family from the packet, protocol
 * and type 0), so egress rows exercise the raw-socket path; connect4/6
 * (test_run answers ENOTSUPP for them) and the stream-socket path are
 * exercised by attaching the programs to a child cgroup and making real
 * connections from a child process.
 *
 * Two policies feed the rows: hand-built ones (tests/lib/fixture.c, plain
 * structs) and one compiled by policy.c from tests/fixtures/bpf/mgmt-ih.yaml.
 * Every row that opens a connection (a SYN, a UDP datagram) is also put to
 * explain_decide, the reference model: the kernel and it must agree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfenv.h"
#include "config.h"
#include "explain.h"
#include "fixture.h"
#include "labels.h"
#include "loader.h"
#include "maps.h"
#include "pkt.h"
#include "speebpf.skel.h"

#define CONFIG_FIXTURE "tests/fixtures/bpf/mgmt-ih.yaml"
#define FX_CONFIG FX_COUNT /* env.applied when the compiled policy is in the maps */

#define SOCK4 "198.18.1.1"
#define SOCK6 "fd00:5e::1:1"
#define LISTEN_PORT 8470

enum prog {
	XDP,
	EGRESS,
};

struct env {
	struct loader l;
	struct name_table names;
	struct policy *pol[FX_COUNT];
	struct config *cfg;
	struct policy *cfg_pol; /* compiled from CONFIG_FIXTURE for mgmt1 */
	int applied; /* fixture applied now (FX_CONFIG: cfg_pol), -1 before the first */
	int veth_ifindex;
	int ncpu;
	/* real sockets: a listener on 0.0.0.0:8470, and one connection per family */
	int listener;
	int srv[2], cli[2], acc[2];
	uint16_t srv_port[2], cli_port[2];
};

static struct env env = { .applied = -1 };

struct row;
typedef void (*setup_fn)(struct pkt_spec *pkt);
typedef void (*check_fn)(const struct pkt_spec *pkt);

struct row {
	const char *name;
	enum prog prog;
	int fx; /* enum fixture_id, or FX_CONFIG */
	struct pkt_spec pkt;
	bool pass;
	uint8_t reason;
	const char *rule; /* when reason is SPEE_REASON_RULE */
	int ifindex; /* egress: 0 is the veth device */
	setup_fn setup;
	check_fn check;
	bool counted_already; /* a fragment of a counted datagram: bytes, not a packet */
};

/* ---- the environment ---- */

static int make_pair(int family, const char *addr, int i)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int one = 1;

	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &s->sin_addr);
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &s->sin6_addr);
		len = sizeof(*s);
	}
	env.srv[i] = socket(family, SOCK_STREAM, 0);
	env.cli[i] = socket(family, SOCK_STREAM, 0);
	if (env.srv[i] < 0 || env.cli[i] < 0)
		return -1;
	setsockopt(env.srv[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(env.srv[i], (struct sockaddr *)&ss, len) || listen(env.srv[i], 4))
		return -1;
	if (getsockname(env.srv[i], (struct sockaddr *)&ss, &len))
		return -1;
	if (connect(env.cli[i], (struct sockaddr *)&ss, len))
		return -1;
	env.acc[i] = accept(env.srv[i], NULL, NULL);
	if (env.acc[i] < 0)
		return -1;
	env.srv_port[i] = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	if (getsockname(env.cli[i], (struct sockaddr *)&ss, &len))
		return -1;
	env.cli_port[i] = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static int make_listener(void)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(LISTEN_PORT) };
	int one = 1;

	env.listener = socket(AF_INET, SOCK_STREAM, 0);
	if (env.listener < 0)
		return -1;
	setsockopt(env.listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(env.listener, (struct sockaddr *)&s, sizeof(s)) || listen(env.listener, 4))
		return -1;
	return 0;
}

static const struct policy *fixture(int fx)
{
	return fx == FX_CONFIG ? env.cfg_pol : env.pol[fx];
}

static int apply_fixture(int fx)
{
	struct maps_apply_result res;
	struct diags d = {};
	int err;

	if (env.applied == fx)
		return 0;
	err = maps_apply(&env.l.maps, fixture(fx), &env.names, NULL, &res, &d);
	if (err)
		diags_print(stderr, &d);
	diags_free(&d);
	if (!err)
		env.applied = fx;
	return err;
}

static int group_setup(void **state)
{
	struct loader_sizes sz;
	struct diags d = {};

	(void)state;
	env.veth_ifindex = bpfenv_netns("spk-a", "spk-b", SOCK4, SOCK6);
	env.ncpu = libbpf_num_possible_cpus();
	if (env.veth_ifindex <= 1 || env.ncpu <= 0)
		return -1;
	if (make_listener() || make_pair(AF_INET, SOCK4, 0) || make_pair(AF_INET6, SOCK6, 1)) {
		fprintf(stderr, "cannot make the test connections: %s\n", strerror(errno));
		return -1;
	}

	loader_set_verbose(getenv("SPEE_VERBOSE") != NULL);
	loader_sizes_default(&sz);
	if (loader_load(&env.l, &sz, NULL, &d)) {
		diags_print(stderr, &d);
		diags_free(&d);
		return -1;
	}
	if (fixture_names(&env.names))
		return -1;
	for (int i = 0; i < FX_COUNT; i++) {
		env.pol[i] = fixture_policy((enum fixture_id)i);
		if (!env.pol[i])
			return -1;
	}
	if (config_load(CONFIG_FIXTURE, &env.cfg, &d) ||
	    policy_compile(env.cfg, "mgmt1", NULL, &env.cfg_pol, &d)) {
		diags_print(stderr, &d);
		diags_free(&d);
		return -1;
	}
	diags_free(&d);
	return apply_fixture(FX_MAIN);
}

static int group_teardown(void **state)
{
	(void)state;
	loader_close(&env.l);
	names_free(&env.names);
	for (int i = 0; i < FX_COUNT; i++)
		fixture_policy_free(env.pol[i]);
	policy_free(env.cfg_pol);
	config_free(env.cfg);
	for (int i = 0; i < 2; i++) {
		close(env.srv[i]);
		close(env.cli[i]);
		close(env.acc[i]);
	}
	close(env.listener);
	return 0; /* the namespace and its devices go with the process */
}

/* ---- counters ---- */

#define RULE_CTRS (SPEE_MAX_RULES * SPEE_DIR_MAX)
#define REASON_CTRS (SPEE_REASON_MAX * SPEE_DIR_MAX)

struct counters {
	struct spee_counter rule[RULE_CTRS];
	struct spee_counter reason[REASON_CTRS];
};

static void read_percpu(int fd, __u32 n, struct spee_counter *out)
{
	struct spee_counter *v = calloc((size_t)env.ncpu, sizeof(*v));

	assert_non_null(v);
	for (__u32 i = 0; i < n; i++) {
		assert_int_equal(bpf_map_lookup_elem(fd, &i, v), 0);
		out[i].packets = out[i].bytes = 0;
		for (int c = 0; c < env.ncpu; c++) {
			out[i].packets += v[c].packets;
			out[i].bytes += v[c].bytes;
		}
	}
	free(v);
}

static void read_counters_of(const struct spee_map_fds *m, struct counters *c)
{
	read_percpu(m->fd[SPEE_MAP_RULE_CTR], RULE_CTRS, c->rule);
	read_percpu(m->fd[SPEE_MAP_REASON_CTR], REASON_CTRS, c->reason);
}

static void read_counters(struct counters *c)
{
	read_counters_of(&env.l.maps, c);
}

static uint16_t rule_slot(const char *id)
{
	struct spee_rule_meta table[SPEE_MAX_RULES];
	struct diags d = {};
	uint16_t s;

	assert_int_equal(maps_read_rules(&env.l.maps, table, &d), 0);
	s = maps_find_rule_slot(table, id);
	if (!s)
		fail_msg("rule %s has no counter slot", id);
	return s;
}

/* Exactly one counter moved, by `packets` (1, or 0) of `bytes`, and it is the expected one. */
static void expect_one_count(const struct counters *a, const struct counters *b, bool is_rule,
			     __u32 idx, __u64 packets, __u64 bytes)
{
	int moved = 0;

	for (__u32 i = 0; i < RULE_CTRS; i++) {
		if (!memcmp(&a->rule[i], &b->rule[i], sizeof(a->rule[i])))
			continue;
		moved++;
		if (!is_rule || i != idx)
			fail_msg("rule counter %u (slot %u, %s) moved", i, i / SPEE_DIR_MAX,
				 dir_label(i % SPEE_DIR_MAX));
	}
	for (__u32 i = 0; i < REASON_CTRS; i++) {
		if (!memcmp(&a->reason[i], &b->reason[i], sizeof(a->reason[i])))
			continue;
		moved++;
		if (is_rule || i != idx)
			fail_msg("reason counter %s/%s moved", reason_label(i / SPEE_DIR_MAX),
				 dir_label(i % SPEE_DIR_MAX));
	}
	assert_int_equal(moved, 1);
	if (is_rule) {
		assert_int_equal(b->rule[idx].packets - a->rule[idx].packets, packets);
		assert_int_equal(b->rule[idx].bytes - a->rule[idx].bytes, bytes);
	} else {
		assert_int_equal(b->reason[idx].packets - a->reason[idx].packets, packets);
		assert_int_equal(b->reason[idx].bytes - a->reason[idx].bytes, bytes);
	}
}

/* ---- the reference model ---- */

/*
 * Puts a connection's first packet to explain_decide and checks that it
 * agrees with the kernel: same verdict, same reason, same rule.
 */
static void expect_explain_agrees(const struct policy *p, const struct pkt_spec *pkt, __u32 dir,
				  bool pass, uint8_t reason, const char *rule)
{
	struct explain_query q = { .dir = (uint8_t)dir, .proto = pkt->proto };
	struct explain_result r;
	const char *peer = dir == SPEE_DIR_INGRESS ? pkt->src : pkt->dst;

	q.port = pkt->dport;
	assert_true(addr_parse(peer, &q.peer));
	explain_decide(p, &env.names, &q, &r);
	if (r.pass != pass || r.reason != reason ||
	    (reason == SPEE_REASON_RULE && strcmp(p->rules[r.rule].id, rule)))
		fail_msg("explain says %s, %s%s%s; the kernel %s, %s%s%s", r.pass ? "pass" : "drop",
			 reason_label(r.reason), r.rule >= 0 ? " " : "",
			 r.rule >= 0 ? p->rules[r.rule].id : "", pass ? "pass" : "drop",
			 reason_label(reason), rule ? " " : "", rule ? rule : "");
}

/*
 * explain models a connection's first packet as policy decides it: a TCP
 * SYN or a UDP datagram, whole, judged by rule (no flow state).
 */
static bool opens_connection(const struct pkt_spec *pkt, __u32 dir, uint8_t reason, int ifindex)
{
	bool syn = pkt->proto == IPPROTO_TCP && (pkt->tcp_flags & (PKT_SYN | PKT_ACK)) == PKT_SYN &&
		   !(pkt->tcp_flags & (PKT_FIN | PKT_RST));

	if (!pkt->src || (!syn && pkt->proto != IPPROTO_UDP) || pkt->frag || ifindex)
		return false;
	if (reason == SPEE_REASON_DNS)
		return dir == SPEE_DIR_EGRESS; /* ingress DNS comes from the flow table */
	return reason == SPEE_REASON_RULE || reason == SPEE_REASON_NO_RULE ||
	       reason == SPEE_REASON_LOOPBACK;
}

/* ---- running packets ---- */

/* Runs one packet through a program; returns the program's return code. */
static __u32 run_packet(enum prog prog, const uint8_t *buf, int len, int ifindex)
{
	struct __sk_buff skb = { .ifindex = (__u32)(ifindex ? ifindex : env.veth_ifindex) };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = (__u32)len);
	int fd;

	if (prog == EGRESS) {
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
		fd = loader_prog_fd(&env.l, LOADER_PROG_EGRESS);
	} else {
		fd = loader_prog_fd(&env.l, LOADER_PROG_XDP);
	}
	assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
	return o.retval;
}

static void run_row(void **state)
{
	const struct row *r = *state;
	struct pkt_spec pkt = r->pkt;
	struct counters *before = calloc(1, sizeof(*before)), *after = calloc(1, sizeof(*after));
	uint8_t buf[PKT_MAX];
	__u32 ret, want, idx, dir = r->prog == XDP ? SPEE_DIR_INGRESS : SPEE_DIR_EGRESS;
	__u64 bytes;
	int len;

	assert_non_null(before);
	assert_non_null(after);
	assert_int_equal(apply_fixture(r->fx), 0);
	if (r->setup)
		r->setup(&pkt);
	len = pkt_build(&pkt, buf, sizeof(buf));
	assert_true(len > 0);

	read_counters(before);
	ret = run_packet(r->prog, buf, len, r->ifindex);
	read_counters(after);

	if (r->prog == XDP)
		want = r->pass ? XDP_PASS : XDP_DROP;
	else
		want = r->pass ? 1 : 0;
	if (ret != want)
		fail_msg("%s: returned %u, expected %u (%s)", r->name, ret, want,
			 r->pass ? "pass" : "drop");
	/* XDP counts the frame; cgroup_skb sees the packet without Ethernet */
	bytes = r->prog == XDP ? (__u64)len : (__u64)(len - PKT_ETH_HLEN);
	if (r->reason == SPEE_REASON_RULE)
		idx = spee_rule_ctr_index(rule_slot(r->rule), dir);
	else
		idx = spee_reason_ctr_index(r->reason, dir);
	expect_one_count(before, after, r->reason == SPEE_REASON_RULE, idx,
			 r->counted_already ? 0 : 1, bytes);
	if (r->check)
		r->check(&pkt);
	if (opens_connection(&pkt, dir, r->reason, r->ifindex))
		expect_explain_agrees(fixture(r->fx), &pkt, dir, r->pass, r->reason, r->rule);
	free(before);
	free(after);
}

/* ---- state helpers for setup and check hooks ---- */

static void addr_bytes(const char *s, uint8_t *family, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = SPEE_FAMILY_V4;
		return;
	}
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
	*family = SPEE_FAMILY_V6;
}

/* The flow key of a packet sent by the host (src is the host's side). */
static struct spee_flow_key out_key(const struct pkt_spec *p)
{
	struct spee_flow_key k = {};

	addr_bytes(p->src, &k.family, k.laddr);
	addr_bytes(p->dst, &k.family, k.raddr);
	k.proto = p->proto;
	k.lport = htons(p->sport);
	k.rport = htons(p->dport);
	return k;
}

/* The flow key of a packet the host receives. */
static struct spee_flow_key in_key(const struct pkt_spec *p)
{
	struct spee_flow_key k = {};

	addr_bytes(p->dst, &k.family, k.laddr);
	addr_bytes(p->src, &k.family, k.raddr);
	k.proto = p->proto;
	k.lport = htons(p->dport);
	k.rport = htons(p->sport);
	return k;
}

static bool flow_get(const struct spee_flow_key *k, struct spee_flow_state *st)
{
	return bpf_map_lookup_elem(env.l.maps.fd[SPEE_MAP_FLOWS], k, st) == 0;
}

static void flow_del(const struct spee_flow_key *k)
{
	bpf_map_delete_elem(env.l.maps.fd[SPEE_MAP_FLOWS], k);
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static void expect_out_flow(const struct pkt_spec *p, uint8_t reason)
{
	struct spee_flow_key k = out_key(p);
	struct spee_flow_state st;

	assert_true(flow_get(&k, &st));
	assert_int_equal(st.reason, reason);
}

static void check_out_flow_established(const struct pkt_spec *p)
{
	expect_out_flow(p, SPEE_REASON_ESTABLISHED);
}

static void check_out_flow_udp(const struct pkt_spec *p)
{
	expect_out_flow(p, SPEE_REASON_UDP_REPLY);
}

static void check_out_flow_dns(const struct pkt_spec *p)
{
	expect_out_flow(p, SPEE_REASON_DNS);
}

static void check_out_flow_gone(const struct pkt_spec *p)
{
	struct spee_flow_key k = out_key(p);
	struct spee_flow_state st;

	assert_false(flow_get(&k, &st));
}

static void check_in_flow_established(const struct pkt_spec *p)
{
	struct spee_flow_key k = in_key(p);
	struct spee_flow_state st;

	assert_true(flow_get(&k, &st));
	assert_int_equal(st.reason, SPEE_REASON_ESTABLISHED);
}

/* A UDP flow last seen longer ago than the 60 s timeout. */
static void setup_stale_udp_flow(struct pkt_spec *p)
{
	struct spee_flow_key k = in_key(p);
	struct spee_flow_state st = { .last_seen_ns = mono_ns() - 61ULL * 1000000000ULL,
				      .reason = SPEE_REASON_UDP_REPLY };

	assert_int_equal(bpf_map_update_elem(env.l.maps.fd[SPEE_MAP_FLOWS], &k, &st, BPF_ANY), 0);
}

static void check_in_flow_udp(const struct pkt_spec *p)
{
	struct spee_flow_key k = in_key(p);
	struct spee_flow_state st;

	assert_true(flow_get(&k, &st));
	assert_int_equal(st.reason, SPEE_REASON_UDP_REPLY);
	flow_del(&k);
}

/* The flow an inbound datagram to the answering port left, as seen by the answer. */
static void put_answered_flow(const struct pkt_spec *p, __u64 age_ns)
{
	struct spee_flow_key k = out_key(p);
	struct spee_flow_state st = { .last_seen_ns = mono_ns() - age_ns,
				      .reason = SPEE_REASON_UDP_REPLY };

	assert_int_equal(bpf_map_update_elem(env.l.maps.fd[SPEE_MAP_FLOWS], &k, &st, BPF_ANY), 0);
}

/*
 * The flow of a datagram the host sent half a second ago: the next one
 * must move its last_seen to now (replies are let in for exactly
 * udp-timeout after the last datagram).
 */
static void setup_flow_sent_half_a_second_ago(struct pkt_spec *p)
{
	struct spee_flow_key k = out_key(p);
	struct spee_flow_state st = { .last_seen_ns = mono_ns() - 500000000ULL,
				      .reason = SPEE_REASON_UDP_REPLY };

	assert_int_equal(bpf_map_update_elem(env.l.maps.fd[SPEE_MAP_FLOWS], &k, &st, BPF_ANY), 0);
}

static void check_flow_refreshed_now(const struct pkt_spec *p)
{
	struct spee_flow_key k = out_key(p);
	struct spee_flow_state st;

	assert_true(flow_get(&k, &st));
	if (mono_ns() - st.last_seen_ns > 100000000ULL)
		fail_msg("the flow was last seen %llu ms ago, not by this datagram",
			 (unsigned long long)((mono_ns() - st.last_seen_ns) / 1000000));
	flow_del(&k);
}

/* The flow of a reply's datagram, sent by the host `age_ms` before the reply. */
static void put_reply_flow(const struct pkt_spec *p, __u64 age_ms)
{
	struct spee_flow_key k = in_key(p);
	struct spee_flow_state st = { .last_seen_ns = mono_ns() - age_ms * 1000000ULL,
				      .reason = SPEE_REASON_UDP_REPLY };

	assert_int_equal(bpf_map_update_elem(env.l.maps.fd[SPEE_MAP_FLOWS], &k, &st, BPF_ANY), 0);
}

/* 60 s is the fixture's udp-timeout: 300 ms inside it, and 300 ms past it. */
static void setup_reply_flow_just_inside_the_timeout(struct pkt_spec *p)
{
	put_reply_flow(p, 59700);
}

static void setup_reply_flow_just_past_the_timeout(struct pkt_spec *p)
{
	put_reply_flow(p, 60300);
}

static void setup_fresh_inbound_udp_flow(struct pkt_spec *p)
{
	put_answered_flow(p, 0);
}

static void setup_stale_inbound_udp_flow(struct pkt_spec *p)
{
	put_answered_flow(p, 61ULL * 1000000000ULL);
}

/* A first-fragment verdict older than the 30 s the later fragments may use it. */
static void setup_stale_fragment(struct pkt_spec *p)
{
	struct spee_frag_key k = { .proto = p->proto, .id = p->ip_id };
	struct spee_frag_state st = {
		.first_seen_ns = mono_ns() - 31ULL * 1000000000ULL,
		.verdict = { .rule = rule_slot("syslog"), .reason = SPEE_REASON_RULE },
	};

	addr_bytes(p->src, &k.family, k.saddr);
	addr_bytes(p->dst, &k.family, k.daddr);
	assert_int_equal(bpf_map_update_elem(env.l.maps.fd[SPEE_MAP_FRAGS], &k, &st, BPF_ANY), 0);
}

/* Ports of the real connections: client -> server and server -> client. */
static void use_conn(struct pkt_spec *p, int i, bool from_client)
{
	p->sport = from_client ? env.cli_port[i] : env.srv_port[i];
	p->dport = from_client ? env.srv_port[i] : env.cli_port[i];
}

static void setup_conn4_from_client(struct pkt_spec *p)
{
	struct spee_flow_key k;

	use_conn(p, 0, true);
	k = in_key(p);
	flow_del(&k);
	k = out_key(p);
	flow_del(&k);
}

static void setup_conn6_from_client(struct pkt_spec *p)
{
	struct spee_flow_key k;

	use_conn(p, 1, true);
	k = in_key(p);
	flow_del(&k);
	k = out_key(p);
	flow_del(&k);
}

static void setup_conn4_from_server(struct pkt_spec *p)
{
	struct spee_flow_key k;

	use_conn(p, 0, false);
	k = out_key(p);
	flow_del(&k);
}

/*
 * The flow an ICMP error's quoted packet belongs to, as the host holds it:
 * sent by the host (q_src is the host's) or received (q_dst is).
 */
static void put_quoted_flow(const struct pkt_spec *p, bool host_sent, __u64 age_ns)
{
	struct spee_flow_key k = {};
	struct spee_flow_state st = { .last_seen_ns = mono_ns() - age_ns };

	addr_bytes(host_sent ? p->q_src : p->q_dst, &k.family, k.laddr);
	addr_bytes(host_sent ? p->q_dst : p->q_src, &k.family, k.raddr);
	k.proto = p->q_proto;
	k.lport = htons(host_sent ? p->q_sport : p->q_dport);
	k.rport = htons(host_sent ? p->q_dport : p->q_sport);
	st.reason = p->q_proto == IPPROTO_TCP ? SPEE_REASON_ESTABLISHED : SPEE_REASON_UDP_REPLY;
	assert_int_equal(bpf_map_update_elem(env.l.maps.fd[SPEE_MAP_FLOWS], &k, &st, BPF_ANY), 0);
}

static void setup_flow_the_host_sent(struct pkt_spec *p)
{
	put_quoted_flow(p, true, 0);
}

static void setup_flow_the_host_received(struct pkt_spec *p)
{
	put_quoted_flow(p, false, 0);
}

/* A UDP flow older than the 60 s timeout: its errors are late too. */
static void setup_stale_flow_the_host_sent(struct pkt_spec *p)
{
	put_quoted_flow(p, true, 61ULL * 1000000000ULL);
}

/*
 * The echo exchange an ICMP error's quoted echo request belongs to (q_sport
 * its identifier), as the host holds it: asked by the host (host_sent) or
 * by the peer; other_id: under another identifier, so that none matches.
 */
static void put_quoted_echo(const struct pkt_spec *p, bool host_sent, bool other_id)
{
	struct spee_flow_key k = {};
	struct spee_flow_state st = { .last_seen_ns = mono_ns(),
				      .reason = SPEE_REASON_ICMP_REPLY };

	addr_bytes(host_sent ? p->q_src : p->q_dst, &k.family, k.laddr);
	addr_bytes(host_sent ? p->q_dst : p->q_src, &k.family, k.raddr);
	k.proto = p->q_proto;
	k.lport = k.rport = htons((uint16_t)(p->q_sport + other_id));
	k.echo = host_sent ? SPEE_ECHO_HOST_ASKED : SPEE_ECHO_PEER_ASKED;
	assert_int_equal(bpf_map_update_elem(env.l.maps.fd[SPEE_MAP_FLOWS], &k, &st, BPF_ANY), 0);
}

static void setup_ping_the_host_sent(struct pkt_spec *p)
{
	put_quoted_echo(p, true, false);
}

static void setup_ping_the_host_received(struct pkt_spec *p)
{
	put_quoted_echo(p, false, false);
}

static void setup_other_ping_the_host_sent(struct pkt_spec *p)
{
	put_quoted_echo(p, true, true);
}

/* The quoted packet is one of the real connection's, client to server (sent by the client). */
static void setup_quote_conn4(struct pkt_spec *p)
{
	p->q_sport = env.cli_port[0];
	p->q_dport = env.srv_port[0];
}

/* An error the host sends about a packet it received on the real IPv6 connection. */
static void setup_quote_conn6(struct pkt_spec *p)
{
	p->q_sport = env.cli_port[1];
	p->q_dport = env.srv_port[1];
}

/* ---- the table ---- */

#define T(s, d, sp, dp, fl)                                                                    \
	.src = s, .dst = d, .proto = IPPROTO_TCP, .sport = sp, .dport = dp, .tcp_flags = fl
#define U(s, d, sp, dp) .src = s, .dst = d, .proto = IPPROTO_UDP, .sport = sp, .dport = dp
#define I4(s, d, t) .src = s, .dst = d, .proto = IPPROTO_ICMP, .icmp_type = t
#define I6(s, d, t) .src = s, .dst = d, .proto = IPPROTO_ICMPV6, .icmp_type = t
/* quoting a packet (src, dst, proto, sport, dport) */
#define Q(s, d, pr, sp, dp) .q_src = s, .q_dst = d, .q_proto = pr, .q_sport = sp, .q_dport = dp
#define SYN PKT_SYN
#define ACK PKT_ACK
#define PASS true
#define DROP false
#define R_RULE SPEE_REASON_RULE
#define R_NO_RULE SPEE_REASON_NO_RULE
#define R_MALFORMED SPEE_REASON_MALFORMED
#define R_FRAGMENT SPEE_REASON_FRAGMENT
#define R_ESTABLISHED SPEE_REASON_ESTABLISHED

/* Rows are positional up to the rule; the fields after it are named when used. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct row rows[] = {
	/* ---- ingress: layer 2 and the basic rule lookup ---- */
	{ "arp_frame_passes_as_non_ip", XDP, FX_MAIN, { .ethertype = 0x0806 }, PASS,
	  SPEE_REASON_NON_IP },
	{ "syn_from_adm_to_the_console_counts_as_mgmt_console", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN) }, PASS, R_RULE, "mgmt-console" },
	{ "vlan_tagged_syn_gets_the_untagged_verdict", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .n_vlan = 1 }, PASS, R_RULE,
	  "mgmt-console" },
	{ "double_tagged_syn_gets_the_untagged_verdict", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .n_vlan = 2,
	    .vlan_tpid = { 0x88a8, 0x8100 } },
	  PASS, R_RULE, "mgmt-console" },
	{ "double_tags_in_either_order_are_walked", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .n_vlan = 2,
	    .vlan_tpid = { 0x8100, 0x88a8 } },
	  PASS, R_RULE, "mgmt-console" },
	{ "a_third_vlan_tag_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .n_vlan = 3 }, DROP, R_MALFORMED },
	{ "syn_from_outside_adm_to_the_console_is_dropped_as_no_rule", XDP, FX_MAIN,
	  { T(FX_OUT4, FX_HOST4, 40000, 8470, SYN) }, DROP, R_NO_RULE },
	{ "ipv6_syn_from_adm_counts_as_mgmt_console", XDP, FX_MAIN,
	  { T(FX_ADM6, FX_HOST6, 40000, 8470, SYN) }, PASS, R_RULE, "mgmt-console" },
	{ "vlan_tagged_ipv6_syn_gets_the_untagged_verdict", XDP, FX_MAIN,
	  { T(FX_ADM6, FX_HOST6, 40000, 8470, SYN), .n_vlan = 2,
	    .vlan_tpid = { 0x88a8, 0x8100 } },
	  PASS, R_RULE, "mgmt-console" },
	{ "failsafe_ssh_from_adm_passes", XDP, FX_MAIN, { T(FX_ADM4, FX_HOST4, 40000, 22, SYN) },
	  PASS, R_RULE, "failsafe-ssh" },
	{ "ssh_from_elsewhere_is_dropped", XDP, FX_MAIN, { T(FX_OUT4, FX_HOST4, 40000, 22, SYN) },
	  DROP, R_NO_RULE },
	{ "exact_inventory_peer_passes_mgmt_internal", XDP, FX_MAIN,
	  { T(FX_CAS4, FX_HOST4, 40000, 8471, SYN) }, PASS, R_RULE, "mgmt-internal" },
	{ "ipv6_exact_inventory_peer_passes_mgmt_internal", XDP, FX_MAIN,
	  { T(FX_CAS6, FX_HOST6, 40000, 8471, SYN) }, PASS, R_RULE, "mgmt-internal" },
	{ "a_peer_of_another_rule_is_not_allowed_on_this_port", XDP, FX_MAIN,
	  { T(FX_IH4, FX_HOST4, 40000, 8472, SYN) }, DROP, R_NO_RULE },

	/* ---- ingress: specificity and ties ---- */
	{ "an_exact_peer_beats_a_prefix_and_any", XDP, FX_MAIN,
	  { T(FX_VIP4, FX_HOST4, 40000, 443, SYN) }, PASS, R_RULE, "vip-https" },
	{ "a_prefix_beats_any_and_a_tie_goes_to_the_earlier_rule", XDP, FX_MAIN,
	  { T(FX_LAB4, FX_HOST4, 40000, 443, SYN) }, PASS, R_RULE, "lab-https" },
	{ "any_catches_the_rest", XDP, FX_MAIN, { T(FX_OUT4, FX_HOST4, 40000, 443, SYN) }, PASS,
	  R_RULE, "any-https" },
	{ "ipv6_any_catches_the_rest", XDP, FX_MAIN, { T(FX_OUT6, FX_HOST6, 40000, 443, SYN) },
	  PASS, R_RULE, "any-https" },
	{ "first_port_of_a_range_passes", XDP, FX_MAIN, { T(FX_ADM4, FX_HOST4, 40000, 9000, SYN) },
	  PASS, R_RULE, "web-range" },
	{ "last_port_of_a_range_passes", XDP, FX_MAIN, { T(FX_ADM4, FX_HOST4, 40000, 9003, SYN) },
	  PASS, R_RULE, "web-range" },
	{ "the_port_after_a_range_has_no_rule", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 9004, SYN) }, DROP, R_NO_RULE },

	/* ---- ingress: IPv6 extension headers ---- */
	{ "ipv6_hop_by_hop_routing_and_destination_options_are_walked", XDP, FX_MAIN,
	  { T(FX_ADM6, FX_HOST6, 40000, 8470, SYN), .ext = { 0, 43, 60 }, .n_ext = 3 }, PASS,
	  R_RULE, "mgmt-console" },
	{ "ipv6_authentication_header_is_walked", XDP, FX_MAIN,
	  { T(FX_ADM6, FX_HOST6, 40000, 8470, SYN), .ext = { 51 }, .n_ext = 1 }, PASS, R_RULE,
	  "mgmt-console" },
	{ "ipv6_eight_extension_headers_are_walked", XDP, FX_MAIN,
	  { T(FX_ADM6, FX_HOST6, 40000, 8470, SYN), .ext = { 60, 60, 60, 60, 60, 60, 60, 60 },
	    .n_ext = 8 },
	  PASS, R_RULE, "mgmt-console" },
	{ "ipv6_nine_extension_headers_are_malformed", XDP, FX_MAIN,
	  { T(FX_ADM6, FX_HOST6, 40000, 8470, SYN),
	    .ext = { 60, 60, 60, 60, 60, 60, 60, 60, 60 }, .n_ext = 9 },
	  DROP, R_MALFORMED },
	{ "ipv6_hop_by_hop_after_another_header_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM6, FX_HOST6, 40000, 8470, SYN), .ext = { 60, 0 }, .n_ext = 2 }, DROP,
	  R_MALFORMED },
	{ "ipv6_extension_header_past_the_payload_length_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM6, FX_HOST6, 40000, 8470, SYN), .ext = { 60 }, .n_ext = 1,
	    .payload_len_delta = -24 },
	  DROP, R_MALFORMED },
	{ "ipv6_payload_length_past_the_frame_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM6, FX_HOST6, 40000, 8470, SYN), .payload_len_delta = 8 }, DROP,
	  R_MALFORMED },
	{ "truncated_ipv6_header_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM6, FX_HOST6, 40000, 8470, SYN), .truncate = PKT_ETH_HLEN + 30 }, DROP,
	  R_MALFORMED },

	/* ---- ingress: malformed IPv4 and transport headers ---- */
	{ "ipv4_options_are_skipped", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .ip_opt_len = 8 }, PASS, R_RULE,
	  "mgmt-console" },
	{ "ethernet_padding_after_the_packet_is_ignored", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .pad = 30 }, PASS, R_RULE, "mgmt-console" },
	{ "ihl_below_5_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .ihl = 4 }, DROP, R_MALFORMED },
	{ "ihl_past_the_packet_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .ihl = 15 }, DROP, R_MALFORMED },
	{ "total_length_below_the_header_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .tot_len_delta = -30 }, DROP, R_MALFORMED },
	{ "total_length_past_the_frame_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .tot_len_delta = 10 }, DROP, R_MALFORMED },
	{ "truncated_ipv4_header_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .truncate = PKT_ETH_HLEN + 12 }, DROP,
	  R_MALFORMED },
	{ "tcp_options_are_skipped", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .tcp_opt_len = 12 }, PASS, R_RULE,
	  "mgmt-console" },
	{ "tcp_data_offset_below_5_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .doff = 4 }, DROP, R_MALFORMED },
	{ "tcp_data_offset_past_the_packet_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .doff = 15 }, DROP, R_MALFORMED },
	{ "truncated_tcp_header_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .l4_keep = 12 }, DROP, R_MALFORMED },
	{ "syn_with_fin_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN | PKT_FIN) }, DROP, R_MALFORMED },
	{ "syn_with_rst_is_malformed", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN | PKT_RST) }, DROP, R_MALFORMED },
	{ "udp_to_an_allowed_port_counts_as_its_rule", XDP, FX_MAIN,
	  { U(FX_ADM4, FX_HOST4, 5000, 514) }, PASS, R_RULE, "syslog" },
	{ "ipv6_udp_to_an_allowed_port_counts_as_its_rule", XDP, FX_MAIN,
	  { U(FX_ADM6, FX_HOST6, 5000, 514) }, PASS, R_RULE, "syslog" },
	{ "truncated_udp_header_is_malformed", XDP, FX_MAIN,
	  { U(FX_ADM4, FX_HOST4, 5000, 514), .payload = 0, .l4_keep = 6 }, DROP, R_MALFORMED },
	{ "udp_length_below_8_is_malformed", XDP, FX_MAIN,
	  { U(FX_ADM4, FX_HOST4, 5000, 514), .payload = 0, .udp_len_delta = -1 }, DROP,
	  R_MALFORMED },
	{ "udp_length_past_the_ip_payload_is_malformed", XDP, FX_MAIN,
	  { U(FX_ADM4, FX_HOST4, 5000, 514), .udp_len_delta = 4 }, DROP, R_MALFORMED },
	{ "udp_to_a_port_without_rule_or_flow_is_dropped", XDP, FX_MAIN,
	  { U(FX_OUT4, FX_HOST4, 5000, 9999) }, DROP, R_NO_RULE },

	/* ---- ingress: ICMP errors pass about flows of the host ---- */
	{ "icmp_unreachable_about_a_flow_of_the_host_passes_as_icmp", XDP, FX_MAIN,
	  { I4(FX_OUT4, FX_HOST4, 3), Q(FX_HOST4, FX_OUT4, IPPROTO_TCP, 40500, 443) }, PASS,
	  SPEE_REASON_ICMP, .setup = setup_flow_the_host_sent },
	{ "icmp_unreachable_about_no_flow_of_the_host_is_dropped", XDP, FX_MAIN,
	  { I4(FX_OUT4, FX_HOST4, 3), Q(FX_HOST4, FX_OUT4, IPPROTO_TCP, 40501, 443) }, DROP,
	  R_NO_RULE },
	{ "icmp_unreachable_quoting_nothing_is_dropped", XDP, FX_MAIN, { I4(FX_OUT4, FX_HOST4, 3) },
	  DROP, R_NO_RULE },
	{ "icmp_error_about_a_packet_from_another_source_is_dropped", XDP, FX_MAIN,
	  { I4(FX_OUT4, FX_HOST4, 3), Q(FX_CAS4, FX_OUT4, IPPROTO_TCP, 40500, 443) }, DROP,
	  R_NO_RULE, .setup = setup_flow_the_host_sent },
	{ "icmp_time_exceeded_about_a_real_connection_passes_as_icmp", XDP, FX_MAIN,
	  { I4(FX_OUT4, SOCK4, 11), Q(SOCK4, SOCK4, IPPROTO_TCP, 0, 0) }, PASS, SPEE_REASON_ICMP,
	  .setup = setup_quote_conn4 },
	{ "icmp_parameter_problem_about_a_udp_flow_passes_as_icmp", XDP, FX_MAIN,
	  { I4(FX_OUT4, FX_HOST4, 12), Q(FX_HOST4, FX_OUT4, IPPROTO_UDP, 40502, 123) }, PASS,
	  SPEE_REASON_ICMP, .setup = setup_flow_the_host_sent },
	{ "icmp_error_about_an_expired_udp_flow_is_dropped", XDP, FX_MAIN,
	  { I4(FX_OUT4, FX_HOST4, 12), Q(FX_HOST4, FX_OUT4, IPPROTO_UDP, 40503, 123) }, DROP,
	  R_NO_RULE, .setup = setup_stale_flow_the_host_sent },
	{ "icmp_frag_needed_about_a_flow_passes_as_icmp", XDP, FX_MAIN,
	  { I4(FX_OUT4, FX_HOST4, 3), .icmp_code = 4, Q(FX_HOST4, FX_OUT4, IPPROTO_TCP, 40504, 80) },
	  PASS, SPEE_REASON_ICMP, .setup = setup_flow_the_host_sent },
	{ "icmpv6_packet_too_big_about_a_flow_passes_as_icmp", XDP, FX_MAIN,
	  { I6(FX_OUT6, FX_HOST6, 2), Q(FX_HOST6, FX_OUT6, IPPROTO_TCP, 40505, 443) }, PASS,
	  SPEE_REASON_ICMP, .setup = setup_flow_the_host_sent },
	{ "icmpv6_error_quoting_a_first_fragment_passes_as_icmp", XDP, FX_MAIN,
	  { I6(FX_OUT6, FX_HOST6, 1), Q(FX_HOST6, FX_OUT6, IPPROTO_UDP, 40506, 123),
	    .q_frag = true },
	  PASS, SPEE_REASON_ICMP, .setup = setup_flow_the_host_sent },
	{ "icmpv6_unreachable_about_no_flow_is_dropped", XDP, FX_MAIN,
	  { I6(FX_OUT6, FX_HOST6, 1), Q(FX_HOST6, FX_OUT6, IPPROTO_UDP, 40507, 123) }, DROP,
	  R_NO_RULE },
	/* ... and about the host's echo requests (a ping to an unreachable address) */
	{ "icmp_unreachable_about_a_ping_the_host_sent_passes_as_icmp", XDP, FX_MAIN,
	  { I4(FX_OUT4, FX_HOST4, 3), Q(FX_HOST4, FX_OUT4, IPPROTO_ICMP, 0x5e10, 1) }, PASS,
	  SPEE_REASON_ICMP, .setup = setup_ping_the_host_sent },
	{ "icmp_time_exceeded_about_another_ping_is_dropped", XDP, FX_MAIN,
	  { I4(FX_OUT4, FX_HOST4, 11), Q(FX_HOST4, FX_OUT4, IPPROTO_ICMP, 0x5e20, 1) }, DROP,
	  R_NO_RULE, .setup = setup_other_ping_the_host_sent },
	{ "icmp_unreachable_about_a_ping_the_peer_asked_is_dropped", XDP, FX_MAIN,
	  { I4(FX_OUT4, FX_HOST4, 3), Q(FX_HOST4, FX_OUT4, IPPROTO_ICMP, 0x5e30, 1) }, DROP,
	  R_NO_RULE, .setup = setup_ping_the_host_received },
	{ "icmpv6_unreachable_about_a_ping_the_host_sent_passes_as_icmp", XDP, FX_MAIN,
	  { I6(FX_OUT6, FX_HOST6, 1), Q(FX_HOST6, FX_OUT6, IPPROTO_ICMPV6, 0x5e40, 1) }, PASS,
	  SPEE_REASON_ICMP, .setup = setup_ping_the_host_sent },
	{ "icmpv6_unreachable_about_no_ping_is_dropped", XDP, FX_MAIN,
	  { I6(FX_OUT6, FX_HOST6, 1), Q(FX_HOST6, FX_OUT6, IPPROTO_ICMPV6, 0x5e50, 1) }, DROP,
	  R_NO_RULE },
	{ "icmp_is_malformed_when_its_header_is_cut", XDP, FX_MAIN,
	  { I4(FX_OUT4, FX_HOST4, 3), .l4_keep = 3 }, DROP, R_MALFORMED },
	{ "neighbour_solicitation_passes_as_nd", XDP, FX_MAIN, { I6(FX_OUT6, FX_HOST6, 135) },
	  PASS, SPEE_REASON_ND },
	{ "router_advertisement_passes_as_nd", XDP, FX_MAIN, { I6(FX_OUT6, FX_HOST6, 134) },
	  PASS, SPEE_REASON_ND },
	{ "mld_query_passes_as_nd", XDP, FX_MAIN, { I6(FX_OUT6, FX_HOST6, 130) }, PASS,
	  SPEE_REASON_ND },
	{ "mldv2_report_passes_as_nd", XDP, FX_MAIN, { I6(FX_OUT6, FX_HOST6, 143) }, PASS,
	  SPEE_REASON_ND },
	{ "icmp_echo_has_no_rule", XDP, FX_MAIN, { I4(FX_OUT4, FX_HOST4, 8) }, DROP, R_NO_RULE },
	{ "icmpv6_echo_has_no_rule", XDP, FX_MAIN, { I6(FX_OUT6, FX_HOST6, 128) }, DROP,
	  R_NO_RULE },
	{ "gre_has_no_rule", XDP, FX_MAIN, { .src = FX_OUT4, .dst = FX_HOST4, .proto = 47 },
	  DROP, R_NO_RULE },

	/* ---- ingress: the host's packets only (CONTRACT.md section 4: scope) ---- */
	{ "syn_to_another_address_is_not_the_hosts_and_passes_as_transit", XDP, FX_MAIN,
	  { T(FX_OUT4, FX_CAS4, 40000, 22, SYN) },
	  PASS, SPEE_REASON_TRANSIT },
	{ "ipv6_syn_to_another_address_passes_as_transit", XDP, FX_MAIN,
	  { T(FX_OUT6, FX_CAS6, 40000, 22, SYN) },
	  PASS, SPEE_REASON_TRANSIT },
	{ "multicast_is_the_hosts_and_judged", XDP, FX_MAIN,
	  { U(FX_OUT4, "224.0.0.251", 5353, 5353) },
	  DROP, R_NO_RULE },
	{ "limited_broadcast_is_the_hosts_and_judged", XDP, FX_MAIN,
	  { U(FX_OUT4, "255.255.255.255", 5000, 9) },
	  DROP, R_NO_RULE },
	/* ---- ingress: fragments ---- */
	{ "first_fragment_of_an_allowed_datagram_counts_as_its_rule", XDP, FX_MAIN,
	  { U(FX_ADM4, FX_HOST4, 5000, 514), .frag = true, .more_frags = true, .ip_id = 77,
	    .payload = 96 },
	  PASS, R_RULE, "syslog" },
	{ "later_fragment_follows_its_first_fragment_and_adds_bytes_not_a_datagram", XDP,
	  FX_MAIN,
	  { .src = FX_ADM4, .dst = FX_HOST4, .proto = IPPROTO_UDP, .frag = true,
	    .frag_offset = 104, .ip_id = 77, .payload = 40 },
	  PASS, R_RULE, "syslog", .counted_already = true },
	{ "later_fragment_ahead_of_its_first_goes_to_the_kernel_reassembly", XDP, FX_MAIN,
	  { .src = FX_ADM4, .dst = FX_HOST4, .proto = IPPROTO_UDP, .frag = true,
	    .frag_offset = 104, .ip_id = 78, .payload = 40 },
	  PASS, SPEE_REASON_REASSEMBLY },
	/* not the host's: forwarded, not reassembled here (CONTRACT.md section 4) */
	{ "later_fragment_for_another_address_without_its_first_passes_as_transit", XDP, FX_MAIN,
	  { .src = FX_ADM4, .dst = FX_OUT4, .proto = IPPROTO_UDP, .frag = true,
	    .frag_offset = 104, .ip_id = 78, .payload = 40 },
	  PASS, SPEE_REASON_TRANSIT },
	{ "later_fragment_of_a_stale_first_fragment_is_as_good_as_unknown", XDP, FX_MAIN,
	  { .src = FX_ADM4, .dst = FX_HOST4, .proto = IPPROTO_UDP, .frag = true,
	    .frag_offset = 104, .ip_id = 79, .payload = 40 },
	  PASS, SPEE_REASON_REASSEMBLY, .setup = setup_stale_fragment },
	{ "first_fragment_without_rule_is_dropped_as_no_rule", XDP, FX_MAIN,
	  { U(FX_OUT4, FX_HOST4, 5000, 9999), .frag = true, .more_frags = true, .ip_id = 80,
	    .payload = 96 },
	  DROP, R_NO_RULE },
	{ "later_fragment_of_a_dropped_first_fragment_is_dropped_as_fragment", XDP, FX_MAIN,
	  { .src = FX_OUT4, .dst = FX_HOST4, .proto = IPPROTO_UDP, .frag = true,
	    .frag_offset = 104, .ip_id = 80, .payload = 40 },
	  DROP, R_FRAGMENT },
	{ "tcp_fragment_overlapping_the_tcp_header_is_dropped", XDP, FX_MAIN,
	  { .src = FX_ADM4, .dst = FX_HOST4, .proto = IPPROTO_TCP, .frag = true,
	    .frag_offset = 8, .ip_id = 81, .payload = 40 },
	  DROP, R_FRAGMENT },
	{ "first_fragment_too_short_for_the_tcp_header_is_dropped", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .frag = true, .more_frags = true,
	    .ip_id = 82, .l4_keep = 16 },
	  DROP, R_FRAGMENT },
	{ "ipv6_first_fragment_counts_as_its_rule", XDP, FX_MAIN,
	  { U(FX_ADM6, FX_HOST6, 5000, 514), .frag = true, .more_frags = true,
	    .frag_id = 0x1234, .payload = 96 },
	  PASS, R_RULE, "syslog" },
	{ "ipv6_later_fragment_follows_its_first_fragment", XDP, FX_MAIN,
	  { .src = FX_ADM6, .dst = FX_HOST6, .proto = IPPROTO_UDP, .frag = true,
	    .frag_offset = 104, .frag_id = 0x1234, .payload = 40 },
	  PASS, R_RULE, "syslog", .counted_already = true },
	{ "ipv6_later_fragment_ahead_of_its_first_goes_to_the_kernel_reassembly", XDP, FX_MAIN,
	  { .src = FX_ADM6, .dst = FX_HOST6, .proto = IPPROTO_UDP, .frag = true,
	    .frag_offset = 104, .frag_id = 0x1235, .payload = 40 },
	  PASS, SPEE_REASON_REASSEMBLY },
	{ "ipv6_tcp_fragment_overlapping_the_header_is_dropped", XDP, FX_MAIN,
	  { .src = FX_ADM6, .dst = FX_HOST6, .proto = IPPROTO_TCP, .frag = true,
	    .frag_offset = 16, .frag_id = 0x1236, .payload = 40 },
	  DROP, R_FRAGMENT },
	{ "ipv6_first_fragment_too_short_for_the_tcp_header_is_dropped", XDP, FX_MAIN,
	  { T(FX_ADM6, FX_HOST6, 40000, 8470, SYN), .frag = true, .more_frags = true,
	    .frag_id = 0x1237, .l4_keep = 12 },
	  DROP, R_FRAGMENT },
	{ "ipv6_atomic_fragment_is_a_whole_packet", XDP, FX_MAIN,
	  { U(FX_ADM6, FX_HOST6, 5000, 514), .frag = true, .frag_id = 0x1238 }, PASS, R_RULE,
	  "syslog" },

	/* ---- TCP state: the flow table ---- */
	{ "unsolicited_ack_from_an_allowed_remote_port_is_dropped", XDP, FX_MAIN,
	  { T(FX_OUT4, FX_HOST4, 443, 40010, ACK) }, DROP, R_NO_RULE },
	{ "outbound_syn_counts_as_its_rule_and_records_the_flow", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_OUT4, 40011, 80, SYN) }, PASS, R_RULE, "ca-revocation",
	  .check = check_out_flow_established },
	{ "syn_ack_of_a_recorded_flow_passes_as_established", XDP, FX_MAIN,
	  { T(FX_OUT4, FX_HOST4, 80, 40011, SYN | ACK) }, PASS, R_ESTABLISHED },
	{ "ack_of_a_recorded_flow_passes_as_established", XDP, FX_MAIN,
	  { T(FX_OUT4, FX_HOST4, 80, 40011, ACK) }, PASS, R_ESTABLISHED },
	{ "outbound_fin_of_a_recorded_flow_removes_it", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_OUT4, 40011, 80, PKT_FIN | ACK) }, PASS, R_ESTABLISHED,
	  .check = check_out_flow_gone },
	{ "ack_after_the_flow_is_gone_without_a_socket_is_dropped", XDP, FX_MAIN,
	  { T(FX_OUT4, FX_HOST4, 80, 40011, ACK) }, DROP, R_NO_RULE },
	{ "ipv6_outbound_syn_records_the_flow", EGRESS, FX_MAIN,
	  { T(FX_HOST6, FX_OUT6, 40012, 80, SYN) }, PASS, R_RULE, "ca-revocation",
	  .check = check_out_flow_established },
	{ "ipv6_syn_ack_of_a_recorded_flow_passes_as_established", XDP, FX_MAIN,
	  { T(FX_OUT6, FX_HOST6, 80, 40012, SYN | ACK) }, PASS, R_ESTABLISHED },
	{ "denied_outbound_syn_records_no_flow", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_OUT4, 40013, 25, SYN) }, DROP, R_NO_RULE,
	  .check = check_out_flow_gone },
	{ "outbound_ack_without_connection_is_dropped", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_OUT4, 40014, 443, ACK) }, DROP, R_NO_RULE },

	/* ---- TCP state: the socket-lookup fallback, on real connections ---- */
	{ "ack_of_a_real_connection_is_found_by_socket_lookup_and_cached", XDP, FX_MAIN,
	  { T(SOCK4, SOCK4, 0, 0, ACK) }, PASS, R_ESTABLISHED, .setup = setup_conn4_from_client,
	  .check = check_in_flow_established },
	{ "ipv6_ack_of_a_real_connection_is_found_by_socket_lookup", XDP, FX_MAIN,
	  { T(SOCK6, SOCK6, 0, 0, ACK) }, PASS, R_ESTABLISHED, .setup = setup_conn6_from_client,
	  .check = check_in_flow_established },
	{ "outbound_raw_ack_of_a_real_connection_is_found_by_socket_lookup", EGRESS, FX_MAIN,
	  { T(SOCK4, SOCK4, 0, 0, ACK) }, PASS, R_ESTABLISHED, .setup = setup_conn4_from_client },
	{ "ipv6_outbound_raw_ack_of_a_real_connection_is_found", EGRESS, FX_MAIN,
	  { T(SOCK6, SOCK6, 0, 0, ACK) }, PASS, R_ESTABLISHED, .setup = setup_conn6_from_client },
	{ "outbound_syn_ack_of_an_accepted_connection_records_the_flow", EGRESS, FX_MAIN,
	  { T(SOCK4, SOCK4, 0, 0, SYN | ACK) }, PASS, R_ESTABLISHED,
	  .setup = setup_conn4_from_server, .check = check_out_flow_established },
	{ "ack_to_a_listener_from_a_peer_the_rule_allows_passes_as_established", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 50001, LISTEN_PORT, ACK) }, PASS, R_ESTABLISHED },
	{ "ack_to_a_listener_from_elsewhere_is_dropped", XDP, FX_MAIN,
	  { T(FX_OUT4, FX_HOST4, 50001, LISTEN_PORT, ACK) }, DROP, R_NO_RULE },

	/* ---- UDP state ---- */
	{ "outbound_ntp_counts_as_its_rule_and_records_the_flow", EGRESS, FX_MAIN,
	  { U(FX_HOST4, FX_OUT4, 40020, 123) }, PASS, R_RULE, "ntp-out",
	  .check = check_out_flow_udp },
	{ "ntp_reply_passes_as_udp_reply", XDP, FX_MAIN, { U(FX_OUT4, FX_HOST4, 123, 40020) },
	  PASS, SPEE_REASON_UDP_REPLY },
	{ "udp_from_the_ntp_port_to_another_port_is_dropped", XDP, FX_MAIN,
	  { U(FX_OUT4, FX_HOST4, 123, 40021) }, DROP, R_NO_RULE },
	{ "udp_reply_after_the_flow_expired_is_dropped", XDP, FX_MAIN,
	  { U(FX_OUT4, FX_HOST4, 123, 40022) }, DROP, R_NO_RULE,
	  .setup = setup_stale_udp_flow },
	/* replies are let in for exactly udp-timeout after the last datagram sent */
	{ "every_datagram_refreshes_its_flow_not_once_a_second", EGRESS, FX_MAIN,
	  { U(FX_HOST4, FX_OUT4, 40023, 123) }, PASS, R_RULE, "ntp-out",
	  .setup = setup_flow_sent_half_a_second_ago, .check = check_flow_refreshed_now },
	{ "a_reply_just_inside_the_udp_timeout_passes", XDP, FX_MAIN,
	  { U(FX_OUT4, FX_HOST4, 123, 40024) }, PASS, SPEE_REASON_UDP_REPLY,
	  .setup = setup_reply_flow_just_inside_the_timeout },
	{ "a_reply_just_past_the_udp_timeout_is_dropped", XDP, FX_MAIN,
	  { U(FX_OUT4, FX_HOST4, 123, 40025) }, DROP, R_NO_RULE,
	  .setup = setup_reply_flow_just_past_the_timeout },
	{ "dns_query_to_a_resolver_passes_as_dns", EGRESS, FX_MAIN,
	  { U(FX_HOST4, FX_RES4, 40030, 53) }, PASS, SPEE_REASON_DNS,
	  .check = check_out_flow_dns },
	{ "dns_answer_passes_as_dns", XDP, FX_MAIN, { U(FX_RES4, FX_HOST4, 53, 40030) }, PASS,
	  SPEE_REASON_DNS },
	{ "ipv6_dns_query_to_a_resolver_passes_as_dns", EGRESS, FX_MAIN,
	  { U(FX_HOST6, FX_RES6, 40031, 53) }, PASS, SPEE_REASON_DNS },
	{ "ipv6_dns_answer_passes_as_dns", XDP, FX_MAIN, { U(FX_RES6, FX_HOST6, 53, 40031) },
	  PASS, SPEE_REASON_DNS },
	{ "dns_over_tcp_to_a_resolver_passes_as_dns", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_RES4, 40032, 53, SYN) }, PASS, SPEE_REASON_DNS },
	{ "dns_to_another_server_is_dropped", EGRESS, FX_MAIN,
	  { U(FX_HOST4, FX_OUT4, 40033, 53) }, DROP, R_NO_RULE },
	{ "an_allowed_inbound_udp_datagram_records_its_flow", XDP, FX_MAIN,
	  { U(FX_ADM4, FX_HOST4, 50001, 514) }, PASS, R_RULE, "syslog",
	  .check = check_in_flow_udp },
	{ "an_answer_to_a_datagram_let_in_passes_as_udp_reply", EGRESS, FX_MAIN,
	  { U(FX_HOST4, FX_ADM4, 514, 50002) }, PASS, SPEE_REASON_UDP_REPLY,
	  .setup = setup_fresh_inbound_udp_flow },
	{ "udp_from_an_allowed_port_that_no_datagram_asked_for_is_dropped", EGRESS, FX_MAIN,
	  { U(FX_HOST4, FX_ADM4, 514, 50003) }, DROP, R_NO_RULE },
	{ "an_answer_after_the_udp_timeout_is_dropped", EGRESS, FX_MAIN,
	  { U(FX_HOST4, FX_ADM4, 514, 50004) }, DROP, R_NO_RULE,
	  .setup = setup_stale_inbound_udp_flow },
	{ "udp_from_that_port_to_peers_the_rule_does_not_allow_is_dropped", EGRESS, FX_MAIN,
	  { U(FX_HOST4, FX_OUT4, 514, 50000) }, DROP, R_NO_RULE },

	/* ---- egress: the host itself ---- */
	{ "packet_to_127_0_0_1_passes_as_loopback", EGRESS, FX_MAIN,
	  { T(FX_HOST4, "127.0.0.1", 40040, 25, SYN) }, PASS, SPEE_REASON_LOOPBACK },
	{ "packet_to_ipv6_loopback_passes_as_loopback", EGRESS, FX_MAIN,
	  { T(FX_HOST6, "::1", 40040, 25, SYN) }, PASS, SPEE_REASON_LOOPBACK },
	{ "packet_to_the_host_own_address_passes_as_loopback", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_HOST4, 40040, 25, SYN) }, PASS, SPEE_REASON_LOOPBACK },
	{ "packet_to_the_host_own_ipv6_address_passes_as_loopback", EGRESS, FX_MAIN,
	  { T(FX_HOST6, FX_HOST6, 40040, 25, SYN) }, PASS, SPEE_REASON_LOOPBACK },
	{ "anything_on_the_loopback_device_passes_as_loopback", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_OUT4, 40041, 25, SYN) }, PASS, SPEE_REASON_LOOPBACK, .ifindex = 1 },

	/* ---- egress: rules ---- */
	{ "outbound_https_counts_as_the_earlier_of_two_identical_rules", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_OUT4, 40050, 443, SYN) }, PASS, R_RULE, "ih-ews" },
	{ "ipv6_outbound_https_counts_as_the_earlier_rule", EGRESS, FX_MAIN,
	  { T(FX_HOST6, FX_OUT6, 40050, 443, SYN) }, PASS, R_RULE, "ih-ews" },
	{ "https_to_my_mailstore_counts_as_mgmt_license", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_MS4, 40051, 443, SYN) }, PASS, R_RULE, "mgmt-license" },
	{ "ipv6_https_to_my_mailstore_counts_as_mgmt_license", EGRESS, FX_MAIN,
	  { T(FX_HOST6, FX_MS6, 40051, 443, SYN) }, PASS, R_RULE, "mgmt-license" },
	{ "a_rule_whose_name_has_no_addresses_allows_nothing", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_OUT4, 40052, 8443, SYN) }, DROP, R_NO_RULE },
	{ "outbound_smtp_is_dropped", EGRESS, FX_MAIN, { T(FX_HOST4, FX_OUT4, 40053, 25, SYN) },
	  DROP, R_NO_RULE },
	/* an ICMP error leaving must quote a packet the host received, of a flow it holds */
	{ "outbound_port_unreachable_about_a_datagram_let_in_passes_as_icmp", EGRESS, FX_MAIN,
	  { I4(FX_HOST4, FX_ADM4, 3), .icmp_code = 3,
	    Q(FX_ADM4, FX_HOST4, IPPROTO_UDP, 5000, 514) },
	  PASS, SPEE_REASON_ICMP, .setup = setup_flow_the_host_received },
	{ "outbound_icmp_error_about_a_ping_the_peer_asked_passes_as_icmp", EGRESS, FX_MAIN,
	  { I4(FX_HOST4, FX_ADM4, 11), Q(FX_ADM4, FX_HOST4, IPPROTO_ICMP, 0x5e60, 1) }, PASS,
	  SPEE_REASON_ICMP, .setup = setup_ping_the_host_received },
	{ "outbound_icmp_unreachable_carrying_made_up_data_is_dropped", EGRESS, FX_MAIN,
	  { I4(FX_HOST4, FX_OUT4, 3), .payload = 64 }, DROP, R_NO_RULE },
	{ "outbound_icmp_error_quoting_a_packet_never_received_is_dropped", EGRESS, FX_MAIN,
	  { I4(FX_HOST4, FX_OUT4, 11), Q(FX_OUT4, FX_HOST4, IPPROTO_UDP, 5000, 514) }, DROP,
	  R_NO_RULE },
	{ "outbound_icmp_error_sent_elsewhere_than_the_quoted_source_is_dropped", EGRESS,
	  FX_MAIN, { I4(FX_HOST4, FX_OUT4, 3), Q(FX_ADM4, FX_HOST4, IPPROTO_UDP, 5000, 514) },
	  DROP, R_NO_RULE, .setup = setup_flow_the_host_received },
	{ "outbound_icmp_error_naming_a_listener_but_no_connection_is_dropped", EGRESS, FX_MAIN,
	  { I4(FX_HOST4, FX_OUT4, 3), Q(FX_OUT4, FX_HOST4, IPPROTO_TCP, 50000, LISTEN_PORT) },
	  DROP, R_NO_RULE },
	{ "outbound_icmpv6_error_about_a_real_connection_passes_as_icmp", EGRESS, FX_MAIN,
	  { I6(SOCK6, SOCK6, 1), Q(SOCK6, SOCK6, IPPROTO_TCP, 0, 0) }, PASS, SPEE_REASON_ICMP,
	  .setup = setup_quote_conn6 },
	/* neighbour discovery and MLD leave only onto the link */
	{ "outbound_neighbour_advertisement_to_the_own_prefix_passes_as_nd", EGRESS, FX_MAIN,
	  { I6(FX_HOST6, FX_OUT6, 136), .ttl = 255 }, PASS, SPEE_REASON_ND },
	{ "outbound_neighbour_solicitation_to_a_solicited_node_group_passes_as_nd", EGRESS,
	  FX_MAIN, { I6(FX_HOST6, "ff02::1:ff04:1", 135), .ttl = 255 }, PASS, SPEE_REASON_ND },
	{ "outbound_neighbour_solicitation_to_a_link_local_address_passes_as_nd", EGRESS,
	  FX_MAIN, { I6("fe80::10", "fe80::4:1", 135), .ttl = 255 }, PASS, SPEE_REASON_ND },
	{ "outbound_mld_report_with_hop_limit_1_passes_as_nd", EGRESS, FX_MAIN,
	  { I6("fe80::10", "ff02::16", 143), .ttl = 1, .ext = { 0 }, .n_ext = 1 }, PASS,
	  SPEE_REASON_ND },
	{ "outbound_neighbour_advertisement_beyond_the_link_is_dropped", EGRESS, FX_MAIN,
	  { I6(FX_HOST6, "fd00:5f::4:1", 136), .ttl = 255 }, DROP, R_NO_RULE },
	{ "outbound_neighbour_solicitation_with_a_routable_hop_limit_is_dropped", EGRESS, FX_MAIN,
	  { I6(FX_HOST6, FX_OUT6, 135), .ttl = 64 }, DROP, R_NO_RULE },
	{ "outbound_mld_report_with_a_routable_hop_limit_is_dropped", EGRESS, FX_MAIN,
	  { I6("fe80::10", "ff02::16", 143), .ttl = 64 }, DROP, R_NO_RULE },
	{ "outbound_echo_has_no_rule", EGRESS, FX_MAIN, { I4(FX_HOST4, FX_OUT4, 8) }, DROP,
	  R_NO_RULE },
	{ "outbound_gre_has_no_rule", EGRESS, FX_MAIN,
	  { .src = FX_HOST4, .dst = FX_OUT4, .proto = 47 }, DROP, R_NO_RULE },
	{ "outbound_ihl_below_5_is_malformed", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_OUT4, 40054, 80, SYN), .ihl = 4 }, DROP, R_MALFORMED },
	{ "outbound_truncated_tcp_header_is_malformed", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_OUT4, 40054, 80, SYN), .l4_keep = 12 }, DROP, R_MALFORMED },
	{ "outbound_length_beyond_the_buffer_is_gso_not_malformed", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_OUT4, 40055, 80, SYN), .tot_len_delta = 3000 }, PASS, R_RULE,
	  "ca-revocation" },
	{ "outbound_zero_total_length_is_big_tcp_not_malformed", EGRESS, FX_MAIN,
	  { T(FX_HOST4, FX_OUT4, 40056, 80, SYN), .tot_len_delta = -40 }, PASS, R_RULE,
	  "ca-revocation" },
	{ "outbound_ipv6_zero_payload_length_is_not_malformed", EGRESS, FX_MAIN,
	  { T(FX_HOST6, FX_OUT6, 40057, 80, SYN), .payload_len_delta = -20 }, PASS, R_RULE,
	  "ca-revocation" },
	{ "outbound_first_fragment_counts_as_its_rule", EGRESS, FX_MAIN,
	  { U(FX_HOST4, FX_OUT4, 40060, 123), .frag = true, .more_frags = true, .ip_id = 90,
	    .payload = 96 },
	  PASS, R_RULE, "ntp-out" },
	{ "outbound_later_fragment_follows_its_first_fragment", EGRESS, FX_MAIN,
	  { .src = FX_HOST4, .dst = FX_OUT4, .proto = IPPROTO_UDP, .frag = true,
	    .frag_offset = 104, .ip_id = 90, .payload = 40 },
	  PASS, R_RULE, "ntp-out", .counted_already = true },
	{ "outbound_later_fragment_without_its_first_is_dropped", EGRESS, FX_MAIN,
	  { .src = FX_HOST4, .dst = FX_OUT4, .proto = IPPROTO_UDP, .frag = true,
	    .frag_offset = 104, .ip_id = 91, .payload = 40 },
	  DROP, R_FRAGMENT },

	/* ---- audit mode: nothing dropped, the same reasons counted ---- */
	{ "audit_passes_no_rule_and_counts_it", XDP, FX_AUDIT,
	  { T(FX_OUT4, FX_HOST4, 40000, 8470, SYN) }, PASS, R_NO_RULE },
	{ "audit_passes_malformed_and_counts_it", XDP, FX_AUDIT,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .ihl = 4 }, PASS, R_MALFORMED },
	{ "audit_passes_fragments_and_counts_them", XDP, FX_AUDIT,
	  { .src = FX_ADM4, .dst = FX_HOST4, .proto = IPPROTO_TCP, .frag = true,
	    .frag_offset = 8, .ip_id = 92, .payload = 40 },
	  PASS, R_FRAGMENT },
	{ "audit_counts_rules_as_usual", XDP, FX_AUDIT, { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN) },
	  PASS, R_RULE, "mgmt-console" },
	{ "audit_passes_outbound_no_rule_and_counts_it", EGRESS, FX_AUDIT,
	  { T(FX_HOST4, FX_OUT4, 40070, 25, SYN) }, PASS, R_NO_RULE },

	/* ---- default pass ---- */
	{ "default_pass_lets_no_rule_through", XDP, FX_DEFPASS,
	  { T(FX_OUT4, FX_HOST4, 40000, 8470, SYN) }, PASS, R_NO_RULE },
	{ "default_pass_still_drops_malformed", XDP, FX_DEFPASS,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN), .ihl = 4 }, DROP, R_MALFORMED },
	{ "default_pass_still_counts_rules", XDP, FX_DEFPASS,
	  { T(FX_ADM4, FX_HOST4, 40000, 8470, SYN) }, PASS, R_RULE, "mgmt-console" },
	{ "default_pass_lets_outbound_no_rule_through", EGRESS, FX_DEFPASS,
	  { T(FX_HOST4, FX_OUT4, 40080, 25, SYN) }, PASS, R_NO_RULE,
	  .check = check_out_flow_established },

	/* ---- after a switch to another policy ---- */
	{ "after_the_switch_a_removed_rule_no_longer_applies", EGRESS, FX_SWITCHED,
	  { U(FX_HOST4, FX_OUT4, 40090, 123) }, DROP, R_NO_RULE },
	{ "after_the_switch_a_new_rule_applies", XDP, FX_SWITCHED,
	  { T(FX_ADM4, FX_HOST4, 40091, 9100, SYN) }, PASS, R_RULE, "metrics" },
	{ "after_the_switch_unchanged_rules_still_apply", XDP, FX_SWITCHED,
	  { T(FX_ADM4, FX_HOST4, 40091, 8470, SYN) }, PASS, R_RULE, "mgmt-console" },
	{ "after_the_switch_the_prefix_rule_still_wins", XDP, FX_SWITCHED,
	  { T(FX_LAB4, FX_HOST4, 40000, 443, SYN) }, PASS, R_RULE, "lab-https" },
	{ "switching_back_restores_the_removed_rule", EGRESS, FX_MAIN,
	  { U(FX_HOST4, FX_OUT4, 40092, 123) }, PASS, R_RULE, "ntp-out" },
	{ "switching_back_removes_the_new_rule", XDP, FX_MAIN,
	  { T(FX_ADM4, FX_HOST4, 40093, 9100, SYN) }, DROP, R_NO_RULE },
};
#pragma GCC diagnostic pop

/* ---- the compiled policy: connections opened to and from mgmt1 ---- */

#define IN SPEE_DIR_INGRESS
#define OUT SPEE_DIR_EGRESS
#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP

struct conn_row {
	const char *name;
	uint8_t dir;
	uint8_t proto;
	const char *peer; /* the remote address */
	uint16_t port; /* the destination port */
	bool pass;
	uint8_t reason;
	const char *rule;
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct conn_row conn_rows[] = {
	{ "config_adm_reaches_the_console", IN, TCP, FX_ADM4, 8470, PASS, R_RULE, "mgmt-console" },
	{ "config_ipv6_adm_reaches_the_console", IN, TCP, FX_ADM6, 8470, PASS, R_RULE,
	  "mgmt-console" },
	{ "config_an_outsider_cannot_reach_the_console", IN, TCP, FX_OUT4, 8470, DROP, R_NO_RULE },
	{ "config_cas_reaches_mgmt_internal", IN, TCP, FX_CAS4, 8471, PASS, R_RULE,
	  "mgmt-internal" },
	{ "config_ipv6_cas_reaches_mgmt_internal", IN, TCP, FX_CAS6, 8471, PASS, R_RULE,
	  "mgmt-internal" },
	{ "config_another_ih_reaches_mgmt_internal", IN, TCP, FX_IH4, 8471, PASS, R_RULE,
	  "mgmt-internal" },
	{ "config_cas_reaches_ih_internal", IN, TCP, FX_CAS4, 8472, PASS, R_RULE, "ih-internal" },
	{ "config_another_ih_cannot_reach_ih_internal", IN, TCP, FX_IH4, 8472, DROP, R_NO_RULE },
	{ "config_cas_pairs_with_mgmt", IN, TCP, FX_CAS4, 8474, PASS, R_RULE, "mgmt-pairing" },
	{ "config_adm_reaches_the_api", IN, TCP, FX_ADM4, 8474, PASS, R_RULE, "mgmt-api" },
	{ "config_exact_site_peer_wins_on_443", IN, TCP, FX_VIP4, 443, PASS, R_RULE, "vip-https" },
	{ "config_network_site_peer_wins_over_any_on_443", IN, TCP, FX_LAB4, 443, PASS, R_RULE,
	  "lab-https" },
	{ "config_anyone_else_on_443_is_any_https", IN, TCP, FX_OUT4, 443, PASS, R_RULE,
	  "any-https" },
	{ "config_ipv6_anyone_on_443_is_any_https", IN, TCP, FX_OUT6, 443, PASS, R_RULE,
	  "any-https" },
	{ "config_syslog_from_adm", IN, UDP, FX_ADM4, 514, PASS, R_RULE, "syslog" },
	{ "config_syslog_from_elsewhere_is_dropped", IN, UDP, FX_OUT4, 514, DROP, R_NO_RULE },
	{ "config_range_start", IN, TCP, FX_ADM4, 9000, PASS, R_RULE, "web-range" },
	{ "config_range_end", IN, TCP, FX_ADM6, 9003, PASS, R_RULE, "web-range" },
	{ "config_past_the_range", IN, TCP, FX_ADM4, 9004, DROP, R_NO_RULE },
	{ "config_failsafe_ssh_from_adm", IN, TCP, FX_ADM4, 22, PASS, R_RULE, "failsafe-ssh" },
	{ "config_ca_revocation_anywhere", OUT, TCP, FX_OUT4, 80, PASS, R_RULE, "ca-revocation" },
	{ "config_exchange_anywhere_is_ih_ews", OUT, TCP, FX_OUT4, 443, PASS, R_RULE, "ih-ews" },
	{ "config_narrowed_icewarp_wins_over_ih_ews", OUT, TCP, "198.18.5.3", 443, PASS, R_RULE,
	  "ih-icewarp" },
	{ "config_my_mailstore_is_mgmt_license", OUT, TCP, FX_MS4, 443, PASS, R_RULE,
	  "mgmt-license" },
	{ "config_ipv6_my_mailstore_is_mgmt_license", OUT, TCP, FX_MS6, 443, PASS, R_RULE,
	  "mgmt-license" },
	{ "config_submission_counts_as_mgmt_smtp", OUT, TCP, FX_OUT4, 587, PASS, R_RULE,
	  "mgmt-smtp" },
	{ "config_ipv6_ldap_anywhere", OUT, TCP, FX_OUT6, 389, PASS, R_RULE, "ih-ldap" },
	{ "config_mgmt_reaches_cas_internal", OUT, TCP, FX_CAS4, 8473, PASS, R_RULE,
	  "cas-internal" },
	{ "config_mgmt_reaches_another_ih", OUT, TCP, FX_IH4, 8472, PASS, R_RULE, "ih-internal" },
	{ "config_mgmt_cannot_reach_cas_on_ih_internal", OUT, TCP, FX_CAS4, 8472, DROP,
	  R_NO_RULE },
	{ "config_own_address_is_loopback", OUT, TCP, FX_HOST4, 8471, PASS,
	  SPEE_REASON_LOOPBACK },
	{ "config_dns_to_a_resolver", OUT, UDP, FX_RES4, 53, PASS, SPEE_REASON_DNS },
	{ "config_ipv6_dns_over_tcp_to_a_resolver", OUT, TCP, FX_RES6, 53, PASS,
	  SPEE_REASON_DNS },
	{ "config_ntp_out", OUT, UDP, FX_OUT4, 123, PASS, R_RULE, "ntp-out" },
	{ "config_smtp_out_is_dropped", OUT, TCP, FX_OUT4, 25, DROP, R_NO_RULE },
};
#pragma GCC diagnostic pop

static void run_conn_row(void **state)
{
	const struct conn_row *c = *state;
	bool v6 = strchr(c->peer, ':') != NULL;
	const char *host = v6 ? FX_HOST6 : FX_HOST4;
	struct row r = {
		.name = c->name,
		.prog = c->dir == IN ? XDP : EGRESS,
		.fx = FX_CONFIG,
		.pkt = {
			.src = c->dir == IN ? c->peer : host,
			.dst = c->dir == IN ? host : c->peer,
			.proto = c->proto,
			.sport = 41000,
			.dport = c->port,
			.tcp_flags = c->proto == TCP ? PKT_SYN : 0,
		},
		.pass = c->pass,
		.reason = c->reason,
		.rule = c->rule,
	};
	void *rs = &r;

	run_row(&rs);
}

/* ---- tests beyond the table ---- */

static __u64 rule_packets(const char *id, __u32 dir)
{
	struct counters *c = calloc(1, sizeof(*c));
	__u64 n;

	assert_non_null(c);
	read_counters(c);
	n = c->rule[spee_rule_ctr_index(rule_slot(id), dir)].packets;
	free(c);
	return n;
}

static void send_console_syn(void)
{
	struct pkt_spec s = { T(FX_ADM4, FX_HOST4, 40100, 8470, SYN) };
	uint8_t buf[PKT_MAX];
	int len = pkt_build(&s, buf, sizeof(buf));

	assert_int_equal(run_packet(XDP, buf, len, 0), XDP_PASS);
}

static void counters_of_unchanged_rules_survive_a_switch(void **state)
{
	struct spee_rule_meta table[SPEE_MAX_RULES];
	struct spee_runtime rt;
	struct diags d = {};
	uint16_t console, ntp, metrics, metrics_before;
	__u64 before;

	(void)state;
	assert_int_equal(apply_fixture(FX_MAIN), 0);
	for (int i = 0; i < 3; i++)
		send_console_syn();
	console = rule_slot("mgmt-console");
	ntp = rule_slot("ntp-out");
	before = rule_packets("mgmt-console", SPEE_DIR_INGRESS);
	assert_true(before >= 3);
	assert_int_equal(maps_read_runtime(&env.l.maps, &rt, &d), 0);
	assert_int_equal(maps_read_rules(&env.l.maps, table, &d), 0);
	metrics_before = 0;
	for (uint16_t s = 1; s < SPEE_MAX_RULES; s++)
		if (!strcmp(table[s].id, "metrics"))
			metrics_before = s;
	assert_int_not_equal(metrics_before, 0);
	assert_int_equal(table[metrics_before].dirs, 0);

	assert_int_equal(apply_fixture(FX_SWITCHED), 0);
	assert_int_equal(rule_slot("mgmt-console"), console);
	assert_int_equal(rule_packets("mgmt-console", SPEE_DIR_INGRESS), before);
	send_console_syn();
	assert_int_equal(rule_packets("mgmt-console", SPEE_DIR_INGRESS), before + 1);
	/* the vanished rule's slot is free after the switch, the new rule starts at zero */
	assert_int_equal(maps_read_rules(&env.l.maps, table, &d), 0);
	assert_int_equal(maps_find_rule_slot(table, "ntp-out"), 0);
	assert_int_equal(table[ntp].dirs, 0);
	/* a returning id (metrics was applied by earlier rows) finds its old slot and count */
	metrics = rule_slot("metrics");
	assert_int_not_equal(metrics, ntp);
	assert_int_equal(metrics, metrics_before);
	/* the other slot is active now, a generation later */
	{
		struct spee_runtime now;

		assert_int_equal(maps_read_runtime(&env.l.maps, &now, &d), 0);
		assert_int_not_equal(now.active, rt.active);
		assert_int_equal(now.slot[now.active].generation,
				 rt.slot[rt.active].generation + 1);
	}

	/* back: the returning id finds its old slot */
	assert_int_equal(apply_fixture(FX_MAIN), 0);
	assert_int_equal(rule_slot("ntp-out"), ntp);
	assert_int_equal(rule_slot("mgmt-console"), console);
	assert_int_equal(rule_packets("mgmt-console", SPEE_DIR_INGRESS), before + 1);
	diags_free(&d);
}

/* Applying the same policy again writes nothing but the slot's settings. */
static void reapplying_the_same_policy_writes_no_entries(void **state)
{
	struct maps_apply_result res;
	struct diags d = {};

	(void)state;
	assert_int_equal(apply_fixture(FX_MAIN), 0);
	/* the inactive slot holds the policy before; write it twice to reach a fixpoint */
	assert_int_equal(maps_apply(&env.l.maps, env.pol[FX_MAIN], &env.names, NULL, &res, &d), 0);
	assert_int_equal(maps_apply(&env.l.maps, env.pol[FX_MAIN], &env.names, NULL, &res, &d), 0);
	assert_int_equal(res.stats.added, 0);
	assert_int_equal(res.stats.removed, 0);
	assert_int_equal(res.stats.ports_changed, 0);
	diags_free(&d);
}

/*
 * The own-address sets (spee_local) are what the scope check reads: an
 * empty set that claims to be whole makes the host's own address transit;
 * one that says spill, or one never written (an older build's slot), sends
 * the check to spee_exact, which knows the address.
 */
static void the_scope_check_reads_the_local_set_and_falls_back_to_the_hash(void **state)
{
	struct pkt_spec s = { T(FX_ADM4, FX_HOST4, 40200, 8470, SYN) };
	struct spee_local_set set = { .known = 1 };
	struct spee_runtime rt;
	struct diags d = {};
	uint8_t buf[PKT_MAX];
	int len = pkt_build(&s, buf, sizeof(buf));
	__u64 before;
	__u32 idx;

	(void)state;
	assert_int_equal(apply_fixture(FX_MAIN), 0);
	assert_int_equal(maps_read_runtime(&env.l.maps, &rt, &d), 0);
	idx = spee_local_index(rt.active, SPEE_DIR_INGRESS);
	before = rule_packets("mgmt-console", SPEE_DIR_INGRESS);

	/* whole and empty: not the host's */
	assert_int_equal(bpf_map_update_elem(env.l.maps.fd[SPEE_MAP_LOCAL], &idx, &set, BPF_ANY), 0);
	assert_int_equal(run_packet(XDP, buf, len, 0), XDP_PASS);
	assert_int_equal(rule_packets("mgmt-console", SPEE_DIR_INGRESS), before);
	/* spill: the hash says it is */
	set.spill = 1;
	assert_int_equal(bpf_map_update_elem(env.l.maps.fd[SPEE_MAP_LOCAL], &idx, &set, BPF_ANY), 0);
	assert_int_equal(run_packet(XDP, buf, len, 0), XDP_PASS);
	assert_int_equal(rule_packets("mgmt-console", SPEE_DIR_INGRESS), before + 1);
	/* never written: the hash too */
	memset(&set, 0, sizeof(set));
	assert_int_equal(bpf_map_update_elem(env.l.maps.fd[SPEE_MAP_LOCAL], &idx, &set, BPF_ANY), 0);
	assert_int_equal(run_packet(XDP, buf, len, 0), XDP_PASS);
	assert_int_equal(rule_packets("mgmt-console", SPEE_DIR_INGRESS), before + 2);
	/* and the apply writes the set whole again */
	assert_int_equal(apply_fixture(FX_SWITCHED), 0);
	assert_int_equal(apply_fixture(FX_MAIN), 0);
	assert_int_equal(maps_read_runtime(&env.l.maps, &rt, &d), 0);
	idx = spee_local_index(rt.active, SPEE_DIR_INGRESS);
	assert_int_equal(bpf_map_lookup_elem(env.l.maps.fd[SPEE_MAP_LOCAL], &idx, &set), 0);
	assert_int_equal(set.known, 1);
	assert_int_equal(set.spill, 0);
	assert_true(set.n_v4 >= 1);
	assert_int_equal(run_packet(XDP, buf, len, 0), XDP_PASS);
	assert_int_equal(rule_packets("mgmt-console", SPEE_DIR_INGRESS), before + 3);
	diags_free(&d);
}

/* ---- connect4/connect6 and the stream-socket path, on a child cgroup ---- */

static int cgroup2_mount(char *buf, size_t len)
{
	char dev[256], dir[256], type[64];
	FILE *f = fopen("/proc/mounts", "r");
	int found = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%255s %255s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", dir);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

/* connect() without blocking; 0 or the errno it failed with (EINPROGRESS counts as 0). */
static int try_connect(int family, int type, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int fd = socket(family, type | SOCK_NONBLOCK, 0), err = 0;

	if (fd < 0)
		return errno;
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s->sin_addr);
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s->sin6_addr);
		len = sizeof(*s);
	}
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS)
		err = errno;
	close(fd);
	return err;
}

struct connect_case {
	int family;
	int type;
	const char *addr;
	uint16_t port;
	bool refused;
};

static const struct connect_case connect_cases[] = {
	{ AF_INET, SOCK_STREAM, FX_OUT4, 25, true },
	{ AF_INET, SOCK_STREAM, FX_OUT4, 80, false },
	{ AF_INET, SOCK_STREAM, FX_MS4, 443, false },
	{ AF_INET, SOCK_STREAM, "127.0.0.1", 25, false },
	{ AF_INET, SOCK_STREAM, FX_HOST4, 25, false }, /* the host's own address */
	{ AF_INET, SOCK_DGRAM, FX_OUT4, 25, false }, /* UDP connect is not judged */
	{ AF_INET6, SOCK_STREAM, FX_OUT6, 25, true },
	{ AF_INET6, SOCK_STREAM, FX_OUT6, 443, false },
	{ AF_INET6, SOCK_STREAM, "::ffff:198.18.4.1", 25, true },
	{ AF_INET6, SOCK_STREAM, "::ffff:198.18.4.1", 80, false },
	{ AF_INET6, SOCK_STREAM, "::1", 25, false },
	{ AF_INET6, SOCK_STREAM, "::ffff:127.0.0.1", 25, false },
	/* the unspecified address connects to the host itself */
	{ AF_INET, SOCK_STREAM, "0.0.0.0", 25, false },
	{ AF_INET6, SOCK_STREAM, "::", 25, false },
	{ AF_INET6, SOCK_STREAM, "::ffff:0.0.0.0", 25, false },
	/* a mapped address is judged as its IPv4 one: my.mailstore.com's */
	{ AF_INET6, SOCK_STREAM, "::ffff:198.18.7.7", 443, false },
};

#define N_CONNECT_CASES (sizeof(connect_cases) / sizeof(connect_cases[0]))

/* In a child that joined cgroup cg: each case's connect errno, written to fd. */
static void connect_child(const char *cg, int fd)
{
	char path[600], pid[32];
	int f, res[N_CONNECT_CASES];

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	f = open(path, O_WRONLY);
	if (f < 0 || write(f, pid, strlen(pid)) < 0)
		_exit(2);
	close(f);
	for (size_t i = 0; i < N_CONNECT_CASES; i++)
		res[i] = try_connect(connect_cases[i].family, connect_cases[i].type,
				     connect_cases[i].addr, connect_cases[i].port);
	if (write(fd, res, sizeof(res)) != (ssize_t)sizeof(res))
		_exit(3);
	_exit(0);
}

static void run_connect_cases(int fx, bool audit)
{
	char mnt[256], cg[512];
	struct bpf_link *l4 = NULL, *l6 = NULL;
	struct counters *before = calloc(1, sizeof(*before)), *after = calloc(1, sizeof(*after));
	int res[N_CONNECT_CASES], pipefd[2], cgfd, status, refused = 0;
	pid_t pid;

	assert_non_null(before);
	assert_non_null(after);
	if (cgroup2_mount(mnt, sizeof(mnt))) {
		free(before);
		free(after);
		skip();
	}
	snprintf(cg, sizeof(cg), "%s/spk-verdicts-%d", mnt, getpid());
	assert_int_equal(mkdir(cg, 0755), 0);
	cgfd = open(cg, O_RDONLY | O_DIRECTORY);
	assert_true(cgfd >= 0);
	assert_int_equal(apply_fixture(fx), 0);
	l4 = bpf_program__attach_cgroup(loader_prog(&env.l, LOADER_PROG_CONNECT4), cgfd);
	l6 = bpf_program__attach_cgroup(loader_prog(&env.l, LOADER_PROG_CONNECT6), cgfd);
	assert_int_equal(pipe(pipefd), 0);

	read_counters(before);
	pid = fork();
	if (pid == 0)
		connect_child(cg, pipefd[1]);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	read_counters(after);
	assert_int_equal(read(pipefd[0], res, sizeof(res)), (ssize_t)sizeof(res));

	bpf_link__destroy(l4);
	bpf_link__destroy(l6);
	close(pipefd[0]);
	close(pipefd[1]);
	close(cgfd);
	assert_int_equal(rmdir(cg), 0);
	assert_non_null(l4);
	assert_non_null(l6);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	for (size_t i = 0; i < N_CONNECT_CASES; i++) {
		const struct connect_case *c = &connect_cases[i];
		bool want = c->refused && !audit;

		if (want != (res[i] == EPERM))
			fail_msg("connect to %s port %u (%s): %s, expected %s", c->addr, c->port,
				 c->type == SOCK_STREAM ? "tcp" : "udp",
				 res[i] ? strerror(res[i]) : "in progress",
				 want ? "EPERM" : "not EPERM");
		refused += want;
		/* explain gives every TCP connect() the kernel's answer */
		if (c->type == SOCK_STREAM) {
			struct explain_query q = { .dir = SPEE_DIR_EGRESS, .proto = IPPROTO_TCP,
						   .port = c->port };
			struct explain_result r = { .pass = true };

			assert_true(addr_parse(c->addr, &q.peer));
			if (!explain_socket_peer(&q.peer))
				explain_decide(fixture(fx), &env.names, &q, &r);
			if (r.pass == (res[i] == EPERM))
				fail_msg("connect to %s port %u: explain says %s, the kernel %s",
					 c->addr, c->port, r.pass ? "pass" : "drop",
					 res[i] == EPERM ? "EPERM" : "goes ahead");
		}
	}
	/* each refusal counts as one no-rule packet of zero bytes; nothing else moved */
	{
		__u32 idx = spee_reason_ctr_index(SPEE_REASON_NO_RULE, SPEE_DIR_EGRESS);

		assert_int_equal(after->reason[idx].packets - before->reason[idx].packets, refused);
		assert_int_equal(after->reason[idx].bytes, before->reason[idx].bytes);
		after->reason[idx] = before->reason[idx];
		assert_memory_equal(before, after, sizeof(*before));
	}
	free(before);
	free(after);
}

static void denied_tcp_connect_fails_at_once_with_eperm(void **state)
{
	(void)state;
	run_connect_cases(FX_MAIN, false);
}

static void audit_mode_lets_every_connect_go_ahead(void **state)
{
	(void)state;
	run_connect_cases(FX_AUDIT, true);
}

/*
 * Real traffic through the egress program attached to a child cgroup: the
 * stream-socket path, the SYN-ACK of a request socket, and a UDP drop
 * failing sendto() with EPERM. A second copy of the object is loaded with
 * the loopback shortcut off (spee_lo_ifindex = 0), so that connections
 * inside this namespace, which go over lo, take the full decision path.
 */
struct real_result {
	int connect_err;
	int echo_ok;
	int udp_denied_err;
	int udp_allowed_err;
};

static void real_child(const char *cg, int fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80) };
	struct sockaddr_in u = { .sin_family = AF_INET };
	struct real_result res = {};
	char path[600], pid[32], buf[8];
	int f, lis, cli, acc, us, one = 1;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	f = open(path, O_WRONLY);
	if (f < 0 || write(f, pid, strlen(pid)) < 0)
		_exit(2);
	close(f);

	/* sockets made now belong to the cgroup: listener, client and the accepted one */
	inet_pton(AF_INET, SOCK4, &a.sin_addr);
	lis = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lis, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lis, (struct sockaddr *)&a, sizeof(a)) || listen(lis, 1))
		_exit(3);
	cli = socket(AF_INET, SOCK_STREAM, 0);
	res.connect_err = connect(cli, (struct sockaddr *)&a, sizeof(a)) ? errno : 0;
	acc = accept(lis, NULL, NULL);
	if (!res.connect_err && acc >= 0 && write(cli, "ping", 4) == 4 &&
	    read(acc, buf, sizeof(buf)) == 4 && write(acc, "pong", 4) == 4 &&
	    read(cli, buf, sizeof(buf)) == 4)
		res.echo_ok = 1;
	close(cli);
	close(acc);
	close(lis);

	us = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, SOCK4, &u.sin_addr);
	u.sin_port = htons(9999);
	res.udp_denied_err = sendto(us, "x", 1, 0, (struct sockaddr *)&u, sizeof(u)) < 0 ? errno : 0;
	u.sin_port = htons(123);
	res.udp_allowed_err = sendto(us, "x", 1, 0, (struct sockaddr *)&u, sizeof(u)) < 0 ? errno : 0;
	close(us);
	usleep(200000); /* let the closing handshakes go out while the cgroup still holds us */
	if (write(fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
		_exit(4);
	_exit(0);
}

static void real_connections_take_the_stream_socket_path(void **state)
{
	struct speebpf *skel = speebpf__open();
	struct counters *before = calloc(1, sizeof(*before)), *after = calloc(1, sizeof(*after));
	struct bpf_link *eg = NULL, *c4 = NULL;
	struct maps_apply_result ares;
	struct real_result res = {};
	struct spee_rule_meta table[SPEE_MAX_RULES];
	struct spee_map_fds m;
	struct diags d = {};
	char mnt[256], cg[512];
	int pipefd[2], cgfd, status;
	uint16_t ca, ntp;
	__u32 est = spee_reason_ctr_index(SPEE_REASON_ESTABLISHED, SPEE_DIR_EGRESS);
	__u32 nr = spee_reason_ctr_index(SPEE_REASON_NO_RULE, SPEE_DIR_EGRESS);
	pid_t pid;

	(void)state;
	assert_non_null(skel);
	assert_non_null(before);
	assert_non_null(after);
	if (cgroup2_mount(mnt, sizeof(mnt))) {
		speebpf__destroy(skel);
		free(before);
		free(after);
		skip();
	}
	skel->rodata->spee_lo_ifindex = 0;
	assert_int_equal(speebpf__load(skel), 0);
	spee_map_fds_init(&m);
	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		m.fd[i] = bpf_map__fd(bpf_object__find_map_by_name(skel->obj, spee_map_names[i]));
	assert_int_equal(maps_apply(&m, env.pol[FX_MAIN], &env.names, NULL, &ares, &d), 0);
	assert_int_equal(maps_read_rules(&m, table, &d), 0);
	ca = maps_find_rule_slot(table, "ca-revocation");
	ntp = maps_find_rule_slot(table, "ntp-out");

	snprintf(cg, sizeof(cg), "%s/spk-verdicts-real-%d", mnt, getpid());
	assert_int_equal(mkdir(cg, 0755), 0);
	cgfd = open(cg, O_RDONLY | O_DIRECTORY);
	assert_true(cgfd >= 0);
	eg = bpf_program__attach_cgroup(skel->progs.spee_egress, cgfd);
	c4 = bpf_program__attach_cgroup(skel->progs.spee_connect4, cgfd);
	assert_int_equal(pipe(pipefd), 0);

	read_counters_of(&m, before);
	pid = fork();
	if (pid == 0)
		real_child(cg, pipefd[1]);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	read_counters_of(&m, after);
	assert_int_equal(read(pipefd[0], &res, sizeof(res)), (ssize_t)sizeof(res));

	bpf_link__destroy(eg);
	bpf_link__destroy(c4);
	close(pipefd[0]);
	close(pipefd[1]);
	close(cgfd);
	assert_int_equal(rmdir(cg), 0);
	assert_non_null(eg);
	assert_non_null(c4);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	assert_int_equal(res.connect_err, 0);
	assert_int_equal(res.echo_ok, 1);
	assert_int_equal(res.udp_denied_err, EPERM);
	assert_int_equal(res.udp_allowed_err, 0);
	/* the SYN as its rule; SYN-ACK, ACK, data and teardown as established */
	assert_int_equal(after->rule[spee_rule_ctr_index(ca, SPEE_DIR_EGRESS)].packets -
				 before->rule[spee_rule_ctr_index(ca, SPEE_DIR_EGRESS)].packets,
			 1);
	if (getenv("SPEE_VERBOSE"))
		fprintf(stderr, "established egress packets: %llu\n",
			(unsigned long long)(after->reason[est].packets - before->reason[est].packets));
	assert_true(after->reason[est].packets - before->reason[est].packets >= 6);
	assert_int_equal(after->reason[nr].packets - before->reason[nr].packets, 1);
	assert_int_equal(after->rule[spee_rule_ctr_index(ntp, SPEE_DIR_EGRESS)].packets -
				 before->rule[spee_rule_ctr_index(ntp, SPEE_DIR_EGRESS)].packets,
			 1);
	diags_free(&d);
	speebpf__destroy(skel);
	free(before);
	free(after);
}

int main(void)
{
	struct CMUnitTest tests[sizeof(rows) / sizeof(rows[0]) +
			       sizeof(conn_rows) / sizeof(conn_rows[0]) + 6];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&tests[n], 0, sizeof(tests[n]));
		tests[n].name = rows[i].name;
		tests[n].test_func = run_row;
		tests[n].initial_state = (void *)&rows[i];
		n++;
	}
	for (size_t i = 0; i < sizeof(conn_rows) / sizeof(conn_rows[0]); i++) {
		memset(&tests[n], 0, sizeof(tests[n]));
		tests[n].name = conn_rows[i].name;
		tests[n].test_func = run_conn_row;
		tests[n].initial_state = (void *)&conn_rows[i];
		n++;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(counters_of_unchanged_rules_survive_a_switch);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(reapplying_the_same_policy_writes_no_entries);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
		the_scope_check_reads_the_local_set_and_falls_back_to_the_hash);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(denied_tcp_connect_fails_at_once_with_eperm);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(audit_mode_lets_every_connect_go_ahead);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(real_connections_take_the_stream_socket_path);
	return _cmocka_run_group_tests("verdicts", tests, n, group_setup, group_teardown);
}
