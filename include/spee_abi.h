/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * spee_abi.h - the one definition of everything BPF and user space share:
 * map keys and values, the direction/reason/mode enums, counter indexes and
 * the drop event record.
 *
 * Included by the BPF sources in bpf/ (after bpf/uapi.bpf.h) and by src/ (after
 * <linux/types.h>). Nothing here may depend on either side's headers.
 *
 * Policy state is double-buffered: every policy key carries a `slot` (0 or 1)
 * and the programs read spee_runtime.active once per packet, so a packet is
 * judged entirely by one generation of the policy (see src/maps.c).
 */
#ifndef SPEE_ABI_H
#define SPEE_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/*
 * The map keys the programs build on the stack, a packet at a time, are
 * aligned there as far as their sizes allow: clang then clears and fills
 * them 8 or 4 bytes at a store rather than 2, and the verifier walks ~14%
 * fewer instructions. Sizes and offsets, all the kernel sees of a key, are
 * the same on both sides (the asserts at the end); user space keeps the
 * natural alignment, so that its map images stay packed key-value records.
 */
#ifdef __bpf__
#define SPEE_KEY_ALIGN(n) __attribute__((aligned(n)))
#else
#define SPEE_KEY_ALIGN(n)
#endif

#define SPEE_POLICY_SLOTS 2
#define SPEE_MAX_RULES 1024 /* rule slots; slot 0 means "no rule" */
#define SPEE_RULE_NONE 0
#define SPEE_RULE_ID_LEN 48
#define SPEE_PORTS 65536
#define SPEE_PREFIX_FIXED_BITS 64 /* slot, dir, proto, family, port, policy */
#define SPEE_PROTO_LOCAL 0 /* spee_rule_key.proto of the host's own addresses */
#define SPEE_SCOPE_HOST 1 /* spee_slot_cfg.scope */
/*
 * spee_rule_key.proto of a non-IP ethertype the slot passes (its port is
 * spee_ethertype_key(); family and address are zero). 255 is reserved
 * (RFC 5237): never a transport a rule names.
 */
#define SPEE_PROTO_ETHERTYPE 255
#define SPEE_IPV6_EXT_MAX 8 /* extension headers the parsers walk */
#define SPEE_VLAN_MAX 2

enum spee_dir {
	SPEE_DIR_INGRESS,
	SPEE_DIR_EGRESS,
	SPEE_DIR_MAX,
};

enum spee_family {
	SPEE_FAMILY_V4,
	SPEE_FAMILY_V6,
	SPEE_FAMILY_MAX,
};

/* Transport protocols that rules can name; the port table's second index. */
enum spee_l4 {
	SPEE_L4_TCP,
	SPEE_L4_UDP,
	SPEE_L4_MAX,
};

/*
 * Why a packet got its verdict. Every packet is counted exactly once: under
 * its rule when the reason is SPEE_REASON_RULE, else under its reason.
 * The drops (would-drops in audit mode) are the reasons in
 * SPEE_REASON_DROPS; no-rule follows the direction's default action. New
 * reasons are appended, so that counters pinned by an older build keep
 * their places (src/kernel/grow.c copies them by index).
 */
enum spee_reason {
	SPEE_REASON_NO_RULE,
	SPEE_REASON_FRAGMENT,
	SPEE_REASON_MALFORMED,
	SPEE_REASON_ESTABLISHED, /* a TCP connection the host already holds */
	SPEE_REASON_UDP_REPLY, /* UDP reply to a flow the policy allowed */
	SPEE_REASON_DNS, /* DNS to or from the host's resolvers */
	SPEE_REASON_ICMP, /* ICMP/ICMPv6 errors (path MTU too) about a flow of the host */
	SPEE_REASON_ND, /* IPv6 neighbour discovery and MLD, on the link */
	SPEE_REASON_NON_IP, /* ARP and the non-IP ethertypes the config passes */
	SPEE_REASON_LOOPBACK, /* the host talking to itself */
	SPEE_REASON_RULE, /* allowed by a rule; counted on the rule */
	/* egress: an IPv4 LSRR/SSRR option or an IPv6 routing header with segments left */
	SPEE_REASON_SOURCE_ROUTE,
	SPEE_REASON_ETHERTYPE, /* a non-IP frame of an ethertype the config does not pass */
	/* ingress: a later fragment ahead of its first, left to the kernel's reassembly */
	SPEE_REASON_REASSEMBLY,
	/* ingress: not addressed to the host (forwarded, or a container's or VM's behind it) */
	SPEE_REASON_TRANSIT,
	/* egress: a socket of another network namespace (a container's, a pod's) */
	SPEE_REASON_CONTAINER,
	/* an ICMP/ICMPv6 echo reply to an echo request the policy allowed the other way */
	SPEE_REASON_ICMP_REPLY,
	SPEE_REASON_MAX,
};

