/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * decide.bpf.h - the third stage: a parsed packet (or a connect() call)
 * and the policy slot it is judged by -> a struct spee_verdict {rule,
 * reason}. Nothing here chooses pass or drop; account.bpf.h does, from the
 * verdict, the mode and the defaults. Included by bpf/speebpf.bpf.c after
 * state.bpf.h.
 *
 * Cost does not grow with the policy: one array read per rule lookup, then
 * at most one hash and one trie lookup, each only when spee_ports says the
 * port has such entries.
 */
#ifndef SPEE_DECIDE_BPF_H
#define SPEE_DECIDE_BPF_H

/*
 * The loopback device has this ifindex in every network namespace. 0 turns
 * the egress shortcut for lo off (a test loads the object so, to send real
 * connections through the whole decision inside one namespace).
 */
const volatile __u32 spee_lo_ifindex = 1;

#define SPEE_READ_ONCE_U32(x) (*(volatile __u32 *)&(x))

/* One packet's view of the policy: the slot and its settings, read once. */
struct spee_run {
	__u32 slot;
	struct spee_slot_cfg cfg;
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
	run->cfg = rt->slot[run->slot];
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
	if (v.reason > SPEE_REASON_LAST_DROP)
		return true;
	return v.reason == SPEE_REASON_NO_RULE &&
	       run->cfg.default_action[dir & 1] == SPEE_ACTION_PASS;
}

/*
 * The rule for a new connection or datagram to `port` with remote address
 * `addr`: the exact address first (the most specific match there is), then
 * the longest prefix, then the port's /0 rule.
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
	}
	return v;
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

	__builtin_memcpy(k.addr, a, 16);
	hit = bpf_map_lookup_elem(&spee_exact, &k);
	return hit && hit->reason == SPEE_REASON_LOOPBACK;
}

/* ICMP errors, path-MTU messages, neighbour discovery and MLD; other ICMP has no rule. */
static __always_inline struct spee_verdict spee_decide_icmp(const struct spee_pkt *p)
{
	__u8 t = p->icmp_type;

	if (p->family == SPEE_FAMILY_V4) {
		if (t == 3 || t == 11 || t == 12)
			return spee_verdict_of(SPEE_REASON_ICMP);
		return spee_verdict_of(SPEE_REASON_NO_RULE);
	}
	if (t >= 1 && t <= 4)
		return spee_verdict_of(SPEE_REASON_ICMP);
	if ((t >= 133 && t <= 137) || t == 130 || t == 131 || t == 132 || t == 143)
		return spee_verdict_of(SPEE_REASON_ND);
	return spee_verdict_of(SPEE_REASON_NO_RULE);
}

static __always_inline bool spee_syn_only(const struct spee_pkt *p)
{
	return (p->tcp_flags & (SPEE_TCP_SYN | SPEE_TCP_ACK)) == SPEE_TCP_SYN;
}

static __always_inline bool spee_bad_flags(const struct spee_pkt *p)
{
	return (p->tcp_flags & SPEE_TCP_SYN) && (p->tcp_flags & (SPEE_TCP_FIN | SPEE_TCP_RST));
}

/*
 * A TCP packet that does not open a connection, arriving: it belongs to a
 * connection the host holds, or to nobody.
 */
static __always_inline struct spee_verdict spee_ingress_tcp_other(void *ctx,
								  const struct spee_run *run,
								  const struct spee_pkt *p)
{
	struct spee_verdict v;
	int state;

	/* The fast path: a flow the egress program or an earlier packet recorded. */
	if (spee_flow_find(p, false))
		return spee_verdict_of(SPEE_REASON_ESTABLISHED);

	state = spee_sock_state(ctx, p, false);
	if (state == SPEE_SOCK_NONE)
		return spee_verdict_of(SPEE_REASON_NO_RULE);
	if (state != BPF_TCP_LISTEN) {
		/*
		 * Only established connections are cached: a closing one
		 * would otherwise come back after the egress FIN removed it.
		 */
		if (state == BPF_TCP_ESTABLISHED)
			spee_flow_put(p, false, SPEE_REASON_ESTABLISHED, bpf_ktime_get_ns());
		return spee_verdict_of(SPEE_REASON_ESTABLISHED);
	}
	/*
	 * Only a listener: a SYN-cookie handshake completing, or a spoofed
	 * packet. It may pass only where the SYN itself could have.
	 */
	v = spee_rule_lookup(run, SPEE_DIR_INGRESS, SPEE_L4_TCP, p->dport, p->family, p->saddr);
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
		if (spee_allows(run, SPEE_DIR_INGRESS, v))
			spee_flow_touch(p, false, SPEE_REASON_UDP_REPLY, bpf_ktime_get_ns());
		return v;
	}
	st = spee_flow_find(p, false);
	if (st && bpf_ktime_get_ns() - st->last_seen_ns <= run->cfg.udp_timeout_ns)
		return spee_verdict_of(st->reason);
	return v;
}

