// SPDX-License-Identifier: GPL-2.0-only
/*
 * ps1scan - reads a PowerShell script (or data file) the way the tests need
 * it, there being no PowerShell here: it tokenizes the whole text (comments,
 * block comments, single- and double-quoted strings with their escapes and
 * $(...) subexpressions, here-strings, variables, brackets, line
 * continuations), fails on anything unterminated or unbalanced, and prints
 * as JSON what the export tests compare:
 *
 *   ps1scan SCRIPT   {"bom": true, "requires": [...], "functions": [...],
 *                     "commands": [...], "variables": {NAME: VALUE, ...}}
 *   ps1scan --data FILE   the one data literal a .psd1 file holds
 *
 * "variables" holds the top-level assignments whose value is a data literal:
 * a string, a here-string, a number, $true/$false/$null, an array @(...) or
 * a hashtable @{...} ([ordered] too) of those. "commands" are the Verb-Noun
 * words used outside strings and comments; "functions" those the script
 * defines. Errors print as FILE:LINE:COL: message, exit status 1.
 */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tok_type {
	T_EOF,
	T_NEWLINE,
	T_SEMI,
	T_COMMA,
	T_PIPE,
	T_EQ,
	T_LPAREN, /* ( @( $( */
	T_RPAREN,
	T_LBRACE, /* { @{ */
	T_RBRACE,
	T_LBRACK,
	T_RBRACK,
	T_VAR, /* $name, ${name}: text is the name */
	T_STRING, /* text is the value */
	T_HERE, /* a here-string: text is its lines */
	T_WORD, /* anything else: a command, a parameter, a number, an operator */
};

struct tok {
	enum tok_type type;
	char *text;
	bool at; /* @( or @{ */
	int line, col;
};

struct scanner {
	const char *file;
	const char *s;
	size_t len, pos;
	int line, col;
	struct tok *v;
	size_t n, cap;
};

static void die_at(const struct scanner *sc, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5), noreturn));

