// SPDX-License-Identifier: GPL-2.0-only
/*
 * The evasion corpus: packets shaped to slip past a filter, each with the
 * verdict it must get and why. Every case runs through the kernel (XDP, or
 * the egress program) and through the packet model; both must give the
 * expected verdict, reason and rule (tests/lib/bpfcase.c).
 *
 * The host is the fixture's mgmt1 (tests/lib/fixture.h): ADM
 * (198.18.9.0/24, fd00:5e::9:0/112) may open mgmt-console (8470) and ssh
 * (22); anyone may open any-https (443); ADM may send syslog (udp 514).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <string.h>

#include "bpfcase.h"
#include "fixture.h"

#define T(s, d, dp, fl)                                                                            \
	.src = s, .dst = d, .proto = IPPROTO_TCP, .sport = 40000, .dport = dp, .tcp_flags = fl
#define U(s, d, dp) .src = s, .dst = d, .proto = IPPROTO_UDP, .sport = 5000, .dport = dp
#define SYN PKT_SYN
#define ACK PKT_ACK
#define XDP 0
#define EGRESS 1
#define PASS true
#define DROP false
#define RULE SPEE_REASON_RULE
#define NO_RULE SPEE_REASON_NO_RULE
#define MALFORMED SPEE_REASON_MALFORMED
#define FRAGMENT SPEE_REASON_FRAGMENT
/* A first fragment of an allowed SYN, for the later fragments after it. */
#define FIRST_SYN(s, d, dp, id)                                                                    \
	{ T(s, d, dp, SYN), .frag = true, .more_frags = true, .ip_id = id, .frag_id = id,          \
	  .payload = 64 }
