// SPDX-License-Identifier: GPL-2.0-only
/*
 * The config file (CONTRACT.md section 2): reading it, the top level of the
 * schema and the sections that stand alone (mode, default, hosts, networks
 * and the extensions resolvers, dns, udp-timeout and ethertypes). The YAML node layer is
 * config_yaml.c, peers are config_peers.c, rules are config_rules.c.
 *
 * A problem in the file is reported where it is and parsing goes on, so
 * that one run shows them all; only running out of memory stops it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <nettle/sha2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "baseline.h"
#include "config_parser.h"
#include "config_peers.h"
#include "config_rules.h"
#include "labels.h"
#include "matrix.h"

#define CONFIG_MAX_BYTES (16u << 20)
#define HOST_NAME_MAX_LEN 63 /* spee_instance.host holds 64 bytes */
#define SECONDS_MAX 86400

/* The built-in networks, at their CONFIG_NETWORK_* index; `any`: [any] by default, else empty. */
static const struct {
	const char *name;
	bool any;
} builtin_networks[CONFIG_BUILTIN_NETWORKS] = {
	[CONFIG_NETWORK_ADM] = { "ADM", false },
	[CONFIG_NETWORK_CA] = { "CA", true },
	[CONFIG_NETWORK_NTP] = { "NTP", true },
	[CONFIG_NETWORK_K8S_CONTROL] = { "K8S_CONTROL", false },
	/* ADM's members, once the file has said what they are (monitoring_default) */
	[CONFIG_NETWORK_MONITORING] = { "MONITORING", false },
};

static int config_new(const char *path, const char *buf, size_t len, struct config **out)
{
	struct sha256_ctx sha;
	struct config *cfg;
	int err = -ENOMEM;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	cfg->path = strdup(path);
	cfg->matrix = calloc(matrix_rule_count, sizeof(*cfg->matrix));
	cfg->networks = calloc(CONFIG_BUILTIN_NETWORKS, sizeof(*cfg->networks));
	if (!cfg->path || !cfg->matrix || !cfg->networks)
		goto out;
	cfg->n_networks = CONFIG_BUILTIN_NETWORKS;
	for (size_t i = 0; i < CONFIG_BUILTIN_NETWORKS; i++) {
		struct cfg_network *net = &cfg->networks[i];

		net->name = strdup(builtin_networks[i].name);
		if (!net->name)
			goto out;
		if (!builtin_networks[i].any)
			continue;
		net->members.v = calloc(1, sizeof(struct peer));
		if (!net->members.v)
			goto out;
		net->members.v[0].kind = PEER_ANY;
		net->members.n = 1;
	}
	cfg->metrics_port = CONFIG_DEFAULT_METRICS_PORT;

	cfg->mode = SPEE_MODE_ENFORCE;
	cfg->default_action[SPEE_DIR_INGRESS] = SPEE_ACTION_DROP;
	cfg->default_action[SPEE_DIR_EGRESS] = SPEE_ACTION_DROP;
	cfg->dns_min_ttl = CONFIG_DEFAULT_DNS_MIN_TTL;
	cfg->dns_max_ttl = CONFIG_DEFAULT_DNS_MAX_TTL;
	cfg->udp_timeout = CONFIG_DEFAULT_UDP_TIMEOUT;
	cfg->events_rate = CONFIG_DEFAULT_EVENTS_RATE;
	cfg->events_burst = CONFIG_DEFAULT_EVENTS_BURST;

	sha256_init(&sha);
	sha256_update(&sha, len, (const uint8_t *)buf);
	sha256_digest(&sha, sizeof(cfg->sha256), cfg->sha256);
	err = 0;
out:
	if (err)
		config_free(cfg);
	else
		*out = cfg;
	return err;
}

/* ---- mode, default ---- */

static int parse_mode(struct cfg_parser *p, struct ynode *n)
{
	const char *s;
	int err, mode;

	err = y_str(&p->y, n, &s);
	if (err)
		return err;
	mode = mode_from_label(s);
	if (mode < 0)
		return y_error(&p->y, n, "unknown mode '%s' (expected enforce or audit)", s);
	p->cfg->mode = (enum spee_mode)mode;
	return 0;
}