static void die_at(const struct scanner *sc, int line, int col, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d:%d: ", sc->file, line, col);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int peek(const struct scanner *sc, size_t ahead)
{
	return sc->pos + ahead < sc->len ? (unsigned char)sc->s[sc->pos + ahead] : -1;
}

static void advance(struct scanner *sc)
{
	if (sc->s[sc->pos] == '\n') {
		sc->line++;
		sc->col = 1;
	} else {
		sc->col++;
	}
	sc->pos++;
}

/* PowerShell takes U+2018..U+201B for single quotes; *n is their length in bytes. */
static bool single_quote_at(const struct scanner *sc, size_t *n)
{
	if (peek(sc, 0) == '\'') {
		*n = 1;
		return true;
	}
	if (peek(sc, 0) == 0xe2 && peek(sc, 1) == 0x80 && peek(sc, 2) >= 0x98 && peek(sc, 2) <= 0x9b) {
		*n = 3;
		return true;
	}
	return false;
}

struct buf {
	char *s;
	size_t n, cap;
};

static void buf_put(struct buf *b, const char *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			exit(2);
	}
	memcpy(b->s + b->n, p, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static char *buf_take(struct buf *b)
{
	if (!b->s)
		buf_put(b, "", 0);
	return b->s;
}

static void push(struct scanner *sc, enum tok_type t, char *text, bool at, int line, int col)
{
	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 256;
		sc->v = realloc(sc->v, sc->cap * sizeof(*sc->v));
		if (!sc->v)
			exit(2);
	}
	sc->v[sc->n++] = (struct tok){ t, text, at, line, col };
}

static void scan_token(struct scanner *sc, bool keep);

/* '...': two quotes are one. */
static char *scan_single(struct scanner *sc, int line, int col)
{
	struct buf b = { 0 };
	size_t q;

	single_quote_at(sc, &q);
	while (q--)
		advance(sc);
	for (;;) {
		if (sc->pos >= sc->len)
			die_at(sc, line, col, "unterminated string");
		if (single_quote_at(sc, &q)) {
			size_t q2;

			for (size_t i = 0; i < q; i++)
				advance(sc);
			if (single_quote_at(sc, &q2)) {
				buf_put(&b, sc->s + sc->pos, q2);
				while (q2--)
					advance(sc);
				continue;
			}
			return buf_take(&b);
		}
		buf_put(&b, sc->s + sc->pos, 1);
		advance(sc);
	}
}

/* $( ... ) inside a double-quoted string: tokens up to the matching parenthesis. */
static void scan_subexpression(struct scanner *sc)
{
	size_t start = sc->n;
	int depth = 1;

	advance(sc);
	advance(sc);
	while (depth > 0) {
		size_t before = sc->n;

		if (sc->pos >= sc->len)
			die_at(sc, sc->line, sc->col, "unterminated $( in a string");
		scan_token(sc, true);
		for (size_t i = before; i < sc->n; i++) {
			if (sc->v[i].type == T_LPAREN)
				depth++;
			else if (sc->v[i].type == T_RPAREN)
				depth--;
		}
	}
	for (size_t i = start; i < sc->n; i++)
		free(sc->v[i].text);
	sc->n = start; /* the tokens of a string's subexpression are not the script's */
}

/* "...": `x escapes, "" is a quote, $( ... ) may hold anything (the raw text is kept). */
static char *scan_double(struct scanner *sc, int line, int col)
{
	struct buf b = { 0 };

	advance(sc);
	for (;;) {
		int c = peek(sc, 0);

		if (c < 0)
			die_at(sc, line, col, "unterminated string");
		if (c == '`') {
			if (peek(sc, 1) < 0)
				die_at(sc, line, col, "unterminated string");
			buf_put(&b, sc->s + sc->pos, 2);
			advance(sc);
			advance(sc);
		} else if (c == '"' && peek(sc, 1) == '"') {
			buf_put(&b, "\"", 1);
			advance(sc);
			advance(sc);
		} else if (c == '"') {
			advance(sc);
			return buf_take(&b);
		} else if (c == '$' && peek(sc, 1) == '(') {
			size_t from = sc->pos;

			scan_subexpression(sc);
			buf_put(&b, sc->s + from, sc->pos - from);
		} else {
			buf_put(&b, sc->s + sc->pos, 1);
			advance(sc);
		}
	}
}

/* @' or @" at the end of its line, up to the line that starts with '@ or "@. */
static char *scan_here(struct scanner *sc, int line, int col)
{
	char quote = sc->s[sc->pos + 1];
	struct buf b = { 0 };

	advance(sc);
	advance(sc);
	while (peek(sc, 0) == ' ' || peek(sc, 0) == '\t')
		advance(sc);
	if (peek(sc, 0) == '\r')
		advance(sc);
	if (peek(sc, 0) != '\n')
		die_at(sc, line, col, "a here-string's opening @%c must end its line", quote);
	advance(sc);
	for (bool first = true;; first = false) {
		size_t eol = sc->pos;

		if (sc->pos >= sc->len)
			die_at(sc, line, col, "unterminated here-string");
		if (sc->s[sc->pos] == quote && peek(sc, 1) == '@') {
			advance(sc);
			advance(sc);
			return buf_take(&b);
		}
		while (eol < sc->len && sc->s[eol] != '\n')
			eol++;
		if (!first)
			buf_put(&b, "\n", 1);
		buf_put(&b, sc->s + sc->pos, eol - sc->pos - (eol > sc->pos && sc->s[eol - 1] == '\r'));
		while (sc->pos < eol)
			advance(sc);
		if (sc->pos < sc->len)
			advance(sc);
	}
}

static bool word_char(int c)
{
	return c > 0 && !isspace(c) && !strchr("(){}[];,|'\"=`#", c);
}

/* One token (or none, for blanks and comments); keep=false drops it. */
static void scan_token(struct scanner *sc, bool keep)
{
	int line = sc->line, col = sc->col, c = peek(sc, 0);
	struct buf b = { 0 };
	size_t q;

	if (c == ' ' || c == '\t' || c == '\r' || c == 0xef || c == 0xbb || c == 0xbf) {
		advance(sc);
		return;
	}
	if (c == '`' && (peek(sc, 1) == '\n' || (peek(sc, 1) == '\r' && peek(sc, 2) == '\n'))) {
		while (sc->s[sc->pos] != '\n')
			advance(sc);
		advance(sc); /* a line continuation */
		return;
	}
	if (c == '<' && peek(sc, 1) == '#') {
		while (!(peek(sc, 0) == '#' && peek(sc, 1) == '>')) {
			if (sc->pos >= sc->len)
				die_at(sc, line, col, "unterminated <# comment");
			advance(sc);
		}
		advance(sc);
		advance(sc);
		return;
	}
	if (c == '#') {
		while (sc->pos < sc->len && sc->s[sc->pos] != '\n')
			advance(sc);
		return;
	}
	if (c == '@' && (peek(sc, 1) == '\'' || peek(sc, 1) == '"')) {
		char *text = scan_here(sc, line, col);

		push(sc, T_HERE, text, false, line, col);
		return;
	}
	if (single_quote_at(sc, &q)) {
		push(sc, T_STRING, scan_single(sc, line, col), false, line, col);
		return;
	}
	if (c == '"') {
		push(sc, T_STRING, scan_double(sc, line, col), false, line, col);
		return;
	}
	if ((c == '@' || c == '$') && peek(sc, 1) == '(') {
		advance(sc);
		advance(sc);
		push(sc, T_LPAREN, strdup(c == '@' ? "@(" : "$("), c == '@', line, col);
		return;
	}
	if (c == '@' && peek(sc, 1) == '{') {
		advance(sc);
		advance(sc);
		push(sc, T_LBRACE, strdup("@{"), true, line, col);
		return;
	}
	if (c == '$' && peek(sc, 1) == '{') {
		advance(sc);
		advance(sc);
		while (peek(sc, 0) != '}') {
			if (sc->pos >= sc->len)
				die_at(sc, line, col, "unterminated ${ variable");
			buf_put(&b, sc->s + sc->pos, 1);
			advance(sc);
		}
		advance(sc);
		push(sc, T_VAR, buf_take(&b), false, line, col);
		return;
	}
	if (c == '$') {
		advance(sc);
		while (peek(sc, 0) > 0 && (isalnum(peek(sc, 0)) || strchr("_:?^", peek(sc, 0)))) {
			buf_put(&b, sc->s + sc->pos, 1);
			advance(sc);
		}
		push(sc, T_VAR, buf_take(&b), false, line, col);
		return;
	}
	{
		static const struct {
			char c;
			enum tok_type t;
		} single[] = {
			{ '\n', T_NEWLINE }, { ';', T_SEMI },	{ ',', T_COMMA },  { '|', T_PIPE },
			{ '=', T_EQ },	     { '(', T_LPAREN }, { ')', T_RPAREN }, { '{', T_LBRACE },
			{ '}', T_RBRACE },   { '[', T_LBRACK }, { ']', T_RBRACK },
		};

		for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
			if (c == single[i].c) {
				char text[2] = { (char)c, 0 };

				advance(sc);
				push(sc, single[i].t, strdup(text), false, line, col);
				return;
			}
		}
	}
	while (word_char(peek(sc, 0)) || (peek(sc, 0) == '`' && peek(sc, 1) > 0 && peek(sc, 1) != '\n')) {
		size_t n = peek(sc, 0) == '`' ? 2 : 1;

		buf_put(&b, sc->s + sc->pos, n);
		while (n--)
			advance(sc);
		if (peek(sc, 0) == '=' && b.n && strchr("+-*/", b.s[b.n - 1]))
			break; /* += and friends end at their = */
	}
	if (!b.n)
		die_at(sc, line, col, "unexpected character '%c'", c);
	if (keep)
		push(sc, T_WORD, buf_take(&b), false, line, col);
	else
		free(b.s);
}

