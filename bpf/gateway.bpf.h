/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * gateway.bpf.h - gateway mode's decision (spee_abi.h, "Gateway mode"): on
 * a router or hypervisor, a packet is judged once, where it enters the
 * machine, as the inventory hosts at its ends would judge it: the source
 * host's egress rules, then the destination host's ingress rules, each
 * looked up under that host's policy id. The gateway sees both directions
 * of a connection and has no socket table, so replies are recognised by
 * its own flow table (spee_gw_flows), keyed from the side that started
 * the connection.
 *
 * Host mode's stages are reused (parser, fragment table, ICMP and non-IP
 * classification, counters, events); what differs is here: up to two
 * verdicts a packet, one per side asked, each counted fleet-wide and per
 * host (spee_gw_ctr). No scope check, no socket lookups, no spee_flows.
 */
#ifndef SPEE_GATEWAY_BPF_H
#define SPEE_GATEWAY_BPF_H

#include "account.bpf.h"

/*
 * Fixed at load time (the loader may set them): how long a TCP flow lives
 * after its last packet, open, and once a FIN was seen. UDP and echo
 * flows expire after the slot's udp-timeout, as in host mode.
 */
const volatile __u64 spee_gw_tcp_idle_ns = 86400ULL * SPEE_NSEC;
const volatile __u64 spee_gw_tcp_closing_ns = 120ULL * SPEE_NSEC;
/* How long a SYN's connection waits for the responder's SYN-ACK (spee_gw_syns). */
const volatile __u64 spee_gw_tcp_unanswered_ns = 120ULL * SPEE_NSEC;

/*
 * A flow's time is stored again only when it is this much older: a busy
 * connection then writes its shared entry once a second, not once a
 * packet. The timeouts are minutes and days, so a second is no error.
 */
#define SPEE_GW_TOUCH_NS SPEE_NSEC

/*
 * One packet's judgement: per direction, the host at that end (egress:
 * the source, ingress: the destination; SPEE_GW_HOST_NONE when it is no
 * inventory host) and, when asked (bit 1 << dir of asked), its verdict.
 */
struct spee_gw_judged {
	struct spee_verdict v[SPEE_DIR_MAX];
	__u16 host[SPEE_DIR_MAX];
	__u16 policy[SPEE_DIR_MAX];
	__u8 asked;
	__u8 pad[3];
};

/* The inventory host holding an address in the active slot: its host index and policy id. */
static __always_inline void spee_gw_end(const struct spee_run *run, __u32 dir, __u8 family,
					const __u8 *addr, struct spee_gw_judged *j)
{
	struct spee_gw_host_key k = { .slot = (__u8)run->slot, .family = family & 1 };
	struct spee_gw_host *h;

	__builtin_memcpy(k.addr, addr, 16);
	h = bpf_map_lookup_elem(&spee_gw_hosts, &k);
	if (h) {
		j->host[dir & 1] = h->host;
		j->policy[dir & 1] = h->policy;
	}
}

/*
 * The side whose verdict a packet that no rule judges gets (replies,
 * fragments, ICMP errors, malformed): the destination's ingress when it
 * is an inventory host, the source's egress when only that is one, else
 * ingress with no host (what names no inventory host: transit, or a
 * malformed header that named none).
 */
static __always_inline __u32 spee_gw_home(const struct spee_gw_judged *j)
{
	return j->host[SPEE_DIR_INGRESS] == SPEE_GW_HOST_NONE &&
			       j->host[SPEE_DIR_EGRESS] != SPEE_GW_HOST_NONE ?
		       SPEE_DIR_EGRESS :
		       SPEE_DIR_INGRESS;
}

/*
 * The packet's one verdict, given at the home side. Written to both
 * places (asked says which counts): a store at a variable place on the
 * stack is what the verifier refuses.
 */
