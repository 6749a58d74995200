/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * account.bpf.h - the last stage: a verdict -> pass or drop, and the one
 * counter every packet bumps on the way out. Audit mode changes only the
 * pass/drop mapping, never what is counted. Every program leaves through
 * spee_account(), the hooks that judge calls before a packet exists
 * (connect, sendmsg) too, for what they refuse.
 */
#ifndef SPEE_ACCOUNT_BPF_H
#define SPEE_ACCOUNT_BPF_H

#include "decide.bpf.h"

/* Counts a verdict under its rule (reason RULE) or its reason. */
static __always_inline void spee_count(__u32 dir, struct spee_verdict v, __u64 packets,
				       __u64 bytes)
{
	struct spee_counter *c;
	__u32 idx;

	/*
	 * One lookup per map, each with its own constant map: the verifier
	 * inlines an array lookup only where the call site names one map. A
	 * single call choosing between the two maps goes through the generic
	 * helper, an indirect call (~10 ns a packet measured on 6.18).
	 */
	if (v.reason == SPEE_REASON_RULE) {
		idx = spee_rule_ctr_index(v.rule, dir);
		c = bpf_map_lookup_elem(&spee_rule_ctr, &idx);
		if (c) {
			c->packets += packets;
			c->bytes += bytes;
		}
		return;
	}
	idx = spee_reason_ctr_index(v.reason, dir);
	asm volatile("" ::: "memory"); /* keeps clang from merging the two calls into one */
	c = bpf_map_lookup_elem(&spee_reason_ctr, &idx);
	if (c) {
		c->packets += packets;
		c->bytes += bytes;
	}
}

/* Counts one packet of a reason that passes in every mode (not a drop): 1, its pass. */
static __always_inline int spee_count_pass(__u32 dir, __u8 reason, __u64 bytes)
{
	spee_count(dir, spee_verdict_of(reason), 1, bytes);
	return 1;
}

#define SPEE_NSEC 1000000000ull

static __always_inline void spee_ev_count(__u32 stat)
{
	__u64 *c = bpf_map_lookup_elem(&spee_ev_stats, &stat);

	if (c)
		*c += 1;
}

/*
 * The rate limit of drop events: a token bucket per CPU, refilled at
 * events_rate a second up to events_burst, so that a flood of refused
 * packets costs user space at most that many events. Tokens are kept x1e9
 * so that refilling is a multiplication. A flood is judged here packet by
 * packet, so the bucket is refilled once a tick at most: within a tick
 * only jiffies are read, a load; the clock (even the coarse one, which
 * moves once a tick anyway) costs ~12 ns a packet more (BENCHMARKS.md).
 */
static __always_inline bool spee_ev_admit(const struct spee_run *run)
{
	__u64 rate = run->cfg->events_rate, cap, gap, now, tick;
	struct spee_ev_bucket *b;
	__u32 zero = 0;

	if (!rate)
		return false;
	b = bpf_map_lookup_elem(&spee_ev_bucket, &zero);
	if (!b)
		return false;
	tick = bpf_jiffies64();
	if (tick != b->last_tick) {
		now = bpf_ktime_get_coarse_ns();
		cap = (__u64)(run->cfg->events_burst ? run->cfg->events_burst : 1) * SPEE_NSEC;
		gap = now - b->last_ns;
		/* A long quiet time fills the bucket; bounding it keeps gap x rate in 64 bits. */
		if (gap > 1000 * SPEE_NSEC)
			gap = 1000 * SPEE_NSEC;
		b->last_tick = tick;
		b->last_ns = now;
		b->tokens_ns += gap * rate;
		if (b->tokens_ns > cap)
			b->tokens_ns = cap;
	}
	if (b->tokens_ns < SPEE_NSEC) {
		spee_ev_count(SPEE_EV_SUPPRESSED);
		return false;
	}
	b->tokens_ns -= SPEE_NSEC;
	return true;
}

/* spee_report's `what`: the direction, the reason and the origin, a byte each. */
static __always_inline __u32 spee_report_what(__u32 dir, __u8 reason, __u8 origin)
{
	return (dir & 0xff) | ((__u32)reason << 8) | ((__u32)origin << 16);
}

/*
 * One drop event the rate limit admitted, as far as the ring lets it
 * through. Out of line (a BPF subprogram): admitted events are the rare
 * path, and its code inlined into every program made the allowed path
 * measurably slower. The rate limit is checked before the call, inline
 * (spee_drop_event): a flood's packets, nearly all held back, then skip
 * the call (~10 ns of a refused SYN on 6.18, BENCHMARKS.md).
 * BPF subprograms take five arguments, none by value: hence `what`.
 */
