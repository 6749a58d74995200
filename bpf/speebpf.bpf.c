// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf.bpf.c - the entry points, each a thin shell around the stages
 * (maps -> parse -> state -> decide -> account, the headers below) that
 * leaves through spee_account(), the one exit that bumps one counter:
 *  - XDP for ingress: spee_xdp on Ethernet devices, spee_xdp_l3 on devices
 *    whose frames start at the IP header (tun, WireGuard, PPP);
 *  - cgroup_skb/egress for what the host's sockets send;
 *  - tc egress on the enforced interfaces for frames that met no cgroup
 *    hook: those of packet sockets (spee_tc_egress, spee_tc_egress_l3);
 *  - cgroup/connect4 and connect6, cgroup/sendmsg4 and sendmsg6, to refuse
 *    a denied TCP connect() or UDP send with EPERM before a packet exists.
 * User space chooses the XDP and tc variant of each device by its link
 * type (src/kernel/ifaces.c).
 */
#include "gateway.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* The kernel's values, under the program's own names (AF_* is libc's, not UAPI). */
#define SPEE_AF_INET 2
#define SPEE_AF_INET6 10
#define SPEE_TC_ACT_UNSPEC (-1)
#define SPEE_TC_ACT_SHOT 2

/*
 * Ingress. The flow table is the fast path and the socket table is asked
 * only on a miss. Measured with test_run on this design's parser: parsing
 * alone ~28 ns a packet, with one hash lookup ~43 ns, with
 * bpf_skc_lookup_tcp ~77 ns.
 */
static __always_inline int spee_ingress(struct xdp_md *ctx, bool l2)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = (__u64)(data_end - data), packets;
	struct spee_pkt p = {};
	struct spee_verdict v;
	struct spee_run run;
	int parsed = -1;

	if (spee_run_load(&run))
		return XDP_PASS; /* spee_rt is an array: cannot happen */

	if (l2)
		parsed = spee_parse_fast(data, data_end, &p);
	if (parsed < 0) {
		__builtin_memset(&p, 0, sizeof(p)); /* the fast path may have filled part of it */
		parsed = l2 ? spee_parse_xdp(ctx, &p) : spee_parse_xdp_l3(ctx, &p);
	}
	v = spee_judge(ctx, SPEE_AT_XDP, &run, parsed, &p, &packets);
	if (parsed == SPEE_PARSE_NON_IP)
		spee_count_l2(&run, SPEE_DIR_INGRESS, v, p.ethertype, bytes);
	return spee_account(&run, SPEE_DIR_INGRESS, v, packets, bytes, &p, ctx->ingress_ifindex,
			    SPEE_EV_PACKET) ?
		       XDP_PASS :
		       XDP_DROP;
}

SEC("xdp")
int spee_xdp(struct xdp_md *ctx)
{
	return spee_ingress(ctx, true);
}

SEC("xdp")
int spee_xdp_l3(struct xdp_md *ctx)
{
	return spee_ingress(ctx, false);
}

/*
 * Egress. The host's traffic to itself is let through first: everything on
 * the loopback device, and (spee_judge) packets to 127/8, ::1 or the
 * host's own addresses.
 */