static int parse_action(struct cfg_parser *p, const struct ynode *n, enum spee_action *out)
{
	const char *s;
	int err, action;

	err = y_str(&p->y, n, &s);
	if (err)
		return err;
	action = action_from_label(s);
	if (action < 0)
		return y_error(&p->y, n, "unknown action '%s' (expected drop or pass)", s);
	*out = (enum spee_action)action;
	return 0;
}

static int parse_default(struct cfg_parser *p, struct ynode *n)
{
	struct y_field f[SPEE_DIR_MAX] = {
	    [SPEE_DIR_INGRESS] = {.name = "ingress"},
	    [SPEE_DIR_EGRESS] = {.name = "egress"},
	};
	int err;

	err = y_map(&p->y, n, NULL);
	if (err)
		return err;
	err = y_fields(&p->y, n, f, SPEE_DIR_MAX);
	for (int dir = 0; dir < SPEE_DIR_MAX && !y_fatal(err); dir++)
		if (f[dir].value)
			err = parse_action(p, f[dir].value, &p->cfg->default_action[dir]);
	return err;
}

/* ---- hosts ---- */

static bool valid_host_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!cfg_is_alpha(*s) && !cfg_is_digit(*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

struct name_key {
	const struct cfg_host *hosts;
	const char *name;
};

static bool name_eq(const void *ctx, size_t item)
{
	const struct name_key *k = ctx;

	return !strcmp(k->hosts[item].name, k->name);
}

size_t cfg_host_by_name(const struct cfg_parser *p, const char *name)
{
	struct name_key key = { .hosts = p->cfg->hosts, .name = name };

	return cfg_index_find(&p->name_index, cfg_hash(name, strlen(name)), name_eq, &key);
}

static int parse_host_name(struct cfg_parser *p, const struct ynode *n, size_t idx)
{
	struct cfg_host *hosts = p->cfg->hosts;
	struct name_key key;
	const char *s;
	uint64_t hash;
	size_t j;
	int err;

	err = y_str(&p->y, n, &s);
	if (err)
		return err;
	/* A host is where its name is written: what messages about it point at. */
	hosts[idx].loc = y_loc(n);
	hosts[idx].name = strdup(s);
	if (!hosts[idx].name)
		return -ENOMEM;
	if (!valid_host_name(s))
		return y_error(
		    &p->y, n, "host name '%s' is not valid (letters, digits, '.', '_' and '-')", s);
	if (strlen(s) > HOST_NAME_MAX_LEN)
		return y_error(&p->y, n, "host name '%s' is too long (at most %d characters)", s,
			       HOST_NAME_MAX_LEN);
	/* Rules name roles, ANY, networks and hosts alike, so the names must not overlap. */
	if (role_parse(s))
		return y_error(&p->y, n, "host name '%s' is taken by the role %s", s, s);
	if (!strcmp(s, "any") || !strcmp(s, "ANY"))
		return y_error(&p->y, n, "host name '%s' is reserved: ANY is every address", s);
	for (size_t i = 0; i < CONFIG_BUILTIN_NETWORKS; i++)
		if (!strcmp(s, builtin_networks[i].name))
			return y_error(&p->y, n, "host name '%s' is taken by the built-in network %s",
				       s, s);
	/*
	 * Only names that pass the checks above are indexed: equal names
	 * pass or fail them alike, so the first equal name is still found.
	 */
	hash = cfg_hash(s, strlen(s));
	key.hosts = hosts;
	key.name = s;
	j = cfg_index_find(&p->name_index, hash, name_eq, &key);
	if (j != SIZE_MAX)
		return y_error(&p->y, n, "duplicate host name '%s' (first defined at line %d)", s,
			       hosts[j].loc.line);
	return cfg_index_add(&p->name_index, hash, idx);
}

static int parse_roles(struct cfg_parser *p, const struct ynode *n, unsigned *roles)
{
	size_t len = 0;
	int err;

	err = y_seq_nonempty(&p->y, n, &len);
	for (size_t i = 0; i < len && !err; i++) {
		const struct ynode *item = y_seq_item(&p->y, n, i);
		const char *s;
		unsigned role;

		err = y_str(&p->y, item, &s);
		if (!err) {
			role = role_parse(s);
			if (!role)
				err = y_error(&p->y, item,
					      "unknown role '%s' (expected MGMT, CAS or IH)", s);
			else if (*roles & role)
				err = y_error(&p->y, item, "duplicate role '%s'", s);
			*roles |= role;
		}
		if (!y_fatal(err))
			err = 0;
	}
	return err;
}

struct addr_key {
	const struct seen_addr *seen;
	const struct prefix *addr;
};

static bool addr_eq(const void *ctx, size_t item)
{
	const struct addr_key *k = ctx;

	return !prefix_cmp(&k->seen[item].addr, k->addr);
}

/* What prefix_cmp() compares, so that equal prefixes hash alike. */
static uint64_t addr_hash(const struct prefix *a)
{
	uint8_t key[2 + sizeof(a->addr)];

	key[0] = a->family;
	key[1] = a->len;
	memcpy(key + 2, a->addr, sizeof(a->addr));
	return cfg_hash(key, sizeof(key));
}

size_t cfg_host_by_addr(const struct cfg_parser *p, const struct prefix *a)
{
	struct addr_key key = { .seen = p->seen, .addr = a };
	size_t i;

	if (a->len != prefix_max_len(a->family))
		return CFG_NO_HOST;
	i = cfg_index_find(&p->seen_index, addr_hash(a), addr_eq, &key);
	return i == SIZE_MAX ? CFG_NO_HOST : p->seen[i].host;
}

/* Notes a host address, or reports that an earlier host (or this one) has it. */
static int claim_addr(struct cfg_parser *p, const struct ynode *n, const struct prefix *a,
		      size_t host)
{
	struct addr_key key = {.seen = p->seen, .addr = a};
	uint64_t hash = addr_hash(a);
	struct seen_addr *v;
	size_t i;
	int err;

	i = cfg_index_find(&p->seen_index, hash, addr_eq, &key);
	if (i != SIZE_MAX) {
		const struct seen_addr *s = &p->seen[i];
		const char *owner = p->cfg->hosts[s->host].name;

		if (!owner)
			return y_error(&p->y, n,
				       "address %s is already used by host #%zu (line %d)",
				       y_text(n), s->host + 1, s->line);
		return y_error(&p->y, n, "address %s is already used by host '%s' (line %d)",
			       y_text(n), owner, s->line);
	}
	if (p->n_seen == p->cap_seen) {
		size_t cap = p->cap_seen ? p->cap_seen * 2 : 16;

		v = realloc(p->seen, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->seen = v;
		p->cap_seen = cap;
	}
	err = cfg_index_add(&p->seen_index, hash, p->n_seen);
	if (err)
		return err;
	p->seen[p->n_seen++] = (struct seen_addr){.addr = *a, .host = host, .line = y_loc(n).line};
	return 0;
}

static int parse_host_addrs(struct cfg_parser *p, const struct ynode *n, size_t idx)
{
	struct cfg_host *h = &p->cfg->hosts[idx];
	size_t len;
	int err;

	err = y_seq_nonempty(&p->y, n, &len);
	if (err)
		return err;
	h->addrs = calloc(len, sizeof(*h->addrs));
	if (!h->addrs)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		const struct ynode *item = y_seq_item(&p->y, n, i);

		err = cfg_parse_addr(p, item, &h->addrs[h->n_addrs]);
		if (!err)
			err = claim_addr(p, item, &h->addrs[h->n_addrs++], idx);
		if (y_fatal(err))
			return err;
	}
	return 0;
}

enum { H_NAME, H_ROLES, H_ADDRESSES, H_COUNT };

static int parse_host(struct cfg_parser *p, const struct ynode *n, size_t idx)
{
	struct cfg_host *h = &p->cfg->hosts[idx];
	struct y_field f[H_COUNT] = {
	    [H_NAME] = {.name = "name", .required = true},
	    [H_ROLES] = {.name = "roles", .required = true},
	    [H_ADDRESSES] = {.name = "addresses", .required = true},
	};
	int err;

	h->loc = y_loc(n);
	err = y_map(&p->y, n, NULL);
	if (err)
		return err;
	err = y_fields(&p->y, n, f, H_COUNT);
	if (!y_fatal(err) && f[H_NAME].value)
		err = parse_host_name(p, f[H_NAME].value, idx);
	if (!y_fatal(err) && f[H_ROLES].value)
		err = parse_roles(p, f[H_ROLES].value, &h->roles);
	if (!y_fatal(err) && f[H_ADDRESSES].value)
		err = parse_host_addrs(p, f[H_ADDRESSES].value, idx);
	return err;
}

static int parse_hosts(struct cfg_parser *p, struct ynode *n)
{
	struct config *cfg = p->cfg;
	size_t len;
	int err;

	err = y_seq_nonempty(&p->y, n, &len);
	if (err)
		return err;
	cfg->hosts = calloc(len, sizeof(*cfg->hosts));
	if (!cfg->hosts)
		return -ENOMEM;
	/* Every host has a name and an address or more: the indices' room, taken once. */
	err = cfg_index_reserve(&p->name_index, len);
	if (!err)
		err = cfg_index_reserve(&p->seen_index, len);
	if (!err && p->cap_seen < len) {
		struct seen_addr *v = realloc(p->seen, len * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->seen = v;
		p->cap_seen = len;
	}
	if (err)
		return err;
	for (size_t i = 0; i < len; i++) {
		err = parse_host(p, y_seq_item(&p->y, n, i), cfg->n_hosts++);
		if (y_fatal(err))
			return err;
	}
	return 0;
}

/* ---- networks ---- */

static int check_network_name(struct cfg_parser *p, const struct ynode *k, const char *s)
{
	bool ok = cfg_is_alpha(*s);
	size_t host;

	for (const char *c = s; *c && ok; c++)
		ok = cfg_is_alpha(*c) || cfg_is_digit(*c) || *c == '_' || *c == '-';
	if (!ok)
		return y_error(
		    &p->y, k,
		    "network name '%s' is not valid (a letter, then letters, digits, '_' or '-')",
		    s);
	/* Rules name roles, ANY and networks alike, so the names must not overlap. */
	for (unsigned bit = 1; bit & ROLE_ALL; bit <<= 1)
		if (!strcasecmp(s, role_name(bit)))
			return y_error(&p->y, k, "network name '%s' is taken by the role %s", s,
				       role_name(bit));
	if (!strcasecmp(s, "ANY"))
		return y_error(&p->y, k, "network name '%s' is reserved: ANY is every address", s);
	host = cfg_host_by_name(p, s);
	if (host != SIZE_MAX)
		return y_error(&p->y, k, "network name '%s' is taken by the host %s (line %d)", s,
			       s, p->cfg->hosts[host].loc.line);
	return 0;
}

static int parse_networks(struct cfg_parser *p, struct ynode *n)
{
	struct config *cfg = p->cfg;
	struct cfg_network *v;
	struct ynode **members = NULL;
	size_t len, *slot = NULL;
	int err;

	if (y_is_null(n))
		return 0;
	err = y_map(&p->y, n, &len);
	if (err || !len)
		return err;
	v = realloc(cfg->networks, (cfg->n_networks + len) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	cfg->networks = v;
	memset(v + cfg->n_networks, 0, len * sizeof(*v));
	slot = calloc(len, sizeof(*slot));
	members = calloc(len, sizeof(*members));
	if (!slot || !members) {
		err = -ENOMEM;
		goto out;
	}
	/* Names first: a member naming a network is an error wherever that network is defined. */
	for (size_t i = 0; i < len; i++) {
		struct cfg_network *net;
		const char *name;
		struct ynode *k;
		size_t idx;

		err = y_map_pair(&p->y, n, i, &name, &k, &members[i]);
		if (err) {
			members[i] = NULL;
			if (y_fatal(err))
				goto out;
			continue;
		}
		if (!cfg_network_index(cfg, name, &idx)) {
			/* Kept even when the name is bad, so that rules naming it add no noise. */
			err = check_network_name(p, k, name);
			if (y_fatal(err))
				goto out;
			idx = cfg->n_networks++;
			cfg->networks[idx].name = strdup(name);
			if (!cfg->networks[idx].name) {
				err = -ENOMEM;
				goto out;
			}
		}
		net = &cfg->networks[idx];
		cfg_peers_free(&net->members); /* CA's default */
		net->from_file = true;
		net->loc = y_loc(k);
		slot[i] = idx;
	}
	for (size_t i = 0; i < len; i++) {
		if (!members[i])
			continue;
		err = cfg_parse_peers(p, members[i], true, &cfg->networks[slot[i]].members);
		if (y_fatal(err))
			goto out;
	}
	err = 0;
out:
	free(slot);
	free(members);
	return err;
}

/* ---- extensions: resolvers, dns, udp-timeout, events ---- */

#define EVENTS_MAX 1000000

static int parse_resolvers(struct cfg_parser *p, struct ynode *n)
{
	struct config *cfg = p->cfg;
	size_t len;
	int err;

	cfg->resolvers_from_file = true;
	err = y_seq(&p->y, n, &len);
	if (err)
		return err;
	/* [] would read as "none", but code that sees no resolvers falls back to the system's. */
	if (!len)
		return y_error(
		    &p->y, n,
		    "expected a non-empty list (leave resolvers out to use the system's)");
	cfg->resolvers = calloc(len, sizeof(*cfg->resolvers));
	if (!cfg->resolvers)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		err = cfg_parse_addr(p, y_seq_item(&p->y, n, i), &cfg->resolvers[cfg->n_resolvers]);
		if (!err)
			cfg->n_resolvers++;
		if (y_fatal(err))
			return err;
	}
	return 0;
}

static int parse_seconds(struct cfg_parser *p, const struct ynode *n, const char *what,
			 uint32_t *out)
{
	long long v;
	int err;

	err = y_int(&p->y, n, &v);
	if (err)
		return err;
	if (v < 1 || v > SECONDS_MAX)
		return y_error(&p->y, n, "%s %s is out of range (1-%d seconds)", what, y_text(n),
			       SECONDS_MAX);
	*out = (uint32_t)v;
	return 0;
}

enum { D_MIN_TTL, D_MAX_TTL, D_COUNT };

static int parse_dns(struct cfg_parser *p, struct ynode *n)
{
	struct config *cfg = p->cfg;
	struct y_field f[D_COUNT] = {
	    [D_MIN_TTL] = {.name = "min-ttl"},
	    [D_MAX_TTL] = {.name = "max-ttl"},
	};
	int err, min_err = 0, max_err = 0;

	if (y_is_null(n))
		return 0;
	err = y_map(&p->y, n, NULL);
	if (err)
		return err;
	err = y_fields(&p->y, n, f, D_COUNT);
	if (y_fatal(err))
		return err;
	if (f[D_MIN_TTL].value) {
		min_err = parse_seconds(p, f[D_MIN_TTL].value, "min-ttl", &cfg->dns_min_ttl);
		if (y_fatal(min_err))
			return min_err;
	}
	if (f[D_MAX_TTL].value) {
		max_err = parse_seconds(p, f[D_MAX_TTL].value, "max-ttl", &cfg->dns_max_ttl);
		if (y_fatal(max_err))
			return max_err;
	}
	if (min_err || max_err || cfg->dns_min_ttl <= cfg->dns_max_ttl)
		return min_err ? min_err : max_err;
	/* Point at the value the file set; the other one is a default. */
	if (f[D_MAX_TTL].value)
		return y_error(&p->y, f[D_MAX_TTL].value, "max-ttl %u is less than min-ttl %u",
			       cfg->dns_max_ttl, cfg->dns_min_ttl);
	return y_error(&p->y, f[D_MIN_TTL].value, "min-ttl %u is greater than max-ttl %u",
		       cfg->dns_min_ttl, cfg->dns_max_ttl);
}

static int parse_udp_timeout(struct cfg_parser *p, struct ynode *n)
{
	return parse_seconds(p, n, "udp-timeout", &p->cfg->udp_timeout);
}

static int parse_event_count(struct cfg_parser *p, const struct ynode *n, const char *what,
			     uint32_t *out)
{
	long long v;
	int err = y_int(&p->y, n, &v);

	if (err)
		return err;
	if (v < 0 || v > EVENTS_MAX)
		return y_error(&p->y, n, "%s %s is out of range (0-%d)", what, y_text(n), EVENTS_MAX);
	*out = (uint32_t)v;
	return 0;
}

enum { E_RATE, E_BURST, E_COUNT };

/* events: {rate: N, burst: N}: the drop events each CPU may report (rate 0: none). */
static int parse_events(struct cfg_parser *p, struct ynode *n)
{
	struct y_field f[E_COUNT] = {
	    [E_RATE] = {.name = "rate"},
	    [E_BURST] = {.name = "burst"},
	};
	int err;

	if (y_is_null(n))
		return 0;
	err = y_map(&p->y, n, NULL);
	if (err)
		return err;
	err = y_fields(&p->y, n, f, E_COUNT);
	if (!y_fatal(err) && f[E_RATE].value)
		err = parse_event_count(p, f[E_RATE].value, "rate", &p->cfg->events_rate);
	if (!y_fatal(err) && f[E_BURST].value)
		err = parse_event_count(p, f[E_BURST].value, "burst", &p->cfg->events_burst);
	return err;
}

/* ---- baseline, metrics-port ---- */

/* baseline: [linux-host, kubernetes-node]: the built-in rule sets of baseline.h. */
static int parse_baseline(struct cfg_parser *p, struct ynode *n)
{
	struct config *cfg = p->cfg;
	size_t len = 0;
	int err;

	if (y_is_null(n))
		return 0;
	err = y_seq(&p->y, n, &len);
	for (size_t i = 0; i < len && !y_fatal(err); i++) {
		const struct ynode *item = y_seq_item(&p->y, n, i);
		const struct cfg_network *k8s = &cfg->networks[CONFIG_NETWORK_K8S_CONTROL];
		const char *s, *hint;
		unsigned set;

		err = y_str(&p->y, item, &s);
		if (err)
			continue;
		set = baseline_parse(s);
		hint = set ? NULL : baseline_suggest(s);
		if (!set && hint)
			err = y_error(&p->y, item, "unknown baseline '%s' (did you mean '%s'?)", s,
				      hint);
		else if (!set)
			err = y_error(&p->y, item,
				      "unknown baseline '%s' (expected linux-host or kubernetes-node)",
				      s);
		else if (cfg->baselines & set)
			err = y_error(&p->y, item, "duplicate baseline '%s'", s);
		else if (set == BASELINE_KUBERNETES_NODE && !k8s->members.n)
			/* An empty control plane would cut every node off from its API server. */
			err = y_error(&p->y, item,
				      "baseline kubernetes-node needs networks: K8S_CONTROL, the "
				      "control plane's addresses (the API servers, and what calls "
				      "the kubelet)");
		cfg->baselines |= set;
	}
	return err;
}

static int parse_metrics_port(struct cfg_parser *p, struct ynode *n)
{
	long long v;
	int err = y_int(&p->y, n, &v);

	if (err)
		return err;
	if (v < 1 || v > 65535)
		return y_error(&p->y, n, "metrics-port %s is out of range (1-65535)", y_text(n));
	p->cfg->metrics_port = (uint16_t)v;
	return 0;
}

/* MONITORING not in the file: ADM's members (the administrators may scrape the agent). */
static int monitoring_default(struct config *cfg)
{
	const struct peer_list *adm = &cfg->networks[CONFIG_NETWORK_ADM].members;
	struct peer_list *mon = &cfg->networks[CONFIG_NETWORK_MONITORING].members;

	if (cfg->networks[CONFIG_NETWORK_MONITORING].from_file || !adm->n)
		return 0;
	mon->v = calloc(adm->n, sizeof(*mon->v));
	if (!mon->v)
		return -ENOMEM;
	for (size_t i = 0; i < adm->n; i++) {
		mon->v[i] = adm->v[i];
		mon->v[i].name = NULL;
		mon->n++;
		if (adm->v[i].name && !(mon->v[i].name = strdup(adm->v[i].name)))
			return -ENOMEM;
	}
	return 0;
}

/* ---- ethertypes ---- */

/* "0x88b5" or "34997": a number the YAML layer leaves as text. */
static bool parse_number(const char *s, long long *out)
{
	char *end;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!s[2])
			return false;
		errno = 0;
		*out = strtoll(s + 2, &end, 16);
		return !*end && !errno;
	}
	return y_parse_int(s, out);
}

