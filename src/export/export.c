// SPDX-License-Identifier: GPL-2.0-only
/* The exporters' dispatch: a format's name, and its writer. */
#include "export.h"

#include <errno.h>
#include <string.h>

#include "formats.h"

static const char *const format_labels[EXPORT_FORMAT_MAX] = {
	[EXPORT_NFTABLES] = "nftables",
	[EXPORT_NFTABLES_NAMES] = "nftables-names",
	[EXPORT_WINDOWS_FIREWALL] = "windows-firewall",
	[EXPORT_WINDOWS_KEYWORDS] = "windows-keywords",
};

const char *export_format_label(enum export_format f)
{
	return (unsigned)f < EXPORT_FORMAT_MAX ? format_labels[f] : "?";
}

int export_format_from_label(const char *s)
{
	for (int f = 0; f < EXPORT_FORMAT_MAX; f++)
		if (!strcmp(s, format_labels[f]))
			return f;
	return -1;
}

int export_write(enum export_format f, const struct policy *p, const struct name_table *names,
		 FILE *out, struct diags *d)
{
	static const struct name_table none;
	int err;

	if (!names)
		names = &none;
	switch (f) {
	case EXPORT_NFTABLES:
		err = nft_write_ruleset(p, names, out, d);
		break;
	case EXPORT_NFTABLES_NAMES:
		err = nft_write_names(p, names, out, d);
		break;
	case EXPORT_WINDOWS_FIREWALL:
		err = win_write_firewall(p, names, out, d);
		break;
	case EXPORT_WINDOWS_KEYWORDS:
		err = win_write_keywords(p, names, out, d);
		break;
	default:
		return -EINVAL;
	}
	if (!err && (fflush(out) || ferror(out)))
		err = -EIO;
	return err;
}
