// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet model, written as a list of the contract's statements, each
 * where it applies (CONTRACT.md section 1; the design notes in
 * include/spee_abi.h and README.md). The code reads every header through
 * explicit offsets into the buffer; nothing here is shaped like the BPF
 * parser, on purpose.
 */
#include "pktmodel.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "explain.h"

#define ETH_HLEN 14
#define ET_IPV4 0x0800
#define ET_IPV6 0x86dd
#define ET_VLAN 0x8100		     /* 802.1Q */
#define ET_QINQ 0x88a8		     /* 802.1ad */
#define VLAN_TAGS_MAX 2		     /* README: "up to two tags" */
#define V6_EXT_MAX SPEE_IPV6_EXT_MAX /* extension headers walked: the ABI's bound */
#define FRAG_TIMEOUT_NS (30ULL * 1000000000ULL)

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* How a packet's headers read: the outcome and what was learnt on the way. */
enum shape {
	SHAPE_WHOLE, /* a packet (or a first fragment) whose headers were all there */
	SHAPE_LATER, /* a fragment with offset > 0 */
	SHAPE_NON_IP,
	SHAPE_MALFORMED,
	SHAPE_FRAGMENT, /* a fragment that can never be matched to a port */
};

struct hdrs {
	enum shape shape;
	const char *why;
	int family; /* AF_INET, AF_INET6 */
	uint8_t src[16], dst[16];
	uint8_t proto; /* the transport protocol (the frag header's next header on a later v6
			  fragment) */
	bool first_frag;
	uint32_t frag_id;
	uint32_t frag_offset; /* bytes, later fragments */
	uint32_t
	    l4_end; /* first fragments: fragmentable-part bytes up to the end of ports and flags */
	uint16_t sport, dport;
	uint8_t flags; /* TCP */
	uint8_t icmp_type;
	uint8_t hop_limit;   /* IPv4 TTL, IPv6 hop limit */
	bool source_route;   /* an IPv4 LSRR/SSRR option, an IPv6 routing header with segments left */
	uint16_t ethertype;  /* a non-IP frame's */
	const uint8_t *icmp; /* the ICMP header, and the bytes of the buffer from there */
	size_t icmp_avail;
};

/* The smallest transport header a later fragment must not overlap (RFC 1858): ports and flags. */
static uint32_t l4_fixed(uint8_t proto)
{
	if (proto == IPPROTO_TCP)
		return 20;
	if (proto == IPPROTO_UDP)
		return 8;
	return 0;
}

/* ICMP echo: request and reply, 8 and 0 (RFC 792); ICMPv6 128 and 129 (RFC 4443). */
static bool is_echo_request(int family, uint8_t type)
{
	return type == (family == AF_INET ? 8 : 128);
}

static bool is_echo_reply(int family, uint8_t type)
{
	return type == (family == AF_INET ? 0 : 129);
}

static bool is_echo(int family, uint8_t type)
{
	return is_echo_request(family, type) || is_echo_reply(family, type);
}

static enum shape fail(struct hdrs *h, enum shape s, const char *why)
{
	h->shape = s;
	h->why = why;
	return s;
}

/*
 * "Truncated or malformed headers are dropped (malformed)", except that a
 * first fragment whose headers end early was cut by fragmentation: "first
 * fragments too short to hold the TCP header are dropped (fragment)"
 * (README), and RFC 7112 wants the whole header chain in the first one.
 */
static enum shape cut(struct hdrs *h, const char *why)
{
	return fail(h, h->first_frag ? SHAPE_FRAGMENT : SHAPE_MALFORMED, why);
}

/*
 * The transport header at off. room: bytes the IP header says remain
 * (SIZE_MAX: unknown, egress GSO), avail: bytes in the buffer.
 */
static enum shape read_l4(struct hdrs *h, const uint8_t *b, size_t off, size_t room, size_t avail)
{
	size_t have = room < avail ? room : avail;

	if (h->proto == IPPROTO_TCP) {
		size_t doff;

		if (have < 20)
			return cut(h, "tcp header cut");
		doff = (size_t)(b[off + 12] >> 4) * 4;
		if (doff < 20)
			return fail(h, SHAPE_MALFORMED, "tcp data offset below 5");
		if (have < doff)
			return cut(h, "tcp options cut");
		h->sport = be16(b + off);
		h->dport = be16(b + off + 2);
		h->flags = b[off + 13];
		return fail(h, SHAPE_WHOLE, "tcp");
	}
	if (h->proto == IPPROTO_UDP) {
		size_t ulen;

		if (have < 8)
			return cut(h, "udp header cut");
		ulen = be16(b + off + 4);
		if (ulen < 8)
			return fail(h, SHAPE_MALFORMED, "udp length below 8");
		/* a whole datagram's length must fit in the IP packet; a fragment's covers all */
		if (!h->first_frag && room != SIZE_MAX && ulen > room)
			return fail(h, SHAPE_MALFORMED, "udp length past the ip payload");
		h->sport = be16(b + off);
		h->dport = be16(b + off + 2);
		return fail(h, SHAPE_WHOLE, "udp");
	}
	if ((h->proto == IPPROTO_ICMP && h->family == AF_INET) ||
	    (h->proto == IPPROTO_ICMPV6 && h->family == AF_INET6)) {
		if (have < 4) /* type, code, checksum */
			return cut(h, "icmp header cut");
		h->icmp_type = b[off];
		/* an echo message goes on with its identifier and sequence number (RFC 792, 4443) */
		if (is_echo(h->family, h->icmp_type)) {
			if (have < 8)
				return cut(h, "echo header cut");
			h->sport = be16(b + off + 4);
			h->dport = h->sport;
		}
		/* an error quotes a packet; what of it is read, is read from the buffer */
		h->icmp = b + off;
		h->icmp_avail = avail;
		return fail(h, SHAPE_WHOLE, "icmp");
	}
	return fail(h, SHAPE_WHOLE, "another protocol");
}