#define SPEE_REASON_DROPS                                                                        \
	((1u << SPEE_REASON_NO_RULE) | (1u << SPEE_REASON_FRAGMENT) |                              \
	 (1u << SPEE_REASON_MALFORMED) | (1u << SPEE_REASON_SOURCE_ROUTE) |                        \
	 (1u << SPEE_REASON_ETHERTYPE))

/* 1 when a reason is a drop (a would-drop in audit mode), else 0. */
static inline int spee_reason_is_drop(__u32 reason)
{
	return reason < 32 && ((SPEE_REASON_DROPS >> reason) & 1);
}

enum spee_mode {
	SPEE_MODE_ENFORCE,
	SPEE_MODE_AUDIT,
	SPEE_MODE_MAX,
};

enum spee_action {
	SPEE_ACTION_DROP,
	SPEE_ACTION_PASS,
	SPEE_ACTION_MAX,
};

/* spee_port_info.lookup bits: which address structures hold entries. */
#define SPEE_LOOKUP_EXACT 0x1
#define SPEE_LOOKUP_PREFIX 0x2

/* What a lookup decided: a rule slot, or a base reason such as DNS. */
struct spee_verdict {
	__u16 rule;
	__u8 reason; /* enum spee_reason */
	__u8 flags; /* SPEE_VERDICT_*: set by the lookup, 0 in every map */
};

/* spee_verdict.flags: the rule matched through its /0 entry (its ANY side). */
#define SPEE_VERDICT_ANY 0x1

/*
 * spee_exact (HASH): one peer address, the most specific match there is.
 * proto is the rule's IP protocol as on the wire, or SPEE_PROTO_LOCAL, or
 * SPEE_PROTO_ETHERTYPE. port: tcp and udp, the destination port; icmp and
 * icmpv6, the message type; any other protocol (`proto: ip`), 0. Only tcp
 * and udp have spee_ports elements: the others are looked up in spee_exact
 * and then spee_prefix, where ANY is a /0 entry (decide.bpf.h), so that
 * only their packets pay for the lookups.
 */
struct spee_rule_key {
	__u8 slot;
	__u8 dir; /* enum spee_dir */
	__u8 proto; /* IPPROTO_* of a rule, SPEE_PROTO_LOCAL or SPEE_PROTO_ETHERTYPE */
	__u8 family; /* enum spee_family */
	__be16 port; /* network order, as on the wire (see above) */
	__u16 policy; /* gateway mode: the policy id (spee_gw_host.policy); host mode: 0 */
	__u8 addr[16]; /* IPv4 in the first 4 bytes, the rest zero */
} SPEE_KEY_ALIGN(8);

/* spee_prefix (LPM_TRIE): address prefixes shorter than a host address. */
struct spee_prefix_key {
	__u32 prefixlen; /* SPEE_PREFIX_FIXED_BITS + address prefix length */
	__u8 slot;
	__u8 dir;
	__u8 proto;
	__u8 family;
	__be16 port;
	__u16 policy; /* as spee_rule_key.policy */
	__u8 addr[16];
};

/*
 * spee_ports (ARRAY): one element per slot, direction, l4 protocol and port,
 * so that the common cases need no trie walk: ports without prefix entries
 * skip the trie, ports without exact entries skip the hash, and a /0 rule
 * ("ANY") is answered from here.
 */