static __always_inline void spee_gw_one(struct spee_gw_judged *j, struct spee_verdict v)
{
	j->v[SPEE_DIR_EGRESS] = v;
	j->v[SPEE_DIR_INGRESS] = v;
	j->asked = 1u << spee_gw_home(j);
}

/* The home side's verdict, chosen as a value for the same reason. */
static __always_inline struct spee_verdict spee_gw_home_verdict(const struct spee_gw_judged *j)
{
	struct spee_verdict v;
	__u32 in, eg;

	__builtin_memcpy(&in, &j->v[SPEE_DIR_INGRESS], 4);
	__builtin_memcpy(&eg, &j->v[SPEE_DIR_EGRESS], 4);
	asm volatile("" : "+r"(in), "+r"(eg));
	in = spee_gw_home(j) == SPEE_DIR_INGRESS ? in : eg;
	__builtin_memcpy(&v, &in, 4);
	return v;
}

/* spee_allows() at the home side, the direction chosen as a value (see above). */
static __always_inline bool spee_gw_allows_home(const struct spee_run *run,
						const struct spee_gw_judged *j,
						struct spee_verdict v)
{
	__u32 in = run->cfg->default_action[SPEE_DIR_INGRESS];
	__u32 eg = run->cfg->default_action[SPEE_DIR_EGRESS];

	asm volatile("" : "+r"(in), "+r"(eg));
	if (!spee_reason_is_drop(v.reason))
		return true;
	return v.reason == SPEE_REASON_NO_RULE &&
	       (spee_gw_home(j) == SPEE_DIR_INGRESS ? in : eg) == SPEE_ACTION_PASS;
}

/*
 * The gateway twin of spee_other_lookup(), for every protocol: a host's
 * entry for (dir, proto, port) and the remote address under its policy
 * id, the exact address first, then the longest prefix (tcp/udp ANY is a
 * /0 entry there). any: flag a prefix hit that is the rule's /0 entry with
 * SPEE_VERDICT_ANY (one more trie lookup, asked only where a connection
 * starts), for suggest's table.
 */
static __always_inline struct spee_verdict spee_gw_lookup(const struct spee_run *run, __u32 dir,
							  __u8 proto, __be16 port, __u8 family,
							  const __u8 *addr, __u16 policy, bool any)
{
	__u32 fam = family & 1;
	struct spee_prefix_key k = {
		.prefixlen = SPEE_PREFIX_FIXED_BITS + (fam == SPEE_FAMILY_V4 ? 32 : 128),
		.slot = (__u8)run->slot,
		.dir = (__u8)dir,
		.proto = proto,
		.family = (__u8)fam,
		.port = port,
		.policy = policy,
	};
	struct spee_verdict *hit, v;

	if (proto == SPEE_PROTO_LOCAL || proto == SPEE_PROTO_ETHERTYPE)
		return spee_verdict_of(SPEE_REASON_NO_RULE);
	__builtin_memcpy(k.addr, addr, 16);
	hit = bpf_map_lookup_elem(&spee_exact, &k.slot);
	if (hit)
		return *hit;
	hit = bpf_map_lookup_elem(&spee_prefix, &k);
	if (!hit)
		return spee_verdict_of(SPEE_REASON_NO_RULE);
	v = *hit;
	if (any && v.reason == SPEE_REASON_RULE) {
		struct spee_verdict *zero;

		k.prefixlen = SPEE_PREFIX_FIXED_BITS; /* the /0 entry alone */
		zero = bpf_map_lookup_elem(&spee_prefix, &k);
		if (zero && zero->rule == v.rule && zero->reason == v.reason)
			v.flags |= SPEE_VERDICT_ANY;
	}
	return v;
}

/*
 * Asks the rules, egress first: the source host's egress entries for the
 * destination, then (only if those let it through) the destination
 * host's ingress entries for the source. True when every side asked lets
 * the packet through in enforce mode.
 */
