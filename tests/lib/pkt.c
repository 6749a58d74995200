// SPDX-License-Identifier: GPL-2.0-only
/* pkt.c - the test packet builder (see pkt.h). */
#include "pkt.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* The one's complement sum of p's 16-bit words, added to sum and not yet folded. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t csum(const uint8_t *p, size_t len)
{
	return fold(sum16(p, len, 0));
}

static bool is_later_fragment(const struct pkt_spec *s)
{
	return s->frag && s->frag_offset > 0;
}

/* An ICMP error's quoted packet: IP header and 8 bytes of its transport. Its length, or -1. */
static int build_quote(const struct pkt_spec *s, uint8_t *q, size_t cap)
{
	uint8_t src[16] = {}, dst[16] = {};
	size_t hlen;

	if (inet_pton(AF_INET, s->q_src, src) == 1 && inet_pton(AF_INET, s->q_dst, dst) == 1) {
		hlen = 20;
		if (hlen + 8 > cap)
			return -1;
		memset(q, 0, hlen + 8);
		q[0] = 0x45;
		put16(q + 2, 20 + 40);
		q[8] = 64;
		q[9] = s->q_proto;
		memcpy(q + 12, src, 4);
		memcpy(q + 16, dst, 4);
		put16(q + 10, csum(q, 20));
	} else if (inet_pton(AF_INET6, s->q_src, src) == 1 &&
		   inet_pton(AF_INET6, s->q_dst, dst) == 1) {
		hlen = s->q_frag ? 48 : 40;
		if (hlen + 8 > cap)
			return -1;
		memset(q, 0, hlen + 8);
		q[0] = 0x60;
		put16(q + 4, 40);
		q[6] = s->q_frag ? 44 : s->q_proto;
		q[7] = 64;
		memcpy(q + 8, src, 16);
		memcpy(q + 24, dst, 16);
		if (s->q_frag) {
			q[40] = s->q_proto;
			put16(q + 42, 1); /* offset 0, more fragments */
			put32(q + 44, 0x5e);
		}
	} else {
		return -1;
	}
	if (s->q_proto == (hlen == 20 ? IPPROTO_ICMP : IPPROTO_ICMPV6)) {
		/* an echo request: q_sport its identifier, q_dport its sequence number */
		q[hlen] = hlen == 20 ? 8 : 128;
		put16(q + hlen + 4, s->q_sport);
		put16(q + hlen + 6, s->q_dport);
		return (int)hlen + 8;
	}
	put16(q + hlen, s->q_sport);
	put16(q + hlen + 2, s->q_dport);
	return (int)hlen + 8;
}

/* The transport part: header and payload, or only payload for a later fragment. */
static int build_l4(const struct pkt_spec *s, uint8_t *l4, size_t cap)
{
	size_t hlen = 0, len;

	if (!is_later_fragment(s)) {
		if (s->proto == IPPROTO_TCP)
			hlen = 20 + s->tcp_opt_len;
		else if (s->proto == IPPROTO_UDP)
			hlen = 8;
		else if (s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6)
			hlen = 8;
	}
	if (s->q_src && hlen == 8 && (s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6)) {
		int q = build_quote(s, l4 + 8, cap > 8 ? cap - 8 : 0);

		if (q < 0)
			return -1;
		hlen += (size_t)q;
	}
	len = hlen + s->payload;
	if (len > cap)
		return -1;
	if (!s->q_src)
		memset(l4, 0, hlen);
	else
		memset(l4, 0, 8);
	for (size_t i = hlen; i < len; i++)
		l4[i] = (uint8_t)i;
	if (!is_later_fragment(s)) {
		if (s->proto == IPPROTO_TCP) {
			put16(l4, s->sport);
			put16(l4 + 2, s->dport);
			put32(l4 + 4, 1000);
			put32(l4 + 8, (s->tcp_flags & PKT_ACK) ? 2000 : 0);
			l4[12] = (uint8_t)((s->doff ? s->doff : (int)(hlen / 4)) << 4);
			l4[13] = s->tcp_flags;
			put16(l4 + 14, 65535);
			for (size_t i = 20; i < hlen; i++)
				l4[i] = 1; /* NOP options */
		} else if (s->proto == IPPROTO_UDP) {
			put16(l4, s->sport);
			put16(l4 + 2, s->dport);
			put16(l4 + 4, (uint16_t)((int)len + s->udp_len_delta));
		} else if (s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6) {
			l4[0] = s->icmp_type;
			l4[1] = s->icmp_code;
			if (!s->q_src) {
				/* echo's identifier and sequence number (the rest of the header) */
				put16(l4 + 4, s->sport);
				put16(l4 + 6, s->dport);
			}
		}
	}
	if (s->l4_keep && s->l4_keep < len)
		len = s->l4_keep;
	return (int)len;
}

