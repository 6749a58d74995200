// SPDX-License-Identifier: GPL-2.0-only
/*
 * The attacks of issue 11, sent as the attacker sent them, each with the
 * answer it must get now. What BPF_PROG_TEST_RUN can carry runs through the
 * kernel and the packet model alike (tests/lib/bpfcase.c): frames on a tun
 * device, source routes, ICMP as a covert channel, non-IP frames,
 * fragments out of order and their counts. What is a socket option or a
 * socket family runs for real: the programs attached to a child cgroup and
 * to this test's veth, in this test's network namespace, and a child
 * process sending with unconnected and connected UDP sockets (IPV6_RTHDR,
 * IP_OPTIONS), raw ICMP sockets and a packet socket.
 *
 * The host is the fixture's mgmt1 (tests/lib/fixture.h): ADM
 * (198.18.9.0/24) may open mgmt-console (8470) and send syslog (udp 514);
 * the host may open 80 (ca-revocation) anywhere, send ntp (udp 123) and
 * DNS to its resolvers 198.18.0.53 and fd00:5e::53. The config policy
 * (tests/fixtures/bpf/mgmt-ih.yaml) passes LLDP and LACP besides ARP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfcase.h"
#include "fixture.h"
#include "ifaces.h"
#include "loader.h"

#define T(s, d, dp, fl)                                                                            \
	.src = s, .dst = d, .proto = IPPROTO_TCP, .sport = 40000, .dport = dp, .tcp_flags = fl
#define U(s, d, dp) .src = s, .dst = d, .proto = IPPROTO_UDP, .sport = 5000, .dport = dp
#define I4(s, d, t) .src = s, .dst = d, .proto = IPPROTO_ICMP, .icmp_type = t
#define I6(s, d, t) .src = s, .dst = d, .proto = IPPROTO_ICMPV6, .icmp_type = t
#define SYN PKT_SYN
#define XDP BPFCASE_XDP
#define EGRESS BPFCASE_EGRESS
#define TUN BPFCASE_XDP_IP
#define PASS true
#define DROP false
#define RULE SPEE_REASON_RULE
#define NO_RULE SPEE_REASON_NO_RULE

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
/* clang-format off */
static const struct bpfcase corpus[] = {
	/* ---- 1. a device without a link header: tun, WireGuard, PPP ---- */

	/* The Ethernet parser read bytes 12-13 of the IP header as an ethertype and
	 * passed the SYN as non-IP; the device's own program reads the IP header. */
	{ "tun_syn_to_a_port_only_adm_may_reach_is_dropped", TUN, POL_MAIN, {},
	  { T(FX_OUT4, FX_HOST4, 8470, SYN) }, DROP, NO_RULE },
	{ "tun_ipv6_syn_to_a_port_only_adm_may_reach_is_dropped", TUN, POL_MAIN, {},
	  { T(FX_OUT6, FX_HOST6, 8470, SYN) }, DROP, NO_RULE },
	{ "tun_syn_from_adm_passes_by_its_rule", TUN, POL_MAIN, {},
	  { T(FX_ADM4, FX_HOST4, 8470, SYN) }, PASS, RULE, "mgmt-console" },
	{ "tun_datagram_from_adm_passes_by_its_rule", TUN, POL_MAIN, {},
	  { U(FX_ADM6, FX_HOST6, 514) }, PASS, RULE, "syslog" },
	{ "tun_packet_that_is_neither_ipv4_nor_ipv6_is_malformed", TUN, POL_MAIN, {},
	  { .ethertype = 0x0806, .payload = 40 }, DROP, SPEE_REASON_MALFORMED },

	/* ---- 2. source routes hide the final destination ---- */

	/* sendto() a resolver-looking first segment, then anywhere: refused as such */
	{ "udp_with_a_segment_routing_header_via_the_resolver_is_dropped", EGRESS, POL_MAIN, {},
	  { U(FX_HOST6, FX_RES6, 53), .ext = { 43 }, .n_ext = 1, .rh_segments_left = 1 }, DROP,
	  SPEE_REASON_SOURCE_ROUTE },
	{ "a_routing_header_with_no_segments_left_is_judged_by_its_destination", EGRESS,
	  POL_MAIN, {}, { U(FX_HOST6, FX_RES6, 53), .ext = { 43 }, .n_ext = 1 }, PASS,
	  SPEE_REASON_DNS },
	{ "a_routing_header_behind_destination_options_is_found", EGRESS, POL_MAIN, {},
	  { T(FX_HOST6, FX_OUT6, 80, SYN), .ext = { 60, 43 }, .n_ext = 2,
	    .rh_segments_left = 2 },
	  DROP, SPEE_REASON_SOURCE_ROUTE },
	{ "udp_with_a_loose_source_route_via_the_resolver_is_dropped", EGRESS, POL_MAIN, {},
	  { U(FX_HOST4, FX_RES4, 53), .ip_opt_len = 8, .ip_opt_route = 131 }, DROP,
	  SPEE_REASON_SOURCE_ROUTE },
	{ "a_syn_with_a_strict_source_route_is_dropped", EGRESS, POL_MAIN, {},
	  { T(FX_HOST4, FX_OUT4, 80, SYN), .ip_opt_len = 12, .ip_opt_route = 137 }, DROP,
	  SPEE_REASON_SOURCE_ROUTE },
	{ "other_ipv4_options_are_no_source_route", EGRESS, POL_MAIN, {},
	  { T(FX_HOST4, FX_OUT4, 80, SYN), .ip_opt_len = 12 }, PASS, RULE, "ca-revocation" },
	{ "an_ipv4_option_running_past_the_header_is_malformed", EGRESS, POL_MAIN, {},
	  { T(FX_HOST4, FX_OUT4, 80, SYN), .ip_opt_len = 8, .ip_opt_route = 131, .ihl = 6 },
	  DROP, SPEE_REASON_MALFORMED },
	/* Arriving, a source route is the sender's business (the kernel refuses to
	 * forward it unless told to): the packet is judged by its port. */
	{ "an_arriving_syn_with_a_routing_header_is_judged_by_its_port", XDP, POL_MAIN, {},
	  { T(FX_ADM6, FX_HOST6, 8470, SYN), .ext = { 43 }, .n_ext = 1, .rh_segments_left = 1 },
	  PASS, RULE, "mgmt-console" },

	/* ---- 3. ICMP as a covert channel ---- */

	{ "raw_icmp_unreachable_carrying_data_to_an_outsider_is_dropped", EGRESS, POL_MAIN, {},
	  { I4(FX_HOST4, FX_OUT4, 3), .payload = 200 }, DROP, NO_RULE },
	{ "raw_icmp_time_exceeded_carrying_data_to_an_outsider_is_dropped", EGRESS, POL_MAIN,
	  {}, { I4(FX_HOST4, FX_OUT4, 11), .payload = 200 }, DROP, NO_RULE },
	{ "raw_icmpv6_packet_too_big_carrying_data_is_dropped", EGRESS, POL_MAIN, {},
	  { I6(FX_HOST6, FX_OUT6, 2), .payload = 200 }, DROP, NO_RULE },
	{ "raw_neighbour_solicitation_beyond_the_link_is_dropped", EGRESS, POL_MAIN, {},
	  { I6(FX_HOST6, "fd00:5f::4:1", 135), .ttl = 255, .payload = 200 }, DROP, NO_RULE },
	{ "raw_mld_report_beyond_the_link_is_dropped", EGRESS, POL_MAIN, {},
	  { I6(FX_HOST6, "fd00:5f::4:1", 131), .ttl = 1, .payload = 200 }, DROP, NO_RULE },
	/* what Linux itself sends to a neighbour of a ULA prefix (the lab's) keeps working */
	{ "an_advertisement_to_a_neighbour_of_the_prefix_passes_as_nd", EGRESS, POL_MAIN, {},
	  { I6(FX_HOST6, FX_CAS6, 136), .ttl = 255 }, PASS, SPEE_REASON_ND },
	{ "an_arriving_error_about_no_flow_is_dropped", XDP, POL_MAIN, {},
	  { I4(FX_OUT4, FX_HOST4, 3), .q_src = FX_HOST4, .q_dst = FX_OUT4,
	    .q_proto = IPPROTO_UDP, .q_sport = 40000, .q_dport = 53 },
	  DROP, NO_RULE },

	/* ---- 6. non-IP frames: ARP and what the config lists ---- */

	{ "arp_passes_as_non_ip", XDP, POL_MAIN, {}, { .ethertype = 0x0806 }, PASS,
	  SPEE_REASON_NON_IP },
	{ "pppoe_discovery_is_dropped_as_ethertype", XDP, POL_MAIN, {},
	  { .ethertype = 0x8863, .payload = 40 }, DROP, SPEE_REASON_ETHERTYPE },
	{ "pppoe_session_is_dropped_as_ethertype", XDP, POL_MAIN, {},
	  { .ethertype = 0x8864, .payload = 40 }, DROP, SPEE_REASON_ETHERTYPE },
	{ "mpls_is_dropped_as_ethertype", XDP, POL_MAIN, {}, { .ethertype = 0x8847, .payload = 40 },
	  DROP, SPEE_REASON_ETHERTYPE },
	{ "a_frame_of_tpid_0x9100_is_dropped_as_ethertype", XDP, POL_MAIN, {},
	  { .ethertype = 0x9100, .payload = 40 }, DROP, SPEE_REASON_ETHERTYPE },
	{ "an_802_3_llc_frame_is_dropped_as_ethertype", XDP, POL_MAIN, {},
	  { .ethertype = 0x0026, .payload = 38 }, DROP, SPEE_REASON_ETHERTYPE },
	{ "lldp_is_dropped_where_the_config_does_not_list_it", XDP, POL_MAIN, {},
	  { .ethertype = 0x88cc, .payload = 40 }, DROP, SPEE_REASON_ETHERTYPE },
	{ "lldp_passes_where_the_config_lists_it", XDP, POL_CONFIG, {},
	  { .ethertype = 0x88cc, .payload = 40 }, PASS, SPEE_REASON_NON_IP },
	{ "lacp_passes_where_the_config_lists_it", XDP, POL_CONFIG, {},
	  { .ethertype = 0x8809, .payload = 40 }, PASS, SPEE_REASON_NON_IP },
	{ "a_listed_ethertype_under_a_vlan_tag_passes", XDP, POL_CONFIG, {},
	  { .ethertype = 0x88cc, .n_vlan = 1, .payload = 40 }, PASS, SPEE_REASON_NON_IP },
	{ "mpls_is_dropped_where_the_config_lists_others", XDP, POL_CONFIG, {},
	  { .ethertype = 0x8847, .payload = 40 }, DROP, SPEE_REASON_ETHERTYPE },
};
/* clang-format on */
#pragma GCC diagnostic pop