struct spee_port_info {
	__u16 any_rule[SPEE_FAMILY_MAX]; /* rule of the /0 entry, or SPEE_RULE_NONE */
	__u8 lookup[SPEE_FAMILY_MAX]; /* SPEE_LOOKUP_* */
	__u16 pad;
};

#define SPEE_PORT_ENTRIES (SPEE_POLICY_SLOTS * SPEE_DIR_MAX * SPEE_L4_MAX * SPEE_PORTS)

static inline __u32 spee_port_index(__u32 slot, __u32 dir, __u32 l4, __u32 port)
{
	return (((slot * SPEE_DIR_MAX + dir) * SPEE_L4_MAX + l4) << 16) | (port & 0xffff);
}

/*
 * spee_local (ARRAY, element spee_local_index(slot, dir)): the host's own
 * addresses in one slot and direction, copied from its SPEE_PROTO_LOCAL
 * entries in spee_exact (ingress: every address the host takes packets
 * for; egress: those with reason LOOPBACK, the ones on the machine), inline
 * where they fit, so that the ingress scope check and the egress loopback
 * check that every packet passes cost a few compares instead of a hash
 * lookup. The programs ask spee_exact when `known` is 0 (a slot written by
 * an older build) or `spill` is 1 (more addresses than fit).
 */
#define SPEE_LOCAL_V4 8
#define SPEE_LOCAL_V6 4

struct spee_local_set {
	__u8 known; /* 1: written with its slot's entries */
	__u8 spill; /* 1: more addresses than fit here: the rest only in spee_exact */
	__u8 n_v4;
	__u8 n_v6;
	__u32 pad;
	__u32 v4[SPEE_LOCAL_V4]; /* the address's 4 bytes as they are in the packet */
	__u64 v6[SPEE_LOCAL_V6][2]; /* the address's 16 bytes as they are in the packet */
};

static inline __u32 spee_local_index(__u32 slot, __u32 dir)
{
	return slot * SPEE_DIR_MAX + dir;
}

/*
 * spee_flows (LRU_HASH): connections this host takes part in, keyed from the
 * host's side. Written by the egress program when it lets a connection's
 * first packet out (an outbound SYN, the SYN-ACK of an accepted inbound
 * connection, a UDP datagram); read by the XDP program to recognise replies.
 */
struct spee_flow_key {
	__u8 family;
	__u8 proto;
	__be16 lport; /* ICMP echo: the echo identifier, in both ports */
	__be16 rport;
	__u16 echo; /* ICMP echo: which side sent the request (SPEE_ECHO_*); else 0 */
	__u8 laddr[16];
	__u8 raddr[16];
} SPEE_KEY_ALIGN(8);

/*
 * spee_flow_key.echo: an ICMP or ICMPv6 echo request the policy let through
 * (either way) makes a flow that lets its echo replies come back, as a UDP
 * datagram does; the side that asked is part of the key, so that a request
 * the host let in allows replies out only, and one it sent replies in only.
 */
#define SPEE_ECHO_HOST_ASKED 1
#define SPEE_ECHO_PEER_ASKED 2

struct spee_flow_state {
	/* refreshed by each packet that opens it; UDP and echo replies expire after udp_timeout_ns */
	__u64 last_seen_ns;
	__u8 reason; /* what replies count under: ESTABLISHED, UDP_REPLY, DNS or ICMP_REPLY */
	__u8 pad[3];
	/*
	 * 1: made by the SYN-ACK of a connection into the host, whose
	 * handshake's ACK has not come yet; that ACK notes the connection for
	 * suggest and sets it to 0. 0 for every other flow.
	 */
	__u32 handshake;
};

/*
 * spee_frags (LRU_HASH): the verdict given to the first fragment of a
 * datagram, so its later fragments (which carry no ports) get the same one.
 */
