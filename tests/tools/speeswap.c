// SPDX-License-Identifier: GPL-2.0-only
/*
 * speeswap: puts a foreign program behind a pinned link, the way someone
 * else's tool could, to test that speebpf notices and repairs it.
 *   speeswap LINK_PIN xdp|cgroup-skb|connect4|connect6
 * The foreign program passes everything (XDP_PASS, or 1 for cgroup hooks).
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	/* r0 = verdict; exit */
	struct bpf_insn insns[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts);
	enum bpf_prog_type type;
	int prog, link;

	if (argc != 3) {
		fprintf(stderr, "usage: speeswap LINK_PIN xdp|cgroup-skb|connect4|connect6\n");
		return 64;
	}
	if (!strcmp(argv[2], "xdp")) {
		type = BPF_PROG_TYPE_XDP;
		opts.expected_attach_type = BPF_XDP;
		insns[0].imm = 2; /* XDP_PASS */
	} else if (!strcmp(argv[2], "cgroup-skb")) {
		type = BPF_PROG_TYPE_CGROUP_SKB;
		opts.expected_attach_type = BPF_CGROUP_INET_EGRESS;
	} else if (!strcmp(argv[2], "connect4") || !strcmp(argv[2], "connect6")) {
		type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
		opts.expected_attach_type = argv[2][7] == '4' ? BPF_CGROUP_INET4_CONNECT :
								BPF_CGROUP_INET6_CONNECT;
	} else {
		fprintf(stderr, "speeswap: unknown kind %s\n", argv[2]);
		return 64;
	}
	prog = bpf_prog_load(type, "foreign", "GPL", insns, 2, &opts);
	if (prog < 0) {
		fprintf(stderr, "speeswap: cannot load: %s\n", strerror(errno));
		return 1;
	}
	link = bpf_obj_get(argv[1]);
	if (link < 0 || bpf_link_update(link, prog, NULL)) {
		fprintf(stderr, "speeswap: cannot update %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("swapped a foreign %s program into %s\n", argv[2], argv[1]);
	close(link);
	close(prog);
	return 0;
}