/* One item of `ethertypes:`: its keys into out (up to ETHERTYPE_NAME_MAX), or -EINVAL. */
static int parse_ethertype(struct cfg_parser *p, const struct ynode *n,
			   uint16_t out[ETHERTYPE_NAME_MAX], size_t *n_out)
{
	const char *s;
	long long v;
	int err = y_str(&p->y, n, &s);

	if (err)
		return err;
	*n_out = ethertype_by_name(s, out);
	if (*n_out)
		return 0;
	if (!parse_number(s, &v))
		return y_error(&p->y, n,
			       "unknown ethertype '%s' (expected a number 0x0600-0xffff or one of "
			       "%s)",
			       s, ethertype_names());
	if (v < 0 || v > 0xffff)
		return y_error(&p->y, n, "ethertype %s is out of range (0x0600-0xffff)", s);
	if (v < 0x0600)
		return y_error(&p->y, n,
			       "%s is an 802.3 length, not an ethertype: 'llc' passes every 802.3 "
			       "frame",
			       s);
	if (v == 0x0800 || v == 0x86dd)
		return y_error(&p->y, n, "ethertype %s is IP, which the rules judge", s);
	if (v == 0x8100 || v == 0x88a8)
		return y_error(&p->y, n,
			       "ethertype %s is a VLAN tag, which speebpf walks to judge what it "
			       "carries",
			       s);
	out[0] = (uint16_t)v;
	*n_out = 1;
	return 0;
}