/* ---- 7 and 8: fragments out of order, and what they count ---- */

#define FIRST_U(s, d, dp, id)                                                                      \
	.src = s, .dst = d, .proto = IPPROTO_UDP, .sport = 5000, .dport = dp, .frag = true,        \
	.more_frags = true, .ip_id = id, .frag_id = id, .payload = 96
#define LATER_U(s, d, id, off, more)                                                               \
	.src = s, .dst = d, .proto = IPPROTO_UDP, .frag = true, .frag_offset = off,                \
	.more_frags = more, .ip_id = id, .frag_id = id, .payload = 40

static void start(int pol, struct bpfcase_slots *s, struct pktmodel *m)
{
	assert_int_equal(bpfcase_apply(pol, s), 0);
	bpfcase_fresh_model(m, bc.pol[pol]);
}

/* ECMP or a LAG delivered the datagram backwards: it arrives, counted once. */
static void a_datagram_in_reverse_order_is_let_in_and_counted_once(void **state)
{
	const struct pkt_spec last = { LATER_U(FX_ADM4, FX_HOST4, 901, 144, false) };
	const struct pkt_spec middle = { LATER_U(FX_ADM4, FX_HOST4, 901, 104, true) };
	const struct pkt_spec first = { FIRST_U(FX_ADM4, FX_HOST4, 514, 901) };
	struct pktmodel *m = calloc(1, sizeof(*m));
	struct bpfcase_slots s;

	(void)state;
	assert_non_null(m);
	start(POL_MAIN, &s, m);
	bpfcase_step("the last fragment", XDP, POL_MAIN, m, &s, &last, PASS,
		     SPEE_REASON_REASSEMBLY, NULL, 1);
	bpfcase_step("the middle one", XDP, POL_MAIN, m, &s, &middle, PASS,
		     SPEE_REASON_REASSEMBLY, NULL, 1);
	bpfcase_step("the first, judged", XDP, POL_MAIN, m, &s, &first, PASS, RULE, "syslog", 1);
	/* a retransmitted later fragment now follows its first */
	bpfcase_step("the last again", XDP, POL_MAIN, m, &s, &last, PASS, RULE, "syslog", 0);
	free(m);
}

