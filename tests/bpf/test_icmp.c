// SPDX-License-Identifier: GPL-2.0-only
/*
 * icmp, icmpv6 and ip rules in the kernel (CONTRACT.md section 4), with
 * BPF_PROG_TEST_RUN: echo requests in and out, allowed and refused by
 * peer, by the linux-host baseline and by site rules; other message types
 * by type; VRRP (112) and ESP (50) by protocol number; IPv4 and IPv6. Then
 * echo exchanges across the two programs: a reply passes only after a
 * request the policy let through the other way, with the same identifier,
 * from the peer it was sent to, within udp-timeout, and is counted as
 * icmp-reply.
 *
 * Every case runs through the kernel and the packet model
 * (tests/lib/pktmodel.c) alike, which must both give the expected verdict,
 * reason and rule and move exactly that counter. The policy is
 * tests/fixtures/bpf/linux-host.yaml for node1 (198.18.0.10, fd00:5e::10).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "bpfcase.h"
#include "fixture.h"

#define XDP BPFCASE_XDP
#define EGRESS BPFCASE_EGRESS
#define PASS true
#define DROP false
#define RULE SPEE_REASON_RULE
#define NO_RULE SPEE_REASON_NO_RULE
#define REPLY SPEE_REASON_ICMP_REPLY

#define CAS4 "198.18.0.11"
#define CAS6 "fd00:5e::11"
#define VIP4 "198.18.3.7"
#define LAB4 "198.18.3.8"

/* An ICMP (IPv4 addresses) or ICMPv6 message of type t with echo identifier id. */
#define ICMP(s, d, t, id)                                                                          \
	.src = s, .dst = d, .proto = IPPROTO_ICMP, .icmp_type = t, .sport = id, .dport = 1,        \
	.payload = 56
#define ICMP6(s, d, t, id)                                                                         \
	.src = s, .dst = d, .proto = IPPROTO_ICMPV6, .icmp_type = t, .sport = id, .dport = 1,      \
	.payload = 56
/* A packet of IP protocol p (VRRP 112, ESP 50, GRE 47...). */
#define IPP(s, d, p) .src = s, .dst = d, .proto = p, .payload = 40