/*
 * IPv4 options (RFC 791 3.1): end of list, no-operation, or type, length,
 * data. A loose or strict source route names where the packet goes after
 * the address in the header; the first one settles it. An option before it
 * whose length is below 2 or runs past the header is malformed (the kernel
 * refuses it too).
 */
static enum shape read_ipv4_options(struct hdrs *h, const uint8_t *o, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t olen;

		if (o[i] == 0)
			break;
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (i + 2 > n)
			return fail(h, SHAPE_MALFORMED, "ipv4 option length past the header");
		olen = o[i + 1];
		if (olen < 2 || i + olen > n)
			return fail(h, SHAPE_MALFORMED, "ipv4 option length out of bounds");
		if (o[i] == 131 || o[i] == 137) { /* LSRR, SSRR */
			h->source_route = true;
			break;
		}
		i += olen;
	}
	return SHAPE_WHOLE;
}

static enum shape read_ipv4(struct hdrs *h, const uint8_t *b, size_t len, bool egress)
{
	size_t ihl, tot, room;
	uint16_t frag;

	h->family = AF_INET;
	if (len < 20)
		return fail(h, SHAPE_MALFORMED, "ipv4 header cut");
	if (b[0] >> 4 != 4)
		return fail(h, SHAPE_MALFORMED, "ipv4 version field is not 4");
	ihl = (size_t)(b[0] & 15) * 4;
	if (ihl < 20)
		return fail(h, SHAPE_MALFORMED, "ipv4 ihl below 5");
	if (ihl > len)
		return fail(h, SHAPE_MALFORMED, "ipv4 options cut");
	/* what leaves has its options read: a source route there hides where it goes */
	if (egress && read_ipv4_options(h, b + 20, ihl - 20) == SHAPE_MALFORMED)
		return SHAPE_MALFORMED;
	tot = be16(b + 2);
	if (egress && tot == 0) {
		room = SIZE_MAX; /* big TCP: the length lives elsewhere */
	} else {
		if (tot < ihl)
			return fail(h, SHAPE_MALFORMED, "ipv4 total length below the header");
		/* XDP sees whole frames; egress may see only the linear part of a GSO packet */
		if (!egress && tot > len)
			return fail(h, SHAPE_MALFORMED, "ipv4 total length past the frame");
		room = tot - ihl;
	}
	memcpy(h->src, b + 12, 4);
	memcpy(h->dst, b + 16, 4);
	h->proto = b[9];
	h->hop_limit = b[8];
	frag = be16(b + 6);
	if (frag & 0x3fff) {
		h->frag_id = be16(b + 4);
		if (frag & 0x1fff) {
			h->frag_offset = (uint32_t)(frag & 0x1fff) * 8;
			return fail(h, SHAPE_LATER, "ipv4 later fragment");
		}
		h->first_frag = true;
		h->l4_end = l4_fixed(h->proto);
	}
	return read_l4(h, b, ihl, room, len - ihl);
}

static bool v6_ext(uint8_t nh)
{
	/* hop-by-hop, routing, fragment, authentication, destination options */
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60;
}

static enum shape read_ipv6(struct hdrs *h, const uint8_t *b, size_t len, bool egress)
{
	size_t off = 40, room, plen, frag_start = 0;
	uint8_t nh;

	h->family = AF_INET6;
	if (len < 40)
		return fail(h, SHAPE_MALFORMED, "ipv6 header cut");
	if (b[0] >> 4 != 6)
		return fail(h, SHAPE_MALFORMED, "ipv6 version field is not 6");
	plen = be16(b + 4);
	if (egress && plen == 0) {
		room = SIZE_MAX; /* a jumbogram or big TCP */
	} else {
		if (!egress && 40 + plen > len)
			return fail(h, SHAPE_MALFORMED, "ipv6 payload length past the frame");
		room = plen;
	}
	memcpy(h->src, b + 8, 16);
	memcpy(h->dst, b + 24, 16);
	h->hop_limit = b[7];
	nh = b[6];
	for (int n = 0; v6_ext(nh); n++) {
		size_t have = len - off, hlen;

		if (room != SIZE_MAX && room < have)
			have = room;
		if (n == V6_EXT_MAX)
			return fail(h, SHAPE_MALFORMED,
				    "more extension headers than the parser walks");
		/* RFC 8200 4.3: hop-by-hop options only directly after the IPv6 header */
		if (nh == 0 && n > 0)
			return fail(h, SHAPE_MALFORMED, "hop-by-hop options not first");
		if (nh == 44) {
			uint16_t fo;

			if (have < 8)
				return cut(h, "fragment header cut");
			fo = be16(b + off + 2);
			nh = b[off];
			/* offset 0 without M is an atomic fragment: a whole packet (RFC 6946) */
			if (fo & 0xfff9) {
				h->frag_id = be32(b + off + 4);
				if (fo & 0xfff8) {
					h->proto = nh;
					h->frag_offset = fo & 0xfff8;
					return fail(h, SHAPE_LATER, "ipv6 later fragment");
				}
				h->first_frag = true;
				frag_start = off + 8;
			}
			off += 8;
			if (room != SIZE_MAX)
				room -= 8;
			continue;
		}
		if (have < 2)
			return cut(h, "extension header cut");
		hlen = nh == 51 ? ((size_t)b[off + 1] + 2) * 4 : ((size_t)b[off + 1] + 1) * 8;
		if (have < hlen)
			return cut(h, "extension header cut");
		/* RFC 8200 4.4: segments left, the addresses still to visit after this one */
		if (nh == 43 && b[off + 3])
			h->source_route = true;
		nh = b[off];
		off += hlen;
		if (room != SIZE_MAX)
			room -= hlen;
	}
	h->proto = nh;
	if (h->first_frag)
		h->l4_end = (uint32_t)(off - frag_start) + l4_fixed(nh);
	return read_l4(h, b, off, room, len - off);
}