/*
 * Non-IP frames are also counted by ethertype class and verdict (speebpf
 * stats' breakdown): each frame once, under its class, passed or not, and
 * nothing under any other class.
 */
static void non_ip_frames_are_counted_by_class_and_verdict(void **state)
{
	const struct pkt_spec arp = { .ethertype = 0x0806 };
	const struct pkt_spec pppoe = { .ethertype = 0x8863, .payload = 40 };
	const uint32_t arp_idx = bpfenv_l2_index(SPEE_L2_ARP, 1, SPEE_DIR_INGRESS);
	const uint32_t pppoe_idx = bpfenv_l2_index(SPEE_L2_PPPOE, 0, SPEE_DIR_INGRESS);
	struct bpfenv_counters *before = calloc(2, sizeof(*before)), *after = before + 1;
	struct pktmodel *m = calloc(1, sizeof(*m));
	struct bpfcase_slots s;

	(void)state;
	assert_non_null(m);
	assert_non_null(before);
	start(POL_MAIN, &s, m);
	assert_int_equal(bpfenv_read_counters(&bc.l.maps, before), 0);
	bpfcase_step("an ARP frame", XDP, POL_MAIN, m, &s, &arp, PASS, SPEE_REASON_NON_IP, NULL, 1);
	bpfcase_step("a PPPoE discovery frame", XDP, POL_MAIN, m, &s, &pppoe, DROP,
		     SPEE_REASON_ETHERTYPE, NULL, 1);
	assert_int_equal(bpfenv_read_counters(&bc.l.maps, after), 0);
	for (uint32_t k = 0; k < BPFENV_L2_CTRS; k++) {
		uint64_t want = k == arp_idx || k == pppoe_idx;

		if (after->l2[k].packets - before->l2[k].packets != want)
			fail_msg("class counter %u: %llu packets more, expected %llu", k,
				 (unsigned long long)(after->l2[k].packets - before->l2[k].packets),
				 (unsigned long long)want);
	}
	free(before);
	free(m);
}

