/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * state.bpf.h - the second stage: what the host remembers between packets.
 * The flow table (connections and UDP flows, keyed from the host's side),
 * the fragment table (first-fragment verdicts) and the kernel's own socket
 * table as the fallback for TCP.
 */
#ifndef SPEE_STATE_BPF_H
#define SPEE_STATE_BPF_H

#include "parse.bpf.h"

/* Fixed at load time (the loader may set them before loading). */
const volatile __u64 spee_frag_timeout_ns = 30ULL * 1000000000ULL;

/*
 * The flow key of a packet from the host's side: on ingress the host is the
 * destination, on egress the source.
 */
static __always_inline void spee_flow_key(const struct spee_pkt *p, bool egress,
					  struct spee_flow_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = p->family;
	k->proto = p->proto;
	if (egress) {
		k->lport = p->sport;
		k->rport = p->dport;
		__builtin_memcpy(k->laddr, p->saddr, 16);
		__builtin_memcpy(k->raddr, p->daddr, 16);
	} else {
		k->lport = p->dport;
		k->rport = p->sport;
		__builtin_memcpy(k->laddr, p->daddr, 16);
		__builtin_memcpy(k->raddr, p->saddr, 16);
	}
}

static __always_inline struct spee_flow_state *spee_flow_find(const struct spee_pkt *p,
							      bool egress)
{
	struct spee_flow_key k;

	spee_flow_key(p, egress, &k);
	return bpf_map_lookup_elem(&spee_flows, &k);
}

static __always_inline void spee_flow_write(const struct spee_pkt *p, bool egress,
					    const struct spee_flow_state *st)
{
	struct spee_flow_key k;

	spee_flow_key(p, egress, &k);
	bpf_map_update_elem(&spee_flows, &k, st, BPF_ANY);
}

static __always_inline void spee_flow_put(const struct spee_pkt *p, bool egress, __u8 reason,
					  __u64 now)
{
	struct spee_flow_state st = { .last_seen_ns = now, .reason = reason };

	spee_flow_write(p, egress, &st);
}

/*
 * The flow of a connection into the host, made by the SYN-ACK the host
 * sends (egress): its handshake's ACK is still to come.
 */
static __always_inline void spee_flow_put_half_open(const struct spee_pkt *p, __u64 now)
{
	struct spee_flow_state st = {
		.last_seen_ns = now,
		.reason = SPEE_REASON_ESTABLISHED,
		.handshake = 1,
	};

	spee_flow_write(p, true, &st);
}

static __always_inline void spee_flow_del(const struct spee_pkt *p, bool egress)
{
	struct spee_flow_key k;

	spee_flow_key(p, egress, &k);
	bpf_map_delete_elem(&spee_flows, &k);
}

/*
 * Records a UDP datagram's flow (sent by the host on egress, received on
 * ingress) so that the other side's answers are recognised for exactly
 * udp-timeout after it; true when the flow is new. A known flow is refreshed in place, through the
 * value the lookup returned: a store instead of an LRU update (the lookup
 * has already marked the entry as used). Racing CPUs write the same
 * fields with times a few ns apart; either one is right.
 */
static __always_inline bool spee_flow_touch(const struct spee_pkt *p, bool egress, __u8 reason,
					    __u64 now)
{
	struct spee_flow_state *st = spee_flow_find(p, egress);

	if (!st) {
		spee_flow_put(p, egress, reason, now);
		return true;
	}
	*(volatile __u64 *)&st->last_seen_ns = now;
	if (st->reason != reason)
		st->reason = reason;
	return false;
}

/* A UDP flow's answers are let in up to udp_timeout_ns after its last datagram. */
static __always_inline bool spee_flow_fresh(const struct spee_flow_state *st, __u64 now,
					    __u64 timeout_ns)
{
	/* signed: a CPU may have stored a time a little after this one's now */
	return (__s64)(now - st->last_seen_ns) <= (__s64)timeout_ns;
}

/*
 * One more for key in a table of tallies (spee_seen, spee_would): the
 * count atomically (CPUs share the entry), the times by plain stores
 * (racing CPUs store times a few ns apart; either is right). Called only
 * where a connection or flow starts, or in audit mode for a would-drop.
 */
static __always_inline void spee_tally(void *map, const void *key)
{
	/* the coarse clock (a tick's resolution) is plenty for first and last seen, and cheaper */
	__u64 now = bpf_ktime_get_coarse_ns();
	struct spee_tally *t = bpf_map_lookup_elem(map, key);
	struct spee_tally fresh = { .count = 1, .first_ns = now, .last_ns = now };

	if (!t) {
		if (!bpf_map_update_elem(map, key, &fresh, BPF_NOEXIST))
			return;
		/* another CPU made it first */
		t = bpf_map_lookup_elem(map, key);
		if (!t)
			return;
	}
	__sync_fetch_and_add(&t->count, 1);
	t->last_ns = now;
}

/* A new connection or flow that rule v let through its ANY side: its remote address noted. */
static __always_inline void spee_note_any(__u16 rule, __u32 dir, __u8 family, const __u8 *raddr)
{
	struct spee_seen_key k = { .rule = rule, .dir = (__u8)dir, .family = family };

	__builtin_memcpy(k.addr, raddr, 16);
	spee_tally(&spee_seen, &k);
}

/*
 * A would-drop for want of a rule that starts a connection or is a
 * datagram (audit mode): tallied by remote address, protocol and port.
 */
static __always_inline void spee_note_would_drop(__u32 dir, __u8 family, __u8 proto, __be16 port,
						 const __u8 *raddr)
{
	struct spee_would_key k = {
		.dir = (__u8)dir,
		.family = family,
		.proto = proto,
		.port = port,
	};

	__builtin_memcpy(k.addr, raddr, 16);
	spee_tally(&spee_would, &k);
}

#define SPEE_SOCK_NONE -1

/*
 * The state (BPF_TCP_*) of the TCP socket the kernel would deliver a packet
 * from src:sport to dst:dport to, or SPEE_SOCK_NONE. The lookup runs in the
 * netns of the device (XDP) or of the skb.
 */
static __always_inline int spee_sock_state_of(void *ctx, __u8 family, const __u8 *src,
					      const __u8 *dst, __be16 sport, __be16 dport)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	__u32 size;
	int state;

	if (family == SPEE_FAMILY_V4) {
		__builtin_memcpy(&t.ipv4.saddr, src, 4);
		__builtin_memcpy(&t.ipv4.daddr, dst, 4);
		t.ipv4.sport = sport;
		t.ipv4.dport = dport;
		size = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, src, 16);
		__builtin_memcpy(t.ipv6.daddr, dst, 16);
		t.ipv6.sport = sport;
		t.ipv6.dport = dport;
		size = sizeof(t.ipv6);
	}
	sk = bpf_skc_lookup_tcp(ctx, &t, size, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return SPEE_SOCK_NONE;
	state = sk->state;
	bpf_sk_release(sk);
	return state;
}

