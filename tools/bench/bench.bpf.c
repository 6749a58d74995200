// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench.bpf.c - the benchmark's own BPF programs, measured beside speebpf's
 * in the same run:
 *  - bench_empty: XDP_PASS and nothing else, the fixed cost of the hook;
 *  - bench_ref: the reference filter, the floor for this job: it parses
 *    like speebpf (Ethernet, up to two VLAN tags, IPv4 or IPv6, TCP or UDP,
 *    with the same bounds checks), does exactly one hash lookup {proto,
 *    port, source} and bumps one per-CPU counter;
 *  - bench_skb_empty: the same fixed cost for cgroup_skb/egress;
 *  - bench_sink: on the peer's veth while the egress rows run on real
 *    sockets, it drops what is sent to one address (of each family), so
 *    that the SYNs sent there are never answered;
 *  - bench_tx: the flood's sender, run by BPF_PROG_TEST_RUN in live-frames
 *    mode: it gives each frame a random IPv4 source in the flood range and
 *    sends it back out (XDP_TX) to the veth whose peer is measured.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bench_abi.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

/*
 * {proto, port, source} -> allowed; sized by the harness before loading.
 * Preallocated, as speebpf's spee_exact is.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct bench_ref_key);
	__type(value, __u32);
} ref_allow SEC(".maps");

/* [0] refused, [1] allowed. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct bench_counter);
} ref_ctr SEC(".maps");

SEC("xdp")
int bench_empty(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

SEC("cgroup_skb/egress")
int bench_skb_empty(struct __sk_buff *skb)
{
	(void)skb;
	return 1;
}

/* The address bench_sink drops packets to, network order; set by the harness. */
const volatile __u32 sink4 = 0;
const volatile __u32 sink6[4] = {};

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) <= end && ip->daddr == sink4)
			return XDP_DROP;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) <= end && ip6->daddr.in6_u.u6_addr32[0] == sink6[0] &&
		    ip6->daddr.in6_u.u6_addr32[1] == sink6[1] &&
		    ip6->daddr.in6_u.u6_addr32[2] == sink6[2] &&
		    ip6->daddr.in6_u.u6_addr32[3] == sink6[3])
			return XDP_DROP;
	}
	return XDP_PASS;
}

SEC("xdp")
int bench_ref(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct bench_ref_key k = {};
	struct bench_counter *c;
	struct ethhdr *eth = data;
	void *pos = eth + 1;
	__u32 hit = 0, l4len = 0;
	__be16 proto;
	__u8 l4;

	if (pos > end)
		goto out;
	proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct vlan_hdr *vh = pos;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > end)
			goto out;
		proto = vh->h_vlan_encapsulated_proto;
		pos = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = pos;
		__u32 hlen;

		if ((void *)(ip + 1) > end || ip->ihl < 5)
			goto out;
		hlen = ip->ihl * 4;
		if (pos + hlen > end || bpf_ntohs(ip->tot_len) < hlen ||
		    pos + bpf_ntohs(ip->tot_len) > end)
			goto out;
		if (ip->frag_off & bpf_htons(0x3fff))
			goto out; /* fragments: refused, as a floor needs no state */
		l4 = ip->protocol;
		l4len = bpf_ntohs(ip->tot_len) - hlen;
		k.family = 0;
		__builtin_memcpy(k.addr, &ip->saddr, 4);
		pos += hlen;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = pos;

		if ((void *)(ip6 + 1) > end)
			goto out;
		if ((void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len) > end)
			goto out;
		l4 = ip6->nexthdr;
		l4len = bpf_ntohs(ip6->payload_len);
		k.family = 1;
		__builtin_memcpy(k.addr, &ip6->saddr, 16);
		pos = ip6 + 1;
	} else {
		goto out;
	}
	if (l4 == IPPROTO_TCP_) {
		struct tcphdr *th = pos;

		if ((void *)(th + 1) > end || th->doff < 5 || l4len < th->doff * 4)
			goto out;
		k.port = th->dest;
	} else if (l4 == IPPROTO_UDP_) {
		struct udphdr *uh = pos;

		if ((void *)(uh + 1) > end)
			goto out;
		k.port = uh->dest;
	} else {
		goto out;
	}
	k.proto = l4;
	hit = bpf_map_lookup_elem(&ref_allow, &k) != NULL;
out:
	c = bpf_map_lookup_elem(&ref_ctr, &hit);
	if (c) {
		c->packets++;
		c->bytes += end - data;
	}
	return hit ? XDP_PASS : XDP_DROP;
}

/* 198.19.160.0/19, set by the harness (bench_abi.h) */
const volatile __u32 flood_base = 0;
const volatile __u32 flood_mask = 0;

static __always_inline __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* RFC 1624 incremental update of a checksum for a 32-bit field changing from a to b. */
static __always_inline __u16 csum_replace4(__u16 check, __u32 a, __u32 b)
{
	__u32 s = (__u16)~check;

	s += (__u16) ~(a & 0xffff) + (__u16) ~(a >> 16);
	s += (b & 0xffff) + (b >> 16);
	return ~csum_fold(s);
}

SEC("xdp")
int bench_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th = (void *)(ip + 1);
	__u32 old, new;

	/* The harness sends IPv4 TCP without options, so fixed offsets hold. */
	if ((void *)(th + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_ABORTED;
	old = ip->saddr;
	new = bpf_htonl(flood_base | (bpf_get_prandom_u32() & flood_mask));
	ip->saddr = new;
	ip->check = csum_replace4(ip->check, old, new);
	th->check = csum_replace4(th->check, old, new); /* the pseudo-header has it too */
	return XDP_TX;
}
