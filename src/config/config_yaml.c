// SPDX-License-Identifier: GPL-2.0-only
/*
 * The YAML node layer of the config parser (see config_yaml.h): libyaml's
 * events in, a compact tree, typed and located access to its nodes out.
 * Knows nothing of the schema (only its index of names, for anchors).
 */
#include "config_yaml.h"

#include <yaml.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_index.h"

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

int y_error(struct yctx *y, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = add_diag(y, y_loc(n), fmt, ap);
	va_end(ap);
	return err;
}

struct src_loc y_loc(const struct ynode *n)
{
	struct src_loc loc = {(int)n->line, (int)n->col};

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

/* ---- building the tree from libyaml's events ---- */

/* The scalars' text, copied into chunks that never move. */
struct ystr_chunk {
	struct ystr_chunk *next;
	size_t used, cap;
	char buf[];
};

#define YSTR_CHUNK (64 * 1024)

static const char *text_copy(struct yctx *y, const unsigned char *s, size_t len)
{
	struct ystr_chunk *c = y->text;
	char *out;

	if (!c || c->cap - c->used < len + 1) {
		size_t cap = len + 1 > YSTR_CHUNK ? len + 1 : YSTR_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = y->text;
		y->text = c;
	}
	out = c->buf + c->used;
	memcpy(out, s, len);
	out[len] = '\0';
	c->used += len + 1;
	return out;
}

/* Grows *v (of *cap elements of size) to hold need; 0 or -ENOMEM. */
static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = reallocarray(*v, n, size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = n;
	return 0;
}

/* What the builder holds while a document is read. */
struct ybuild {
	uint32_t *pending; /* finished nodes whose collection is still open */
	size_t n_pending, cap_pending;
	struct yopen {
		size_t node, first_pending; /* where its children start in pending */
		char *anchor;		    /* registered when it is complete */
	} *open;
	size_t n_open, cap_open;
	struct yanchor {
		char *name;
		size_t node;
	} *anchors;
	size_t n_anchors, cap_anchors;
	struct cfg_index anchor_index; /* of anchors[], by name */
	bool have_root;
	size_t root;
};

static void build_free(struct ybuild *b)
{
	for (size_t i = 0; i < b->n_open; i++)
		free(b->open[i].anchor);
	for (size_t i = 0; i < b->n_anchors; i++)
		free(b->anchors[i].name);
	free(b->pending);
	free(b->open);
	free(b->anchors);
	cfg_index_free(&b->anchor_index);
	memset(b, 0, sizeof(*b));
}

static struct src_loc mark_loc(yaml_mark_t m)
{
	/* libyaml counts from 0; editors and the contract from 1. */
	struct src_loc loc = {(int)m.line + 1, (int)m.column + 1};

