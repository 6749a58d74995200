// SPDX-License-Identifier: GPL-2.0-only
/*
 * ICMP types and IP protocols by name (protocols.h). The ICMP names are
 * nftables' (`nft describe icmp type`), so that what the config says is what
 * an exported ruleset says; the IP protocol names are /etc/protocols' for the
 * protocols a host firewall meets besides tcp and udp, built in so that a
 * config means the same on every machine.
 */
#include "protocols.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "config_yaml.h"

struct named {
	unsigned value;
	const char *name;
};

static const struct named icmp4_types[] = {
	{ 0, "echo-reply" },
	{ 3, "destination-unreachable" },
	{ 4, "source-quench" },
	{ 5, "redirect" },
	{ 8, "echo-request" },
	{ 9, "router-advertisement" },
	{ 10, "router-solicitation" },
	{ 11, "time-exceeded" },
	{ 12, "parameter-problem" },
	{ 13, "timestamp-request" },
	{ 14, "timestamp-reply" },
	{ 15, "info-request" },
	{ 16, "info-reply" },
	{ 17, "address-mask-request" },
	{ 18, "address-mask-reply" },
};

static const struct named icmp6_types[] = {
	{ 1, "destination-unreachable" },
	{ 2, "packet-too-big" },
	{ 3, "time-exceeded" },
	{ 4, "parameter-problem" },
	{ 128, "echo-request" },
	{ 129, "echo-reply" },
	{ 130, "mld-listener-query" },
	{ 131, "mld-listener-report" },
	{ 132, "mld-listener-done" },
	{ 133, "nd-router-solicit" },
	{ 134, "nd-router-advert" },
	{ 135, "nd-neighbor-solicit" },
	{ 136, "nd-neighbor-advert" },
	{ 137, "nd-redirect" },
	{ 138, "router-renumbering" },
	{ 141, "ind-neighbor-solicit" },
	{ 142, "ind-neighbor-advert" },
	{ 143, "mld2-listener-report" },
};

static const struct named ip_protos[] = {
	{ 2, "igmp" },	  { 4, "ipip" },     { 33, "dccp" },  { 41, "ipv6" },	{ 46, "rsvp" },
	{ 47, "gre" },	  { 50, "esp" },     { 51, "ah" },    { 88, "eigrp" },	{ 89, "ospf" },
	{ 103, "pim" },	  { 108, "ipcomp" }, { 112, "vrrp" }, { 115, "l2tp" }, { 132, "sctp" },
	{ 136, "udplite" },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct named *icmp_table(uint8_t proto, size_t *n)
{
	if (proto == IPPROTO_ICMPV6) {
		*n = COUNT(icmp6_types);
		return icmp6_types;
	}
	*n = COUNT(icmp4_types);
	return icmp4_types;
}

static const char *name_of(const struct named *v, size_t n, unsigned value)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].value == value)
			return v[i].name;
	return NULL;
}

static int value_of(const struct named *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return (int)v[i].value;
	return -1;
}

static void names_of(const struct named *v, size_t n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", v[i].name);
}

/* The one name within typo distance, or the one name s begins (an abbreviation). */
static const char *suggest(const struct named *v, size_t n, const char *s)
{
	const char *best = NULL, *prefixed = NULL;
	size_t best_d = Y_TYPO_MAX + 1, n_prefixed = 0, len = strlen(s);

	for (size_t i = 0; i < n; i++) {
		size_t d = y_edit_distance(s, v[i].name);

		if (d < best_d) {
			best_d = d;
			best = v[i].name;
		}
		if (len >= 3 && !strncmp(v[i].name, s, len)) {
			prefixed = v[i].name;
			n_prefixed++;
		}
	}
	if (best)
		return best;
	return n_prefixed == 1 ? prefixed : NULL;
}

const char *icmp_type_name(uint8_t proto, unsigned type)
{
	size_t n;
	const struct named *v = icmp_table(proto, &n);

	return name_of(v, n, type);
}

int icmp_type_from_name(uint8_t proto, const char *name)
{
	size_t n;
	const struct named *v = icmp_table(proto, &n);

	return value_of(v, n, name);
}

enum icmp_class icmp_type_class(uint8_t proto, unsigned type)
{
	if (proto == IPPROTO_ICMP)
		return type == 3 || type == 11 || type == 12 ? ICMP_CLASS_ERROR : ICMP_CLASS_OTHER;
	if (type >= 1 && type <= 4)
		return ICMP_CLASS_ERROR;
	if ((type >= 130 && type <= 137) || type == 143)
		return ICMP_CLASS_ND;
	return ICMP_CLASS_OTHER;
}

void icmp_type_names(uint8_t proto, char *buf, size_t len)
{
	size_t n;
	const struct named *v = icmp_table(proto, &n);

	names_of(v, n, buf, len);
}

const char *icmp_type_suggest(uint8_t proto, const char *s)
{
	size_t n;
	const struct named *v = icmp_table(proto, &n);

	return suggest(v, n, s);
}

const char *ip_proto_name(unsigned proto)
{
	return name_of(ip_protos, COUNT(ip_protos), proto);
}

int ip_proto_from_name(const char *name)
{
	return value_of(ip_protos, COUNT(ip_protos), name);
}

const char *ip_proto_suggest(const char *s)
{
	return suggest(ip_protos, COUNT(ip_protos), s);
}

void ip_proto_names(char *buf, size_t len)
{
	names_of(ip_protos, COUNT(ip_protos), buf, len);
}

const char *ip_proto_refusal(unsigned proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "is tcp: write proto: tcp with a port";
	case IPPROTO_UDP:
		return "is udp: write proto: udp with a port";
	case IPPROTO_ICMP:
		return "is icmp: write proto: icmp with an icmp-type";
	case IPPROTO_ICMPV6:
		return "is icmpv6: write proto: icmpv6 with an icmp-type";
	case 0:
	case 43:
	case 44:
	case 60:
		return "is an IPv6 extension header, which the kernel walks past to the protocol "
		       "behind it";
	case 59:
		return "is IPv6's 'no next header': no protocol at all";
	case 255:
		return "is reserved";
	}
	return NULL;
}

bool proto_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

bool proto_is_icmp(uint8_t proto)
{
	return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

int proto_family(uint8_t proto)
{
	return proto == IPPROTO_ICMP ? AF_INET : proto == IPPROTO_ICMPV6 ? AF_INET6 : 0;
}

const char *proto_kind_label(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	}
	return "ip";
}

void proto_match_text(uint8_t proto, uint16_t lo, uint16_t hi, char *buf, size_t len)
{
	const char *name;

	if (proto_has_ports(proto)) {
		if (lo == hi)
			snprintf(buf, len, "%s/%u", proto_kind_label(proto), lo);
		else
			snprintf(buf, len, "%s/%u-%u", proto_kind_label(proto), lo, hi);
		return;
	}
	name = proto_is_icmp(proto) ? icmp_type_name(proto, lo) : ip_proto_name(proto);
	if (name)
		snprintf(buf, len, "%s/%s", proto_kind_label(proto), name);
	else
		snprintf(buf, len, "%s/%u", proto_kind_label(proto), proto_is_icmp(proto) ? lo : proto);
}
