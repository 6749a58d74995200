/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * uapi.bpf.h - the layouts the programs read: the program contexts
 * (xdp_md, __sk_buff, bpf_sock, bpf_sock_addr) and the wire headers. All
 * of them are fixed ABI, so they come from the kernel's UAPI headers
 * (linux-libc-dev) and not from vmlinux.h, whose preserve_access_index
 * would make every field access a CO-RE relocation: an object with any
 * makes libbpf read and parse the running kernel's BTF (megabytes) on
 * every load. tests/unit/test_objects.c checks that the object has none.
 *
 * Included first by maps.bpf.h, before <bpf/bpf_helpers.h> (which then
 * defines __always_inline as it must).
 */
#ifndef SPEE_UAPI_BPF_H
#define SPEE_UAPI_BPF_H

#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

/* Wire headers the UAPI headers lack (the kernel's vlan_hdr and frag_hdr are internal). */
struct spee_vlan_hdr {
	__be16 h_vlan_TCI;
	__be16 h_vlan_encapsulated_proto;
};

/* The IPv6 fragment header (RFC 8200 4.5). */
struct spee_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 identification;
};

/*
 * A context field read where it is written. CO-RE's relocated loads kept
 * clang from moving context reads; plain ones it may hoist to the top and
 * hold in registers through the whole program, which spee_egress's
 * verification paid for (~1,500 more instructions verified).
 */
#define SPEE_CTX(field) (*(volatile typeof(field) *)&(field))

/* Socket types (the kernel's enum sock_type is not UAPI; libc's <sys/socket.h> is not for BPF). */
#define SPEE_SOCK_STREAM 1
#define SPEE_SOCK_DGRAM 2

#endif /* SPEE_UAPI_BPF_H */
