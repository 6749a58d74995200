/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * decide.bpf.h - the third stage: a parsed packet (or a connect() call)
 * and the policy slot it is judged by -> a struct spee_verdict {rule,
 * reason}. Nothing here chooses pass or drop; account.bpf.h does, from the
 * verdict, the mode and the defaults.
 *
 * Cost does not grow with the policy: one array read per rule lookup, then
 * at most one hash and one trie lookup, each only when spee_ports says the
 * port has such entries (tcp, udp); other protocols, which have no port
 * table, always take the hash and the trie (spee_other_lookup).
 */
#ifndef SPEE_DECIDE_BPF_H
#define SPEE_DECIDE_BPF_H

#include "state.bpf.h"

/*
 * The loopback device has this ifindex in every network namespace. 0 turns
 * the egress shortcut for lo off (a test loads the object so, to send real
 * connections through the whole decision inside one namespace).
 */
const volatile __u32 spee_lo_ifindex = 1;

/*
 * The cookie of the network namespace whose sockets egress judges (the
 * agent's, set at load); 0: every namespace's (a test loads the object so).
 * spee_netns_skb: the kernel gives cgroup_skb programs bpf_get_netns_cookie
 * (user space probes it; README, kernel requirements). Without it only the
 * connect and sendmsg hooks tell a container's sockets from the host's: the
 * verifier never sees the call it cannot check, a branch a constant rules out.
 */
const volatile __u64 spee_netns_cookie = 0;
const volatile __u8 spee_netns_skb = 0;

#define SPEE_READ_ONCE_U32(x) (*(volatile __u32 *)&(x))

/*
 * One packet's view of the policy: the slot, read once, and its settings,
 * read where needed (a copy cost every packet ~1-2 ns for the two or three
 * fields it reads). User space writes a slot's settings only while the
 * slot is inactive, so they do not change under a packet.
 */
struct spee_run {
	__u32 slot;
	const struct spee_slot_cfg *cfg;
};

static __always_inline int spee_run_load(struct spee_run *run)
{
	__u32 zero = 0;
	struct spee_runtime *rt = bpf_map_lookup_elem(&spee_rt, &zero);

	if (!rt)
		return -1;
	/*
	 * One read of active, so that every lookup of this packet uses the
	 * same slot even if user space flips it meanwhile.
	 */
	run->slot = SPEE_READ_ONCE_U32(rt->active) & 1;
	run->cfg = &rt->slot[run->slot];
	return 0;
}

static __always_inline struct spee_verdict spee_verdict_of(__u8 reason)
{
	struct spee_verdict v = { .rule = SPEE_RULE_NONE, .reason = reason };

	return v;
}

static __always_inline bool spee_is_no_rule(struct spee_verdict v)
{
	return v.reason == SPEE_REASON_NO_RULE;
}

/* Would this verdict let the packet through in enforce mode? */
static __always_inline bool spee_allows(const struct spee_run *run, __u32 dir,
					struct spee_verdict v)
{
	if (!spee_reason_is_drop(v.reason))
		return true;
	return v.reason == SPEE_REASON_NO_RULE &&
	       run->cfg->default_action[dir & 1] == SPEE_ACTION_PASS;
}

/*
 * The rule for a new connection or datagram to `port` with remote address
 * `addr`: the exact address first (the most specific match there is), then
 * the longest prefix, then the port's /0 rule (flagged SPEE_VERDICT_ANY).
 */
static __always_inline struct spee_verdict spee_rule_lookup(const struct spee_run *run, __u32 dir,
							    __u32 l4, __be16 port, __u8 family,
							    const __u8 *addr)
{
	struct spee_verdict v = spee_verdict_of(SPEE_REASON_NO_RULE);
	__u32 idx = spee_port_index(run->slot, dir, l4, bpf_ntohs(port));
	struct spee_port_info *pi;
	struct spee_verdict *hit;
	__u32 fam = family & 1;
	__u8 bits;

	pi = bpf_map_lookup_elem(&spee_ports, &idx);
	if (!pi)
		return v;
	bits = pi->lookup[fam];
	if (bits & SPEE_LOOKUP_EXACT) {
		struct spee_rule_key k = {
			.slot = run->slot,
			.dir = dir,
			.proto = l4 == SPEE_L4_TCP ? SPEE_IPPROTO_TCP : SPEE_IPPROTO_UDP,
			.family = fam,
			.port = port,
		};

		__builtin_memcpy(k.addr, addr, 16);
		hit = bpf_map_lookup_elem(&spee_exact, &k);
		if (hit)
			return *hit;
	}
	if (bits & SPEE_LOOKUP_PREFIX) {
		struct spee_prefix_key k = {
			.prefixlen = SPEE_PREFIX_FIXED_BITS + (fam == SPEE_FAMILY_V4 ? 32 : 128),
			.slot = run->slot,
			.dir = dir,
			.proto = l4 == SPEE_L4_TCP ? SPEE_IPPROTO_TCP : SPEE_IPPROTO_UDP,
			.family = fam,
			.port = port,
		};

		__builtin_memcpy(k.addr, addr, 16);
		hit = bpf_map_lookup_elem(&spee_prefix, &k);
		if (hit)
			return *hit;
	}
	if (pi->any_rule[fam] != SPEE_RULE_NONE) {
		v.rule = pi->any_rule[fam];
		v.reason = SPEE_REASON_RULE;
		v.flags = SPEE_VERDICT_ANY;
	}
	return v;
}