struct spee_frag_key {
	__u8 family;
	__u8 proto; /* IPv4's protocol; 0 for IPv6, whose datagrams are addresses and id */
	__u16 pad;
	__u32 id; /* IPv4 identification or IPv6 fragment id */
	__u8 saddr[16];
	__u8 daddr[16];
} SPEE_KEY_ALIGN(8);

struct spee_frag_state {
	__u64 first_seen_ns;
	struct spee_verdict verdict;
	/* bytes of the fragmentable part up to the end of the first's ports and flags */
	__u16 l4_end;
	__u16 pad;
};

/* spee_rule_ctr and spee_reason_ctr (PERCPU_ARRAY), summed in user space. */
struct spee_counter {
	__u64 packets;
	__u64 bytes;
};

static inline __u32 spee_rule_ctr_index(__u32 rule, __u32 dir)
{
	return rule * SPEE_DIR_MAX + dir;
}

/* Reason counters leave room for this many reasons before the breakdowns that follow them. */
#define SPEE_REASON_ROOM 64

static inline __u32 spee_reason_ctr_index(__u32 reason, __u32 dir)
{
	return reason * SPEE_DIR_MAX + dir;
}

/*
 * Non-IP frames by ethertype class, counted besides their reason (non-ip
 * or ethertype): a breakdown in spee_reason_ctr after the reasons'
 * counters, never a packet's one counter. The class follows from the
 * ethertype alone (spee_l2_class_of), so user space names what the
 * kernel counted without asking it.
 */
enum spee_l2_class {
	SPEE_L2_ARP, /* 0x0806 */
	SPEE_L2_LLDP, /* 0x88cc */
	SPEE_L2_SLOW, /* 0x8809: LACP, marker, OAM */
	SPEE_L2_EAPOL, /* 0x888e: 802.1X */
	SPEE_L2_PTP, /* 0x88f7 */
	SPEE_L2_PPPOE, /* 0x8863, 0x8864 */
	SPEE_L2_MPLS, /* 0x8847, 0x8848 */
	SPEE_L2_LLC, /* an 802.3 length (< 0x0600), not an ethertype: STP, CDP... */
	SPEE_L2_TAG, /* 0x9100, 0x9200, 0x9300: VLAN tags the parser does not walk */
	SPEE_L2_OTHER,
	SPEE_L2_MAX,
};

static inline __u32 spee_l2_class_of(__u32 ethertype)
{
	switch (ethertype) {
	case 0x0806:
		return SPEE_L2_ARP;
	case 0x88cc:
		return SPEE_L2_LLDP;
	case 0x8809:
		return SPEE_L2_SLOW;
	case 0x888e:
		return SPEE_L2_EAPOL;
	case 0x88f7:
		return SPEE_L2_PTP;
	case 0x8863:
	case 0x8864:
		return SPEE_L2_PPPOE;
	case 0x8847:
	case 0x8848:
		return SPEE_L2_MPLS;
	case 0x9100:
	case 0x9200:
	case 0x9300:
		return SPEE_L2_TAG;
	}
	return ethertype < 0x0600 ? SPEE_L2_LLC : SPEE_L2_OTHER;
}

/* passed: 1 when the frame's verdict lets it through in enforce mode. */
static inline __u32 spee_l2_ctr_index(__u32 cls, __u32 passed, __u32 dir)
{
	return (SPEE_REASON_ROOM + cls * 2 + (passed & 1)) * SPEE_DIR_MAX + dir;
}

#define SPEE_REASON_CTR_ENTRIES ((SPEE_REASON_ROOM + SPEE_L2_MAX * 2) * SPEE_DIR_MAX)

/*
 * The port of an ethertype's spee_exact key: the ethertype, or one key for
 * every 802.3 length frame; SPEE_ETHERTYPE_ANY passes every non-IP frame.
 */
#define SPEE_ETHERTYPE_ANY 0
#define SPEE_ETHERTYPE_LLC 1

static inline __u32 spee_ethertype_key(__u32 ethertype)
{
	return ethertype >= 0x0600 ? ethertype : SPEE_ETHERTYPE_LLC;
}

