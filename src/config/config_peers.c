// SPDX-License-Identifier: GPL-2.0-only
/*
 * The config's vocabulary for peers (see config_schema.h): single
 * addresses, as hosts and resolvers are written, and the terms of from/to/
 * narrow lists and of networks: roles, ANY, network names, addresses, CIDRs
 * and DNS names.
 */
#include "config_peers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "matrix.h"

/* "any" and "ANY" both mean every address; no other term is case-insensitive. */
static bool is_any(const char *s)
{
	return !strcmp(s, "any") || !strcmp(s, "ANY");
}

/*
 * An address or CIDR into *pf: 0, or 1 when s does not look like an address
 * at all (it may still be a name), or -EINVAL after saying what is wrong.
 */
static int parse_prefix(struct cfg_parser *p, const struct ynode *n, const char *s,
			struct prefix *pf)
{
	char want[ADDR_TEXT_LEN];

	switch (prefix_parse(s, pf)) {
	case PREFIX_OK:
		return 0;
	case PREFIX_NOT_ADDRESS:
		return 1;
	case PREFIX_BAD_ADDRESS:
		if (strchr(s, '/'))
			return y_error(&p->y, n, "'%s' is not a valid CIDR", s);
		return y_error(&p->y, n, "'%s' is not a valid IP address", s);
	case PREFIX_BAD_LENGTH:
		return y_error(&p->y, n, "'%s' has a bad prefix length (expected 0-%d)", s,
			       prefix_max_len(pf->family));
	case PREFIX_HOST_BITS:
		for (int bit = pf->len; bit < prefix_max_len(pf->family); bit++)
			pf->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
		prefix_format(pf, want, sizeof(want));
		return y_error(&p->y, n, "%s has host bits set (did you mean %s?)", s, want);
	}
	return y_error(&p->y, n, "'%s' is not a valid IP address", s);
}

/* A single address, as hosts and resolvers are written: no prefix length. */
int cfg_parse_addr(struct cfg_parser *p, const struct ynode *n, struct prefix *a)
{
	struct prefix tmp;
	enum prefix_parse_result r;
	const char *s;
	int err;

	err = y_str(&p->y, n, &s);
	if (err)
		return err;
	if (addr_parse(s, a))
		return 0;
	r = prefix_parse(s, &tmp);
	if (strchr(s, '/') && r != PREFIX_NOT_ADDRESS && r != PREFIX_BAD_ADDRESS)
		return y_error(&p->y, n, "'%s' has a prefix length; write a single address", s);
	return y_error(&p->y, n, "'%s' is not a valid IP address", s);
}

static int unknown_term(struct cfg_parser *p, const struct ynode *n, const char *s)
{
	const struct config *cfg = p->cfg;

	for (unsigned bit = 1; bit & ROLE_ALL; bit <<= 1)
		if (!strcasecmp(s, role_name(bit)))
			return y_error(&p->y, n, "unknown role or network '%s' (did you mean %s?)",
				       s, role_name(bit));
	for (size_t i = 0; i < cfg->n_networks; i++)
		if (cfg->networks[i].name && !strcasecmp(s, cfg->networks[i].name))
			return y_error(&p->y, n, "unknown role or network '%s' (did you mean %s?)",
				       s, cfg->networks[i].name);
	for (size_t i = 0; i < cfg->n_hosts; i++)
		if (cfg->hosts[i].name && !strcasecmp(s, cfg->hosts[i].name))
			return y_error(&p->y, n, "unknown role, network or host '%s' (did you mean "
				       "the host %s?)", s, cfg->hosts[i].name);
	return y_error(&p->y, n, "unknown role, network or host '%s'", s);
}

/*
 * One term of a from/to/narrow list or, with member set, one member of a
 * network, which may be only an address, a CIDR, a DNS name, an inventory
 * host or any. A host's name means its inventory addresses, not a DNS
 * lookup; an address of the inventory is noted with its host (peer.host).
 */
static int parse_peer(struct cfg_parser *p, const struct ynode *n, bool member, struct peer *out)
{
	const char *s;
	unsigned role;
	size_t idx;
	int err;

	out->loc = y_loc(n);
	out->host = CFG_NO_HOST;
	err = y_str(&p->y, n, &s);
	if (err)
		return err;
	if (is_any(s)) {
		out->kind = PEER_ANY;
		return 0;
	}
	role = role_parse(s);
	if (role) {
		if (member)
			return y_error(
			    &p->y, n,
			    "a network cannot contain a role ('%s'); name the role in the rule", s);
		out->kind = PEER_ROLE;
		out->roles = role;
		return 0;
	}
	if (cfg_network_index(p->cfg, s, &idx)) {
		if (member)
			return y_error(&p->y, n, "a network cannot contain another network ('%s')",
				       s);
		out->kind = PEER_NETWORK;
		out->network = idx;
		return 0;
	}
	idx = cfg_host_by_name(p, s);
	if (idx != SIZE_MAX) {
		out->kind = PEER_HOST;
		out->host = idx;
		return 0;
	}
	err = parse_prefix(p, n, s, &out->prefix);
	if (err <= 0) {
		if (!err) {
			out->kind = PEER_PREFIX;
			out->host = cfg_host_by_addr(p, &out->prefix);
		}
		return err;
	}
	if (dns_name_valid(s)) {
		out->kind = PEER_NAME;
		out->name = strdup(s);
		return out->name ? 0 : -ENOMEM;
	}
	if (member)
		return y_error(&p->y, n, "'%s' is not an address, CIDR, DNS name, host or any", s);
	return unknown_term(p, n, s);
}

int cfg_parse_peers(struct cfg_parser *p, const struct ynode *n, bool member, struct peer_list *out)
{
	size_t len;
	int err;

	/* A network may be empty (ADM is by default); a rule's side may not. */
	err = member ? y_seq(&p->y, n, &len) : y_seq_nonempty(&p->y, n, &len);
	if (err || !len)
		return err;
	out->v = calloc(len, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		err = parse_peer(p, y_seq_item(&p->y, n, i), member, &out->v[out->n++]);
		if (y_fatal(err))
			return err;
	}
	return 0;
}
