// SPDX-License-Identifier: GPL-2.0-only
/*
 * Gateway mode's datapath (bpf/gateway.bpf.h) with BPF_PROG_TEST_RUN on
 * the real programs: spee_gw_xdp (a routed uplink), spee_gw_xdp_l3 (one
 * without a link header) and spee_gw_tc (tc ingress of a bridge port).
 *
 * The fixture writes the gateway's map entries itself, as the gateway
 * compiler will (spee_abi.h, "Gateway mode"): four inventory hosts with
 * three policy ids (ih1 and ih2 share one), their rule entries in
 * spee_exact/spee_prefix under those ids, the per-host rule counters in
 * spee_gw_ctr, and a different policy in the inactive slot. Every step
 * runs one packet and checks the program's verdict and that exactly the
 * expected counters moved, fleet-wide (spee_rule_ctr, spee_reason_ctr) and
 * per host (spee_gw_ctr), by the expected packets and the packet's bytes.
 * The flow tables are loaded small, so that a SYN flood overflows them.
 *
 * Runs in a network namespace of its own; nothing is attached.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfenv.h"
#include "loader.h"
#include "maps.h"
#include "pkt.h"

/* The inventory: host index, policy id */
#define MGMT4 "198.18.0.10" /* host 1, policy 1 */
#define MGMT6 "fd00:5e::10"
#define CAS4 "198.18.0.11" /* host 2, policy 2 */
#define CAS6 "fd00:5e::11"
#define IH4 "198.18.0.21" /* host 3, policy 3 */
#define IH2_4 "198.18.0.22" /* host 4, policy 3 (ih1's entries, its own counters) */
/* Not inventory hosts */
#define ADM4 "198.18.9.5"
#define ADM6 "fd00:5e::9:5"
#define OUT4 "198.18.4.1"
#define OUT6 "fd00:5e::4:1"
#define OTHER4 "198.18.5.1"
#define OTHER6 "fd00:5e::5:1"
#define ROUTER4 "198.18.6.1"
#define RES4 "198.18.0.53"

enum { H_NONE, H_MGMT, H_CAS, H_IH1, H_IH2 };
enum { P_MGMT = 1, P_CAS, P_IH };

/* Rule slots (the fleet-wide counters' index) */
enum {
	R_CONSOLE = 1, /* tcp 8470 in on mgmt from ADM */
	R_CAS_HTTPS, /* tcp 443 in on cas from ANY */
	R_INTERNAL, /* tcp 8471 in on mgmt from cas, out on cas to mgmt */
	R_EWS, /* tcp 443 out on the IHs to ANY */
	R_SYSLOG, /* udp 514 in on mgmt from ADM */
	R_PING, /* icmp echo request in on mgmt from ADM */
	R_IH_INTERNAL, /* tcp 8472 in on the IHs from mgmt and cas */
	R_MGMT_OUT, /* tcp 8472 out on mgmt to 198.18.0.0/24 */
	R_NTP, /* udp 123 out on cas to ANY */
	R_VRRP, /* ip 112 in on mgmt from cas, out on cas to mgmt */
	R_OPEN_CONSOLE, /* slot 1 only: tcp 8470 in on mgmt from ANY */
};

#define IN SPEE_DIR_INGRESS
#define OUT SPEE_DIR_EGRESS
#define NS 1000000000ULL
#define UDP_TIMEOUT_S 60
#define GW_SYNS_ENTRIES 512
#define GW_FLOWS_ENTRIES 1024

enum prog { XDP, XDP_L3, TC };

#define XDP_DROP_ 1
#define XDP_PASS_ 2
#define TC_UNSPEC_ 0xffffffffu
#define TC_SHOT_ 2

static struct {
	struct loader l;
	int prog[3];
	int ncpu;
} env;

#define FD(m) env.l.maps.fd[SPEE_MAP_##m]

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* ---- the fixture: map entries as the gateway compiler writes them ---- */

static int addr_of(const char *text, uint8_t *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = SPEE_FAMILY_V4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, addr) == 1) {
		*family = SPEE_FAMILY_V6;
		return 0;
	}
	return -1;
}

static void put_host(int slot, const char *addr, uint16_t host, uint16_t policy)
{
	struct spee_gw_host_key k = { .slot = (uint8_t)slot };
	struct spee_gw_host v = { .policy = policy, .host = host };

	assert_int_equal(addr_of(addr, &k.family, k.addr), 0);
	assert_int_equal(bpf_map_update_elem(FD(GW_HOSTS), &k, &v, BPF_ANY), 0);
}

/* port: tcp/udp port, icmp type, 0 for other protocols (host order) */
static void put_exact(int slot, int dir, int proto, int port, uint16_t policy, const char *addr,
		      uint16_t rule, uint8_t reason)
{
	struct spee_rule_key k = { .slot = (uint8_t)slot, .dir = (uint8_t)dir,
				   .proto = (uint8_t)proto, .port = htons((uint16_t)port),
				   .policy = policy };
	struct spee_verdict v = { .rule = rule, .reason = reason };

	assert_int_equal(addr_of(addr, &k.family, k.addr), 0);
	assert_int_equal(bpf_map_update_elem(FD(EXACT), &k, &v, BPF_ANY), 0);
}

static void put_prefix(int slot, int dir, int proto, int port, uint16_t policy, const char *addr,
		       int len, uint16_t rule)
{
	struct spee_prefix_key k = { .prefixlen = SPEE_PREFIX_FIXED_BITS + (uint32_t)len,
				     .slot = (uint8_t)slot, .dir = (uint8_t)dir,
				     .proto = (uint8_t)proto, .port = htons((uint16_t)port),
				     .policy = policy };
	struct spee_verdict v = { .rule = rule, .reason = SPEE_REASON_RULE };

	assert_int_equal(addr_of(addr, &k.family, k.addr), 0);
	assert_int_equal(bpf_map_update_elem(FD(PREFIX), &k, &v, BPF_ANY), 0);
}

static void put_rule_ctr(uint16_t host, uint16_t rule, int dir)
{
	struct spee_gw_ctr_key k = { .host = host, .rule = rule, .dir = (uint8_t)dir,
				     .reason = SPEE_REASON_RULE };
	static struct spee_counter *zero; /* kept for the process's life */

	if (!zero)
		zero = calloc((size_t)env.ncpu, sizeof(*zero));
	assert_non_null(zero);
	assert_int_equal(bpf_map_update_elem(FD(GW_CTR), &k, zero, BPF_ANY), 0);
}

static void put_ethertype(int slot, int dir, uint16_t ethertype)
{
	struct spee_rule_key k = { .slot = (uint8_t)slot, .dir = (uint8_t)dir,
				   .proto = SPEE_PROTO_ETHERTYPE, .port = htons(ethertype) };
	struct spee_verdict v = { .reason = SPEE_REASON_NON_IP };

	assert_int_equal(bpf_map_update_elem(FD(EXACT), &k, &v, BPF_ANY), 0);
}

static void set_runtime(uint32_t active, uint8_t mode, uint32_t events_rate)
{
	struct spee_runtime rt = { .active = active };
	uint32_t zero = 0;

	for (int s = 0; s < SPEE_POLICY_SLOTS; s++) {
		rt.slot[s].mode = mode;
		rt.slot[s].default_action[IN] = SPEE_ACTION_DROP;
		rt.slot[s].default_action[OUT] = SPEE_ACTION_DROP;
		rt.slot[s].generation = 1;
		rt.slot[s].udp_timeout_ns = UDP_TIMEOUT_S * NS;
		rt.slot[s].events_rate = events_rate;
		rt.slot[s].events_burst = events_rate;
	}
	assert_int_equal(bpf_map_update_elem(FD(RT), &zero, &rt, BPF_ANY), 0);
}

