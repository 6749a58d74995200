// SPDX-License-Identifier: GPL-2.0-only
/*
 * The YAML node layer of the config parser (see config_yaml.h): libyaml's
 * document in, typed and located access to its nodes out. Knows nothing of
 * the schema.
 */
#include "config_yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_diag(struct yctx *y, struct src_loc loc, const char *fmt, va_list ap)
{
	char *msg;
	int err;

	/* diag_add() takes no va_list, so the message is formatted here. */
	if (vasprintf(&msg, fmt, ap) < 0)
		return -ENOMEM;
	err = diag_add(y->d, y->path, loc.line, loc.col, "%s", msg);
	free(msg);
	return err ? err : -EINVAL;
}

int y_error_at(struct yctx *y, struct src_loc loc, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = add_diag(y, loc, fmt, ap);
	va_end(ap);
	return err;
}

int y_error(struct yctx *y, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = add_diag(y, y_loc(n), fmt, ap);
	va_end(ap);
	return err;
}

struct src_loc y_loc(const yaml_node_t *n)
{
	/* libyaml counts from 0; editors and the contract from 1. */
	struct src_loc loc = {(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};

	return loc;
}

/* Reader errors (bad UTF-8, control characters) carry a byte offset, not a mark. */
static struct src_loc offset_loc(const char *buf, size_t len, size_t off)
{
	struct src_loc loc = {1, 1};

	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			loc.line++;
			loc.col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			/* Columns count characters, as libyaml's marks do. */
			loc.col++;
		}
	}
	return loc;
}

/* The byte at a line and column, or NUL past the end. */
static char byte_at(const char *buf, size_t len, struct src_loc loc)
{
	struct src_loc at = {1, 1};

	for (size_t i = 0; i < len; i++) {
		if (at.line == loc.line && at.col == loc.col)
			return buf[i];
		if (buf[i] == '\n') {
			at.line++;
			at.col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			at.col++;
		}
	}
	return '\0';
}

static int syntax_error(struct yctx *y, const yaml_parser_t *p, const char *buf, size_t len)
{
	struct src_loc loc;

	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->error == YAML_READER_ERROR) {
		loc = offset_loc(buf, len, p->problem_offset);
	} else {
		loc.line = (int)p->problem_mark.line + 1;
		loc.col = (int)p->problem_mark.column + 1;
	}
	/* libyaml's words for a tab in the indentation are "cannot start any token". */
	if (p->error == YAML_SCANNER_ERROR && byte_at(buf, len, loc) == '\t')
		return y_error_at(y, loc, "YAML syntax error: a tab where YAML allows only spaces");
	return y_error_at(y, loc, "YAML syntax error: %s", p->problem ? p->problem : "unknown");
}

int y_load(struct yctx *y, const char *buf, size_t len)
{
	struct src_loc start = {1, 1};
	yaml_parser_t parser;
	yaml_document_t extra;
	yaml_node_t *root;
	int err = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &y->doc)) {
		err = syntax_error(y, &parser, buf, len);
		goto out;
	}
	y->loaded = true;
	root = yaml_document_get_root_node(&y->doc);
	if (!root || y_is_null(root)) {
		err = y_error_at(y, root ? y_loc(root) : start, "empty config");
		goto out;
	}
	/*
	 * libyaml stops after one document; a second one would be ignored
	 * without a word. A bare trailing "---" is harmless and allowed.
	 */
	if (!yaml_parser_load(&parser, &extra)) {
		err = syntax_error(y, &parser, buf, len);
		goto out;
	}
	root = yaml_document_get_root_node(&extra);
	if (root && !y_is_null(root))
		err = y_error(y, root, "a config file holds one YAML document; found a second one");
	yaml_document_delete(&extra);
out:
	yaml_parser_delete(&parser);
	return err;
}

void y_free(struct yctx *y)
{
	if (y->loaded)
		yaml_document_delete(&y->doc);
	y->loaded = false;
}

yaml_node_t *y_root(struct yctx *y)
{
	return yaml_document_get_root_node(&y->doc);
}

bool y_is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = (const char *)n->data.scalar.value;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

const char *y_text(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : "";
}

int y_str(struct yctx *y, const yaml_node_t *n, const char **out)
{
	if (n->type != YAML_SCALAR_NODE || y_is_null(n))
		return y_error(y, n, "expected a string");
	/* A "\0" escape would cut the string short everywhere it is used as C text. */
	if (strlen(y_text(n)) != n->data.scalar.length)
		return y_error(y, n, "a string may not contain a NUL character");
	*out = y_text(n);
	return 0;
}