/* The frame from Ethernet on (ingress; egress at tc, where lengths are as on egress). */
static enum shape read_frame(struct hdrs *h, const uint8_t *b, size_t len, bool egress)
{
	size_t off = ETH_HLEN;
	uint16_t et;

	if (len < ETH_HLEN)
		return fail(h, SHAPE_MALFORMED, "ethernet header cut");
	et = be16(b + 12);
	for (int tags = 0; et == ET_VLAN || et == ET_QINQ; tags++) {
		if (tags == VLAN_TAGS_MAX)
			return fail(h, SHAPE_MALFORMED, "a third vlan tag");
		if (len < off + 4)
			return fail(h, SHAPE_MALFORMED, "vlan tag cut");
		et = be16(b + off + 2);
		off += 4;
	}
	if (et == ET_IPV4)
		return read_ipv4(h, b + off, len - off, egress);
	if (et == ET_IPV6)
		return read_ipv6(h, b + off, len - off, egress);
	h->ethertype = et;
	return fail(h, SHAPE_NON_IP, "not ip");
}

/* A device without a link header carries IP only: the version nibble says which. */
static enum shape read_ip(struct hdrs *h, const uint8_t *b, size_t len, bool egress)
{
	if (len < 1)
		return fail(h, SHAPE_MALFORMED, "empty");
	if (b[0] >> 4 == 4)
		return read_ipv4(h, b, len, egress);
	if (b[0] >> 4 == 6)
		return read_ipv6(h, b, len, egress);
	return fail(h, SHAPE_MALFORMED, "neither ipv4 nor ipv6 on an ip device");
}

/* ---- state ---- */

static bool conn_eq(const struct pm_conn *a, const struct pm_conn *b)
{
	return a->family == b->family && a->proto == b->proto && a->lport == b->lport &&
	       a->rport == b->rport && a->echo == b->echo && !memcmp(a->laddr, b->laddr, 16) &&
	       !memcmp(a->raddr, b->raddr, 16);
}

const struct pm_flow *pktmodel_find_flow(const struct pktmodel *m, const struct pm_conn *c)
{
	for (size_t i = 0; i < m->n_flows; i++)
		if (conn_eq(&m->flows[i].c, c))
			return &m->flows[i];
	return NULL;
}

static void flow_set(struct pktmodel *m, const struct pm_conn *c, uint8_t reason, uint64_t now)
{
	struct pm_flow *f = (struct pm_flow *)pktmodel_find_flow(m, c);

	if (!f) {
		if (m->n_flows == PM_FLOWS_MAX)
			return; /* the caller resets long before this */
		f = &m->flows[m->n_flows++];
		f->c = *c;
	}
	f->reason = reason;
	f->last_seen_ns = now;
}

static void flow_forget(struct pktmodel *m, const struct pm_conn *c)
{
	struct pm_flow *f = (struct pm_flow *)pktmodel_find_flow(m, c);

	if (f)
		*f = m->flows[--m->n_flows];
}

/* The datagram's identity: RFC 791 (src, dst, protocol, id); RFC 8200 (src, dst, id). */
static struct pm_frag *frag_find(struct pktmodel *m, const struct hdrs *h)
{
	for (size_t i = 0; i < m->n_frags; i++) {
		struct pm_frag *f = &m->frags[i];

		if (f->family == h->family && f->id == h->frag_id &&
		    !memcmp(f->saddr, h->src, 16) && !memcmp(f->daddr, h->dst, 16) &&
		    (h->family == AF_INET6 || f->proto == h->proto))
			return f;
	}
	return NULL;
}

static void frag_record(struct pktmodel *m, const struct hdrs *h, const struct pm_verdict *v,
			uint64_t now)
{
	struct pm_frag *f = frag_find(m, h);

	if (!f) {
		if (m->n_frags == PM_FRAGS_MAX)
			return;
		f = &m->frags[m->n_frags++];
	}
	memset(f, 0, sizeof(*f));
	f->family = (uint8_t)h->family;
	f->proto = h->proto;
	f->id = h->frag_id;
	memcpy(f->saddr, h->src, 16);
	memcpy(f->daddr, h->dst, 16);
	f->reason = v->reason;
	f->rule = v->rule;
	f->l4_end = (uint16_t)h->l4_end;
	f->first_seen_ns = now;
}

