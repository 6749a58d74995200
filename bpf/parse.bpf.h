/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * parse.bpf.h - the first stage: one bounds-checked pass over a packet's
 * headers into a struct spee_pkt. The starting layer is a parameter:
 * Ethernet (XDP and tc on Ethernet devices), or the IP header (cgroup_skb,
 * whose data starts there, and devices without a link header: tun,
 * WireGuard, PPP), where the skb's protocol or the version nibble says
 * which IP.
 *
 * The parser classifies what cannot be judged by ports: non-IP frames,
 * truncated or inconsistent headers (malformed) and fragments that cannot
 * carry or cannot be matched to a port. On the way it notes what the
 * decision needs besides ports: source routes, the hop limit, where an
 * ICMP header starts, an echo message's identifier (in both ports).
 * Everything else is left to decide.bpf.h.
 */
#ifndef SPEE_PARSE_BPF_H
#define SPEE_PARSE_BPF_H

#include "maps.bpf.h"

/* The wire values, under the program's own names. */
#define SPEE_ETH_P_IP 0x0800
#define SPEE_ETH_P_ARP 0x0806
#define SPEE_ETH_P_IPV6 0x86DD
#define SPEE_ETH_P_8021Q 0x8100
#define SPEE_ETH_P_8021AD 0x88A8

#define SPEE_IPPROTO_ICMP 1
#define SPEE_IPPROTO_TCP 6
#define SPEE_IPPROTO_UDP 17
#define SPEE_IPPROTO_ICMPV6 58

#define SPEE_NEXTHDR_HOP 0
#define SPEE_NEXTHDR_ROUTING 43
#define SPEE_NEXTHDR_FRAGMENT 44
#define SPEE_NEXTHDR_AH 51
#define SPEE_NEXTHDR_DEST 60

#define SPEE_TCP_FIN 0x01
#define SPEE_TCP_SYN 0x02
#define SPEE_TCP_RST 0x04
#define SPEE_TCP_ACK 0x10

#define SPEE_IP_MF 0x2000
#define SPEE_IP_OFFSET 0x1fff

#define SPEE_IPOPT_END 0
#define SPEE_IPOPT_NOOP 1
#define SPEE_IPOPT_LSRR 131
#define SPEE_IPOPT_SSRR 137
#define SPEE_IPV4_OPT_MAX 40

enum spee_parse_result {
	SPEE_PARSE_OK,
	SPEE_PARSE_NON_IP,
	SPEE_PARSE_MALFORMED,
	SPEE_PARSE_FRAGMENT, /* a fragment that can never be matched to a port */
};

enum spee_frag_kind {
	SPEE_FRAG_NONE,
	SPEE_FRAG_FIRST, /* offset 0, more fragments follow: carries the L4 header */
	SPEE_FRAG_LATER, /* offset > 0: no L4 header, judged by its first fragment */
};

/* spee_pkt.flags */
#define SPEE_PKT_SOURCE_ROUTE 0x1 /* IPv4 LSRR/SSRR, or an IPv6 routing header with segments left */

/* What the later stages know of a packet. Addresses as in the map keys. */
struct spee_pkt {
	__u8 family; /* enum spee_family */
	__u8 proto; /* L4 protocol; of a later fragment: the fragment's protocol */
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 frag; /* enum spee_frag_kind */
	__u8 hop_limit; /* IPv4 TTL, IPv6 hop limit */
	__u8 flags; /* SPEE_PKT_* */
	__be16 sport; /* tcp, udp; an ICMP echo message's identifier (both) */
	__be16 dport;
	__u32 frag_id;
	__u16 frag_off; /* a later fragment's offset, bytes */
	__u16 l4_end; /* a first fragment's: fragmentable-part bytes up to the end of ports and flags */
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 l4_off; /* ICMP: where its header starts, from the start of the parsed buffer */
	__u16 ethertype; /* a non-IP frame's (host order; an 802.3 length below 0x0600) */
	__u16 opt_off; /* IPv4 options: where they start (as l4_off), and how many bytes */
	__u8 opt_len;
	__u8 pad;
	__u32 left_bytes; /* the parser's: see struct spee_left */
};

