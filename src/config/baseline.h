/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * baseline.h - the built-in rule sets a host needs to keep working besides
 * its part of the SPE matrix (CONTRACT.md section 4), which the config's
 * `baseline:` switches on: linux-host (NTP, DHCP, ICMP echo) and
 * kubernetes-node (kubelet, API server, the overlay and routing between the
 * nodes, the agent's metrics port). One const table, like the matrix; the
 * policy compiler turns the rows of the sets a config names into rules
 * (ids starting "base-") after every other rule.
 */
#ifndef SPEE_BASELINE_H
#define SPEE_BASELINE_H

#include <stddef.h>
#include <stdint.h>

enum baseline_set {
	BASELINE_LINUX_HOST = 1u << 0,
	BASELINE_KUBERNETES_NODE = 1u << 1,
};

#define BASELINE_SET_COUNT 2
#define BASELINE_SIDE_MAX 2

/* The row's port is the config's metrics-port (the agent's /metrics). */
#define BASELINE_PORT_METRICS 0

/*
 * One rule of a set. A side is a list of terms: BASELINE_EVERY_HOST (every
 * host of the inventory), a built-in network's name, "ANY", or an address
 * or CIDR. proto and port are a rule's match (protocols.h): for icmp and
 * icmpv6, port is the message type.
 */
struct baseline_rule {
	const char *id;
	enum baseline_set set;
	uint8_t proto;
	uint16_t port; /* BASELINE_PORT_METRICS with tcp: the config's metrics-port */
	const char *from[BASELINE_SIDE_MAX]; /* NULL-terminated */
	const char *to[BASELINE_SIDE_MAX];
	const char *description;
};

#define BASELINE_EVERY_HOST "every host"
#define BASELINE_ID_PREFIX "base-" /* every baseline rule's id; site rules may not take it */

extern const struct baseline_rule baseline_rules[];
extern const size_t baseline_rule_count;

/* "linux-host" -> BASELINE_LINUX_HOST; 0 when name is not a set. */
unsigned baseline_parse(const char *name);

/* The name of one set bit. */
const char *baseline_name(unsigned set);

/* The closest set name to s (for "did you mean"), or NULL. */
const char *baseline_suggest(const char *s);

#endif