static __always_inline bool spee_gw_rules(const struct spee_run *run, const struct spee_pkt *p,
					  __u8 proto, __be16 port, bool any,
					  struct spee_gw_judged *j)
{
	if (j->host[SPEE_DIR_EGRESS] != SPEE_GW_HOST_NONE) {
		j->v[SPEE_DIR_EGRESS] = spee_gw_lookup(run, SPEE_DIR_EGRESS, proto, port, p->family,
						       p->daddr, j->policy[SPEE_DIR_EGRESS], any);
		j->asked |= 1u << SPEE_DIR_EGRESS;
		if (!spee_allows(run, SPEE_DIR_EGRESS, j->v[SPEE_DIR_EGRESS]))
			return false;
	}
	if (j->host[SPEE_DIR_INGRESS] != SPEE_GW_HOST_NONE) {
		j->v[SPEE_DIR_INGRESS] = spee_gw_lookup(run, SPEE_DIR_INGRESS, proto, port,
							p->family, p->saddr,
							j->policy[SPEE_DIR_INGRESS], any);
		j->asked |= 1u << SPEE_DIR_INGRESS;
		if (!spee_allows(run, SPEE_DIR_INGRESS, j->v[SPEE_DIR_INGRESS]))
			return false;
	}
	return true;
}

/* A side asked answered no-rule (passed only by a default action of pass). */
static __always_inline bool spee_gw_any_no_rule(const struct spee_gw_judged *j)
{
	return ((j->asked >> SPEE_DIR_EGRESS) & 1 && spee_is_no_rule(j->v[SPEE_DIR_EGRESS])) ||
	       ((j->asked >> SPEE_DIR_INGRESS) & 1 && spee_is_no_rule(j->v[SPEE_DIR_INGRESS]));
}

/* ANY-side rules that let a new UDP flow through: the remote address noted. */
static __always_inline void spee_gw_note_any(const struct spee_pkt *p,
					     const struct spee_gw_judged *j)
{
	if ((j->asked >> SPEE_DIR_EGRESS) & 1 && (j->v[SPEE_DIR_EGRESS].flags & SPEE_VERDICT_ANY))
		spee_note_any(j->v[SPEE_DIR_EGRESS].rule, SPEE_DIR_EGRESS, p->family, p->daddr);
	if ((j->asked >> SPEE_DIR_INGRESS) & 1 && (j->v[SPEE_DIR_INGRESS].flags & SPEE_VERDICT_ANY))
		spee_note_any(j->v[SPEE_DIR_INGRESS].rule, SPEE_DIR_INGRESS, p->family, p->saddr);
}

/* ---- the flow table ---- */

/*
 * The key of the flow a packet starts (initiator = its source), or, with
 * reversed, of the flow it answers (initiator = its destination); echo:
 * SPEE_ECHO_HOST_ASKED for an echo exchange, else 0.
 */
static __always_inline void spee_gw_flow_key(const struct spee_pkt *p, bool reversed, __u16 echo,
					     struct spee_flow_key *k)
{
	spee_flow_key(p, !reversed, k); /* host mode's "egress" key: laddr is the source */
	k->echo = echo;
}

/* Within timeout_ns of its last packet (signed: another CPU may have stored a later time). */
static __always_inline bool spee_gw_fresh(const struct spee_gw_flow *f, __u64 now,
					  __u64 timeout_ns)
{
	return (__s64)(now - f->last_seen_ns) <= (__s64)timeout_ns;
}

static __always_inline void spee_gw_refresh(struct spee_gw_flow *f, __u64 now)
{
	if ((__s64)(now - f->last_seen_ns) > (__s64)SPEE_GW_TOUCH_NS)
		*(volatile __u64 *)&f->last_seen_ns = now;
}

/*
 * A SYN the rules let through: its connection waits in spee_gw_syns for
 * the responder's SYN-ACK (spee_gw_tcp_half_open), away from the
 * established ones, which a SYN flood must not evict. The ANY-side rules
 * that let it through go with it, for suggest to note once the handshake
 * completes (spee_gw_handshake_done): a SYN's source may be forged.
 */