/*
 * ICMP of the packet's own family: ICMPv4 in IPv4, ICMPv6 in IPv6 (the
 * other pairing is an unknown protocol). The one place that says so.
 */
static __always_inline bool spee_is_icmp(__u8 family, __u8 proto)
{
	return (proto == SPEE_IPPROTO_ICMP && family == SPEE_FAMILY_V4) ||
	       (proto == SPEE_IPPROTO_ICMPV6 && family == SPEE_FAMILY_V6);
}

#define SPEE_ICMP_ECHO_REPLY 0
#define SPEE_ICMP_ECHO_REQUEST 8
#define SPEE_ICMPV6_ECHO_REQUEST 128
#define SPEE_ICMPV6_ECHO_REPLY 129

/* An echo request of the family's ICMP (ping's question). */
static __always_inline bool spee_icmp_echo_request(__u8 family, __u8 type)
{
	return type == (family == SPEE_FAMILY_V4 ? SPEE_ICMP_ECHO_REQUEST : SPEE_ICMPV6_ECHO_REQUEST);
}

/* Its answer. */
static __always_inline bool spee_icmp_echo_reply(__u8 family, __u8 type)
{
	return type == (family == SPEE_FAMILY_V4 ? SPEE_ICMP_ECHO_REPLY : SPEE_ICMPV6_ECHO_REPLY);
}

/* Either: a message whose next 4 bytes are an identifier and a sequence number. */
static __always_inline bool spee_icmp_echo(__u8 family, __u8 type)
{
	return spee_icmp_echo_request(family, type) || spee_icmp_echo_reply(family, type);
}

/*
 * The bytes of the IP packet that follow the current position, as the IP
 * header says. Unknown only on egress, for GSO packets whose length field
 * is zero (IPv4 BIG TCP, IPv6 jumbograms).
 *
 * The count lives in the packet struct (spee_pkt.left_bytes), not on the
 * stack: the verifier follows a stack slot's value, and each way through
 * the extension headers left a different range of it there, so that it
 * checked the rest of the walk once per way. It does not follow what is
 * stored in the packet struct (memory to it). Measured on 6.18: the host
 * programs for Ethernet took 104k verified instructions, 81k since.
 */
struct spee_left {
	__u32 *bytes; /* &spee_pkt.left_bytes */
	bool known;
};

/* The one cursor: every header is taken through spee_pull(). */
struct spee_cursor {
	void *data; /* start of the buffer */
	void *pos;
	void *end;
	__u32 max_off; /* a constant: SPEE_MAX_HDR_OFF, or less for the copy (see below) */
};

/* Headers never start further in than this (Ethernet, tags, IPv6 chain). */
#define SPEE_MAX_HDR_OFF 0x3fff

/*
 * A 16-bit length field in host order, with a bound the verifier can see.
 * The 6.1 verifier tracks nothing through a byte swap (6.18's does):
 * ntohs(x) is an unbounded scalar there, and adding it to a packet pointer
 * ("ip + tot_len > end") is refused with "math between pkt pointer and
 * register with unbounded min value". The mask is an empty operation to
 * the CPU; the asm keeps the compiler from dropping it as redundant.
 */
static __always_inline __u32 spee_len16(__be16 v)
{
	__u64 x = bpf_ntohs(v);

	asm volatile("%0 &= 0xffff" : "+r"(x));
	return (__u32)x;
}

/*
 * Re-derives the cursor as data + a bounded offset. Paths that reached the
 * same header through different tag counts or extension-header chains then
 * have the same shape, so the verifier checks what follows once instead of
 * once per path. The empty asm keeps the compiler from folding the
 * subtraction and addition back into the original pointer.
 */
static __always_inline bool spee_rebase(struct spee_cursor *c)
{
	__u64 off = c->pos - c->data;

	asm volatile("" : "+r"(off));
	if (off > c->max_off)
		return false;
	c->pos = c->data + off;
	return true;
}

/*
 * The cursor's offset as a plain number. The empty asm keeps the compiler
 * from folding later arithmetic on it back into the packet pointer
 * ("pos - data - x" into "pos - (data + x)"), which the 6.1 verifier
 * refuses as math between a packet pointer and an unbounded register.
 */