/* Without an allowed first, later fragments can complete nothing: the first is refused. */
static void later_fragments_of_a_refused_datagram_stay_refused(void **state)
{
	const struct pkt_spec later = { LATER_U(FX_OUT4, FX_HOST4, 902, 104, false) };
	const struct pkt_spec first = { FIRST_U(FX_OUT4, FX_HOST4, 514, 902) };
	struct pktmodel *m = calloc(1, sizeof(*m));
	struct bpfcase_slots s;

	(void)state;
	assert_non_null(m);
	start(POL_MAIN, &s, m);
	bpfcase_step("a later fragment ahead", XDP, POL_MAIN, m, &s, &later, PASS,
		     SPEE_REASON_REASSEMBLY, NULL, 1);
	bpfcase_step("its first, refused", XDP, POL_MAIN, m, &s, &first, DROP, NO_RULE, NULL, 1);
	bpfcase_step("a later one after the refusal", XDP, POL_MAIN, m, &s, &later, DROP,
		     SPEE_REASON_FRAGMENT, NULL, 1);
	free(m);
}

/* One UDP datagram in three fragments: one datagram on its rule, with all its bytes. */
static void a_datagram_in_three_fragments_counts_once_on_its_rule(void **state)
{
	const struct pkt_spec first = { FIRST_U(FX_ADM4, FX_HOST4, 514, 903) };
	const struct pkt_spec second = { LATER_U(FX_ADM4, FX_HOST4, 903, 104, true) };
	const struct pkt_spec third = { LATER_U(FX_ADM4, FX_HOST4, 903, 144, false) };
	struct pktmodel *m = calloc(1, sizeof(*m));
	struct bpfcase_slots s;

	(void)state;
	assert_non_null(m);
	start(POL_MAIN, &s, m);
	bpfcase_step("first", XDP, POL_MAIN, m, &s, &first, PASS, RULE, "syslog", 1);
	bpfcase_step("second", XDP, POL_MAIN, m, &s, &second, PASS, RULE, "syslog", 0);
	bpfcase_step("third", XDP, POL_MAIN, m, &s, &third, PASS, RULE, "syslog", 0);
	free(m);
}

/* A SYN in two fragments opens one connection, and counts one. */
static void a_syn_in_two_fragments_counts_one_connection(void **state)
{
	const struct pkt_spec first = { T(FX_ADM4, FX_HOST4, 8470, SYN), .frag = true,
					.more_frags = true, .ip_id = 904, .payload = 64 };
	const struct pkt_spec second = { .src = FX_ADM4, .dst = FX_HOST4, .proto = IPPROTO_TCP,
					 .frag = true, .frag_offset = 88, .ip_id = 904,
					 .payload = 24 };
	struct pktmodel *m = calloc(1, sizeof(*m));
	struct bpfcase_slots s;

	(void)state;
	assert_non_null(m);
	start(POL_MAIN, &s, m);
	bpfcase_step("first", XDP, POL_MAIN, m, &s, &first, PASS, RULE, "mgmt-console", 1);
	bpfcase_step("second", XDP, POL_MAIN, m, &s, &second, PASS, RULE, "mgmt-console", 0);
	free(m);
}