static __always_inline void spee_gw_syn_open(const struct spee_pkt *p,
					     const struct spee_gw_judged *j)
{
	struct spee_gw_flow st = { .reason = SPEE_REASON_ESTABLISHED };
	struct spee_flow_key k;

	for (int d = 0; d < SPEE_DIR_MAX; d++)
		if ((j->asked >> d) & 1 && (j->v[d].flags & SPEE_VERDICT_ANY))
			st.note[d] = j->v[d].rule;

	spee_gw_flow_key(p, false, 0, &k);
	st.last_seen_ns = bpf_ktime_get_coarse_ns();
	bpf_map_update_elem(&spee_gw_syns, &k, &st, BPF_ANY);
}

/*
 * Opens the flow a UDP datagram or an echo request the gateway let through
 * starts, or refreshes it (reason: what its answers count under). True
 * when the flow is new.
 */
static __always_inline bool spee_gw_flow_open(const struct spee_pkt *p, __u16 echo, __u8 reason)
{
	struct spee_gw_flow st = { .reason = reason };
	struct spee_flow_key k;
	struct spee_gw_flow *f;
	__u64 now = bpf_ktime_get_coarse_ns();

	spee_gw_flow_key(p, false, echo, &k);
	f = bpf_map_lookup_elem(&spee_gw_flows, &k);
	if (f) {
		spee_gw_refresh(f, now);
		if (f->reason != reason)
			f->reason = reason;
		return false;
	}
	st.last_seen_ns = now;
	bpf_map_update_elem(&spee_gw_flows, &k, &st, BPF_ANY);
	return true;
}

/*
 * A TCP packet of a connection not yet answered (spee_gw_syns): the
 * responder's SYN-ACK moves it to the flow table, an RST from either end
 * ends it; nothing else of it passes before the answer.
 */
static __always_inline struct spee_verdict spee_gw_tcp_half_open(const struct spee_pkt *p)
{
	struct spee_gw_flow st = { .reason = SPEE_REASON_ESTABLISHED };
	struct spee_flow_key k;
	struct spee_gw_flow *f;
	bool answer = true;

	spee_gw_flow_key(p, true, 0, &k);
	f = bpf_map_lookup_elem(&spee_gw_syns, &k);
	if (!f) {
		answer = false;
		spee_gw_flow_key(p, false, 0, &k);
		f = bpf_map_lookup_elem(&spee_gw_syns, &k);
	}
	st.last_seen_ns = bpf_ktime_get_coarse_ns();
	if (!f || !spee_gw_fresh(f, st.last_seen_ns, spee_gw_tcp_unanswered_ns))
		return spee_verdict_of(SPEE_REASON_NO_RULE);
	if (p->tcp_flags & SPEE_TCP_RST) {
		bpf_map_delete_elem(&spee_gw_syns, &k);
		return spee_verdict_of(SPEE_REASON_ESTABLISHED);
	}
	if (!answer || !(p->tcp_flags & SPEE_TCP_SYN))
		return spee_verdict_of(SPEE_REASON_NO_RULE);
	__builtin_memcpy(st.note, f->note, sizeof(st.note)); /* still to be noted */
	bpf_map_update_elem(&spee_gw_flows, &k, &st, BPF_ANY);
	bpf_map_delete_elem(&spee_gw_syns, &k);
	return spee_verdict_of(SPEE_REASON_ESTABLISHED);
}

/*
 * The initiator's first ACK after the responder's SYN-ACK (the flow found
 * from the initiator's side): the handshake is complete, from an address
 * that got the SYN-ACK. Suggest notes the ANY-side rules the SYN went
 * through, once (two CPUs racing here note twice, which a tally bears).
 */
