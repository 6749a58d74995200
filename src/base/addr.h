/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * addr.h - IPv4/IPv6 addresses and prefixes as the policy uses them: parsed
 * strictly, compared, formatted. An address is a prefix of full length.
 * IPv4 occupies the first 4 bytes of addr[], as in the BPF map keys.
 */
#ifndef SPEE_ADDR_H
#define SPEE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADDR_TEXT_LEN 48 /* enough for any IPv6 prefix in text */

struct prefix {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t len; /* prefix length in bits */
	uint8_t addr[16];
};

enum prefix_parse_result {
	PREFIX_OK = 0,
	PREFIX_NOT_ADDRESS, /* does not look like an address at all */
	PREFIX_BAD_ADDRESS, /* looks like one, but is not valid */
	PREFIX_BAD_LENGTH, /* the /N part is not a number in range */
	PREFIX_HOST_BITS, /* bits set past the prefix length */
};

/* Parses "ADDR" or "ADDR/LEN". */
enum prefix_parse_result prefix_parse(const char *s, struct prefix *out);

/* Parses a plain address (no /LEN). Returns false when s is not one. */
bool addr_parse(const char *s, struct prefix *out);

/* The address bits the family has: 32 or 128. */
static inline int prefix_max_len(uint8_t family)
{
	return family == 2 /* AF_INET */ ? 32 : 128;
}

static inline bool prefix_is_host(const struct prefix *p)
{
	return p->len == prefix_max_len(p->family);
}

/* "198.18.0.10", "198.18.9.0/24", "fd00:5e::10", "::/0" */
void prefix_format(const struct prefix *p, char *buf, size_t len);

/* Address only, ignoring the length. */
void addr_format(const struct prefix *p, char *buf, size_t len);

/* True when the address of a (its full length) lies inside p. */
bool prefix_contains(const struct prefix *p, const struct prefix *a);

/* Total order: family, then address bytes, then length. */
int prefix_cmp(const struct prefix *a, const struct prefix *b);

/* 0.0.0.0/0 or ::/0 */
struct prefix prefix_any(uint8_t family);

/* True for a syntactically valid DNS name with at least one dot. */
bool dns_name_valid(const char *s);

#endif