/*
 * The rule for a packet that is neither TCP nor UDP: ICMP and ICMPv6 by
 * message type, any other IP protocol by number (port 0). They have no
 * spee_ports elements (a third class there would cost 2 MiB for a handful
 * of rules): the exact address in spee_exact, then the longest prefix in
 * spee_prefix, where ANY is a /0 entry; only their packets pay for the two
 * lookups. Protocols 0 and 255 key the host's own addresses and the
 * ethertypes, and no rule can name them (config refuses both).
 */
static __always_inline struct spee_verdict spee_other_lookup(const struct spee_run *run, __u32 dir,
							     __u8 proto, __u8 type, __u8 family,
							     const __u8 *addr)
{
	__u32 fam = family & 1;
	/* spee_prefix_key is a prefix length, then a spee_rule_key (src/kernel/maps_image.c) */
	struct spee_prefix_key k = {
		.prefixlen = SPEE_PREFIX_FIXED_BITS + (fam == SPEE_FAMILY_V4 ? 32 : 128),
		.slot = run->slot,
		.dir = dir,
		.proto = proto,
		.family = fam,
		.port = bpf_htons(type),
	};
	struct spee_verdict *hit;

	if (proto == SPEE_PROTO_LOCAL || proto == SPEE_PROTO_ETHERTYPE)
		return spee_verdict_of(SPEE_REASON_NO_RULE);
	__builtin_memcpy(k.addr, addr, 16);
	hit = bpf_map_lookup_elem(&spee_exact, &k.slot);
	if (hit)
		return *hit;
	hit = bpf_map_lookup_elem(&spee_prefix, &k);
	if (hit)
		return *hit;
	return spee_verdict_of(SPEE_REASON_NO_RULE);
}

/* 127.0.0.0/8, ::1, or (connect6) their IPv4-mapped forms and the unspecified address. */
static __always_inline bool spee_is_loopback(__u8 family, const __u8 *a)
{
	if (family == SPEE_FAMILY_V4)
		return a[0] == 127;
	for (int i = 0; i < 15; i++)
		if (a[i])
			return false;
	return a[15] == 1;
}

/*
 * Whether a is one of the host's addresses of the slot's set for dir
 * (spee_local): 1 yes, 0 no, -1 the set cannot say (spee_exact can).
 */
static __always_inline int spee_local_set_has(const struct spee_run *run, __u32 dir, __u8 family,
					      const __u8 *a)
{
	__u32 idx = spee_local_index(run->slot, dir);
	struct spee_local_set *s = bpf_map_lookup_elem(&spee_local, &idx);

	if (!s || !s->known)
		return -1;
	if (family == SPEE_FAMILY_V4) {
		__u32 w, n = s->n_v4;

		__builtin_memcpy(&w, a, 4);
		for (__u32 i = 0; i < SPEE_LOCAL_V4; i++) {
			if (i >= n)
				break;
			if (s->v4[i] == w)
				return 1;
		}
	} else {
		__u64 w[2];
		__u32 n = s->n_v6;

		__builtin_memcpy(w, a, 16);
		for (__u32 i = 0; i < SPEE_LOCAL_V6; i++) {
			if (i >= n)
				break;
			if (s->v6[i][0] == w[0] && s->v6[i][1] == w[1])
				return 1;
		}
	}
	return s->spill ? -1 : 0;
}

/* One of the host's own addresses (the policy's LOOPBACK entries). */
static __always_inline bool spee_is_local(const struct spee_run *run, __u8 family, const __u8 *a)
{
	struct spee_rule_key k = {
		.slot = run->slot,
		.dir = SPEE_DIR_EGRESS,
		.proto = SPEE_PROTO_LOCAL,
		.family = family & 1,
	};
	struct spee_verdict *hit;
	int known = spee_local_set_has(run, SPEE_DIR_EGRESS, family, a);

	if (known >= 0)
		return known;
	__builtin_memcpy(k.addr, a, 16);
	hit = bpf_map_lookup_elem(&spee_exact, &k);
	return hit && hit->reason == SPEE_REASON_LOOPBACK;
}

/*
 * Addressed to the host: one of its addresses (the policy's ingress local
 * entries, and 127/8, ::1), or broadcast or multicast. Every packet is, in a slot written
 * without the scope (an older build's).
 */
static __always_inline bool spee_for_host(const struct spee_run *run, __u8 family, const __u8 *a)
{
	int known;

	if (run->cfg->scope != SPEE_SCOPE_HOST)
		return true;
	/* The host's own addresses first: nearly every packet is for one of them. */
	known = spee_local_set_has(run, SPEE_DIR_INGRESS, family, a);
	if (known > 0 || spee_is_loopback(family, a))
		return true;
	if (family == SPEE_FAMILY_V4) {
		if ((a[0] & 0xf0) == 0xe0) /* 224.0.0.0/4 */
			return true;
		if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255)
			return true;
	} else if (a[0] == 0xff) {
		return true;
	}
	if (known == 0)
		return false;
	{
		struct spee_rule_key k = {
			.slot = run->slot,
			.dir = SPEE_DIR_INGRESS,
			.proto = SPEE_PROTO_LOCAL,
			.family = family & 1,
		};

		__builtin_memcpy(k.addr, a, 16);
		return bpf_map_lookup_elem(&spee_exact, &k) != NULL;
	}
}

