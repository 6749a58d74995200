/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cmdline.h - the command line, declared: every option speebpf knows,
 * defined once (CLI_OPTIONS below: name, short form, argument, kind, help),
 * the command table entry (struct cli_command: the options a command takes,
 * how they combine, how it uses the instance), and the parser that reads a
 * command's arguments against them. An option a command does not take is
 * a usage error (exit 2), never ignored. Usage lines and --help are
 * generated from the same tables, and so could a man page or a bash
 * completion be (every option has its argument's name and one line of help).
 *
 * Adding an option: one line in CLI_OPTIONS, and its id in the option list
 * of each command that takes it (cmd_<name>.c). A handler reads it with
 * cli_text(), cli_flag(), cli_uint() or cli_list(). Adding a command: a
 * cmd_<name>.c defining `const struct cli_command cmd_<name>`, and one line
 * in commands.h.
 */
#ifndef SPEE_CMDLINE_H
#define SPEE_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "names.h"

enum cli_kind {
	CLI_FLAG, /* no argument */
	CLI_TEXT, /* an argument; the last one given counts */
	CLI_LIST, /* an argument, repeatable: every one counts */
	CLI_UINT, /* a decimal number within the option's range */
	CLI_CHOICE, /* one of the words of the argument's name ("tcp|udp") */
	CLI_RESOLVE, /* NAME=ADDR[,ADDR], repeatable: DNS names pinned to addresses */
};

/*
 * X(ID, long name, short letter or 0, ARG or NULL, kind, min, max, default or NULL, help)
 * The help is one line; the default, if any, is shown after it. For
 * CLI_UINT, min and max bound the value and ARG names its unit.
 */
#define CLI_OPTIONS(X)                                                                             \
	X(CONFIG, "config", 'c', "FILE", CLI_TEXT, 0, 0, NULL, "the fleet config")                 \
	X(HOST, "host", 0, "NAME", CLI_TEXT, 0, 0, NULL,                                           \
	  "this machine's inventory host (default: by hostname or address)")                      \
	X(PIN_DIR, "pin-dir", 0, "DIR", CLI_TEXT, 0, 0, PINDIR_DEFAULT,                       \
	  "where the instance is pinned")                                                          \
	X(JSON, "json", 0, NULL, CLI_FLAG, 0, 0, NULL, "machine-readable output")                  \
	X(HELP, "help", 'h', NULL, CLI_FLAG, 0, 0, NULL, "show this help")                         \
	X(VERBOSE, "verbose", 'v', NULL, CLI_FLAG, 0, 0, NULL, "show libbpf's own messages")       \
	X(VERSION, "version", 0, NULL, CLI_FLAG, 0, 0, NULL, "print the version")                  \
	X(IFACE, "iface", 0, "IF", CLI_LIST, 0, 0, NULL,                                           \
	  "interface for XDP (--gateway: a bridge port gets a tc ingress filter), repeatable; "  \
	  "all: every up, non-loopback one (default: those "                                     \
	  "holding the host's inventory addresses on a new instance, followed by run; "          \
	  "unchanged on an existing one)")                                                       \
	X(CGROUP, "cgroup", 0, "DIR", CLI_TEXT, 0, 0, NULL,                                        \
	  "cgroup v2 directory for the egress programs (default: the cgroup2 root on a new "     \
	  "instance; unchanged on an existing one)")                                             \
	X(AUDIT, "audit", 0, NULL, CLI_FLAG, 0, 0, NULL, "count what would be dropped, drop nothing") \
	X(CONFIRM, "confirm", 0, "SECS", CLI_UINT, 1, 86400, NULL,                                 \
	  "revert to the previous policy unless `speebpf confirm` runs within SECS seconds")     \
	X(RESOLVE, "resolve", 0, "NAME=ADDR[,ADDR]", CLI_RESOLVE, 0, 0, NULL,                      \
	  "use these addresses for DNS name NAME instead of resolving it, repeatable")           \
	X(LOG_FORMAT, "log-format", 0, "text|json", CLI_CHOICE, 0, 0, "text",                     \
	  "json: one JSON object per line on stderr, for log shippers")                          \
	X(METRICS, "metrics", 0, "ADDR:PORT", CLI_TEXT, 0, 0, NULL,                                \
	  "serve /metrics (Prometheus), /livez, /readyz and /healthz (= /readyz) there")         \
	X(STATE_DIR, "state-dir", 0, "DIR", CLI_TEXT, 0, 0, "/var/lib/speebpf",                    \
	  "keep the last config applied there, for a start with one that cannot be")            \
	X(DRIFT_INTERVAL, "drift-interval", 0, "SECS", CLI_UINT, 0, 86400, "30",                   \
	  "check that the kernel enforces what was compiled every SECS seconds (0: never)")      \
	X(DEBOUNCE_MS, "debounce-ms", 0, "MS", CLI_UINT, 0, 60000, "200",                          \
	  "quiet time after a config change before reloading")                                   \
	X(ALL, "all", 0, NULL, CLI_FLAG, 0, 0, NULL, "every host of the inventory")                \
	X(FULL, "full", 0, NULL, CLI_FLAG, 0, 0, NULL, "list every peer address")                  \
	X(FROM, "from", 0, "ADDR", CLI_TEXT, 0, 0, NULL, "the connection's source address")        \
	X(TO, "to", 0, "ADDR", CLI_TEXT, 0, 0, NULL, "the connection's destination address")       \
	X(PORT, "port", 0, "N", CLI_UINT, 1, 65535, NULL, "the destination port")                  \
	X(PROTO, "proto", 0, "tcp|udp|icmp|icmpv6|ip", CLI_CHOICE, 0, 0, "tcp",                   \
	  "the protocol (icmp, icmpv6: with --icmp-type; ip: with --ip-proto)")                   \
	X(ICMP_TYPE, "icmp-type", 0, "TYPE", CLI_TEXT, 0, 0, NULL,                                 \
	  "the ICMP or ICMPv6 message: a name (echo-request) or a number")                       \
	X(IP_PROTO, "ip-proto", 0, "PROTO", CLI_TEXT, 0, 0, NULL,                                  \
	  "the IP protocol: a name (vrrp, esp, gre...) or a number")                              \
	X(NO_RESOLVE, "no-resolve", 0, NULL, CLI_FLAG, 0, 0, NULL,                                 \
	  "resolve no DNS name: names not pinned with --resolve allow nothing")                  \
	X(PROMETHEUS, "prometheus", 0, NULL, CLI_FLAG, 0, 0, NULL,                                 \
	  "the Prometheus text format (the names of the agent's /metrics)")                      \
	X(WATCH, "watch", 0, "SECS", CLI_UINT, 1, 3600, NULL,                                      \
	  "refresh every SECS seconds and show rates (text only)")                                \
	X(COUNT, "count", 0, "N", CLI_UINT, 1, (unsigned long)-1, NULL,                            \
	  "with --watch: stop after N refreshes (default: until Ctrl-C)")                        \
	X(FOLLOW, "follow", 0, NULL, CLI_FLAG, 0, 0, NULL,                                         \
	  "keep printing as they happen, until Ctrl-C")                                          \
	X(EXIT_CODE, "exit-code", 0, NULL, CLI_FLAG, 0, 0, NULL,                                   \
	  "exit 3 when the answer is a drop (explain) or a difference")                          \
	X(FORMAT, "format", 0, "nftables|nftables-names|windows-firewall|windows-keywords",        \
	  CLI_CHOICE, 0, 0, NULL, "the ruleset to write")                                         \
	X(TIMEOUT_MS, "timeout", 0, "MS", CLI_UINT, 1, 60000, "2000",                              \
	  "how long each probe waits for an answer")                                             \
	X(VERIFY, "verify", 0, NULL, CLI_FLAG, 0, 0, NULL,                                         \
	  "run verify after the apply: confirm when it passes, else let the policy revert")      \
	X(VERIFY_INTERVAL, "verify-interval", 0, "SECS", CLI_UINT, 0, 86400, "0",                  \
	  "run verify every SECS seconds and export its results in /metrics (0: never)")         \
	X(MIN_COUNT, "min-count", 0, "N", CLI_UINT, 1, (unsigned long)-1, "1",                     \
	  "leave out addresses seen fewer than N times")                                          \
	X(GATEWAY, "gateway", 0, NULL, CLI_FLAG, 0, 0, NULL,                                       \
	  "gateway mode: judge the traffic of every inventory host forwarded or bridged here")

#define CLI_OPT_ENUM(id, ...) CLI_OPT_##id,
enum cli_opt { CLI_OPT_NONE, CLI_OPTIONS(CLI_OPT_ENUM) CLI_N_OPTIONS };
#undef CLI_OPT_ENUM

struct cli_option {
	const char *name;
	char letter;
	const char *arg;
	enum cli_kind kind;
	unsigned long min, max;
	const char *def;
	const char *help;
};

/* Every option, by id ([CLI_OPT_NONE] is empty). */
extern const struct cli_option cli_options[CLI_N_OPTIONS];

/* One option of a command; the list ends with an id of CLI_OPT_NONE. */
struct cli_use {
	enum cli_opt id;
	bool required;
	const char *help; /* NULL: the option's own */
};

/* Entries of a command's option list. */
#define CLI_USE(o) { .id = CLI_OPT_##o }
#define CLI_REQUIRE(o) { .id = CLI_OPT_##o, .required = true }
#define CLI_USE_END { .id = CLI_OPT_NONE }

/* Two options of a command that do not go together, or the first needs the second. */
enum cli_rule_kind {
	CLI_EXCLUDES,
	CLI_NEEDS,
};

struct cli_rule {
	enum cli_rule_kind kind;
	enum cli_opt a, b;
};

/* A usage error: the handler already printed why. Maps to exit status 2. */
#define CLI_EUSAGE 2000

/* What --exit-code flags (explain: a drop), reported already. Maps to exit status 3. */
#define CLI_EFLAGGED 3000

/* How a command uses the instance at --pin-dir. */
enum cli_access {
	CLI_NO_INSTANCE, /* none (no --pin-dir) */
	CLI_READS, /* reads an existing one: a shared lock (stats, status, events) */
	CLI_WRITES, /* changes an existing one: the exclusive lock (confirm, detach) */
	CLI_CREATES, /* changes or creates one: the exclusive lock (apply, run) */
	CLI_READS_IF_ANY, /* reads one when there is one, itself, briefly (plan: none is no policy) */
};

struct cli_args;
struct instance;

struct cli_command {
	const char *name;
	const char *summary; /* one line, for `speebpf help` */
	const char *description; /* what --help adds under the usage line; may be NULL */
	enum cli_access access;
	const struct cli_use *options; /* ends with CLI_OPT_NONE; --help and --pin-dir are implied */
	const struct cli_rule *rules; /* ends with a zero a; may be NULL */
	const char *operands; /* what follows the options ("[COMMAND]"); NULL: nothing may */
	/*
	 * inst: for CLI_READS and CLI_WRITES, the instance at --pin-dir, opened
	 * and locked by main; NULL otherwise (a CLI_CREATES command opens it with
	 * cli_open_instance() once its config compiled: a bad config waits for
	 * no lock). Returns 0; -CLI_EUSAGE for a usage or config problem it has
	 * reported (exit 2); or another negative errno for a runtime failure it
	 * has reported (exit 1).
	 */
	int (*run)(const struct cli_args *a, struct instance *inst);
};

/* A command's table entry: CLI_COMMAND(name, .summary = ..., .run = ..., ...); */
#define CLI_COMMAND(n, ...) const struct cli_command cmd_##n = { .name = #n, __VA_ARGS__ }
/* The options a command takes, and the rules of their combination. */
#define CLI_TAKES(...) ((const struct cli_use[]){ __VA_ARGS__, CLI_USE_END })
#define CLI_RULES(...) ((const struct cli_rule[]){ __VA_ARGS__, { 0 } })
/* What apply and run both take (CONTRACT.md: run takes the flags of apply). */
#define CLI_APPLY_OPTIONS                                                                          \
	CLI_REQUIRE(CONFIG), CLI_USE(HOST), CLI_USE(IFACE), CLI_USE(CGROUP), CLI_USE(AUDIT),       \
		CLI_USE(RESOLVE), CLI_USE(GATEWAY)
/* How --gateway combines with them: no one host, no cgroup, the interfaces named. */
#define CLI_GATEWAY_RULES                                                                          \
	{ CLI_EXCLUDES, CLI_OPT_GATEWAY, CLI_OPT_HOST },                                           \
		{ CLI_EXCLUDES, CLI_OPT_GATEWAY, CLI_OPT_CGROUP },                                 \
		{ CLI_NEEDS, CLI_OPT_GATEWAY, CLI_OPT_IFACE }

/* What a command's arguments said; read it with the accessors below. */
struct cli_args {
	const struct cli_command *cmd;
	bool given[CLI_N_OPTIONS];
	const char *text[CLI_N_OPTIONS]; /* the last argument given */
	unsigned long num[CLI_N_OPTIONS]; /* CLI_UINT */
	char **list[CLI_N_OPTIONS]; /* CLI_LIST, CLI_RESOLVE: every argument, in order */
	size_t n_list[CLI_N_OPTIONS];
	struct name_table pinned; /* CLI_RESOLVE's names and addresses */
	char **operands; /* what followed the options, when the command takes operands */
	int n_operands;
};

/*
 * The option list a command takes: its own, plus --help always and
 * --pin-dir when it opens an instance. Fills at most max uses; returns how
 * many.
 */
size_t cli_command_options(const struct cli_command *cmd, struct cli_use *out, size_t max);

/*
 * Reads argv (argv[0] is the command's name) against the options of cmd.
 * Returns 0; 1 after printing the help (--help); or -CLI_EUSAGE after
 * printing why on stderr. cli_args_free() afterwards in every case.
 */
int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *a);

void cli_args_free(struct cli_args *a);

/* The argument of a CLI_TEXT or CLI_CHOICE option, or its default (may be NULL). */
const char *cli_text(const struct cli_args *a, enum cli_opt o);

/* True when a CLI_FLAG option was given. */
bool cli_flag(const struct cli_args *a, enum cli_opt o);

/* The value of a CLI_UINT option, or its default (0 without one). */
unsigned long cli_uint(const struct cli_args *a, enum cli_opt o);

/* The arguments of a CLI_LIST option, in order. */
char *const *cli_list(const struct cli_args *a, enum cli_opt o, size_t *n);

/* "usage: speebpf NAME ..." for cmd, wrapped; then, with full, its description and options. */
void cli_usage(FILE *out, const struct cli_command *cmd, bool full);

/* Parses a decimal number in [min, max]. Returns false when s is not one. */
bool cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

#endif