static __always_inline void spee_gw_handshake_done(const struct spee_pkt *p,
						   struct spee_gw_flow *f)
{
	if (f->note[SPEE_DIR_EGRESS])
		spee_note_any(f->note[SPEE_DIR_EGRESS], SPEE_DIR_EGRESS, p->family, p->daddr);
	if (f->note[SPEE_DIR_INGRESS])
		spee_note_any(f->note[SPEE_DIR_INGRESS], SPEE_DIR_INGRESS, p->family, p->saddr);
	f->note[SPEE_DIR_EGRESS] = SPEE_RULE_NONE;
	f->note[SPEE_DIR_INGRESS] = SPEE_RULE_NONE;
}

/*
 * A TCP packet that opens nothing (SYN-ACK, ACK, FIN, RST...): it belongs
 * to a flow the gateway let start, found either way, while that is not
 * idle for longer than its timeout, or answers one still half open. An
 * RST ends the flow; a FIN marks it closing (the shorter timeout).
 */
static __always_inline struct spee_verdict spee_gw_tcp_other(const struct spee_pkt *p)
{
	struct spee_flow_key k;
	struct spee_gw_flow *f;
	bool from_initiator = true;
	__u64 now;

	spee_gw_flow_key(p, false, 0, &k);
	f = bpf_map_lookup_elem(&spee_gw_flows, &k);
	if (!f) {
		from_initiator = false;
		spee_gw_flow_key(p, true, 0, &k);
		f = bpf_map_lookup_elem(&spee_gw_flows, &k);
		if (!f)
			return spee_gw_tcp_half_open(p);
	}
	now = bpf_ktime_get_coarse_ns();
	/* an expired flow the LRU still holds: a new connection of the same ports may be answering */
	if (!spee_gw_fresh(f, now, f->closing ? spee_gw_tcp_closing_ns : spee_gw_tcp_idle_ns))
		return spee_gw_tcp_half_open(p);
	if (p->tcp_flags & SPEE_TCP_RST) {
		bpf_map_delete_elem(&spee_gw_flows, &k);
	} else {
		if (from_initiator && (f->note[SPEE_DIR_EGRESS] | f->note[SPEE_DIR_INGRESS]) &&
		    spee_handshake_ack(p))
			spee_gw_handshake_done(p, f);
		if ((p->tcp_flags & SPEE_TCP_FIN) && !f->closing)
			f->closing = 1;
		else if ((p->tcp_flags & SPEE_TCP_SYN) && f->closing)
			f->closing = 0; /* a SYN-ACK: the ports' new connection, open again */
		spee_gw_refresh(f, now);
	}
	return spee_verdict_of(SPEE_REASON_ESTABLISHED);
}

/* The fresh flow a UDP datagram or echo reply answers (reversed key), or NULL. */
static __always_inline struct spee_gw_flow *spee_gw_answers(const struct spee_run *run,
							    const struct spee_pkt *p, __u16 echo)
{
	struct spee_flow_key k;
	struct spee_gw_flow *f;

	spee_gw_flow_key(p, true, echo, &k);
	f = bpf_map_lookup_elem(&spee_gw_flows, &k);
	if (f && spee_gw_fresh(f, bpf_ktime_get_coarse_ns(), run->cfg->udp_timeout_ns))
		return f;
	return NULL;
}

/* ---- per protocol ---- */

static __always_inline void spee_gw_tcp(const struct spee_run *run, const struct spee_pkt *p,
					struct spee_gw_judged *j)
{
	if (spee_bad_flags(p)) {
		spee_gw_one(j, spee_verdict_of(SPEE_REASON_MALFORMED));
		return;
	}
	if (!spee_syn_only(p)) {
		spee_gw_one(j, spee_gw_tcp_other(p));
		return;
	}
	if (spee_gw_rules(run, p, SPEE_IPPROTO_TCP, p->dport, true, j))
		spee_gw_syn_open(p, j);
}

/*
 * UDP: what the rules let through opens (or refreshes) its flow, whose
 * answers then pass as udp-reply, or dns when a side's verdict was the
 * host's resolvers; what they do not (or pass only by a default action)
 * passes when it answers a fresh flow, as that flow's reason.
 */