/* Slot 0, the active one: the fleet. */
static void write_slot0(void)
{
	put_host(0, MGMT4, H_MGMT, P_MGMT);
	put_host(0, MGMT6, H_MGMT, P_MGMT);
	put_host(0, CAS4, H_CAS, P_CAS);
	put_host(0, CAS6, H_CAS, P_CAS);
	put_host(0, IH4, H_IH1, P_IH);
	put_host(0, IH2_4, H_IH2, P_IH);

	put_prefix(0, IN, IPPROTO_TCP, 8470, P_MGMT, "198.18.9.0", 24, R_CONSOLE);
	put_prefix(0, IN, IPPROTO_TCP, 8470, P_MGMT, "fd00:5e::9:0", 112, R_CONSOLE);
	put_prefix(0, IN, IPPROTO_TCP, 443, P_CAS, "0.0.0.0", 0, R_CAS_HTTPS);
	put_prefix(0, IN, IPPROTO_TCP, 443, P_CAS, "::", 0, R_CAS_HTTPS);
	put_exact(0, IN, IPPROTO_TCP, 8471, P_MGMT, CAS4, R_INTERNAL, SPEE_REASON_RULE);
	put_exact(0, IN, IPPROTO_TCP, 8471, P_MGMT, CAS6, R_INTERNAL, SPEE_REASON_RULE);
	put_exact(0, OUT, IPPROTO_TCP, 8471, P_CAS, MGMT4, R_INTERNAL, SPEE_REASON_RULE);
	put_exact(0, OUT, IPPROTO_TCP, 8471, P_CAS, MGMT6, R_INTERNAL, SPEE_REASON_RULE);
	put_prefix(0, OUT, IPPROTO_TCP, 443, P_IH, "0.0.0.0", 0, R_EWS);
	put_prefix(0, IN, IPPROTO_UDP, 514, P_MGMT, "198.18.9.0", 24, R_SYSLOG);
	put_prefix(0, IN, IPPROTO_ICMP, 8, P_MGMT, "198.18.9.0", 24, R_PING);
	put_prefix(0, IN, IPPROTO_ICMPV6, 128, P_MGMT, "fd00:5e::9:0", 112, R_PING);
	put_exact(0, IN, IPPROTO_TCP, 8472, P_IH, MGMT4, R_IH_INTERNAL, SPEE_REASON_RULE);
	put_exact(0, IN, IPPROTO_TCP, 8472, P_IH, CAS4, R_IH_INTERNAL, SPEE_REASON_RULE);
	put_prefix(0, OUT, IPPROTO_TCP, 8472, P_MGMT, "198.18.0.0", 24, R_MGMT_OUT);
	put_prefix(0, OUT, IPPROTO_UDP, 123, P_CAS, "0.0.0.0", 0, R_NTP);
	put_exact(0, OUT, IPPROTO_UDP, 53, P_CAS, RES4, SPEE_RULE_NONE, SPEE_REASON_DNS);
	put_exact(0, IN, 112, 0, P_MGMT, CAS4, R_VRRP, SPEE_REASON_RULE);
	put_exact(0, OUT, 112, 0, P_CAS, MGMT4, R_VRRP, SPEE_REASON_RULE);
	put_ethertype(0, IN, 0x88cc); /* LLDP: the config's ethertypes, policy 0 */

	put_rule_ctr(H_MGMT, R_CONSOLE, IN);
	put_rule_ctr(H_MGMT, R_INTERNAL, IN);
	put_rule_ctr(H_MGMT, R_SYSLOG, IN);
	put_rule_ctr(H_MGMT, R_PING, IN);
	put_rule_ctr(H_MGMT, R_MGMT_OUT, OUT);
	put_rule_ctr(H_MGMT, R_VRRP, IN);
	put_rule_ctr(H_CAS, R_CAS_HTTPS, IN);
	put_rule_ctr(H_CAS, R_INTERNAL, OUT);
	put_rule_ctr(H_CAS, R_NTP, OUT);
	put_rule_ctr(H_CAS, R_VRRP, OUT);
	put_rule_ctr(H_IH1, R_EWS, OUT);
	put_rule_ctr(H_IH1, R_IH_INTERNAL, IN);
	put_rule_ctr(H_IH2, R_EWS, OUT);
	put_rule_ctr(H_IH2, R_IH_INTERNAL, IN);
}

/* Slot 1, inactive until a test flips it: mgmt alone, its console open to ANY. */
static void write_slot1(void)
{
	put_host(1, MGMT4, H_MGMT, P_MGMT);
	put_prefix(1, IN, IPPROTO_TCP, 8470, P_MGMT, "0.0.0.0", 0, R_OPEN_CONSOLE);
	put_rule_ctr(H_MGMT, R_OPEN_CONSOLE, IN);
}

static int group_setup(void **state)
{
	struct loader_sizes sz;
	struct diags d = {};

	(void)state;
	if (bpfenv_netns("sgw-a", "sgw-b", NULL, NULL) <= 1)
		return -1;
	env.ncpu = libbpf_num_possible_cpus();
	if (env.ncpu <= 0)
		return -1;
	loader_set_verbose(getenv("SPEE_VERBOSE") != NULL);
	loader_sizes_default(&sz);
	/* small, so that syn_flood overflows both flow tables with a few thousand packets */
	sz.max_entries[SPEE_MAP_GW_SYNS] = GW_SYNS_ENTRIES;
	sz.max_entries[SPEE_MAP_GW_FLOWS] = GW_FLOWS_ENTRIES;
	if (loader_load(&env.l, &sz, NULL, &d)) {
		diags_print(stderr, &d);
		diags_free(&d);
		return -1;
	}
	diags_free(&d);
	env.prog[XDP] = loader_prog_fd(&env.l, SPEE_PROG_GW_XDP);
	env.prog[XDP_L3] = loader_prog_fd(&env.l, SPEE_PROG_GW_XDP_L3);
	env.prog[TC] = loader_prog_fd(&env.l, SPEE_PROG_GW_TC);
	return env.prog[XDP] < 0 || env.prog[XDP_L3] < 0 || env.prog[TC] < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	loader_close(&env.l);
	return 0;
}

/* Each test starts from the fleet in slot 0, enforced, with empty state. */
static int test_setup(void **state)
{
	(void)state;
	set_runtime(0, SPEE_MODE_ENFORCE, 0);
	write_slot0();
	write_slot1();
	if (bpfenv_clear_map(FD(GW_FLOWS), sizeof(struct spee_flow_key)) ||
	    bpfenv_clear_map(FD(GW_SYNS), sizeof(struct spee_flow_key)) ||
	    bpfenv_clear_map(FD(FRAGS), sizeof(struct spee_frag_key)) ||
	    bpfenv_clear_map(FD(SEEN), sizeof(struct spee_seen_key)))
		return -1;
	return 0;
}

/* ---- counters ---- */

#define HOST_CTRS 128

struct host_ctr {
	struct spee_gw_ctr_key k;
	struct spee_counter c;
};

struct snap {
	struct bpfenv_counters fleet;
	struct host_ctr host[HOST_CTRS];
	size_t n_host;
};

static void read_snap(struct snap *s)
{
	struct spee_gw_ctr_key k, next;
	static struct spee_counter *v; /* kept for the process's life */
	bool first = true;

	if (!v)
		v = calloc((size_t)env.ncpu, sizeof(*v));
	assert_non_null(v);
	assert_int_equal(bpfenv_read_counters(&env.l.maps, &s->fleet), 0);
	s->n_host = 0;
	while (!bpf_map_get_next_key(FD(GW_CTR), first ? NULL : &k, &next)) {
		struct host_ctr *h = &s->host[s->n_host++];

		assert_true(s->n_host <= HOST_CTRS);
		first = false;
		k = next;
		assert_int_equal(bpf_map_lookup_elem(FD(GW_CTR), &k, v), 0);
		h->k = k;
		h->c.packets = h->c.bytes = 0;
		for (int c = 0; c < env.ncpu; c++) {
			h->c.packets += v[c].packets;
			h->c.bytes += v[c].bytes;
		}
	}
}

static struct spee_counter host_ctr_of(const struct snap *s, const struct spee_gw_ctr_key *k)
{
	struct spee_counter none = { 0, 0 };

	for (size_t i = 0; i < s->n_host; i++)
		if (!memcmp(&s->host[i].k, k, sizeof(*k)))
			return s->host[i].c;
	return none;
}

/* A counter expected to move: fleet-wide rule or reason, or a host's. */
enum mv_kind { MV_END, MV_RULE, MV_REASON, MV_HOST };

struct mv {
	enum mv_kind kind;
	uint16_t host;
	uint16_t rule;
	uint8_t dir;
	uint8_t reason;
	uint64_t packets; /* 1, or 0 for a later fragment of a counted datagram */
};

#define M_RULE(r, d) { MV_RULE, 0, r, d, SPEE_REASON_RULE, 1 }
#define M_REASON(x, d) { MV_REASON, 0, 0, d, SPEE_REASON_##x, 1 }
#define M_HRULE(h, r, d) { MV_HOST, h, r, d, SPEE_REASON_RULE, 1 }
#define M_HDROP(h, x, d) { MV_HOST, h, 0, d, SPEE_REASON_##x, 1 }
#define M_RULE_BYTES(r, d) { MV_RULE, 0, r, d, SPEE_REASON_RULE, 0 }
#define M_HRULE_BYTES(h, r, d) { MV_HOST, h, r, d, SPEE_REASON_RULE, 0 }
#define M_END { MV_END, 0, 0, 0, 0, 0 }

static const struct mv *mv_find(const struct mv *m, enum mv_kind kind, uint16_t host,
				uint16_t rule, uint8_t dir, uint8_t reason)
{
	for (; m->kind != MV_END; m++)
		if (m->kind == kind && m->dir == dir &&
		    (kind == MV_REASON || m->rule == rule) && m->reason == reason &&
		    (kind != MV_HOST || m->host == host))
			return m;
	return NULL;
}

