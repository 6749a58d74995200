/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * policy.h - the policy compiler: (config, host) -> this host's ingress and
 * egress allowlists, as entries {direction, proto, ports, peer, rule}.
 *
 * This compiled form is what `check` prints, what `explain` evaluates and
 * what maps.c turns into kernel map contents. It knows nothing of maps or of
 * the kernel, and does no I/O: DNS names stay names here.
 *
 * Semantics (CONTRACT.md section 1): a rule is enforced as ingress on a host
 * holding a role of its `to` side (new connections from the `from` peers),
 * and as egress on a host holding a role of its `from` side (new connections
 * to the `to` peers). Roles expand to the inventory's addresses, ANY to
 * 0.0.0.0/0 and ::/0. When several entries match a packet the most specific
 * prefix wins and ties go to the earlier rule; the compiler removes entries
 * that can never win and reports the rules this affects.
 */
#ifndef SPEE_POLICY_H
#define SPEE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spee_abi.h"
#include "addr.h"
#include "config.h"
#include "diag.h"

enum rule_origin {
	RULE_MATRIX, /* a row of the seed table */
	RULE_SITE, /* `rules:` in the config */
	RULE_FAILSAFE, /* `failsafe:` in the config, or the default failsafe-ssh */
	RULE_BASELINE, /* a row of a `baseline:` set (baseline.h); ids start "base-" */
};

/*
 * What a rule (and each of its entries) matches, as protocols.h says:
 *   proto             the IP protocol number as on the wire;
 *   port_lo..port_hi  tcp, udp: the destination port range;
 *                     icmp (1), icmpv6 (58): the message type, lo == hi;
 *                     any other protocol (proto: ip): 0, lo == hi.
 * An icmp rule's entries hold IPv4 peers only and an icmpv6 rule's IPv6
 * peers only (a DNS name's addresses of the other family match nothing).
 * An entry that allows an echo request (icmp 8, icmpv6 128) also lets the
 * matching echo replies back the other way, as replies (state), like the
 * replies of any connection the policy allowed; no entry allows them.
 * ICMP errors and neighbour discovery are never a rule's (the config
 * refuses them): they pass by their own reasons.
 */
struct policy_rule {
	char id[SPEE_RULE_ID_LEN];
	const char *description; /* borrowed from the matrix, baseline or config; may be NULL */
	enum rule_origin origin;
	int matrix_index; /* RULE_MATRIX: index into matrix_rules, else -1 */
	uint8_t proto;
	uint16_t port_lo;
	uint16_t port_hi;
	uint8_t dirs; /* 1 << enum spee_dir for each direction enforced on this host */
	bool optional;
	/* The peer side as written (e.g. "CAS, IH" or "ANY"), per direction enforced. */
	char *peers_text[SPEE_DIR_MAX];
};

enum entry_peer {
	ENTRY_PEER_PREFIX,
	ENTRY_PEER_NAME, /* a DNS name: its addresses, once resolved, are host prefixes */
};

/*
 * One allowlist entry. `reason` is SPEE_REASON_RULE for entries of rules;
 * the compiler also emits the implicit entries the host needs: DNS to its
 * resolvers (SPEE_REASON_DNS, udp and tcp port 53), its own addresses
 * (SPEE_REASON_LOOPBACK, proto SPEE_PROTO_LOCAL, port 0: egress, the ones on
 * the machine; ingress, every address the host takes packets for) and the
 * non-IP ethertypes of `ethertypes:` (SPEE_REASON_NON_IP, proto
 * SPEE_PROTO_ETHERTYPE, port = spee_ethertype_key(), peer 0.0.0.0/32, both
 * directions).
 */
struct policy_entry {
	uint8_t dir; /* enum spee_dir */
	uint8_t proto; /* as policy_rule's; SPEE_PROTO_LOCAL for the host's own addresses */
	uint16_t port_lo;
	uint16_t port_hi;
	enum entry_peer peer_kind;
	struct prefix prefix; /* ENTRY_PEER_PREFIX */
	const char *name; /* ENTRY_PEER_NAME; owned by the policy */
	uint8_t reason; /* enum spee_reason */
	uint16_t rule; /* index into policy.rules when reason == SPEE_REASON_RULE */
};