	return loc;
}

struct anchor_key {
	const struct ybuild *b;
	const char *name;
};

static bool anchor_eq(const void *ctx, size_t item)
{
	const struct anchor_key *k = ctx;

	return !strcmp(k->b->anchors[item].name, k->name);
}

static size_t anchor_find(const struct ybuild *b, const char *name)
{
	struct anchor_key k = {b, name};

	return cfg_index_find(&b->anchor_index, cfg_hash(name, strlen(name)), anchor_eq, &k);
}

/* Takes the anchor's name (malloc'd by libyaml) whatever happens. */
static int anchor_add(struct yctx *y, struct ybuild *b, char *name, size_t node)
{
	size_t first = anchor_find(b, name);
	int err;

	if (first != SIZE_MAX) {
		err = y_error(y, &y->nodes[node],
			      "YAML syntax error: anchor '&%s' defined twice (first at line %d)",
			      name, y->nodes[b->anchors[first].node].line);
		free(name);
		return err;
	}
	err = grow((void **)&b->anchors, &b->cap_anchors, b->n_anchors + 1, sizeof(*b->anchors));
	if (!err)
		err = cfg_index_add(&b->anchor_index, cfg_hash(name, strlen(name)), b->n_anchors);
	if (err) {
		free(name);
		return err;
	}
	b->anchors[b->n_anchors].name = name;
	b->anchors[b->n_anchors++].node = node;
	return 0;
}

/* A finished node: a child of the open collection, or the document's root. */
static int node_done(struct ybuild *b, size_t node)
{
	int err;

	if (!b->n_open) {
		b->have_root = true;
		b->root = node;
		return 0;
	}
	err = grow((void **)&b->pending, &b->cap_pending, b->n_pending + 1, sizeof(*b->pending));
	if (err)
		return err;
	b->pending[b->n_pending++] = (uint32_t)node;
	return 0;
}

static int node_new(struct yctx *y, enum ynode_type type, yaml_mark_t start, size_t *idx)
{
	struct ynode *n;
	int err;

	/* Indices are 32 bits: a config is far below 4 billion nodes. */
	if (y->n_nodes >= UINT32_MAX)
		return -ENOMEM;
	err = grow((void **)&y->nodes, &y->cap_nodes, y->n_nodes + 1, sizeof(*y->nodes));
	if (err)
		return err;
	*idx = y->n_nodes++;
	n = &y->nodes[*idx];
	memset(n, 0, sizeof(*n));
	n->type = (uint8_t)type;
	n->line = (uint32_t)start.line + 1;
	n->col = (uint32_t)start.column + 1;
	return 0;
}

static int on_scalar(struct yctx *y, struct ybuild *b, yaml_event_t *e)
{
	struct ynode *n;
	size_t idx;
	int err = node_new(y, Y_SCALAR, e->start_mark, &idx);

	if (err)
		return err;
	n = &y->nodes[idx];
	n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	n->scalar.len = e->data.scalar.length;
	n->scalar.text = text_copy(y, e->data.scalar.value, e->data.scalar.length);
	if (!n->scalar.text)
		return -ENOMEM;
	if (e->data.scalar.anchor) {
		err = anchor_add(y, b, (char *)e->data.scalar.anchor, idx);
		e->data.scalar.anchor = NULL; /* anchor_add took it */
		if (err)
			return err;
	}
	return node_done(b, idx);
}

static int on_start(struct yctx *y, struct ybuild *b, yaml_event_t *e, enum ynode_type type)
{
	yaml_char_t **anchor = type == Y_SEQUENCE ? &e->data.sequence_start.anchor
						  : &e->data.mapping_start.anchor;
	size_t idx;
	int err;

	/*
	 * A fleet config nests a few levels. libyaml's time grows with the square
	 * of the depth (100,000 levels took over 20 s to refuse), so the document
	 * is refused at the first level too deep, before libyaml reads on.
	 */
	if (b->n_open >= Y_DEPTH_MAX)
		return y_error_at(y, mark_loc(e->start_mark),
				  "lists and mappings nested deeper than %d levels", Y_DEPTH_MAX);
	err = node_new(y, type, e->start_mark, &idx);
	if (!err)
		err = grow((void **)&b->open, &b->cap_open, b->n_open + 1, sizeof(*b->open));
	if (err)
		return err;
	b->open[b->n_open].node = idx;
	b->open[b->n_open].first_pending = b->n_pending;
	b->open[b->n_open++].anchor = (char *)*anchor;
	*anchor = NULL; /* taken */
	return 0;
}

static int on_end(struct yctx *y, struct ybuild *b)
{
	struct yopen o = b->open[--b->n_open];
	size_t n = b->n_pending - o.first_pending;
	struct ynode *node = &y->nodes[o.node];
	int err;

	err = grow((void **)&y->kids, &y->cap_kids, y->n_kids + n, sizeof(*y->kids));
	if (err) {
		free(o.anchor);
		return err;
	}
	if (n) /* [] and {} may come before any kids array exists */
		memcpy(y->kids + y->n_kids, b->pending + o.first_pending, n * sizeof(*y->kids));
	node->coll.kids_at = (uint32_t)y->n_kids;
	node->coll.kids_n = (uint32_t)n;
	y->n_kids += n;
	b->n_pending = o.first_pending;
	/* Registered only now, so that an alias inside cannot make a cycle. */
	if (o.anchor) {
		err = anchor_add(y, b, o.anchor, o.node);
		if (err)
			return err;
	}
	return node_done(b, o.node);
}

static int on_alias(struct yctx *y, struct ybuild *b, const yaml_event_t *e)
{
	size_t a = anchor_find(b, (const char *)e->data.alias.anchor);

	if (a == SIZE_MAX)
		return y_error_at(y, mark_loc(e->start_mark),
				  "YAML syntax error: found undefined alias");
	return node_done(b, b->anchors[a].node);
}

/* One event of a document's content; *done at the document's end. */
static int on_event(struct yctx *y, struct ybuild *b, yaml_event_t *e, bool *done)
{
	switch (e->type) {
	case YAML_SCALAR_EVENT:
		return on_scalar(y, b, e);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(y, b, e, Y_SEQUENCE);
	case YAML_MAPPING_START_EVENT:
		return on_start(y, b, e, Y_MAPPING);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return b->n_open ? on_end(y, b) : 0;
	case YAML_ALIAS_EVENT:
		return on_alias(y, b, e);
	case YAML_DOCUMENT_END_EVENT:
	case YAML_STREAM_END_EVENT:
		*done = true;
		return 0;
	default:
		return 0;
	}
}

/*
 * Reads the next document into y's tree: *got says whether there was one,
 * b->root is its root. Stops at the first problem.
 */
static int load_document(struct yctx *y, yaml_parser_t *parser, const char *buf, size_t len,
			 struct ybuild *b, bool *got)
{
	bool done = false;
	int err = 0;