static void check_delta(const char *what, const char *ctr, const struct spee_counter *b,
			const struct spee_counter *a, const struct mv *m, uint64_t bytes)
{
	uint64_t dp = a->packets - b->packets, db = a->bytes - b->bytes;
	uint64_t wp = m ? m->packets : 0, wb = m ? bytes : 0;

	if (dp != wp || db != wb)
		fail_msg("%s: %s moved by %llu packets, %llu bytes; expected %llu, %llu", what, ctr,
			 (unsigned long long)dp, (unsigned long long)db, (unsigned long long)wp,
			 (unsigned long long)wb);
}

/* Every counter moved as moves says, and no other. */
static void check_moves(const char *what, const struct snap *b, const struct snap *a,
			const struct mv *moves, uint64_t bytes)
{
	char name[96];

	for (uint32_t rule = 0; rule < SPEE_MAX_RULES; rule++)
		for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++) {
			uint32_t i = spee_rule_ctr_index(rule, dir);

			snprintf(name, sizeof(name), "rule %u dir %u", rule, dir);
			check_delta(what, name, &b->fleet.rule[i], &a->fleet.rule[i],
				    mv_find(moves, MV_RULE, 0, (uint16_t)rule, dir, SPEE_REASON_RULE),
				    bytes);
		}
	for (uint8_t reason = 0; reason < SPEE_REASON_MAX; reason++)
		for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++) {
			uint32_t i = spee_reason_ctr_index(reason, dir);

			if (reason == SPEE_REASON_RULE)
				continue;
			snprintf(name, sizeof(name), "reason %u dir %u", reason, dir);
			check_delta(what, name, &b->fleet.reason[i], &a->fleet.reason[i],
				    mv_find(moves, MV_REASON, 0, 0, dir, reason), bytes);
		}
	for (size_t i = 0; i < a->n_host; i++) {
		const struct spee_gw_ctr_key *k = &a->host[i].k;
		struct spee_counter before = host_ctr_of(b, k);

		snprintf(name, sizeof(name), "host %u rule %u dir %u reason %u", k->host, k->rule,
			 k->dir, k->reason);
		check_delta(what, name, &before, &a->host[i].c,
			    mv_find(moves, MV_HOST, k->host, k->rule, k->dir, k->reason), bytes);
	}
	/* an expected host counter that does not exist did not move */
	for (const struct mv *m = moves; m->kind != MV_END; m++) {
		struct spee_gw_ctr_key k = { .host = m->host, .rule = m->rule, .dir = m->dir,
					     .reason = m->reason };
		bool found = false;

		for (size_t i = 0; m->kind == MV_HOST && i < a->n_host; i++)
			found = found || !memcmp(&a->host[i].k, &k, sizeof(k));
		if (m->kind == MV_HOST && !found)
			fail_msg("%s: host %u's counter rule %u dir %u reason %u does not exist", what,
				 m->host, m->rule, m->dir, m->reason);
	}
}

/* ---- running packets ---- */

static uint32_t run_frame(enum prog prog, const uint8_t *frame, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)len);

	if (bpf_prog_test_run_opts(env.prog[prog], &o))
		fail_msg("test_run: %s", strerror(errno));
	return o.retval;
}

/*
 * Runs spec through prog and checks its verdict (pass) and the counters
 * (moves; bytes: the packet's, as the program sees it).
 */
static void step(const char *what, enum prog prog, const struct pkt_spec *spec, bool pass,
		 const struct mv *moves)
{
	static const char *const names[] = { "xdp", "xdp_l3", "tc" };
	uint8_t buf[PKT_MAX];
	const uint8_t *frame = buf;
	static struct snap before, after; /* static: a failed check leaves no leak behind */
	struct snap *b = &before, *a = &after;
	size_t len;
	uint32_t ret, want;
	int n;

	n = pkt_build(spec, buf, sizeof(buf));
	assert_true(n > PKT_ETH_HLEN);
	len = (size_t)n;
	if (prog == XDP_L3) {
		frame += PKT_ETH_HLEN;
		len -= PKT_ETH_HLEN;
	}
	read_snap(b);
	ret = run_frame(prog, frame, len);
	read_snap(a);
	if (prog == TC)
		want = pass ? TC_UNSPEC_ : TC_SHOT_;
	else
		want = pass ? XDP_PASS_ : XDP_DROP_;
	if (ret != want)
		fail_msg("%s (%s): returned %u, expected %s", what, names[prog], ret,
			 pass ? "pass" : "drop");
	check_moves(what, b, a, moves, len);
}

#define MOVES(...) ((const struct mv[]){ __VA_ARGS__, M_END })

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define TCP4(s, d, sp, dp, fl)                                                                     \
	.src = s, .dst = d, .proto = IPPROTO_TCP, .sport = sp, .dport = dp, .tcp_flags = fl
/* a datagram of n bytes of data */
#define UDPN(s, d, sp, dp, n) .src = s, .dst = d, .proto = IPPROTO_UDP, .sport = sp, .dport = dp, \
			      .payload = n
#define UDP(s, d, sp, dp) UDPN(s, d, sp, dp, 32)
#define ICMP(s, d, t, id) .src = s, .dst = d, .proto = IPPROTO_ICMP, .icmp_type = t, \
			  .sport = id, .dport = 1, .payload = 56
#define ICMP6(s, d, t, id) .src = s, .dst = d, .proto = IPPROTO_ICMPV6, .icmp_type = t, \
			   .sport = id, .dport = 1, .payload = 56
#define SYN PKT_SYN
#define SYNACK (PKT_SYN | PKT_ACK)
#define ACK PKT_ACK

/* ---- ingress of an inventory host, from outside ---- */

/* How often suggest's table holds remote address addr for rule's ANY side in dir: 0 if never. */
static uint64_t seen_count(uint16_t rule, int dir, const char *addr)
{
	struct spee_seen_key k = { .rule = rule, .dir = (uint8_t)dir };
	struct spee_tally t;

	assert_int_equal(addr_of(addr, &k.family, k.addr), 0);
	return bpf_map_lookup_elem(FD(SEEN), &k, &t) == 0 ? t.count : 0;
}

static bool seen(uint16_t rule, int dir, const char *addr)
{
	return seen_count(rule, dir, addr) > 0;
}