static __always_inline __u64 spee_offset(const struct spee_cursor *c)
{
	__u64 off = c->pos - c->data;

	asm volatile("" : "+r"(off));
	return off;
}

static __always_inline void *spee_pull(struct spee_cursor *c, __u32 len)
{
	void *p = c->pos;

	if (p + len > c->end)
		return NULL;
	c->pos = p + len;
	return p;
}

/* Takes len bytes of the IP packet's remainder; false when they are not there. */
static __always_inline bool spee_take(struct spee_left *l, __u32 len)
{
	if (!l->known)
		return true;
	if (*l->bytes < len)
		return false;
	*l->bytes -= len;
	return true;
}

/* The smallest header a later fragment's offset must clear (RFC 1858). */
static __always_inline __u32 spee_min_l4(__u8 proto)
{
	if (proto == SPEE_IPPROTO_TCP)
		return 20;
	if (proto == SPEE_IPPROTO_UDP)
		return 8;
	return 0;
}

/* A header that does not fit is malformed, unless it was cut by fragmentation. */
static __always_inline int spee_short(const struct spee_pkt *p)
{
	return p->frag == SPEE_FRAG_FIRST ? SPEE_PARSE_FRAGMENT : SPEE_PARSE_MALFORMED;
}

static __always_inline int spee_parse_l4(struct spee_cursor *c, struct spee_left *left,
					 struct spee_pkt *p)
{
	if (p->proto == SPEE_IPPROTO_TCP) {
		struct tcphdr *th;
		__u32 hlen;

		if (!spee_take(left, sizeof(*th)))
			return spee_short(p);
		th = spee_pull(c, sizeof(*th));
		if (!th)
			return spee_short(p);
		if (th->doff < 5)
			return SPEE_PARSE_MALFORMED;
		/* doff is 4 bits, so hlen is at most 60: a bound the verifier can see. */
		hlen = (__u32)th->doff * 4 - sizeof(*th);
		if (!spee_take(left, hlen))
			return spee_short(p);
		if (!spee_pull(c, hlen))
			return spee_short(p);
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		return SPEE_PARSE_OK;
	}
	if (p->proto == SPEE_IPPROTO_UDP) {
		struct udphdr *uh;
		__u32 ulen;

		if (!spee_take(left, sizeof(*uh)))
			return spee_short(p);
		uh = spee_pull(c, sizeof(*uh));
		if (!uh)
			return spee_short(p);
		ulen = bpf_ntohs(uh->len);
		if (ulen < sizeof(*uh))
			return SPEE_PARSE_MALFORMED;
		/* The datagram's length covers every fragment, so only whole ones compare. */
		if (p->frag == SPEE_FRAG_NONE && left->known &&
		    ulen - sizeof(*uh) > *left->bytes)
			return SPEE_PARSE_MALFORMED;
		p->sport = uh->source;
		p->dport = uh->dest;
		return SPEE_PARSE_OK;
	}
	if (spee_is_icmp(p->family, p->proto)) {
		__u8 *ih;

		if (!spee_take(left, 4))
			return spee_short(p);
		p->l4_off = (__u16)spee_offset(c);
		ih = spee_pull(c, 4);
		if (!ih)
			return spee_short(p);
		p->icmp_type = ih[0];
		p->icmp_code = ih[1];
		if (spee_icmp_echo(p->family, p->icmp_type)) {
			__be16 *id;

			/* an echo message's identifier: its flow's port (RFC 792, RFC 4443 4.1) */
			if (!spee_take(left, 4))
				return spee_short(p);
			id = spee_pull(c, 4);
			if (!id)
				return spee_short(p);
			p->sport = id[0];
			p->dport = id[0];
		}
		return SPEE_PARSE_OK;
	}
	return SPEE_PARSE_OK;
}

static __always_inline int spee_later_fragment(struct spee_pkt *p, __u32 offset_bytes)
{
	p->frag = SPEE_FRAG_LATER;
	p->frag_off = offset_bytes;
	/* A fragment overlapping the L4 header could rewrite its ports or flags. */
	if (offset_bytes < spee_min_l4(p->proto))
		return SPEE_PARSE_FRAGMENT;
	return SPEE_PARSE_OK;
}

/* The options of an IPv4 header, copied out of the packet (zero after their length). */
struct spee_ipv4_opts {
	__u8 b[64];
};

