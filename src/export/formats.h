/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * formats.h - the writers of each export format, one file per format
 * (nftables.c, windows_firewall.c, windows_keywords.c), called by
 * export.c's export_write(). Included only by the files of src/export/.
 */
#ifndef SPEE_FORMATS_H
#define SPEE_FORMATS_H

#include <stdio.h>

#include "diag.h"
#include "names.h"
#include "policy.h"

/* The writers (one file per format); each returns what export_write returns. */
int nft_write_ruleset(const struct policy *p, const struct name_table *names, FILE *out,
		      struct diags *d);
int nft_write_names(const struct policy *p, const struct name_table *names, FILE *out,
		    struct diags *d);
int win_write_firewall(const struct policy *p, const struct name_table *names, FILE *out,
		       struct diags *d);
int win_write_keywords(const struct policy *p, const struct name_table *names, FILE *out,
		       struct diags *d);

#endif