static void ingress_from_outside(void **state)
{
	const struct pkt_spec ok = { TCP4(ADM4, MGMT4, 40001, 8470, SYN) };
	const struct pkt_spec ok6 = { TCP4(ADM6, MGMT6, 40002, 8470, SYN) };
	const struct pkt_spec any = { TCP4(OUT4, CAS4, 40003, 443, SYN) };
	const struct pkt_spec no = { TCP4(OUT4, MGMT4, 40004, 8470, SYN) };
	const struct pkt_spec no6 = { TCP4(OUT6, MGMT6, 40005, 8470, SYN) };

	(void)state;
	step("ADM's SYN to mgmt's console", XDP, &ok, true,
	     MOVES(M_RULE(R_CONSOLE, IN), M_HRULE(H_MGMT, R_CONSOLE, IN)));
	step("ADM's IPv6 SYN to mgmt's console", XDP, &ok6, true,
	     MOVES(M_RULE(R_CONSOLE, IN), M_HRULE(H_MGMT, R_CONSOLE, IN)));
	step("a SYN from anywhere to cas's https (ANY)", XDP, &any, true,
	     MOVES(M_RULE(R_CAS_HTTPS, IN), M_HRULE(H_CAS, R_CAS_HTTPS, IN)));
	/* a SYN alone notes nothing for suggest (its source may be forged): replies() */
	assert_false(seen(R_CAS_HTTPS, IN, OUT4));
	assert_false(seen(R_CONSOLE, IN, ADM4));
	step("a SYN from outside ADM to mgmt's console", XDP, &no, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
	step("the same again: the host's drop counter grows", XDP, &no, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
	step("an IPv6 SYN from outside ADM", XDP, &no6, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
	/* the same verdicts at a bridge port and on a device without a link header */
	step("ADM's SYN at a bridge port", TC, &ok, true,
	     MOVES(M_RULE(R_CONSOLE, IN), M_HRULE(H_MGMT, R_CONSOLE, IN)));
	step("a refused SYN at a bridge port", TC, &no, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
	step("ADM's SYN without a link header", XDP_L3, &ok6, true,
	     MOVES(M_RULE(R_CONSOLE, IN), M_HRULE(H_MGMT, R_CONSOLE, IN)));
	step("a refused SYN without a link header", XDP_L3, &no, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
}

/* ---- egress of an inventory host, to outside ---- */

static void egress_to_outside(void **state)
{
	const struct pkt_spec ok = { TCP4(IH4, OUT4, 40010, 443, SYN) };
	const struct pkt_spec no = { TCP4(IH4, OUT4, 40011, 80, SYN) };
	const struct pkt_spec no6 = { TCP4(CAS6, OUT6, 40012, 443, SYN) };

	(void)state;
	step("ih1's SYN to an EWS server", TC, &ok, true,
	     MOVES(M_RULE(R_EWS, OUT), M_HRULE(H_IH1, R_EWS, OUT)));
	step("ih1's SYN to port 80", TC, &no, false,
	     MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_IH1, NO_RULE, OUT)));
	step("cas's IPv6 SYN out to 443 (its 443 is ingress only)", TC, &no6, false,
	     MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_CAS, NO_RULE, OUT)));
	step("ih1's SYN through XDP too", XDP, &ok, true,
	     MOVES(M_RULE(R_EWS, OUT), M_HRULE(H_IH1, R_EWS, OUT)));
}

/* ---- east-west: both ends' rules ---- */

static void east_west(void **state)
{
	const struct pkt_spec both = { TCP4(CAS4, MGMT4, 40020, 8471, SYN) };
	const struct pkt_spec both6 = { TCP4(CAS6, MGMT6, 40021, 8471, SYN) };
	const struct pkt_spec both2 = { TCP4(MGMT4, IH4, 40022, 8472, SYN) };
	const struct pkt_spec dst_refuses = { TCP4(MGMT4, CAS4, 40023, 8472, SYN) };
	const struct pkt_spec src_refuses = { TCP4(CAS4, IH4, 40024, 8472, SYN) };
	const struct pkt_spec reverse = { TCP4(MGMT4, CAS4, 40025, 8471, SYN) };

	(void)state;
	step("cas -> mgmt 8471: cas's egress rule and mgmt's ingress rule", TC, &both, true,
	     MOVES(M_RULE(R_INTERNAL, OUT), M_RULE(R_INTERNAL, IN),
		   M_HRULE(H_CAS, R_INTERNAL, OUT), M_HRULE(H_MGMT, R_INTERNAL, IN)));
	step("the same over IPv6", TC, &both6, true,
	     MOVES(M_RULE(R_INTERNAL, OUT), M_RULE(R_INTERNAL, IN),
		   M_HRULE(H_CAS, R_INTERNAL, OUT), M_HRULE(H_MGMT, R_INTERNAL, IN)));
	step("mgmt -> ih1 8472: two different rules", TC, &both2, true,
	     MOVES(M_RULE(R_MGMT_OUT, OUT), M_RULE(R_IH_INTERNAL, IN),
		   M_HRULE(H_MGMT, R_MGMT_OUT, OUT), M_HRULE(H_IH1, R_IH_INTERNAL, IN)));
	/* mgmt may send 8472 to the /24; cas does not take it */
	step("mgmt -> cas 8472: refused by the destination", TC, &dst_refuses, false,
	     MOVES(M_RULE(R_MGMT_OUT, OUT), M_HRULE(H_MGMT, R_MGMT_OUT, OUT),
		   M_REASON(NO_RULE, IN), M_HDROP(H_CAS, NO_RULE, IN)));
	/* ih1 would take it from cas: it is not asked once cas's egress refuses */
	step("cas -> ih1 8472: refused by the source, the destination not asked", TC,
	     &src_refuses, false, MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_CAS, NO_RULE, OUT)));
	step("mgmt -> cas 8471: a rule's other direction is no rule", TC, &reverse, false,
	     MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_MGMT, NO_RULE, OUT)));
}

/* ---- transit: neither end an inventory host ---- */

static void transit(void **state)
{
	const struct pkt_spec t4 = { TCP4(OTHER4, OUT4, 40030, 25, SYN) };
	const struct pkt_spec t6 = { UDP(OTHER6, OUT6, 40031, 9999) };
	const struct pkt_spec ack = { TCP4(OUT4, OTHER4, 25, 40030, ACK) };

	(void)state;
	step("a SYN between two other hosts", XDP, &t4, true, MOVES(M_REASON(TRANSIT, IN)));
	step("IPv6 UDP between two other hosts", TC, &t6, true, MOVES(M_REASON(TRANSIT, IN)));
	step("an ACK between two other hosts needs no flow", XDP, &ack, true,
	     MOVES(M_REASON(TRANSIT, IN)));
}

/* ---- replies, both ways, through both hooks ---- */

static void replies(void **state)
{
	/* from outside to cas (XDP at the uplink), answered at cas's bridge port */
	const struct pkt_spec syn = { TCP4(OUT4, CAS4, 40040, 443, SYN) };
	const struct pkt_spec synack = { TCP4(CAS4, OUT4, 443, 40040, SYNACK) };
	const struct pkt_spec ack = { TCP4(OUT4, CAS4, 40040, 443, ACK) };
	const struct pkt_spec data = { TCP4(CAS4, OUT4, 443, 40040, ACK), .payload = 100 };
	/* from ih1 out (its bridge port), answered at the uplink */
	const struct pkt_spec osyn = { TCP4(IH4, OUT4, 40041, 443, SYN) };
	const struct pkt_spec osynack = { TCP4(OUT4, IH4, 443, 40041, SYNACK) };
	const struct pkt_spec oack = { TCP4(IH4, OUT4, 40041, 443, ACK) };
	/* east-west: the reply counts once, at the destination */
	const struct pkt_spec esyn = { TCP4(CAS6, MGMT6, 40042, 8471, SYN) };
	const struct pkt_spec esynack = { TCP4(MGMT6, CAS6, 8471, 40042, SYNACK) };
	const struct pkt_spec eack = { TCP4(CAS6, MGMT6, 40042, 8471, ACK) };

	(void)state;
	step("before any SYN, cas's SYN-ACK is dropped", TC, &synack, false,
	     MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_CAS, NO_RULE, OUT)));
	step("the SYN from outside", XDP, &syn, true,
	     MOVES(M_RULE(R_CAS_HTTPS, IN), M_HRULE(H_CAS, R_CAS_HTTPS, IN)));
	step("cas's SYN-ACK", TC, &synack, true, MOVES(M_REASON(ESTABLISHED, OUT)));
	/* suggest notes the ANY rule's remote address once the initiator completes the handshake */
	assert_false(seen(R_CAS_HTTPS, IN, OUT4));
	step("the ACK", XDP, &ack, true, MOVES(M_REASON(ESTABLISHED, IN)));
	assert_int_equal(seen_count(R_CAS_HTTPS, IN, OUT4), 1);
	step("cas's data", TC, &data, true, MOVES(M_REASON(ESTABLISHED, OUT)));
	step("the ACK at a port (tc sees the same flow)", TC, &ack, true,
	     MOVES(M_REASON(ESTABLISHED, IN)));
	assert_int_equal(seen_count(R_CAS_HTTPS, IN, OUT4), 1); /* once a connection */

	step("ih1's SYN out", TC, &osyn, true,
	     MOVES(M_RULE(R_EWS, OUT), M_HRULE(H_IH1, R_EWS, OUT)));
	step("the server's SYN-ACK", XDP, &osynack, true, MOVES(M_REASON(ESTABLISHED, IN)));
	assert_false(seen(R_EWS, OUT, OUT4));
	step("ih1's ACK", TC, &oack, true, MOVES(M_REASON(ESTABLISHED, OUT)));
	assert_int_equal(seen_count(R_EWS, OUT, OUT4), 1); /* the initiator's side, out */

	step("cas -> mgmt SYN (IPv6)", TC, &esyn, true,
	     MOVES(M_RULE(R_INTERNAL, OUT), M_RULE(R_INTERNAL, IN),
		   M_HRULE(H_CAS, R_INTERNAL, OUT), M_HRULE(H_MGMT, R_INTERNAL, IN)));
	step("mgmt's SYN-ACK", TC, &esynack, true, MOVES(M_REASON(ESTABLISHED, IN)));
	step("cas's ACK", TC, &eack, true, MOVES(M_REASON(ESTABLISHED, IN)));
}

/* ---- TCP without a flow, RST and FIN ---- */

/* The entry of a flow in one of the gateway's flow tables (spee_gw_flows, spee_gw_syns). */
static struct spee_gw_flow *entry_get(int fd, const char *init, uint16_t iport, const char *resp,
				      uint16_t rport, uint8_t proto, struct spee_gw_flow *out)
{
	struct spee_flow_key k = { .proto = proto, .lport = htons(iport), .rport = htons(rport) };
	uint8_t fam;

	assert_int_equal(addr_of(init, &k.family, k.laddr), 0);
	assert_int_equal(addr_of(resp, &fam, k.raddr), 0);
	return bpf_map_lookup_elem(fd, &k, out) ? NULL : out;
}

static void entry_set(int fd, const char *init, uint16_t iport, const char *resp, uint16_t rport,
		      uint8_t proto, const struct spee_gw_flow *f)
{
	struct spee_flow_key k = { .proto = proto, .lport = htons(iport), .rport = htons(rport) };
	uint8_t fam;

	assert_int_equal(addr_of(init, &k.family, k.laddr), 0);
	assert_int_equal(addr_of(resp, &fam, k.raddr), 0);
	assert_int_equal(bpf_map_update_elem(fd, &k, f, BPF_EXIST), 0);
}

static struct spee_gw_flow *flow_get(const char *init, uint16_t iport, const char *resp,
				     uint16_t rport, uint8_t proto, struct spee_gw_flow *out)
{
	return entry_get(FD(GW_FLOWS), init, iport, resp, rport, proto, out);
}