/* Settings of one policy slot: they switch together with its entries. */
struct spee_slot_cfg {
	__u8 mode; /* enum spee_mode */
	__u8 default_action[SPEE_DIR_MAX]; /* enum spee_action, for no-rule */
	/*
	 * SPEE_SCOPE_HOST: ingress judges only packets to the host (its
	 * addresses, the ingress entries of proto SPEE_PROTO_LOCAL in
	 * spee_exact, or broadcast and multicast); the rest is transit. 0 (a
	 * slot written by an older build): every packet is judged.
	 */
	__u8 scope;
	__u32 generation;
	__u64 udp_timeout_ns;
	__u32 events_rate; /* drop events per second and CPU; 0: none */
	__u32 events_burst; /* events a CPU may send at once after a quiet time */
};

/* spee_runtime (ARRAY, 1 element): the switch between the two slots. */
struct spee_runtime {
	__u32 active; /* slot the programs read; flips only after that slot is complete */
	__u32 pad;
	struct spee_slot_cfg slot[SPEE_POLICY_SLOTS];
};

/*
 * spee_rules (ARRAY): the rule id behind each counter slot, so that stats
 * can be printed from a pin dir alone. dirs == 0 marks a free slot.
 */
struct spee_rule_meta {
	char id[SPEE_RULE_ID_LEN];
	__u8 proto;
	__u8 dirs; /* bit (1 << enum spee_dir) for each direction enforced */
	__u16 port_lo;
	__u16 port_hi;
	__u16 pad;
};

/*
 * spee_events (RINGBUF): one record per dropped (or, in audit mode,
 * would-be dropped) packet, as far as the per-CPU token bucket in
 * spee_ev_bucket lets it through; what it holds back is counted in
 * spee_ev_stats. Read by `speebpf events`.
 */
#define SPEE_EVENTS_BYTES (256 * 1024)

struct spee_event {
	__u64 time_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 ifindex; /* 0 for a refused connect() */
	__u32 len; /* the packet's bytes (0 for a refused connect()) */
	__u8 dir; /* enum spee_dir */
	__u8 reason; /* enum spee_reason: a drop reason */
	__u8 family; /* enum spee_family */
	__u8 proto; /* IPPROTO_*, 0 when not parsed */
	__u8 tcp_flags;
	__u8 audit; /* 1: passed, audit mode */
	__u8 connect; /* enum spee_ev_origin: a packet, or a refused connect() or sendmsg() */
	__u8 pad;
	__be16 sport;
	__be16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 pad2;
};

/* What a drop event is about: the hooks before a packet exists refuse calls. */
enum spee_ev_origin {
	SPEE_EV_PACKET,
	SPEE_EV_CONNECT, /* a refused TCP connect() */
	SPEE_EV_SENDMSG, /* a refused UDP sendmsg() to an address the socket names */
};

/* spee_ev_bucket (PERCPU_ARRAY, 1): the rate limit's state on each CPU. */
struct spee_ev_bucket {
	__u64 tokens_ns; /* tokens x 1e9, so that refilling needs no division */
	__u64 last_ns; /* the coarse clock at the last refill */
	__u64 last_tick; /* jiffies at the last refill: one refill a tick at most */
};

/* spee_ev_stats (PERCPU_ARRAY): what happened to drop events. */
enum spee_ev_stat {
	SPEE_EV_SENT, /* written to the ring */
	SPEE_EV_SUPPRESSED, /* held back by the rate limit */
	SPEE_EV_LOST, /* the ring was full: no reader keeps up */
	SPEE_EV_STAT_MAX,
};

/*
 * What `speebpf suggest` learns from: bounded LRU tables of counts, written
 * only where a connection or flow starts (never for its later packets), so
 * that the fast path pays nothing for them.
 *
 * spee_seen (LRU_HASH): per rule that allowed a new connection through its
 * ANY side (SPEE_VERDICT_ANY), per direction, the remote addresses: a TCP
 * SYN (either direction) or a UDP datagram that starts a flow.
 * spee_would (LRU_HASH): in audit mode, what would have been dropped for
 * want of a rule (no-rule), by direction, remote address, protocol and
 * port: a TCP SYN or a UDP datagram. Both keep their most recent entries.
 */
