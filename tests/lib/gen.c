// SPDX-License-Identifier: GPL-2.0-only
/* gen.c - the differential test's packet generator (see gen.h). */
#include "gen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static uint64_t next64(struct gen *g)
{
	/* splitmix64: small, fast, and the same sequence everywhere for a seed */
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint32_t gen_below(struct gen *g, uint32_t n)
{
	return (uint32_t)(next64(g) % n);
}

/* True with probability pct/100. */
static bool chance(struct gen *g, uint32_t pct)
{
	return gen_below(g, 100) < pct;
}

void gen_init(struct gen *g, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	g->rng = seed;
}

static void add_addr(struct gen *g, const struct prefix *a)
{
	struct prefix h = *a;

	h.len = (uint8_t)prefix_max_len(h.family);
	if (h.family == AF_INET && g->n_peers4 < GEN_ADDRS_MAX)
		g->peers4[g->n_peers4++] = h;
	else if (h.family == AF_INET6 && g->n_peers6 < GEN_ADDRS_MAX)
		g->peers6[g->n_peers6++] = h;
}

/* a + delta, as a big-endian number of the family's width (wrapping). */
static struct prefix addr_add(const struct prefix *a, int delta)
{
	struct prefix r = *a;
	int n = a->family == AF_INET ? 4 : 16, carry = delta;

	for (int i = n - 1; i >= 0 && carry; i--) {
		int v = r.addr[i] + carry;

		r.addr[i] = (uint8_t)(v & 0xff);
		carry = v >> 8; /* arithmetic shift: -1 borrows */
	}
	return r;
}

/* The addresses a prefix stands for at its edges, inside and just outside. */
static void add_prefix(struct gen *g, const struct prefix *p)
{
	int bits = prefix_max_len(p->family);
	struct prefix first = *p, last = *p, mid;

	if (p->len == 0) {
		/* ANY: somewhere in the test ranges, which every other peer is in too */
		struct prefix r = {.family = p->family};

		if (p->family == AF_INET) {
			r.addr[0] = 198;
			r.addr[1] = (uint8_t)(18 + gen_below(g, 2));
			r.addr[2] = (uint8_t)gen_below(g, 256);
			r.addr[3] = (uint8_t)gen_below(g, 256);
		} else {
			inet_pton(AF_INET6, "fd00:5e::", r.addr);
			r.addr[14] = (uint8_t)gen_below(g, 256);
			r.addr[15] = (uint8_t)gen_below(g, 256);
		}
		add_addr(g, &r);
		return;
	}
	for (int i = p->len; i < bits; i++)
		last.addr[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	mid = first;
	if (p->len < bits)
		mid = addr_add(&first, 1 + (int)gen_below(g, 200));
	add_addr(g, &first);
	add_addr(g, &last);
	add_addr(g, &mid);
	{
		struct prefix below = addr_add(&first, -1), above = addr_add(&last, 1);

		add_addr(g, &below);
		add_addr(g, &above);
	}
}

void gen_add_port(struct gen *g, uint16_t port)
{
	for (size_t i = 0; i < g->n_ports; i++)
		if (g->ports[i] == port)
			return;
	if (g->n_ports < GEN_PORTS_MAX)
		g->ports[g->n_ports++] = port;
}

static void add_target(struct gen *g, const struct policy_entry *e, const struct prefix *peer)
{
	struct gen_target *t;

	if (e->proto == SPEE_PROTO_LOCAL || e->proto == SPEE_PROTO_ETHERTYPE ||
	    g->n_targets == GEN_TARGETS_MAX)
		return;
	t = &g->targets[g->n_targets++];
	t->dir = e->dir;
	t->proto = e->proto;
	t->port_lo = e->port_lo;
	t->port_hi = e->port_hi;
	t->peer = *peer;
}

void gen_add_policy(struct gen *g, const struct policy *p, const struct name_table *t)
{
	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];

		if (e->peer_kind == ENTRY_PEER_PREFIX) {
			add_prefix(g, &e->prefix);
			add_target(g, e, &e->prefix);
		} else if (t) {
			const struct name_addrs *na = names_find(t, e->name);

			for (size_t k = 0; na && k < na->n_addrs; k++) {
				add_prefix(g, &na->addrs[k]);
				add_target(g, e, &na->addrs[k]);
			}
		}
		if (e->proto == SPEE_PROTO_LOCAL || e->proto == SPEE_PROTO_ETHERTYPE)
			continue;
		gen_add_port(g, e->port_lo);
		gen_add_port(g, e->port_hi);
		if (e->port_lo > 0)
			gen_add_port(g, (uint16_t)(e->port_lo - 1));
		if (e->port_hi < 65535)
			gen_add_port(g, (uint16_t)(e->port_hi + 1));
	}
}