bool y_parse_int(const char *s, long long *out)
{
	const char *d = s + (*s == '+' || *s == '-');

	if (!*d)
		return false;
	for (const char *c = d; *c; c++)
		if (*c < '0' || *c > '9')
			return false;
	/* strtoll() saturates at LLONG_MIN/MAX: still outside any range the schema checks. */
	*out = strtoll(s, NULL, 10);
	return true;
}

int y_int(struct yctx *y, const yaml_node_t *n, long long *out)
{
	if (n->type != YAML_SCALAR_NODE || !y_parse_int(y_text(n), out))
		return y_error(y, n, "expected a number");
	return 0;
}

int y_seq(struct yctx *y, const yaml_node_t *n, size_t *len)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return y_error(y, n, "expected a list");
	*len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	return 0;
}

int y_seq_nonempty(struct yctx *y, const yaml_node_t *n, size_t *len)
{
	int err = y_seq(y, n, len);

	if (!err && *len == 0)
		err = y_error(y, n, "expected a non-empty list");
	return err;
}

yaml_node_t *y_seq_item(struct yctx *y, const yaml_node_t *seq, size_t i)
{
	return yaml_document_get_node(&y->doc, seq->data.sequence.items.start[i]);
}

int y_map(struct yctx *y, const yaml_node_t *n, size_t *len)
{
	if (n->type != YAML_MAPPING_NODE)
		return y_error(y, n, "expected a mapping");
	if (len)
		*len = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	return 0;
}

static bool same_key(const yaml_node_t *a, const yaml_node_t *b)
{
	return a->type == YAML_SCALAR_NODE && b->type == YAML_SCALAR_NODE &&
	       a->data.scalar.length == b->data.scalar.length &&
	       !memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length);
}

int y_map_pair(struct yctx *y, const yaml_node_t *map, size_t i, const char **key,
	       yaml_node_t **key_node, yaml_node_t **value)
{
	const yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
	yaml_node_t *k = yaml_document_get_node(&y->doc, pairs[i].key);
	int err;

	*key_node = k;
	*value = yaml_document_get_node(&y->doc, pairs[i].value);
	err = y_str(y, k, key);
	if (err)
		return err;
	for (size_t j = 0; j < i; j++) {
		yaml_node_t *prev = yaml_document_get_node(&y->doc, pairs[j].key);

		if (same_key(prev, k))
			return y_error(y, k, "duplicate key '%s' (first at line %d)", *key,
				       y_loc(prev).line);
	}
	return 0;
}

size_t y_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65], prev, cur;

	/* Levenshtein, one row at a time; long strings are never a typo of a short name. */
	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			cur = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j] > row[j - 1] + 1)
				row[j] = row[j - 1] + 1;
			if (row[j] > cur + 1)
				row[j] = cur + 1;
			prev = cur;
		}
	}
	return row[lb];
}

static int unknown_key(struct yctx *y, const yaml_node_t *k, const char *key, struct y_field *f,
		       size_t n)
{
	size_t best = n, best_d = Y_TYPO_MAX + 1, off = 0;
	char hint[512];

	for (size_t i = 0; i < n; i++) {
		size_t d = y_edit_distance(key, f[i].name);

		if (d < best_d && !f[i].value) {
			best_d = d;
			best = i;
		}
	}
	if (best < n) {
		/* "adress" is one problem: do not also report "addresses" as missing. */
		f[best].hinted = true;
		return y_error(y, k, "unknown key '%s' (did you mean '%s'?)", key, f[best].name);
	}
	hint[0] = '\0';
	for (size_t i = 0; i < n && off < sizeof(hint); i++)
		off += (size_t)snprintf(hint + off, sizeof(hint) - off, "%s%s", i ? ", " : "",
					f[i].name);
	return y_error(y, k, "unknown key '%s' (valid keys: %s)", key, hint);
}

int y_fields(struct yctx *y, const yaml_node_t *map, struct y_field *f, size_t n)
{
	size_t len = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
	int err, ret = 0;

	for (size_t i = 0; i < len; i++) {
		yaml_node_t *k, *v;
		const char *key;
		size_t j;

		err = y_map_pair(y, map, i, &key, &k, &v);
		if (!err) {
			for (j = 0; j < n && strcmp(f[j].name, key); j++)
				;
			if (j < n) {
				f[j].key = k;
				f[j].value = v;
			} else {
				err = unknown_key(y, k, key, f, n);
			}
		}
		if (y_fatal(err))
			return err;
		ret = ret ? ret : err;
	}
	for (size_t j = 0; j < n; j++) {
		if (!f[j].required || f[j].value || f[j].hinted)
			continue;
		err = y_error(y, map, "missing key '%s'", f[j].name);
		if (y_fatal(err))
			return err;
		ret = err;
	}
	return ret;
}