static void flow_set(const char *init, uint16_t iport, const char *resp, uint16_t rport,
		     uint8_t proto, const struct spee_gw_flow *f)
{
	entry_set(FD(GW_FLOWS), init, iport, resp, rport, proto, f);
}

/* A flow's entry deleted and inserted again: new to the LRU, not marked referenced. */
static void flow_remake(const char *init, uint16_t iport, const char *resp, uint16_t rport,
			uint8_t proto, const struct spee_gw_flow *f)
{
	struct spee_flow_key k = { .proto = proto, .lport = htons(iport), .rport = htons(rport) };
	uint8_t fam;

	assert_int_equal(addr_of(init, &k.family, k.laddr), 0);
	assert_int_equal(addr_of(resp, &fam, k.raddr), 0);
	assert_int_equal(bpf_map_delete_elem(FD(GW_FLOWS), &k), 0);
	assert_int_equal(bpf_map_update_elem(FD(GW_FLOWS), &k, f, BPF_NOEXIST), 0);
}

static struct spee_gw_flow *syn_get(const char *init, uint16_t iport, const char *resp,
				    uint16_t rport, struct spee_gw_flow *out)
{
	return entry_get(FD(GW_SYNS), init, iport, resp, rport, IPPROTO_TCP, out);
}

static void tcp_state(void **state)
{
	const struct pkt_spec unsolicited = { TCP4(OUT4, CAS4, 40050, 443, ACK) };
	const struct pkt_spec bad = { TCP4(OUT4, CAS4, 40051, 443, PKT_SYN | PKT_FIN) };
	const struct pkt_spec syn = { TCP4(OUT4, CAS4, 40052, 443, SYN) };
	const struct pkt_spec ack = { TCP4(OUT4, CAS4, 40052, 443, ACK) };
	const struct pkt_spec rst = { TCP4(CAS4, OUT4, 443, 40052, PKT_RST) };
	const struct pkt_spec fin = { TCP4(CAS4, OUT4, 443, 40052, PKT_FIN | PKT_ACK) };
	const struct pkt_spec synack = { TCP4(CAS4, OUT4, 443, 40052, SYNACK) };
	const struct pkt_spec syn2 = { TCP4(OUT4, CAS4, 40054, 443, SYN) };
	const struct pkt_spec synack2 = { TCP4(CAS4, OUT4, 443, 40054, SYNACK) };
	struct spee_gw_flow f;

	(void)state;
	step("an unsolicited ACK", XDP, &unsolicited, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_CAS, NO_RULE, IN)));
	step("SYN+FIN", XDP, &bad, false,
	     MOVES(M_REASON(MALFORMED, IN), M_HDROP(H_CAS, MALFORMED, IN)));

	/* a SYN waits for its answer in the half-open table, away from the established */
	step("a SYN", XDP, &syn, true,
	     MOVES(M_RULE(R_CAS_HTTPS, IN), M_HRULE(H_CAS, R_CAS_HTTPS, IN)));
	assert_non_null(syn_get(OUT4, 40052, CAS4, 443, &f));
	assert_null(flow_get(OUT4, 40052, CAS4, 443, IPPROTO_TCP, &f));
	step("the initiator's ACK before any answer", XDP, &ack, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_CAS, NO_RULE, IN)));
	step("cas's RST", TC, &rst, true, MOVES(M_REASON(ESTABLISHED, OUT)));
	assert_null(syn_get(OUT4, 40052, CAS4, 443, &f));
	assert_null(flow_get(OUT4, 40052, CAS4, 443, IPPROTO_TCP, &f));
	step("an ACK after the RST", XDP, &ack, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_CAS, NO_RULE, IN)));

	/* the SYN-ACK moves the connection to the flow table */
	step("the SYN again", XDP, &syn, true,
	     MOVES(M_RULE(R_CAS_HTTPS, IN), M_HRULE(H_CAS, R_CAS_HTTPS, IN)));
	step("cas's SYN-ACK", TC, &synack, true, MOVES(M_REASON(ESTABLISHED, OUT)));
	assert_null(syn_get(OUT4, 40052, CAS4, 443, &f));
	assert_non_null(flow_get(OUT4, 40052, CAS4, 443, IPPROTO_TCP, &f));
	assert_int_equal(f.reason, SPEE_REASON_ESTABLISHED);
	assert_int_equal(f.closing, 0);

	/* an answer after the SYN's 120 s is no answer */
	step("another SYN", XDP, &syn2, true,
	     MOVES(M_RULE(R_CAS_HTTPS, IN), M_HRULE(H_CAS, R_CAS_HTTPS, IN)));
	assert_non_null(syn_get(OUT4, 40054, CAS4, 443, &f));
	f.last_seen_ns = now_ns() - 130 * NS;
	entry_set(FD(GW_SYNS), OUT4, 40054, CAS4, 443, IPPROTO_TCP, &f);
	step("its SYN-ACK 130 s later", TC, &synack2, false,
	     MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_CAS, NO_RULE, OUT)));
	assert_null(flow_get(OUT4, 40054, CAS4, 443, IPPROTO_TCP, &f));

	/* FIN: closing; gone 120 s after its last packet, where an open flow lives a day */
	assert_non_null(flow_get(OUT4, 40052, CAS4, 443, IPPROTO_TCP, &f));
	f.last_seen_ns = now_ns() - 3600 * NS;
	flow_set(OUT4, 40052, CAS4, 443, IPPROTO_TCP, &f);
	step("an ACK an hour after the last packet", XDP, &ack, true,
	     MOVES(M_REASON(ESTABLISHED, IN)));
	assert_non_null(flow_get(OUT4, 40052, CAS4, 443, IPPROTO_TCP, &f));
	assert_true(now_ns() - f.last_seen_ns < 60 * NS); /* refreshed */
	step("cas's FIN", TC, &fin, true, MOVES(M_REASON(ESTABLISHED, OUT)));
	assert_non_null(flow_get(OUT4, 40052, CAS4, 443, IPPROTO_TCP, &f));
	assert_int_equal(f.closing, 1);
	f.last_seen_ns = now_ns() - 100 * NS;
	flow_set(OUT4, 40052, CAS4, 443, IPPROTO_TCP, &f);
	step("the last ACK 100 s after the FIN", XDP, &ack, true,
	     MOVES(M_REASON(ESTABLISHED, IN)));
	f.last_seen_ns = now_ns() - 130 * NS;
	flow_set(OUT4, 40052, CAS4, 443, IPPROTO_TCP, &f);
	step("an ACK 130 s after a closing flow's last packet", XDP, &ack, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_CAS, NO_RULE, IN)));
	f.closing = 0;
	f.last_seen_ns = now_ns() - 86500 * NS;
	flow_set(OUT4, 40052, CAS4, 443, IPPROTO_TCP, &f);
	step("an ACK more than a day after an open flow's last packet", XDP, &ack, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_CAS, NO_RULE, IN)));

	/* the same ports' next connection: its SYN-ACK opens the closing entry again */
	f.closing = 1;
	f.last_seen_ns = now_ns();
	flow_set(OUT4, 40052, CAS4, 443, IPPROTO_TCP, &f);
	step("a new SYN of the same ports", XDP, &syn, true,
	     MOVES(M_RULE(R_CAS_HTTPS, IN), M_HRULE(H_CAS, R_CAS_HTTPS, IN)));
	step("its SYN-ACK", TC, &synack, true, MOVES(M_REASON(ESTABLISHED, OUT)));
	assert_non_null(flow_get(OUT4, 40052, CAS4, 443, IPPROTO_TCP, &f));
	assert_int_equal(f.closing, 0);
}

/* The entries a map holds now. */
static uint32_t map_count(int fd)
{
	struct spee_flow_key k, next;
	uint32_t n = 0;

	while (!bpf_map_get_next_key(fd, n ? &k : NULL, &next)) {
		k = next;
		n++;
	}
	return n;
}

static uint32_t map_max_entries(int fd)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	return info.max_entries;
}

/*
 * A flood of SYNs the rules allow (cas's https is open to ANY) from
 * spoofed sources, more than either flow table holds, churns the
 * half-open table only: a connection established before it stays in
 * spee_gw_flows, and its packets pass both ways.
 */