SEC("cgroup_skb/egress")
int spee_egress(struct __sk_buff *skb)
{
	struct spee_pkt p = {};
	struct spee_verdict v;
	struct spee_run run;
	__u64 packets = 1;
	int parsed;

	/*
	 * What is said before the parse is a pass in every mode and slot
	 * (spee_allows): counted without reading the slot's settings, one
	 * cache line fewer on every established segment.
	 */
	if (spee_netns_cookie && spee_netns_skb &&
	    bpf_get_netns_cookie(skb) != spee_netns_cookie)
		/* A socket of another network namespace: a container's, not the host's. */
		return spee_count_pass(SPEE_DIR_EGRESS, SPEE_REASON_CONTAINER, SPEE_CTX(skb->len));
	if (spee_lo_ifindex && SPEE_CTX(skb->ifindex) == spee_lo_ifindex)
		return spee_count_pass(SPEE_DIR_EGRESS, SPEE_REASON_LOOPBACK, SPEE_CTX(skb->len));
	if (spee_mid_connection(skb))
		return spee_count_pass(SPEE_DIR_EGRESS, SPEE_REASON_ESTABLISHED, SPEE_CTX(skb->len));
	if (spee_run_load(&run))
		return 1;
	/* A packet sent whole in the linear part (a SYN, most datagrams): inline. */
	parsed = spee_parse_fast_ip((void *)(long)SPEE_CTX(skb->data),
				    (void *)(long)SPEE_CTX(skb->data_end),
				    (__be16)SPEE_CTX(skb->protocol), &p);
	if (parsed < 0) {
		__builtin_memset(&p, 0, sizeof(p)); /* the fast path may have filled part of it */
		parsed = spee_parse_skb(skb, &p);
	}
	if (parsed < 0) /* no direct access: only a test run's, on some kernels */
		parsed = spee_parse_copy ? spee_parse_skb_copy(skb, &p) : SPEE_PARSE_MALFORMED;
	v = spee_judge(skb, SPEE_AT_CGROUP, &run, parsed, &p, &packets);
	if (parsed == SPEE_PARSE_NON_IP)
		spee_count_l2(&run, SPEE_DIR_EGRESS, v, p.ethertype, SPEE_CTX(skb->len));
	return spee_account(&run, SPEE_DIR_EGRESS, v, packets, SPEE_CTX(skb->len), &p,
			    SPEE_CTX(skb->ifindex), SPEE_EV_PACKET) ?
		       1 :
		       0;
}

/*
 * tc egress, on the enforced interfaces: frames that no cgroup hook saw.
 * Packet sockets (AF_PACKET, CAP_NET_RAW) hand frames to the device
 * directly, past the IP stack where the cgroup hook runs; here they are
 * judged by the same egress decision, their link header aside. Frames of
 * the host's inet sockets (judged at the cgroup hook already: one
 * counter, not two) and frames without a socket (forwarded, or the
 * kernel's own: ARP, ND) leave after one load and a compare. A packet
 * socket with PACKET_QDISC_BYPASS skips tc as well (README).
 */
static __always_inline int spee_tc(struct __sk_buff *skb, bool l2)
{
	struct bpf_sock *sk = skb->sk;
	struct spee_pkt p = {};
	struct spee_verdict v;
	struct spee_run run;
	__u64 packets;
	int parsed;

	/*
	 * The family is read from the socket's common part, without
	 * bpf_sk_fullsock(): a TCP request or time-wait socket (not full) is
	 * inet too, judged at the cgroup hook as its listener's or its
	 * connection's. One helper call less on every packet the host sends.
	 */
	if (!sk || sk->family == SPEE_AF_INET || sk->family == SPEE_AF_INET6)
		return SPEE_TC_ACT_UNSPEC;
	if (spee_run_load(&run))
		return SPEE_TC_ACT_UNSPEC;
	parsed = l2 ? spee_parse_tc_eth(skb, &p) : spee_parse_tc_ip(skb, &p);
	v = spee_judge(skb, SPEE_AT_TC, &run, parsed, &p, &packets);
	if (parsed == SPEE_PARSE_NON_IP)
		spee_count_l2(&run, SPEE_DIR_EGRESS, v, p.ethertype, skb->len);
	return spee_account(&run, SPEE_DIR_EGRESS, v, packets, skb->len, &p, skb->ifindex,
			    SPEE_EV_PACKET) ?
		       SPEE_TC_ACT_UNSPEC :
		       SPEE_TC_ACT_SHOT;
}

SEC("tc")
int spee_tc_egress(struct __sk_buff *skb)
{
	return spee_tc(skb, true);
}

SEC("tc")
int spee_tc_egress_l3(struct __sk_buff *skb)
{
	return spee_tc(skb, false);
}