/* ethertypes: [lldp, lacp, 0x88b5]: the non-IP frames passed besides ARP. */
static int parse_ethertypes(struct cfg_parser *p, struct ynode *n)
{
	struct config *cfg = p->cfg;
	size_t len;
	int err;

	err = y_seq(&p->y, n, &len);
	if (err)
		return err;
	cfg->ethertypes = calloc(len * ETHERTYPE_NAME_MAX + 1, sizeof(*cfg->ethertypes));
	if (!cfg->ethertypes)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		const struct ynode *item = y_seq_item(&p->y, n, i);
		uint16_t keys[ETHERTYPE_NAME_MAX];
		size_t n_keys = 0;
		bool dup = false;

		err = parse_ethertype(p, item, keys, &n_keys);
		if (y_fatal(err))
			return err;
		for (size_t k = 0; k < n_keys; k++) {
			for (size_t j = 0; j < cfg->n_ethertypes; j++)
				dup |= cfg->ethertypes[j] == keys[k];
			if (!dup)
				cfg->ethertypes[cfg->n_ethertypes++] = keys[k];
		}
		if (dup)
			y_error(&p->y, item, "ethertype %s is listed twice", y_text(item));
	}
	return 0;
}

/* ---- the file ---- */

enum {
	K_MODE,
	K_HOSTS,
	K_NETWORKS,
	K_PORTS,
	K_DISABLE,
	K_NARROW,
	K_RULES,
	K_FAILSAFE,
	K_DEFAULT,
	K_RESOLVERS,
	K_DNS,
	K_UDP_TIMEOUT,
	K_EVENTS,
	K_BASELINE,
	K_METRICS_PORT,
	K_ETHERTYPES,
	K_COUNT,
};

