// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf explain: the verdict the kernel would give one new connection on a
 * host, and the rule or the reason, computed by the reference model.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "explain.h"
#include "host.h"
#include "labels.h"
#include "names.h"
#include "policy.h"
#include "resolve.h"

struct explain_opts {
	const char *config;
	const char *host;
	const char *from;
	const char *to;
	unsigned long port;
	int proto;
	bool json;
	bool no_resolve;
	bool mapped; /* --to was an IPv4-mapped IPv6 address, judged as its IPv4 one */
	bool itself; /* --to is the host itself to connect() (0.0.0.0, ::, loopback) */
	struct name_table pinned; /* --resolve NAME=ADDR */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: speebpf explain -c FILE [--host NAME] --from ADDR --to ADDR --port N\n"
		"                       [--proto tcp|udp] [--resolve NAME=ADDR[,ADDR]]...\n"
		"                       [--no-resolve] [--json]\n"
		"  The direction follows from the addresses: --to one of the host's addresses\n"
		"  is ingress, --from one of them is egress. DNS names the decision depends on\n"
		"  are resolved (c-ares: hosts file, then DNS) unless pinned with --resolve.\n");
}

static int parse_opts(int argc, char **argv, struct explain_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "host", required_argument, NULL, 'H' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "port", required_argument, NULL, 'p' },
		{ "proto", required_argument, NULL, 'P' },
		{ "resolve", required_argument, NULL, 'r' },
		{ "no-resolve", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	o->proto = IPPROTO_TCP;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'H':
			o->host = optarg;
			break;
		case 'f':
			o->from = optarg;
			break;
		case 't':
			o->to = optarg;
			break;
		case 'p':
			if (!cli_parse_uint(optarg, 1, 65535, &o->port)) {
				fprintf(stderr, "speebpf explain: --port %s: not a port (1-65535)\n",
					optarg);
				return -CLI_EUSAGE;
			}
			break;
		case 'P':
			o->proto = proto_from_label(optarg);
			if (o->proto < 0) {
				fprintf(stderr, "speebpf explain: --proto %s: tcp or udp\n", optarg);
				return -CLI_EUSAGE;
			}
			break;
		case 'r':
			if (names_set_from_arg(&o->pinned, optarg)) {
				fprintf(stderr, "speebpf explain: --resolve %s: expected NAME=ADDR[,ADDR]\n",
					optarg);
				return -CLI_EUSAGE;
			}
			break;
		case 'n':
			o->no_resolve = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -CLI_EUSAGE;
		}
	}
	if (!o->config || !o->from || !o->to || !o->port || optind != argc) {
		usage(stderr);
		return -CLI_EUSAGE;
	}
	return 0;
}

static bool host_has(const struct cfg_host *h, const struct prefix *a)
{
	for (size_t i = 0; i < h->n_addrs; i++)
		if (!prefix_cmp(&h->addrs[i], a))
			return true;
	return false;
}

/* Resolves the names of the entries that could decide this query, unless pinned. */
static void resolve_relevant(const struct policy *p, const struct explain_query *q,
			     struct name_table *t, bool no_resolve)
{
	struct resolver *r;
	char *names[64];
	size_t n = 0;

	if (no_resolve)
		return;
	for (size_t i = 0; i < p->n_entries && n < 64; i++) {
		const struct policy_entry *e = &p->entries[i];
		bool dup = false;

		if (e->peer_kind != ENTRY_PEER_NAME || e->dir != q->dir || e->proto != q->proto ||
		    q->port < e->port_lo || q->port > e->port_hi || names_find(t, e->name))
			continue;
		for (size_t k = 0; k < n && !dup; k++)
			dup = !strcmp(names[k], e->name);
		if (!dup)
			names[n++] = (char *)e->name;
	}
	if (!n || resolver_open(&r, 2000))
		return;
	resolver_resolve_all(r, t, names, n);
	resolver_close(r);
}

static const char *peer_text(const struct prefix *a, char *buf)
{
	struct prefix host = *a;

	host.len = (uint8_t)prefix_max_len(host.family);
	prefix_format(&host, buf, ADDR_TEXT_LEN);
	return buf;
}