#define SPEE_SEEN_ENTRIES 16384
#define SPEE_WOULD_ENTRIES 8192

struct spee_seen_key {
	__u16 rule; /* the rule's counter slot (spee_rules) */
	__u8 dir; /* enum spee_dir */
	__u8 family; /* enum spee_family */
	__u8 addr[16]; /* the remote address; IPv4 in the first 4 bytes */
} SPEE_KEY_ALIGN(4);

struct spee_would_key {
	__u8 dir; /* enum spee_dir */
	__u8 family; /* enum spee_family */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
	__be16 port; /* the destination port, network order: the service asked for */
	__u16 pad2;
	__u8 addr[16]; /* the remote address */
} SPEE_KEY_ALIGN(8);

/* The value of both: how many, and when first and last (bpf_ktime_get_coarse_ns: CLOCK_MONOTONIC). */
struct spee_tally {
	__u64 count;
	__u64 first_ns;
	__u64 last_ns;
};

/*
 * Gateway mode (CONTRACT.md section 5): on a router or hypervisor, the
 * programs spee_gw_xdp (routed interfaces) and spee_gw_tc (tc ingress of
 * bridge ports) judge every forwarded or bridged packet once, where it
 * enters the machine, as the inventory hosts at its ends would: the source
 * host's egress rules, then the destination host's ingress rules (both
 * when both are inventory hosts). A packet neither of whose addresses is
 * an inventory host's passes as transit.
 *
 * Each inventory host's compiled policy has a policy id (1..; hosts whose
 * entries are identical share one). Its entries are spee_exact and
 * spee_prefix entries with that id in .policy (host mode's are 0); its
 * tcp/udp ANY rules are /0 spee_prefix entries, as icmp's are in host
 * mode: spee_ports, the SPEE_PROTO_LOCAL entries and spee_slot_cfg.scope
 * are host mode's only. The slot switch (spee_rt) is shared, so a gateway
 * policy changes atomically as a host's does.
 */
#define SPEE_GW_HOST_NONE 0 /* spee_gw_host.host: no host (never an entry's) */

/* spee_gw_hosts (HASH): an inventory host's address, per policy slot. */
struct spee_gw_host_key {
	__u8 slot;
	__u8 family; /* enum spee_family */
	__u16 pad;
	__u8 addr[16]; /* IPv4 in the first 4 bytes, the rest zero */
} SPEE_KEY_ALIGN(4);

struct spee_gw_host {
	__u16 policy; /* the host's policy id: spee_rule_key.policy of its entries */
	__u16 host; /* the host's index (1..), the key of spee_gw_names and spee_gw_ctr */
};

/*
 * spee_gw_names (HASH, __u32 host index -> name): what stats prints for a
 * host index, from a pin dir alone. Written by user space only.
 */
#define SPEE_GW_NAME_LEN 64

struct spee_gw_name {
	char name[SPEE_GW_NAME_LEN];
};

/*
 * spee_gw_ctr (PERCPU_HASH): counters per host, besides the fleet-wide
 * spee_rule_ctr and spee_reason_ctr (which count every packet as host mode
 * does). A rule's: {host, rule slot, dir, SPEE_REASON_RULE}, created by user
 * space for every (host, rule, direction) the policy enforces, so that
 * stats lists them with zeros; the programs only look them up. A drop's:
 * {host, SPEE_RULE_NONE, dir, reason}, created by the program on the first
 * drop (BPF_NOEXIST). The host is the one whose rules judged the packet:
 * the source's on egress, the destination's on ingress.
 */
struct spee_gw_ctr_key {
	__u16 host;
	__u16 rule;
	__u8 dir; /* enum spee_dir */
	__u8 reason; /* enum spee_reason */
	__u16 pad;
};