/* ---- the contract's verdicts ---- */

static void verdict(struct pm_verdict *v, uint8_t reason, int rule, const char *why)
{
	v->reason = reason;
	v->rule = reason == SPEE_REASON_RULE ? rule : -1;
	v->why = why;
}

/* A new connection to port from peer, by the policy (explain.h). */
static void by_policy(const struct pktmodel *m, uint8_t dir, uint8_t proto, uint16_t port,
		      int family, const uint8_t *peer, struct pm_verdict *v)
{
	struct explain_query q = {.dir = dir, .proto = proto, .port = port};
	struct explain_result r;

	q.peer.family = (uint8_t)family;
	q.peer.len = (uint8_t)prefix_max_len(q.peer.family);
	memcpy(q.peer.addr, peer, family == AF_INET ? 4 : 16);
	explain_decide(m->pol, m->names, &q, &r);
	verdict(v, r.reason, r.rule, "by policy");
}

/* Would the policy let this through in enforce mode? (Audit passes all; state follows enforce.) */
static bool allowed(const struct pktmodel *m, uint8_t dir, const struct pm_verdict *v)
{
	if (!spee_reason_is_drop(v->reason))
		return true;
	return v->reason == SPEE_REASON_NO_RULE && m->pol->default_action[dir] == SPEE_ACTION_PASS;
}

static struct pm_conn conn_of(const struct hdrs *h, bool egress)
{
	struct pm_conn c = {.family = (uint8_t)h->family, .proto = h->proto};

	memcpy(c.laddr, egress ? h->src : h->dst, 16);
	memcpy(c.raddr, egress ? h->dst : h->src, 16);
	c.lport = egress ? h->sport : h->dport;
	c.rport = egress ? h->dport : h->sport;
	return c;
}

/* The kernel's socket for c (host's side): its connection, else a listener on lport. */
static int sock_state(const struct pktmodel *m, const struct pm_conn *c)
{
	static const uint8_t any[16];

	for (size_t i = 0; i < m->n_socks; i++) {
		const struct pm_sock *s = &m->socks[i];

		if (s->state != PM_SOCK_LISTEN && s->family == c->family && s->lport == c->lport &&
		    s->rport == c->rport && !memcmp(s->laddr, c->laddr, 16) &&
		    !memcmp(s->raddr, c->raddr, 16))
			return s->state;
	}
	for (size_t i = 0; i < m->n_socks; i++) {
		const struct pm_sock *s = &m->socks[i];

		if (s->state == PM_SOCK_LISTEN && s->family == c->family && s->lport == c->lport &&
		    (!memcmp(s->laddr, any, 16) || !memcmp(s->laddr, c->laddr, 16)))
			return PM_SOCK_LISTEN;
	}
	return -1;
}

/* ---- ICMP ---- */

enum icmp_kind { ICMP_OTHER, ICMP_ERROR, ICMP_ND, ICMP_MLD };

/*
 * "ICMP/ICMPv6 errors, path-MTU messages and IPv6 neighbour discovery": the
 * errors (v4: unreachable incl. frag needed, time exceeded, parameter
 * problem; v6: unreachable, packet too big, time exceeded, parameter
 * problem), ND (router and neighbour solicitation and advertisement,
 * redirect) and MLD (queries, reports, done).
 */
static enum icmp_kind icmp_kind(const struct hdrs *h)
{
	uint8_t t = h->icmp_type;

	if (h->family == AF_INET)
		return t == 3 || t == 11 || t == 12 ? ICMP_ERROR : ICMP_OTHER;
	if (t >= 1 && t <= 4)
		return ICMP_ERROR;
	if (t >= 133 && t <= 137)
		return ICMP_ND;
	if (t == 130 || t == 131 || t == 132 || t == 143)
		return ICMP_MLD;
	return ICMP_OTHER;
}

/*
 * What an error quotes after its 8 bytes (RFC 792; RFC 4443 2.4): an IP
 * header and the ports after it, of TCP or UDP, or an echo request of the
 * quote's family and its identifier, not of a later fragment (an IPv6
 * fragment header may come first). The connection it names, from the
 * host's side: the host sent the quoted packet (sent) or received it.
 */
static bool icmp_quotes(const struct hdrs *h, bool sent, struct pm_conn *c, uint8_t src[16])
{
	const uint8_t *q = h->icmp + 8;
	size_t n = h->icmp_avail >= 8 ? h->icmp_avail - 8 : 0, l4;
	uint8_t a[16] = {}, b[16] = {};
	uint8_t proto;

	if (h->family == AF_INET) {
		if (n < 20 || q[0] >> 4 != 4 || (q[0] & 15) < 5 || (be16(q + 6) & 0x1fff))
			return false;
		proto = q[9];
		memcpy(a, q + 12, 4);
		memcpy(b, q + 16, 4);
		l4 = (size_t)(q[0] & 15) * 4;
	} else {
		if (n < 40 || q[0] >> 4 != 6)
			return false;
		proto = q[6];
		memcpy(a, q + 8, 16);
		memcpy(b, q + 24, 16);
		l4 = 40;
		if (proto == 44) {
			if (n < 48 || (be16(q + 42) & 0xfff8))
				return false;
			proto = q[40];
			l4 = 48;
		}
	}
	c->family = (uint8_t)h->family;
	c->proto = proto;
	if (proto == (h->family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6)) {
		if (n < l4 + 6 || !is_echo_request(h->family, q[l4]))
			return false;
		memcpy(c->laddr, sent ? a : b, 16);
		memcpy(c->raddr, sent ? b : a, 16);
		c->lport = c->rport = be16(q + l4 + 4);
		c->echo = sent ? SPEE_ECHO_HOST_ASKED : SPEE_ECHO_PEER_ASKED;
		memcpy(src, a, 16);
		return true;
	}
	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || n < l4 + 4)
		return false;
	memcpy(c->laddr, sent ? a : b, 16);
	memcpy(c->raddr, sent ? b : a, 16);
	c->lport = sent ? be16(q + l4) : be16(q + l4 + 2);
	c->rport = sent ? be16(q + l4 + 2) : be16(q + l4);
	memcpy(src, a, 16);
	return true;
}

