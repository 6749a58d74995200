/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * gen.h - the benchmark's inventories: a fleet config (YAML text) of N
 * hosts, and the addresses the packet rows and the flood use, chosen so
 * that they never collide with each other. Used by tools/bench/ only.
 *
 * Host i (0-based) has 198.18.0.0 + 1 + i and fd00:5e::<1 + i in the last
 * 32 bits>; host 0 is "bench0", the host the benchmark judges for, holding
 * MGMT and CAS (so that it has peer rules, ANY rules and ADM rules on
 * ingress). Every tenth other host is MGMT, every third CAS, the rest IH.
 * ADM is 198.19.255.0/24 and fd00:5e::ffff:0/112; the flood's random
 * sources come from 198.19.160.0/19, which no inventory of up to 100,000
 * hosts reaches.
 */
#ifndef SPEE_BENCH_GEN_H
#define SPEE_BENCH_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GEN_HOST_NAME "bench0"
#define GEN_MAX_HOSTS 120000

/* Addresses outside every inventory. */
#define GEN_ADM4 "198.19.255.7" /* inside ADM */
#define GEN_ADM6 "fd00:5e::ffff:7"
#define GEN_STRANGER4 "198.19.170.7" /* in the flood range: no rule allows it */
#define GEN_STRANGER6 "fd00:5e::aa:7"
#define GEN_FLOOD4_BASE 0xC613A000u /* 198.19.160.0 */
#define GEN_FLOOD4_MASK 0x1fffu	    /* /19 */

struct gen_spec {
	size_t n_hosts; /* bench0 included */
	bool v4;	/* each host has an IPv4 address */
	bool v6;	/* each host has an IPv6 address */
	/*
	 * A one-host change: when moved is set, host moved_host (>= 1) has
	 * its addresses replaced by spare ones numbered moved_gen, so that
	 * configs of consecutive generations differ by one host.
	 */
	bool moved;
	size_t moved_host;
	unsigned moved_gen;
};

/* The YAML text of an inventory (malloc'd, NUL-terminated); NULL on ENOMEM. */
char *gen_yaml(const struct gen_spec *s, size_t *len);

/* Host i's address as text ("198.18.0.2"), family 4 or 6. */
void gen_host_addr(size_t i, int family, char *buf, size_t len);

/* Roles of host i: "MGMT, CAS", "MGMT", "CAS" or "IH". */
const char *gen_host_roles(size_t i);

/* The first host >= from that holds role ("IH", "CAS", "MGMT"), never bench0. */
size_t gen_host_with(const char *role, size_t from);

#endif
