/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * gateway.h - the policy of gateway mode (CONTRACT.md section 5): every
 * inventory host's allowlists, compiled as host mode compiles them for a
 * host this machine is not (no local addresses known), for a router or a
 * hypervisor in front of the hosts to judge their traffic with.
 *
 * Hosts whose entries are the same (rules, directions, protocols, ports,
 * peers, reasons; their own addresses aside) share one policy id (1..,
 * spee_gw_host.policy), so that the kernel holds each distinct policy once
 * however many hosts have it. Host indexes (1.., spee_gw_host.host) follow
 * the inventory's order. No I/O and no maps here: maps_gateway.c turns
 * this into the kernel's entries.
 */
#ifndef SPEE_GATEWAY_H
#define SPEE_GATEWAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "config.h"
#include "diag.h"
#include "policy.h"

/* Host indexes and policy ids are 16-bit in the kernel's keys (spee_abi.h). */
#define GATEWAY_MAX_HOSTS 65535

struct gateway_host {
	const struct cfg_host *host; /* in the config */
	struct policy *p; /* its allowlists */
	uint16_t index; /* 1.., its place in the inventory */
	uint16_t policy; /* 1.., shared with the hosts of the same entries */
};

struct gateway_policy {
	const struct config *cfg; /* borrowed; must outlive this */
	struct gateway_host *hosts; /* in inventory order: hosts[i].index == i + 1 */
	size_t n_hosts;
	/* The host whose compiled policy stands for policy id k: hosts[first_of[k - 1]]. */
	size_t *first_of;
	uint16_t n_policies;
	/*
	 * The fleet as one policy for what is not per host: the config's mode
	 * and default actions, every rule with the directions any host enforces
	 * it in (its counter slot in spee_rules), and every DNS name any host's
	 * entries use. No host and no entries. Owned here: never policy_free it.
	 */
	struct policy fleet;
};

/*
 * Compiles every host of cfg's inventory (env: the machine's resolvers; its
 * local and receive addresses are ignored, none are the hosts'). Returns 0
 * with *out set, or a negative errno with the problem in d.
 */
int gateway_compile(const struct config *cfg, const struct policy_env *env,
		    struct gateway_policy **out, struct diags *d);

void gateway_free(struct gateway_policy *g);

/*
 * The gateway policy whose fleet view p is (a policy without a host), or
 * NULL for a host's policy: for code that holds either as a struct policy.
 */
static inline struct gateway_policy *gateway_of(const struct policy *p)
{
	if (!p || p->host)
		return NULL;
	return (struct gateway_policy *)(void *)((char *)(uintptr_t)p -
						 offsetof(struct gateway_policy, fleet));
}

/* policy_free, or gateway_free for a fleet view (gateway_of). */
static inline void gateway_or_policy_free(struct policy *p)
{
	if (gateway_of(p))
		gateway_free(gateway_of(p));
	else
		policy_free(p);
}

/* The compiled policy that policy id k (1..n_policies) stands for. */
static inline const struct policy *gateway_policy_of(const struct gateway_policy *g, uint16_t k)
{
	return g->hosts[g->first_of[k - 1]].p;
}

/*
 * True when two hosts' entries make the same policy: every entry but the
 * host's own addresses (SPEE_PROTO_LOCAL) and the ethertypes (written once
 * for the fleet) the same, in the same order.
 */
bool gateway_same_entries(const struct policy *a, const struct policy *b);

/* True for an entry the gateway writes per policy id (not a host's own address, nor an ethertype). */
bool gateway_entry_per_policy(const struct policy_entry *e);

#endif
