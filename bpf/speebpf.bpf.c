// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf.bpf.c - the entry points: XDP for ingress, cgroup_skb/egress for
 * what the host sends, cgroup/connect4 and cgroup/connect6 to refuse a
 * denied TCP connect() at once. Each runs parse -> state -> decide ->
 * account (the headers below, in that order) and leaves through one exit
 * that bumps one counter.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "spee_abi.h"

#include "maps.bpf.h"
#include "parse.bpf.h"
#include "state.bpf.h"
#include "decide.bpf.h"
#include "account.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * Ingress. The flow table is the fast path and the socket table is asked
 * only on a miss. Measured with test_run on this design's parser: parsing
 * alone ~28 ns a packet, with one hash lookup ~43 ns, with
 * bpf_skc_lookup_tcp ~77 ns.
 */
SEC("xdp")
int spee_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct spee_pkt p = {};
	struct spee_verdict v;
	struct spee_run run;
	int parsed;

	if (spee_run_load(&run))
		return XDP_PASS; /* spee_rt is an array: cannot happen */

	parsed = spee_parse_fast(data, data_end, &p);
	if (parsed < 0) {
		__builtin_memset(&p, 0, sizeof(p)); /* the fast path may have filled part of it */
		parsed = spee_parse_xdp(ctx, &p);
	}
	if (!spee_parse_verdict(parsed, &p, &v)) {
		v = spee_decide_ingress(ctx, &run, &p);
		if (p.frag == SPEE_FRAG_FIRST && spee_allows(&run, SPEE_DIR_INGRESS, v))
			spee_frag_put(&p, v);
	}
	return spee_account(&run, SPEE_DIR_INGRESS, v, (__u64)(data_end - data), &p,
			    ctx->ingress_ifindex) ?
		       XDP_PASS :
		       XDP_DROP;
}

/*
 * Egress. The host's traffic to itself is let through first: everything on
 * the loopback device, and packets to 127/8, ::1 or the host's own
 * addresses (which leave through lo too, but say so here without relying
 * on the device).
 */
SEC("cgroup_skb/egress")
int spee_egress(struct __sk_buff *skb)
{
	struct spee_pkt p = {};
	struct spee_verdict v;
	struct spee_run run;
	int parsed;

	if (spee_run_load(&run))
		return 1;

	if (spee_lo_ifindex && skb->ifindex == spee_lo_ifindex) {
		v = spee_verdict_of(SPEE_REASON_LOOPBACK);
		goto out;
	}
	parsed = spee_parse_skb(skb, &p);
	if (parsed != SPEE_PARSE_MALFORMED && parsed != SPEE_PARSE_NON_IP &&
	    (spee_is_loopback(p.family, p.daddr) || spee_is_local(&run, p.family, p.daddr))) {
		v = spee_verdict_of(SPEE_REASON_LOOPBACK);
		goto out;
	}
	if (!spee_parse_verdict(parsed, &p, &v)) {
		v = spee_decide_egress(skb, &run, &p);
		if (p.frag == SPEE_FRAG_FIRST && spee_allows(&run, SPEE_DIR_EGRESS, v))
			spee_frag_put(&p, v);
	}
out:
	return spee_account(&run, SPEE_DIR_EGRESS, v, skb->len, &p, skb->ifindex) ? 1 : 0;
}

/*
 * connect(): a cgroup_skb drop of a SYN leaves connect() hanging in SYN
 * retransmits (and bpf_set_retval is refused for cgroup_skb), so a TCP
 * connect the policy denies is refused here, where returning 0 makes
 * connect() fail with EPERM at once. Only the refusal is counted: a
 * connect that goes ahead is counted by the egress program, as its SYN.
 * UDP connect() is left alone (getaddrinfo uses it to sort addresses); the
 * egress program's drop already makes sendmsg fail with EPERM.
 */
static __always_inline int spee_connect(struct bpf_sock_addr *ctx, __u8 family, const __u8 *addr)
{
	struct spee_verdict v;
	struct spee_run run;

	if (spee_run_load(&run))
		return 1;
	if (spee_is_local(&run, family, addr))
		return 1;
	v = spee_rule_lookup(&run, SPEE_DIR_EGRESS, SPEE_L4_TCP, (__be16)ctx->user_port, family,
			     addr);
	if (spee_is_no_rule(v) && run.cfg.mode == SPEE_MODE_ENFORCE &&
	    run.cfg.default_action[SPEE_DIR_EGRESS] == SPEE_ACTION_DROP) {
		struct spee_pkt p = {
			.family = family,
			.proto = SPEE_IPPROTO_TCP,
			.dport = (__be16)ctx->user_port,
		};

		__builtin_memcpy(p.daddr, addr, 16);
		spee_count(SPEE_DIR_EGRESS, v, 1, 0);
		spee_report(&run, SPEE_DIR_EGRESS, v, &p, 0, 0, true);
		return 0;
	}
	return 1;
}

static __always_inline bool spee_tcp_stream(struct bpf_sock_addr *ctx)
{
	return ctx->type == SOCK_STREAM && ctx->protocol == SPEE_IPPROTO_TCP;
}

SEC("cgroup/connect4")
int spee_connect4(struct bpf_sock_addr *ctx)
{
	__u8 addr[16] = {};
	__u32 ip4;

	if (!spee_tcp_stream(ctx))
		return 1;
	ip4 = ctx->user_ip4;
	__builtin_memcpy(addr, &ip4, 4);
	if (addr[0] == 127 || ip4 == 0)
		return 1;
	return spee_connect(ctx, SPEE_FAMILY_V4, addr);
}

SEC("cgroup/connect6")
int spee_connect6(struct bpf_sock_addr *ctx)
{
	__u32 w[4];
	__u8 addr[16] = {};

	if (!spee_tcp_stream(ctx))
		return 1;
	/* The context allows only 4-byte reads of user_ip6. */
	w[0] = ctx->user_ip6[0];
	w[1] = ctx->user_ip6[1];
	w[2] = ctx->user_ip6[2];
	w[3] = ctx->user_ip6[3];
	if (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff)) {
		/* ::ffff:a.b.c.d connects over IPv4; judge the IPv4 address */
		__builtin_memcpy(addr, &w[3], 4);
		if (addr[0] == 127 || w[3] == 0)
			return 1;
		return spee_connect(ctx, SPEE_FAMILY_V4, addr);
	}
	__builtin_memcpy(addr, w, 16);
	if (spee_is_loopback(SPEE_FAMILY_V6, addr) || (!w[0] && !w[1] && !w[2] && !w[3]))
		return 1;
	return spee_connect(ctx, SPEE_FAMILY_V6, addr);
}