	*got = false;
	while (!done && !err) {
		yaml_event_t e;

		if (!yaml_parser_parse(parser, &e))
			return syntax_error(y, parser, buf, len);
		if (e.type == YAML_STREAM_END_EVENT && !*got) {
			done = true;
		} else if (e.type == YAML_DOCUMENT_START_EVENT) {
			*got = true;
		} else if (e.type != YAML_STREAM_START_EVENT) {
			err = on_event(y, b, &e, &done);
		}
		yaml_event_delete(&e);
	}
	return err;
}

int y_load(struct yctx *y, const char *buf, size_t len)
{
	struct src_loc start = {1, 1};
	struct ybuild b = {0};
	yaml_parser_t parser;
	struct ynode *root;
	bool got;
	int err;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	err = load_document(y, &parser, buf, len, &b, &got);
	if (err)
		goto out;
	if (!got || !b.have_root || y_is_null(&y->nodes[b.root])) {
		err = y_error_at(y, got && b.have_root ? y_loc(&y->nodes[b.root]) : start,
				 "empty config");
		goto out;
	}
	y->root = b.root;
	/*
	 * A second document would be ignored without a word; a bare trailing
	 * "---" (an empty one) is harmless and allowed.
	 */
	build_free(&b);
	err = load_document(y, &parser, buf, len, &b, &got);
	if (!err && got && b.have_root) {
		root = &y->nodes[b.root];
		if (!y_is_null(root))
			err = y_error(y, root,
				      "a config file holds one YAML document; found a second one");
	}
out:
	build_free(&b);
	yaml_parser_delete(&parser);
	return err;
}

void y_free(struct yctx *y)
{
	while (y->text) {
		struct ystr_chunk *next = y->text->next;

		free(y->text);
		y->text = next;
	}
	free(y->nodes);
	free(y->kids);
	y->nodes = NULL;
	y->kids = NULL;
	y->n_nodes = y->cap_nodes = y->n_kids = y->cap_kids = 0;
}

struct ynode *y_root(struct yctx *y)
{
	return &y->nodes[y->root];
}

bool y_is_null(const struct ynode *n)
{
	const char *s;

	if (n->type != Y_SCALAR || !n->plain)
		return false;
	s = n->scalar.text;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

const char *y_text(const struct ynode *n)
{
	return n->type == Y_SCALAR ? n->scalar.text : "";
}

int y_str(struct yctx *y, const struct ynode *n, const char **out)
{
	if (n->type != Y_SCALAR || y_is_null(n))
		return y_error(y, n, "expected a string");
	/* A "\0" escape would cut the string short everywhere it is used as C text. */
	if (strlen(y_text(n)) != n->scalar.len)
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

int y_int(struct yctx *y, const struct ynode *n, long long *out)
{
	if (n->type != Y_SCALAR || !y_parse_int(y_text(n), out))
		return y_error(y, n, "expected a number");
	return 0;
}

int y_seq(struct yctx *y, const struct ynode *n, size_t *len)
{
	if (n->type != Y_SEQUENCE)
		return y_error(y, n, "expected a list");
	*len = n->coll.kids_n;
	return 0;
}

int y_seq_nonempty(struct yctx *y, const struct ynode *n, size_t *len)
{
	int err = y_seq(y, n, len);

	if (!err && *len == 0)
		err = y_error(y, n, "expected a non-empty list");
	return err;
}

struct ynode *y_seq_item(struct yctx *y, const struct ynode *seq, size_t i)
{
	return &y->nodes[y->kids[seq->coll.kids_at + i]];
}

int y_map(struct yctx *y, const struct ynode *n, size_t *len)
{
	if (n->type != Y_MAPPING)
		return y_error(y, n, "expected a mapping");
	if (len)
		*len = n->coll.kids_n / 2;
	return 0;
}

static bool same_key(const struct ynode *a, const struct ynode *b)
{
	return a->type == Y_SCALAR && b->type == Y_SCALAR && a->scalar.len == b->scalar.len &&
	       !memcmp(a->scalar.text, b->scalar.text, a->scalar.len);
}

int y_map_pair(struct yctx *y, const struct ynode *map, size_t i, const char **key,
	       struct ynode **key_node, struct ynode **value)
{
	const uint32_t *pair = y->kids + map->coll.kids_at;
	struct ynode *k = &y->nodes[pair[2 * i]];
	int err;

	*key_node = k;
	*value = &y->nodes[pair[2 * i + 1]];
	err = y_str(y, k, key);
	if (err)
		return err;
	for (size_t j = 0; j < i; j++) {
		struct ynode *prev = &y->nodes[pair[2 * j]];

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

static int unknown_key(struct yctx *y, const struct ynode *k, const char *key, struct y_field *f,
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

int y_fields(struct yctx *y, const struct ynode *map, struct y_field *f, size_t n)
{
	size_t len = map->coll.kids_n / 2;
	int err, ret = 0;

	for (size_t i = 0; i < len; i++) {
		struct ynode *k, *v;
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