/*
 * IPv4 options: of them only the loose and strict source routes (RFC 791)
 * matter, which hide the packet's final destination behind the one in the
 * header (IP_OPTIONS sets them, unprivileged). A bounded walk over the len
 * (<= 40) bytes up to the first source route: returns 1 when it finds one,
 * 0 when there is none, -1 when an option before it claims less than its
 * own two bytes or runs past the header (malformed: the kernel's
 * ip_options_compile() refuses them too).
 *
 * A global function, over a copy (spee_ipv4_options() in decide.bpf.h
 * makes it): the verifier checks the walk once, from one state. Walked in
 * place, inside the parser, it was checked once for every way of reaching
 * the IPv4 header, ~17k instructions a program. The
 * position is clamped to 6 bits at the end of each step (an empty
 * operation: it is at most len there), so that a one-byte and a longer
 * option reach the next step with the same bounds and the verifier goes
 * on with one state, not a tree of them.
 */
__attribute__((noinline)) int spee_ipv4_source_route(const struct spee_ipv4_opts *o, __u32 len)
{
	__u32 next = 0;

	if (!o || len > SPEE_IPV4_OPT_MAX)
		return -1;
	/*
	 * One step per byte position, each at a constant offset: at the
	 * position where the next option starts, read it and find the one
	 * after it.
	 */
#pragma unroll
	for (__u32 j = 0; j < SPEE_IPV4_OPT_MAX; j++) {
		__u32 t = o->b[j], olen;

		if (j >= len)
			return 0;
		if (j != next)
			continue;
		if (t == SPEE_IPOPT_END)
			return 0;
		if (t == SPEE_IPOPT_NOOP) {
			next = j + 1;
			continue;
		}
		olen = o->b[j + 1];
		if (j + 2 > len || olen < 2 || j + olen > len)
			return -1;
		if (t == SPEE_IPOPT_LSRR || t == SPEE_IPOPT_SSRR)
			return 1;
		next = j + olen;
	}
	return 0;
}

static __always_inline int spee_parse_ipv4(struct spee_cursor *c, bool egress, struct spee_pkt *p)
{
	struct spee_left left = { .bytes = &p->left_bytes };
	struct iphdr *ip;
	__u32 hlen, tot;
	__u16 frag_off;

	ip = c->pos;
	if ((void *)(ip + 1) > c->end)
		return SPEE_PARSE_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return SPEE_PARSE_MALFORMED;
	hlen = (__u32)ip->ihl * 4; /* 20..60 */
	if (!spee_pull(c, sizeof(*ip)))
		return SPEE_PARSE_MALFORMED;
	if (hlen > sizeof(*ip)) {
		/* where the options are, for spee_judge: they are read where a packet leaves */
		p->opt_off = (__u16)spee_offset(c);
		p->opt_len = (__u8)(hlen - sizeof(*ip));
		if (!spee_pull(c, hlen - sizeof(*ip)))
			return SPEE_PARSE_MALFORMED;
	}

	tot = spee_len16(ip->tot_len);
	if (!(egress && tot == 0)) {
		if (tot < hlen)
			return SPEE_PARSE_MALFORMED;
		/*
		 * On XDP the frame holds the whole packet (Ethernet padding may
		 * follow it). On egress a GSO packet is longer than its linear
		 * part, so the length is not compared with the buffer there.
		 */
		if (!egress && (void *)ip + tot > c->end)
			return SPEE_PARSE_MALFORMED;
		*left.bytes = tot - hlen;
		left.known = true;
	}

	p->family = SPEE_FAMILY_V4;
	p->proto = ip->protocol;
	p->hop_limit = ip->ttl;
	__builtin_memcpy(p->saddr, &ip->saddr, 4);
	__builtin_memcpy(p->daddr, &ip->daddr, 4);

	frag_off = bpf_ntohs(ip->frag_off);
	if (frag_off & (SPEE_IP_MF | SPEE_IP_OFFSET)) {
		p->frag_id = bpf_ntohs(ip->id);
		if (frag_off & SPEE_IP_OFFSET)
			return spee_later_fragment(p, (__u32)(frag_off & SPEE_IP_OFFSET) * 8);
		p->frag = SPEE_FRAG_FIRST;
		/* the fragmentable part starts with the transport header */
		p->l4_end = spee_min_l4(p->proto);
	}
	if (!spee_rebase(c))
		return SPEE_PARSE_MALFORMED;
	return spee_parse_l4(c, &left, p);
}