#define ECHO_REQ 8
#define ECHO_REP 0
#define TIMESTAMP 13
#define ECHO6_REQ 128
#define ECHO6_REP 129

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
/* clang-format off */
static const struct bpfcase single[] = {
	/* ---- echo in: the baseline's base-echo-in from ADM, a site rule from a host name ---- */
	{ "ping_from_adm_is_allowed_by_the_baseline", XDP, POL_HOST, {},
	  { ICMP(FX_ADM4, FX_HOST4, ECHO_REQ, 0x100) }, PASS, RULE, "base-echo-in" },
	{ "ping_from_outside_adm_is_dropped", XDP, POL_HOST, {},
	  { ICMP(FX_OUT4, FX_HOST4, ECHO_REQ, 0x101) }, DROP, NO_RULE },
	{ "ping6_from_adm_is_allowed_by_the_baseline", XDP, POL_HOST, {},
	  { ICMP6(FX_ADM6, FX_HOST6, ECHO6_REQ, 0x102) }, PASS, RULE, "base-echo6-in" },
	{ "ping6_from_cas1_is_allowed_by_its_site_rule", XDP, POL_HOST, {},
	  { ICMP6(CAS6, FX_HOST6, ECHO6_REQ, 0x103) }, PASS, RULE, "ping6-cas" },
	{ "ping6_from_outside_is_dropped", XDP, POL_HOST, {},
	  { ICMP6(FX_OUT6, FX_HOST6, ECHO6_REQ, 0x104) }, DROP, NO_RULE },
	/* an icmp rule names one type: the same peer's other types are no-rule */
	{ "timestamp_request_from_the_vip_is_allowed_by_type", XDP, POL_HOST, {},
	  { ICMP(VIP4, FX_HOST4, TIMESTAMP, 0) }, PASS, RULE, "timestamp-vip" },
	{ "timestamp_request_from_another_address_is_dropped", XDP, POL_HOST, {},
	  { ICMP(LAB4, FX_HOST4, TIMESTAMP, 0) }, DROP, NO_RULE },
	{ "echo_request_from_the_vip_is_not_its_timestamp_rule", XDP, POL_HOST, {},
	  { ICMP(VIP4, FX_HOST4, ECHO_REQ, 0x105) }, DROP, NO_RULE },
	/* no request was let through: an echo reply is no reply of anything */
	{ "unsolicited_echo_reply_is_dropped", XDP, POL_HOST, {},
	  { ICMP(FX_ADM4, FX_HOST4, ECHO_REP, 0x106) }, DROP, NO_RULE },
	{ "unsolicited_echo6_reply_is_dropped", XDP, POL_HOST, {},
	  { ICMP6(FX_ADM6, FX_HOST6, ECHO6_REP, 0x107) }, DROP, NO_RULE },
	/* an echo message without its identifier (4 of its 8 header bytes) */
	{ "echo_request_cut_before_its_identifier_is_malformed", XDP, POL_HOST, {},
	  { ICMP(FX_ADM4, FX_HOST4, ECHO_REQ, 0x108), .l4_keep = 4 }, DROP,
	  SPEE_REASON_MALFORMED },
	/* ICMP's number inside IPv6 is not ICMPv6, and no ip rule may name it */
	{ "icmpv4_in_ipv6_is_no_rule", XDP, POL_HOST, {},
	  { .src = FX_ADM6, .dst = FX_HOST6, .proto = IPPROTO_ICMP, .icmp_type = ECHO_REQ,
	    .payload = 56 }, DROP, NO_RULE },

	/* ---- echo out: base-echo-out to ANY ---- */
	{ "ping_out_to_any_is_allowed_by_the_baseline", EGRESS, POL_HOST, {},
	  { ICMP(FX_HOST4, FX_OUT4, ECHO_REQ, 0x200) }, PASS, RULE, "base-echo-out" },
	{ "ping6_out_to_any_is_allowed_by_the_baseline", EGRESS, POL_HOST, {},
	  { ICMP6(FX_HOST6, FX_OUT6, ECHO6_REQ, 0x201) }, PASS, RULE, "base-echo6-out" },
	{ "timestamp_request_out_is_dropped", EGRESS, POL_HOST, {},
	  { ICMP(FX_HOST4, FX_OUT4, TIMESTAMP, 0) }, DROP, NO_RULE },
	{ "unsolicited_echo_reply_out_is_dropped", EGRESS, POL_HOST, {},
	  { ICMP(FX_HOST4, FX_OUT4, ECHO_REP, 0x202) }, DROP, NO_RULE },
	/* without the baseline (the mgmt-ih fleet) a ping out is refused */
	{ "ping_out_without_the_baseline_is_dropped", EGRESS, POL_CONFIG, {},
	  { ICMP(FX_HOST4, FX_OUT4, ECHO_REQ, 0x203) }, DROP, NO_RULE },
	{ "ping_in_without_the_baseline_is_dropped", XDP, POL_CONFIG, {},
	  { ICMP(FX_ADM4, FX_HOST4, ECHO_REQ, 0x204) }, DROP, NO_RULE },

	/* ---- ip rules: VRRP (112) between node1 and cas1, ESP (50) in from ADM ---- */
	{ "vrrp_from_cas1_is_allowed", XDP, POL_HOST, {}, { IPP(CAS4, FX_HOST4, 112) },
	  PASS, RULE, "vrrp" },
	{ "vrrp6_from_cas1_is_allowed", XDP, POL_HOST, {}, { IPP(CAS6, FX_HOST6, 112) },
	  PASS, RULE, "vrrp" },
	{ "vrrp_from_another_host_is_dropped", XDP, POL_HOST, {}, { IPP(FX_OUT4, FX_HOST4, 112) },
	  DROP, NO_RULE },
	{ "vrrp_to_cas1_is_allowed", EGRESS, POL_HOST, {}, { IPP(FX_HOST4, CAS4, 112) },
	  PASS, RULE, "vrrp" },
	{ "vrrp_to_another_host_is_dropped", EGRESS, POL_HOST, {}, { IPP(FX_HOST4, FX_OUT4, 112) },
	  DROP, NO_RULE },
	{ "esp_from_adm_is_allowed", XDP, POL_HOST, {}, { IPP(FX_ADM4, FX_HOST4, 50) },
	  PASS, RULE, "esp-adm" },
	{ "esp6_from_adm_is_allowed", XDP, POL_HOST, {}, { IPP(FX_ADM6, FX_HOST6, 50) },
	  PASS, RULE, "esp-adm" },
	{ "esp_from_outside_adm_is_dropped", XDP, POL_HOST, {}, { IPP(FX_OUT4, FX_HOST4, 50) },
	  DROP, NO_RULE },
	/* ip rules keep no state: ESP out needs a rule of its own, and has none here */
	{ "esp_out_to_adm_is_dropped", EGRESS, POL_HOST, {}, { IPP(FX_HOST4, FX_ADM4, 50) },
	  DROP, NO_RULE },
	/* a rule names one protocol: GRE from the same peer is no-rule */
	{ "gre_from_cas1_is_dropped", XDP, POL_HOST, {}, { IPP(CAS4, FX_HOST4, 47) },
	  DROP, NO_RULE },
	/* 0 and 255 key the kernel's own entries (the host's addresses, the ethertypes) */
	{ "protocol_255_is_no_rule", XDP, POL_HOST, {}, { IPP(CAS4, FX_HOST4, 255) },
	  DROP, NO_RULE },
	{ "protocol_0_is_no_rule", XDP, POL_HOST, {}, { IPP(CAS4, FX_HOST4, 0) },
	  DROP, NO_RULE },
	/* a first fragment of an allowed VRRP packet: its later fragments follow it */
	{ "later_fragment_of_allowed_vrrp_follows_its_first", XDP, POL_HOST,
	  { .src = CAS4, .dst = FX_HOST4, .proto = 112, .frag = true, .more_frags = true,
	    .ip_id = 901, .payload = 64 },
	  { IPP(CAS4, FX_HOST4, 112), .frag = true, .frag_offset = 72, .ip_id = 901 },
	  PASS, RULE, "vrrp" },
};
/* clang-format on */
#pragma GCC diagnostic pop