static void syn_flood(void **state)
{
	const struct pkt_spec syn = { TCP4(OUT4, CAS4, 40140, 443, SYN) };
	const struct pkt_spec synack = { TCP4(CAS4, OUT4, 443, 40140, SYNACK) };
	const struct pkt_spec ack = { TCP4(OUT4, CAS4, 40140, 443, ACK) };
	const struct pkt_spec data_in = { TCP4(OUT4, CAS4, 40140, 443, ACK | PKT_PSH),
					  .payload = 100 };
	const struct pkt_spec data_out = { TCP4(CAS4, OUT4, 443, 40140, ACK | PKT_PSH),
					   .payload = 1000 };
	uint32_t syns_max = map_max_entries(FD(GW_SYNS)), flows_max = map_max_entries(FD(GW_FLOWS));
	uint32_t flood = 4 * (syns_max > flows_max ? syns_max : flows_max);
	uint32_t rule_in = spee_rule_ctr_index(R_CAS_HTTPS, IN);
	static struct bpfenv_counters before, after; /* static: large */
	uint8_t buf[PKT_MAX];
	char src[INET_ADDRSTRLEN], last_src[INET_ADDRSTRLEN] = "";
	struct spee_gw_flow f;
	uint16_t last_sport = 0;

	(void)state;
	/* bounded: 198.19.0.0/16 holds the spoofed sources */
	assert_true(flood > syns_max && flood <= 65536);

	step("a client's SYN to cas's https", XDP, &syn, true,
	     MOVES(M_RULE(R_CAS_HTTPS, IN), M_HRULE(H_CAS, R_CAS_HTTPS, IN)));
	step("cas's SYN-ACK", TC, &synack, true, MOVES(M_REASON(ESTABLISHED, OUT)));
	step("the client's ACK", XDP, &ack, true, MOVES(M_REASON(ESTABLISHED, IN)));
	assert_null(syn_get(OUT4, 40140, CAS4, 443, &f));
	assert_non_null(flow_get(OUT4, 40140, CAS4, 443, IPPROTO_TCP, &f));
	/*
	 * The kernel's LRU keeps an entry referenced since it last aged the
	 * table over a flood of new ones; an idle connection's entry is not
	 * referenced. Made anew from user space (an entry replaced in place
	 * would be marked referenced), it is unreferenced as an idle
	 * connection's is, and a flood that reached spee_gw_flows would evict it.
	 */
	flow_remake(OUT4, 40140, CAS4, 443, IPPROTO_TCP, &f);

	assert_int_equal(bpfenv_read_counters(&env.l.maps, &before), 0);
	for (uint32_t i = 0; i < flood; i++) {
		struct pkt_spec spoofed = { TCP4(src, CAS4, (uint16_t)(1024 + i % 60000), 443,
						 SYN) };
		int n;

		snprintf(src, sizeof(src), "198.19.%u.%u", (i >> 8) & 0xff, i & 0xff);
		n = pkt_build(&spoofed, buf, sizeof(buf));
		assert_true(n > PKT_ETH_HLEN);
		if (run_frame(XDP, buf, (size_t)n) != XDP_PASS_)
			fail_msg("spoofed SYN %u of %u from %s: dropped, expected pass", i + 1,
				 flood, src);
		memcpy(last_src, src, sizeof(src));
		last_sport = spoofed.sport;
	}
	assert_int_equal(bpfenv_read_counters(&env.l.maps, &after), 0);
	assert_int_equal(after.rule[rule_in].packets - before.rule[rule_in].packets, flood);

	/* the flood went to the half-open table, which holds what it can ... */
	assert_non_null(syn_get(last_src, last_sport, CAS4, 443, &f));
	assert_in_range(map_count(FD(GW_SYNS)), 1, syns_max);
	/* ... and not to the established ones' */
	assert_int_equal(map_count(FD(GW_FLOWS)), 1);
	assert_non_null(flow_get(OUT4, 40140, CAS4, 443, IPPROTO_TCP, &f));
	assert_int_equal(f.reason, SPEE_REASON_ESTABLISHED);
	assert_int_equal(f.closing, 0);
	/* suggest noted the client, whose handshake completed, and none of the spoofed */
	assert_int_equal(map_count(FD(SEEN)), 1);
	assert_int_equal(seen_count(R_CAS_HTTPS, IN, OUT4), 1);

	step("the client's data after the flood", XDP, &data_in, true,
	     MOVES(M_REASON(ESTABLISHED, IN)));
	step("cas's data after the flood", TC, &data_out, true, MOVES(M_REASON(ESTABLISHED, OUT)));
	step("and through XDP the other way", XDP, &data_out, true,
	     MOVES(M_REASON(ESTABLISHED, OUT)));
}

/* ---- UDP, DNS ---- */

static void udp(void **state)
{
	const struct pkt_spec req = { UDP(ADM4, MGMT4, 40060, 514) };
	const struct pkt_spec rep = { UDP(MGMT4, ADM4, 514, 40060) };
	const struct pkt_spec rep_other = { UDP(MGMT4, ADM4, 514, 40061) };
	const struct pkt_spec ntp = { UDP(CAS4, OUT4, 40062, 123) };
	const struct pkt_spec ntp_rep = { UDP(OUT4, CAS4, 123, 40062) };
	const struct pkt_spec dns = { UDP(CAS4, RES4, 40063, 53) };
	const struct pkt_spec dns_rep = { UDP(RES4, CAS4, 53, 40063) };
	const struct pkt_spec dns_other = { UDP(RES4, MGMT4, 53, 40063) };
	struct spee_gw_flow f;

	(void)state;
	step("mgmt's answer before any datagram", TC, &rep, false,
	     MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_MGMT, NO_RULE, OUT)));
	step("ADM's syslog datagram", XDP, &req, true,
	     MOVES(M_RULE(R_SYSLOG, IN), M_HRULE(H_MGMT, R_SYSLOG, IN)));
	step("mgmt's answer", TC, &rep, true, MOVES(M_REASON(UDP_REPLY, OUT)));
	step("an answer to another port", TC, &rep_other, false,
	     MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_MGMT, NO_RULE, OUT)));
	assert_non_null(flow_get(ADM4, 40060, MGMT4, 514, IPPROTO_UDP, &f));
	f.last_seen_ns = now_ns() - 2 * UDP_TIMEOUT_S * NS;
	flow_set(ADM4, 40060, MGMT4, 514, IPPROTO_UDP, &f);
	step("an answer after udp-timeout", TC, &rep, false,
	     MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_MGMT, NO_RULE, OUT)));
	step("ADM's next datagram refreshes the flow", XDP, &req, true,
	     MOVES(M_RULE(R_SYSLOG, IN), M_HRULE(H_MGMT, R_SYSLOG, IN)));
	step("and the answer passes again", TC, &rep, true, MOVES(M_REASON(UDP_REPLY, OUT)));

	step("cas's NTP query out", TC, &ntp, true,
	     MOVES(M_RULE(R_NTP, OUT), M_HRULE(H_CAS, R_NTP, OUT)));
	step("the server's answer", XDP, &ntp_rep, true, MOVES(M_REASON(UDP_REPLY, IN)));

	step("cas's query to its resolver", TC, &dns, true, MOVES(M_REASON(DNS, OUT)));
	assert_non_null(flow_get(CAS4, 40063, RES4, 53, IPPROTO_UDP, &f));
	assert_int_equal(f.reason, SPEE_REASON_DNS);
	step("the resolver's answer", XDP, &dns_rep, true, MOVES(M_REASON(DNS, IN)));
	step("an 'answer' to mgmt, which asked nothing", XDP, &dns_other, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
}

/* ---- ICMP ---- */

static void icmp(void **state)
{
	const struct pkt_spec req = { ICMP(ADM4, MGMT4, 8, 0x700) };
	const struct pkt_spec rep = { ICMP(MGMT4, ADM4, 0, 0x700) };
	const struct pkt_spec rep_other = { ICMP(MGMT4, ADM4, 0, 0x701) };
	const struct pkt_spec req_out = { ICMP(OUT4, MGMT4, 8, 0x702) };
	const struct pkt_spec req6 = { ICMP6(ADM6, MGMT6, 128, 0x703) };
	const struct pkt_spec rep6 = { ICMP6(MGMT6, ADM6, 129, 0x703) };
	const struct pkt_spec back_in = { ICMP(ADM4, MGMT4, 0, 0x700) };
	/* mgmt's error about ADM's echo request (quoting it: identifier 0x700), and about another */
	const struct pkt_spec ping_err = { ICMP(MGMT4, ADM4, 3, 0), .icmp_code = 3, .q_src = ADM4,
					   .q_dst = MGMT4, .q_proto = IPPROTO_ICMP,
					   .q_sport = 0x700, .q_dport = 1 };
	const struct pkt_spec ping_err_other = { ICMP(MGMT4, ADM4, 3, 0), .icmp_code = 3,
						 .q_src = ADM4, .q_dst = MGMT4,
						 .q_proto = IPPROTO_ICMP, .q_sport = 0x7ff,
						 .q_dport = 1 };
	const struct pkt_spec vrrp = { .src = CAS4, .dst = MGMT4, .proto = 112, .payload = 40 };
	const struct pkt_spec gre = { .src = CAS4, .dst = MGMT4, .proto = 47, .payload = 40 };

	(void)state;
	step("an echo reply before any request", TC, &rep, false,
	     MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_MGMT, NO_RULE, OUT)));
	step("ADM pings mgmt", XDP, &req, true,
	     MOVES(M_RULE(R_PING, IN), M_HRULE(H_MGMT, R_PING, IN)));
	step("mgmt's echo reply", TC, &rep, true, MOVES(M_REASON(ICMP_REPLY, OUT)));
	step("mgmt's error about ADM's ping", TC, &ping_err, true, MOVES(M_REASON(ICMP, OUT)));
	step("an error about a ping never let through", TC, &ping_err_other, false,
	     MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_MGMT, NO_RULE, OUT)));
	step("a reply with another identifier", TC, &rep_other, false,
	     MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_MGMT, NO_RULE, OUT)));
	step("an echo reply the other way", XDP, &back_in, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
	step("a ping from outside ADM", XDP, &req_out, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
	step("ADM pings mgmt over IPv6", XDP, &req6, true,
	     MOVES(M_RULE(R_PING, IN), M_HRULE(H_MGMT, R_PING, IN)));
	step("mgmt's echo6 reply", TC, &rep6, true, MOVES(M_REASON(ICMP_REPLY, OUT)));
	step("VRRP from cas (an ip rule at both ends)", TC, &vrrp, true,
	     MOVES(M_RULE(R_VRRP, OUT), M_RULE(R_VRRP, IN), M_HRULE(H_CAS, R_VRRP, OUT),
		   M_HRULE(H_MGMT, R_VRRP, IN)));
	step("GRE from cas", TC, &gre, false,
	     MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_CAS, NO_RULE, OUT)));
}

