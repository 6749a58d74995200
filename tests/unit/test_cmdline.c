// SPDX-License-Identifier: GPL-2.0-only
/*
 * cmdline.c and commands.c: the command line as tables. Every option a
 * command takes is documented well enough to generate a man page and a
 * completion from (a name, an argument name when it takes one, one line of
 * help); an option a command does not take is a usage error; values are
 * checked by kind; defaults, combinations and the instance access flag
 * come from the tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

/* Parses a NULL-terminated argument list for cmd. */
static int parse(const char *cmd, struct cli_args *a, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)cmd;
	va_start(ap, a);
	for (char *s = va_arg(ap, char *); s && argc < 31; s = va_arg(ap, char *))
		argv[argc++] = s;
	va_end(ap);
	argv[argc] = NULL;
	assert_non_null(cli_find_command(cmd));
	return cli_parse(cli_find_command(cmd), argc, argv, a);
}

static void every_option_of_every_command_is_documented(void **state)
{
	(void)state;
	assert_true(cli_n_commands >= 10);
	for (size_t c = 0; c < cli_n_commands; c++) {
		const struct cli_command *cmd = cli_commands[c];
		struct cli_use uses[CLI_N_OPTIONS];
		size_t n = cli_command_options(cmd, uses, CLI_N_OPTIONS);

		assert_non_null(cmd->summary);
		assert_non_null(cmd->run);
		assert_null(strchr(cmd->summary, '\n'));
		for (size_t i = 0; i < n; i++) {
			const struct cli_option *o = &cli_options[uses[i].id];
			const char *help = uses[i].help ? uses[i].help : o->help;

			assert_true(uses[i].id > CLI_OPT_NONE && uses[i].id < CLI_N_OPTIONS);
			assert_non_null(o->name);
			assert_true(strlen(help) > 0);
			assert_null(strchr(help, '\n'));
			/* an argument name exactly when the option takes an argument */
			assert_int_equal(o->arg != NULL, o->kind != CLI_FLAG);
			for (size_t k = 0; k < i; k++)
				assert_int_not_equal(uses[k].id, uses[i].id);
		}
	}
}

static void options_shared_by_commands_are_defined_once(void **state)
{
	struct cli_use uses[CLI_N_OPTIONS];

	(void)state;
	/* one entry per option: the long names are unique */
	for (int i = 1; i < CLI_N_OPTIONS; i++)
		for (int k = 1; k < i; k++)
			assert_string_not_equal(cli_options[i].name, cli_options[k].name);
	/* --pin-dir comes with every command that opens an instance, and only with those */
	for (size_t c = 0; c < cli_n_commands; c++) {
		size_t n = cli_command_options(cli_commands[c], uses, CLI_N_OPTIONS);
		bool pin = false, help = false;

		for (size_t i = 0; i < n; i++) {
			pin |= uses[i].id == CLI_OPT_PIN_DIR;
			help |= uses[i].id == CLI_OPT_HELP;
		}
		assert_int_equal(pin, cli_commands[c]->access != CLI_NO_INSTANCE);
		assert_true(help);
	}
}

static void the_table_says_how_each_command_opens_the_instance(void **state)
{
	(void)state;
	assert_int_equal(cli_find_command("check")->access, CLI_NO_INSTANCE);
	assert_int_equal(cli_find_command("explain")->access, CLI_NO_INSTANCE);
	assert_int_equal(cli_find_command("apply")->access, CLI_CREATES);
	assert_int_equal(cli_find_command("run")->access, CLI_CREATES);
	assert_int_equal(cli_find_command("confirm")->access, CLI_WRITES);
	assert_int_equal(cli_find_command("detach")->access, CLI_WRITES);
	assert_int_equal(cli_find_command("stats")->access, CLI_READS);
	assert_int_equal(cli_find_command("status")->access, CLI_READS);
	assert_int_equal(cli_find_command("events")->access, CLI_READS);
	assert_int_equal(cli_find_command("plan")->access, CLI_READS_IF_ANY);
	assert_int_equal(cli_find_command("verify")->access, CLI_NO_INSTANCE);
}

