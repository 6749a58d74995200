// SPDX-License-Identifier: GPL-2.0-only
/*
 * bad.bpf.c - an object every verifier must reject (a packet read without
 * a bounds check), for tests/kernels/test_runner.sh: the runner has to say
 * that it did not load.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int bad_xdp(struct xdp_md *ctx)
{
	unsigned char *data = (unsigned char *)(long)ctx->data;

	return data[20] == 6 ? XDP_DROP : XDP_PASS;
}
