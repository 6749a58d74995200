// SPDX-License-Identifier: GPL-2.0-only
#include "labels.h"

#include <netinet/in.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const dirs[] = {
	[SPEE_DIR_INGRESS] = "ingress",
	[SPEE_DIR_EGRESS] = "egress",
};
_Static_assert(COUNT(dirs) == SPEE_DIR_MAX, "every direction has a label");

static const char *const reasons[] = {
	[SPEE_REASON_NO_RULE] = "no-rule",
	[SPEE_REASON_FRAGMENT] = "fragment",
	[SPEE_REASON_MALFORMED] = "malformed",
	[SPEE_REASON_ESTABLISHED] = "established",
	[SPEE_REASON_UDP_REPLY] = "udp-reply",
	[SPEE_REASON_DNS] = "dns",
	[SPEE_REASON_ICMP] = "icmp",
	[SPEE_REASON_ND] = "nd",
	[SPEE_REASON_NON_IP] = "non-ip",
	[SPEE_REASON_LOOPBACK] = "loopback",
	[SPEE_REASON_RULE] = "rule",
	[SPEE_REASON_SOURCE_ROUTE] = "source-route",
	[SPEE_REASON_ETHERTYPE] = "ethertype",
	[SPEE_REASON_REASSEMBLY] = "reassembly",
	[SPEE_REASON_TRANSIT] = "transit",
	[SPEE_REASON_CONTAINER] = "container",
	[SPEE_REASON_ICMP_REPLY] = "icmp-reply",
};
_Static_assert(COUNT(reasons) == SPEE_REASON_MAX, "every reason has a label");

static const char *const l2_classes[] = {
	[SPEE_L2_ARP] = "arp",
	[SPEE_L2_LLDP] = "lldp",
	[SPEE_L2_SLOW] = "lacp",
	[SPEE_L2_EAPOL] = "eapol",
	[SPEE_L2_PTP] = "ptp",
	[SPEE_L2_PPPOE] = "pppoe",
	[SPEE_L2_MPLS] = "mpls",
	[SPEE_L2_LLC] = "llc",
	[SPEE_L2_TAG] = "vlan-tag",
	[SPEE_L2_OTHER] = "other",
};
_Static_assert(COUNT(l2_classes) == SPEE_L2_MAX, "every ethertype class has a label");

/* What a host may need besides ARP; "lacp" is the slow protocols (LACP, marker, OAM). */
static const struct {
	const char *name;
	uint16_t keys[ETHERTYPE_NAME_MAX];
	size_t n;
} ethertype_table[] = {
	{ "arp", { 0x0806 }, 1 },
	{ "rarp", { 0x8035 }, 1 },
	{ "lldp", { 0x88cc }, 1 },
	{ "lacp", { 0x8809 }, 1 },
	{ "eapol", { 0x888e }, 1 },
	{ "ptp", { 0x88f7 }, 1 },
	{ "pppoe", { 0x8863, 0x8864 }, 2 },
	{ "mpls", { 0x8847, 0x8848 }, 2 },
	{ "fcoe", { 0x8906, 0x8914 }, 2 },
	{ "macsec", { 0x88e5 }, 1 },
	{ "llc", { SPEE_ETHERTYPE_LLC }, 1 },
	{ "any", { SPEE_ETHERTYPE_ANY }, 1 },
};

static const char *const modes[] = {
	[SPEE_MODE_ENFORCE] = "enforce",
	[SPEE_MODE_AUDIT] = "audit",
};
_Static_assert(COUNT(modes) == SPEE_MODE_MAX, "every mode has a label");

static const char *const actions[] = {
	[SPEE_ACTION_DROP] = "drop",
	[SPEE_ACTION_PASS] = "pass",
};
_Static_assert(COUNT(actions) == SPEE_ACTION_MAX, "every action has a label");

static const char *label(const char *const *table, unsigned n, unsigned v)
{
	return v < n && table[v] ? table[v] : "?";
}

static int lookup(const char *const *table, unsigned n, const char *s)
{
	for (unsigned i = 0; i < n; i++)
		if (table[i] && !strcmp(table[i], s))
			return (int)i;
	return -1;
}

const char *dir_label(unsigned v)
{
	return label(dirs, COUNT(dirs), v);
}

const char *reason_label(unsigned v)
{
	return label(reasons, COUNT(reasons), v);
}

const char *l2_class_label(unsigned v)
{
	return label(l2_classes, COUNT(l2_classes), v);
}

size_t ethertype_by_name(const char *name, uint16_t out[ETHERTYPE_NAME_MAX])
{
	for (size_t i = 0; i < COUNT(ethertype_table); i++) {
		if (strcmp(ethertype_table[i].name, name))
			continue;
		memcpy(out, ethertype_table[i].keys, sizeof(ethertype_table[i].keys));
		return ethertype_table[i].n;
	}
	return 0;
}

const char *ethertype_names(void)
{
	return "arp, rarp, lldp, lacp, eapol, ptp, pppoe, mpls, fcoe, macsec, llc, any";
}

const char *mode_label(unsigned v)
{
	return label(modes, COUNT(modes), v);
}

const char *action_label(unsigned v)
{
	return label(actions, COUNT(actions), v);
}

const char *proto_label(unsigned proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

int dir_from_label(const char *s)
{
	return lookup(dirs, COUNT(dirs), s);
}

int reason_from_label(const char *s)
{
	return lookup(reasons, COUNT(reasons), s);
}

int mode_from_label(const char *s)
{
	return lookup(modes, COUNT(modes), s);
}

int action_from_label(const char *s)
{
	return lookup(actions, COUNT(actions), s);
}

int proto_from_label(const char *s)
{
	if (!strcmp(s, "tcp"))
		return IPPROTO_TCP;
	if (!strcmp(s, "udp"))
		return IPPROTO_UDP;
	return -1;
}
