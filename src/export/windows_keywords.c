// SPDX-License-Identifier: GPL-2.0-only
/*
 * The windows-keywords format: a PowerShell data file (Import-PowerShellDataFile
 * reads it as data; nothing in it runs) with the addresses speebpf resolved
 * for the DNS names a host's rules use. The windows-firewall script's
 * scheduled task applies it to the firewall's dynamic keywords; being data,
 * it can come from a file share or a web server without handing them the
 * power to run code as SYSTEM. Also the names' keyword ids and the quoting
 * both Windows formats use.
 */
#include "windows.h"

#include <nettle/sha1.h>
#include <stdlib.h>
#include <string.h>

/* The UUID namespace of speebpf's keyword ids (a random one, fixed forever). */
static const uint8_t keyword_namespace[16] = {
	0x9a, 0x55, 0x98, 0x71, 0xeb, 0x56, 0x45, 0xa1,
	0xac, 0x67, 0x83, 0xe3, 0x65, 0xcb, 0xae, 0x6c,
};

void win_uuid5(const uint8_t ns[16], const char *name, char id[WIN_KEYWORD_ID_LEN])
{
	uint8_t digest[SHA1_DIGEST_SIZE], *u = digest;
	struct sha1_ctx ctx;

	sha1_init(&ctx);
	sha1_update(&ctx, 16, ns);
	sha1_update(&ctx, strlen(name), (const uint8_t *)name);
	sha1_digest(&ctx, sizeof(digest), digest);
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x50); /* version 5 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* the RFC 4122 variant */
	snprintf(id, WIN_KEYWORD_ID_LEN,
		 "{%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x}", u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
		 u[15]);
}

void win_keyword_id(const char *name, char id[WIN_KEYWORD_ID_LEN])
{
	win_uuid5(keyword_namespace, name, id);
}

/* U+2018..U+201B: PowerShell takes them for single quotes. */
static bool typographic_quote(const unsigned char *s)
{
	return s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0x98 && s[2] <= 0x9b;
}

void win_put_string(FILE *out, const char *s)
{
	const unsigned char *c = (const unsigned char *)s;

	fputc('\'', out);
	for (; *c; c++) {
		if (*c == '\'') {
			fputs("''", out);
		} else if (typographic_quote(c)) {
			fwrite(c, 1, 3, out);
			fwrite(c, 1, 3, out);
			c += 2;
		} else {
			fputc(*c < 0x20 || *c == 0x7f ? ' ' : *c, out);
		}
	}
	fputc('\'', out);
}

void win_put_comment(FILE *out, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (c[0] == '#' && c[1] == '>')
			fputs("# ", out);
		else
			fputc(*c < 0x20 || *c == 0x7f ? ' ' : *c, out);
	}
}

void win_write_keywords_data(const struct policy *p, const struct name_table *t, FILE *out)
{
	char sha[65], text[ADDR_TEXT_LEN];

	export_sha256_hex(p, sha);
	fprintf(out, "# speebpf windows-keywords for host ");
	win_put_comment(out, p->host->name);
	fprintf(out, "\n# from ");
	win_put_comment(out, export_config_name(p));
	fprintf(out, " (sha256 %s)\n", sha);
	fprintf(out, "# The addresses speebpf resolved for the DNS names this host's rules use. The\n"
		     "# scheduled task \\speebpf\\keyword-refresh of the windows-firewall script reads\n"
		     "# this file as data (nothing in it runs) and updates the firewall's dynamic\n"
		     "# keywords; a name without addresses keeps the ones it had.\n");
	fprintf(out, "@{\n    Format = '%s'\n    Host = ", WIN_KEYWORDS_FORMAT);
	win_put_string(out, p->host->name);
	fprintf(out, "\n    Sha256 = '%s'\n    Names = @(", sha);
	for (size_t i = 0; i < p->n_names; i++) {
		const struct name_addrs *na = export_name_addrs(t, p->names[i]);

		fprintf(out, "\n        @{ Name = ");
		win_put_string(out, p->names[i]);
		fprintf(out, "; Addresses = @(");
		for (size_t k = 0; na && k < na->n_addrs; k++) {
			addr_format(&na->addrs[k], text, sizeof(text));
			fprintf(out, "%s'%s'", k ? ", " : "", text);
		}
		fprintf(out, ") }");
	}
	fprintf(out, "%s)\n}\n", p->n_names ? "\n    " : "");
}

int win_write_keywords(const struct policy *p, const struct name_table *names, FILE *out,
		       struct diags *d)
{
	(void)d;
	win_write_keywords_data(p, names, out);
	return 0;
}
