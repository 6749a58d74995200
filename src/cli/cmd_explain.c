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
#include "explain_gw.h"
#include "host.h"
#include "labels.h"
#include "names.h"
#include "policy.h"
#include "protocols.h"
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

/* Broadcast and multicast are addressed to every host of the link, this one too. */
static bool is_group_addr(const struct prefix *a)
{
	static const uint8_t bcast[4] = { 255, 255, 255, 255 };

	if (a->family == AF_INET)
		return (a->addr[0] & 0xf0) == 224 || !memcmp(a->addr, bcast, 4);
	return a->addr[0] == 0xff;
}

/* A name or a number 0-255 of --icmp-type or --ip-proto: the number, or -1. */
static int number_or_name(const char *s, int (*by_name)(uint8_t proto, const char *name),
			  uint8_t proto)
{
	char *end;
	unsigned long v;

	if (*s >= '0' && *s <= '9') {
		v = strtoul(s, &end, 10);
		return *end || v > 255 ? -1 : (int)v;
	}
	return by_name(proto, s);
}

static int ip_proto_by_name(uint8_t unused, const char *name)
{
	(void)unused;
	return ip_proto_from_name(name);
}

/*
 * --proto and what goes with it: --port for tcp and udp, --icmp-type for
 * icmp and icmpv6, --ip-proto for ip. Sets q->proto and q->port.
 */