static int parse_root(struct cfg_parser *p, struct ynode *root)
{
	struct y_field f[K_COUNT] = {
	    [K_MODE] = {.name = "mode"},	 [K_HOSTS] = {.name = "hosts", .required = true},
	    [K_NETWORKS] = {.name = "networks"}, [K_PORTS] = {.name = "ports"},
	    [K_DISABLE] = {.name = "disable"},	 [K_NARROW] = {.name = "narrow"},
	    [K_RULES] = {.name = "rules"},	 [K_FAILSAFE] = {.name = "failsafe"},
	    [K_DEFAULT] = {.name = "default"},	 [K_RESOLVERS] = {.name = "resolvers"},
	    [K_DNS] = {.name = "dns"},		 [K_UDP_TIMEOUT] = {.name = "udp-timeout"},
	    [K_EVENTS] = {.name = "events"},	 [K_BASELINE] = {.name = "baseline"},
	    [K_METRICS_PORT] = {.name = "metrics-port"}, [K_ETHERTYPES] = {.name = "ethertypes"},
	};
	/*
	 * Keys may come in any order, so they are parsed in this one: hosts
	 * before anything that names them or their addresses (networks, rules),
	 * networks before anything that names them, site rules before failsafe
	 * rules.
	 */
	static const struct {
		int key;
		int (*parse)(struct cfg_parser *p, struct ynode *n);
	} stages[] = {
	    {K_HOSTS, parse_hosts},
	    {K_NETWORKS, parse_networks},
	    {K_BASELINE, parse_baseline},
	    {K_METRICS_PORT, parse_metrics_port},
	    {K_MODE, parse_mode},
	    {K_DEFAULT, parse_default},
	    {K_PORTS, cfg_parse_ports},
	    {K_DISABLE, cfg_parse_disable},
	    {K_NARROW, cfg_parse_narrow},
	    {K_RULES, cfg_parse_site_rules},
	    {K_FAILSAFE, cfg_parse_failsafe},
	    {K_RESOLVERS, parse_resolvers},
	    {K_DNS, parse_dns},
	    {K_UDP_TIMEOUT, parse_udp_timeout},
	    {K_EVENTS, parse_events},
	    {K_ETHERTYPES, parse_ethertypes},
	};
	int err;

	err = y_map(&p->y, root, NULL);
	if (err)
		return err;
	err = y_fields(&p->y, root, f, K_COUNT);
	for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]) && !y_fatal(err); i++)
		if (f[stages[i].key].value)
			err = stages[i].parse(p, f[stages[i].key].value);
	if (!y_fatal(err) && !f[K_FAILSAFE].value)
		err = cfg_default_failsafe(p->cfg);
	if (!y_fatal(err))
		err = monitoring_default(p->cfg);
	if (!y_fatal(err))
		err = cfg_check_rule_ids(p);
	return err;
}