/* Outbound, nothing is reassembled behind us: a stray later fragment carries data out. */
static void an_outbound_later_fragment_without_its_first_is_dropped(void **state)
{
	const struct pkt_spec later = { LATER_U(FX_HOST4, FX_OUT4, 905, 104, false) };
	struct pktmodel *m = calloc(1, sizeof(*m));
	struct bpfcase_slots s;

	(void)state;
	assert_non_null(m);
	start(POL_MAIN, &s, m);
	bpfcase_step("a later fragment", EGRESS, POL_MAIN, m, &s, &later, DROP,
		     SPEE_REASON_FRAGMENT, NULL, 1);
	free(m);
}

/* ---- real sockets: the programs on a child cgroup and on this test's veth ---- */

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

static int addr4(const char *a, uint16_t port, struct sockaddr_in *s)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	return inet_pton(AF_INET, a, &s->sin_addr) == 1 ? 0 : -1;
}

static int addr6(const char *a, uint16_t port, struct sockaddr_in6 *s)
{
	memset(s, 0, sizeof(*s));
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	return inet_pton(AF_INET6, a, &s->sin6_addr) == 1 ? 0 : -1;
}

/* errno of a sendto(), or 0 */
static int send_to(int fd, const void *buf, size_t len, const void *sa, socklen_t salen)
{
	return sendto(fd, buf, len, 0, sa, salen) < 0 ? errno : 0;
}

static int send_on(int fd, const void *buf, size_t len)
{
	return send(fd, buf, len, 0) < 0 ? errno : 0;
}

/*
 * An SRH (RFC 8754) of two segments: the first to visit (segments[1]) and the
 * last, which the kernel fills in with the address sendto() names.
 */
static void srh_via(const char *first, uint8_t srh[40])
{
	memset(srh, 0, 40);
	srh[1] = 4; /* (40 - 8) / 8 */
	srh[2] = 4; /* segment routing */
	srh[3] = 1; /* segments left */
	srh[4] = 1; /* last entry */
	inet_pton(AF_INET6, first, srh + 24);
}

/* A loose source route through `first` (IP_OPTIONS: the final hop is the destination). */
static void lsrr_via(const char *first, uint8_t opt[8])
{
	opt[0] = 1; /* no-operation, to a multiple of 4 */
	opt[1] = 131;
	opt[2] = 7;
	opt[3] = 4;
	inet_pton(AF_INET, first, opt + 4);
}

enum sock_attack {
	SENDTO_DENIED4, /* plain UDP to a port no rule opens */
	SENDTO_DNS4, /* DNS to the resolver: allowed */
	SENDTO_NTP6, /* ntp-out: allowed */
	SENDTO_MAPPED_DENIED, /* an IPv6 socket to ::ffff:198.18.4.1 port 25 */
	UDP_CONNECT_DENIED, /* getaddrinfo's trick: connect() only */
	UDP_CONNECTED_SEND_DENIED, /* and a send on it */
	SRH_SENDTO, /* IPV6_RTHDR via the resolver, sendto() the final destination */
	SRH_CONNECTED, /* the same on a connected socket: no sendmsg hook, the packet shows it */
	LSRR_SENDTO, /* IP_OPTIONS LSRR via the resolver */
	LSRR_CONNECTED,
	RAW_ICMP_COVERT, /* a raw ICMP "unreachable" carrying data to an outsider */
	RAW_ICMPV6_NS_OFF_LINK, /* a raw neighbour solicitation beyond the link */
	SOCK_ATTACK_MAX,
};

static const char *const attack_names[SOCK_ATTACK_MAX] = {
	[SENDTO_DENIED4] = "sendto a port no rule opens",
	[SENDTO_DNS4] = "sendto the resolver's port 53",
	[SENDTO_NTP6] = "sendto an NTP server (ntp-out)",
	[SENDTO_MAPPED_DENIED] = "sendto ::ffff:198.18.4.1 port 25",
	[UDP_CONNECT_DENIED] = "connect() a UDP socket where no rule goes",
	[UDP_CONNECTED_SEND_DENIED] = "send on that connected socket",
	[SRH_SENDTO] = "sendto with a segment routing header via the resolver",
	[SRH_CONNECTED] = "send on a connected socket with that header",
	[LSRR_SENDTO] = "sendto with a loose source route via the resolver",
	[LSRR_CONNECTED] = "send on a connected socket with that route",
	[RAW_ICMP_COVERT] = "a raw ICMP unreachable carrying data",
	[RAW_ICMPV6_NS_OFF_LINK] = "a raw neighbour solicitation beyond the link",
};