static void icmp_errors(void **state)
{
	const struct pkt_spec syn = { TCP4(IH4, OUT4, 40070, 443, SYN) };
	/* a router on the way says the server cannot be reached: to ih1, quoting its SYN */
	const struct pkt_spec unreach = {
		ICMP(ROUTER4, IH4, 3, 0), .icmp_code = 1, .q_src = IH4, .q_dst = OUT4,
		.q_proto = IPPROTO_TCP, .q_sport = 40070, .q_dport = 443
	};
	const struct pkt_spec unknown = {
		ICMP(ROUTER4, IH4, 3, 0), .icmp_code = 1, .q_src = IH4, .q_dst = OUT4,
		.q_proto = IPPROTO_TCP, .q_sport = 40071, .q_dport = 443
	};
	/* quoting the flow, but sent to another inventory host than its source */
	const struct pkt_spec misdirected = {
		ICMP(ROUTER4, CAS4, 3, 0), .icmp_code = 1, .q_src = IH4, .q_dst = OUT4,
		.q_proto = IPPROTO_TCP, .q_sport = 40070, .q_dport = 443
	};
	/* the server's side: ih1 says the port is unreachable, quoting the server's packet */
	const struct pkt_spec from_ih = {
		ICMP(IH4, OUT4, 3, 0), .icmp_code = 3, .q_src = OUT4, .q_dst = IH4,
		.q_proto = IPPROTO_TCP, .q_sport = 443, .q_dport = 40070
	};

	(void)state;
	step("an error quoting no flow", XDP, &unreach, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_IH1, NO_RULE, IN)));
	step("ih1's SYN", TC, &syn, true, MOVES(M_RULE(R_EWS, OUT), M_HRULE(H_IH1, R_EWS, OUT)));
	step("an error quoting it, to ih1", XDP, &unreach, true, MOVES(M_REASON(ICMP, IN)));
	step("an error quoting another connection", XDP, &unknown, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_IH1, NO_RULE, IN)));
	step("an error quoting it, to another host", XDP, &misdirected, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_CAS, NO_RULE, IN)));
	step("ih1's error about the server's packet", TC, &from_ih, true,
	     MOVES(M_REASON(ICMP, OUT)));
}

/* ---- fragments ---- */