/* Ingress (XDP) verdict of a packet the parser accepted. */
static __always_inline struct spee_verdict spee_decide_ingress(void *ctx,
							       const struct spee_run *run,
							       const struct spee_pkt *p)
{
	if (p->proto == SPEE_IPPROTO_TCP) {
		if (spee_bad_flags(p))
			return spee_verdict_of(SPEE_REASON_MALFORMED);
		if (spee_syn_only(p))
			return spee_rule_lookup(run, SPEE_DIR_INGRESS, SPEE_L4_TCP, p->dport,
						p->family, p->saddr);
		return spee_ingress_tcp_other(ctx, run, p);
	}
	if (p->proto == SPEE_IPPROTO_UDP)
		return spee_ingress_udp(run, p);
	if ((p->proto == SPEE_IPPROTO_ICMP && p->family == SPEE_FAMILY_V4) ||
	    (p->proto == SPEE_IPPROTO_ICMPV6 && p->family == SPEE_FAMILY_V6))
		return spee_decide_icmp(p);
	return spee_verdict_of(SPEE_REASON_NO_RULE);
}

/* A TCP packet leaving that is not a SYN: is it part of a connection the kernel holds? */
static __always_inline struct spee_verdict spee_egress_tcp_other(struct __sk_buff *skb,
								 const struct spee_pkt *p)
{
	struct bpf_sock *sk = skb->sk;
	int state;

	if (sk) {
		sk = bpf_sk_fullsock(sk);
		/* A TCP socket of the kernel's: its packets are its connection's. */
		if (sk && sk->protocol == SPEE_IPPROTO_TCP && sk->type == SOCK_STREAM)
			return spee_verdict_of(SPEE_REASON_ESTABLISHED);
	}
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
		/* So that XDP knows the replies without asking the socket table. */
		if (spee_allows(run, SPEE_DIR_EGRESS, v))
			spee_flow_put(p, true, SPEE_REASON_ESTABLISHED, bpf_ktime_get_ns());
		return v;
	}
	v = spee_egress_tcp_other(skb, p);
	if (v.reason == SPEE_REASON_ESTABLISHED) {
		if (p->tcp_flags & (SPEE_TCP_FIN | SPEE_TCP_RST))
			spee_flow_del(p, true); /* the socket lookup covers the teardown */
		else if (p->tcp_flags & SPEE_TCP_SYN)
			/* a SYN-ACK: an accepted inbound connection */
			spee_flow_put(p, true, SPEE_REASON_ESTABLISHED, bpf_ktime_get_ns());
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

		if (st && bpf_ktime_get_ns() - st->last_seen_ns <= run->cfg.udp_timeout_ns)
			return spee_verdict_of(SPEE_REASON_UDP_REPLY);
	}
	if (spee_allows(run, SPEE_DIR_EGRESS, v))
		spee_flow_touch(p, true,
				v.reason == SPEE_REASON_DNS ? SPEE_REASON_DNS : SPEE_REASON_UDP_REPLY,
				bpf_ktime_get_ns());
	return v;
}

/* Egress (cgroup_skb) verdict of a packet the parser accepted, not to the host itself. */
static __always_inline struct spee_verdict spee_decide_egress(struct __sk_buff *skb,
							      const struct spee_run *run,
							      const struct spee_pkt *p)
{
	if (p->proto == SPEE_IPPROTO_TCP)
		return spee_egress_tcp(skb, run, p);
	if (p->proto == SPEE_IPPROTO_UDP)
		return spee_egress_udp(run, p);
	if ((p->proto == SPEE_IPPROTO_ICMP && p->family == SPEE_FAMILY_V4) ||
	    (p->proto == SPEE_IPPROTO_ICMPV6 && p->family == SPEE_FAMILY_V6))
		return spee_decide_icmp(p);
	return spee_verdict_of(SPEE_REASON_NO_RULE);
}

/*
 * Maps the parser's result and the fragment state onto a verdict, calling
 * decide for whole packets and first fragments. Shared by both directions.
 */
static __always_inline bool spee_parse_verdict(int parsed, const struct spee_pkt *p,
					       struct spee_verdict *v)
{
	if (parsed == SPEE_PARSE_NON_IP) {
		*v = spee_verdict_of(SPEE_REASON_NON_IP);
		return true;
	}
	if (parsed == SPEE_PARSE_MALFORMED) {
		*v = spee_verdict_of(SPEE_REASON_MALFORMED);
		return true;
	}
	if (parsed == SPEE_PARSE_FRAGMENT) {
		*v = spee_verdict_of(SPEE_REASON_FRAGMENT);
		return true;
	}
	if (p->frag == SPEE_FRAG_LATER) {
		*v = spee_frag_get(p);
		return true;
	}
	return false;
}

#endif /* SPEE_DECIDE_BPF_H */