/* What each attack must get: 0 (it goes ahead) or an errno. */
static const int attack_want[SOCK_ATTACK_MAX] = {
	[SENDTO_DENIED4] = EPERM,
	[SENDTO_DNS4] = 0,
	[SENDTO_NTP6] = 0,
	[SENDTO_MAPPED_DENIED] = EPERM,
	[UDP_CONNECT_DENIED] = 0,
	[UDP_CONNECTED_SEND_DENIED] = EPERM,
	[SRH_SENDTO] = EPERM,
	[SRH_CONNECTED] = EPERM,
	[LSRR_SENDTO] = EPERM,
	[LSRR_CONNECTED] = EPERM,
	[RAW_ICMP_COVERT] = EPERM,
	[RAW_ICMPV6_NS_OFF_LINK] = EPERM,
};

static void attack_child(const char *cg, int out)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	int res[SOCK_ATTACK_MAX], u4, u6, fd, one = 1, hops = 255;
	uint8_t srh[40], lsrr[8], icmp[72] = { 3, 1 }, ns[64] = { 135 };
	char path[600], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		_exit(2);
	close(fd);
	for (int i = 0; i < SOCK_ATTACK_MAX; i++)
		res[i] = -1;
	u4 = socket(AF_INET, SOCK_DGRAM, 0);
	u6 = socket(AF_INET6, SOCK_DGRAM, 0);
	addr4(FX_OUT4, 9999, &s4);
	res[SENDTO_DENIED4] = send_to(u4, "x", 1, &s4, sizeof(s4));
	addr4(FX_RES4, 53, &s4);
	res[SENDTO_DNS4] = send_to(u4, "x", 1, &s4, sizeof(s4));
	addr6(FX_OUT6, 123, &s6);
	res[SENDTO_NTP6] = send_to(u6, "x", 1, &s6, sizeof(s6));
	addr6("::ffff:198.18.4.1", 25, &s6);
	res[SENDTO_MAPPED_DENIED] = send_to(u6, "x", 1, &s6, sizeof(s6));

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	addr4(FX_OUT4, 9999, &s4);
	res[UDP_CONNECT_DENIED] = connect(fd, (struct sockaddr *)&s4, sizeof(s4)) ? errno : 0;
	res[UDP_CONNECTED_SEND_DENIED] = send_on(fd, "x", 1);
	close(fd);

	/* the final destination no rule allows, through the resolver */
	srh_via(FX_RES6, srh);
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, srh, sizeof(srh)))
		_exit(3);
	addr6(FX_OUT6, 53, &s6);
	res[SRH_SENDTO] = send_to(fd, "x", 1, &s6, sizeof(s6));
	close(fd);
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, srh, sizeof(srh)) ||
	    connect(fd, (struct sockaddr *)&s6, sizeof(s6)))
		_exit(4);
	res[SRH_CONNECTED] = send_on(fd, "x", 1);
	close(fd);

	lsrr_via(FX_RES4, lsrr);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, lsrr, sizeof(lsrr)))
		_exit(5);
	addr4(FX_OUT4, 53, &s4);
	res[LSRR_SENDTO] = send_to(fd, "x", 1, &s4, sizeof(s4));
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, lsrr, sizeof(lsrr)) ||
	    connect(fd, (struct sockaddr *)&s4, sizeof(s4)))
		_exit(6);
	res[LSRR_CONNECTED] = send_on(fd, "x", 1);
	close(fd);

	/* ICMP quotes no packet the host received: the payload is the attacker's */
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	memset(icmp + 8, 'A', sizeof(icmp) - 8);
	addr4(FX_OUT4, 0, &s4);
	res[RAW_ICMP_COVERT] = send_to(fd, icmp, sizeof(icmp), &s4, sizeof(s4));
	close(fd);
	fd = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
	setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops));
	memset(ns + 8, 'A', sizeof(ns) - 8);
	addr6("fd00:5f::4:1", 0, &s6);
	res[RAW_ICMPV6_NS_OFF_LINK] = send_to(fd, ns, sizeof(ns), &s6, sizeof(s6));
	close(fd);
	(void)one;
	if (write(out, res, sizeof(res)) != (ssize_t)sizeof(res))
		_exit(7);
	_exit(0);
}

static struct bpf_link *attach_cg(enum spee_prog_id p, int cgfd)
{
	struct bpf_link *l = bpf_program__attach_cgroup(loader_prog(&bc.l, p), cgfd);

	assert_non_null(l);
	return l;
}

/*
 * Every socket attack from a child in a child cgroup carrying the egress,
 * connect and sendmsg programs: routes on this namespace's veth lead the
 * packets out (to its peer, in this namespace too, which forwards nothing).
 */