/* Stable, so that problems at one place keep the order they were found in. */
static void sort_diags(struct diags *d, size_t from)
{
	for (size_t i = from + 1; i < d->n; i++) {
		struct diag dg = d->v[i];
		size_t j = i;

		for (; j > from && (d->v[j - 1].line > dg.line ||
				    (d->v[j - 1].line == dg.line && d->v[j - 1].col > dg.col));
		     j--)
			d->v[j] = d->v[j - 1];
		d->v[j] = dg;
	}
}

int config_parse(const char *path, const char *buf, size_t len, struct config **out,
		 struct diags *d)
{
	struct cfg_parser p = {.y = {.path = path, .d = d}};
	size_t first = d->n;
	int err;

	*out = NULL;
	if (!buf)
		buf = "";
	err = config_new(path, buf, len, &p.cfg);
	if (err)
		return err;
	err = y_load(&p.y, buf, len);
	if (!err)
		err = parse_root(&p, y_root(&p.y));
	if (!y_fatal(err))
		err = d->n > first ? -EINVAL : 0;
	/* Stages run in a fixed order; people read problems in file order. */
	sort_diags(d, first);
	y_free(&p.y);
	free(p.seen);
	cfg_index_free(&p.seen_index);
	cfg_index_free(&p.name_index);
	if (err)
		config_free(p.cfg);
	else
		*out = p.cfg;
	return err;
}