static void add_text(struct gen *g, const char *s, bool host)
{
	struct prefix a;

	if (!addr_parse(s, &a))
		return;
	if (!host) {
		add_addr(g, &a);
	} else if (a.family == AF_INET && g->n_host4 < 8) {
		g->host4[g->n_host4++] = a;
	} else if (a.family == AF_INET6 && g->n_host6 < 8) {
		g->host6[g->n_host6++] = a;
	}
}

void gen_add_host(struct gen *g, const char *addr)
{
	add_text(g, addr, true);
}

void gen_add_peer(struct gen *g, const char *addr)
{
	add_text(g, addr, false);
}

void gen_remember(struct gen *g, const struct gen_related *r)
{
	g->related[g->next_related] = *r;
	g->next_related = (g->next_related + 1) % GEN_RELATED_MAX;
	if (g->n_related < GEN_RELATED_MAX)
		g->n_related++;
}

/* ---- building ---- */

static const char *text(const struct prefix *a, char *buf)
{
	inet_ntop(a->family, a->addr, buf, INET6_ADDRSTRLEN);
	return buf;
}

static const char *const special4[] = {"0.0.0.0", "255.255.255.255", "127.0.0.1", "224.0.0.1",
				       "198.19.255.255"};
static const char *const special6[] = {
    "::", "::1", "::ffff:198.18.9.5", "::ffff:198.18.0.10", "ff02::1", "fe80::1"};

static struct prefix pick_peer(struct gen *g, int family)
{
	struct prefix a = {};

	if (chance(g, 4)) {
		const char *s =
		    family == AF_INET ? special4[gen_below(g, 5)] : special6[gen_below(g, 6)];

		addr_parse(s, &a);
		return a;
	}
	if (family == AF_INET && g->n_peers4)
		return g->peers4[gen_below(g, (uint32_t)g->n_peers4)];
	if (family == AF_INET6 && g->n_peers6)
		return g->peers6[gen_below(g, (uint32_t)g->n_peers6)];
	addr_parse(family == AF_INET ? "198.18.4.1" : "fd00:5e::4:1", &a);
	return a;
}

static struct prefix pick_host(struct gen *g, int family)
{
	/* mostly the host's own address; sometimes anything (XDP sees all a link carries) */
	if (chance(g, 85)) {
		if (family == AF_INET && g->n_host4)
			return g->host4[gen_below(g, (uint32_t)g->n_host4)];
		if (family == AF_INET6 && g->n_host6)
			return g->host6[gen_below(g, (uint32_t)g->n_host6)];
	}
	return pick_peer(g, family);
}

static uint16_t pick_port(struct gen *g)
{
	uint32_t r = gen_below(g, 100);

	if (r < 70 && g->n_ports)
		return g->ports[gen_below(g, (uint32_t)g->n_ports)];
	if (r < 75)
		return (uint16_t)gen_below(g, 1024);
	if (r < 78)
		return r == 75 ? 0 : 65535;
	return (uint16_t)(32768 + gen_below(g, 28000));
}

static uint8_t pick_flags(struct gen *g)
{
	uint32_t r = gen_below(g, 100);

	if (r < 40)
		return PKT_SYN;
	if (r < 55)
		return PKT_ACK;
	if (r < 62)
		return PKT_SYN | PKT_ACK;
	if (r < 67)
		return PKT_ACK | PKT_FIN;
	return (uint8_t)gen_below(g, 256); /* every combination, ECE and CWR included */
}