static void socket_attacks_are_refused_at_once(void **state)
{
	enum spee_prog_id progs[] = { LOADER_PROG_EGRESS, LOADER_PROG_CONNECT4,
				     LOADER_PROG_CONNECT6, LOADER_PROG_SENDMSG4,
				     LOADER_PROG_SENDMSG6 };
	struct bpf_link *links[5];
	struct bpfcase_slots s;
	char mnt[256], cg[512];
	int res[SOCK_ATTACK_MAX], pipefd[2], cgfd, status;
	pid_t pid;

	(void)state;
	if (cgroup2_mount(mnt, sizeof(mnt)))
		skip();
	assert_int_equal(bpfcase_apply(POL_MAIN, &s), 0);
	bpfcase_clear_state();
	snprintf(cg, sizeof(cg), "%s/sph-attacks-%d", mnt, getpid());
	assert_int_equal(mkdir(cg, 0755), 0);
	cgfd = open(cg, O_RDONLY | O_DIRECTORY);
	assert_true(cgfd >= 0);
	for (size_t i = 0; i < 5; i++)
		links[i] = attach_cg(progs[i], cgfd);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	if (pid == 0)
		attack_child(cg, pipefd[1]);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	for (size_t i = 0; i < 5; i++)
		bpf_link__destroy(links[i]);
	close(cgfd);
	assert_int_equal(rmdir(cg), 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("the attacking child failed (status %d)", status);
	assert_int_equal(read(pipefd[0], res, sizeof(res)), (ssize_t)sizeof(res));
	close(pipefd[0]);
	close(pipefd[1]);
	for (int i = 0; i < SOCK_ATTACK_MAX; i++)
		if (res[i] != attack_want[i])
			fail_msg("%s: %s, expected %s", attack_names[i],
				 res[i] ? strerror(res[i]) : "went ahead",
				 attack_want[i] ? strerror(attack_want[i]) : "to go ahead");
}

/* ---- 4. packet sockets: the tc egress filter ---- */

static int packet_socket(int ifindex)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex,
				   .sll_protocol = htons(ETH_P_ALL) };
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return fd;
}

/* errno of sending frame on fd, or 0 */
static int send_frame(int fd, int ifindex, const uint8_t *frame, int len)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6 };

	memcpy(sll.sll_addr, frame, 6);
	return sendto(fd, frame, (size_t)len, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0 ? errno :
											       0;
}

/* Whether frame arrives at the capture socket within 300 ms. */
static bool arrives(int cap, const uint8_t *frame, int len)
{
	uint8_t buf[PKT_MAX];

	for (int i = 0; i < 30; i++) {
		struct pollfd p = { .fd = cap, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10) <= 0)
			continue;
		n = recv(cap, buf, sizeof(buf), 0);
		if (n >= len && !memcmp(buf, frame, (size_t)len))
			return true;
	}
	return false;
}

