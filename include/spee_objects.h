/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * spee_objects.h - the one list of the maps and programs of the BPF object
 * (bpf/speebpf.bpf.c) that user space handles by name. Every user-space
 * table of them (enums, names, pin names, what growth may do with a map,
 * how a program is attached) is generated from these lists; a map's shape
 * (type, key, value, flags) and a program's attach type are read from the
 * skeleton, never copied. tests/unit/test_objects.c checks that the lists
 * and the object agree, map for map and program for program.
 *
 * Adding a map or a program is one line here (and its definition in bpf/).
 * Included by src/kernel/objects.h, never by BPF code.
 */
#ifndef SPEE_OBJECTS_H
#define SPEE_OBJECTS_H

/*
 * Maps pinned under PIN_DIR/maps/<name>, in this order:
 *   X(ID, name, flags)   ->  SPEE_MAP_<ID>, "<name>"
 * Flags:
 *   SPEE_MAPF_SIZED      max_entries set by the loader (struct loader_sizes)
 *   SPEE_MAPF_REBUILDS   its state rebuilds itself (connections, fragments,
 *                        counters, drop events): a map of another build's
 *                        layout may start empty when this build's replaces it;
 *                        without it, a map of another layout is refused
 *   SPEE_MAPF_EXTENDS    its value only ever grows at its end (the instance
 *                        record): one of a shorter value, pinned by an older
 *                        build, is carried over with the new fields zero
 *   SPEE_MAPF_HOST       only host mode uses it, SPEE_MAPF_GATEWAY only the
 *                        gateway: the other mode's loader creates it with the
 *                        least room (a preallocated LRU of 65,536 flows costs
 *                        ~20 ms of a load); tests/bpf/test_maps.c checks that
 *                        no program of the other mode uses it
 * A map the loader does not size holds the object's number of entries: a
 * pinned one of another number is of another layout (counters of fewer
 * reasons), replaced as above.
 */
#define SPEE_MAPS(X)                                                                               \
	X(RT, spee_rt, 0)                                                                          \
	X(EXACT, spee_exact, SPEE_MAPF_SIZED)                                                      \
	X(PREFIX, spee_prefix, SPEE_MAPF_SIZED)                                                    \
	X(PORTS, spee_ports, 0)                                                                    \
	X(FLOWS, spee_flows, SPEE_MAPF_SIZED | SPEE_MAPF_REBUILDS | SPEE_MAPF_HOST)                \
	X(FRAGS, spee_frags, SPEE_MAPF_SIZED | SPEE_MAPF_REBUILDS)                                 \
	X(RULE_CTR, spee_rule_ctr, SPEE_MAPF_REBUILDS)                                             \
	X(REASON_CTR, spee_reason_ctr, SPEE_MAPF_REBUILDS)                                         \
	X(RULES, spee_rules, 0)                                                                    \
	X(INST, spee_inst, SPEE_MAPF_EXTENDS)                                                      \
	X(EVENTS, spee_events, SPEE_MAPF_REBUILDS)                                                 \
	X(EV_BUCKET, spee_ev_bucket, SPEE_MAPF_REBUILDS)                                           \
	X(EV_STATS, spee_ev_stats, SPEE_MAPF_REBUILDS)                                             \
	X(SEEN, spee_seen, SPEE_MAPF_REBUILDS)                                                     \
	X(WOULD, spee_would, SPEE_MAPF_REBUILDS)                                                   \
	X(GW_HOSTS, spee_gw_hosts, SPEE_MAPF_SIZED | SPEE_MAPF_GATEWAY)                            \
	X(GW_NAMES, spee_gw_names, SPEE_MAPF_SIZED | SPEE_MAPF_GATEWAY)                            \
	X(GW_CTR, spee_gw_ctr, SPEE_MAPF_SIZED | SPEE_MAPF_REBUILDS | SPEE_MAPF_GATEWAY)           \
	X(GW_FLOWS, spee_gw_flows, SPEE_MAPF_SIZED | SPEE_MAPF_REBUILDS | SPEE_MAPF_GATEWAY)       \
	X(LOCAL, spee_local, 0)                                                                    \
	X(GW_SYNS, spee_gw_syns, SPEE_MAPF_SIZED | SPEE_MAPF_REBUILDS | SPEE_MAPF_GATEWAY)

/* Maps private to one loaded object: never pinned, never opened by user space. */
#define SPEE_SCRATCH_MAPS(X) X(spee_skbcopy)

#define SPEE_MAPF_SIZED 0x1u
#define SPEE_MAPF_REBUILDS 0x2u
#define SPEE_MAPF_EXTENDS 0x4u
#define SPEE_MAPF_HOST 0x8u
#define SPEE_MAPF_GATEWAY 0x10u