/*
 * connect() and sendmsg(): a cgroup_skb drop of a SYN leaves connect()
 * hanging in SYN retransmits (and bpf_set_retval is refused for
 * cgroup_skb), so a TCP connect the policy denies is refused here, where
 * returning 0 makes connect() fail with EPERM at once; an unconnected UDP
 * send likewise, judged on the address the socket names (msg_name), which
 * a source route would otherwise hide (udp_sendmsg() runs this hook before
 * IP_OPTIONS or IPV6_RTHDR put their first hop in its place). Only a
 * refusal is counted, as one packet of 0 bytes through the common exit:
 * what goes ahead becomes a packet, counted by the egress program. UDP
 * connect() is left alone (getaddrinfo() connects UDP sockets to sort
 * addresses, and sends nothing); a connected socket's sends are judged as
 * packets.
 */
static __always_inline int spee_refuse(const struct spee_run *run, struct spee_verdict v,
				       struct spee_pkt *p, __u8 origin)
{
	/* Audit mode refuses nothing: the packet is counted as a would-drop. */
	if (spee_allows(run, SPEE_DIR_EGRESS, v) || run->cfg->mode == SPEE_MODE_AUDIT)
		return 1;
	return spee_account(run, SPEE_DIR_EGRESS, v, 1, 0, p, 0, origin) ? 1 : 0;
}

/* A call of a socket of another network namespace (a container's): not the host's to judge. */
static __always_inline bool spee_foreign_call(struct bpf_sock_addr *ctx)
{
	return spee_netns_cookie && bpf_get_netns_cookie(ctx) != spee_netns_cookie;
}

static __always_inline int spee_connect(struct bpf_sock_addr *ctx, __u8 family, const __u8 *addr)
{
	struct spee_pkt p = {
		.family = family,
		.proto = SPEE_IPPROTO_TCP,
		.dport = (__be16)ctx->user_port,
	};
	struct spee_verdict v;
	struct spee_run run;

	if (spee_foreign_call(ctx) || spee_run_load(&run))
		return 1;
	if (spee_is_local(&run, family, addr))
		return 1;
	v = spee_rule_lookup(&run, SPEE_DIR_EGRESS, SPEE_L4_TCP, (__be16)ctx->user_port, family,
			     addr);
	__builtin_memcpy(p.daddr, addr, 16);
	return spee_refuse(&run, v, &p, SPEE_EV_CONNECT);
}

/*
 * An unconnected UDP send to a destination no rule allows is refused
 * unless it may be a reply, which the egress program then judges exactly
 * (flow state). With a known source address the flow says so; a socket
 * bound to the wildcard address has none yet (routing chooses it later),
 * so there a reply is possible where a rule lets that peer send to this
 * port. Hence nothing is refused here that the egress program would let
 * through, apart from a reply kept by a flow across a policy change.
 */
static __always_inline int spee_sendmsg(struct bpf_sock_addr *ctx, __u8 family, const __u8 *addr,
					const __u8 *laddr)
{
	struct spee_pkt p = {
		.family = family,
		.proto = SPEE_IPPROTO_UDP,
		.dport = (__be16)ctx->user_port,
	};
	struct bpf_sock *sk = ctx->sk;
	struct spee_verdict v;
	struct spee_run run;
	bool wildcard = true;

	if (spee_foreign_call(ctx) || spee_run_load(&run) || !sk)
		return 1;
	if (spee_is_local(&run, family, addr))
		return 1;
	v = spee_rule_lookup(&run, SPEE_DIR_EGRESS, SPEE_L4_UDP, p.dport, family, addr);
	if (spee_allows(&run, SPEE_DIR_EGRESS, v) || run.cfg->mode == SPEE_MODE_AUDIT)
		return 1;
	p.sport = bpf_htons((__u16)sk->src_port);
	__builtin_memcpy(p.daddr, addr, 16);
	__builtin_memcpy(p.saddr, laddr, 16);
	for (int i = 0; i < 16; i++)
		wildcard = wildcard && !laddr[i];
	if (!wildcard) {
		struct spee_flow_state *st = spee_flow_find(&p, true);

		if (st && spee_flow_fresh(st, bpf_ktime_get_ns(), run.cfg->udp_timeout_ns))
			return 1;
	} else if (!spee_is_no_rule(spee_rule_lookup(&run, SPEE_DIR_INGRESS, SPEE_L4_UDP, p.sport,
						      family, addr)) ||
		   run.cfg->default_action[SPEE_DIR_INGRESS] == SPEE_ACTION_PASS) {
		return 1;
	}
	return spee_refuse(&run, v, &p, SPEE_EV_SENDMSG);
}