/* What kind of file st is, for saying why it cannot be a config. */
static const char *file_kind(const struct stat *st)
{
	return S_ISFIFO(st->st_mode) ? "a FIFO" : S_ISSOCK(st->st_mode) ? "a socket" :
	       S_ISCHR(st->st_mode)  ? "a character device" :
	       S_ISBLK(st->st_mode)  ? "a block device" : "not a regular file";
}

/*
 * Reads a whole config file. Only a regular file is read, and it is opened
 * without blocking: a FIFO (or a device) at the path would otherwise hold
 * the caller in open() or read() for as long as nobody writes to it, and
 * the agent's loop, its signals and status with it.
 */
int config_read_file(const char *path, char **out, size_t *len, struct diags *d)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;
	struct stat st;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		err = -EISDIR;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		diag_add(d, path, 0, 0, "cannot read the config: it is %s, not a file",
			 file_kind(&st));
		close(fd);
		return -EINVAL;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap >= CONFIG_MAX_BYTES) {
				err = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
out:
	if (fd >= 0)
		close(fd);
	if (err) {
		/* The read error is the news; a failure to record it changes nothing. */
		diag_add(d, path, 0, 0, "cannot read the config: %s", strerror(-err));
		free(buf);
		return err;
	}
	*out = buf;
	*len = n;
	return 0;
}

int config_load(const char *path, struct config **out, struct diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	int err;

	*out = NULL;
	err = config_read_file(path, &buf, &len, d);
	if (err)
		return err;
	err = config_parse(path, buf, len, out, d);
	free(buf);
	/*
	 * The YAML document took several times the config's own size (about
	 * 10 MB for 10,000 hosts), and glibc keeps such memory once freed. A
	 * config that loaded is compiled and applied next, reusing those pages,
	 * and the agent gives back what is left once idle; one that did not is
	 * not, so the memory goes back here (an agent may wait long for a fixed
	 * file).
	 */
	if (err)
		malloc_trim(0);
	return err;
}
