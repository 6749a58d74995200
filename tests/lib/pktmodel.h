/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pktmodel.h - the user-space packet model: the bytes of one packet, and
 * the state the host keeps, -> the verdict, reason and rule that
 * CONTRACT.md section 1 prescribes for it.
 *
 * It is the reference the differential test (tests/bpf/test_diff.c) holds
 * the kernel's programs to, so it is written from the contract and the
 * design notes (include/spee_abi.h, README.md), not from bpf/: where both
 * implement a rule they do it independently. New connections are judged by
 * explain_decide (explain.h); what the host remembers between packets
 * (connections and UDP flows, the verdicts of first fragments, the
 * kernel's TCP sockets) is held here explicitly, seeded by the caller and
 * updated by each packet as the contract says it is.
 *
 * No I/O, no kernel calls. Used by tests/bpf/ and tests/fuzz/.
 */
#ifndef SPEE_PKTMODEL_H
#define SPEE_PKTMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spee_abi.h"
#include "names.h"
#include "policy.h"

/* A connection or UDP flow, from the host's side; ports in host order. */
struct pm_conn {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t proto;	/* IPPROTO_TCP, IPPROTO_UDP, or ICMP/ICMPv6 for an echo exchange */
	uint16_t lport; /* an echo exchange: the echo identifier, in both */
	uint16_t rport;
	uint8_t echo; /* an echo exchange: who sent the request (SPEE_ECHO_*); else 0 */
	uint8_t laddr[16]; /* IPv4 in the first 4 bytes */
	uint8_t raddr[16];
};

/* What the host remembers of a connection it let open. */
struct pm_flow {
	struct pm_conn c;
	uint8_t reason;	       /* what its replies count as: established, udp-reply, dns, icmp-reply */
	uint64_t last_seen_ns; /* of its last outbound packet (UDP replies expire) */
};

/* The verdict given to the first fragment of a datagram. */
struct pm_frag {
	uint8_t family;
	uint8_t proto; /* IPv4: the datagram's protocol; IPv6: not part of its identity */
	uint32_t id;
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint8_t reason;
	int rule;	 /* policy rule index when reason is SPEE_REASON_RULE, else -1 */
	uint16_t l4_end; /* bytes of the fragmentable part up to the end of the ports and flags */
	uint64_t first_seen_ns;
};

enum pm_sock_state {
	PM_SOCK_ESTABLISHED,
	PM_SOCK_LISTEN,
	PM_SOCK_OTHER, /* closing, time-wait, request sockets */
};

/* A TCP socket of the kernel's, as socket lookups find it. */
struct pm_sock {
	uint8_t family;
	uint8_t state; /* enum pm_sock_state */
	uint16_t lport;
	uint16_t rport;	   /* not for listeners */
	uint8_t laddr[16]; /* a listener's all-zero address is the wildcard */
	uint8_t raddr[16];
};

#define PM_FLOWS_MAX 4096
#define PM_FRAGS_MAX 1024

struct pktmodel {
	const struct policy *pol;
	const struct name_table *names; /* may be NULL */
	uint64_t udp_timeout_ns;
	uint64_t frag_timeout_ns;
	struct pm_flow flows[PM_FLOWS_MAX];
	size_t n_flows;
	struct pm_frag frags[PM_FRAGS_MAX];
	size_t n_frags;
	const struct pm_sock *socks; /* borrowed */
	size_t n_socks;
};

/* Where a packet meets the firewall, besides the defaults of its direction. */
enum pm_at {
	PM_AT_DEFAULT, /* ingress: XDP on an Ethernet device; egress: the cgroup hook */
	PM_AT_XDP_IP,  /* ingress: XDP on a device whose frames start at the IP header */
	PM_AT_TC,      /* egress: tc on an Ethernet device, a packet socket's frame */
	PM_AT_TC_IP,   /* egress: tc on a device without a link header, a packet socket's */
};

struct pm_packet {
	uint8_t dir; /* enum spee_dir */
	uint8_t at;  /* enum pm_at */
	/*
	 * From the Ethernet header (ingress, tc) or the IP header (egress at
	 * the cgroup hook, and the _IP places).
	 */
	const uint8_t *data;
	size_t len;
	uint16_t ethertype; /* egress at the cgroup hook: the skb's protocol, host order */
	bool on_loopback;   /* egress: leaves through lo */
	bool tcp_socket;    /* egress: sent by a TCP socket of the kernel (not a raw one) */
	bool other_netns;   /* egress at the cgroup hook: a socket of another network namespace */
	uint64_t now_ns;    /* CLOCK_MONOTONIC, as the kernel's timestamps */
};

struct pm_verdict {
	bool pass;
	uint8_t reason;	  /* enum spee_reason */
	int rule;	  /* policy rule index when reason is SPEE_REASON_RULE, else -1 */
	uint64_t packets; /* what the packet adds to its counter: 1, 0 for a counted datagram's */
	uint64_t bytes;	  /* what the packet adds to its counter */
	int l2_class;	  /* a non-IP frame's enum spee_l2_class, else -1 */
	bool l2_passed;	  /* and whether its class counts it as let through */
	const char *why;  /* one phrase, for failure messages */
};

/*
 * A model of host p (names from t, may be NULL) with no state. The UDP
 * timeout is the config's; later fragments follow their first for 30 s.
 * The host's own addresses are the policy's local entries.
 */
void pktmodel_init(struct pktmodel *m, const struct policy *p, const struct name_table *t);

/* Forgets every flow and fragment (the sockets stay). */
void pktmodel_reset(struct pktmodel *m);

/* Seeds state, replacing what the table holds under the same key. 0, or -ENOSPC when full. */
int pktmodel_add_flow(struct pktmodel *m, const struct pm_flow *f);
int pktmodel_add_frag(struct pktmodel *m, const struct pm_frag *f);

/* The sockets lookups find (borrowed until the next call or the model's end). */
void pktmodel_set_socks(struct pktmodel *m, const struct pm_sock *socks, size_t n);

/* Judges one packet and applies what it changes to the state. */
void pktmodel_decide(struct pktmodel *m, const struct pm_packet *pkt, struct pm_verdict *v);

/* The flow of c, or NULL. */
const struct pm_flow *pktmodel_find_flow(const struct pktmodel *m, const struct pm_conn *c);

#endif