static __always_inline bool spee_tcp_stream(struct bpf_sock_addr *ctx)
{
	return ctx->type == SPEE_SOCK_STREAM && ctx->protocol == SPEE_IPPROTO_TCP;
}

static __always_inline bool spee_udp_dgram(struct bpf_sock_addr *ctx)
{
	return ctx->type == SPEE_SOCK_DGRAM && ctx->protocol == SPEE_IPPROTO_UDP;
}

/*
 * The address a socket call names, as the policy knows it: IPv4 in the
 * first 4 bytes; an IPv4-mapped IPv6 address is the IPv4 it maps (the
 * call goes over IPv4). Returns false for what is the host itself: 127/8,
 * ::1, and the unspecified 0.0.0.0 and :: (which connect to this host).
 * explain does the same (src/policy/explain.c, explain_socket_peer).
 */
static __always_inline bool spee_sock_peer4(__u32 ip4, __u8 *addr)
{
	__builtin_memcpy(addr, &ip4, 4);
	return !(addr[0] == 127 || ip4 == 0);
}

static __always_inline bool spee_sock_peer6(struct bpf_sock_addr *ctx, __u8 *family, __u8 *addr)
{
	__u32 w[4];

	/* The context allows only 4-byte reads of user_ip6. */
	w[0] = ctx->user_ip6[0];
	w[1] = ctx->user_ip6[1];
	w[2] = ctx->user_ip6[2];
	w[3] = ctx->user_ip6[3];
	/*
	 * The empty asm keeps clang from turning the tests of the words into
	 * flags computed ahead of their branches, whose combinations the
	 * verifier would walk apart: twice the instructions to verify.
	 */
	asm volatile("" : "+r"(w[0]), "+r"(w[1]), "+r"(w[2]), "+r"(w[3]));
	if (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff)) {
		*family = SPEE_FAMILY_V4;
		return spee_sock_peer4(w[3], addr);
	}
	*family = SPEE_FAMILY_V6;
	__builtin_memcpy(addr, w, 16);
	return !(spee_is_loopback(SPEE_FAMILY_V6, addr) || (!w[0] && !w[1] && !w[2] && !w[3]));
}

SEC("cgroup/connect4")
int spee_connect4(struct bpf_sock_addr *ctx)
{
	__u8 addr[16] = {};

	if (!spee_tcp_stream(ctx) || !spee_sock_peer4(ctx->user_ip4, addr))
		return 1;
	return spee_connect(ctx, SPEE_FAMILY_V4, addr);
}

SEC("cgroup/connect6")
int spee_connect6(struct bpf_sock_addr *ctx)
{
	__u8 addr[16] = {}, family;

	if (!spee_tcp_stream(ctx) || !spee_sock_peer6(ctx, &family, addr))
		return 1;
	return spee_connect(ctx, family, addr);
}

SEC("cgroup/sendmsg4")
int spee_sendmsg4(struct bpf_sock_addr *ctx)
{
	__u8 addr[16] = {}, laddr[16] = {};
	__u32 src;

	if (!spee_udp_dgram(ctx) || !spee_sock_peer4(ctx->user_ip4, addr))
		return 1;
	/* IP_PKTINFO's source if the call gives one, else the socket's bound address */
	src = ctx->msg_src_ip4;
	if (!src && ctx->sk)
		src = ctx->sk->src_ip4;
	__builtin_memcpy(laddr, &src, 4);
	return spee_sendmsg(ctx, SPEE_FAMILY_V4, addr, laddr);
}