static int parse_match(const struct cli_args *a, struct explain_query *q)
{
	const char *proto = cli_text(a, CLI_OPT_PROTO), *icmp = cli_text(a, CLI_OPT_ICMP_TYPE);
	const char *ip = cli_text(a, CLI_OPT_IP_PROTO);
	bool has_port = a->given[CLI_OPT_PORT];
	int v;

	if (!strcmp(proto, "tcp") || !strcmp(proto, "udp")) {
		q->proto = (uint8_t)proto_from_label(proto);
		if (!has_port || icmp || ip) {
			fprintf(stderr, "speebpf explain: --proto %s takes --port (and no --icmp-type "
					"or --ip-proto)\n", proto);
			return -CLI_EUSAGE;
		}
		q->port = (uint16_t)cli_uint(a, CLI_OPT_PORT);
		return 0;
	}
	if (!strcmp(proto, "icmp") || !strcmp(proto, "icmpv6")) {
		q->proto = !strcmp(proto, "icmp") ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		if (!icmp || has_port || ip) {
			fprintf(stderr, "speebpf explain: --proto %s takes --icmp-type (and no --port "
					"or --ip-proto)\n", proto);
			return -CLI_EUSAGE;
		}
		v = number_or_name(icmp, icmp_type_from_name, q->proto);
		if (v < 0) {
			char names[512];

			icmp_type_names(q->proto, names, sizeof(names));
			fprintf(stderr, "speebpf explain: --icmp-type %s: expected a number 0-255 or "
					"one of: %s\n", icmp, names);
			return -CLI_EUSAGE;
		}
		q->port = (uint16_t)v;
		return 0;
	}
	if (!ip || has_port || icmp) {
		fprintf(stderr, "speebpf explain: --proto ip takes --ip-proto (and no --port or "
				"--icmp-type)\n");
		return -CLI_EUSAGE;
	}
	v = number_or_name(ip, ip_proto_by_name, 0);
	if (v < 0 || ip_proto_refusal((unsigned)v)) {
		char names[256];

		ip_proto_names(names, sizeof(names));
		fprintf(stderr, "speebpf explain: --ip-proto %s: expected a number or one of: %s "
				"(tcp, udp, icmp and icmpv6 have --proto of their own)\n", ip, names);
		return -CLI_EUSAGE;
	}
	q->proto = (uint8_t)v;
	q->port = 0;
	return 0;
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

#define MATCHED_LEN (ADDR_TEXT_LEN + 256)

/* What the deciding entry matched: a prefix, or a DNS name; "" when none did. */
static void matched_text(const struct explain_result *res, char *buf, size_t len)
{
	buf[0] = '\0';
	if (res->entry && res->entry->peer_kind == ENTRY_PEER_NAME)
		snprintf(buf, len, "%s (DNS)", res->entry->name);
	else if (res->entry)
		prefix_format(&res->entry->prefix, buf, len);
}

/* "names": each DNS name the decision looked at, resolved or not. */
static struct json_object *names_json(const struct name_table *t)
{
	struct json_object *names = json_object_new_array();

	for (size_t i = 0; t && i < t->n; i++) {
		struct json_object *n = json_object_new_object();

		json_object_object_add(n, "name", json_object_new_string(t->v[i].name));
		json_object_object_add(n, "resolved", json_object_new_boolean(t->v[i].n_addrs > 0));
		if (t->v[i].last_error)
			json_object_object_add(n, "error", json_object_new_string(t->v[i].last_error));
		json_object_array_add(names, n);
	}
	return names;
}

/* The query's match in JSON: port, icmp_type or ip_proto. */
static void match_json(struct json_object *j, const struct explain_query *q)
{
	if (proto_has_ports(q->proto))
		json_object_object_add(j, "port", json_object_new_int(q->port));
	else if (proto_is_icmp(q->proto))
		json_object_object_add(j, "icmp_type", json_object_new_int(q->port));
	else
		json_object_object_add(j, "ip_proto", json_object_new_int(q->proto));
}

static void print_result(const struct policy *p, const struct cli_args *a,
			 const struct socket_peer *sp,
			 const struct explain_query *q, const struct explain_result *res,
			 const struct name_table *t)
{
	const char *verdict = res->pass ? "pass" : "drop";
	const char *reason = res->transit ? "transit" : reason_label(res->reason);
	char matched[MATCHED_LEN], match[48], judged[ADDR_TEXT_LEN];
	bool echo_reply = (q->proto == IPPROTO_ICMP && q->port == 0) ||
			  (q->proto == IPPROTO_ICMPV6 && q->port == 129);

	matched_text(res, matched, sizeof(matched));
	if (cli_flag(a, CLI_OPT_JSON)) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "host", json_object_new_string(p->host->name));
		json_object_object_add(j, "direction", json_object_new_string(dir_label(q->dir)));
		json_object_object_add(j, "proto",
				       json_object_new_string(proto_kind_label(q->proto)));
		json_object_object_add(j, "from", json_object_new_string(cli_text(a, CLI_OPT_FROM)));
		json_object_object_add(j, "to", json_object_new_string(cli_text(a, CLI_OPT_TO)));
		match_json(j, q);
		/* the remote address as the kernel judges it (an IPv4-mapped one as IPv4) */
		json_object_object_add(j, "peer",
				       json_object_new_string(peer_text(&q->peer, judged)));
		json_object_object_add(j, "verdict", json_object_new_string(verdict));
		json_object_object_add(j, "reason", json_object_new_string(reason));
		json_object_object_add(j, "rule", res->rule >= 0 ?
				       json_object_new_string(p->rules[res->rule].id) : NULL);
		json_object_object_add(j, "matched", res->entry ?
				       json_object_new_string(matched) : NULL);
		json_object_object_add(j, "mode", json_object_new_string(mode_label(p->mode)));
		json_object_object_add(j, "names", names_json(t));
		cli_json_print(j);
		return;
	}
	proto_match_text(q->proto, q->port, q->port, match, sizeof(match));
	if (res->transit) {
		printf("%s %s -> %s on %s: pass, transit: %s is not an address of %s (a forwarded "
		       "packet, or one for a container or VM behind it): ingress does not judge it\n",
		       match, cli_text(a, CLI_OPT_FROM), cli_text(a, CLI_OPT_TO), p->host->name,
		       cli_text(a, CLI_OPT_TO), p->host->name);
		return;
	}
	printf("%s %s %s -> %s on %s: %s", dir_label(q->dir), match, cli_text(a, CLI_OPT_FROM),
	       cli_text(a, CLI_OPT_TO), p->host->name, verdict);
	if (res->rule >= 0)
		printf(", rule %s (matched %s)\n", p->rules[res->rule].id, matched);
	else if (res->reason == SPEE_REASON_NO_RULE)
		printf(", %s: no rule allows it (what no rule allows is %s on %s)\n",
		       reason_label(res->reason), action_label(p->default_action[q->dir]),
		       dir_label(q->dir));
	else if (res->reason == SPEE_REASON_ICMP)
		printf(", icmp: an error message, which passes when it concerns a connection of "
		       "the host\n");
	else if (res->reason == SPEE_REASON_ND)
		printf(", nd: neighbour discovery and MLD pass on the link\n");
	else
		printf(", %s\n", reason_label(res->reason));
	if (echo_reply)
		printf("note: an echo reply is never a new connection: it passes as the reply of an "
		       "echo request the policy allowed the other way\n");
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