static __always_inline bool spee_is_ext_hdr(__u8 nh)
{
	return nh == SPEE_NEXTHDR_HOP || nh == SPEE_NEXTHDR_ROUTING ||
	       nh == SPEE_NEXTHDR_FRAGMENT || nh == SPEE_NEXTHDR_AH || nh == SPEE_NEXTHDR_DEST;
}

static __always_inline int spee_parse_ipv6(struct spee_cursor *c, bool egress, struct spee_pkt *p)
{
	struct spee_left left = { .bytes = &p->left_bytes };
	struct ipv6hdr *ip6;
	__u64 frag_start = 0; /* where the fragmentable part starts */
	__u32 plen;
	__u8 nh;

	ip6 = spee_pull(c, sizeof(*ip6));
	if (!ip6 || ip6->version != 6)
		return SPEE_PARSE_MALFORMED;
	plen = spee_len16(ip6->payload_len);
	if (!(egress && plen == 0)) {
		if (!egress && c->pos + plen > c->end)
			return SPEE_PARSE_MALFORMED;
		*left.bytes = plen;
		left.known = true;
	}

	p->family = SPEE_FAMILY_V6;
	p->hop_limit = ip6->hop_limit;
	__builtin_memcpy(p->saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->daddr, &ip6->daddr, 16);

	nh = ip6->nexthdr;
	/*
	 * A fixed number of extension headers, unrolled: the verifier then
	 * sees each step's cursor advance as a bounded constant-size add.
	 */
#pragma unroll
	for (int i = 0; i < SPEE_IPV6_EXT_MAX; i++) {
		__u8 *opt;
		__u32 hlen;

		if (!spee_is_ext_hdr(nh))
			break;
		if (nh == SPEE_NEXTHDR_HOP && i != 0)
			return SPEE_PARSE_MALFORMED;
		if (nh == SPEE_NEXTHDR_FRAGMENT) {
			struct spee_frag_hdr *fh;
			__u16 off;

			if (!spee_take(&left, sizeof(*fh)))
				return spee_short(p);
			fh = spee_pull(c, sizeof(*fh));
			if (!fh)
				return spee_short(p);
			nh = fh->nexthdr;
			off = bpf_ntohs(fh->frag_off);
			/* offset 0 without M is an atomic fragment: a whole packet (RFC 6946) */
			if (off & 0xfff9) {
				p->frag_id = bpf_ntohl(fh->identification);
				if (off & 0xfff8) {
					p->proto = nh;
					return spee_later_fragment(p, off & 0xfff8);
				}
				p->frag = SPEE_FRAG_FIRST;
				frag_start = spee_offset(c);
			}
			if (!spee_rebase(c))
				return SPEE_PARSE_MALFORMED;
			continue;
		}
		/*
		 * Cut short after a fragment header, the chain was cut by
		 * fragmentation (RFC 7112 wants it whole in the first
		 * fragment): spee_short() says fragment, not malformed.
		 */
		opt = c->pos;
		if ((void *)(opt + 2) > c->end)
			return spee_short(p);
		if (nh == SPEE_NEXTHDR_AH)
			hlen = ((__u32)opt[1] + 2) * 4;
		else
			hlen = ((__u32)opt[1] + 1) * 8;
		if (!spee_take(&left, hlen))
			return spee_short(p);
		if (!spee_pull(c, hlen))
			return spee_short(p);
		/*
		 * A routing header with segments left sends the packet on to
		 * addresses it lists (RFC 8200 4.4; an SRH, RFC 8754, through
		 * an unprivileged IPV6_RTHDR): its destination is not the
		 * final one. (Every routing header is at least 8 bytes.)
		 */
		if (nh == SPEE_NEXTHDR_ROUTING && (void *)(opt + 4) <= c->end && opt[3])
			p->flags |= SPEE_PKT_SOURCE_ROUTE;
		nh = opt[0];
		if (!spee_rebase(c))
			return SPEE_PARSE_MALFORMED;
	}
	if (spee_is_ext_hdr(nh))
		return SPEE_PARSE_MALFORMED; /* more extension headers than we walk */
	p->proto = nh;
	/*
	 * Extension headers may follow the fragment header: the transport
	 * header then starts that far into the fragmentable part, and a later
	 * fragment must not start before its ports and flags end.
	 */
	if (p->frag == SPEE_FRAG_FIRST)
		p->l4_end = (__u16)(spee_offset(c) - frag_start) + spee_min_l4(nh);
	if (!spee_rebase(c))
		return SPEE_PARSE_MALFORMED;
	return spee_parse_l4(c, &left, p);
}

