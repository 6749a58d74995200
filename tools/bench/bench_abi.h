/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bench_abi.h - what the benchmark's BPF programs (bench.bpf.c) and its
 * harness share: the reference filter's key and the counter record.
 * Included after vmlinux.h on the BPF side, after <linux/types.h> in C.
 */
#ifndef SPEE_BENCH_ABI_H
#define SPEE_BENCH_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* The reference filter's one lookup: {proto, port, source}. */
struct bench_ref_key {
	__u8 proto;    /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;   /* 0 IPv4, 1 IPv6 */
	__be16 port;   /* destination port, network order */
	__u8 addr[16]; /* source; IPv4 in the first 4 bytes */
};

struct bench_counter {
	__u64 packets;
	__u64 bytes;
};

#ifndef __bpf__
_Static_assert(sizeof(struct bench_ref_key) == 20, "bench_ref_key layout");
#endif

#endif /* SPEE_BENCH_ABI_H */