static void an_option_the_command_does_not_take_is_a_usage_error(void **state)
{
	struct cli_args a;

	(void)state;
	/* run's options are not apply's */
	assert_int_equal(parse("apply", &a, "-c", "f.yaml", "--metrics", ":9600", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("apply", &a, "-c", "f.yaml", "--drift-interval", "5", NULL),
			 -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("apply", &a, "-c", "f.yaml", "--log-format", "json", NULL),
			 -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("apply", &a, "-c", "f.yaml", "--debounce-ms", "1", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	/* run's --state-dir is not apply's (run takes --confirm too: CONTRACT.md section 4) */
	assert_int_equal(parse("apply", &a, "-c", "f.yaml", "--state-dir", "/x", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("check", &a, "-c", "f.yaml", "--pin-dir", "/x", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("stats", &a, "-x", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("stats", &a, "extra", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
}

static void values_are_checked_by_kind(void **state)
{
	struct cli_args a;

	(void)state;
	assert_int_equal(parse("apply", &a, "-c", "f", "--confirm", "0", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("apply", &a, "-c", "f", "--confirm", "86401", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("apply", &a, "-c", "f", "--confirm", "-1", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("apply", &a, "-c", "f", "--resolve", "nohost", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("explain", &a, "-c", "f", "--from", "1.2.3.4", "--to", "1.2.3.5",
			       "--port", "1", "--proto", "sctp", NULL),
			 -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("run", &a, "-c", "f", "--log-format", "xml", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("apply", &a, "-c", NULL), -CLI_EUSAGE); /* no argument */
	cli_args_free(&a);

	assert_int_equal(parse("apply", &a, "-c", "f", "--confirm", "60", "--iface", "eth0",
			       "--iface", "eth1", "--resolve", "my.mailstore.com=198.19.2.100",
			       "--audit", NULL),
			 0);
	assert_string_equal(cli_text(&a, CLI_OPT_CONFIG), "f");
	assert_int_equal(cli_uint(&a, CLI_OPT_CONFIRM), 60);
	assert_true(cli_flag(&a, CLI_OPT_AUDIT));
	{
		size_t n;
		char *const *v = cli_list(&a, CLI_OPT_IFACE, &n);

		assert_int_equal(n, 2);
		assert_string_equal(v[0], "eth0");
		assert_string_equal(v[1], "eth1");
	}
	assert_non_null(names_find(&a.pinned, "my.mailstore.com"));
	cli_args_free(&a);
}

static void defaults_come_from_the_option_table(void **state)
{
	struct cli_args a;

	(void)state;
	assert_int_equal(parse("run", &a, "-c", "f", NULL), 0);
	assert_string_equal(cli_text(&a, CLI_OPT_PIN_DIR), PINDIR_DEFAULT);
	assert_int_equal(cli_uint(&a, CLI_OPT_DRIFT_INTERVAL), 30);
	assert_int_equal(cli_uint(&a, CLI_OPT_DEBOUNCE_MS), 200);
	assert_string_equal(cli_text(&a, CLI_OPT_LOG_FORMAT), "text");
	assert_null(cli_text(&a, CLI_OPT_HOST));
	assert_false(cli_flag(&a, CLI_OPT_AUDIT));
	cli_args_free(&a);
	assert_int_equal(parse("run", &a, "-c", "f", "--drift-interval", "0", "--pin-dir", "/p",
			       NULL),
			 0);
	assert_int_equal(cli_uint(&a, CLI_OPT_DRIFT_INTERVAL), 0);
	assert_string_equal(cli_text(&a, CLI_OPT_PIN_DIR), "/p");
	cli_args_free(&a);
}

static void required_options_and_combinations_come_from_the_table(void **state)
{
	struct cli_args a;

	(void)state;
	assert_int_equal(parse("apply", &a, NULL), -CLI_EUSAGE); /* -c */
	cli_args_free(&a);
	assert_int_equal(parse("explain", &a, "-c", "f", "--from", "1.2.3.4", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("stats", &a, "--json", "--prometheus", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("stats", &a, "--watch", "1", "--json", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("stats", &a, "--count", "2", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("check", &a, "-c", "f", "--all", "--host", "h", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("stats", &a, "--watch", "1", "--count", "2", NULL), 0);
	cli_args_free(&a);
	/* apply --verify confirms: it needs --confirm; its --timeout needs --verify */
	assert_int_equal(parse("apply", &a, "-c", "f", "--verify", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("apply", &a, "-c", "f", "--confirm", "9", "--timeout", "5", NULL),
			 -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("apply", &a, "-c", "f", "--confirm", "9", "--verify", "--timeout",
			       "5", NULL),
			 0);
	assert_true(cli_flag(&a, CLI_OPT_VERIFY));
	assert_int_equal(cli_uint(&a, CLI_OPT_TIMEOUT_MS), 5);
	cli_args_free(&a);
	/* run: the probes' --timeout only with --verify-interval, which is off by default */
	assert_int_equal(parse("run", &a, "-c", "f", "--timeout", "5", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
	assert_int_equal(parse("run", &a, "-c", "f", NULL), 0);
	assert_int_equal(cli_uint(&a, CLI_OPT_VERIFY_INTERVAL), 0);
	cli_args_free(&a);
	assert_int_equal(parse("run", &a, "-c", "f", "--verify-interval", "60", "--timeout", "5",
			       NULL),
			 0);
	assert_int_equal(cli_uint(&a, CLI_OPT_VERIFY_INTERVAL), 60);
	cli_args_free(&a);
	/* and an option of verify's that apply does not take */
	assert_int_equal(parse("apply", &a, "-c", "f", "--no-resolve", NULL), -CLI_EUSAGE);
	cli_args_free(&a);
}

static void help_is_generated_from_the_tables(void **state)
{
	struct cli_args a;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	assert_non_null(out);
	cli_usage(out, cli_find_command("apply"), true);
	fclose(out);
	assert_non_null(strstr(text, "usage: speebpf apply -c FILE [--host NAME] [--iface IF]..."));
	assert_non_null(strstr(text, "--confirm SECS"));
	assert_non_null(strstr(text, "(default /sys/fs/bpf/speebpf)"));
	assert_null(strstr(text, "--metrics"));
	free(text);
	/* --help prints it and stops there */
	assert_int_equal(parse("status", &a, "--help", "--bogus", NULL), 1);
	cli_args_free(&a);
}

static void only_help_takes_operands(void **state)
{
	struct cli_args a;

	(void)state;
	assert_int_equal(parse("help", &a, "stats", NULL), 0);
	assert_int_equal(a.n_operands, 1);
	assert_string_equal(a.operands[0], "stats");
	cli_args_free(&a);
	for (size_t c = 0; c < cli_n_commands; c++)
		assert_int_equal(cli_commands[c]->operands != NULL,
				 !strcmp(cli_commands[c]->name, "help"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_option_of_every_command_is_documented),
		cmocka_unit_test(options_shared_by_commands_are_defined_once),
		cmocka_unit_test(the_table_says_how_each_command_opens_the_instance),
		cmocka_unit_test(an_option_the_command_does_not_take_is_a_usage_error),
		cmocka_unit_test(values_are_checked_by_kind),
		cmocka_unit_test(defaults_come_from_the_option_table),
		cmocka_unit_test(required_options_and_combinations_come_from_the_table),
		cmocka_unit_test(help_is_generated_from_the_tables),
		cmocka_unit_test(only_help_takes_operands),
	};

	return cmocka_run_group_tests_name("cmdline", tests, NULL, NULL);
}
