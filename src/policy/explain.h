/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * explain.h - the user-space reference model of the kernel's decision on a
 * new connection, evaluated directly over a compiled policy. The BPF tests
 * check the kernel against it packet by packet, so it implements the whole
 * semantics: most specific prefix, ties to the earlier rule, implicit DNS and
 * local entries, defaults and audit mode.
 */
#ifndef SPEE_EXPLAIN_H
#define SPEE_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "spee_abi.h"
#include "addr.h"
#include "names.h"
#include "policy.h"

struct explain_query {
	uint8_t dir; /* enum spee_dir */
	uint8_t proto; /* the IP protocol number */
	/* tcp, udp: the destination port; icmp, icmpv6: the message type; else 0 (protocols.h) */
	uint16_t port;
	struct prefix peer; /* the remote address: source on ingress, destination on egress */
	/*
	 * Ingress only: the packet is addressed to none of the host's addresses
	 * (nor to a broadcast or multicast address): forwarded, or for a
	 * container or VM behind the host. It is not the host's to judge
	 * (CONTRACT.md section 4).
	 */
	bool transit;
	/*
	 * Gateway mode (explain_gw.h): the host's rules judge a packet that
	 * crosses a gateway, which never carries the host's traffic to itself:
	 * no loopback, no local entries.
	 */
	bool gateway;
};

struct explain_result {
	bool pass; /* the verdict, after mode and default */
	bool transit; /* passed as not the host's (query.transit); reason is then meaningless */
	uint8_t reason; /* enum spee_reason */
	int rule; /* index into policy.rules when reason == SPEE_REASON_RULE, else -1 */
	const struct policy_entry *entry; /* the entry that matched, or NULL */
};

/* Decides a new connection. Names in the policy take their addresses from t (may be NULL). */
void explain_decide(const struct policy *p, const struct name_table *t,
		    const struct explain_query *q, struct explain_result *r);

/*
 * The address a connect() or an unconnected send names, as the kernel's
 * connect and sendmsg hooks judge it: an IPv4-mapped IPv6 address is the
 * IPv4 address it maps (the call goes over IPv4). Returns true when it is
 * the host itself, which the hooks never refuse: 127/8, ::1, and the
 * unspecified 0.0.0.0 and :: (connecting to them reaches this host).
 */
bool explain_socket_peer(struct prefix *peer);

/*
 * Ingress scope: true when a packet to addr is the host's to judge (one of
 * its addresses, broadcast or multicast), false when it is transit.
 */
bool explain_for_host(const struct policy *p, const struct prefix *addr);

/* The verdict for a reason under a policy's mode and defaults. */
bool explain_reason_passes(const struct policy *p, uint8_t dir, uint8_t reason);

#endif