/*
 * "ICMP/ICMPv6 errors" pass when they concern traffic of the host: sent to
 * where the quoted packet came from, about a connection the host holds (a
 * flow; a UDP one or an echo exchange within udp-timeout; or a TCP
 * connection of the socket table: a listener alone is no connection).
 */
static bool icmp_about_a_flow(const struct pktmodel *m, const struct hdrs *h, bool egress,
			      uint64_t now)
{
	struct pm_conn c = {0};
	uint8_t quoted_src[16];
	const struct pm_flow *f;
	int st;

	if (!icmp_quotes(h, !egress, &c, quoted_src) || memcmp(h->dst, quoted_src, 16))
		return false;
	f = pktmodel_find_flow(m, &c);
	if (f && (c.proto == IPPROTO_TCP || (int64_t)(now - f->last_seen_ns) <=
						(int64_t)m->udp_timeout_ns))
		return true;
	if (c.proto != IPPROTO_TCP)
		return false;
	st = sock_state(m, &c);
	return st >= 0 && st != PM_SOCK_LISTEN;
}

/*
 * Outbound ND and MLD stay on the link: ND with hop limit 255, MLD with 1,
 * to multicast, link-local, or the source's own /64 (its neighbours).
 */
static bool stays_on_link(const struct hdrs *h, enum icmp_kind k)
{
	if (h->hop_limit != (k == ICMP_ND ? 255 : 1))
		return false;
	if (h->dst[0] == 0xff || (h->dst[0] == 0xfe && (h->dst[1] & 0xc0) == 0x80))
		return true;
	return !memcmp(h->dst, h->src, 8);
}

/*
 * What rules decide besides tcp and udp (CONTRACT.md section 4): icmp and
 * icmpv6 rules name a message type, `proto: ip` rules a protocol number.
 * "ICMP/ICMPv6 echo ... with its replies": a request let through opens an
 * echo exchange (in: by a rule; out: whatever lets it out, as a UDP
 * datagram), whose replies in the other direction pass as icmp-reply for
 * udp-timeout. Protocols 0 and 255 no rule can name (config refuses them),
 * and the host's own addresses are no rule's either (at tc, past the
 * cgroup hook's loopback check, explain would call them loopback).
 */
static void by_rule_or_echo(struct pktmodel *m, const struct hdrs *h, bool egress, uint64_t now,
			    struct pm_verdict *v)
{
	uint8_t dir = egress ? SPEE_DIR_EGRESS : SPEE_DIR_INGRESS;
	bool is_icmp = (h->proto == IPPROTO_ICMP && h->family == AF_INET) ||
		       (h->proto == IPPROTO_ICMPV6 && h->family == AF_INET6);
	struct pm_conn c = conn_of(h, egress);
	const struct pm_flow *f;

	if (h->proto == 0 || h->proto == 255)
		return verdict(v, SPEE_REASON_NO_RULE, -1, "a protocol no rule can name");
	by_policy(m, dir, h->proto, is_icmp ? h->icmp_type : 0, h->family,
		  egress ? h->dst : h->src, v);
	if (v->reason == SPEE_REASON_LOOPBACK)
		verdict(v, SPEE_REASON_NO_RULE, -1, "the host's own address names no rule");
	if (!is_icmp)
		return;
	if (is_echo_request(h->family, h->icmp_type)) {
		c.echo = egress ? SPEE_ECHO_HOST_ASKED : SPEE_ECHO_PEER_ASKED;
		if (allowed(m, dir, v) && (egress || v->reason != SPEE_REASON_NO_RULE))
			flow_set(m, &c, SPEE_REASON_ICMP_REPLY, now);
		return;
	}
	if (v->reason != SPEE_REASON_NO_RULE || !is_echo_reply(h->family, h->icmp_type))
		return;
	c.echo = egress ? SPEE_ECHO_PEER_ASKED : SPEE_ECHO_HOST_ASKED;
	f = pktmodel_find_flow(m, &c);
	if (f && (int64_t)(now - f->last_seen_ns) <= (int64_t)m->udp_timeout_ns)
		verdict(v, SPEE_REASON_ICMP_REPLY, -1, "the reply of an echo request let through");
}

static void icmp(struct pktmodel *m, const struct hdrs *h, bool egress, uint64_t now,
		 struct pm_verdict *v)
{
	enum icmp_kind k = icmp_kind(h);

