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
};
_Static_assert(COUNT(reasons) == SPEE_REASON_MAX, "every reason has a label");

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