/*
 * spee_gw_flows (LRU_HASH): the connections and flows the gateway let
 * start, keyed from the side that started them (a spee_flow_key whose
 * laddr/lport are the initiator's, raddr/rport the responder's; ICMP echo:
 * the identifier in both ports and echo = SPEE_ECHO_HOST_ASKED). A packet
 * matching a flow either way belongs to it: the gateway sees both
 * directions and has no socket table to ask.
 */
/*
 * spee_gw_syns (LRU_HASH, keys and values as spee_gw_flows): TCP
 * connections the gateway let a SYN start and the responder has not
 * answered yet. Its SYN-ACK moves the connection to spee_gw_flows; an RST
 * from either end removes it. A flood of SYNs the rules allow (to a port
 * open to ANY, from spoofed addresses) churns this table only, never the
 * connections that are established.
 */
struct spee_gw_flow {
	__u64 last_seen_ns; /* refreshed in place by the flow's packets */
	__u8 reason; /* what its packets count under: ESTABLISHED, UDP_REPLY, DNS, ICMP_REPLY */
	__u8 closing; /* TCP: a FIN was seen (a shorter timeout), else 0 */
	/*
	 * TCP: the ANY-side rules that let the SYN through, by direction
	 * (SPEE_DIR_EGRESS: the initiator's; SPEE_DIR_INGRESS: the
	 * responder's), or SPEE_RULE_NONE: suggest notes them when the
	 * initiator's ACK completes the handshake, which clears them.
	 */
	__u16 note[SPEE_DIR_MAX];
	__u16 pad;
};

#define SPEE_TEXT_LEN 256
/*
 * The record's program tags, one a program of include/spee_objects.h's list
 * in its order: the first SPEE_PROG_KINDS in prog_tag (the record's first
 * layout), the others in prog_tag_more, which leaves room for programs
 * still to come without another layout.
 */
#define SPEE_PROG_KINDS 4 /* xdp, cgroup egress, connect4, connect6 */
#define SPEE_PROG_KINDS_MORE 12 /* xdp_l3, sendmsg4/6, tc egress and its _l3, room */
#define SPEE_TAG_SIZE 8 /* BPF_TAG_SIZE */
#define SPEE_INST_GATEWAY 1 /* spee_instance.kind */
#define SPEE_GW_PORTS 256 /* bridge ports one gateway instance filters */
#define SPEE_IFNAME_LEN 16 /* IF_NAMESIZE */

/*
 * spee_inst (ARRAY, 1 element): what status prints about an instance.
 * Only user space reads and writes it; it lives in a map because bpffs
 * holds nothing else.
 */
struct spee_instance {
	__u64 applied_at; /* CLOCK_REALTIME, ns */
	__u32 generation;
	__u8 mode;
	__u8 last_result_ok;
	__u16 pad;
	char host[64];
	char config_path[SPEE_TEXT_LEN];
	char config_sha256[72];
	char cgroup_path[SPEE_TEXT_LEN];
	char last_error[SPEE_TEXT_LEN];
	/* The programs this instance attached, by tag: anything else on its links is drift. */
	__u8 prog_tag[SPEE_PROG_KINDS][SPEE_TAG_SIZE];
	/* Which build's BPF object they came from (SHA-256 prefix): another means an upgrade. */
	__u8 object_id[8];
	/* apply --confirm: the policy reverts at this time unless confirmed (0: none pending). */
	__u64 confirm_deadline; /* CLOCK_REALTIME, ns */
	__u32 confirm_generation; /* the generation waiting for confirmation */
	__u32 reverted_generation; /* the last generation reverted for want of confirmation */
	/*
	 * The tags of the programs after the first SPEE_PROG_KINDS. The record
	 * grows only at its end, so that an older build's carries over as it
	 * is (spee_objects.h: SPEE_MAPF_EXTENDS), zero here until an apply of
	 * this build.
	 */
	__u8 prog_tag_more[SPEE_PROG_KINDS_MORE][SPEE_TAG_SIZE];
	/*
	 * Gateway mode (--gateway): SPEE_INST_GATEWAY; host mode 0 (and every
	 * record of an older build). The hosts judged, the distinct policies
	 * among them, and the bridge ports whose tc ingress filter is the
	 * instance's: a filter is no link, so no pin says where it is.
	 */
	__u8 kind;
	__u8 pad3;
	__u16 gw_hosts;
	__u16 gw_policies;
	__u16 gw_n_ports;
	char gw_ports[SPEE_GW_PORTS][SPEE_IFNAME_LEN];
};