	if (k == ICMP_ERROR) {
		if (icmp_about_a_flow(m, h, egress, now))
			return verdict(v, SPEE_REASON_ICMP, -1, "an error about a flow of the host");
		return verdict(v, SPEE_REASON_NO_RULE, -1, "an error about no flow of the host");
	}
	if ((k == ICMP_ND || k == ICMP_MLD) && (!egress || stays_on_link(h, k)))
		return verdict(v, SPEE_REASON_ND, -1, "neighbour discovery");
	if (k != ICMP_OTHER)
		return verdict(v, SPEE_REASON_NO_RULE, -1, "nd beyond the link");
	by_rule_or_echo(m, h, egress, now, v);
}

/* ---- non-IP frames ---- */

/* "non-IP frames (ARP)", and the ethertypes the config's `ethertypes:` lists. */
static void non_ip(const struct pktmodel *m, uint8_t dir, uint16_t et, struct pm_verdict *v)
{
	uint16_t key = et >= 0x0600 ? et : SPEE_ETHERTYPE_LLC;

	v->l2_class = (int)spee_l2_class_of(et);
	if (et == 0x0806)
		return verdict(v, SPEE_REASON_NON_IP, -1, "arp");
	for (size_t i = 0; i < m->pol->n_entries; i++) {
		const struct policy_entry *e = &m->pol->entries[i];

		if (e->proto == SPEE_PROTO_ETHERTYPE && e->dir == dir &&
		    (e->port_lo == key || e->port_lo == SPEE_ETHERTYPE_ANY))
			return verdict(v, SPEE_REASON_NON_IP, -1, "an ethertype the config passes");
	}
	verdict(v, SPEE_REASON_ETHERTYPE, -1, "an ethertype the config does not pass");
}

/* TCP: SYN with FIN or RST is no packet a connection sends. */
static bool bad_flags(uint8_t f)
{
	return (f & TH_SYN) && (f & (TH_FIN | TH_RST));
}

/* A connection opens with a SYN that is not a SYN-ACK. */
static bool opens(uint8_t f)
{
	return (f & TH_SYN) && !(f & TH_ACK);
}

static void ingress(struct pktmodel *m, const struct hdrs *h, uint64_t now, struct pm_verdict *v)
{
	struct pm_conn c = conn_of(h, false);
	const struct pm_flow *f;
	int st;

	if (h->proto == IPPROTO_TCP) {
		if (bad_flags(h->flags))
			return verdict(v, SPEE_REASON_MALFORMED, -1, "syn with fin or rst");
		if (opens(h->flags))
			return by_policy(m, SPEE_DIR_INGRESS, IPPROTO_TCP, h->dport, h->family,
					 h->src, v);
		/* "replies of connections ... (real state: ... merely from an allowed port is not a
		 * reply)" */
		if (pktmodel_find_flow(m, &c))
			return verdict(v, SPEE_REASON_ESTABLISHED, -1,
				       "a connection the host holds");
		st = sock_state(m, &c);
		if (st < 0)
			return verdict(v, SPEE_REASON_NO_RULE, -1, "no connection");
		if (st != PM_SOCK_LISTEN) {
			/* connections found in the socket table are remembered while established */
			if (st == PM_SOCK_ESTABLISHED)
				flow_set(m, &c, SPEE_REASON_ESTABLISHED, now);
			return verdict(v, SPEE_REASON_ESTABLISHED, -1, "a socket's connection");
		}
		/* a listener only: a handshake completing (SYN cookies) where the SYN could pass */
		by_policy(m, SPEE_DIR_INGRESS, IPPROTO_TCP, h->dport, h->family, h->src, v);
		if (v->reason != SPEE_REASON_NO_RULE)
			verdict(v, SPEE_REASON_ESTABLISHED, -1,
				"completes a handshake the policy allows");
		return;
	}
	if (h->proto == IPPROTO_UDP) {
		by_policy(m, SPEE_DIR_INGRESS, IPPROTO_UDP, h->dport, h->family, h->src, v);
		if (v->reason != SPEE_REASON_NO_RULE) {
			/* a datagram let in: answers to it are replies, for udp-timeout seconds */
			if (allowed(m, SPEE_DIR_INGRESS, v))
				flow_set(m, &c, SPEE_REASON_UDP_REPLY, now);
			return;
		}
		f = pktmodel_find_flow(m, &c);
		/* "udp-timeout: seconds after its last outbound datagram a UDP flow's replies are
		 * accepted" */
		if (f && (int64_t)(now - f->last_seen_ns) <= (int64_t)m->udp_timeout_ns)
			return verdict(v, f->reason, -1, "reply of a udp flow");
		return;
	}
	if ((h->proto == IPPROTO_ICMP && h->family == AF_INET) ||
	    (h->proto == IPPROTO_ICMPV6 && h->family == AF_INET6))
		return icmp(m, h, false, now, v);
	by_rule_or_echo(m, h, false, now, v);
}

static void egress(struct pktmodel *m, const struct pm_packet *pkt, const struct hdrs *h,
		   struct pm_verdict *v)
{
	struct pm_conn c = conn_of(h, true);
	int st;