static uint8_t pick_ext(struct gen *g)
{
	static const uint8_t ext[] = {0, 43, 60, 60, 51, 44};

	return ext[gen_below(g, sizeof(ext))];
}

/* Header boundaries of a built frame, for truncation. */
struct bounds {
	size_t l3, l4, end;
};

static size_t ext_bytes(const struct pkt_spec *s)
{
	size_t n = 0;
	bool frag = false;

	for (int i = 0; i < s->n_ext; i++) {
		n += s->ext[i] == 51 ? 12 : 8;
		frag |= s->ext[i] == 44;
	}
	if (s->frag && !frag)
		n += 8;
	return n;
}

/* An address inside a prefix: its first, its last, or one at random. */
static struct prefix inside(struct gen *g, const struct prefix *p)
{
	struct prefix a = *p;
	int bits = prefix_max_len(p->family);

	if (p->len == 0)
		return pick_peer(g, p->family);
	for (int i = p->len; i < bits; i++) {
		uint32_t pick = gen_below(g, 3);

		if (pick == 1 || (pick == 2 && gen_below(g, 2)))
			a.addr[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	}
	a.len = (uint8_t)bits;
	return a;
}

static void spec_random(struct gen *g, bool egress, struct pkt_spec *s, char *a, char *b,
			struct gen_info *info)
{
	int family = chance(g, 60) ? AF_INET : AF_INET6;
	struct prefix local, peer;
	uint32_t r = gen_below(g, 100);
	const struct gen_target *t = NULL;

	/* aimed at a policy entry of this direction a third of the time */
	if (g->n_targets && chance(g, 35)) {
		for (int tries = 0; tries < 8 && !t; tries++) {
			t = &g->targets[gen_below(g, (uint32_t)g->n_targets)];
			if (t->dir != (egress ? SPEE_DIR_EGRESS : SPEE_DIR_INGRESS))
				t = NULL;
		}
	}
	if (t)
		family = t->peer.family;
	local = pick_host(g, family);
	peer = t ? inside(g, &t->peer) : pick_peer(g, family);

