// SPDX-License-Identifier: GPL-2.0-only
/* The walks over a compiled policy that every exporter shares. */
#include "export_walk.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "protocols.h"

unsigned export_entry_order(const struct policy *p, const struct policy_entry *e)
{
	return e->reason == SPEE_REASON_RULE ? e->rule : (unsigned)p->n_rules + e->reason;
}

void export_rule_entries(const struct policy *p, uint8_t dir, size_t r, size_t *first,
			 size_t *end)
{
	size_t i = 0;

	while (i < p->n_entries && !(p->entries[i].dir == dir &&
				     p->entries[i].reason == SPEE_REASON_RULE &&
				     p->entries[i].rule == r))
		i++;
	*first = i;
	while (i < p->n_entries && p->entries[i].dir == dir &&
	       p->entries[i].reason == SPEE_REASON_RULE && p->entries[i].rule == r)
		i++;
	*end = i;
}

const struct name_addrs *export_name_addrs(const struct name_table *t, const char *name)
{
	const struct name_addrs *na = names_find(t, name);

	return na && na->n_addrs ? na : NULL;
}

void export_port_text(uint16_t lo, uint16_t hi, char *buf, size_t len)
{
	if (lo == hi)
		snprintf(buf, len, "%u", lo);
	else
		snprintf(buf, len, "%u-%u", lo, hi);
}

const char *export_config_name(const struct policy *p)
{
	const char *slash = strrchr(p->cfg->path, '/');

	return slash ? slash + 1 : p->cfg->path;
}

void export_sha256_hex(const struct policy *p, char hex[65])
{
	for (size_t i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", p->cfg->sha256[i]);
}

bool export_proto_known(uint8_t proto)
{
	return proto_has_ports(proto) || proto_is_icmp(proto) || !ip_proto_refusal(proto);
}

int export_unknown_proto(const struct policy *p, const struct policy_rule *r, const char *format,
			 struct diags *d)
{
	diag_add(d, p->cfg->path, 0, 0,
		 "rule %s: protocol %u cannot be exported to %s (this speebpf knows tcp, udp, "
		 "icmp, icmpv6 and the protocols of proto: ip there)",
		 r->id, r->proto, format);
	return -EPROTONOSUPPORT;
}

static bool rule_has_peer_kind(const struct policy *p, uint8_t dir, size_t r, enum entry_peer k)
{
	size_t first, end;

	export_rule_entries(p, dir, r, &first, &end);
	for (size_t i = first; i < end; i++)
		if (p->entries[i].peer_kind == k)
			return true;
	return false;
}

bool export_rule_has_names(const struct policy *p, uint8_t dir, size_t r)
{
	return rule_has_peer_kind(p, dir, r, ENTRY_PEER_NAME);
}

bool export_rule_has_prefixes(const struct policy *p, uint8_t dir, size_t r)
{
	return rule_has_peer_kind(p, dir, r, ENTRY_PEER_PREFIX);
}