/* Why one side of a gateway let a connection through or not, after "HOST DIR: VERDICT". */
static void gw_side_text(const struct explain_gw_side *s)
{
	char matched[MATCHED_LEN];

	matched_text(&s->res, matched, sizeof(matched));
	printf("  %s %s: %s", s->p->host->name, dir_label(s->dir), s->res.pass ? "pass" : "drop");
	if (s->res.rule >= 0)
		printf(", rule %s (matched %s)\n", s->p->rules[s->res.rule].id, matched);
	else if (s->res.reason == SPEE_REASON_NO_RULE)
		printf(", no-rule: none of %s's %s rules allows it (what no rule allows is %s)\n",
		       s->p->host->name, dir_label(s->dir),
		       action_label(s->p->default_action[s->dir]));
	else if (s->res.reason == SPEE_REASON_ICMP)
		printf(", icmp: an error message, which passes when it concerns a connection the "
		       "gateway let through\n");
	else if (s->res.reason == SPEE_REASON_ND)
		printf(", nd: neighbour discovery and MLD pass\n");
	else
		printf(", %s%s%s\n", reason_label(s->res.reason), matched[0] ? " (matched " : "",
		       matched[0] ? matched : "");
	if (s->refused && s->res.pass)
		printf("    audit mode: passed, and counted as a would-drop\n");
}

static struct json_object *gw_side_json(const struct explain_gw_side *s)
{
	struct json_object *o = json_object_new_object();
	char matched[MATCHED_LEN];

	matched_text(&s->res, matched, sizeof(matched));
	json_object_object_add(o, "host", json_object_new_string(s->p->host->name));
	json_object_object_add(o, "direction", json_object_new_string(dir_label(s->dir)));
	json_object_object_add(o, "verdict", json_object_new_string(s->res.pass ? "pass" : "drop"));
	json_object_object_add(o, "reason", json_object_new_string(reason_label(s->res.reason)));
	json_object_object_add(o, "rule", s->res.rule >= 0 ?
				  json_object_new_string(s->p->rules[s->res.rule].id) : NULL);
	json_object_object_add(o, "matched", s->res.entry ? json_object_new_string(matched) : NULL);
	json_object_object_add(o, "refused", json_object_new_boolean(s->refused));
	return o;
}

static struct json_object *host_dir_json(const char *host, uint8_t dir)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "host", json_object_new_string(host));
	json_object_object_add(o, "direction", json_object_new_string(dir_label(dir)));
	return o;
}