/*
 * Parses one packet. l2: data starts with Ethernet, else with the IP header
 * whose ethertype is l3_proto (cgroup_skb: skb->protocol), or, with
 * l3_proto 0, the IP its version nibble says (devices without a link
 * header: nothing else arrives there, so anything else is malformed).
 * egress: the IP length may exceed the linear buffer (GSO) and may be zero.
 */
static __always_inline int spee_parse(void *data, void *data_end, __u32 max_off, bool l2,
				      bool egress, __be16 l3_proto, struct spee_pkt *p)
{
	struct spee_cursor c = { .data = data, .pos = data, .end = data_end, .max_off = max_off };
	__be16 proto = l3_proto;

	if (l2) {
		struct ethhdr *eth = spee_pull(&c, sizeof(*eth));

		if (!eth)
			return SPEE_PARSE_MALFORMED;
		proto = eth->h_proto;
#pragma unroll
		for (int i = 0; i < SPEE_VLAN_MAX; i++) {
			struct spee_vlan_hdr *vh;

			if (proto != bpf_htons(SPEE_ETH_P_8021Q) &&
			    proto != bpf_htons(SPEE_ETH_P_8021AD))
				break;
			vh = spee_pull(&c, sizeof(*vh));
			if (!vh)
				return SPEE_PARSE_MALFORMED;
			proto = vh->h_vlan_encapsulated_proto;
		}
		if (proto == bpf_htons(SPEE_ETH_P_8021Q) || proto == bpf_htons(SPEE_ETH_P_8021AD))
			return SPEE_PARSE_MALFORMED; /* a third tag */
		if (!spee_rebase(&c))
			return SPEE_PARSE_MALFORMED;
	} else if (!proto) {
		__u8 *v = c.pos;

		if ((void *)(v + 1) > c.end)
			return SPEE_PARSE_MALFORMED;
		if (*v >> 4 == 4)
			proto = bpf_htons(SPEE_ETH_P_IP);
		else if (*v >> 4 == 6)
			proto = bpf_htons(SPEE_ETH_P_IPV6);
		else
			return SPEE_PARSE_MALFORMED;
	}
	if (proto == bpf_htons(SPEE_ETH_P_IP))
		return spee_parse_ipv4(&c, egress, p);
	if (proto == bpf_htons(SPEE_ETH_P_IPV6))
		return spee_parse_ipv6(&c, egress, p);
	p->ethertype = bpf_ntohs(proto);
	return SPEE_PARSE_NON_IP;
}

/*
 * The common packet, parsed inline: IPv4 without options or IPv6 without
 * extension headers, not a fragment, TCP or UDP, every length consistent,
 * the whole packet in [l3, end). It fills p exactly as spee_parse() would
 * and returns SPEE_PARSE_OK; anything else returns -1 and goes to the full
 * parser, which alone decides what is malformed. proto: the ethertype.
 */
static __always_inline int spee_parse_fast_ip(void *l3, void *end, __be16 proto,
					      struct spee_pkt *p)
{
	void *l4;
	__u32 l4len;