/* Every token; fails on an unterminated anything or an unbalanced bracket. */
static void scan_all(struct scanner *sc)
{
	struct tok *stack[512];
	int depth = 0;

	while (sc->pos < sc->len)
		scan_token(sc, true);
	push(sc, T_EOF, strdup(""), false, sc->line, sc->col);
	for (size_t i = 0; i < sc->n; i++) {
		struct tok *t = &sc->v[i];

		if (t->type == T_LPAREN || t->type == T_LBRACE || t->type == T_LBRACK) {
			if (depth == 512)
				die_at(sc, t->line, t->col, "brackets nested too deep");
			stack[depth++] = t;
		} else if (t->type == T_RPAREN || t->type == T_RBRACE || t->type == T_RBRACK) {
			enum tok_type want = t->type == T_RPAREN ? T_LPAREN
					     : t->type == T_RBRACE ? T_LBRACE
								    : T_LBRACK;

			if (!depth)
				die_at(sc, t->line, t->col, "'%s' closes nothing", t->text);
			if (stack[depth - 1]->type != want)
				die_at(sc, t->line, t->col, "'%s' closes '%s' of line %d column %d",
				       t->text, stack[depth - 1]->text, stack[depth - 1]->line,
				       stack[depth - 1]->col);
			depth--;
		}
	}
	if (depth)
		die_at(sc, stack[depth - 1]->line, stack[depth - 1]->col, "'%s' is never closed",
		       stack[depth - 1]->text);
}