/*
 * The same for a packet; reversed: look up as if it came the other way (an
 * egress packet's own connection).
 */
static __always_inline int spee_sock_state(void *ctx, const struct spee_pkt *p, bool reversed)
{
	if (reversed)
		return spee_sock_state_of(ctx, p->family, p->daddr, p->saddr, p->dport, p->sport);
	return spee_sock_state_of(ctx, p->family, p->saddr, p->daddr, p->sport, p->dport);
}

static __always_inline void spee_frag_key(const struct spee_pkt *p, struct spee_frag_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = p->family;
	/*
	 * RFC 8200 identifies an IPv6 datagram by addresses and id alone; a
	 * later fragment's "protocol" is its fragment header's next header,
	 * which is not the transport when extension headers follow it.
	 */
	k->proto = p->family == SPEE_FAMILY_V4 ? p->proto : 0;
	k->id = p->frag_id;
	__builtin_memcpy(k->saddr, p->saddr, 16);
	__builtin_memcpy(k->daddr, p->daddr, 16);
}

/*
 * Remembers a first fragment's verdict for the rest of its datagram, a
 * refusal too: the later fragments of a refused datagram are then known to
 * be refused, rather than ones whose first has not come yet.
 */
static __always_inline void spee_frag_put(const struct spee_pkt *p, struct spee_verdict v)
{
	struct spee_frag_state st = {
		.first_seen_ns = bpf_ktime_get_ns(),
		.verdict = v,
		.l4_end = p->l4_end,
	};
	struct spee_frag_key k;

	spee_frag_key(p, &k);
	bpf_map_update_elem(&spee_frags, &k, &st, BPF_ANY);
}

/*
 * The verdict of a later fragment's first fragment while that is fresh
 * (*known), else none. One that starts inside the first's transport header
 * gets SPEE_REASON_FRAGMENT: overlapping, it could rewrite the ports or
 * flags the verdict was given for (RFC 1858, RFC 3128; the stateless check
 * in spee_later_fragment() cannot see extension headers between the
 * fragment header and the transport).
 */
static __always_inline struct spee_verdict spee_frag_get(const struct spee_pkt *p, bool *known)
{
	struct spee_verdict v = { .reason = SPEE_REASON_FRAGMENT };
	struct spee_frag_state *st;
	struct spee_frag_key k;

	*known = false;
	spee_frag_key(p, &k);
	st = bpf_map_lookup_elem(&spee_frags, &k);
	if (!st || bpf_ktime_get_ns() - st->first_seen_ns >= spee_frag_timeout_ns)
		return v;
	*known = true;
	if (p->frag_off >= st->l4_end)
		v = st->verdict;
	return v;
}

#endif /* SPEE_STATE_BPF_H */