static void print_result(const struct policy *p, const struct explain_opts *o,
			 const struct explain_query *q, const struct explain_result *res,
			 const struct name_table *t)
{
	const char *verdict = res->pass ? "pass" : "drop";
	char matched[ADDR_TEXT_LEN + 256] = "", judged[ADDR_TEXT_LEN];

	if (res->entry && res->entry->peer_kind == ENTRY_PEER_NAME)
		snprintf(matched, sizeof(matched), "%s (DNS)", res->entry->name);
	else if (res->entry)
		prefix_format(&res->entry->prefix, matched, sizeof(matched));

	if (o->json) {
		struct json_object *j = json_object_new_object(), *names = json_object_new_array();

		json_object_object_add(j, "host", json_object_new_string(p->host->name));
		json_object_object_add(j, "direction", json_object_new_string(dir_label(q->dir)));
		json_object_object_add(j, "proto", json_object_new_string(proto_label(q->proto)));
		json_object_object_add(j, "from", json_object_new_string(o->from));
		json_object_object_add(j, "to", json_object_new_string(o->to));
		json_object_object_add(j, "port", json_object_new_int(q->port));
		/* the remote address as the kernel judges it (an IPv4-mapped one as IPv4) */
		json_object_object_add(j, "peer",
				       json_object_new_string(peer_text(&q->peer, judged)));
		json_object_object_add(j, "verdict", json_object_new_string(verdict));
		json_object_object_add(j, "reason",
				       json_object_new_string(reason_label(res->reason)));
		json_object_object_add(j, "rule", res->rule >= 0 ?
				       json_object_new_string(p->rules[res->rule].id) : NULL);
		json_object_object_add(j, "matched", res->entry ?
				       json_object_new_string(matched) : NULL);
		json_object_object_add(j, "mode", json_object_new_string(mode_label(p->mode)));
		for (size_t i = 0; t && i < t->n; i++) {
			struct json_object *n = json_object_new_object();

			json_object_object_add(n, "name", json_object_new_string(t->v[i].name));
			json_object_object_add(n, "resolved",
					       json_object_new_boolean(t->v[i].n_addrs > 0));
			if (t->v[i].last_error)
				json_object_object_add(n, "error",
						       json_object_new_string(t->v[i].last_error));
			json_object_array_add(names, n);
		}
		json_object_object_add(j, "names", names);
		cli_json_print(j);
		return;
	}
	printf("%s %s %s -> %s port %u on %s: %s", dir_label(q->dir), proto_label(q->proto),
	       o->from, o->to, q->port, p->host->name, verdict);
	if (res->rule >= 0)
		printf(", rule %s (matched %s)\n", p->rules[res->rule].id, matched);
	else if (res->reason == SPEE_REASON_NO_RULE)
		printf(", %s: no rule allows it (what no rule allows is %s on %s)\n",
		       reason_label(res->reason), action_label(p->default_action[q->dir]),
		       dir_label(q->dir));
	else
		printf(", %s\n", reason_label(res->reason));
	if (o->itself)
		printf("note: to connect() and send(), %s is this host itself\n", o->to);
	else if (o->mapped)
		printf("note: %s is judged as %s, the IPv4 address it maps\n", o->to,
		       peer_text(&q->peer, judged));
	if (p->mode == SPEE_MODE_AUDIT && spee_reason_is_drop(res->reason))
		printf("audit mode: passed, and counted as a would-drop\n");
	for (size_t i = 0; t && i < t->n; i++)
		if (!t->v[i].n_addrs)
			printf("note: %s has no addresses (%s): its rules allow nothing\n",
			       t->v[i].name, t->v[i].last_error ? t->v[i].last_error : "unresolved");
}

int do_explain(int argc, char **argv)
{
	struct explain_opts o = { 0 };
	struct config *cfg = NULL;
	struct policy *p = NULL;
	struct prefix *resolvers = NULL, *local = NULL, from, to;
	struct policy_env env;
	const struct cfg_host *host;
	struct explain_query q = { 0 };
	struct explain_result res;
	struct diags d = { 0 };
	int err;

	err = parse_opts(argc, argv, &o);
	if (err)
		goto out;
	if (!addr_parse(o.from, &from) || !addr_parse(o.to, &to)) {
		fprintf(stderr, "speebpf explain: --from and --to must be IP addresses\n");
		err = -CLI_EUSAGE;
		goto out;
	}
	err = cli_load_config(o.config, o.json, &cfg);
	if (err)
		goto out;
	err = host_select(cfg, o.host, &host, &d);
	if (err) {
		cli_print_diags(&d, o.json, NULL);
		err = -CLI_EUSAGE;
		goto out;
	}
	if (host_has(host, &to)) {
		q.dir = SPEE_DIR_INGRESS;
		q.peer = from;
	} else if (host_has(host, &from)) {
		q.dir = SPEE_DIR_EGRESS;
		q.peer = to;
	} else {
		fprintf(stderr, "speebpf explain: neither %s nor %s is an address of host %s\n",
			o.from, o.to, host->name);
		err = -CLI_EUSAGE;
		goto out;
	}
	q.proto = (uint8_t)o.proto;
	q.port = (uint16_t)o.port;
	/* A new connection's destination as the connect and sendmsg hooks see it. */
	if (q.dir == SPEE_DIR_EGRESS) {
		o.itself = explain_socket_peer(&q.peer);
		o.mapped = q.peer.family != to.family;
	}
	err = cli_policy_env(&env, &resolvers);
	if (err) {
		fprintf(stderr, "speebpf: cannot read the system's resolvers: %s\n", strerror(-err));
		goto out;
	}
	/* as apply compiles it: for this machine's host, only its addresses configured here */
	if (cli_is_this_machine(cfg, host))
		cli_machine_addrs(&env, &local);
	err = policy_compile(cfg, host->name, &env, &p, &d);
	if (err) {
		cli_print_diags(&d, o.json, NULL);
		goto out;
	}
	resolve_relevant(p, &q, &o.pinned, o.no_resolve);
	if (o.itself) {
		memset(&res, 0, sizeof(res));
		res.reason = SPEE_REASON_LOOPBACK;
		res.rule = -1;
		res.pass = explain_reason_passes(p, q.dir, res.reason);
	} else {
		explain_decide(p, &o.pinned, &q, &res);
	}
	print_result(p, &o, &q, &res, &o.pinned);
out:
	if (err == 1)
		err = 0;
	diags_free(&d);
	policy_free(p);
	free(resolvers);
	free(local);
	names_free(&o.pinned);
	config_free(cfg);
	return err;
}
