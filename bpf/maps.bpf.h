/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * maps.bpf.h - every map of the speebpf object. Keys and values come from
 * include/spee_abi.h; user space (src/maps.c, src/loader.c) finds the maps by
 * these names, which must stay within the kernel's 15 characters.
 *
 * The sizes of spee_exact, spee_prefix, spee_flows and spee_frags here are
 * defaults: the loader sets them from the policy before loading.
 *
 * The first of the stage headers, each of which includes the one before it
 * and compiles on its own (the Makefile checks): maps -> parse -> state ->
 * decide -> account. Included by bpf/speebpf.bpf.c through them.
 */
#ifndef SPEE_MAPS_BPF_H
#define SPEE_MAPS_BPF_H

#include "uapi.bpf.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "spee_abi.h"

/* The switch between the two policy slots and each slot's settings. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct spee_runtime);
} spee_rt SEC(".maps");

/*
 * Host addresses of peers (and the host's own addresses, proto
 * SPEE_PROTO_LOCAL). Preallocated: an apply writes six entries or so per
 * host, and a preallocated element is written in half the time of one the
 * kernel allocates on update. The memory is taken at load, so writing
 * entries never fails for want of it; the loader sizes the map to the policy.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, struct spee_rule_key);
	__type(value, struct spee_verdict);
} spee_exact SEC(".maps");

/* Prefixes shorter than a host address; the kernel requires NO_PREALLOC. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct spee_prefix_key);
	__type(value, struct spee_verdict);
} spee_prefix SEC(".maps");

/*
 * One element per slot, direction, l4 protocol and port: spee_port_index().
 * Mmapable, so that user space reads a slot's table back in one copy.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, SPEE_PORT_ENTRIES);
	__type(key, __u32);
	__type(value, struct spee_port_info);
} spee_ports SEC(".maps");

/* The host's own addresses per slot and direction, inline (spee_abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SPEE_POLICY_SLOTS * SPEE_DIR_MAX);
	__type(key, __u32);
	__type(value, struct spee_local_set);
} spee_local SEC(".maps");

/*
 * Connections and UDP flows, from the host's side. LRU: an evicted TCP
 * entry is found again by the socket-lookup fallback.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct spee_flow_key);
	__type(value, struct spee_flow_state);
} spee_flows SEC(".maps");

/* Verdicts of first fragments, for the later fragments of the datagram. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct spee_frag_key);
	__type(value, struct spee_frag_state);
} spee_frags SEC(".maps");

/* Per-CPU counters: no atomics on the fast path; user space sums the CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SPEE_MAX_RULES * SPEE_DIR_MAX);
	__type(key, __u32);
	__type(value, struct spee_counter);
} spee_rule_ctr SEC(".maps");

/* Reasons (spee_reason_ctr_index), then non-IP frames by class (spee_l2_ctr_index). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SPEE_REASON_CTR_ENTRIES);
	__type(key, __u32);
	__type(value, struct spee_counter);
} spee_reason_ctr SEC(".maps");

/*
 * Scratch space for parse.bpf.h's copy of a packet's headers, used only
 * where the egress program has no direct packet access (BPF_PROG_TEST_RUN
 * on older kernels). Per CPU, never pinned: nothing outlives one packet.
 */
#define SPEE_SKB_COPY 1024

struct spee_skb_copy {
	__u8 b[SPEE_SKB_COPY];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct spee_skb_copy);
} spee_skbcopy SEC(".maps");

/* Drop events (struct spee_event), read by `speebpf events`. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SPEE_EVENTS_BYTES);
} spee_events SEC(".maps");

/* The drop events' rate limit, one token bucket per CPU: no atomics. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct spee_ev_bucket);
} spee_ev_bucket SEC(".maps");

/* Events sent, held back by the rate limit, lost to a full ring (enum spee_ev_stat). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SPEE_EV_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} spee_ev_stats SEC(".maps");

/*
 * What suggest learns from (spee_abi.h): remote addresses of ANY-side
 * rules, and audit mode's would-drops. LRU: bounded, the recent kept.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SPEE_SEEN_ENTRIES);
	__type(key, struct spee_seen_key);
	__type(value, struct spee_tally);
} spee_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SPEE_WOULD_ENTRIES);
	__type(key, struct spee_would_key);
	__type(value, struct spee_tally);
} spee_would SEC(".maps");

/* Read and written by user space only; here so that a pin dir holds them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SPEE_MAX_RULES);
	__type(key, __u32);
	__type(value, struct spee_rule_meta);
} spee_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct spee_instance);
} spee_inst SEC(".maps");

/*
 * Gateway mode (spee_abi.h): inventory hosts' addresses, their names,
 * counters per host, and the connections the gateway let start. Created
 * small in host mode (the loader sizes them); only the gateway programs
 * use them.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct spee_gw_host_key);
	__type(value, struct spee_gw_host);
} spee_gw_hosts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, struct spee_gw_name);
} spee_gw_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct spee_gw_ctr_key);
	__type(value, struct spee_counter);
} spee_gw_ctr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct spee_flow_key);
	__type(value, struct spee_gw_flow);
} spee_gw_flows SEC(".maps");

/* Half-open TCP connections: a SYN flood evicts these, never spee_gw_flows' (spee_abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct spee_flow_key);
	__type(value, struct spee_gw_flow);
} spee_gw_syns SEC(".maps");

#endif /* SPEE_MAPS_BPF_H */
