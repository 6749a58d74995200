/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * config_model.h - the fleet config in memory (CONTRACT.md section 2), as
 * config.c's parser fills it: the types, looking things up, freeing. The
 * parser's stages (config_peers.c, config_rules.c, config.c) build on it;
 * everyone else includes config.h, which includes this.
 *
 * The struct is already resolved as far as the file alone allows: roles are
 * bits, network references are indexes, addresses are parsed prefixes, and
 * the defaults the contract names are filled in. DNS names stay names; they
 * are resolved later (resolve.h).
 */
#ifndef SPEE_CONFIG_MODEL_H
#define SPEE_CONFIG_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spee_abi.h"
#include "addr.h"
#include "diag.h"

/* Where something was written in the config; 1-based, 0 for defaults. */
struct src_loc {
	int line;
	int col;
};

/* One term of a from/to list, of a narrow list, or a member of a network. */
enum peer_kind {
	PEER_ROLE, /* every inventory host holding one of `roles` */
	PEER_ANY, /* 0.0.0.0/0 and ::/0 */
	PEER_NETWORK, /* config.networks[network] */
	PEER_PREFIX, /* an address or a CIDR */
	PEER_NAME, /* a DNS name, resolved at run time */
	PEER_HOST, /* an inventory host by name: its addresses */
};

/* peer.host of an address that no inventory host holds. */
#define CFG_NO_HOST SIZE_MAX

struct peer {
	enum peer_kind kind;
	unsigned roles; /* PEER_ROLE: enum role bits */
	size_t network; /* PEER_NETWORK */
	struct prefix prefix; /* PEER_PREFIX */
	char *name; /* PEER_NAME */
	/*
	 * PEER_HOST: index into config.hosts. PEER_PREFIX: the host that holds
	 * exactly this address (a full-length prefix of the inventory), or
	 * CFG_NO_HOST; such a term stands for that host where a rule is
	 * enforced, as its name would (CONTRACT.md section 4).
	 */
	size_t host;
	struct src_loc loc;
};

struct peer_list {
	struct peer *v;
	size_t n;
};

struct cfg_host {
	char *name;
	unsigned roles; /* at least one */
	struct prefix *addrs; /* full-length prefixes, at least one */
	size_t n_addrs;
	struct src_loc loc;
};

/*
 * A named set of peers: the built-in networks always exist (ADM empty, CA
 * [any], NTP [any], K8S_CONTROL empty, MONITORING ADM's members when the
 * file does not set them), plus any name the file defines. Members are
 * PEER_ANY, PEER_PREFIX, PEER_NAME or PEER_HOST only.
 */
struct cfg_network {
	char *name;
	struct peer_list members;
	bool from_file; /* false: the built-in default */
	struct src_loc loc;
};

/*
 * A site rule or a failsafe rule: the matrix's shape, written in the file.
 * What it matches is (proto, port_lo, port_hi) as protocols.h says: the IP
 * protocol number; tcp and udp with a port range, icmp and icmpv6 with the
 * message type in port_lo == port_hi, any other protocol (proto: ip) with 0.
 */
struct cfg_rule {
	char *id;
	uint8_t proto; /* IPPROTO_TCP (the default), IPPROTO_UDP, IPPROTO_ICMP, ICMPV6, or other */
	uint16_t port_lo;
	uint16_t port_hi; /* == port_lo for a single port */
	struct peer_list from;
	struct peer_list to; /* failsafe rules default to every host (all roles) */
	char *description; /* may be NULL */
	struct src_loc loc;
};

/* What the file changes about one built-in row (ports:, disable:, narrow:). */
struct cfg_matrix_override {
	uint16_t port; /* 0: the seed's port */
	bool disabled;
	bool narrowed;
	struct peer_list narrow; /* replaces the row's ANY side when narrowed */
	struct src_loc loc; /* of the first mention */
};

#define CONFIG_DEFAULT_DNS_MIN_TTL 10
#define CONFIG_DEFAULT_DNS_MAX_TTL 3600
#define CONFIG_DEFAULT_UDP_TIMEOUT 60
#define CONFIG_DEFAULT_EVENTS_RATE 100 /* drop events a second, per CPU */
#define CONFIG_DEFAULT_EVENTS_BURST 200
#define CONFIG_FAILSAFE_SSH_ID "failsafe-ssh"
#define CONFIG_DEFAULT_METRICS_PORT 9600 /* the DaemonSet's --metrics :9600 */

struct config {
	char *path;
	uint8_t sha256[32]; /* of the file's bytes */

	enum spee_mode mode;
	enum spee_action default_action[SPEE_DIR_MAX];

	struct cfg_host *hosts;
	size_t n_hosts;

	struct cfg_network *networks; /* the built-in ones first (CONFIG_NETWORK_*) */
	size_t n_networks;

	unsigned baselines; /* enum baseline_set bits (baseline.h) */
	/* the agent's metrics port, which the kubernetes-node baseline opens to MONITORING */
	uint16_t metrics_port;

	struct cfg_matrix_override *matrix; /* [matrix_rule_count] */

	struct cfg_rule *rules; /* site rules, in file order */
	size_t n_rules;

	/* failsafe-ssh (tcp/22 from ADM to every host) unless the file has `failsafe:` */
	struct cfg_rule *failsafe;
	size_t n_failsafe;
	bool failsafe_from_file;

	/* DNS servers the host may query; from /etc/resolv.conf when not in the file */
	struct prefix *resolvers;
	size_t n_resolvers;
	bool resolvers_from_file;

	uint32_t dns_min_ttl; /* seconds; re-resolution interval is clamped to these */
	uint32_t dns_max_ttl;
	uint32_t udp_timeout; /* seconds a UDP flow's replies are let in */
	/*
	 * `ethertypes:` the non-IP frames passed besides ARP, as spee_exact keys
	 * (spee_ethertype_key(): an ethertype, SPEE_ETHERTYPE_LLC or _ANY).
	 */
	uint16_t *ethertypes;
	size_t n_ethertypes;
	uint32_t events_rate; /* drop events a second and CPU; 0: none */
	uint32_t events_burst; /* what a CPU may send at once after a quiet time */
};

#define CONFIG_NETWORK_ADM 0
#define CONFIG_NETWORK_CA 1
#define CONFIG_NETWORK_NTP 2 /* used by the linux-host baseline */
#define CONFIG_NETWORK_K8S_CONTROL 3 /* used by the kubernetes-node baseline */
#define CONFIG_NETWORK_MONITORING 4 /* may scrape the agent's metrics port */
#define CONFIG_BUILTIN_NETWORKS 5

void config_free(struct config *cfg);

/* The host with this name, or NULL. */
const struct cfg_host *config_find_host(const struct config *cfg, const char *name);

/* The network with this name, or NULL. */
const struct cfg_network *config_find_network(const struct config *cfg, const char *name);


/* Index of the network with this name. */
bool cfg_network_index(const struct config *cfg, const char *name, size_t *idx);

/* One PEER_ROLE term holding every role: every host of the inventory. */
int cfg_every_host(struct peer_list *l);

void cfg_peers_free(struct peer_list *l);

void cfg_rules_free(struct cfg_rule *v, size_t n);

#endif