	if (proto == bpf_htons(SPEE_ETH_P_IP)) {
		struct iphdr *ip = l3;
		__u32 tot;

		if ((void *)(ip + 1) > end || *(__u8 *)ip != 0x45 ||
		    (ip->frag_off & bpf_htons(SPEE_IP_MF | SPEE_IP_OFFSET)))
			return -1;
		tot = spee_len16(ip->tot_len); /* bounded, as 6.1's verifier needs */
		if (tot < sizeof(*ip) || (void *)ip + tot > end)
			return -1;
		p->family = SPEE_FAMILY_V4;
		p->proto = ip->protocol;
		p->hop_limit = ip->ttl;
		__builtin_memcpy(p->saddr, &ip->saddr, 4);
		__builtin_memcpy(p->daddr, &ip->daddr, 4);
		l4 = ip + 1;
		l4len = tot - sizeof(*ip);
	} else if (proto == bpf_htons(SPEE_ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return -1;
		l4len = spee_len16(ip6->payload_len);
		if ((void *)(ip6 + 1) + l4len > end)
			return -1;
		p->family = SPEE_FAMILY_V6;
		p->proto = ip6->nexthdr;
		p->hop_limit = ip6->hop_limit;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
		l4 = ip6 + 1;
	} else {
		return -1;
	}
	if (p->proto == SPEE_IPPROTO_TCP) {
		struct tcphdr *th = l4;
		__u32 hlen;

		if ((void *)(th + 1) > end)
			return -1;
		hlen = (__u32)th->doff * 4;
		if (hlen < sizeof(*th) || hlen > l4len || l4 + hlen > end)
			return -1;
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		return SPEE_PARSE_OK;
	}
	if (p->proto == SPEE_IPPROTO_UDP) {
		struct udphdr *uh = l4;
		__u32 ulen;

		if ((void *)(uh + 1) > end || l4len < sizeof(*uh))
			return -1;
		ulen = spee_len16(uh->len);
		if (ulen < sizeof(*uh) || ulen > l4len)
			return -1;
		p->sport = uh->source;
		p->dport = uh->dest;
		return SPEE_PARSE_OK;
	}
	return -1;
}

/* The common frame: Ethernet with at most one tag, then the common packet. */
static __always_inline int spee_parse_fast(void *data, void *end, struct spee_pkt *p)
{
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	__be16 proto;

	if (l3 > end)
		return -1;
	proto = eth->h_proto;
	if (proto == bpf_htons(SPEE_ETH_P_8021Q) || proto == bpf_htons(SPEE_ETH_P_8021AD)) {
		struct spee_vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > end)
			return -1;
		proto = vh->h_vlan_encapsulated_proto;
		l3 = vh + 1;
	}
	return spee_parse_fast_ip(l3, end, proto, p);
}

/*
 * The parser as global functions: the verifier checks a global function
 * once, on its own, instead of once per path of its caller. Every branch
 * of the header walk would otherwise be carried into the decision code.
 * Measured on 6.18: the XDP program took ~485k verified instructions with
 * the parser inlined, ~107k as a global function, ~12k with spee_rebase()
 * as well (the limit is 1M). The packet struct comes in as memory that may
 * be NULL as far as the verifier knows, so the callee checks.
 */
__attribute__((noinline)) int spee_parse_xdp(struct xdp_md *ctx, struct spee_pkt *p)
{
	if (!p)
		return SPEE_PARSE_MALFORMED;
	return spee_parse((void *)(long)ctx->data, (void *)(long)ctx->data_end, SPEE_MAX_HDR_OFF,
			  true, false, 0, p);
}

/*
 * XDP on a device without a link header. Such devices have no native XDP
 * that sees every packet (tun's runs only on tap frames it builds itself),
 * so user space attaches this in generic mode, where data starts at the
 * mac header: the IP header, on these devices.
 */
__attribute__((noinline)) int spee_parse_xdp_l3(struct xdp_md *ctx, struct spee_pkt *p)
{
	if (!p)
		return SPEE_PARSE_MALFORMED;
	return spee_parse((void *)(long)ctx->data, (void *)(long)ctx->data_end, SPEE_MAX_HDR_OFF,
			  false, false, 0, p);
}

/*
 * 1: the egress program may parse a copy (spee_parse_skb_copy). Set at load
 * only where BPF_PROG_TEST_RUN will run it on a kernel that needs the copy
 * (user space probes that); attached programs never come there, and with 0
 * the verifier does not check the copy's parser (~5,000 instructions of a
 * load on 6.18, which checks only what the program can reach).
 */
const volatile __u8 spee_parse_copy = 0;