/* ---- data literals ------------------------------------------------------- */

static struct json_object *parse_value(struct scanner *sc, size_t *i);

static void skip_seps(struct scanner *sc, size_t *i, bool commas)
{
	while (sc->v[*i].type == T_NEWLINE || sc->v[*i].type == T_SEMI ||
	       (commas && sc->v[*i].type == T_COMMA))
		(*i)++;
}

static struct json_object *parse_array(struct scanner *sc, size_t *i)
{
	struct json_object *a = json_object_new_array();

	(*i)++;
	for (;;) {
		struct json_object *v;

		skip_seps(sc, i, true);
		if (sc->v[*i].type == T_RPAREN) {
			(*i)++;
			return a;
		}
		v = parse_value(sc, i);
		if (!v) {
			json_object_put(a);
			return NULL;
		}
		json_object_array_add(a, v);
	}
}

static struct json_object *parse_hashtable(struct scanner *sc, size_t *i)
{
	struct json_object *h = json_object_new_object();

	(*i)++;
	for (;;) {
		struct json_object *v;
		const char *key;

		skip_seps(sc, i, false);
		if (sc->v[*i].type == T_RBRACE) {
			(*i)++;
			return h;
		}
		if ((sc->v[*i].type != T_WORD && sc->v[*i].type != T_STRING) ||
		    sc->v[*i + 1].type != T_EQ) {
			json_object_put(h);
			return NULL;
		}
		key = sc->v[*i].text;
		*i += 2;
		v = parse_value(sc, i);
		if (!v) {
			json_object_put(h);
			return NULL;
		}
		json_object_object_add(h, key, v);
	}
}

/* A data literal at *i, or NULL (and *i wherever it stopped) when there is none. */
static struct json_object *parse_value(struct scanner *sc, size_t *i)
{
	struct tok *t = &sc->v[*i];
	char *end;
	long n;

	switch (t->type) {
	case T_STRING:
	case T_HERE:
		(*i)++;
		return json_object_new_string(t->text);
	case T_VAR:
		(*i)++;
		if (!strcasecmp(t->text, "true") || !strcasecmp(t->text, "false"))
			return json_object_new_boolean(!strcasecmp(t->text, "true"));
		if (!strcasecmp(t->text, "null"))
			return json_object_new_null();
		return NULL;
	case T_WORD:
		errno = 0;
		n = strtol(t->text, &end, 10);
		if (errno || *end || end == t->text)
			return NULL;
		(*i)++;
		return json_object_new_int64(n);
	case T_LPAREN:
		return t->at ? parse_array(sc, i) : NULL;
	case T_LBRACE:
		return t->at ? parse_hashtable(sc, i) : NULL;
	case T_LBRACK:
		if (sc->v[*i + 1].type == T_WORD && !strcasecmp(sc->v[*i + 1].text, "ordered") &&
		    sc->v[*i + 2].type == T_RBRACK && sc->v[*i + 3].type == T_LBRACE) {
			*i += 3;
			return parse_hashtable(sc, i);
		}
		return NULL;
	default:
		return NULL;
	}
}

/* ---- the script ---------------------------------------------------------------- */

static bool verb_noun(const char *w)
{
	const char *dash = strchr(w, '-');

	if (!isupper((unsigned char)w[0]) || !dash || !isupper((unsigned char)dash[1]))
		return false;
	for (const char *p = w; *p; p++)
		if (!isalpha((unsigned char)*p) && p != dash)
			return false;
	return true;
}