#define SPEE_NAME_LEN 128
#define SPEE_NAME_ADDRS 32
#define SPEE_NAMES_MAX 256

/*
 * spee_names (HASH, user space only: created and pinned by the agent, not
 * part of the BPF object): the last answer for each DNS name the policy
 * uses, so that a restarted agent keeps the last known addresses while DNS
 * is unreachable, and status can tell what the names stood for.
 */
struct spee_name_key {
	char name[SPEE_NAME_LEN];
};

struct spee_name_addr {
	__u8 family; /* AF_INET or AF_INET6 */
	__u8 addr[16];
	__u8 pad[3];
};

struct spee_name_state {
	__s64 last_ok; /* CLOCK_REALTIME seconds of the last answer, 0 if none */
	__u32 ttl;
	__u32 failures;
	__u32 n_addrs;
	__u8 resolved;
	__u8 pad[3];
	struct spee_name_addr addrs[SPEE_NAME_ADDRS];
	char last_error[64];
};

#ifndef __bpf__
_Static_assert(sizeof(struct spee_verdict) == 4, "spee_verdict layout");
_Static_assert(sizeof(struct spee_rule_key) == 24, "spee_rule_key layout");
_Static_assert(sizeof(struct spee_prefix_key) == 28, "spee_prefix_key layout");
_Static_assert(sizeof(struct spee_port_info) == 8, "spee_port_info layout");
_Static_assert(sizeof(struct spee_local_set) == 8 + 4 * SPEE_LOCAL_V4 + 16 * SPEE_LOCAL_V6,
	       "spee_local_set layout");
_Static_assert(sizeof(struct spee_flow_key) == 40, "spee_flow_key layout");
_Static_assert(sizeof(struct spee_flow_state) == 16, "spee_flow_state layout");
_Static_assert(sizeof(struct spee_frag_key) == 40, "spee_frag_key layout");
_Static_assert(sizeof(struct spee_frag_state) == 16, "spee_frag_state layout");
_Static_assert(sizeof(struct spee_counter) == 16, "spee_counter layout");
_Static_assert(sizeof(struct spee_slot_cfg) == 24, "spee_slot_cfg layout");
_Static_assert(sizeof(struct spee_runtime) == 8 + 24 * SPEE_POLICY_SLOTS, "spee_runtime layout");
_Static_assert(sizeof(struct spee_event) == 64, "spee_event layout");
_Static_assert(sizeof(struct spee_ev_bucket) == 24, "spee_ev_bucket layout");
_Static_assert(sizeof(struct spee_rule_meta) == SPEE_RULE_ID_LEN + 8, "spee_rule_meta layout");
_Static_assert(sizeof(struct spee_seen_key) == 20, "spee_seen_key layout");
_Static_assert(sizeof(struct spee_would_key) == 24, "spee_would_key layout");
_Static_assert(sizeof(struct spee_tally) == 24, "spee_tally layout");
_Static_assert(sizeof(struct spee_gw_host_key) == 20, "spee_gw_host_key layout");
_Static_assert(sizeof(struct spee_gw_host) == 4, "spee_gw_host layout");
_Static_assert(sizeof(struct spee_gw_name) == SPEE_GW_NAME_LEN, "spee_gw_name layout");
_Static_assert(sizeof(struct spee_gw_ctr_key) == 8, "spee_gw_ctr_key layout");
_Static_assert(sizeof(struct spee_gw_flow) == 16, "spee_gw_flow layout");
_Static_assert(sizeof(struct spee_name_addr) == 20, "spee_name_addr layout");
_Static_assert(sizeof(struct spee_name_state) == 24 + 20 * SPEE_NAME_ADDRS + 64,
	       "spee_name_state layout");
#endif

#endif /* SPEE_ABI_H */
