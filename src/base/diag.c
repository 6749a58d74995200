// SPDX-License-Identifier: GPL-2.0-only
#include "diag.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int diag_add(struct diags *d, const char *file, int line, int col, const char *fmt, ...)
{
	struct diag dg = { .line = line, .col = col };
	va_list ap;
	int n;

	if (!d)
		return 0; /* the caller wants no account of it */
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct diag *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&dg.msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (file) {
		dg.file = strdup(file);
		if (!dg.file) {
			free(dg.msg);
			return -ENOMEM;
		}
	}
	d->v[d->n++] = dg;
	return 0;
}

void diag_format(const struct diag *dg, char *buf, size_t len)
{
	if (dg->file && dg->line > 0)
		snprintf(buf, len, "%s:%d:%d: %s", dg->file, dg->line, dg->col, dg->msg);
	else if (dg->file)
		snprintf(buf, len, "%s: %s", dg->file, dg->msg);
	else
		snprintf(buf, len, "%s", dg->msg);
}

void diags_print(FILE *out, const struct diags *d)
{
	char buf[1024];

	for (size_t i = 0; i < d->n; i++) {
		diag_format(&d->v[i], buf, sizeof(buf));
		fprintf(out, "%s\n", buf);
	}
}

void diags_truncate(struct diags *d, size_t n)
{
	for (size_t i = n; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	if (n < d->n)
		d->n = n;
}

void diags_free(struct diags *d)
{
	diags_truncate(d, 0);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

struct json_object *diag_place_json(const struct diag *dg)
{
	struct json_object *o = json_object_new_object();

	if (dg->file)
		json_object_object_add(o, "file", json_object_new_string(dg->file));
	if (dg->line) {
		json_object_object_add(o, "line", json_object_new_int(dg->line));
		json_object_object_add(o, "column", json_object_new_int(dg->col));
	}
	return o;
}