static __noinline void spee_report(const struct spee_run *run, const struct spee_pkt *p,
				   __u32 what, __u32 ifindex, __u32 len)
{
	__u32 dir = what & 0xff, reason = (what >> 8) & 0xff, origin = (what >> 16) & 0xff;
	struct spee_event *e;

	e = bpf_ringbuf_reserve(&spee_events, sizeof(*e), 0);
	if (!e) {
		spee_ev_count(SPEE_EV_LOST);
		return;
	}
	e->time_ns = bpf_ktime_get_ns(); /* admitted: rare enough for the precise clock */
	e->ifindex = ifindex;
	e->len = len;
	e->dir = (__u8)dir;
	e->reason = (__u8)reason;
	e->family = p->family;
	e->proto = p->proto;
	e->tcp_flags = p->tcp_flags;
	e->audit = run->cfg->mode == SPEE_MODE_AUDIT;
	e->connect = (__u8)origin;
	e->pad = 0;
	e->pad2 = 0;
	e->sport = p->sport;
	e->dport = p->dport;
	__builtin_memcpy(e->saddr, p->saddr, 16);
	__builtin_memcpy(e->daddr, p->daddr, 16);
	bpf_ringbuf_submit(e, 0);
	spee_ev_count(SPEE_EV_SENT);
}

/* A drop event, if the rate limit admits one (checked inline: a flood's packets stop here). */
static __always_inline void spee_drop_event(const struct spee_run *run, const struct spee_pkt *p,
					    __u32 what, __u32 ifindex, __u32 len)
{
	if (spee_ev_admit(run))
		spee_report(run, p, what, ifindex, len);
}

/*
 * Audit mode: a would-drop for want of a rule that starts a connection (a
 * TCP SYN) or is a UDP datagram, tallied by remote address, protocol and
 * port for `speebpf suggest`. syn_in: whether an arriving SYN is noted:
 * the gateway's are; host mode notes a connection into the host once its
 * handshake completes instead (spee_note_handshake).
 */
static __always_inline void spee_note_would(__u32 dir, struct spee_verdict v,
					    const struct spee_pkt *p, bool syn_in)
{
	if (v.reason != SPEE_REASON_NO_RULE ||
	    !(p->proto == SPEE_IPPROTO_UDP ||
	      (p->proto == SPEE_IPPROTO_TCP && spee_syn_only(p) &&
	       (syn_in || dir != SPEE_DIR_INGRESS))))
		return;
	spee_note_would_drop(dir, p->family, p->proto, p->dport,
			     dir == SPEE_DIR_INGRESS ? p->saddr : p->daddr);
}

/*
 * The exit of every packet: count once, report it if it is (or in audit
 * mode would be) dropped, then pass (true) or drop. packets: 1, or 0 for a
 * fragment of a datagram counted already (spee_judge); origin: enum
 * spee_ev_origin, SPEE_EV_PACKET but for a refused call.
 */
static __always_inline bool spee_account(const struct spee_run *run, __u32 dir,
					 struct spee_verdict v, __u64 packets, __u64 bytes,
					 const struct spee_pkt *p, __u32 ifindex, __u8 origin)
{
	bool pass;

	spee_count(dir, v, packets, bytes);
	pass = spee_allows(run, dir, v);
	if (!pass) {
		spee_drop_event(run, p, spee_report_what(dir, v.reason, origin), ifindex,
				(__u32)bytes);
		if (run->cfg->mode == SPEE_MODE_AUDIT)
			spee_note_would(dir, v, p, false);
	}
	return pass || run->cfg->mode == SPEE_MODE_AUDIT;
}

/*
 * The breakdown of non-IP frames by ethertype class, besides their one
 * counter (non-ip or ethertype). Only non-IP frames come here.
 *
 * A global function, with numbers for arguments: the verifier checks it
 * once. Inlined, each class's constant index was a different state, and
 * the counter's lookup was checked again for every class and verdict on
 * every way the programs reach it.
 */
__attribute__((noinline)) int spee_count_l2_class(__u32 dir, __u32 passed, __u32 ethertype,
						  __u64 bytes)
{
	__u32 idx = spee_l2_ctr_index(spee_l2_class_of(ethertype), passed, dir & 1);
	struct spee_counter *c = bpf_map_lookup_elem(&spee_reason_ctr, &idx);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	return 0;
}

static __always_inline void spee_count_l2(const struct spee_run *run, __u32 dir,
					  struct spee_verdict v, __u16 ethertype, __u64 bytes)
{
	spee_count_l2_class(dir, spee_allows(run, dir, v), ethertype, bytes);
}

#endif /* SPEE_ACCOUNT_BPF_H */
