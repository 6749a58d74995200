/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * config_yaml.h - the YAML node layer of the config parser, private to
 * src/config*.c. It builds a compact tree of one document from libyaml's
 * events, every node with its mark, and gives the schema (config.c) typed
 * access to nodes that reports what is wrong as "FILE:LINE:COL: message".
 * (libyaml's own document API took twice the time and ~16 bytes of memory
 * for every byte of YAML: BENCHMARKS.md.)
 *
 * Functions that check something return 0, -EINVAL after adding a
 * diagnostic, or -ENOMEM. y_fatal() tells the two failures apart: the schema
 * goes on after a problem in the file, so that every problem is reported,
 * and stops only when it cannot allocate.
 */
#ifndef SPEE_CONFIG_YAML_H
#define SPEE_CONFIG_YAML_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config_model.h"
#include "diag.h"

enum ynode_type {
	Y_SCALAR,
	Y_SEQUENCE,
	Y_MAPPING,
};

/*
 * One node. A collection's children are kids_n indices from kids[kids_at]:
 * items of a sequence, key and value by turns for a mapping.
 */
struct ynode {
	uint8_t type; /* enum ynode_type */
	bool plain;   /* a plain scalar: only those can mean null */
	uint32_t line, col; /* 1-based */
	union {
		struct {
			const char *text; /* NUL-terminated; may hold a NUL before len */
			size_t len;
		} scalar;
		struct {
			uint32_t kids_at, kids_n;
		} coll;
	};
};

struct ystr_chunk; /* where the scalars' text lives (config_yaml.c) */

struct yctx {
	const char *path; /* for messages */
	struct diags *d;
	struct ynode *nodes;
	size_t n_nodes, cap_nodes;
	uint32_t *kids;
	size_t n_kids, cap_kids;
	struct ystr_chunk *text;
	size_t root; /* after y_load() succeeded */
};

/* How deep lists and mappings may nest; a config needs a handful of levels. */
#define Y_DEPTH_MAX 64

static inline bool y_fatal(int err)
{
	return err < 0 && err != -EINVAL;
}

/*
 * Loads the one document of buf. A syntax error, an empty document and a
 * second document are reported (-EINVAL). y_free() is needed in every case.
 * Aliases refer to a node anchored before them and complete (a collection
 * cannot hold itself); an anchor is defined once.
 */
int y_load(struct yctx *y, const char *buf, size_t len);
void y_free(struct yctx *y);

/* The root node; only after y_load() succeeded. */
struct ynode *y_root(struct yctx *y);

/* Where a node starts, 1-based. */
struct src_loc y_loc(const struct ynode *n);

/* Adds "PATH:LINE:COL: message" at n (or at loc); returns -EINVAL, or -ENOMEM. */
int y_error(struct yctx *y, const struct ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int y_error_at(struct yctx *y, struct src_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A plain scalar that YAML reads as null: empty, "~" or "null". */
bool y_is_null(const struct ynode *n);

/* The text of a scalar, "" for other nodes; for messages and for parsing. */
const char *y_text(const struct ynode *n);

/* A string: any non-null scalar without NUL characters. */
int y_str(struct yctx *y, const struct ynode *n, const char **out);

/*
 * A decimal integer, plain or quoted ("expected a number" otherwise).
 * Values past the range of long long saturate, so range checks still fail.
 */
int y_int(struct yctx *y, const struct ynode *n, long long *out);

/* The same on text: [+-]digits. */
bool y_parse_int(const char *s, long long *out);

static inline bool y_is_scalar(const struct ynode *n)
{
	return n->type == Y_SCALAR;
}

static inline bool y_is_empty_seq(const struct ynode *n)
{
	return n->type == Y_SEQUENCE && !n->coll.kids_n;
}

/* A sequence ("expected a list"); nonempty also rejects []. */
int y_seq(struct yctx *y, const struct ynode *n, size_t *len);
int y_seq_nonempty(struct yctx *y, const struct ynode *n, size_t *len);
struct ynode *y_seq_item(struct yctx *y, const struct ynode *seq, size_t i);

/* A mapping ("expected a mapping"). */
int y_map(struct yctx *y, const struct ynode *n, size_t *len);

/*
 * Pair i of a mapping. Reports a key that is not a string, or that an
 * earlier pair already has ("duplicate key"); such pairs are to be skipped.
 */
int y_map_pair(struct yctx *y, const struct ynode *map, size_t i, const char **key,
	       struct ynode **key_node, struct ynode **value);

/* A key of a mapping with a fixed set of keys; key and value are filled in. */
struct y_field {
	const char *name;
	bool required;
	struct ynode *key;
	struct ynode *value;
	bool hinted; /* an unknown key looked like a typo of this one */
};

/*
 * Fills the fields from a mapping (checked with y_map() first). Reports
 * unknown keys (with the key they are a typo of, or else the valid keys, as
 * a hint), duplicate keys and missing required keys, except one that an
 * unknown key looked like; the fields that are present are filled in any case.
 */
int y_fields(struct yctx *y, const struct ynode *map, struct y_field *f, size_t n);

/* Edit distance, for "did you mean"; at most Y_TYPO_MAX counts as a typo. */
size_t y_edit_distance(const char *a, const char *b);
#define Y_TYPO_MAX 2

#endif
