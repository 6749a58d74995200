// SPDX-License-Identifier: GPL-2.0-only
#include "names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct name_addrs *names_find(const struct name_table *t, const char *name)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].name, name))
			return &t->v[i];
	return NULL;
}

static int cmp_prefix(const void *a, const void *b)
{
	return prefix_cmp(a, b);
}

int names_set(struct name_table *t, const char *name, const struct prefix *addrs, size_t n,
	      uint32_t ttl)
{
	struct name_addrs *e = (struct name_addrs *)names_find(t, name);
	struct prefix *copy = NULL;
	size_t kept = 0;

	if (n) {
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, addrs, n * sizeof(*copy));
		qsort(copy, n, sizeof(*copy), cmp_prefix);
		for (size_t i = 0; i < n; i++)
			if (!kept || prefix_cmp(&copy[kept - 1], &copy[i]))
				copy[kept++] = copy[i];
	}
	if (!e) {
		struct name_addrs *v = realloc(t->v, (t->n + 1) * sizeof(*v));

		if (!v) {
			free(copy);
			return -ENOMEM;
		}
		t->v = v;
		e = &t->v[t->n];
		memset(e, 0, sizeof(*e));
		e->name = strdup(name);
		if (!e->name) {
			free(copy);
			return -ENOMEM;
		}
		t->n++;
	}
	free(e->addrs);
	e->addrs = copy;
	e->n_addrs = kept;
	e->resolved = true;
	e->ttl = ttl;
	e->failures = 0;
	free(e->last_error);
	e->last_error = NULL;
	return 0;
}

int names_copy(struct name_table *dst, const struct name_table *src)
{
	for (size_t i = 0; src && i < src->n; i++) {
		const struct name_addrs *from = &src->v[i];
		struct name_addrs *to;
		int err = names_set(dst, from->name, from->addrs, from->n_addrs, from->ttl);

		if (err)
			return err;
		to = (struct name_addrs *)names_find(dst, from->name);
		to->resolved = from->resolved;
		to->last_ok = from->last_ok;
		to->failures = from->failures;
		if (from->last_error && !(to->last_error = strdup(from->last_error)))
			return -ENOMEM;
	}
	return 0;
}

int names_set_from_arg(struct name_table *t, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct prefix addrs[64];
	size_t n = 0;
	char *list, *tok, *save = NULL;
	int err = 0;

	if (!eq || eq == arg || !eq[1])
		return -EINVAL;
	list = strdup(eq + 1);
	if (!list)
		return -ENOMEM;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == sizeof(addrs) / sizeof(addrs[0]) || !addr_parse(tok, &addrs[n])) {
			err = -EINVAL;
			goto out;
		}
		n++;
	}
	{
		char *name = strndup(arg, (size_t)(eq - arg));

		if (!name) {
			err = -ENOMEM;
			goto out;
		}
		err = names_set(t, name, addrs, n, 0);
		free(name);
	}
out:
	free(list);
	return err;
}

void names_free(struct name_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].addrs);
		free(t->v[i].last_error);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}