static void add_unique(struct json_object *arr, const char *s)
{
	for (size_t k = 0; k < json_object_array_length(arr); k++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(arr, k)), s))
			return;
	json_object_array_add(arr, json_object_new_string(s));
}

static int cmp_json_strings(const void *a, const void *b)
{
	return strcmp(json_object_get_string(*(struct json_object *const *)a),
		      json_object_get_string(*(struct json_object *const *)b));
}

static struct json_object *scan_script(struct scanner *sc)
{
	struct json_object *out = json_object_new_object(), *vars = json_object_new_object();
	struct json_object *functions = json_object_new_array(), *commands = json_object_new_array();
	struct json_object *requires = json_object_new_array();
	int depth = 0;

	/* #Requires lines are comments to the tokenizer. */
	for (const char *p = sc->s; (p = strstr(p, "#Requires ")) != NULL; p++) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char *line = strndup(p + 10, n - 10);

		json_object_array_add(requires, json_object_new_string(line));
		free(line);
	}
	for (size_t i = 0; sc->v[i].type != T_EOF;) {
		struct tok *t = &sc->v[i];

		if (t->type == T_WORD && !strcasecmp(t->text, "function") &&
		    sc->v[i + 1].type == T_WORD) {
			add_unique(functions, sc->v[i + 1].text);
			i += 2;
			continue;
		}
		if (t->type == T_WORD && verb_noun(t->text))
			add_unique(commands, t->text);
		if (depth == 0 && t->type == T_VAR && sc->v[i + 1].type == T_EQ &&
		    (i == 0 || sc->v[i - 1].type == T_NEWLINE || sc->v[i - 1].type == T_SEMI)) {
			size_t k = i + 2;
			struct json_object *v = parse_value(sc, &k);

			if (v && (sc->v[k].type == T_NEWLINE || sc->v[k].type == T_SEMI ||
				  sc->v[k].type == T_EOF)) {
				json_object_object_add(vars, t->text, v);
				i = k;
				continue;
			}
			json_object_put(v);
		}
		if (t->type == T_LPAREN || t->type == T_LBRACE || t->type == T_LBRACK)
			depth++;
		else if (t->type == T_RPAREN || t->type == T_RBRACE || t->type == T_RBRACK)
			depth--;
		i++;
	}
	json_object_array_sort(commands, cmp_json_strings);
	json_object_object_add(out, "bom", json_object_new_boolean(sc->len >= 3 &&
								    !memcmp(sc->s, "\xef\xbb\xbf", 3)));
	json_object_object_add(out, "requires", requires);
	json_object_object_add(out, "functions", functions);
	json_object_object_add(out, "commands", commands);
	json_object_object_add(out, "variables", vars);
	return out;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	struct buf b = { 0 };
	char chunk[65536];
	size_t n;

	if (!f) {
		fprintf(stderr, "ps1scan: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_put(&b, chunk, n);
	if (f != stdin)
		fclose(f);
	*len = b.n;
	return buf_take(&b);
}

int main(int argc, char **argv)
{
	bool data = argc == 3 && !strcmp(argv[1], "--data");
	struct scanner sc = { 0 };
	struct json_object *out;

	if (argc != 2 + data || (!data && argv[1][0] == '-' && argv[1][1])) {
		fprintf(stderr, "usage: ps1scan [--data] FILE\n");
		return 64;
	}
	sc.file = argv[1 + data];
	sc.s = read_file(sc.file, &sc.len);
	sc.line = sc.col = 1;
	scan_all(&sc);
	if (data) {
		size_t i = 0;

		skip_seps(&sc, &i, false);
		out = parse_value(&sc, &i);
		if (out)
			skip_seps(&sc, &i, false);
		if (!out || sc.v[i].type != T_EOF)
			die_at(&sc, sc.v[i].line, sc.v[i].col, "not a data literal");
	} else {
		out = scan_script(&sc);
	}
	puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	for (size_t i = 0; i < sc.n; i++)
		free(sc.v[i].text);
	free(sc.v);
	free((char *)sc.s);
	return 0;
}