enum note_kind {
	NOTE_INDISTINGUISHABLE, /* rule matches exactly what an earlier rule matches */
	NOTE_SHADOWED, /* every entry of the rule loses to a more specific or earlier one */
	NOTE_ROLE_UNUSED, /* no host of the inventory holds a role the rule names */
	NOTE_EMPTY, /* the rule allows nothing: a network it names is empty */
	NOTE_NAME, /* the rule depends on DNS names */
	NOTE_FAMILY, /* an icmp/icmpv6 rule whose peers have no address of its family */
	NOTE_NARROW_DEFEATED, /* a narrowed rule's port stays open to ANY through another rule */
	NOTE_PORT_ON_ANY, /* a rule moved by ports: lands on a port another rule opens to ANY */
	NOTE_NOWHERE, /* a rule of the config is enforced on no host (policy_fleet_notes) */
	NOTE_NO_SSH, /* warning: the failsafe is replaced and no rule lets SSH in */
	NOTE_LOOPBACK_RESOLVER, /* warning: a resolver is a loopback address (a local stub) */
	NOTE_KIND_MAX,
};

struct policy_note {
	enum note_kind kind;
	bool warning; /* a warning: applying this policy would likely break something */
	char *rule; /* the rule concerned, or NULL */
	char *other; /* the earlier rule it loses to, or NULL */
	char *text; /* one sentence for people */
};

/* "indistinguishable", "shadowed", ... as check --json names the kinds. */
const char *note_kind_label(enum note_kind kind);

/* What the compiler needs from the machine rather than the file. */
struct policy_env {
	const struct prefix *resolvers; /* used when the config names none */
	size_t n_resolvers;
	/*
	 * The addresses configured on this machine, when the host compiled is
	 * the machine's own (apply, run, and check/explain/status of it): only
	 * its inventory addresses that are among them are the host itself.
	 * !local_known: every inventory address of the host counts (a host
	 * compiled elsewhere, whose interfaces this machine cannot see).
	 */
	const struct prefix *local_addrs;
	size_t n_local_addrs;
	bool local_known;
	/*
	 * What the machine takes packets for as its own (host_receive_addresses),
	 * with the host's inventory addresses the ingress scope: a packet to
	 * anything else is transit. !receive_known: the inventory addresses only.
	 */
	const struct prefix *receive_addrs;
	size_t n_receive_addrs;
	bool receive_known;
};

/* True when addr is configured on the machine env describes (always when it is not known). */
bool policy_env_has_local(const struct policy_env *env, const struct prefix *addr);

struct policy {
	const struct config *cfg; /* borrowed; must outlive the policy */
	const struct cfg_host *host;
	size_t host_index; /* of host in cfg->hosts */
	unsigned roles;
	enum spee_mode mode;
	enum spee_action default_action[SPEE_DIR_MAX];
	/* Ingress judges only packets to the host (its ingress local entries); the rest is transit. */
	bool host_scope;

	struct policy_rule *rules; /* every rule of the config, in row order */
	size_t n_rules;

	struct policy_entry *entries; /* sorted: dir, rule order, proto, first port, peer */
	size_t n_entries;

	struct policy_note *notes;
	size_t n_notes;

	char **names; /* the DNS names entries use, sorted, unique */
	size_t n_names;
};

/*
 * Compiles the allowlists of host `host_name` (which must be in the
 * inventory). Returns 0 and sets *out, or a negative errno with the problem
 * added to d.
 */
int policy_compile(const struct config *cfg, const char *host_name, const struct policy_env *env,
		   struct policy **out, struct diags *d);

void policy_free(struct policy *p);

/*
 * What the config says that concerns no single host: the site and failsafe
 * rules enforced on no host at all (neither side names a role any host
 * holds, an inventory host or one of its addresses). Sets *out (free with
 * policy_notes_free) and *n. Returns 0 or -ENOMEM.
 */
int policy_fleet_notes(const struct config *cfg, struct policy_note **out, size_t *n);

void policy_notes_free(struct policy_note *v, size_t n);

/*
 * True when a rule side names host h (index into cfg->hosts): a role it
 * holds, its name, one of its addresses, or a network holding one of them.
 * The rule is then enforced on h: as ingress for the `to` side, as egress
 * for the `from` side.
 */
bool policy_side_names_host(const struct config *cfg, const struct peer_list *side, size_t h);

/* The rule with this id, or -1. */
int policy_find_rule(const struct policy *p, const char *id);

#endif
