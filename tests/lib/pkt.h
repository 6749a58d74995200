/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pkt.h - a small packet builder for the BPF tests: Ethernet with 0-3 VLAN
 * tags, IPv4 (options, fragments, corrupt IHL and lengths), IPv6 (extension
 * header chains, fragment header), TCP, UDP, ICMP and ICMPv6.
 *
 * Every packet starts with an Ethernet header, which is what
 * BPF_PROG_TEST_RUN wants for both program types we test: XDP sees the
 * frame as built; for cgroup_skb the kernel pulls the Ethernet header
 * (eth_type_trans) and the program sees the IP packet, skb->len being the
 * frame length minus ETH_HLEN. Used by tests/bpf/.
 */
#ifndef SPEE_TEST_PKT_H
#define SPEE_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 2048
#define PKT_ETH_HLEN 14
#define PKT_EXT_MAX 12

/* TCP flags */
#define PKT_FIN 0x01
#define PKT_SYN 0x02
#define PKT_RST 0x04
#define PKT_PSH 0x08
#define PKT_ACK 0x10

struct pkt_spec {
	/* Ethernet: ethertype 0 means "from the address family"; vlan tags outermost first. */
	uint16_t ethertype;
	uint8_t n_vlan;
	uint16_t vlan_tpid[3]; /* 0: 0x8100 */

	/* IP: addresses as text; the family follows from them. */
	const char *src;
	const char *dst;
	uint8_t proto; /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6 or any other number */
	uint8_t ttl;

	/* IPv4 only */
	uint8_t ip_opt_len; /* bytes of options (NOPs), a multiple of 4 */
	/* 131 (LSRR) or 137 (SSRR): the options hold that route (ip_opt_len >= 8) */
	uint8_t ip_opt_route;
	int ihl; /* 0: computed; else written as is (corruption) */
	int tot_len_delta; /* added to the correct total length */
	uint16_t ip_id;

	/* Fragments (both families): offset in bytes (a multiple of 8) and MF. */
	bool frag;
	uint16_t frag_offset;
	bool more_frags;
	uint32_t frag_id; /* IPv6 identification; IPv4 uses ip_id */

	/* IPv6 extension headers, in order, before the upper layer (44 = fragment). */
	uint8_t ext[PKT_EXT_MAX];
	uint8_t n_ext;
	uint8_t rh_segments_left; /* of every routing header (43): an SRH of one segment */
	int payload_len_delta; /* added to the correct IPv6 payload length */

	/* Transport */
	uint16_t sport;
	uint16_t dport;
	uint8_t tcp_flags;
	uint8_t tcp_opt_len; /* bytes of options, a multiple of 4 */
	int doff; /* 0: computed; else written as is */
	int udp_len_delta; /* added to the correct UDP length */
	uint8_t icmp_type;
	uint8_t icmp_code; /* sport and dport: the identifier and sequence number (bytes 4-7) */
	/*
	 * An ICMP error's quoted packet (after its 8-byte header): an IP header
	 * of q_src's family from q_src to q_dst (an IPv6 one followed by a
	 * fragment header of offset 0 with q_frag) and the first 8 bytes of a
	 * q_proto header with the ports q_sport, q_dport; of the family's ICMP,
	 * an echo request with identifier q_sport and sequence number q_dport.
	 */
	const char *q_src;
	const char *q_dst;
	uint8_t q_proto;
	bool q_frag;
	uint16_t q_sport;
	uint16_t q_dport;

	uint16_t payload; /* bytes of data after the transport header */
	/* Bytes of the L4 part kept (0: all); IP lengths are made to match. */
	uint16_t l4_keep;
	/* Frame length to cut to after building, without fixing lengths (0: no cut). */
	uint16_t truncate;
	/* Zero bytes appended after the IP packet (Ethernet padding). */
	uint16_t pad;
};

/*
 * Builds the frame into buf (at least PKT_MAX bytes). Returns its length,
 * or -1 when the spec is not buildable (bad address text, too long).
 */
int pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t cap);

/*
 * Writes the TCP checksum of an untagged IPv4 TCP frame, which the kernel's
 * stack checks (the programs do not): for frames sent to real sockets.
 * Returns 0, or -1 when the frame is not one.
 */
int pkt_tcp4_checksum(uint8_t *frame, size_t len);

#endif