/*
 * The same parser over a copy of the packet's first bytes, for when the
 * program has no direct access to them: BPF_PROG_TEST_RUN up to Linux
 * 6.12 at least (seen on 6.1 and 6.12; 6.18 sets it) runs cgroup_skb
 * programs without setting data_end, so every direct read fails there. A real egress skb always has its
 * headers in the linear part, so attached programs never come here; the
 * cost on their path is one comparison (spee_parse_skb; measured with
 * test_run on 6.18: 85 -> 88 ns for an IPv4 SYN). The copy is a map
 * value, whose reads the verifier checks against its size rather than
 * against data_end: hence the smaller max_off, which leaves room for the
 * largest header read at a rebased position (60 bytes). Extension-header
 * chains that do not fit in the copy are malformed here, nowhere else.
 */
__attribute__((noinline)) int spee_parse_skb_copy(struct __sk_buff *skb, struct spee_pkt *p)
{
	__be16 proto = (__be16)skb->protocol;
	struct spee_skb_copy *buf;
	__u32 zero = 0, len;

	if (!p)
		return SPEE_PARSE_MALFORMED;
	if (proto != bpf_htons(SPEE_ETH_P_IP) && proto != bpf_htons(SPEE_ETH_P_IPV6)) {
		p->ethertype = bpf_ntohs(proto);
		return SPEE_PARSE_NON_IP;
	}
	buf = bpf_map_lookup_elem(&spee_skbcopy, &zero);
	if (!buf)
		return SPEE_PARSE_MALFORMED;
	len = skb->len;
	if (len > SPEE_SKB_COPY)
		len = SPEE_SKB_COPY;
	/* No IP header is shorter; the bound also tells the verifier len > 0. */
	if (len < 20)
		return SPEE_PARSE_MALFORMED;
	if (bpf_skb_load_bytes(skb, 0, buf->b, len))
		return SPEE_PARSE_MALFORMED;
	return spee_parse(buf->b, buf->b + len, SPEE_SKB_COPY - 64, false, true, proto, p);
}

/*
 * The egress program's parser: -1 where it has no direct access to the
 * packet (data_end is not set up where test_run lacks direct packet
 * access for cgroup_skb, on 6.12 and older): the caller then parses the
 * copy, if the load included it (spee_parse_copy). Called
 * from the entry point rather than from here, so that the call chain stays
 * within the verifier's 512 bytes of stack for all frames together.
 */
__attribute__((noinline)) int spee_parse_skb(struct __sk_buff *skb, struct spee_pkt *p)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;

	if (!p)
		return SPEE_PARSE_MALFORMED;
	/*
	 * Nothing to read where skb->len says there is: no direct access. An
	 * empty packet (a test run's frame of a link header alone) is parsed:
	 * non-IP by its protocol, or malformed.
	 */
	if (end <= data && skb->len)
		return -1;
	return spee_parse(data, end, SPEE_MAX_HDR_OFF, false, true, (__be16)skb->protocol, p);
}

/*
 * A frame leaving through tc egress (a packet socket's): from the link
 * header on an Ethernet device, else from the IP header, by its version
 * nibble (a packet socket sets skb->protocol to what it likes). A packet
 * socket may leave the frame in pages: the headers are pulled into the
 * linear part first.
 */
#define SPEE_TC_PULL 256

static __always_inline int spee_parse_tc(struct __sk_buff *skb, struct spee_pkt *p, bool l2)
{
	__u32 len = skb->len, want = len < SPEE_TC_PULL ? len : SPEE_TC_PULL;
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;

	if (!p)
		return SPEE_PARSE_MALFORMED;
	if (data + want > end) {
		bpf_skb_pull_data(skb, want);
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
	}
	return spee_parse(data, end, SPEE_MAX_HDR_OFF, l2, true, 0, p);
}

/* One global function for each start, so that each program verifies only its own. */
__attribute__((noinline)) int spee_parse_tc_eth(struct __sk_buff *skb, struct spee_pkt *p)
{
	return spee_parse_tc(skb, p, true);
}

__attribute__((noinline)) int spee_parse_tc_ip(struct __sk_buff *skb, struct spee_pkt *p)
{
	return spee_parse_tc(skb, p, false);
}

#endif /* SPEE_PARSE_BPF_H */