/*
 * The one ICMP classifier: what an ICMP or ICMPv6 message is to the policy.
 * Errors (path-MTU messages among them) quote the packet they are about;
 * neighbour discovery and MLD keep the link working; the rest (echo...)
 * rules decide, by type.
 */
enum spee_icmp_class {
	SPEE_ICMP_OTHER,
	SPEE_ICMP_ERROR, /* v4: unreachable, time exceeded, parameter problem; v6: 1-4 */
	SPEE_ICMP_ND, /* v6: router/neighbour solicitation and advertisement, redirect */
	SPEE_ICMP_MLD, /* v6: MLD queries, reports and done */
};

static __always_inline int spee_icmp_class(const struct spee_pkt *p)
{
	__u8 t = p->icmp_type;

	if (p->family == SPEE_FAMILY_V4)
		return t == 3 || t == 11 || t == 12 ? SPEE_ICMP_ERROR : SPEE_ICMP_OTHER;
	if (t >= 1 && t <= 4)
		return SPEE_ICMP_ERROR;
	if (t >= 133 && t <= 137)
		return SPEE_ICMP_ND;
	if ((t >= 130 && t <= 132) || t == 143)
		return SPEE_ICMP_MLD;
	return SPEE_ICMP_OTHER;
}

/* The packet an ICMP error quotes, as far as it names a flow. */
struct spee_inner {
	__u8 family;
	__u8 proto;
	__be16 sport; /* an echo request: its identifier, in both */
	__be16 dport;
	__u16 echo; /* 1: the quoted packet is an echo request */
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline int spee_load(void *ctx, bool xdp, __u32 off, void *to, __u32 len)
{
	if (xdp)
		return bpf_xdp_load_bytes(ctx, off, to, len);
	return bpf_skb_load_bytes(ctx, off, to, len);
}

/*
 * The header an ICMP error quotes (RFC 792; RFC 4443 2.4), from off: the
 * IP header of the packet it is about and the first bytes after it, read
 * through the load helpers (offsets the verifier need not bound). A TCP or
 * UDP packet, whole or a first fragment, names a flow by its ports, an
 * echo request of the quote's own family an echo exchange by its
 * identifier (a ping to an unreachable address, traceroute's ICMP probes);
 * in IPv6 a fragment header may stand before them.
 */
static __always_inline bool spee_inner(void *ctx, bool xdp, __u32 off, __u8 family,
				       struct spee_inner *in)
{
	__u8 h[40];
	__be16 ports[2];
	__u32 l4;

