// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf explain: the verdict the kernel would give one new connection on a
 * host, and the rule or the reason, computed by the reference model.
 */
#include <errno.h>
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

/* What the connect and sendmsg hooks make of an egress --to. */
struct socket_peer {
	bool mapped; /* an IPv4-mapped IPv6 address, judged as the IPv4 one */
	bool itself; /* the host itself to connect() and send() (0.0.0.0, ::, loopback) */
};

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

static void print_result(const struct policy *p, const struct cli_args *a,
			 const struct socket_peer *sp,
			 const struct explain_query *q, const struct explain_result *res,
			 const struct name_table *t)
{
	const char *verdict = res->pass ? "pass" : "drop";
	char matched[ADDR_TEXT_LEN + 256] = "", judged[ADDR_TEXT_LEN];

	if (res->entry && res->entry->peer_kind == ENTRY_PEER_NAME)
		snprintf(matched, sizeof(matched), "%s (DNS)", res->entry->name);
	else if (res->entry)
		prefix_format(&res->entry->prefix, matched, sizeof(matched));

	if (cli_flag(a, CLI_OPT_JSON)) {
		struct json_object *j = json_object_new_object(), *names = json_object_new_array();

		json_object_object_add(j, "host", json_object_new_string(p->host->name));
		json_object_object_add(j, "direction", json_object_new_string(dir_label(q->dir)));
		json_object_object_add(j, "proto", json_object_new_string(proto_label(q->proto)));
		json_object_object_add(j, "from", json_object_new_string(cli_text(a, CLI_OPT_FROM)));
		json_object_object_add(j, "to", json_object_new_string(cli_text(a, CLI_OPT_TO)));
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
	       cli_text(a, CLI_OPT_FROM), cli_text(a, CLI_OPT_TO), q->port, p->host->name, verdict);
	if (res->rule >= 0)
		printf(", rule %s (matched %s)\n", p->rules[res->rule].id, matched);
	else if (res->reason == SPEE_REASON_NO_RULE)
		printf(", %s: no rule allows it (what no rule allows is %s on %s)\n",
		       reason_label(res->reason), action_label(p->default_action[q->dir]),
		       dir_label(q->dir));
	else
		printf(", %s\n", reason_label(res->reason));
	if (sp->itself)
		printf("note: to connect() and send(), %s is this host itself\n",
		       cli_text(a, CLI_OPT_TO));
	else if (sp->mapped)
		printf("note: %s is judged as %s, the IPv4 address it maps\n",
		       cli_text(a, CLI_OPT_TO), peer_text(&q->peer, judged));
	if (p->mode == SPEE_MODE_AUDIT && spee_reason_is_drop(res->reason))
		printf("audit mode: passed, and counted as a would-drop\n");
	for (size_t i = 0; t && i < t->n; i++)
		if (!t->v[i].n_addrs)
			printf("note: %s has no addresses (%s): its rules allow nothing\n",
			       t->v[i].name, t->v[i].last_error ? t->v[i].last_error : "unresolved");
}

static int do_explain(const struct cli_args *a, struct instance *inst)
{
	const char *from_text = cli_text(a, CLI_OPT_FROM), *to_text = cli_text(a, CLI_OPT_TO);
	bool json = cli_flag(a, CLI_OPT_JSON);
	struct name_table names = { 0 };
	struct config *cfg = NULL;
	struct policy *p = NULL;
	struct prefix *resolvers = NULL, *local = NULL, from, to;
	struct policy_env env;
	const struct cfg_host *host;
	struct socket_peer sp = { false, false };
	bool elsewhere = false;
	struct explain_query q = { 0 };
	struct explain_result res;
	struct diags d = { 0 };
	int err;

	(void)inst; /* it opens no instance */

	err = names_copy(&names, &a->pinned); /* --resolve, then what is resolved */
	if (err)
		goto out;
	if (!addr_parse(from_text, &from) || !addr_parse(to_text, &to)) {
		fprintf(stderr, "speebpf explain: --from and --to must be IP addresses\n");
		err = -CLI_EUSAGE;
		goto out;
	}
	err = cli_load_config(cli_text(a, CLI_OPT_CONFIG), json, &cfg);
	if (err)
		goto out;
	err = host_select(cfg, cli_text(a, CLI_OPT_HOST), &host, &d);
	if (err) {
		cli_print_diags(&d, json, NULL);
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
		/* Arriving for another address: transit, unless the machine takes it as its own. */
		q.dir = SPEE_DIR_INGRESS;
		q.peer = from;
		elsewhere = true;
	}
	q.proto = (uint8_t)proto_from_label(cli_text(a, CLI_OPT_PROTO));
	q.port = (uint16_t)cli_uint(a, CLI_OPT_PORT);
	/* A new connection's destination as the connect and sendmsg hooks see it. */
	if (q.dir == SPEE_DIR_EGRESS) {
		sp.itself = explain_socket_peer(&q.peer);
		sp.mapped = q.peer.family != to.family;
	}
	err = cli_policy_env(&env, &resolvers);
	if (err) {
		fprintf(stderr, "speebpf: cannot read the system's resolvers: %s\n", strerror(-err));
		goto out;
	}
	/* as apply compiles it: for this machine's host, only its addresses configured here */
	if (cli_is_this_machine(cfg, host) && !cli_machine_addrs(&env, &local))
		cli_warn_missing_addrs(host, &env);
	err = policy_compile(cfg, host->name, &env, &p, &d);
	if (err) {
		cli_print_diags(&d, json, NULL);
		goto out;
	}
	resolve_relevant(p, &q, &names, cli_flag(a, CLI_OPT_NO_RESOLVE));
	if (elsewhere && !explain_for_host(p, &to)) {
		memset(&res, 0, sizeof(res));
		res.reason = SPEE_REASON_TRANSIT;
		res.rule = -1;
		res.pass = explain_reason_passes(p, q.dir, res.reason);
	} else if (sp.itself) {
		memset(&res, 0, sizeof(res));
		res.reason = SPEE_REASON_LOOPBACK;
		res.rule = -1;
		res.pass = explain_reason_passes(p, q.dir, res.reason);
	} else {
		explain_decide(p, &names, &q, &res);
	}
	print_result(p, a, &sp, &q, &res, &names);
	if (cli_flag(a, CLI_OPT_EXIT_CODE) && !res.pass)
		err = -CLI_EFLAGGED;
out:
	diags_free(&d);
	policy_free(p);
	free(resolvers);
	free(local);
	names_free(&names);
	config_free(cfg);
	return err;
}

CLI_COMMAND(explain, .summary = "the verdict the kernel would give one new connection",
	    .description =
		    "  The direction follows from the addresses: --to one of the host's addresses\n"
		    "  is ingress, --from one of them is egress. DNS names the decision depends on\n"
		    "  are resolved (c-ares: hosts file, then DNS) unless pinned with --resolve.\n"
		    "  --exit-code: exit 0 when the verdict is pass, 3 when it is drop (in audit\n"
		    "  mode a would-drop passes).",
	    .options = CLI_TAKES(CLI_REQUIRE(CONFIG), CLI_USE(HOST), CLI_REQUIRE(FROM), CLI_REQUIRE(TO),
				 CLI_REQUIRE(PORT), CLI_USE(PROTO), CLI_USE(RESOLVE),
				 CLI_USE(NO_RESOLVE), CLI_USE(JSON), CLI_USE(EXIT_CODE)),
	    .run = do_explain);