SEC("cgroup/sendmsg6")
int spee_sendmsg6(struct bpf_sock_addr *ctx)
{
	__u8 addr[16] = {}, laddr[16] = {}, family;
	__u32 w[4];

	if (!spee_udp_dgram(ctx) || !spee_sock_peer6(ctx, &family, addr))
		return 1;
	w[0] = ctx->msg_src_ip6[0];
	w[1] = ctx->msg_src_ip6[1];
	w[2] = ctx->msg_src_ip6[2];
	w[3] = ctx->msg_src_ip6[3];
	if (!(w[0] | w[1] | w[2] | w[3]) && ctx->sk) {
		w[0] = ctx->sk->src_ip6[0];
		w[1] = ctx->sk->src_ip6[1];
		w[2] = ctx->sk->src_ip6[2];
		w[3] = ctx->sk->src_ip6[3];
	}
	asm volatile("" : "+r"(w[0]), "+r"(w[1]), "+r"(w[2]), "+r"(w[3])); /* as in spee_sock_peer6 */
	if (family == SPEE_FAMILY_V4) {
		/* a mapped destination leaves over IPv4: a mapped source, or none */
		if (!w[0] && !w[1] && w[2] == bpf_htonl(0xffff))
			__builtin_memcpy(laddr, &w[3], 4);
	} else {
		__builtin_memcpy(laddr, w, 16);
	}
	return spee_sendmsg(ctx, family, addr, laddr);
}

/*
 * Gateway mode (gateway.bpf.h): every packet judged once, where it enters
 * the machine. XDP on routed interfaces (spee_gw_xdp_l3 on devices without
 * a link header, as host mode's), tc ingress on the ports of a bridge,
 * whose forwarding XDP does not see as it sees routed traffic. tc parses
 * as host mode's tc egress does: a VM's GSO frame is longer than its linear
 * part.
 */
static __always_inline int spee_gw_xdp_judge(struct xdp_md *ctx, bool l2)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = (__u64)(data_end - data), packets;
	struct spee_gw_judged j = {};
	struct spee_pkt p = {};
	struct spee_run run;
	int parsed = -1;

	if (spee_run_load(&run))
		return XDP_PASS;
	if (l2)
		parsed = spee_parse_fast(data, data_end, &p);
	if (parsed < 0) {
		__builtin_memset(&p, 0, sizeof(p));
		parsed = l2 ? spee_parse_xdp(ctx, &p) : spee_parse_xdp_l3(ctx, &p);
	}
	spee_gw_judge(ctx, true, &run, parsed, &p, &j, &packets);
	if (parsed == SPEE_PARSE_NON_IP)
		spee_count_l2(&run, SPEE_DIR_INGRESS, j.v[SPEE_DIR_INGRESS], p.ethertype, bytes);
	return spee_gw_account(&run, &j, packets, bytes, &p, ctx->ingress_ifindex) ? XDP_PASS :
										     XDP_DROP;
}

SEC("xdp")
int spee_gw_xdp(struct xdp_md *ctx)
{
	return spee_gw_xdp_judge(ctx, true);
}

SEC("xdp")
int spee_gw_xdp_l3(struct xdp_md *ctx)
{
	return spee_gw_xdp_judge(ctx, false);
}

SEC("tc")
int spee_gw_tc(struct __sk_buff *skb)
{
	struct spee_gw_judged j = {};
	struct spee_pkt p = {};
	struct spee_run run;
	__u64 packets;
	int parsed;

	if (spee_run_load(&run))
		return SPEE_TC_ACT_UNSPEC;
	parsed = spee_parse_tc_eth(skb, &p);
	spee_gw_judge(skb, false, &run, parsed, &p, &j, &packets);
	if (parsed == SPEE_PARSE_NON_IP)
		spee_count_l2(&run, SPEE_DIR_INGRESS, j.v[SPEE_DIR_INGRESS], p.ethertype, skb->len);
	return spee_gw_account(&run, &j, packets, skb->len, &p, skb->ifindex) ?
		       SPEE_TC_ACT_UNSPEC :
		       SPEE_TC_ACT_SHOT;
}
