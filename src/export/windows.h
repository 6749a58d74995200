/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * windows.h - what the windows-firewall script and the windows-keywords data
 * file share: the names they give rules and dynamic keywords, PowerShell
 * quoting, and the data file itself (the script embeds the same text that
 * `--format windows-keywords` prints, so both describe the names alike).
 * Included by windows_firewall.c and windows_keywords.c only.
 */
#ifndef SPEE_EXPORT_WINDOWS_H
#define SPEE_EXPORT_WINDOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "export_walk.h"
#include "formats.h"

#define WIN_GROUP "speebpf"
#define WIN_KEYWORDS_FORMAT "speebpf windows-keywords 1"
#define WIN_KEYWORD_ID_LEN 39 /* "{8-4-4-4-12}" and its NUL */

/* The name-based UUID (RFC 4122 version 5) of name in namespace ns, as "{...}". */
void win_uuid5(const uint8_t ns[16], const char *name, char id[WIN_KEYWORD_ID_LEN]);

/*
 * A DNS name's dynamic keyword id: the name's UUID in speebpf's namespace,
 * the same in every export and on every host.
 */
void win_keyword_id(const char *name, char id[WIN_KEYWORD_ID_LEN]);

/* A PowerShell single-quoted string: quotes doubled (also the typographic
 * ones PowerShell honours), control characters as spaces. */
void win_put_string(FILE *out, const char *s);

/* Text inside a <# ... #> comment or after #: one line, never closing the block. */
void win_put_comment(FILE *out, const char *s);

/*
 * The data file the scheduled task applies: the policy's DNS names, their
 * keyword ids and the addresses they have in t (none: the name keeps what
 * it had).
 */
void win_write_keywords_data(const struct policy *p, const struct name_table *t, FILE *out);

#endif
