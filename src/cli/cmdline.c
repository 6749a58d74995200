// SPDX-License-Identifier: GPL-2.0-only
/* cmdline.c - the option table, the parser and the generated usage (cmdline.h). */
#include "cmdline.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "pindir.h"

#define CLI_OPT_ENTRY(id, name, letter, arg, kind, min, max, def, help)                          \
	[CLI_OPT_##id] = { name, letter, arg, kind, min, max, def, help },
const struct cli_option cli_options[CLI_N_OPTIONS] = { CLI_OPTIONS(CLI_OPT_ENTRY) };
#undef CLI_OPT_ENTRY

#define MAX_USES CLI_N_OPTIONS
#define WRAP 79 /* columns of the generated text */
#define HELP_COLUMN 24 /* where an option's help starts */

bool cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

size_t cli_command_options(const struct cli_command *cmd, struct cli_use *out, size_t max)
{
	size_t n = 0;

	for (const struct cli_use *u = cmd->options; u && u->id && n < max; u++)
		out[n++] = *u;
	if (cmd->access != CLI_NO_INSTANCE && n < max)
		out[n++] = (struct cli_use){ .id = CLI_OPT_PIN_DIR };
	if (n < max)
		out[n++] = (struct cli_use){ .id = CLI_OPT_HELP };
	return n;
}

/* "-c/--config" or "--host", for messages. */
static const char *opt_text(enum cli_opt o, char *buf, size_t len)
{
	const struct cli_option *opt = &cli_options[o];

	if (opt->letter)
		snprintf(buf, len, "-%c/--%s", opt->letter, opt->name);
	else
		snprintf(buf, len, "--%s", opt->name);
	return buf;
}

/* " [--host NAME]", " -c FILE" or " [--iface IF]..." */
static int synopsis_item(char *buf, size_t len, const struct cli_use *u)
{
	const struct cli_option *o = &cli_options[u->id];
	bool repeat = o->kind == CLI_LIST || o->kind == CLI_RESOLVE;
	char name[48];

	if (o->letter && u->required)
		snprintf(name, sizeof(name), "-%c", o->letter);
	else
		snprintf(name, sizeof(name), "--%s", o->name);
	return snprintf(buf, len, " %s%s%s%s%s%s", u->required ? "" : "[", name, o->arg ? " " : "",
			o->arg ? o->arg : "", u->required ? "" : "]", repeat ? "..." : "");
}

/* Prints word at *col, first on a new line when it would pass WRAP. */
static void put_word(FILE *out, const char *word, int *col)
{
	int w = (int)strlen(word);

	if (*col > HELP_COLUMN && *col + 1 + w > WRAP) {
		fprintf(out, "\n%*s", HELP_COLUMN, "");
		*col = HELP_COLUMN;
	}
	*col += fprintf(out, "%s%s", *col > HELP_COLUMN ? " " : "", word);
}

/* An option's help, from HELP_COLUMN on, wrapped at WRAP; then its default, unbroken. */
static void wrapped(FILE *out, const char *help, const char *def)
{
	char text[512], tail[128];
	int col = HELP_COLUMN;

	snprintf(text, sizeof(text), "%s", help);
	for (char *word = strtok(text, " "); word; word = strtok(NULL, " "))
		put_word(out, word, &col);
	if (def) {
		snprintf(tail, sizeof(tail), "(default %s)", def);
		put_word(out, tail, &col);
	}
	fprintf(out, "\n");
}

void cli_usage(FILE *out, const struct cli_command *cmd, bool full)
{
	struct cli_use uses[MAX_USES];
	size_t n = cli_command_options(cmd, uses, MAX_USES);
	int col, indent = fprintf(out, "usage: speebpf%s%s", cmd->name[0] ? " " : "", cmd->name);

	col = indent;
	for (size_t i = 0; i < n; i++) {
		char item[160];
		int w;

		if (uses[i].id == CLI_OPT_HELP)
			continue;
		w = synopsis_item(item, sizeof(item), &uses[i]);
		if (col + w > WRAP) {
			col = fprintf(out, "\n%*s", indent, "") - 1;
		}
		col += fprintf(out, "%s", item);
	}
	if (cmd->operands)
		fprintf(out, " %s", cmd->operands);
	fprintf(out, "\n");
	if (!full)
		return;
	if (cmd->description)
		fprintf(out, "%s\n", cmd->description);
	for (size_t i = 0; i < n; i++) {
		const struct cli_option *o = &cli_options[uses[i].id];
		const char *help = uses[i].help ? uses[i].help : o->help;
		char head[64];
		int w;

		if (o->letter)
			snprintf(head, sizeof(head), "  -%c, --%s%s%s", o->letter, o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(head, sizeof(head), "      --%s%s%s", o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		w = fprintf(out, "%s", head);
		if (w >= HELP_COLUMN)
			fprintf(out, "\n%*s", HELP_COLUMN, "");
		else
			fprintf(out, "%*s", HELP_COLUMN - w, "");
		wrapped(out, help, o->def);
	}
}

/* "speebpf apply: MESSAGE", the usage line, and where the options are described. */
static int usage_error(const struct cli_command *cmd, const char *fmt, const char *a,
		       const char *b)
{
	const char *sep = cmd->name[0] ? " " : "";

	fprintf(stderr, "speebpf%s%s: ", sep, cmd->name);
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	cli_usage(stderr, cmd, false);
	fprintf(stderr, "'speebpf%s%s --help' describes every option.\n", sep, cmd->name);
	return -CLI_EUSAGE;
}

/* True when word is one of the '|'-separated words of choices. */
static bool is_choice(const char *choices, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = choices; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL)
		if (n && !strncmp(p, word, n) && (p[n] == '|' || !p[n]))
			return true;
	return false;
}

static int add_to_list(struct cli_args *a, enum cli_opt o, char *arg)
{
	char **v = realloc(a->list[o], (a->n_list[o] + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	a->list[o] = v;
	v[a->n_list[o]++] = arg;
	return 0;
}

/* One option's argument, checked against its kind. */
static int take(const struct cli_command *cmd, struct cli_args *a, enum cli_opt o, char *arg)
{
	const struct cli_option *opt = &cli_options[o];
	char what[48], range[64];
	int err;

	a->given[o] = true;
	a->text[o] = arg;
	switch (opt->kind) {
	case CLI_FLAG:
	case CLI_TEXT:
		return 0;
	case CLI_LIST:
		return add_to_list(a, o, arg);
	case CLI_UINT:
		if (cli_parse_uint(arg, opt->min, opt->max, &a->num[o]))
			return 0;
		if (opt->max == (unsigned long)-1)
			snprintf(range, sizeof(range), "%s, %lu or more", opt->arg, opt->min);
		else
			snprintf(range, sizeof(range), "%s, %lu-%lu", opt->arg, opt->min, opt->max);
		snprintf(what, sizeof(what), "--%s %s", opt->name, arg);
		return usage_error(cmd, "%s: expected %s", what, range);
	case CLI_CHOICE:
		if (is_choice(opt->arg, arg))
			return 0;
		snprintf(what, sizeof(what), "--%s %s", opt->name, arg);
		return usage_error(cmd, "%s: expected %s", what, opt->arg);
	case CLI_RESOLVE:
		err = names_set_from_arg(&a->pinned, arg);
		if (err == -ENOMEM)
			return err;
		if (!err)
			return add_to_list(a, o, arg);
		snprintf(what, sizeof(what), "--%s %s", opt->name, arg);
		return usage_error(cmd, "%s: expected %s", what, opt->arg);
	}
	return 0;
}

/* The combinations a command's table rules out. */
static int check_rules(const struct cli_command *cmd, const struct cli_args *a,
		       const struct cli_use *uses, size_t n)
{
	char x[48], y[48];

	for (size_t i = 0; i < n; i++)
		if (uses[i].required && !a->given[uses[i].id])
			return usage_error(cmd, "%s%s is required", opt_text(uses[i].id, x, sizeof(x)),
					   "");
	for (const struct cli_rule *r = cmd->rules; r && r->a; r++) {
		if (!a->given[r->a])
			continue;
		if (r->kind == CLI_EXCLUDES && a->given[r->b])
			return usage_error(cmd, "%s and %s do not go together",
					   opt_text(r->a, x, sizeof(x)), opt_text(r->b, y, sizeof(y)));
		if (r->kind == CLI_NEEDS && !a->given[r->b])
			return usage_error(cmd, "%s needs %s", opt_text(r->a, x, sizeof(x)),
					   opt_text(r->b, y, sizeof(y)));
	}
	return 0;
}

int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *a)
{
	struct cli_use uses[MAX_USES];
	struct option longopts[MAX_USES + 1];
	char shortopts[2 * MAX_USES + 3] = "+:"; /* stop at the first operand; ':' for a missing argument */
	size_t n = cli_command_options(cmd, uses, MAX_USES), ns = 2;
	int c, err;

	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	for (size_t i = 0; i < n; i++) {
		const struct cli_option *o = &cli_options[uses[i].id];

		longopts[i] = (struct option){ o->name, o->arg ? required_argument : no_argument,
					       NULL, (int)uses[i].id + 256 };
		if (o->letter) {
			shortopts[ns++] = o->letter;
			if (o->arg)
				shortopts[ns++] = ':';
		}
	}
	longopts[n] = (struct option){ 0 };
	shortopts[ns] = '\0';
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		enum cli_opt o = CLI_OPT_NONE;
		char what[48];

		if (c == '?' || c == ':') {
			const char *arg = optopt && optopt < 256 ? NULL : argv[optind - 1];

			if (!arg)
				snprintf(what, sizeof(what), "-%c", optopt);
			if (c == ':')
				return usage_error(cmd, "%s needs an argument", arg ? arg : what, "");
			return usage_error(cmd, "%s is not an option%s", arg ? arg : what,
					   cmd->name[0] ? " of this command" : "");
		}
		if (c >= 256) {
			o = (enum cli_opt)(c - 256);
		} else {
			for (size_t i = 0; i < n && !o; i++)
				if (cli_options[uses[i].id].letter == c)
					o = uses[i].id;
		}
		if (o == CLI_OPT_HELP) {
			cli_usage(stdout, cmd, true);
			return 1;
		}
		err = take(cmd, a, o, optarg);
		if (err)
			return err;
	}
	if (optind < argc && !cmd->operands)
		return usage_error(cmd, "unexpected argument '%s'%s", argv[optind], "");
	a->operands = argv + optind;
	a->n_operands = argc - optind;
	return check_rules(cmd, a, uses, n);
}

void cli_args_free(struct cli_args *a)
{
	for (int o = 0; o < CLI_N_OPTIONS; o++)
		free(a->list[o]);
	names_free(&a->pinned);
	memset(a, 0, sizeof(*a));
}

const char *cli_text(const struct cli_args *a, enum cli_opt o)
{
	return a->given[o] ? a->text[o] : cli_options[o].def;
}

bool cli_flag(const struct cli_args *a, enum cli_opt o)
{
	return a->given[o];
}

unsigned long cli_uint(const struct cli_args *a, enum cli_opt o)
{
	unsigned long v = 0;

	if (a->given[o])
		return a->num[o];
	if (cli_options[o].def)
		cli_parse_uint(cli_options[o].def, 0, (unsigned long)-1, &v);
	return v;
}

char *const *cli_list(const struct cli_args *a, enum cli_opt o, size_t *n)
{
	*n = a->n_list[o];
	return a->list[o];
}