	info->kind = "random";
	s->src = text(egress ? &local : &peer, a);
	s->dst = text(egress ? &peer : &local, b);
	if (r < 55)
		s->proto = IPPROTO_TCP;
	else if (r < 82)
		s->proto = IPPROTO_UDP;
	else if (r < 94)
		s->proto = family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	else
		s->proto = (uint8_t)(r < 96 ? 47 : r < 97 ? 50 : r < 98 ? 59 : gen_below(g, 256));
	s->sport = chance(g, 30) ? pick_port(g) : (uint16_t)(32768 + gen_below(g, 28000));
	s->dport = pick_port(g);
	if (t && chance(g, 85)) {
		s->proto = t->proto;
		s->dport = (uint16_t)(t->port_lo + gen_below(g, (uint32_t)(t->port_hi - t->port_lo) + 1));
	}
	s->tcp_flags = pick_flags(g);
	{
		/* the types the contract names (and echo), or any */
		static const uint8_t types[] = {3,   11,  12,  8,   0,	 1,   2,   4,  128,
						129, 133, 134, 135, 136, 137, 130, 143};

		s->icmp_type =
		    chance(g, 60) ? types[gen_below(g, sizeof(types))] : (uint8_t)gen_below(g, 256);
		/* echo requests often, so that their replies are tried */
		if (chance(g, 25))
			s->icmp_type = family == AF_INET ? 8 : 128;
	}
	/* an icmp or icmpv6 rule's port is its type */
	if (t && s->proto == t->proto && (s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6) &&
	    chance(g, 85))
		s->icmp_type = (uint8_t)t->port_lo;
	s->payload = (uint16_t)(chance(g, 50) ? 0 : gen_below(g, 200));
	if (s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6) {
		/* neighbour discovery's and MLD's hop limits, or a routable one */
		static const uint8_t ttls[] = {255, 255, 1, 64};

		s->ttl = ttls[gen_below(g, sizeof(ttls))];
		if (family == AF_INET6 && chance(g, 30)) {
			/* on the link, or just off it */
			static const char *const nd_dst[] = {"ff02::1", "ff02::1:ff00:10", "ff02::16",
							     "fe80::4:1", "fd00:5e::4:1", "fd00:5f::1"};
			const char *d = nd_dst[gen_below(g, 6)];

			if (egress)
				s->dst = d;
			else
				s->src = d;
		}
	}
	if (chance(g, 10))
		s->ip_opt_len = (uint8_t)(4 * gen_below(g, 11)); /* up to 40 bytes */
	if (family == AF_INET && chance(g, 5)) {
		/* a source route (RFC 791): loose or strict */
		s->ip_opt_len = (uint8_t)(8 + 4 * gen_below(g, 8));
		s->ip_opt_route = chance(g, 50) ? 131 : 137;
	}
	if (chance(g, 10))
		s->tcp_opt_len = (uint8_t)(4 * gen_below(g, 11));
	if (!egress && chance(g, 15)) {
		s->n_vlan = (uint8_t)(chance(g, 90) ? 1 + gen_below(g, 2) : 3);
		for (int i = 0; i < s->n_vlan; i++)
			s->vlan_tpid[i] = chance(g, 50) ? 0x8100 : 0x88a8;
	}
	if (family == AF_INET6 && chance(g, 15)) {
		s->n_ext = (uint8_t)(1 + gen_below(g, chance(g, 80) ? 4 : 10));
		for (int i = 0; i < s->n_ext; i++)
			s->ext[i] = pick_ext(g);
		/* routing headers with segments left: a destination that is not the last */
		if (chance(g, 40))
			s->rh_segments_left = (uint8_t)(1 + gen_below(g, 3));
	}
	if (!egress && g->ip_only)
		s->n_vlan = 0;
	if (chance(g, 12)) {
		uint32_t k = gen_below(g, 10);

		s->frag = true;
		s->frag_id = (uint32_t)gen_below(g, 1u << 20);
		s->ip_id = (uint16_t)s->frag_id;
		s->more_frags = k < 7;
		if (k >= 4) /* later fragments, overlapping ones among them */
			s->frag_offset = (uint16_t)(8 * (1 + gen_below(g, k >= 8 ? 4 : 30)));
		if (s->more_frags && !s->frag_offset && chance(g, 50))
			s->payload = (uint16_t)(64 + gen_below(g, 64));
		if (family == AF_INET6 && s->n_ext == 0 && chance(g, 40)) {
			/* options after the fragment header: part of the fragmentable part */
			s->ext[0] = 44;
			s->ext[1] = chance(g, 70) ? 60 : 43;
			s->n_ext = 2;
		}
	}
}

/*
 * An ICMP error about r's flow: ingress, about a packet the host sent;
 * egress, about one it received. Mostly sent to where the quoted packet came
 * from, as errors are; sometimes elsewhere.
 */
static void spec_icmp_error(struct gen *g, bool egress, const struct gen_related *r,
			    struct pkt_spec *s, struct gen_text *t, struct gen_info *info)
{
	/* the quoted packet, host side first when the host sent it */
	const struct prefix *host = r->egress ? &r->src : &r->dst;
	const struct prefix *peer = r->egress ? &r->dst : &r->src;
	uint16_t hport = r->egress ? r->sport : r->dport, pport = r->egress ? r->dport : r->sport;
	bool v6 = r->src.family == AF_INET6;
	static const uint8_t types4[] = {3, 11, 12}, types6[] = {1, 2, 3, 4};

	info->kind = "icmp-error";
	s->proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	s->icmp_type = v6 ? types6[gen_below(g, 4)] : types4[gen_below(g, 3)];
	s->icmp_code = (uint8_t)gen_below(g, 5);
	s->q_proto = r->proto;
	s->q_frag = v6 && chance(g, 20);
	if (!egress) {
		s->q_src = text(host, t->qa);
		s->q_dst = text(peer, t->qb);
		s->q_sport = hport;
		s->q_dport = pport;
		s->src = chance(g, 50) ? text(peer, t->a) : text(&g->peers4[0], t->a);
		if (v6 || !g->n_peers4)
			s->src = text(peer, t->a);
		s->dst = chance(g, 90) ? text(host, t->b) : text(peer, t->b);
	} else {
		s->q_src = text(peer, t->qa);
		s->q_dst = text(host, t->qb);
		s->q_sport = pport;
		s->q_dport = hport;
		s->src = text(host, t->a);
		s->dst = chance(g, 90) ? text(peer, t->b) : text(host, t->b);
	}
	if (chance(g, 10))
		s->q_sport++; /* a port the flow does not have */
}

/* A packet that continues or answers an earlier one. */
static bool spec_related(struct gen *g, bool egress, struct pkt_spec *s, struct gen_text *t,
			 struct gen_info *info)
{
	char *a = t->a, *b = t->b;
	struct gen_related *r;