#define LATER_TCP(s, d, id, off)                                                                   \
	.src = s, .dst = d, .proto = IPPROTO_TCP, .frag = true, .frag_offset = off, .ip_id = id,   \
	.frag_id = id, .payload = 32

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
/* clang-format off */
static const struct bpfcase corpus[] = {
	/* ---- tiny and overlapping fragments (RFC 1858, RFC 3128) ---- */

	/* The ports are there but the flags are not: a filter that judges by ports
	 * alone would let a later fragment supply SYN. Cannot be judged: fragment. */
	{ "tiny_first_fragment_with_ports_but_no_flags_is_dropped", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .frag = true, .more_frags = true, .ip_id = 701,
	    .l4_keep = 8 },
	  DROP, FRAGMENT },
	{ "tiny_first_fragment_without_ports_is_dropped", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .frag = true, .more_frags = true, .ip_id = 702,
	    .l4_keep = 2 },
	  DROP, FRAGMENT },
	{ "ipv6_tiny_first_fragment_is_dropped", XDP, POL_MAIN, {},
	  { T(FX_ADM6, FX_HOST6, 8470, SYN), .frag = true, .more_frags = true, .frag_id = 703,
	    .l4_keep = 12 },
	  DROP, FRAGMENT },
	/* RFC 1858 section 4: a later fragment at offset 8 rewrites the TCP header's
	 * second half (data offset, flags) after the first one was judged. */
	{ "fragment_at_offset_8_overlapping_an_allowed_syn_is_dropped", XDP, POL_MAIN,
	  FIRST_SYN(FX_ADM4, FX_HOST4, 8470, 704), { LATER_TCP(FX_ADM4, FX_HOST4, 704, 8) }, DROP,
	  FRAGMENT },
	/* RFC 3128: the overlap need not start at 8; anything before the end of the
	 * 20-byte header could rewrite flags. */
	{ "fragment_at_offset_16_overlapping_an_allowed_syn_is_dropped", XDP, POL_MAIN,
	  FIRST_SYN(FX_ADM4, FX_HOST4, 8470, 705), { LATER_TCP(FX_ADM4, FX_HOST4, 705, 16) }, DROP,
	  FRAGMENT },
	{ "fragment_right_after_the_tcp_header_follows_its_allowed_first", XDP, POL_MAIN,
	  FIRST_SYN(FX_ADM4, FX_HOST4, 8470, 706), { LATER_TCP(FX_ADM4, FX_HOST4, 706, 24) }, PASS,
	  RULE, "mgmt-console" },
	/* The first fragment was refused: its continuation is not let in on its own. */
	{ "fragment_of_a_refused_first_is_dropped", XDP, POL_MAIN, FIRST_SYN(FX_OUT4, FX_HOST4,
	  8470, 707), { LATER_TCP(FX_OUT4, FX_HOST4, 707, 24) }, DROP, FRAGMENT },
	{ "ipv6_fragment_overlapping_an_allowed_syn_is_dropped", XDP, POL_MAIN, FIRST_SYN(FX_ADM6,
	  FX_HOST6, 8470, 708), { LATER_TCP(FX_ADM6, FX_HOST6, 708, 8) }, DROP, FRAGMENT },

	/* ---- IPv6 extension headers ---- */

	/* A fragment header may be the first extension header (RFC 8200): walked. */
	{ "ipv6_fragment_header_as_the_first_extension_is_judged_by_its_ports", XDP, POL_MAIN, {},
	  { U(FX_ADM6, FX_HOST6, 514), .ext = { 44 }, .n_ext = 1, .frag = true,
	    .more_frags = true, .frag_id = 709, .payload = 64 },
	  PASS, RULE, "syslog" },
	/* Hop-by-hop must come first (RFC 8200 4.3); elsewhere it hides nothing legitimate. */
	{ "ipv6_hop_by_hop_not_first_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM6, FX_HOST6, 8470, SYN), .ext = { 60, 0 }, .n_ext = 2 }, DROP, MALFORMED },
	{ "ipv6_hop_by_hop_first_is_walked", XDP, POL_MAIN, {},
	  { T(FX_ADM6, FX_HOST6, 8470, SYN), .ext = { 0, 60 }, .n_ext = 2 }, PASS, RULE,
	  "mgmt-console" },
	/* The parser walks SPEE_IPV6_EXT_MAX (8) headers: at the bound the port is found;
	 * past it the packet cannot be judged, and is not let through unjudged. */
	{ "ipv6_chain_of_eight_extension_headers_is_walked", XDP, POL_MAIN, {},
	  { T(FX_ADM6, FX_HOST6, 8470, SYN), .ext = { 0, 43, 60, 60, 60, 60, 51, 60 }, .n_ext = 8 },
	  PASS, RULE, "mgmt-console" },
	{ "ipv6_chain_of_nine_extension_headers_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM6, FX_HOST6, 443, SYN), .ext = { 0, 43, 60, 60, 60, 60, 51, 60, 60 },
	    .n_ext = 9 },
	  DROP, MALFORMED },
	{ "ipv6_chain_past_the_bound_in_a_first_fragment_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM6, FX_HOST6, 443, SYN), .ext = { 44, 60, 60, 60, 60, 60, 60, 60, 60 },
	    .n_ext = 9, .frag = true, .more_frags = true, .frag_id = 710 },
	  DROP, MALFORMED },

	/* ---- IPv4 header lengths and options ---- */

	{ "ipv4_ihl_below_5_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .ihl = 4 }, DROP, MALFORMED },
	/* (the builder writes ihl & 15: 0xf0 puts 0 on the wire) */
	{ "ipv4_ihl_0_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .ihl = 0xf0 }, DROP, MALFORMED },
	/* IHL 15 claims 60 bytes of header the packet does not have. */
	{ "ipv4_ihl_past_the_packet_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .ihl = 15 }, DROP, MALFORMED },
	/* 40 bytes of options are the most IHL can say: skipped, the SYN is judged. */
	{ "ipv4_forty_bytes_of_options_are_skipped", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .ip_opt_len = 40 }, PASS, RULE, "mgmt-console" },
	{ "ipv4_options_do_not_open_a_port_to_outsiders", XDP, POL_MAIN, {},
	  { T(FX_OUT4, FX_HOST4, 8470, SYN), .ip_opt_len = 40 }, DROP, NO_RULE },

	/* ---- TCP data offset and flags ---- */

	{ "tcp_data_offset_below_5_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .doff = 4 }, DROP, MALFORMED },
	/* Not "cut by fragmentation": the header says it is shorter than a header. */
	{ "first_fragment_with_tcp_data_offset_below_5_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .doff = 4, .frag = true, .more_frags = true,
	    .ip_id = 711, .payload = 64 },
	  DROP, MALFORMED },
	{ "tcp_data_offset_past_the_packet_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .doff = 15 }, DROP, MALFORMED },
	{ "tcp_forty_bytes_of_options_ending_at_the_packet_end_pass", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .tcp_opt_len = 40 }, PASS, RULE, "mgmt-console" },
	/* No connection opens with SYN and FIN or RST; stacks differ in what they do
	 * with them, which is what scanners and evasions use. */
	{ "syn_fin_to_an_allowed_port_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN | PKT_FIN) }, DROP, MALFORMED },
	{ "syn_rst_to_an_allowed_port_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN | PKT_RST) }, DROP, MALFORMED },
	{ "outbound_syn_fin_is_malformed", EGRESS, POL_MAIN, {},
	  { T(FX_HOST4, FX_OUT4, 80, SYN | PKT_FIN) }, DROP, MALFORMED },
	/* Null, FIN and Xmas scans to an allowed port: no SYN, so no new connection, and
	 * no connection they could belong to. */
	{ "no_flags_to_an_allowed_port_is_no_rule", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 443, 0) }, DROP, NO_RULE },
	{ "fin_alone_to_an_allowed_port_is_no_rule", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 443, PKT_FIN) }, DROP, NO_RULE },
	{ "xmas_to_an_allowed_port_is_no_rule", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 443, PKT_FIN | PKT_PSH | 0x20) }, DROP, NO_RULE },
	/* SYN with ECE and CWR is an ordinary ECN-setup SYN (RFC 3168). */
	{ "ecn_setup_syn_is_an_ordinary_syn", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN | 0x40 | 0x80) }, PASS, RULE, "mgmt-console" },

	/* ---- VLAN stacks ---- */

	{ "qinq_802_1ad_then_802_1q_is_walked", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .n_vlan = 2, .vlan_tpid = { 0x88a8, 0x8100 } }, PASS,
	  RULE, "mgmt-console" },
	{ "qinq_does_not_open_a_port_to_outsiders", XDP, POL_MAIN, {},
	  { T(FX_OUT4, FX_HOST4, 8470, SYN), .n_vlan = 2, .vlan_tpid = { 0x88a8, 0x8100 } }, DROP,
	  NO_RULE },
	/* A third tag would put the IP header where the parser does not look. */
	{ "a_third_vlan_tag_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .n_vlan = 3, .vlan_tpid = { 0x88a8, 0x8100, 0x8100 } },
	  DROP, MALFORMED },
	{ "a_vlan_tag_cut_short_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .n_vlan = 2, .vlan_tpid = { 0x88a8, 0x8100 },
	    .truncate = 14 + 6 },
	  DROP, MALFORMED },

	/* ---- headers that end exactly at the end of the buffer ---- */

	{ "tcp_header_ending_at_the_buffer_end_passes", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN) }, PASS, RULE, "mgmt-console" },
	{ "ipv6_tcp_header_ending_at_the_buffer_end_passes", XDP, POL_MAIN, {},
	  { T(FX_ADM6, FX_HOST6, 8470, SYN) }, PASS, RULE, "mgmt-console" },
	{ "udp_header_ending_at_the_buffer_end_passes", XDP, POL_MAIN, {},
	  { U(FX_ADM4, FX_HOST4, 514) }, PASS, RULE, "syslog" },
	{ "tcp_header_one_byte_short_of_the_packet_end_is_malformed", XDP, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN), .l4_keep = 19 }, DROP, MALFORMED },
	{ "udp_header_one_byte_short_of_the_packet_end_is_malformed", XDP, POL_MAIN, {},
	  { U(FX_ADM4, FX_HOST4, 514), .l4_keep = 7 }, DROP, MALFORMED },
	{ "outbound_tcp_header_ending_at_the_buffer_end_passes", EGRESS, POL_MAIN, {},
	  { T(FX_HOST4, FX_OUT4, 80, SYN) }, PASS, RULE, "ca-revocation" },

	/* ---- sources that are not what they seem ---- */

	/* ::ffff:198.18.9.5 is not ADM's 198.18.9.5: mapped addresses never appear on
	 * the wire (RFC 4291 2.5.5.2), and IPv4 rules do not match IPv6 packets. */
	{ "ipv4_mapped_source_does_not_count_as_its_ipv4_address", XDP, POL_MAIN, {},
	  { T("::ffff:198.18.9.5", FX_HOST6, 8470, SYN) }, DROP, NO_RULE },
	{ "ipv4_mapped_source_is_only_anyone_to_an_any_rule", XDP, POL_MAIN, {},
	  { T("::ffff:198.18.9.5", FX_HOST6, 443, SYN) }, PASS, RULE, "any-https" },
	/* 0.0.0.0 and 255.255.255.255 are in no inventory and no ADM network: only
	 * rules open to ANY match them. */
	{ "zero_source_is_not_adm", XDP, POL_MAIN, {}, { T("0.0.0.0", FX_HOST4, 8470, SYN) }, DROP,
	  NO_RULE },
	{ "broadcast_source_is_not_adm", XDP, POL_MAIN, {},
	  { T("255.255.255.255", FX_HOST4, 22, SYN) }, DROP, NO_RULE },
	{ "zero_source_is_only_anyone_to_an_any_rule", XDP, POL_MAIN, {},
	  { T("0.0.0.0", FX_HOST4, 443, SYN) }, PASS, RULE, "any-https" },
	/* An unsolicited ACK from an allowed port is not a reply (the contract's
	 * "real state"). */
	{ "ack_from_port_443_without_a_connection_is_no_rule", XDP, POL_MAIN, {},
	  { .src = FX_OUT4, .dst = FX_HOST4, .proto = IPPROTO_TCP, .sport = 443, .dport = 40001,
	    .tcp_flags = ACK },
	  DROP, NO_RULE },
};
/* clang-format on */
#pragma GCC diagnostic pop

static int setup(void **state)
{
	(void)state;
	return bpfcase_setup("sph-e0", "sph-e1");
}

int main(void)
{
	struct CMUnitTest tests[sizeof(corpus) / sizeof(corpus[0])];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		memset(&tests[n], 0, sizeof(tests[n]));
		tests[n].name = corpus[i].name;
		tests[n].test_func = bpfcase_run;
		tests[n].initial_state = (void *)&corpus[i];
		n++;
	}
	return _cmocka_run_group_tests("evasion", tests, n, setup, bpfcase_teardown);
}
