/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * export_walk.h - what the exporters share to walk a compiled policy: the
 * kernel's tie order, a rule's entries, DNS names' addresses, the texts
 * every format prints. Included only by the files of src/export/.
 */
#ifndef SPEE_EXPORT_WALK_H
#define SPEE_EXPORT_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "names.h"
#include "policy.h"

/*
 * The rank of an entry in the kernel's tie order: rules by row, the
 * implicit entries (DNS, local) after every rule. At the same prefix
 * length, the lower rank wins (policy.c resolves ties the same way).
 */
unsigned export_entry_order(const struct policy *p, const struct policy_entry *e);

/* Entries are sorted by direction, then rule: [*first, *end) are rule r's in dir. */
void export_rule_entries(const struct policy *p, uint8_t dir, size_t r, size_t *first,
			 size_t *end);

/* The addresses a DNS name has now: NULL when it has none (never resolved, or empty). */
const struct name_addrs *export_name_addrs(const struct name_table *t, const char *name);

/* "443" or "8000-8100" */
void export_port_text(uint16_t lo, uint16_t hi, char *buf, size_t len);

/* The config file's name without its directories, as the outputs' headers show it. */
const char *export_config_name(const struct policy *p);

/* The config's sha256 in hex. */
void export_sha256_hex(const struct policy *p, char hex[65]);

/* True for what a rule may match (protocols.h): tcp, udp, icmp, icmpv6, and proto ip's numbers. */
bool export_proto_known(uint8_t proto);

/*
 * Adds "FORMAT: rule ID: protocol N cannot be exported (...)" to d and
 * returns -EPROTONOSUPPORT: the exporters' answer to a protocol their switch
 * does not know.
 */
int export_unknown_proto(const struct policy *p, const struct policy_rule *r, const char *format,
			 struct diags *d);

/* True when the rule's peers in dir include a DNS name / a prefix. */
bool export_rule_has_names(const struct policy *p, uint8_t dir, size_t r);
bool export_rule_has_prefixes(const struct policy *p, uint8_t dir, size_t r);

#endif