static void drain(int fd)
{
	uint8_t buf[PKT_MAX];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

struct frame_case {
	const char *what;
	struct pkt_spec spec;
	bool pass;
	uint8_t reason;
	const char *rule;
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct frame_case frames[] = {
	{ "a SYN to a port no rule opens", { T(BPFCASE_SOCK4, FX_OUT4, 25, SYN) }, DROP, NO_RULE },
	{ "a datagram anywhere", { U(BPFCASE_SOCK6, FX_OUT6, 9999), .payload = 32 }, DROP,
	  NO_RULE },
	{ "a SYN a rule allows", { T(BPFCASE_SOCK4, FX_OUT4, 80, SYN) }, PASS, RULE,
	  "ca-revocation" },
	{ "an ARP request", { .ethertype = 0x0806 }, PASS, SPEE_REASON_NON_IP },
	{ "an LLDP frame the config does not list", { .ethertype = 0x88cc, .payload = 40 }, DROP,
	  SPEE_REASON_ETHERTYPE },
	{ "a SYN with a loose source route", { T(BPFCASE_SOCK4, FX_OUT4, 80, SYN), .ip_opt_len = 8,
	  .ip_opt_route = 131 }, DROP, SPEE_REASON_SOURCE_ROUTE },
};
#pragma GCC diagnostic pop

/*
 * Frames a packet socket hands to the device (CAP_NET_RAW; no cgroup hook
 * sees them) meet the tc egress filter: judged by the egress decision,
 * counted there, and those it refuses never reach the wire. The host's
 * own inet traffic passes the filter uncounted: the cgroup hook judges it.
 */
static void packet_socket_frames_are_judged_at_tc_egress(void **state)
{
	int peer = (int)if_nametoindex("sph-t1"), tx, cap, udp;
	struct bpfcase_slots s;
	struct sockaddr_in to;
	uint32_t prog_id = 0;

	(void)state;
	assert_int_equal(bpfcase_apply(POL_MAIN, &s), 0);
	bpfcase_clear_state();
	assert_true(peer > 0);
	assert_int_equal(ifaces_tc_attach((unsigned)bc.veth,
					  loader_prog_fd(&bc.l, LOADER_PROG_TC_EGRESS)),
			 0);
	assert_int_equal(ifaces_tc_query((unsigned)bc.veth, &prog_id), 0);
	assert_true(prog_id != 0);
	tx = packet_socket(bc.veth);
	cap = packet_socket(peer);
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		const struct frame_case *f = &frames[i];
		const struct policy *p = bc.pol[POL_MAIN];
		struct bpfenv_counters *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
		uint8_t frame[PKT_MAX];
		int len = pkt_build(&f->spec, frame, sizeof(frame)), err;
		uint32_t idx;
		struct spee_counter *c0, *c1;

		assert_non_null(a);
		assert_non_null(b);
		assert_true(len > 0);
		drain(cap);
		assert_int_equal(bpfenv_read_counters(&bc.l.maps, a), 0);
		err = send_frame(tx, bc.veth, frame, len);
		if (f->pass ? err != 0 : err != ENOBUFS)
			fail_msg("%s: sendto %s", f->what, err ? strerror(err) : "went ahead");
		if (arrives(cap, frame, len) != f->pass)
			fail_msg("%s: %s the peer", f->what, f->pass ? "never reached" : "reached");
		assert_int_equal(bpfenv_read_counters(&bc.l.maps, b), 0);
		if (f->reason == RULE) {
			idx = spee_rule_ctr_index(s.of_rule[policy_find_rule(p, f->rule)],
						  SPEE_DIR_EGRESS);
			c0 = &a->rule[idx];
			c1 = &b->rule[idx];
		} else {
			idx = spee_reason_ctr_index(f->reason, SPEE_DIR_EGRESS);
			c0 = &a->reason[idx];
			c1 = &b->reason[idx];
		}
		if (c1->packets - c0->packets != 1 || c1->bytes - c0->bytes != (uint64_t)len)
			fail_msg("%s: counted %llu packets, %llu bytes; expected 1, %d", f->what,
				 (unsigned long long)(c1->packets - c0->packets),
				 (unsigned long long)(c1->bytes - c0->bytes), len);
		free(a);
		free(b);
	}
	/* the host's own inet traffic: through the filter, not counted by it */
	{
		struct bpfenv_counters *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));

		assert_non_null(a);
		assert_non_null(b);
		assert_int_equal(bpfenv_read_counters(&bc.l.maps, a), 0);
		udp = socket(AF_INET, SOCK_DGRAM, 0);
		addr4(FX_OUT4, 9999, &to);
		assert_int_equal(send_to(udp, "x", 1, &to, sizeof(to)), 0);
		close(udp);
		assert_int_equal(bpfenv_read_counters(&bc.l.maps, b), 0);
		assert_memory_equal(a, b, sizeof(*a));
		free(a);
		free(b);
	}
	close(tx);
	close(cap);
	assert_int_equal(ifaces_tc_detach((unsigned)bc.veth), 0);
	assert_int_equal(ifaces_tc_query((unsigned)bc.veth, &prog_id), 0);
	assert_int_equal(prog_id, 0);
}

static int setup(void **state)
{
	(void)state;
	if (bpfcase_setup("sph-t0", "sph-t1"))
		return -1;
	/* on-link routes through the veth: the attacks' packets leave, to its peer */
	if (bpfenv_ip("route", "add", "198.18.0.0/15", "dev", "sph-t0", NULL) ||
	    bpfenv_ip("-6", "route", "add", "fd00:5e::/64", "dev", "sph-t0", NULL) ||
	    bpfenv_ip("-6", "route", "add", "fd00:5f::/64", "dev", "sph-t0", NULL))
		return -1;
	return 0;
}

int main(void)
{
	struct CMUnitTest tests[sizeof(corpus) / sizeof(corpus[0]) + 16];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		memset(&tests[n], 0, sizeof(tests[n]));
		tests[n].name = corpus[i].name;
		tests[n].test_func = bpfcase_run;
		tests[n].initial_state = (void *)&corpus[i];
		n++;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
	    a_datagram_in_reverse_order_is_let_in_and_counted_once);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
	    later_fragments_of_a_refused_datagram_stay_refused);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
	    non_ip_frames_are_counted_by_class_and_verdict);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
	    a_datagram_in_three_fragments_counts_once_on_its_rule);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(a_syn_in_two_fragments_counts_one_connection);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(
	    an_outbound_later_fragment_without_its_first_is_dropped);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(socket_attacks_are_refused_at_once);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(packet_socket_frames_are_judged_at_tc_egress);
	return _cmocka_run_group_tests("attacks", tests, n, setup, bpfcase_teardown);
}