/* ---- echo exchanges, across the two programs ---- */

struct seq {
	struct pktmodel *m;
	struct bpfcase_slots s;
};

static void seq_start(struct seq *q, int pol)
{
	q->m = calloc(1, sizeof(*q->m));
	assert_non_null(q->m);
	assert_int_equal(bpfcase_apply(pol, &q->s), 0);
	bpfcase_fresh_model(q->m, bc.pol[pol]);
}

static void step(struct seq *q, const char *what, int prog, const struct pkt_spec *spec, bool pass,
		 uint8_t reason, const char *rule)
{
	bpfcase_step(what, prog, POL_HOST, q->m, &q->s, spec, pass, reason, rule, 1);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* The host pings: the reply comes in; another identifier, another peer, or a request does not. */
static void a_ping_out_lets_its_reply_in(void **state)
{
	const struct pkt_spec req = { ICMP(FX_HOST4, FX_OUT4, ECHO_REQ, 0x300) };
	const struct pkt_spec rep = { ICMP(FX_OUT4, FX_HOST4, ECHO_REP, 0x300) };
	const struct pkt_spec other_id = { ICMP(FX_OUT4, FX_HOST4, ECHO_REP, 0x301) };
	const struct pkt_spec other_peer = { ICMP("198.18.4.2", FX_HOST4, ECHO_REP, 0x300) };
	const struct pkt_spec their_req = { ICMP(FX_OUT4, FX_HOST4, ECHO_REQ, 0x300) };
	const struct pkt_spec own_reply_out = { ICMP(FX_HOST4, FX_OUT4, ECHO_REP, 0x300) };
	struct seq q;

	(void)state;
	seq_start(&q, POL_HOST);
	step(&q, "before any request, the reply is dropped", XDP, &rep, DROP, NO_RULE, NULL);
	step(&q, "the host's echo request", EGRESS, &req, PASS, RULE, "base-echo-out");
	step(&q, "its reply", XDP, &rep, PASS, REPLY, NULL);
	step(&q, "a second reply (ping counts them: duplicates)", XDP, &rep, PASS, REPLY, NULL);
	step(&q, "a reply with another identifier", XDP, &other_id, DROP, NO_RULE, NULL);
	step(&q, "a reply from another peer", XDP, &other_peer, DROP, NO_RULE, NULL);
	step(&q, "a request of the peer's with that identifier", XDP, &their_req, DROP, NO_RULE,
	     NULL);
	/* the exchange was the host's question: it gives the host no answer of its own to send */
	step(&q, "an echo reply out with that identifier", EGRESS, &own_reply_out, DROP, NO_RULE,
	     NULL);
	free(q.m);
}

static void a_ping6_out_lets_its_reply_in(void **state)
{
	const struct pkt_spec req = { ICMP6(FX_HOST6, FX_OUT6, ECHO6_REQ, 0x310) };
	const struct pkt_spec rep = { ICMP6(FX_OUT6, FX_HOST6, ECHO6_REP, 0x310) };
	const struct pkt_spec other_id = { ICMP6(FX_OUT6, FX_HOST6, ECHO6_REP, 0x311) };
	struct seq q;

	(void)state;
	seq_start(&q, POL_HOST);
	step(&q, "before any request, the reply is dropped", XDP, &rep, DROP, NO_RULE, NULL);
	step(&q, "the host's echo request", EGRESS, &req, PASS, RULE, "base-echo6-out");
	step(&q, "its reply", XDP, &rep, PASS, REPLY, NULL);
	step(&q, "a reply with another identifier", XDP, &other_id, DROP, NO_RULE, NULL);
	free(q.m);
}

/* ADM pings the host: the host's reply goes out; a reply coming in does not pass with it. */
static void a_ping_in_lets_its_reply_out(void **state)
{
	const struct pkt_spec req = { ICMP(FX_ADM4, FX_HOST4, ECHO_REQ, 0x320) };
	const struct pkt_spec rep = { ICMP(FX_HOST4, FX_ADM4, ECHO_REP, 0x320) };
	const struct pkt_spec rep_in = { ICMP(FX_ADM4, FX_HOST4, ECHO_REP, 0x320) };
	const struct pkt_spec req6 = { ICMP6(CAS6, FX_HOST6, ECHO6_REQ, 0x321) };
	const struct pkt_spec rep6 = { ICMP6(FX_HOST6, CAS6, ECHO6_REP, 0x321) };
	struct seq q;

	(void)state;
	seq_start(&q, POL_HOST);
	step(&q, "before any request, the host's reply is dropped", EGRESS, &rep, DROP, NO_RULE,
	     NULL);
	step(&q, "ADM's echo request", XDP, &req, PASS, RULE, "base-echo-in");
	step(&q, "the host's reply", EGRESS, &rep, PASS, REPLY, NULL);
	step(&q, "an echo reply in with ADM's identifier", XDP, &rep_in, DROP, NO_RULE, NULL);
	step(&q, "cas1's echo6 request", XDP, &req6, PASS, RULE, "ping6-cas");
	step(&q, "the host's echo6 reply", EGRESS, &rep6, PASS, REPLY, NULL);
	free(q.m);
}

/* A request the policy refused opens nothing: the host's reply to it stays no-rule. */
static void a_refused_ping_lets_no_reply_out(void **state)
{
	const struct pkt_spec req = { ICMP(FX_OUT4, FX_HOST4, ECHO_REQ, 0x330) };
	const struct pkt_spec rep = { ICMP(FX_HOST4, FX_OUT4, ECHO_REP, 0x330) };
	const struct pkt_spec req6 = { ICMP6(FX_OUT6, FX_HOST6, ECHO6_REQ, 0x331) };
	const struct pkt_spec rep6 = { ICMP6(FX_HOST6, FX_OUT6, ECHO6_REP, 0x331) };
	struct seq q;

	(void)state;
	seq_start(&q, POL_HOST);
	step(&q, "a request from outside ADM", XDP, &req, DROP, NO_RULE, NULL);
	step(&q, "the host's reply to it", EGRESS, &rep, DROP, NO_RULE, NULL);
	step(&q, "an echo6 request from outside", XDP, &req6, DROP, NO_RULE, NULL);
	step(&q, "the host's echo6 reply to it", EGRESS, &rep6, DROP, NO_RULE, NULL);
	free(q.m);
}

/* An exchange's replies pass for udp-timeout (60 s here) after its last request. */
static void a_stale_echo_exchange_lets_no_reply_in(void **state)
{
	const struct pkt_spec rep = { ICMP(FX_OUT4, FX_HOST4, ECHO_REP, 0x340) };
	struct pm_flow f = { .c = { .family = AF_INET, .proto = IPPROTO_ICMP, .lport = 0x340,
				    .rport = 0x340, .echo = SPEE_ECHO_HOST_ASKED },
			     .reason = SPEE_REASON_ICMP_REPLY };
	struct spee_flow_key k = { .family = SPEE_FAMILY_V4, .proto = IPPROTO_ICMP,
				   .lport = htons(0x340), .rport = htons(0x340),
				   .echo = SPEE_ECHO_HOST_ASKED };
	struct spee_flow_state st = { .reason = SPEE_REASON_ICMP_REPLY };
	struct seq q;

	(void)state;
	seq_start(&q, POL_HOST);
	inet_pton(AF_INET, FX_HOST4, f.c.laddr);
	inet_pton(AF_INET, FX_OUT4, f.c.raddr);
	memcpy(k.laddr, f.c.laddr, 16);
	memcpy(k.raddr, f.c.raddr, 16);
	/* far from the edge either way: 1 s, then 120 s old */
	f.last_seen_ns = st.last_seen_ns = bpfcase_now_ns() - 1 * BPFCASE_NS;
	assert_int_equal(bpf_map_update_elem(bc.l.maps.fd[SPEE_MAP_FLOWS], &k, &st, BPF_ANY), 0);
	assert_int_equal(pktmodel_add_flow(q.m, &f), 0);
	step(&q, "a reply 1 s after the request", XDP, &rep, PASS, REPLY, NULL);
	f.last_seen_ns = st.last_seen_ns = bpfcase_now_ns() - 120 * BPFCASE_NS;
	assert_int_equal(bpf_map_update_elem(bc.l.maps.fd[SPEE_MAP_FLOWS], &k, &st, BPF_ANY), 0);
	assert_int_equal(pktmodel_add_flow(q.m, &f), 0);
	step(&q, "a reply 120 s after the request", XDP, &rep, DROP, NO_RULE, NULL);
	free(q.m);
}

#pragma GCC diagnostic pop

static int setup(void **state)
{
	(void)state;
	return bpfcase_setup("spi-c0", "spi-c1");
}

int main(void)
{
	static const struct CMUnitTest seqs[] = {
		cmocka_unit_test(a_ping_out_lets_its_reply_in),
		cmocka_unit_test(a_ping6_out_lets_its_reply_in),
		cmocka_unit_test(a_ping_in_lets_its_reply_out),
		cmocka_unit_test(a_refused_ping_lets_no_reply_out),
		cmocka_unit_test(a_stale_echo_exchange_lets_no_reply_in),
	};
	struct CMUnitTest tests[sizeof(single) / sizeof(single[0]) +
				sizeof(seqs) / sizeof(seqs[0])];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
		memset(&tests[n], 0, sizeof(tests[n]));
		tests[n].name = single[i].name;
		tests[n].test_func = bpfcase_run;
		tests[n].initial_state = (void *)&single[i];
		n++;
	}
	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
		tests[n++] = seqs[i];
	return _cmocka_run_group_tests("icmp", tests, n, setup, bpfcase_teardown);
}