static __always_inline void spee_gw_udp(const struct spee_run *run, const struct spee_pkt *p,
					struct spee_gw_judged *j)
{
	bool pass = spee_gw_rules(run, p, SPEE_IPPROTO_UDP, p->dport, true, j);
	struct spee_gw_flow *f;
	__u8 reason;

	if (!pass || spee_gw_any_no_rule(j)) {
		f = spee_gw_answers(run, p, 0);
		if (f) {
			spee_gw_one(j, spee_verdict_of(f->reason)); /* the rules' answers go */
			return;
		}
		if (!pass)
			return;
	}
	reason = ((j->asked >> SPEE_DIR_EGRESS) & 1 &&
		  j->v[SPEE_DIR_EGRESS].reason == SPEE_REASON_DNS) ||
				 ((j->asked >> SPEE_DIR_INGRESS) & 1 &&
				  j->v[SPEE_DIR_INGRESS].reason == SPEE_REASON_DNS) ?
			 SPEE_REASON_DNS :
			 SPEE_REASON_UDP_REPLY;
	if (spee_gw_flow_open(p, 0, reason))
		spee_gw_note_any(p, j);
}

/*
 * Does an ICMP error quote a packet of a flow of the gateway table? It goes
 * back to the quoted packet's source (outer destination = inner source),
 * and that packet belongs to a flow either way (a UDP one or an echo
 * exchange within udp-timeout). Anything else could carry data past the
 * rules.
 */
static __always_inline bool spee_gw_icmp_relates(const struct spee_run *run,
						 const struct spee_pkt *p,
						 const struct spee_inner *in)
{
	struct spee_flow_key k = {}, rk = {};
	struct spee_gw_flow *f;

	if (in->family != p->family || !spee_addr_eq(p->daddr, in->saddr))
		return false;
	k.family = rk.family = in->family;
	k.proto = rk.proto = in->proto;
	k.lport = rk.rport = in->sport;
	k.rport = rk.lport = in->dport;
	__builtin_memcpy(k.laddr, in->saddr, 16);
	__builtin_memcpy(k.raddr, in->daddr, 16);
	__builtin_memcpy(rk.laddr, in->daddr, 16);
	__builtin_memcpy(rk.raddr, in->saddr, 16);
	/* an echo request: the exchange it opened, keyed from its sender */
	k.echo = in->echo ? SPEE_ECHO_HOST_ASKED : 0;
	f = bpf_map_lookup_elem(&spee_gw_flows, &k);
	if (!f && !in->echo)
		f = bpf_map_lookup_elem(&spee_gw_flows, &rk);
	if (in->proto == SPEE_IPPROTO_TCP)
		/* an error about a SYN still unanswered (unreachable, too big) is the usual one */
		return f || bpf_map_lookup_elem(&spee_gw_syns, &k) ||
		       bpf_map_lookup_elem(&spee_gw_syns, &rk);
	return f && spee_gw_fresh(f, bpf_ktime_get_coarse_ns(), run->cfg->udp_timeout_ns);
}

/*
 * ICMP: errors about a flow pass as icmp, neighbour discovery and MLD on
 * the link as nd, echo replies to a request the gateway let through as
 * icmp-reply; the rest (echo requests among them) by rules, by type. An
 * echo request let through opens its exchange's flow.
 */