	if (h->proto == IPPROTO_TCP) {
		if (bad_flags(h->flags))
			return verdict(v, SPEE_REASON_MALFORMED, -1, "syn with fin or rst");
		if (opens(h->flags)) {
			by_policy(m, SPEE_DIR_EGRESS, IPPROTO_TCP, h->dport, h->family, h->dst, v);
			/* a connection the host was let open is remembered, for its replies */
			if (allowed(m, SPEE_DIR_EGRESS, v))
				flow_set(m, &c, SPEE_REASON_ESTABLISHED, pkt->now_ns);
			return;
		}
		if (pkt->tcp_socket)
			verdict(v, SPEE_REASON_ESTABLISHED, -1, "a tcp socket's packet");
		else if (pktmodel_find_flow(m, &c))
			verdict(v, SPEE_REASON_ESTABLISHED, -1, "a connection the host holds");
		else if ((st = sock_state(m, &c)) >= 0 && st != PM_SOCK_LISTEN)
			verdict(v, SPEE_REASON_ESTABLISHED, -1, "a socket's connection");
		else
			return verdict(v, SPEE_REASON_NO_RULE, -1, "no connection");
		if (h->flags & (TH_FIN | TH_RST))
			flow_forget(
			    m, &c); /* the end of a connection; the socket table covers the rest */
		else if (h->flags & TH_SYN)
			flow_set(m, &c, SPEE_REASON_ESTABLISHED,
				 pkt->now_ns); /* accepted inbound */
		return;
	}
	if (h->proto == IPPROTO_UDP) {
		by_policy(m, SPEE_DIR_EGRESS, IPPROTO_UDP, h->dport, h->family, h->dst, v);
		if (v->reason == SPEE_REASON_NO_RULE) {
			const struct pm_flow *f = pktmodel_find_flow(m, &c);

			/*
			 * "replies of connections the policy allowed in either direction
			 * (real state ...)": an answer to a datagram the peer sent within
			 * udp-timeout and the policy let in.
			 */
			if (f && (int64_t)(pkt->now_ns - f->last_seen_ns) <= (int64_t)m->udp_timeout_ns)
				return verdict(v, SPEE_REASON_UDP_REPLY, -1,
					       "answer to a datagram let in");
		}
		if (allowed(m, SPEE_DIR_EGRESS, v))
			flow_set(m, &c,
				 v->reason == SPEE_REASON_DNS ? SPEE_REASON_DNS
							      : SPEE_REASON_UDP_REPLY,
				 pkt->now_ns);
		return;
	}
	if ((h->proto == IPPROTO_ICMP && h->family == AF_INET) ||
	    (h->proto == IPPROTO_ICMPV6 && h->family == AF_INET6))
		return icmp(m, h, true, pkt->now_ns, v);
	by_rule_or_echo(m, h, true, pkt->now_ns, v);
}

/* "loopback and the host's traffic to itself": 127/8, ::1 and the host's own addresses. */
static bool to_itself(const struct pktmodel *m, const struct hdrs *h)
{
	struct pm_verdict v;

	if (h->family == AF_INET && h->dst[0] == 127)
		return true;
	by_policy(m, SPEE_DIR_EGRESS, IPPROTO_TCP, 0, h->family, h->dst, &v);
	return v.reason == SPEE_REASON_LOOPBACK;
}

/* One of the host's own addresses: a local entry of the policy. */
static bool is_local(const struct pktmodel *m, const struct hdrs *h)
{
	struct pm_verdict v;

	by_policy(m, SPEE_DIR_EGRESS, IPPROTO_TCP, 0, h->family, h->dst, &v);
	return v.reason == SPEE_REASON_LOOPBACK && !(h->family == AF_INET && h->dst[0] == 127) &&
	       !(h->family == AF_INET6 && h->dst[15] == 1 && !memcmp(h->dst, (uint8_t[15]){0}, 15));
}

/* "one of its addresses, or broadcast/multicast" (CONTRACT.md section 4) */
static bool for_host(const struct pktmodel *m, const struct hdrs *h)
{
	struct prefix a = {.family = (uint8_t)h->family};

	a.len = (uint8_t)prefix_max_len(a.family);
	memcpy(a.addr, h->dst, h->family == AF_INET ? 4 : 16);
	return explain_for_host(m->pol, &a);
}

/*
 * "IP fragments that cannot be matched to a port are dropped (fragment)":
 * a later fragment takes the verdict its first fragment got, if that came
 * within 30 s, unless it overlaps the first's ports and flags. Refused
 * datagrams stay refused. One whose first has not come yet may be waiting
 * for it (reordered): arriving at the host's own address, it goes on to
 * the kernel's reassembly, which needs the first to deliver anything
 * (README, "Fragments"). A rule counts datagrams: a fragment that follows
 * its first adds bytes, not a packet.
 */
static void later_fragment(const struct pktmodel *m, const struct pm_packet *pkt,
			   const struct hdrs *h, struct pm_verdict *v)
{
	struct pm_frag *f = frag_find((struct pktmodel *)m, h);

	if (h->frag_offset < l4_fixed(h->proto))
		return verdict(v, SPEE_REASON_FRAGMENT, -1, "overlaps the transport header");
	if (!f || pkt->now_ns - f->first_seen_ns >= m->frag_timeout_ns) {
		if (pkt->dir == SPEE_DIR_INGRESS && is_local(m, h))
			return verdict(v, SPEE_REASON_REASSEMBLY, -1,
				       "ahead of its first, to the kernel's reassembly");
		return verdict(v, SPEE_REASON_FRAGMENT, -1, "no first fragment");
	}
	if (h->frag_offset < f->l4_end)
		return verdict(v, SPEE_REASON_FRAGMENT, -1, "overlaps its first's transport header");
	verdict(v, f->reason, f->rule, "follows its first fragment");
	if (!allowed(m, pkt->dir, v))
		return verdict(v, SPEE_REASON_FRAGMENT, -1, "of a refused datagram");
	v->packets = 0;
}