	if (!g->n_related)
		return false;
	r = &g->related[gen_below(g, (uint32_t)g->n_related)];
	if (r->first_pending) {
		/* the first fragment of a datagram whose later fragment went ahead */
		if (r->egress != egress)
			return false;
		*s = r->pending;
		s->src = strcpy(a, r->pending_src);
		s->dst = strcpy(b, r->pending_dst);
		r->first_pending = false;
		info->kind = "first-fragment-after-a-later-one";
		return true;
	}
	if (!r->first_frag && r->proto != 0 && chance(g, 15)) {
		spec_icmp_error(g, egress, r, s, t, info);
		return true;
	}
	if (r->first_frag) {
		/* a later fragment of it, in the same direction */
		if (r->egress != egress)
			return false;
		info->kind = "later-fragment";
		s->src = text(&r->src, a);
		s->dst = text(&r->dst, b);
		s->proto = r->proto;
		s->frag = true;
		s->frag_id = r->frag_id;
		s->ip_id = (uint16_t)r->frag_id;
		s->more_frags = chance(g, 50);
		s->frag_offset = (uint16_t)(8 * (1 + gen_below(g, chance(g, 50) ? 5 : 40)));
		s->payload = (uint16_t)(8 + gen_below(g, 64));
		if (r->src.family == AF_INET6) {
			/* the same chain up to the fragment header, so the next header matches */
			memcpy(s->ext, r->ext, sizeof(s->ext));
			s->n_ext = r->n_ext;
			for (int i = 0; i < s->n_ext; i++) {
				if (s->ext[i] == 44) {
					s->n_ext = (uint8_t)(i + 1);
					break;
				}
			}
			if (r->frag_nh != r->proto && s->n_ext < PKT_EXT_MAX) {
				/* keep the first's next header after the fragment header */
				bool has = false;

				for (int i = 0; i < s->n_ext; i++)
					has |= s->ext[i] == 44;
				if (!has)
					s->ext[s->n_ext++] = 44;
				s->ext[s->n_ext++] = r->frag_nh;
			}
		}
		return true;
	}
	if (r->egress == egress) {
		/* the same flow again: more data, a FIN, a retransmission */
		info->kind = "same-flow";
		s->src = text(&r->src, a);
		s->dst = text(&r->dst, b);
		s->sport = r->sport;
		s->dport = r->dport;
	} else {
		info->kind = "reply";
		s->src = text(&r->dst, a);
		s->dst = text(&r->src, b);
		s->sport = r->dport;
		s->dport = r->sport;
	}
	s->proto = r->proto;
	if (r->echo) {
		/* an echo reply the other way, another request the same way; now and then off */
		bool v6 = r->src.family == AF_INET6, reply = r->egress != egress;

		if (chance(g, 10))
			reply = !reply;
		s->icmp_type = (uint8_t)(reply ? (v6 ? 129 : 0) : (v6 ? 128 : 8));
		s->sport = chance(g, 10) ? (uint16_t)(r->sport + 1) : r->sport;
		s->dport = (uint16_t)gen_below(g, 65536);
		s->ttl = 64;
	}
	if (s->proto == IPPROTO_TCP) {
		static const uint8_t f[] = {
		    PKT_SYN | PKT_ACK, PKT_ACK, PKT_ACK | PKT_PSH, PKT_ACK | PKT_FIN, PKT_RST,
		    PKT_SYN,	       0};

		s->tcp_flags = f[gen_below(g, sizeof(f))];
	}
	s->payload = (uint16_t)gen_below(g, 100);
	return true;
}

static void bounds_of(const struct pkt_spec *s, int len, struct bounds *bd)
{
	bool v6 = s->src && strchr(s->src, ':');

	bd->l3 = PKT_ETH_HLEN + 4u * s->n_vlan;
	bd->l4 = bd->l3 + (v6 ? 40 + ext_bytes(s) : 20u + s->ip_opt_len);
	bd->end = (size_t)len;
}

/* Rewrites part of a built frame; returns what it did. */
static const char *mutate(struct gen *g, const struct pkt_spec *s, uint8_t *buf, int *len)
{
	struct bounds bd;
	bool v6 = s->src && strchr(s->src, ':');
	size_t cut;

	bounds_of(s, *len, &bd);
	switch (gen_below(g, 10)) {
	case 0:
	case 1: {
		/* truncate at or next to a header boundary */
		static const int edge[] = {0, 4, 8, 12, 14, 20, 40};
		size_t base = gen_below(g, 3) == 0 ? bd.l3 : bd.l4;
		int d =
		    edge[gen_below(g, sizeof(edge) / sizeof(edge[0]))] + (int)gen_below(g, 3) - 1;

		cut = base + (size_t)(d < 0 ? 0 : d);
		if (cut < PKT_ETH_HLEN)
			cut = PKT_ETH_HLEN;
		if (cut < (size_t)*len)
			*len = (int)cut;
		return "truncated";
	}
	case 2:
		if (bd.l3 + 1 > (size_t)*len)
			return NULL;
		if (!v6) {
			buf[bd.l3] = (uint8_t)((buf[bd.l3] & 0xf0) | gen_below(g, 16));
			return "ihl";
		}
		buf[bd.l3] = (uint8_t)((gen_below(g, 16) << 4) | (buf[bd.l3] & 0x0f));
		return "ipv6 version";
	case 3:
		if (bd.l3 + 6 > (size_t)*len)
			return NULL;
		/* total length / payload length: small steps and wild values */
		{
			size_t at = bd.l3 + (v6 ? 4 : 2);
			int v =
			    (buf[at] << 8 | buf[at + 1]) +
			    (chance(g, 70) ? (int)gen_below(g, 41) - 20 : (int)gen_below(g, 65536));

			buf[at] = (uint8_t)(v >> 8);
			buf[at + 1] = (uint8_t)v;
		}
		return "ip length";
	case 4:
		if (s->proto != IPPROTO_TCP || bd.l4 + 13 > (size_t)*len)
			return NULL;
		buf[bd.l4 + 12] = (uint8_t)(gen_below(g, 16) << 4);
		return "tcp data offset";
	case 5:
		if (s->proto != IPPROTO_UDP || bd.l4 + 6 > (size_t)*len)
			return NULL;
		{
			int v = (buf[bd.l4 + 4] << 8 | buf[bd.l4 + 5]) + (int)gen_below(g, 21) - 10;

			buf[bd.l4 + 4] = (uint8_t)(v >> 8);
			buf[bd.l4 + 5] = (uint8_t)v;
		}
		return "udp length";
	case 6:
		if (v6 || bd.l3 + 8 > (size_t)*len)
			return NULL;
		/* IPv4 flags and fragment offset */
		buf[bd.l3 + 6] = (uint8_t)gen_below(g, 256);
		buf[bd.l3 + 7] = (uint8_t)(chance(g, 50) ? gen_below(g, 4) : gen_below(g, 256));
		return "ipv4 fragment field";
	case 7:
		/* the ethertype */
		{
			static const uint16_t et[] = {0x0800, 0x86dd, 0x8100,
						      0x88a8, 0x0806, 0x0000};
			uint16_t t = et[gen_below(g, 6)];
			size_t at = bd.l3 - 2;

			buf[at] = (uint8_t)(t >> 8);
			buf[at + 1] = (uint8_t)t;
		}
		return "ethertype";
	default: {
		/* any byte of the headers */
		size_t span = (bd.l4 + 24 < (size_t)*len ? bd.l4 + 24 : (size_t)*len) - bd.l3;

		if (!span)
			return NULL;
		buf[bd.l3 + gen_below(g, (uint32_t)span)] = (uint8_t)gen_below(g, 256);
		return "byte";
	}
	}
}

/*
 * Reorders a first fragment (s) behind one of its later fragments: s becomes
 * that later fragment, and the first is remembered, for a later packet.
 */
static void send_later_first(struct gen *g, bool egress, struct pkt_spec *s, struct gen_info *info)
{
	struct gen_related r = {.egress = egress, .first_pending = true, .pending = *s};

	snprintf(r.pending_src, sizeof(r.pending_src), "%s", s->src);
	snprintf(r.pending_dst, sizeof(r.pending_dst), "%s", s->dst);
	addr_parse(s->src, &r.src);
	addr_parse(s->dst, &r.dst);
	r.proto = s->proto;
	gen_remember(g, &r);
	info->kind = "later-fragment-ahead-of-its-first";
	s->frag_offset = (uint16_t)(8 * (1 + gen_below(g, chance(g, 70) ? 16 : 3)));
	s->more_frags = chance(g, 50);
	s->payload = (uint16_t)(8 + gen_below(g, 64));
}

int gen_next(struct gen *g, bool egress, uint8_t *buf, struct gen_info *info)
{
	struct gen_text t;
	char *a = t.a, *b = t.b;
	struct pkt_spec s = {};
	int len;

	memset(info, 0, sizeof(*info));
	info->egress = egress;
	if (chance(g, 2)) {
		info->kind = "non-ip";
		s.ethertype = chance(g, 50) ? 0x0806 : (uint16_t)gen_below(g, 65536);
		s.payload = (uint16_t)gen_below(g, 64);
	} else if (!(chance(g, 30) && spec_related(g, egress, &s, &t, info))) {
		memset(&s, 0, sizeof(s));
		spec_random(g, egress, &s, a, b, info);
		if (s.frag && !s.frag_offset && s.more_frags && chance(g, 30))
			send_later_first(g, egress, &s, info);
	}
	len = pkt_build(&s, buf, PKT_MAX);
	if (len < 0)
		return -1;
	if (egress && chance(g, 3))
		info->ifindex_lo = 1;
	if (chance(g, 22) && !(g->ip_only && !egress))
		info->mutation = mutate(g, &s, buf, &len);
	if (len < PKT_ETH_HLEN)
		len = PKT_ETH_HLEN;

	/* remember openers and first fragments, for replies and later fragments */
	if (s.src && !info->mutation && (s.proto == IPPROTO_TCP || s.proto == IPPROTO_UDP) &&
	    (!s.frag || (!s.frag_offset && s.more_frags))) {
		struct gen_related r = {
		    .egress = egress, .proto = s.proto, .sport = s.sport, .dport = s.dport};

		addr_parse(s.src, &r.src);
		addr_parse(s.dst, &r.dst);
		if (s.frag) {
			bool has = false;

			r.first_frag = true;
			r.frag_id = r.src.family == AF_INET ? s.ip_id : s.frag_id;
			memcpy(r.ext, s.ext, sizeof(r.ext));
			r.n_ext = s.n_ext;
			r.frag_nh = s.proto;
			for (int i = 0; i < s.n_ext; i++) {
				if (s.ext[i] == 44) {
					has = true;
					r.frag_nh = i + 1 < s.n_ext ? s.ext[i + 1] : s.proto;
				}
			}
			(void)has;
		}
		if (r.first_frag || (s.proto == IPPROTO_TCP && (s.tcp_flags & PKT_SYN)) ||
		    s.proto == IPPROTO_UDP)
			gen_remember(g, &r);
	}
	/* echo requests, for their replies */
	if (s.src && !info->mutation && !s.frag && s.n_ext == 0 &&
	    ((s.proto == IPPROTO_ICMP && s.icmp_type == 8) ||
	     (s.proto == IPPROTO_ICMPV6 && s.icmp_type == 128))) {
		struct gen_related r = {
		    .egress = egress, .proto = s.proto, .sport = s.sport, .echo = true};

		addr_parse(s.src, &r.src);
		addr_parse(s.dst, &r.dst);
		if (r.src.family == (s.proto == IPPROTO_ICMP ? AF_INET : AF_INET6))
			gen_remember(g, &r);
	}
	return len;
}