static int build_ipv4(const struct pkt_spec *s, const uint8_t *src, const uint8_t *dst,
		      uint8_t *ip, size_t cap)
{
	size_t hlen = 20 + s->ip_opt_len;
	int l4;
	uint16_t frag = 0;

	if (hlen > cap)
		return -1;
	l4 = build_l4(s, ip + hlen, cap - hlen);
	if (l4 < 0)
		return -1;
	memset(ip, 0, hlen);
	ip[0] = (uint8_t)(0x40 | ((s->ihl ? s->ihl : (int)(hlen / 4)) & 0xf));
	put16(ip + 2, (uint16_t)((int)hlen + l4 + s->tot_len_delta));
	put16(ip + 4, s->ip_id);
	if (s->frag)
		frag = (uint16_t)((s->frag_offset / 8) | (s->more_frags ? 0x2000 : 0));
	put16(ip + 6, frag);
	ip[8] = s->ttl ? s->ttl : 64;
	ip[9] = s->proto;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	for (size_t i = 20; i < hlen; i++)
		ip[i] = 1; /* NOP options */
	if (s->ip_opt_route && hlen >= 28) {
		/* type, length, pointer, one address per 4 bytes, then end of list */
		ip[20] = s->ip_opt_route;
		ip[21] = (uint8_t)(hlen - 20 - 1);
		ip[22] = 4;
		for (size_t i = 23; i < hlen - 1; i++)
			ip[i] = (uint8_t)(198 + (i & 3));
		ip[hlen - 1] = 0;
	}
	put16(ip + 10, csum(ip, hlen));
	return (int)hlen + l4;
}

static size_t ext_len(uint8_t type)
{
	return type == 51 ? 12 : 8; /* AH: (1 + 2) * 4 */
}

static int build_ipv6(const struct pkt_spec *s, const uint8_t *src, const uint8_t *dst,
		      uint8_t *ip, size_t cap)
{
	uint8_t chain[PKT_EXT_MAX + 1];
	size_t n = s->n_ext, off = 40;
	bool has_frag = false;
	int l4;

	if (n > PKT_EXT_MAX)
		return -1;
	memcpy(chain, s->ext, n);
	for (size_t i = 0; i < n; i++)
		has_frag |= chain[i] == 44;
	if (s->frag && !has_frag)
		chain[n++] = 44;

	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[6] = n ? chain[0] : s->proto;
	ip[7] = s->ttl ? s->ttl : 64;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	for (size_t i = 0; i < n; i++) {
		uint8_t *h = ip + off;
		size_t len = ext_len(chain[i]);

		if (off + len > cap)
			return -1;
		memset(h, 0, len);
		h[0] = i + 1 < n ? chain[i + 1] : s->proto;
		if (chain[i] == 44) {
			put16(h + 2, (uint16_t)(s->frag_offset | (s->more_frags ? 1 : 0)));
			put32(h + 4, s->frag_id);
		} else if (chain[i] == 51) {
			h[1] = 1;
			put32(h + 4, 0x100); /* SPI */
		} else if (chain[i] == 43) {
			h[2] = 4; /* segment routing type */
			h[3] = s->rh_segments_left;
		} else {
			h[2] = 1; /* PadN covering the rest */
			h[3] = 4;
		}
		off += len;
	}
	l4 = build_l4(s, ip + off, cap - off);
	if (l4 < 0)
		return -1;
	put16(ip + 4, (uint16_t)((int)(off - 40) + l4 + s->payload_len_delta));
	return (int)off + l4;
}

int pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t cap)
{
	static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const uint8_t smac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	uint8_t src[16] = {}, dst[16] = {};
	int family = 0, ip_len;
	uint16_t ethertype = s->ethertype;
	size_t off = 12;

	if (s->src && s->dst) {
		if (inet_pton(AF_INET, s->src, src) == 1 && inet_pton(AF_INET, s->dst, dst) == 1)
			family = AF_INET;
		else if (inet_pton(AF_INET6, s->src, src) == 1 &&
			 inet_pton(AF_INET6, s->dst, dst) == 1)
			family = AF_INET6;
		else
			return -1;
		if (!ethertype)
			ethertype = family == AF_INET ? 0x0800 : 0x86dd;
	}
	if (cap < PKT_MAX || s->n_vlan > 3)
		return -1;
	memset(buf, 0, PKT_MAX);
	memcpy(buf, dmac, 6);
	memcpy(buf + 6, smac, 6);
	for (int i = 0; i < s->n_vlan; i++) {
		put16(buf + off, s->vlan_tpid[i] ? s->vlan_tpid[i] : 0x8100);
		put16(buf + off + 2, (uint16_t)(100 + i));
		off += 4;
	}
	put16(buf + off, ethertype);
	off += 2;

	if (family == AF_INET)
		ip_len = build_ipv4(s, src, dst, buf + off, PKT_MAX - off - s->pad);
	else if (family == AF_INET6)
		ip_len = build_ipv6(s, src, dst, buf + off, PKT_MAX - off - s->pad);
	else
		ip_len = 28 + s->payload; /* e.g. an ARP body: zeros */
	if (ip_len < 0 || off + (size_t)ip_len + s->pad > PKT_MAX)
		return -1;
	off += (size_t)ip_len + s->pad;
	if (s->truncate && s->truncate < off)
		off = s->truncate;
	return (int)off;
}

int pkt_tcp4_checksum(uint8_t *frame, size_t len)
{
	uint8_t *ip = frame + PKT_ETH_HLEN, *tcp, pseudo[12];
	size_t hlen, tlen;

	if (len < PKT_ETH_HLEN + 20 || frame[12] != 0x08 || frame[13] != 0x00 ||
	    ip[9] != IPPROTO_TCP)
		return -1;
	hlen = (size_t)(ip[0] & 0xf) * 4;
	tlen = (size_t)(ip[2] << 8 | ip[3]);
	if (hlen < 20 || tlen < hlen + 20 || PKT_ETH_HLEN + tlen > len)
		return -1;
	tlen -= hlen;
	tcp = ip + hlen;
	memcpy(pseudo, ip + 12, 8); /* source and destination */
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	put16(pseudo + 10, (uint16_t)tlen);
	put16(tcp + 16, 0);
	put16(tcp + 16, fold(sum16(tcp, tlen, sum16(pseudo, sizeof(pseudo), 0))));
	return 0;
}