static void print_gateway(const struct cli_args *a, const struct config *cfg,
			  const struct explain_query *q, const struct explain_gw_result *r,
			  const struct policy *dst, const struct name_table *t)
{
	const char *from = cli_text(a, CLI_OPT_FROM), *to = cli_text(a, CLI_OPT_TO);
	const struct explain_gw_side *by = r->refused_by >= 0 ? &r->side[r->refused_by] : NULL;
	/* the side that decided: the refusing one, else the last asked (none: transit) */
	const struct explain_gw_side *decided = by ? by : r->n_sides ? &r->side[r->n_sides - 1] : NULL;
	char match[48];

	if (cli_flag(a, CLI_OPT_JSON)) {
		struct json_object *j = json_object_new_object(), *sides = json_object_new_array();

		json_object_object_add(j, "gateway", json_object_new_boolean(true));
		json_object_object_add(j, "proto", json_object_new_string(proto_kind_label(q->proto)));
		json_object_object_add(j, "from", json_object_new_string(from));
		json_object_object_add(j, "to", json_object_new_string(to));
		match_json(j, q);
		json_object_object_add(j, "verdict", json_object_new_string(r->pass ? "pass" : "drop"));
		json_object_object_add(j, "reason", json_object_new_string(reason_label(r->reason)));
		json_object_object_add(j, "rule", decided && decided->res.rule >= 0 ?
				       json_object_new_string(decided->p->rules[decided->res.rule].id) :
				       NULL);
		for (size_t i = 0; i < r->n_sides; i++)
			json_object_array_add(sides, gw_side_json(&r->side[i]));
		json_object_object_add(j, "sides", sides);
		json_object_object_add(j, "refused_by",
				       by ? host_dir_json(by->p->host->name, by->dir) : NULL);
		/* the destination's side, when the source's refusal left it unasked */
		json_object_object_add(j, "not_asked", r->skipped ?
				       host_dir_json(dst->host->name, SPEE_DIR_INGRESS) : NULL);
		json_object_object_add(j, "mode", json_object_new_string(mode_label(cfg->mode)));
		json_object_object_add(j, "names", names_json(t));
		cli_json_print(j);
		return;
	}
	proto_match_text(q->proto, q->port, q->port, match, sizeof(match));
	printf("gateway: %s %s -> %s: %s", match, from, to, r->pass ? "pass" : "drop");
	if (r->transit) {
		printf(", transit: neither %s nor %s is an inventory host's address\n", from, to);
		return;
	}
	if (by)
		printf(", refused by %s's %s rules%s\n", by->p->host->name, dir_label(by->dir),
		       r->pass ? " (audit mode: counted as a would-drop)" : "");
	else
		printf(", allowed by %s\n", r->n_sides == 2 ? "both ends' rules" :
		       r->side[0].dir == SPEE_DIR_EGRESS ? "the source's egress rules (the "
		       "destination is no inventory host)" : "the destination's ingress rules "
		       "(the source is no inventory host)");
	for (size_t i = 0; i < r->n_sides; i++)
		gw_side_text(&r->side[i]);
	if (r->skipped)
		printf("  %s ingress: not asked (the source's egress rules refused it first)\n",
		       dst->host->name);
	for (size_t i = 0; t && i < t->n; i++)
		if (!t->v[i].n_addrs)
			printf("note: %s has no addresses (%s): its rules allow nothing\n",
			       t->v[i].name, t->v[i].last_error ? t->v[i].last_error : "unresolved");
}

/*
 * explain --gateway: the verdict a gateway gives a connection crossing it
 * (explain_gw.h), each inventory host at its ends asked with its own
 * policy.
 */
