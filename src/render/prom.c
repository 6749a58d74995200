// SPDX-License-Identifier: GPL-2.0-only
/* prom.c - Prometheus text format helpers (prom.h). */
#include "prom.h"

void prom_label_value(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', out);
		if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}