static __always_inline void spee_gw_icmp(void *ctx, bool xdp, const struct spee_run *run,
					 const struct spee_pkt *p, struct spee_gw_judged *j)
{
	int cls = spee_icmp_class(p);

	if (cls == SPEE_ICMP_ERROR) {
		struct spee_inner in = {};

		if (spee_inner(ctx, xdp, (__u32)p->l4_off + 8, p->family, &in) &&
		    spee_gw_icmp_relates(run, p, &in))
			spee_gw_one(j, spee_verdict_of(SPEE_REASON_ICMP));
		else
			spee_gw_one(j, spee_verdict_of(SPEE_REASON_NO_RULE));
		return;
	}
	if (cls == SPEE_ICMP_ND || cls == SPEE_ICMP_MLD) {
		spee_gw_one(j, spee_verdict_of(spee_nd_on_link(p, cls) ? SPEE_REASON_ND :
									  SPEE_REASON_NO_RULE));
		return;
	}
	if (spee_icmp_echo_reply(p->family, p->icmp_type) &&
	    spee_gw_answers(run, p, SPEE_ECHO_HOST_ASKED)) {
		spee_gw_one(j, spee_verdict_of(SPEE_REASON_ICMP_REPLY));
		return;
	}
	if (spee_gw_rules(run, p, p->proto, bpf_htons(p->icmp_type), false, j) &&
	    spee_icmp_echo_request(p->family, p->icmp_type))
		spee_gw_flow_open(p, SPEE_ECHO_HOST_ASKED, SPEE_REASON_ICMP_REPLY);
}

/*
 * The verdicts of a packet (j, which the caller zeroed) and whether it
 * passes in enforce mode. *packets: 1, or 0 for a later fragment of a
 * datagram counted already. xdp: ctx is an XDP buffer, else an skb.
 */
static __always_inline bool spee_gw_judge(void *ctx, bool xdp, const struct spee_run *run,
					  int parsed, const struct spee_pkt *p,
					  struct spee_gw_judged *j, __u64 *packets)
{
	bool pass;

	*packets = 1;
	if (parsed == SPEE_PARSE_NON_IP) {
		/*
		 * No host's: ARP, and the config's ethertypes (the entries of
		 * policy 0, direction ingress, as host mode writes them).
		 */
		j->v[SPEE_DIR_INGRESS] = spee_decide_non_ip(run, SPEE_DIR_INGRESS, p->ethertype);
		j->asked = 1u << SPEE_DIR_INGRESS;
		return spee_allows(run, SPEE_DIR_INGRESS, j->v[SPEE_DIR_INGRESS]);
	}
	spee_gw_end(run, SPEE_DIR_EGRESS, p->family, p->saddr, j);
	spee_gw_end(run, SPEE_DIR_INGRESS, p->family, p->daddr, j);
	if (parsed == SPEE_PARSE_MALFORMED) {
		/* dropped wherever it goes; counted on a host where its addresses name one */
		spee_gw_one(j, spee_verdict_of(SPEE_REASON_MALFORMED));
		return false;
	}
	if (j->host[SPEE_DIR_EGRESS] == SPEE_GW_HOST_NONE &&
	    j->host[SPEE_DIR_INGRESS] == SPEE_GW_HOST_NONE) {
		j->v[SPEE_DIR_INGRESS] = spee_verdict_of(SPEE_REASON_TRANSIT);
		j->asked = 1u << SPEE_DIR_INGRESS;
		return true;
	}
	if (parsed == SPEE_PARSE_FRAGMENT) {
		spee_gw_one(j, spee_verdict_of(SPEE_REASON_FRAGMENT));
		return false;
	}
	if (p->frag == SPEE_FRAG_LATER) {
		/*
		 * Its first's verdict while that is fresh; no reassembly is
		 * behind a gateway, so one without a known first is dropped.
		 */
		bool known;
		struct spee_verdict v = spee_frag_get(p, &known);

		if (!known || v.reason == SPEE_REASON_FRAGMENT || !spee_gw_allows_home(run, j, v))
			v = spee_verdict_of(SPEE_REASON_FRAGMENT);
		else
			*packets = 0;
		spee_gw_one(j, v);
		return *packets == 0;
	}
	if (p->proto == SPEE_IPPROTO_TCP)
		spee_gw_tcp(run, p, j);
	else if (p->proto == SPEE_IPPROTO_UDP)
		spee_gw_udp(run, p, j);
	else if (spee_is_icmp(p->family, p->proto))
		spee_gw_icmp(ctx, xdp, run, p, j);
	else
		spee_gw_rules(run, p, p->proto, 0, false, j);