static void fragments(void **state)
{
	const struct pkt_spec tiny = { TCP4(OUT4, CAS4, 40080, 443, SYN), .frag = true,
				       .more_frags = true, .ip_id = 80, .l4_keep = 8 };
	const struct pkt_spec first = { UDPN(ADM4, MGMT4, 40081, 514, 64),
					.frag = true, .more_frags = true, .ip_id = 81 };
	const struct pkt_spec later = { UDP(ADM4, MGMT4, 40081, 514), .frag = true,
					.frag_offset = 72, .ip_id = 81 };
	const struct pkt_spec stray = { UDP(ADM4, MGMT4, 40081, 514), .frag = true,
					.frag_offset = 72, .ip_id = 82 };
	const struct pkt_spec refused = { UDPN(OUT4, MGMT4, 40082, 514, 64),
					  .frag = true, .more_frags = true, .ip_id = 83 };
	const struct pkt_spec refused_later = { UDP(OUT4, MGMT4, 40082, 514), .frag = true,
						.frag_offset = 72, .ip_id = 83 };
	const struct pkt_spec first6 = { TCP4(OUT6, CAS6, 40083, 443, SYN), .payload = 64,
					 .frag = true, .more_frags = true, .frag_id = 84 };
	const struct pkt_spec later6 = { TCP4(OUT6, CAS6, 40083, 443, SYN), .frag = true,
					 .frag_offset = 88, .frag_id = 84 };
	const struct pkt_spec transit_stray = { UDP(OTHER4, OUT4, 40084, 514), .frag = true,
						.frag_offset = 72, .ip_id = 85 };

	(void)state;
	step("a first fragment too short for the TCP header", XDP, &tiny, false,
	     MOVES(M_REASON(FRAGMENT, IN), M_HDROP(H_CAS, FRAGMENT, IN)));
	step("an allowed first fragment", XDP, &first, true,
	     MOVES(M_RULE(R_SYSLOG, IN), M_HRULE(H_MGMT, R_SYSLOG, IN)));
	step("its later fragment: bytes on the rule, no packet", XDP, &later, true,
	     MOVES(M_RULE_BYTES(R_SYSLOG, IN), M_HRULE_BYTES(H_MGMT, R_SYSLOG, IN)));
	step("a later fragment whose first is unknown", XDP, &stray, false,
	     MOVES(M_REASON(FRAGMENT, IN), M_HDROP(H_MGMT, FRAGMENT, IN)));
	step("a refused first fragment", XDP, &refused, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
	step("its later fragment", XDP, &refused_later, false,
	     MOVES(M_REASON(FRAGMENT, IN), M_HDROP(H_MGMT, FRAGMENT, IN)));
	step("an allowed IPv6 first fragment", TC, &first6, true,
	     MOVES(M_RULE(R_CAS_HTTPS, IN), M_HRULE(H_CAS, R_CAS_HTTPS, IN)));
	step("its later fragment", TC, &later6, true,
	     MOVES(M_RULE_BYTES(R_CAS_HTTPS, IN), M_HRULE_BYTES(H_CAS, R_CAS_HTTPS, IN)));
	step("a stray fragment between other hosts is transit", XDP, &transit_stray, true,
	     MOVES(M_REASON(TRANSIT, IN)));
}

/* ---- VLAN tags, in-band ---- */

static void vlan(void **state)
{
	const struct pkt_spec one = { .n_vlan = 1, TCP4(OUT4, CAS4, 40090, 443, SYN) };
	const struct pkt_spec two = { .n_vlan = 2, .vlan_tpid = { 0x88a8, 0x8100 },
				      TCP4(OUT4, CAS4, 40091, 443, SYN) };
	const struct pkt_spec two_no = { .n_vlan = 2, .vlan_tpid = { 0x88a8, 0x8100 },
					 TCP4(OUT4, MGMT4, 40092, 8470, SYN) };
	const struct pkt_spec two_ack = { .n_vlan = 2, .vlan_tpid = { 0x88a8, 0x8100 },
					  TCP4(CAS4, OUT4, 443, 40091, SYNACK) };
	const struct pkt_spec three = { .n_vlan = 3, TCP4(OUT4, CAS4, 40093, 443, SYN) };

	(void)state;
	step("a SYN with one tag", XDP, &one, true,
	     MOVES(M_RULE(R_CAS_HTTPS, IN), M_HRULE(H_CAS, R_CAS_HTTPS, IN)));
	step("a SYN with one tag at a port", TC, &one, true,
	     MOVES(M_RULE(R_CAS_HTTPS, IN), M_HRULE(H_CAS, R_CAS_HTTPS, IN)));
	step("a SYN with two tags", XDP, &two, true,
	     MOVES(M_RULE(R_CAS_HTTPS, IN), M_HRULE(H_CAS, R_CAS_HTTPS, IN)));
	step("its SYN-ACK with two tags at a port", TC, &two_ack, true,
	     MOVES(M_REASON(ESTABLISHED, OUT)));
	step("a refused SYN with two tags", TC, &two_no, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
	step("three tags", XDP, &three, false,
	     MOVES(M_REASON(MALFORMED, IN)));
}

/* ---- non-IP frames: ARP, the config's ethertypes, the rest ---- */

static void non_ip(void **state)
{
	const struct pkt_spec arp = { .ethertype = 0x0806, .src = OUT4, .dst = CAS4,
				      .proto = 253, .payload = 28 };
	const struct pkt_spec lldp = { .ethertype = 0x88cc, .src = OUT4, .dst = CAS4,
				       .proto = 253, .payload = 28 };
	const struct pkt_spec other = { .ethertype = 0x88b5, .src = OUT4, .dst = CAS4,
					.proto = 253, .payload = 28 };

	(void)state;
	step("ARP", TC, &arp, true, MOVES(M_REASON(NON_IP, IN)));
	step("LLDP, an ethertype the config lists", XDP, &lldp, true, MOVES(M_REASON(NON_IP, IN)));
	step("another ethertype", TC, &other, false, MOVES(M_REASON(ETHERTYPE, IN)));
}

/* ---- policy ids: one host's entries never answer for another ---- */

static void policy_isolation(void **state)
{
	const struct pkt_spec https_mgmt = { TCP4(OUT4, MGMT4, 40100, 443, SYN) };
	const struct pkt_spec console_cas = { TCP4(ADM4, CAS4, 40101, 8470, SYN) };
	const struct pkt_spec ews_ih2 = { TCP4(IH2_4, OUT4, 40102, 443, SYN) };
	const struct pkt_spec ews_cas = { TCP4(CAS4, OUT4, 40103, 443, SYN) };
	const struct pkt_spec internal_ih2 = { TCP4(MGMT4, IH2_4, 40104, 8472, SYN) };

	(void)state;
	step("cas's https ANY does not open mgmt's 443", XDP, &https_mgmt, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
	step("mgmt's console from ADM is not cas's", XDP, &console_cas, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_CAS, NO_RULE, IN)));
	step("ih2 shares ih1's policy, counted on its own host", TC, &ews_ih2, true,
	     MOVES(M_RULE(R_EWS, OUT), M_HRULE(H_IH2, R_EWS, OUT)));
	step("the IHs' egress is not cas's", TC, &ews_cas, false,
	     MOVES(M_REASON(NO_RULE, OUT), M_HDROP(H_CAS, NO_RULE, OUT)));
	step("mgmt -> ih2 8472, counted on ih2", TC, &internal_ih2, true,
	     MOVES(M_RULE(R_MGMT_OUT, OUT), M_RULE(R_IH_INTERNAL, IN),
		   M_HRULE(H_MGMT, R_MGMT_OUT, OUT), M_HRULE(H_IH2, R_IH_INTERNAL, IN)));
}

/* ---- the slot switch ---- */

static void slot_switch(void **state)
{
	const struct pkt_spec console_out = { TCP4(OUT4, MGMT4, 40110, 8470, SYN) };
	const struct pkt_spec cas = { TCP4(OUT4, CAS4, 40111, 443, SYN) };

	(void)state;
	step("slot 1's open console is not used while slot 0 is active", XDP, &console_out, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
	set_runtime(1, SPEE_MODE_ENFORCE, 0);
	step("after the flip, slot 1 answers", XDP, &console_out, true,
	     MOVES(M_RULE(R_OPEN_CONSOLE, IN), M_HRULE(H_MGMT, R_OPEN_CONSOLE, IN)));
	step("cas is no inventory host in slot 1: transit", XDP, &cas, true,
	     MOVES(M_REASON(TRANSIT, IN)));
	set_runtime(0, SPEE_MODE_ENFORCE, 0);
	step("flipped back", XDP, &cas, true,
	     MOVES(M_RULE(R_CAS_HTTPS, IN), M_HRULE(H_CAS, R_CAS_HTTPS, IN)));
}

/* ---- audit mode ---- */

static void audit(void **state)
{
	const struct pkt_spec no = { TCP4(OUT4, MGMT4, 40120, 8470, SYN) };
	const struct pkt_spec ack = { TCP4(OUT4, MGMT4, 40120, 8470, ACK) };
	const struct pkt_spec ew = { TCP4(MGMT4, CAS4, 40121, 8472, SYN) };
	const struct pkt_spec ok = { TCP4(ADM4, MGMT4, 40122, 8470, SYN) };
	struct spee_gw_flow f;

	(void)state;
	set_runtime(0, SPEE_MODE_AUDIT, 0);
	step("a refused SYN passes, counted as a would-drop", XDP, &no, true,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
	/* a would-drop opens no flow: enforcing later cuts the connection */
	assert_null(flow_get(OUT4, 40120, MGMT4, 8470, IPPROTO_TCP, &f));
	step("its ACK passes, a would-drop too", XDP, &ack, true,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
	step("an east-west SYN its destination refuses", TC, &ew, true,
	     MOVES(M_RULE(R_MGMT_OUT, OUT), M_HRULE(H_MGMT, R_MGMT_OUT, OUT),
		   M_REASON(NO_RULE, IN), M_HDROP(H_CAS, NO_RULE, IN)));
	step("an allowed SYN is counted on its rule", XDP, &ok, true,
	     MOVES(M_RULE(R_CONSOLE, IN), M_HRULE(H_MGMT, R_CONSOLE, IN)));
	set_runtime(0, SPEE_MODE_ENFORCE, 0);
	step("enforced again, the SYN is dropped", XDP, &no, false,
	     MOVES(M_REASON(NO_RULE, IN), M_HDROP(H_MGMT, NO_RULE, IN)));
}

/* ---- drop events ---- */

struct got_events {
	size_t n;
	struct spee_event ev[4];
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct got_events *got = ctx;

	if (len >= sizeof(got->ev[0]) && got->n < 4)
		memcpy(&got->ev[got->n], data, sizeof(got->ev[0]));
	got->n++;
	return 0;
}

static void events(void **state)
{
	const struct pkt_spec ew = { TCP4(MGMT4, CAS4, 40130, 8472, SYN) };
	const struct pkt_spec ok = { TCP4(ADM4, MGMT4, 40131, 8470, SYN) };
	struct got_events got = {};
	struct ring_buffer *rb;
	uint8_t want[16] = {};
	uint8_t fam;

	(void)state;
	rb = ring_buffer__new(FD(EVENTS), on_event, &got, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb); /* what earlier tests left */
	memset(&got, 0, sizeof(got));
	set_runtime(0, SPEE_MODE_ENFORCE, 1000);
	step("an allowed SYN", XDP, &ok, true,
	     MOVES(M_RULE(R_CONSOLE, IN), M_HRULE(H_MGMT, R_CONSOLE, IN)));
	step("an east-west SYN its destination refuses", TC, &ew, false,
	     MOVES(M_RULE(R_MGMT_OUT, OUT), M_HRULE(H_MGMT, R_MGMT_OUT, OUT),
		   M_REASON(NO_RULE, IN), M_HDROP(H_CAS, NO_RULE, IN)));
	assert_true(ring_buffer__consume(rb) >= 0);
	assert_int_equal(got.n, 1); /* one event: the refusal, at the side that refused */
	assert_int_equal(got.ev[0].dir, IN);
	assert_int_equal(got.ev[0].reason, SPEE_REASON_NO_RULE);
	assert_int_equal(got.ev[0].proto, IPPROTO_TCP);
	assert_int_equal(got.ev[0].audit, 0);
	assert_int_equal(ntohs(got.ev[0].dport), 8472);
	assert_int_equal(addr_of(CAS4, &fam, want), 0);
	assert_memory_equal(got.ev[0].daddr, want, 16);
	/* the rate limit holds here as on a host: at a rate of 0, a refusal sends none */
	set_runtime(0, SPEE_MODE_ENFORCE, 0);
	step("the same SYN, events off", TC, &ew, false,
	     MOVES(M_RULE(R_MGMT_OUT, OUT), M_HRULE(H_MGMT, R_MGMT_OUT, OUT),
		   M_REASON(NO_RULE, IN), M_HDROP(H_CAS, NO_RULE, IN)));
	assert_true(ring_buffer__consume(rb) >= 0);
	assert_int_equal(got.n, 1);
	ring_buffer__free(rb);
}

#pragma GCC diagnostic pop

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(ingress_from_outside, test_setup),
		cmocka_unit_test_setup(egress_to_outside, test_setup),
		cmocka_unit_test_setup(east_west, test_setup),
		cmocka_unit_test_setup(transit, test_setup),
		cmocka_unit_test_setup(replies, test_setup),
		cmocka_unit_test_setup(tcp_state, test_setup),
		cmocka_unit_test_setup(syn_flood, test_setup),
		cmocka_unit_test_setup(udp, test_setup),
		cmocka_unit_test_setup(icmp, test_setup),
		cmocka_unit_test_setup(icmp_errors, test_setup),
		cmocka_unit_test_setup(fragments, test_setup),
		cmocka_unit_test_setup(vlan, test_setup),
		cmocka_unit_test_setup(non_ip, test_setup),
		cmocka_unit_test_setup(policy_isolation, test_setup),
		cmocka_unit_test_setup(slot_switch, test_setup),
		cmocka_unit_test_setup(audit, test_setup),
		cmocka_unit_test_setup(events, test_setup),
	};

	return cmocka_run_group_tests_name("gateway", tests, group_setup, group_teardown);
}
