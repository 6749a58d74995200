// SPDX-License-Identifier: GPL-2.0-only
#include "addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static bool looks_like_address(const char *s)
{
	/* An IPv6 address has a colon; an IPv4 one only digits and dots. */
	if (strchr(s, ':'))
		return true;
	for (const char *c = s; *c && *c != '/'; c++)
		if (!isdigit((unsigned char)*c) && *c != '.')
			return false;
	return *s != '\0' && *s != '/';
}

bool addr_parse(const char *s, struct prefix *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->addr) == 1) {
		out->family = AF_INET;
		out->len = 32;
		return true;
	}
	if (inet_pton(AF_INET6, s, out->addr) == 1) {
		out->family = AF_INET6;
		out->len = 128;
		return true;
	}
	return false;
}

enum prefix_parse_result prefix_parse(const char *s, struct prefix *out)
{
	char buf[ADDR_TEXT_LEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	long len;
	char *end;

	if (!looks_like_address(s))
		return PREFIX_NOT_ADDRESS;
	if (alen >= sizeof(buf))
		return PREFIX_BAD_ADDRESS;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (!addr_parse(buf, out))
		return PREFIX_BAD_ADDRESS;
	if (!slash)
		return PREFIX_OK;
	if (!isdigit((unsigned char)slash[1]))
		return PREFIX_BAD_LENGTH;
	len = strtol(slash + 1, &end, 10);
	if (*end || len < 0 || len > prefix_max_len(out->family) || end - (slash + 1) > 3)
		return PREFIX_BAD_LENGTH;
	out->len = (uint8_t)len;
	for (int bit = (int)len; bit < prefix_max_len(out->family); bit++)
		if (out->addr[bit / 8] & (0x80 >> (bit % 8)))
			return PREFIX_HOST_BITS;
	return PREFIX_OK;
}

void addr_format(const struct prefix *p, char *buf, size_t len)
{
	if (!inet_ntop(p->family, p->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

void prefix_format(const struct prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	addr_format(p, a, sizeof(a));
	if (prefix_is_host(p))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, p->len);
}

bool prefix_contains(const struct prefix *p, const struct prefix *a)
{
	int full = p->len / 8, rest = p->len % 8;

	if (p->family != a->family || a->len < p->len)
		return false;
	if (memcmp(p->addr, a->addr, (size_t)full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((p->addr[full] & mask) != (a->addr[full] & mask))
			return false;
	}
	return true;
}

int prefix_cmp(const struct prefix *a, const struct prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, 16);
	if (c)
		return c < 0 ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

struct prefix prefix_any(uint8_t family)
{
	struct prefix p = { .family = family, .len = 0 };

	return p;
}

bool dns_name_valid(const char *s)
{
	size_t total = strlen(s), label = 0;
	bool dot = false;

	if (total == 0 || total > 253)
		return false;
	for (const char *c = s; *c; c++) {
		if (*c == '.') {
			if (label == 0 || c[-1] == '-')
				return false;
			dot = true;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
			return false;
		if (label == 0 && *c == '-')
			return false;
		if (++label > 63)
			return false;
	}
	/* A trailing dot (fully qualified) is fine; an empty last label is not otherwise. */
	return dot && (label > 0 || s[total - 1] == '.');
}