	if (family == SPEE_FAMILY_V4) {
		if (spee_load(ctx, xdp, off, h, 20) || h[0] >> 4 != 4 || (h[0] & 15) < 5 ||
		    (h[6] & 0x1f) || h[7])
			return false;
		in->proto = h[9];
		__builtin_memcpy(in->saddr, &h[12], 4);
		__builtin_memcpy(in->daddr, &h[16], 4);
		l4 = (__u32)(h[0] & 15) * 4;
	} else {
		if (spee_load(ctx, xdp, off, h, 40) || h[0] >> 4 != 6)
			return false;
		in->proto = h[6];
		__builtin_memcpy(in->saddr, &h[8], 16);
		__builtin_memcpy(in->daddr, &h[24], 16);
		l4 = 40;
		if (in->proto == SPEE_NEXTHDR_FRAGMENT) {
			if (spee_load(ctx, xdp, off + 40, h, 8) || (h[2] << 8 | h[3]) & 0xfff8)
				return false;
			in->proto = h[0];
			l4 = 48;
		}
	}
	if (spee_is_icmp(family, in->proto)) {
		/* type, code, checksum, identifier: into h, read already */
		if (spee_load(ctx, xdp, off + l4, h, 6) || !spee_icmp_echo_request(family, h[0]))
			return false;
		in->family = family;
		__builtin_memcpy(&in->sport, &h[4], 2);
		in->dport = in->sport;
		in->echo = 1;
		return true;
	}
	if (in->proto != SPEE_IPPROTO_TCP && in->proto != SPEE_IPPROTO_UDP)
		return false;
	if (spee_load(ctx, xdp, off + l4, ports, sizeof(ports)))
		return false;
	in->family = family;
	in->sport = ports[0];
	in->dport = ports[1];
	return true;
}

static __always_inline bool spee_addr_eq(const __u8 *a, const __u8 *b)
{
	for (int i = 0; i < 16; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/*
 * Does an ICMP error concern a flow of the host? It goes where the packet
 * it quotes came from (outer destination = inner source), and that packet
 * belongs to a flow the host holds: one it received (host_sent false: the
 * host answers it with the error, egress) or sent (host_sent true: the
 * error comes back about it, ingress). A flow is an entry of the flow
 * table (a UDP one or an echo exchange within udp-timeout), or for TCP a
 * connection in the kernel's socket table; a listener alone proves no
 * packet, so it does not count. Anything else would let a raw socket
 * carry data in the "quoted packet" to an address no rule allows.
 */
static __always_inline bool spee_icmp_relates(void *ctx, const struct spee_run *run,
					      const struct spee_pkt *p,
					      const struct spee_inner *in, bool host_sent)
{
	const __u8 *laddr = host_sent ? in->saddr : in->daddr;
	const __u8 *raddr = host_sent ? in->daddr : in->saddr;
	__be16 lport = host_sent ? in->sport : in->dport;
	__be16 rport = host_sent ? in->dport : in->sport;
	struct spee_flow_key k = {};
	struct spee_flow_state *st;
	int state;

	if (in->family != p->family || !spee_addr_eq(p->daddr, in->saddr))
		return false;
	k.family = in->family;
	k.proto = in->proto;
	k.lport = lport;
	k.rport = rport;
	if (in->echo)
		k.echo = host_sent ? SPEE_ECHO_HOST_ASKED : SPEE_ECHO_PEER_ASKED;
	__builtin_memcpy(k.laddr, laddr, 16);
	__builtin_memcpy(k.raddr, raddr, 16);
	st = bpf_map_lookup_elem(&spee_flows, &k);
	if (st && (in->proto == SPEE_IPPROTO_TCP ||
		   spee_flow_fresh(st, bpf_ktime_get_ns(), run->cfg->udp_timeout_ns)))
		return true;
	if (in->proto != SPEE_IPPROTO_TCP)
		return false;
	state = spee_sock_state_of(ctx, in->family, raddr, laddr, rport, lport);
	return state != SPEE_SOCK_NONE && state != BPF_TCP_LISTEN;
}

/*
 * Neighbour discovery and MLD stay on the link: ND with hop limit 255 and
 * MLD with 1, as Linux sends them (RFC 4861 7.1, RFC 3810 5), to a
 * multicast group (solicited-node, all-nodes, all-routers, a reported
 * group), a link-local address, or an address in the /64 of the source:
 * the neighbour a unicast NA answers and NUD probes (Linux answers an NS
 * from a global or ULA source at that address, and its neighbours share
 * the prefix). Anywhere else a raw ICMPv6 socket could carry data to an
 * address no rule allows.
 */
static __always_inline bool spee_nd_on_link(const struct spee_pkt *p, int cls)
{
	if (p->hop_limit != (cls == SPEE_ICMP_ND ? 255 : 1))
		return false;
	if (p->daddr[0] == 0xff || (p->daddr[0] == 0xfe && (p->daddr[1] & 0xc0) == 0x80))
		return true;
	for (int i = 0; i < 8; i++)
		if (p->daddr[i] != p->saddr[i])
			return false;
	return true;
}

/*
 * The flow of an echo exchange, from the host's side: asker is the side
 * that sent the request (SPEE_ECHO_*).
 */
static __always_inline struct spee_flow_state *spee_echo_find(const struct spee_pkt *p,
							      bool egress, __u16 asker)
{
	struct spee_flow_key k;

	spee_flow_key(p, egress, &k);
	k.echo = asker;
	return bpf_map_lookup_elem(&spee_flows, &k);
}

/* Records (or refreshes, as spee_flow_touch) an echo request's flow. */
static __always_inline void spee_echo_touch(const struct spee_pkt *p, bool egress, __u16 asker,
					    __u64 now)
{
	struct spee_flow_state st = { .last_seen_ns = now, .reason = SPEE_REASON_ICMP_REPLY };
	struct spee_flow_state *cur = spee_echo_find(p, egress, asker);
	struct spee_flow_key k;

	if (cur) {
		*(volatile __u64 *)&cur->last_seen_ns = now;
		return;
	}
	spee_flow_key(p, egress, &k);
	k.echo = asker;
	bpf_map_update_elem(&spee_flows, &k, &st, BPF_ANY);
}

/*
 * What rules decide: ICMP messages other than errors and neighbour
 * discovery by their type, other protocols (`proto: ip`) by number. An
 * echo request a rule lets in, or one the host may send, opens an echo
 * flow (as a UDP datagram does: in, only by a rule; out, whatever lets it
 * out); an echo reply no rule names passes as icmp-reply within
 * udp-timeout of its request, and only in the other direction.
 */
static __always_inline struct spee_verdict spee_decide_other(const struct spee_run *run,
							     const struct spee_pkt *p, __u32 dir)
{
	bool egress = dir == SPEE_DIR_EGRESS;
	bool icmp = spee_is_icmp(p->family, p->proto);
	struct spee_flow_state *st;
	struct spee_verdict v;

	v = spee_other_lookup(run, dir, p->proto, icmp ? p->icmp_type : 0, p->family,
			      egress ? p->daddr : p->saddr);
	if (!icmp)
		return v;
	if (spee_icmp_echo_request(p->family, p->icmp_type)) {
		if (spee_allows(run, dir, v) && (egress || !spee_is_no_rule(v)))
			spee_echo_touch(p, egress, egress ? SPEE_ECHO_HOST_ASKED : SPEE_ECHO_PEER_ASKED,
					bpf_ktime_get_ns());
		return v;
	}
	if (!spee_is_no_rule(v) || !spee_icmp_echo_reply(p->family, p->icmp_type))
		return v;
	st = spee_echo_find(p, egress, egress ? SPEE_ECHO_PEER_ASKED : SPEE_ECHO_HOST_ASKED);
	if (st && spee_flow_fresh(st, bpf_ktime_get_ns(), run->cfg->udp_timeout_ns))
		return spee_verdict_of(SPEE_REASON_ICMP_REPLY);
	return v;
}

/*
 * ICMP in either direction: errors that concern a flow of the host,
 * (ingress: any; egress: on the link) neighbour discovery and MLD, and
 * the rest by rules and echo state (spee_decide_other).
 * xdp: the packet is an XDP buffer (ingress), else an skb.
 */
static __always_inline struct spee_verdict spee_decide_icmp(void *ctx, bool xdp,
							    const struct spee_run *run,
							    const struct spee_pkt *p, __u32 dir)
{
	int cls = spee_icmp_class(p);

	if (cls == SPEE_ICMP_ERROR) {
		struct spee_inner in = {};

		if (spee_inner(ctx, xdp, (__u32)p->l4_off + 8, p->family, &in) &&
		    spee_icmp_relates(ctx, run, p, &in, dir == SPEE_DIR_INGRESS))
			return spee_verdict_of(SPEE_REASON_ICMP);
		return spee_verdict_of(SPEE_REASON_NO_RULE);
	}
	if (cls == SPEE_ICMP_ND || cls == SPEE_ICMP_MLD) {
		if (dir == SPEE_DIR_INGRESS || spee_nd_on_link(p, cls))
			return spee_verdict_of(SPEE_REASON_ND);
		return spee_verdict_of(SPEE_REASON_NO_RULE);
	}
	return spee_decide_other(run, p, dir);
}

/*
 * A frame that is not IP: ARP always passes (no host works without it),
 * the ethertypes the config lists (spee_exact, proto SPEE_PROTO_ETHERTYPE)
 * too; everything else is dropped as ethertype. Looked up only here, so
 * IP pays nothing for it.
 */
static __always_inline struct spee_verdict spee_decide_non_ip(const struct spee_run *run,
							      __u32 dir, __u16 ethertype)
{
	struct spee_rule_key k = {
		.slot = run->slot,
		.dir = dir,
		.proto = SPEE_PROTO_ETHERTYPE,
		.port = bpf_htons((__u16)spee_ethertype_key(ethertype)),
	};

	if (ethertype == SPEE_ETH_P_ARP || bpf_map_lookup_elem(&spee_exact, &k))
		return spee_verdict_of(SPEE_REASON_NON_IP);
	k.port = bpf_htons(SPEE_ETHERTYPE_ANY);
	if (bpf_map_lookup_elem(&spee_exact, &k))
		return spee_verdict_of(SPEE_REASON_NON_IP);
	return spee_verdict_of(SPEE_REASON_ETHERTYPE);
}

static __always_inline bool spee_syn_only(const struct spee_pkt *p)
{
	return (p->tcp_flags & (SPEE_TCP_SYN | SPEE_TCP_ACK)) == SPEE_TCP_SYN;
}

static __always_inline bool spee_bad_flags(const struct spee_pkt *p)
{
	return (p->tcp_flags & SPEE_TCP_SYN) && (p->tcp_flags & (SPEE_TCP_FIN | SPEE_TCP_RST));
}

/* The ACK that completes a handshake: an ACK alone (a reset or FIN ends one instead). */
static __always_inline bool spee_handshake_ack(const struct spee_pkt *p)
{
	return (p->tcp_flags & (SPEE_TCP_SYN | SPEE_TCP_FIN | SPEE_TCP_RST | SPEE_TCP_ACK)) ==
	       SPEE_TCP_ACK;
}

/*
 * What suggest learns of a connection into the host, noted once its
 * handshake completes rather than at its SYN: a SYN's source address can
 * be forged, so a flood of spoofed SYNs through an ANY rule (or, in audit
 * mode, to a port no rule allows) would make every packet an LRU insert
 * and push out what the tables learned. The handshake's ACK comes from a
 * peer that received the SYN-ACK at the address it claims. v: what the
 * policy says of the connection's SYN now; an ANY rule notes the address,
 * no rule (audit mode: the SYN went through) a would-drop.
 */
static __always_inline void spee_note_handshake(const struct spee_run *run,
						const struct spee_pkt *p, struct spee_verdict v)
{
	if (v.flags & SPEE_VERDICT_ANY)
		spee_note_any(v.rule, SPEE_DIR_INGRESS, p->family, p->saddr);
	else if (spee_is_no_rule(v) && run->cfg->mode == SPEE_MODE_AUDIT)
		spee_note_would_drop(SPEE_DIR_INGRESS, p->family, SPEE_IPPROTO_TCP, p->dport,
				     p->saddr);
}

/*
 * A TCP packet that does not open a connection, arriving: it belongs to a
 * connection the host holds, or to nobody.
 */
static __always_inline struct spee_verdict spee_ingress_tcp_other(void *ctx,
								  const struct spee_run *run,
								  const struct spee_pkt *p)
{
	struct spee_flow_state *st;
	struct spee_verdict v;
	int state;

	/* The fast path: a flow the egress program or an earlier packet recorded. */
	st = spee_flow_find(p, false);
	if (st) {
		if (!st->handshake || !spee_handshake_ack(p))
			return spee_verdict_of(SPEE_REASON_ESTABLISHED);
		/*
		 * The first ACK of a connection whose SYN-ACK made the flow: it
		 * completes the handshake. Two CPUs racing here note it twice,
		 * which a tally can bear.
		 */
		st->handshake = 0;
		state = BPF_TCP_NEW_SYN_RECV;
	} else {
		state = spee_sock_state(ctx, p, false);
		if (state == SPEE_SOCK_NONE)
			return spee_verdict_of(SPEE_REASON_NO_RULE);
		if (state == BPF_TCP_ESTABLISHED) {
			/*
			 * Only established connections are cached: a closing one
			 * would otherwise come back after the egress FIN removed it.
			 */
			spee_flow_put(p, false, SPEE_REASON_ESTABLISHED, bpf_ktime_get_ns());
			return spee_verdict_of(SPEE_REASON_ESTABLISHED);
		}
		if (state != BPF_TCP_LISTEN && state != BPF_TCP_NEW_SYN_RECV)
			return spee_verdict_of(SPEE_REASON_ESTABLISHED);
	}
	/*
	 * A half-open connection (the kernel's, or the flow its SYN-ACK made):
	 * the handshake's ACK notes it for suggest. A listener: a SYN-cookie
	 * handshake completing (not noted: it has no half-open connection to
	 * vouch for it), or a spoofed packet; it may pass only where the SYN
	 * itself could have.
	 */
	v = spee_rule_lookup(run, SPEE_DIR_INGRESS, SPEE_L4_TCP, p->dport, p->family, p->saddr);
	if (state == BPF_TCP_NEW_SYN_RECV) {
		if (spee_handshake_ack(p))
			spee_note_handshake(run, p, v);
		return spee_verdict_of(SPEE_REASON_ESTABLISHED);
	}
	if (spee_is_no_rule(v))
		return v;
	return spee_verdict_of(SPEE_REASON_ESTABLISHED);
}

static __always_inline struct spee_verdict spee_ingress_udp(const struct spee_run *run,
							    const struct spee_pkt *p)
{
	struct spee_verdict v;
	struct spee_flow_state *st;

	v = spee_rule_lookup(run, SPEE_DIR_INGRESS, SPEE_L4_UDP, p->dport, p->family, p->saddr);
	if (!spee_is_no_rule(v)) {
		/* A datagram the policy lets in: the host's answers to it are replies. */
		if (spee_allows(run, SPEE_DIR_INGRESS, v) &&
		    spee_flow_touch(p, false, SPEE_REASON_UDP_REPLY, bpf_ktime_get_ns()) &&
		    (v.flags & SPEE_VERDICT_ANY))
			spee_note_any(v.rule, SPEE_DIR_INGRESS, p->family, p->saddr);
		return v;
	}
	st = spee_flow_find(p, false);
	if (st && spee_flow_fresh(st, bpf_ktime_get_ns(), run->cfg->udp_timeout_ns))
		return spee_verdict_of(st->reason);
	return v;
}

/* Ingress (XDP) verdict of a packet the parser accepted. */
static __always_inline struct spee_verdict spee_decide_ingress(struct xdp_md *ctx,
							       const struct spee_run *run,
							       const struct spee_pkt *p)
{
	if (p->proto == SPEE_IPPROTO_TCP) {
		if (spee_bad_flags(p))
			return spee_verdict_of(SPEE_REASON_MALFORMED);
		if (spee_syn_only(p)) {
			/* noted for suggest at its handshake's ACK, not here: spee_note_handshake */
			return spee_rule_lookup(run, SPEE_DIR_INGRESS, SPEE_L4_TCP, p->dport,
						p->family, p->saddr);
		}
		return spee_ingress_tcp_other(ctx, run, p);
	}
	if (p->proto == SPEE_IPPROTO_UDP)
		return spee_ingress_udp(run, p);
	if (spee_is_icmp(p->family, p->proto))
		return spee_decide_icmp(ctx, true, run, p, SPEE_DIR_INGRESS);
	return spee_decide_other(run, p, SPEE_DIR_INGRESS);
}

/*
 * Whether the kernel's own TCP stack sent this TCP packet: a full TCP
 * stream socket's. A raw socket's (or no socket's: request and time-wait
 * sockets, which send SYN-ACKs, RSTs and ACKs, are not full sockets; nor
 * is BPF_PROG_TEST_RUN's stand-in, a socket of no protocol) is judged by
 * the connection it names.
 */
static __always_inline bool spee_kernel_tcp(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return false;
	sk = bpf_sk_fullsock(sk);
	return sk && sk->protocol == SPEE_IPPROTO_TCP && sk->type == SPEE_SOCK_STREAM;
}

/*
 * A segment in the middle of a connection of the kernel's TCP stack: no
 * SYN, FIN or RST, IPv4 without options or IPv6 without extension headers,
 * not a fragment. spee_judge's verdict for it is ESTABLISHED (the socket's
 * packets are its connection's, and none of its checks can apply: no
 * source route, no flow to open or end), so it is given without parsing.
 * Most of what a host sends is such segments; everything else (and a
 * layout this cannot read directly) goes the whole way.
 */
static __always_inline bool spee_mid_connection(struct __sk_buff *skb)
{
	__u8 *data = (__u8 *)(long)SPEE_CTX(skb->data);
	__u8 *end = (__u8 *)(long)SPEE_CTX(skb->data_end);
	__u8 flags;

	if (!spee_kernel_tcp(skb))
		return false;
	if (data + sizeof(struct iphdr) + sizeof(struct tcphdr) > end)
		return false;
	if (data[0] == 0x45) { /* IPv4, no options */
		struct iphdr *ip = (void *)data;

		if (ip->protocol != SPEE_IPPROTO_TCP || (ip->frag_off & bpf_htons(0x3fff)))
			return false;
		flags = data[sizeof(struct iphdr) + 13];
	} else if ((data[0] >> 4) == 6) {
		struct ipv6hdr *ip6 = (void *)data;

		if (data + sizeof(struct ipv6hdr) + sizeof(struct tcphdr) > end ||
		    ip6->nexthdr != SPEE_IPPROTO_TCP)
			return false;
		flags = data[sizeof(struct ipv6hdr) + 13];
	} else {
		return false;
	}
	return !(flags & (SPEE_TCP_SYN | SPEE_TCP_FIN | SPEE_TCP_RST));
}

/* A TCP packet leaving that is not a SYN: is it part of a connection the kernel holds? */
static __always_inline struct spee_verdict spee_egress_tcp_other(struct __sk_buff *skb,
								 const struct spee_pkt *p)
{
	int state;

	/* A TCP socket of the kernel's: its packets are its connection's. */
	if (spee_kernel_tcp(skb))
		return spee_verdict_of(SPEE_REASON_ESTABLISHED);
	/*
	 * Raw sockets (and request sockets sending SYN-ACKs, which are not
	 * full sockets) are judged by the connection their packet names.
	 */
	if (spee_flow_find(p, true))
		return spee_verdict_of(SPEE_REASON_ESTABLISHED);
	state = spee_sock_state(skb, p, true);
	if (state != SPEE_SOCK_NONE && state != BPF_TCP_LISTEN)
		return spee_verdict_of(SPEE_REASON_ESTABLISHED);
	return spee_verdict_of(SPEE_REASON_NO_RULE);
}

static __always_inline struct spee_verdict spee_egress_tcp(struct __sk_buff *skb,
							   const struct spee_run *run,
							   const struct spee_pkt *p)
{
	struct spee_verdict v;

	if (spee_bad_flags(p))
		return spee_verdict_of(SPEE_REASON_MALFORMED);
	if (spee_syn_only(p)) {
		v = spee_rule_lookup(run, SPEE_DIR_EGRESS, SPEE_L4_TCP, p->dport, p->family,
				     p->daddr);
		/*
		 * A raw socket's SYN makes a flow, so that XDP knows its replies;
		 * a connection of the kernel's needs none: XDP finds its socket
		 * (and caches the connection once established). An LRU insert is
		 * most of what an allowed SYN would cost here.
		 */
		if (spee_allows(run, SPEE_DIR_EGRESS, v) && !spee_kernel_tcp(skb))
			spee_flow_put(p, true, SPEE_REASON_ESTABLISHED, bpf_ktime_get_ns());
		if (v.flags & SPEE_VERDICT_ANY)
			spee_note_any(v.rule, SPEE_DIR_EGRESS, p->family, p->daddr);
		return v;
	}
	v = spee_egress_tcp_other(skb, p);
	if (v.reason == SPEE_REASON_ESTABLISHED) {
		if (p->tcp_flags & (SPEE_TCP_FIN | SPEE_TCP_RST))
			spee_flow_del(p, true); /* the socket lookup covers the teardown */
		else if (p->tcp_flags & SPEE_TCP_SYN)
			/* a SYN-ACK: an accepted inbound connection */
			spee_flow_put_half_open(p, bpf_ktime_get_ns());
	}
	return v;
}

static __always_inline struct spee_verdict spee_egress_udp(const struct spee_run *run,
							   const struct spee_pkt *p)
{
	struct spee_verdict v;

	v = spee_rule_lookup(run, SPEE_DIR_EGRESS, SPEE_L4_UDP, p->dport, p->family, p->daddr);
	if (spee_is_no_rule(v)) {
		/*
		 * An answer to a datagram the peer sent recently and the policy let
		 * in (real state: that the peer may send to this port is not enough).
		 */
		struct spee_flow_state *st = spee_flow_find(p, true);

		if (st && spee_flow_fresh(st, bpf_ktime_get_ns(), run->cfg->udp_timeout_ns))
			return spee_verdict_of(SPEE_REASON_UDP_REPLY);
	}
	if (spee_allows(run, SPEE_DIR_EGRESS, v) &&
	    spee_flow_touch(p, true,
			    v.reason == SPEE_REASON_DNS ? SPEE_REASON_DNS : SPEE_REASON_UDP_REPLY,
			    bpf_ktime_get_ns()) &&
	    (v.flags & SPEE_VERDICT_ANY))
		spee_note_any(v.rule, SPEE_DIR_EGRESS, p->family, p->daddr);
	return v;
}

/* Egress (cgroup_skb, tc) verdict of a packet the parser accepted, not to the host itself. */
static __always_inline struct spee_verdict spee_decide_egress(struct __sk_buff *skb,
							      const struct spee_run *run,
							      const struct spee_pkt *p)
{
	if (p->proto == SPEE_IPPROTO_TCP)
		return spee_egress_tcp(skb, run, p);
	if (p->proto == SPEE_IPPROTO_UDP)
		return spee_egress_udp(run, p);
	if (spee_is_icmp(p->family, p->proto))
		return spee_decide_icmp(skb, false, run, p, SPEE_DIR_EGRESS);
	return spee_decide_other(run, p, SPEE_DIR_EGRESS);
}

/*
 * A later fragment: its first fragment's verdict while that is fresh, and
 * *follows when that let it through (the datagram is counted already).
 * Before its first has come (ECMP and LAG reorder), on ingress to one of
 * the host's addresses it goes on to the kernel's reassembly, counted as
 * reassembly: the datagram cannot complete there without its first, which
 * is judged when it comes, and the kernel discards fragments that overlap
 * (RFC 5722; IPv4 too since Linux 4.19), so no data gets past the policy
 * while the fragment gets the chance it would get without us. Egress (the
 * host's stack sends fragments in order; a raw socket's stray ones would
 * carry data out) and packets for other addresses (forwarded, not
 * reassembled) drop it. A gateway has no reassembly behind it: there an
 * unknown later fragment needs an answer of its own, to be given here.
 */
static __always_inline struct spee_verdict spee_decide_later(const struct spee_run *run, __u32 dir,
							     const struct spee_pkt *p,
							     bool *follows)
{
	struct spee_verdict v;
	bool known;

	*follows = false;
	v = spee_frag_get(p, &known);
	if (known) {
		if (v.reason != SPEE_REASON_FRAGMENT && spee_allows(run, dir, v)) {
			*follows = true;
			return v;
		}
		return spee_verdict_of(SPEE_REASON_FRAGMENT);
	}
	if (dir == SPEE_DIR_INGRESS && spee_is_local(run, p->family, p->daddr))
		return spee_verdict_of(SPEE_REASON_REASSEMBLY);
	return spee_verdict_of(SPEE_REASON_FRAGMENT);
}

/* Where a packet is judged; a constant at each entry point. */
enum spee_hook {
	SPEE_AT_XDP, /* ingress: everything a link carries */
	SPEE_AT_CGROUP, /* egress: the host's sockets (lo included) */
	SPEE_AT_TC, /* egress: frames of the enforced interfaces that met no cgroup hook */
};

/*
 * A leaving IPv4 packet's options (the parser noted where they are):
 * copied out and walked by spee_ipv4_source_route(). Outside the parser so
 * that the verifier checks the copy once a program, not once for every
 * way of reaching the IPv4 header. 1: a source route, 0: none (or no
 * options), -1: malformed.
 */
static __always_inline int spee_ipv4_options(struct __sk_buff *skb, const struct spee_pkt *p)
{
	struct spee_ipv4_opts o = {};
	__u32 len = p->opt_len;

	if (!len)
		return 0;
	/*
	 * len is 4..40, a multiple of 4 (the header's length is): this is len
	 * again, in a form whose bounds (4..64, inside o) the verifier sees
	 * from the arithmetic, not from a test the compiler may make on
	 * another register (a 6.1 verifier then rejects a "zero-sized read").
	 */
	len = (((len >> 2) - 1) & 15) * 4 + 4;
	if (bpf_skb_load_bytes(skb, p->opt_off, o.b, len))
		return -1;
	return spee_ipv4_source_route(&o, len);
}

/*
 * The verdict of a parsed packet, for every program that sees packets.
 * *packets: what it adds to its counter's packet count: 1, or 0 for a
 * fragment of a datagram that is counted already (a rule counts
 * connections and datagrams; their bytes are all counted).
 */
static __always_inline struct spee_verdict spee_judge(void *ctx, enum spee_hook at,
						      const struct spee_run *run, int parsed,
						      const struct spee_pkt *p, __u64 *packets)
{
	__u32 dir = at == SPEE_AT_XDP ? SPEE_DIR_INGRESS : SPEE_DIR_EGRESS;
	struct spee_verdict v;
	bool follows;

	*packets = 1;
	if (parsed == SPEE_PARSE_NON_IP)
		return spee_decide_non_ip(run, dir, p->ethertype);
	if (parsed == SPEE_PARSE_MALFORMED)
		return spee_verdict_of(SPEE_REASON_MALFORMED);
	/* Not the host's: forwarded, or for a container or VM behind it. */
	if (at == SPEE_AT_XDP && !spee_for_host(run, p->family, p->daddr))
		return spee_verdict_of(SPEE_REASON_TRANSIT);
	/*
	 * Leaving with a source route, the packet's destination is not where
	 * it goes. Only what leaves has its IPv4 options read: arriving ones
	 * are the sender's business, and the kernel forwards none unless
	 * told to.
	 */
	if (dir == SPEE_DIR_EGRESS) {
		int sr = spee_ipv4_options(ctx, p);

		if (sr < 0)
			return spee_verdict_of(SPEE_REASON_MALFORMED);
		if (sr || (p->flags & SPEE_PKT_SOURCE_ROUTE))
			return spee_verdict_of(SPEE_REASON_SOURCE_ROUTE);
	}
	/*
	 * The host's own traffic, said without relying on lo. Not at tc: a
	 * packet socket's frame leaves on the wire whatever address it names.
	 */
	if (at == SPEE_AT_CGROUP &&
	    (spee_is_loopback(p->family, p->daddr) || spee_is_local(run, p->family, p->daddr)))
		return spee_verdict_of(SPEE_REASON_LOOPBACK);
	if (parsed == SPEE_PARSE_FRAGMENT)
		return spee_verdict_of(SPEE_REASON_FRAGMENT);
	if (p->frag == SPEE_FRAG_LATER) {
		v = spee_decide_later(run, dir, p, &follows);
		if (follows)
			*packets = 0;
		return v;
	}
	if (at == SPEE_AT_XDP)
		v = spee_decide_ingress(ctx, run, p);
	else
		v = spee_decide_egress(ctx, run, p);
	if (p->frag == SPEE_FRAG_FIRST)
		spee_frag_put(p, v);
	return v;
}

#endif /* SPEE_DECIDE_BPF_H */
