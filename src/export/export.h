/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * export.h - the exporters: one host's compiled policy (struct policy) as a
 * ruleset another firewall enforces (CONTRACT.md section 5), written to a
 * stream. Used by `speebpf export` (src/cli/cmd_export.c).
 *
 * Formats:
 *   nftables          a complete `nft -f` file: table inet speebpf, replaced
 *                     as one transaction (nftables.c)
 *   nftables-names    only the contents of that table's DNS-name sets, to
 *                     refresh them without touching rules or counters
 *   windows-firewall  a PowerShell script for Windows Server 2019/2022 that
 *                     replaces the rules of group speebpf (windows_firewall.c)
 *   windows-keywords  a PowerShell data file: the DNS names' addresses, which
 *                     the script's scheduled task applies to the firewall's
 *                     dynamic keywords (windows_keywords.c)
 *
 * An exporter reads the policy and the names' addresses and nothing else: no
 * I/O but the stream, no kernel. A rule whose protocol the format does not
 * know is an error naming the rule, not a silently missing rule.
 */
#ifndef SPEE_EXPORT_H
#define SPEE_EXPORT_H

#include <stdio.h>

#include "diag.h"
#include "names.h"
#include "policy.h"

enum export_format {
	EXPORT_NFTABLES,
	EXPORT_NFTABLES_NAMES,
	EXPORT_WINDOWS_FIREWALL,
	EXPORT_WINDOWS_KEYWORDS,
	EXPORT_FORMAT_MAX,
};

/* "nftables", "nftables-names", "windows-firewall", "windows-keywords" */
const char *export_format_label(enum export_format f);

/* The format with this label, or -1. */
int export_format_from_label(const char *s);

/*
 * Writes host p->host's ruleset in format f to out. `names` holds the
 * addresses of the DNS names the policy uses (p->names); a name it lacks, or
 * holds without addresses, allows nothing yet (the ruleset says so where it
 * uses the name). Returns 0, -EPROTONOSUPPORT (a rule the format cannot
 * express; the reason is added to d), -ENAMETOOLONG (a name the format cannot
 * hold; added to d), -ENOMEM, or -EIO when writing failed.
 */
int export_write(enum export_format f, const struct policy *p, const struct name_table *names,
		 FILE *out, struct diags *d);

#endif
