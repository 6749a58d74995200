/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * gen.h - the differential test's packet generator: seeded, reproducible
 * frames built at random and by mutation from what a policy talks about.
 *
 * Addresses come from the policy's own prefixes (their first and last
 * addresses, one inside, and the addresses just outside them), the names'
 * addresses, the host's own, the test's real sockets and a few special
 * ones (zero, broadcast, loopback, IPv4-mapped, multicast). Ports are every
 * port the policy names and its neighbours. Frames are IPv4 or IPv6, with
 * every TCP flag combination, VLAN tags (up to three), IPv4 and TCP
 * options, IPv6 extension-header chains (past the parsers' bound too),
 * fragments (first, later, overlapping, atomic; later ones ahead of their
 * first too), routing headers with segments left, IPv4 source routes, ICMP
 * errors quoting flows, neighbour discovery on and off the link, and are
 * then mutated: truncated at and around every header boundary, header
 * fields rewritten. Some packets are related to earlier ones or to seeded
 * state: replies, later fragments of a first fragment, SYN-ACKs of
 * accepted SYNs, ICMP errors about them.
 *
 * Used by tests/bpf/test_diff.c.
 */
#ifndef SPEE_TEST_GEN_H
#define SPEE_TEST_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "names.h"
#include "pkt.h"
#include "policy.h"

#define GEN_ADDRS_MAX 256
#define GEN_PORTS_MAX 256
#define GEN_RELATED_MAX 64

/* Address texts a spec points into while it is built. */
struct gen_text {
	char a[48], b[48]; /* src, dst */
	char qa[48], qb[48]; /* an ICMP error's quoted src, dst */
};

/* An earlier packet, or a seeded flow, that later packets may relate to. */
struct gen_related {
	bool egress; /* the packet went out (src is the host's side) */
	struct prefix src, dst;
	uint8_t proto;
	uint16_t sport, dport;
	bool echo; /* an ICMP/ICMPv6 echo request; sport is its identifier */
	bool first_frag;
	uint32_t frag_id;
	uint8_t frag_nh; /* IPv6: the fragment header's next header */
	uint8_t ext[PKT_EXT_MAX];
	uint8_t n_ext;
	/* A first fragment not sent yet: a later fragment of it went first (reordered). */
	bool first_pending;
	struct pkt_spec pending;
	char pending_src[48], pending_dst[48];
};

/* A policy entry: packets aimed at it are likely to hit a rule. */
struct gen_target {
	uint8_t dir;
	uint8_t proto;
	uint16_t port_lo, port_hi;
	struct prefix peer;
};

#define GEN_TARGETS_MAX 256

struct gen {
	uint64_t rng;
	struct prefix peers4[GEN_ADDRS_MAX], peers6[GEN_ADDRS_MAX];
	size_t n_peers4, n_peers6;
	struct prefix host4[8], host6[8];
	size_t n_host4, n_host6;
	struct gen_target targets[GEN_TARGETS_MAX];
	size_t n_targets;
	uint16_t ports[GEN_PORTS_MAX];
	size_t n_ports;
	struct gen_related related[GEN_RELATED_MAX];
	size_t n_related, next_related;
	bool ip_only; /* the next frames are for a device without a link header: no tags */
};

/* What the generator made, besides the bytes. */
struct gen_info {
	bool egress;
	int ifindex_lo;	      /* egress: 1 when the packet is sent on lo */
	const char *kind;     /* "random", "reply", "later-fragment", ... */
	const char *mutation; /* NULL, or what was changed after building */
};

void gen_init(struct gen *g, uint64_t seed);

/* Adds the addresses and ports policy p talks about (names from t, may be NULL). */
void gen_add_policy(struct gen *g, const struct policy *p, const struct name_table *t);

/* Adds a host address (the source of egress packets, the destination of ingress ones). */
void gen_add_host(struct gen *g, const char *addr);

/* Adds a peer address, e.g. a socket's. */
void gen_add_peer(struct gen *g, const char *addr);

/* Adds a port. */
void gen_add_port(struct gen *g, uint16_t port);

/* Remembers a packet or a seeded flow that later packets may answer or continue. */
void gen_remember(struct gen *g, const struct gen_related *r);

/* A random number below n (n > 0). */
uint32_t gen_below(struct gen *g, uint32_t n);

/*
 * The next frame, Ethernet first, into buf (PKT_MAX bytes); egress picks
 * the direction. Returns its length (at least 14), or -1 on a builder
 * failure (the caller skips it).
 */
int gen_next(struct gen *g, bool egress, uint8_t *buf, struct gen_info *info);

#endif