	pass = (!((j->asked >> SPEE_DIR_EGRESS) & 1) ||
		spee_allows(run, SPEE_DIR_EGRESS, j->v[SPEE_DIR_EGRESS])) &&
	       (!((j->asked >> SPEE_DIR_INGRESS) & 1) ||
		spee_allows(run, SPEE_DIR_INGRESS, j->v[SPEE_DIR_INGRESS]));
	/*
	 * The later fragments follow the home side's verdict (the last side
	 * asked, when every side let the first through), or are refused.
	 */
	if (p->frag == SPEE_FRAG_FIRST)
		spee_frag_put(p, pass ? spee_gw_home_verdict(j) :
				   spee_verdict_of(SPEE_REASON_FRAGMENT));
	return pass;
}

/* ---- counting ---- */

/*
 * A verdict on a host's counters: a rule's entry (made by user space;
 * looked up only) or a drop's, made here on the host's first drop of that
 * reason and direction. Other reasons are counted fleet-wide only.
 */
static __always_inline void spee_gw_count_host(__u16 host, __u32 dir, struct spee_verdict v,
					       __u64 packets, __u64 bytes)
{
	struct spee_gw_ctr_key k = { .host = host, .dir = (__u8)dir, .reason = v.reason };
	struct spee_counter *c;

	if (host == SPEE_GW_HOST_NONE)
		return;
	if (v.reason == SPEE_REASON_RULE) {
		k.rule = v.rule;
	} else if (!spee_reason_is_drop(v.reason)) {
		return;
	}
	c = bpf_map_lookup_elem(&spee_gw_ctr, &k);
	if (!c) {
		struct spee_counter first = { .packets = packets, .bytes = bytes };

		if (v.reason == SPEE_REASON_RULE)
			return; /* not enforced for this host: user space lists what is */
		if (!bpf_map_update_elem(&spee_gw_ctr, &k, &first, BPF_NOEXIST))
			return;
		c = bpf_map_lookup_elem(&spee_gw_ctr, &k); /* another CPU made it first */
		if (!c)
			return;
	}
	c->packets += packets;
	c->bytes += bytes;
}

/* One side's verdict: counted fleet-wide and on its host; false when it refuses. */
static __always_inline bool spee_gw_account_side(const struct spee_run *run,
						 const struct spee_gw_judged *j, __u32 dir,
						 __u64 packets, __u64 bytes,
						 const struct spee_pkt *p, __u32 ifindex)
{
	struct spee_verdict v = j->v[dir];

	if (!((j->asked >> dir) & 1))
		return true;
	spee_count(dir, v, packets, bytes);
	spee_gw_count_host(j->host[dir], dir, v, packets, bytes);
	if (spee_allows(run, dir, v))
		return true;
	spee_drop_event(run, p, spee_report_what(dir, v.reason, SPEE_EV_PACKET), ifindex,
			(__u32)bytes);
	if (run->cfg->mode == SPEE_MODE_AUDIT)
		spee_note_would(dir, v, p, true);
	return false;
}

/*
 * The exit of every gateway packet: each side asked counts its own verdict
 * (an east-west packet let through counts on the source's egress rule and
 * the destination's ingress rule), a refusal is reported, then pass (true)
 * or drop; audit mode passes everything.
 */
static __always_inline bool spee_gw_account(const struct spee_run *run,
					    const struct spee_gw_judged *j, __u64 packets,
					    __u64 bytes, const struct spee_pkt *p, __u32 ifindex)
{
	bool pass = spee_gw_account_side(run, j, SPEE_DIR_EGRESS, packets, bytes, p, ifindex);

	pass = spee_gw_account_side(run, j, SPEE_DIR_INGRESS, packets, bytes, p, ifindex) && pass;
	return pass || run->cfg->mode == SPEE_MODE_AUDIT;
}

#endif /* SPEE_GATEWAY_BPF_H */