static int explain_gateway(const struct cli_args *a, struct name_table *names,
			   const struct prefix *from, const struct prefix *to)
{
	bool json = cli_flag(a, CLI_OPT_JSON);
	struct policy *pol[2] = { NULL, NULL };
	const struct cfg_host *host[2];
	struct explain_query q = { 0 };
	struct explain_gw_result res;
	struct prefix *resolvers = NULL;
	struct policy_env env;
	struct config *cfg = NULL;
	struct diags d = { 0 };
	int err;

	err = parse_match(a, &q);
	if (err)
		return err;
	if (from->family != to->family) {
		fprintf(stderr, "speebpf explain: --from and --to are of different families\n");
		return -CLI_EUSAGE;
	}
	if (proto_family(q.proto) && proto_family(q.proto) != from->family) {
		fprintf(stderr, "speebpf explain: --proto %s is for IPv%s addresses\n",
			proto_kind_label(q.proto), q.proto == IPPROTO_ICMP ? "4" : "6");
		return -CLI_EUSAGE;
	}
	err = cli_load_config(cli_text(a, CLI_OPT_CONFIG), json, &cfg);
	if (err)
		return err;
	host[0] = explain_gw_host_of(cfg, from);
	host[1] = explain_gw_host_of(cfg, to);
	/* as apply --gateway compiles the hosts: with this machine's resolvers */
	if (host[0] || host[1])
		err = cli_policy_env(&env, &resolvers);
	if (err) {
		fprintf(stderr, "speebpf: cannot read the system's resolvers: %s\n", strerror(-err));
		goto out;
	}
	for (int i = 0; i < 2 && !err; i++) {
		if (!host[i])
			continue;
		err = explain_gw_compile(cfg, host[i], &env, &pol[i], &d);
		if (err) {
			cli_print_diags(&d, json, NULL);
			break;
		}
		q.dir = i ? SPEE_DIR_INGRESS : SPEE_DIR_EGRESS;
		q.peer = i ? *from : *to;
		resolve_relevant(pol[i], &q, names, cli_flag(a, CLI_OPT_NO_RESOLVE));
	}
	if (!err) {
		explain_gw_decide(pol[0], pol[1], names, q.proto, q.port, from, to, &res);
		print_gateway(a, cfg, &q, &res, pol[1], names);
		if (cli_flag(a, CLI_OPT_EXIT_CODE) && !res.pass)
			err = -CLI_EFLAGGED;
	}
out:
	free(resolvers);
	diags_free(&d);
	policy_free(pol[0]);
	policy_free(pol[1]);
	config_free(cfg);
	return err;
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
	if (cli_flag(a, CLI_OPT_GATEWAY)) {
		err = explain_gateway(a, &names, &from, &to);
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
	err = parse_match(a, &q);
	if (err)
		goto out;
	if (host_has(host, &to) || (is_group_addr(&to) && !host_has(host, &from))) {
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
	/* A new connection's destination as the connect and sendmsg hooks see it. */
	if (q.dir == SPEE_DIR_EGRESS) {
		sp.itself = explain_socket_peer(&q.peer);
		sp.mapped = q.peer.family != to.family;
	}
	if (proto_family(q.proto) && proto_family(q.proto) != q.peer.family) {
		fprintf(stderr, "speebpf explain: --proto %s is for IPv%s addresses\n",
			proto_kind_label(q.proto), q.proto == IPPROTO_ICMP ? "4" : "6");
		err = -CLI_EUSAGE;
		goto out;
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
		res.transit = true;
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
		    "  (or a broadcast or multicast address) is ingress, --from one of them is\n"
		    "  egress, and a packet between two other addresses is transit: not the\n"
		    "  host's to judge, it passes. DNS names the decision depends on\n"
		    "  are resolved (c-ares: hosts file, then DNS) unless pinned with --resolve.\n"
		    "  --gateway (no --host): the verdict of a gateway in front of the inventory\n"
		    "  hosts (apply --gateway): the source's egress rules when it is an inventory\n"
		    "  host, then the destination's ingress rules when it is one, the first\n"
		    "  refusal deciding; between two other addresses, transit: it passes.\n"
		    "  --exit-code: exit 0 when the verdict is pass, 3 when it is drop (in audit\n"
		    "  mode a would-drop passes).",
	    .options = CLI_TAKES(CLI_REQUIRE(CONFIG), CLI_USE(HOST), CLI_REQUIRE(FROM), CLI_REQUIRE(TO),
				 CLI_USE(PORT), CLI_USE(PROTO), CLI_USE(ICMP_TYPE), CLI_USE(IP_PROTO),
				 CLI_USE(RESOLVE),
				 CLI_USE(NO_RESOLVE), CLI_USE(JSON), CLI_USE(EXIT_CODE),
				 { .id = CLI_OPT_GATEWAY,
				   .help = "judge it as a gateway in front of the inventory hosts does" }),
	    .rules = CLI_RULES({ CLI_EXCLUDES, CLI_OPT_GATEWAY, CLI_OPT_HOST }),
	    .run = do_explain);