void pktmodel_decide(struct pktmodel *m, const struct pm_packet *pkt, struct pm_verdict *v)
{
	bool eg = pkt->dir == SPEE_DIR_EGRESS;
	bool tc = eg && (pkt->at == PM_AT_TC || pkt->at == PM_AT_TC_IP);
	struct hdrs h = {};

	memset(v, 0, sizeof(*v));
	v->rule = -1;
	v->packets = 1;
	v->bytes = pkt->len;
	v->l2_class = -1;

	/* "egress judges the sockets of the host's network namespace" */
	if (eg && !tc && pkt->other_netns) {
		verdict(v, SPEE_REASON_CONTAINER, -1, "a socket of another network namespace");
		goto out;
	}
	if (eg && !tc && pkt->on_loopback) {
		verdict(v, SPEE_REASON_LOOPBACK, -1, "on the loopback device");
		goto out;
	}
	if (pkt->at == PM_AT_XDP_IP || pkt->at == PM_AT_TC_IP)
		read_ip(&h, pkt->data, pkt->len, eg);
	else if (!eg || tc)
		read_frame(&h, pkt->data, pkt->len, eg);
	else if (pkt->ethertype == ET_IPV4)
		read_ipv4(&h, pkt->data, pkt->len, true);
	else if (pkt->ethertype == ET_IPV6)
		read_ipv6(&h, pkt->data, pkt->len, true);
	else {
		h.ethertype = pkt->ethertype; /* the skb's protocol */
		fail(&h, SHAPE_NON_IP, "not ip");
	}

	/* "non-IP frames (ARP)" pass; "truncated or malformed headers are dropped" */
	if (h.shape == SHAPE_NON_IP) {
		non_ip(m, pkt->dir, h.ethertype, v);
		v->l2_passed = allowed(m, pkt->dir, v);
		goto out;
	}
	if (h.shape == SHAPE_MALFORMED) {
		verdict(v, SPEE_REASON_MALFORMED, -1, h.why);
		goto out;
	}
	/* "ingress judges packets addressed to the host"; the rest is transit */
	if (!eg && !for_host(m, &h)) {
		verdict(v, SPEE_REASON_TRANSIT, -1, "not addressed to the host");
		goto out;
	}
	/* a source route leaving: the destination judged would not be the last one */
	if (eg && h.source_route) {
		verdict(v, SPEE_REASON_SOURCE_ROUTE, -1, "leaves with a source route");
		goto out;
	}
	/* the host to itself; a packet socket's frame leaves on the wire whatever it names */
	if (eg && !tc && to_itself(m, &h)) {
		verdict(v, SPEE_REASON_LOOPBACK, -1, "to the host itself");
		goto out;
	}
	if (h.shape == SHAPE_FRAGMENT) {
		verdict(v, SPEE_REASON_FRAGMENT, -1, h.why);
		goto out;
	}
	if (h.shape == SHAPE_LATER) {
		later_fragment(m, pkt, &h, v);
		goto out;
	}
	if (eg)
		egress(m, pkt, &h, v);
	else
		ingress(m, &h, pkt->now_ns, v);
	/* later fragments follow the verdict their first fragment got */
	if (h.first_frag)
		frag_record(m, &h, v, pkt->now_ns);
out:
	v->pass = explain_reason_passes(m->pol, pkt->dir, v->reason);
}

void pktmodel_init(struct pktmodel *m, const struct policy *p, const struct name_table *t)
{
	uint32_t timeout = p->cfg ? p->cfg->udp_timeout : CONFIG_DEFAULT_UDP_TIMEOUT;

	m->pol = p;
	m->names = t;
	m->udp_timeout_ns = (uint64_t)timeout * 1000000000ULL;
	m->frag_timeout_ns = FRAG_TIMEOUT_NS;
	m->socks = NULL;
	m->n_socks = 0;
	pktmodel_reset(m);
}

void pktmodel_reset(struct pktmodel *m)
{
	m->n_flows = 0;
	m->n_frags = 0;
}

int pktmodel_add_flow(struct pktmodel *m, const struct pm_flow *f)
{
	struct pm_flow *old = (struct pm_flow *)pktmodel_find_flow(m, &f->c);

	/* one entry per connection, as in any keyed table */
	if (old) {
		*old = *f;
		return 0;
	}
	if (m->n_flows == PM_FLOWS_MAX)
		return -ENOSPC;
	m->flows[m->n_flows++] = *f;
	return 0;
}

int pktmodel_add_frag(struct pktmodel *m, const struct pm_frag *f)
{
	struct hdrs h = { .family = f->family, .proto = f->proto, .frag_id = f->id };
	struct pm_frag *old;

	memcpy(h.src, f->saddr, 16);
	memcpy(h.dst, f->daddr, 16);
	old = frag_find(m, &h);
	if (old) {
		*old = *f;
		return 0;
	}
	if (m->n_frags == PM_FRAGS_MAX)
		return -ENOSPC;
	m->frags[m->n_frags++] = *f;
	return 0;
}

void pktmodel_set_socks(struct pktmodel *m, const struct pm_sock *socks, size_t n)
{
	m->socks = socks;
	m->n_socks = n;
}