/*
 * Programs, in this order (the order of the instance record's program tags:
 * a new program goes at the end):
 *   X(ID, name, where, frames, pin)  ->  SPEE_PROG_<ID>, the skeleton's program <name>
 * where:
 *   SPEE_ATTACH_XDP      ingress: one XDP link per interface, pinned as
 *                        PIN_DIR/links/<pin><ifname>
 *   SPEE_ATTACH_TC       egress of packet sockets: the tc egress filter of each
 *                        interface (src/kernel/ifaces.h); no link, no pin (NULL):
 *                        the filter stays with its device
 *   SPEE_ATTACH_CGROUP   one link on the instance's cgroup, pinned as PIN_DIR/links/<pin>
 *   SPEE_ATTACH_GW_XDP   gateway mode (--gateway): XDP on a routed interface, pinned
 *                        as PIN_DIR/links/<pin><ifname>
 *   SPEE_ATTACH_GW_TC    gateway mode: the tc ingress filter of a bridge port (XDP
 *                        does not see what a bridge forwards between its ports as
 *                        it sees routed traffic); no link, no pin, as SPEE_ATTACH_TC
 * A program is loaded only in its mode: host mode's (XDP, TC, CGROUP) or
 * the gateway's (GW_XDP, GW_TC).
 * frames: for interface programs, how the frames they parse start
 * (SPEE_FRAMES_ETHERNET, or SPEE_FRAMES_IP on devices without a link
 * header: tun, WireGuard, PPP); an interface gets the one of each hook that
 * fits its link type, and the two variants of a hook share its pin.
 * SPEE_FRAMES_NONE for cgroup programs.
 * The attach type (BPF_XDP, BPF_CGROUP_INET_EGRESS...) is the one the
 * program's section gives it in the object. A pin name is no prefix of
 * another hook's, and none holds a dot (bpffs refuses them).
 */
#define SPEE_PROGS(X)                                                                              \
	X(XDP, spee_xdp, SPEE_ATTACH_XDP, SPEE_FRAMES_ETHERNET, "xdp-")                            \
	X(EGRESS, spee_egress, SPEE_ATTACH_CGROUP, SPEE_FRAMES_NONE, "cgroup-egress")              \
	X(CONNECT4, spee_connect4, SPEE_ATTACH_CGROUP, SPEE_FRAMES_NONE, "cgroup-connect4")        \
	X(CONNECT6, spee_connect6, SPEE_ATTACH_CGROUP, SPEE_FRAMES_NONE, "cgroup-connect6")        \
	X(XDP_L3, spee_xdp_l3, SPEE_ATTACH_XDP, SPEE_FRAMES_IP, "xdp-")                            \
	X(SENDMSG4, spee_sendmsg4, SPEE_ATTACH_CGROUP, SPEE_FRAMES_NONE, "cgroup-sendmsg4")        \
	X(SENDMSG6, spee_sendmsg6, SPEE_ATTACH_CGROUP, SPEE_FRAMES_NONE, "cgroup-sendmsg6")        \
	X(TC_EGRESS, spee_tc_egress, SPEE_ATTACH_TC, SPEE_FRAMES_ETHERNET, NULL)                   \
	X(TC_EGRESS_L3, spee_tc_egress_l3, SPEE_ATTACH_TC, SPEE_FRAMES_IP, NULL)                   \
	X(GW_XDP, spee_gw_xdp, SPEE_ATTACH_GW_XDP, SPEE_FRAMES_ETHERNET, "gw-xdp-")                \
	X(GW_XDP_L3, spee_gw_xdp_l3, SPEE_ATTACH_GW_XDP, SPEE_FRAMES_IP, "gw-xdp-")                \
	X(GW_TC, spee_gw_tc, SPEE_ATTACH_GW_TC, SPEE_FRAMES_ETHERNET, NULL)

enum spee_attach_where {
	SPEE_ATTACH_XDP,
	SPEE_ATTACH_TC,
	SPEE_ATTACH_CGROUP,
	SPEE_ATTACH_GW_XDP,
	SPEE_ATTACH_GW_TC,
};

enum spee_frames {
	SPEE_FRAMES_NONE, /* not an interface program */
	SPEE_FRAMES_ETHERNET,
	SPEE_FRAMES_IP,
};

#define SPEE_MAP_ENUM(id, name, flags) SPEE_MAP_##id,
enum spee_map_id { SPEE_MAPS(SPEE_MAP_ENUM) SPEE_MAP_COUNT };
#undef SPEE_MAP_ENUM

/* LOADER_PROG_<ID>: the same ids by the loader's older name (tools/bench/ uses it). */
#define SPEE_PROG_ENUM(id, name, where, frames, pin)                                               \
	SPEE_PROG_##id, LOADER_PROG_##id = SPEE_PROG_##id,
enum spee_prog_id { SPEE_PROGS(SPEE_PROG_ENUM) SPEE_PROG_COUNT };
#undef SPEE_PROG_ENUM

#endif
