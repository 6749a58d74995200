// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf plan: what applying a config would change on this host: the rules
 * and peers added and removed per direction, the ports moved, the DNS names,
 * and the live connections the new policy would no longer allow (plan.h).
 * The enforced side is read from the instance's active policy slot, the new
 * one built as apply would write it (plan_sides.h); without an instance the
 * enforced side is empty.
 */
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "conns.h"
#include "host.h"
#include "labels.h"
#include "names.h"
#include "plan.h"
#include "plan_sides.h"
#include "policy.h"
#include "resolve.h"

#define TEXT_PEERS 6 /* peers a line of the text lists before "and N more" */

/* What the plan compares, and what it found. */
struct plan_run {
	const char *config;
	const char *pin_dir;
	const char *host;
	bool have_instance;
	struct spee_instance rec; /* the instance's record */
	struct plan_side before, after;
	struct plan_diff diff;
	struct plan_conn *conns;
	size_t n_conns;
	char conns_error[256]; /* why the connections could not be listed, or "" */
	struct plan_cuts cuts;
};

/* ---- pieces of text ---- */

static void ports_text(const struct plan_ports *p, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n && off < len; i++) {
		if (p->v[i].lo == p->v[i].hi)
			off += (size_t)snprintf(buf + off, len - off, "%s%u", i ? "," : "",
						p->v[i].lo);
		else
			off += (size_t)snprintf(buf + off, len - off, "%s%u-%u", i ? "," : "",
						p->v[i].lo, p->v[i].hi);
	}
	if (!p->n)
		snprintf(buf, len, "-");
}

/* A DNS name of t that stands for the address a, or NULL. */
static const char *name_of(const struct name_table *t, const struct prefix *a)
{
	for (size_t i = 0; i < t->n; i++)
		for (size_t k = 0; k < t->v[i].n_addrs; k++)
			if (!prefix_cmp(&t->v[i].addrs[k], a))
				return t->v[i].name;
	return NULL;
}

/* "198.18.0.11, 198.19.2.100 (my.mailstore.com) and 3 more" */
static void peers_text(const struct plan_peers *p, const struct name_table *t, char *buf,
		       size_t len)
{
	size_t off = 0, shown = p->n > TEXT_PEERS + 1 ? TEXT_PEERS : p->n;
	char a[ADDR_TEXT_LEN];

	buf[0] = '\0';
	for (size_t i = 0; i < shown && off < len; i++) {
		const char *name = name_of(t, &p->v[i]);

		prefix_format(&p->v[i], a, sizeof(a));
		off += (size_t)snprintf(buf + off, len - off, "%s%s%s%s%s", i ? ", " : "", a,
					name ? " (" : "", name ? name : "", name ? ")" : "");
	}
	if (shown < p->n && off < len)
		snprintf(buf + off, len - off, " and %zu more", p->n - shown);
}

/*
 * A group's name: its rule, or the implicit allowance it is: "(dns)", DNS
 * to the resolvers; "(local)", the host's own addresses.
 */
static const char *group_name(const struct plan_group *g)
{
	if (g->rule[0])
		return g->rule;
	return g->reason == SPEE_REASON_DNS ? "(dns)" :
	       g->reason == SPEE_REASON_LOOPBACK ? "(local)" : reason_label(g->reason);
}

static const char *proto_text(uint8_t proto)
{
	return proto == SPEE_PROTO_LOCAL ? "any" : proto_label(proto);
}

/* "198.18.0.11:40412" or "[fd00:5e::11]:40412" */
static void endpoint(const struct prefix *a, uint16_t port, char *buf, size_t len)
{
	char text[ADDR_TEXT_LEN];

	addr_format(a, text, sizeof(text));
	snprintf(buf, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", text, port);
}

/* "rule mgmt-internal", "dns", "nothing enforced (no instance)" */
static void verdict_text(const struct plan_verdict *v, const struct plan_side *s, char *buf,
			 size_t len)
{
	if (!v->enforced)
		snprintf(buf, len, "nothing enforced (no instance)");
	else if (v->reason == SPEE_REASON_RULE)
		snprintf(buf, len, "rule %s", v->rule);
	else if (v->reason == SPEE_REASON_NO_RULE && v->pass && s->mode == SPEE_MODE_AUDIT)
		snprintf(buf, len, "no rule (audit mode passes it)");
	else if (v->reason == SPEE_REASON_NO_RULE && v->pass)
		snprintf(buf, len, "no rule (the default is pass)");
	else if (v->reason == SPEE_REASON_NO_RULE)
		snprintf(buf, len, "no rule: dropped");
	else
		snprintf(buf, len, "%s", reason_label(v->reason));
}

/* ---- text ---- */

static void print_group(const struct plan_group *g, const struct plan_run *r)
{
	static const char marks[] = { ' ', '+', '-', '~' };
	char before[256], after[256], peers[1024];

	ports_text(&g->ports_before, before, sizeof(before));
	ports_text(&g->ports_after, after, sizeof(after));
	if (g->proto == SPEE_PROTO_LOCAL) /* every port: the host's own addresses */
		snprintf(before, sizeof(before), "*"), snprintf(after, sizeof(after), "*");
	printf("%c %-16s %-7s %-4s ", marks[g->change], group_name(g), dir_label(g->dir),
	       proto_text(g->proto));
	if (g->change == PLAN_ADDED) {
		peers_text(&g->peers_after, &r->after.names, peers, sizeof(peers));
		printf("%s added, for %s\n", after, peers);
		return;
	}
	if (g->change == PLAN_REMOVED) {
		peers_text(&g->peers_before, &r->before.names, peers, sizeof(peers));
		printf("%s removed, was for %s\n", before, peers);
		return;
	}
	if (g->ports_added.n || g->ports_removed.n)
		printf("ports %s -> %s", before, after);
	else
		printf("%s", after);
	if (g->peers_added.n) {
		peers_text(&g->peers_added, &r->after.names, peers, sizeof(peers));
		printf("; peers added: %s", peers);
	}
	if (g->peers_removed.n) {
		peers_text(&g->peers_removed, &r->before.names, peers, sizeof(peers));
		printf("; peers removed: %s", peers);
	}
	if (g->reshaped)
		printf("; the same ports and peers, in other combinations");
	printf("\n");
}

static void print_names(const struct plan_run *r)
{
	char before[1024], after[1024];

	if (!r->diff.n_names)
		return;
	printf("DNS names:\n");
	for (size_t i = 0; i < r->diff.n_names; i++) {
		const struct plan_name *n = &r->diff.names[i];

		peers_text(&n->before, &(struct name_table){ 0 }, before, sizeof(before));
		peers_text(&n->after, &(struct name_table){ 0 }, after, sizeof(after));
		switch (n->change) {
		case PLAN_SAME:
			printf("  %s: %s (as enforced)\n", n->name, n->after.n ? after : "no address");
			break;
		case PLAN_ADDED:
			printf("+ %s: %s\n", n->name,
			       n->resolved_after ? after : "does not resolve: its rules allow nothing");
			break;
		case PLAN_REMOVED:
			printf("- %s: no longer used (was %s)\n", n->name, n->before.n ? before : "no address");
			break;
		case PLAN_CHANGED:
			printf("~ %s: %s -> %s\n", n->name, n->before.n ? before : "no address",
			       n->after.n ? after : "no address");
			break;
		}
	}
}

static void print_cuts(const struct plan_run *r)
{
	char local[ADDR_TEXT_LEN + 8], remote[ADDR_TEXT_LEN + 8], today[96], then[96];

	if (r->conns_error[0]) {
		printf("live connections: not judged: %s\n", r->conns_error);
		return;
	}
	if (!r->cuts.n) {
		printf("live connections: none of the %zu judged would be refused\n", r->cuts.judged);
		return;
	}
	printf("live connections the new policy would no longer allow (%zu of %zu judged):\n",
	       r->cuts.n, r->cuts.judged);
	for (size_t i = 0; i < r->cuts.n; i++) {
		const struct plan_cut *c = &r->cuts.v[i];
		bool in = c->dir == SPEE_DIR_INGRESS;

		endpoint(&c->conn.local, c->conn.lport, local, sizeof(local));
		endpoint(&c->conn.remote, c->conn.rport, remote, sizeof(remote));
		verdict_text(&c->before, &r->before, today, sizeof(today));
		verdict_text(&c->after, &r->after, then, sizeof(then));
		printf("  %s %s -> %s %s%s%s: today %s; then %s\n", proto_label(c->conn.proto),
		       in ? remote : local, in ? local : remote, dir_label(c->dir),
		       c->conn.tcp_state ? " " : "", conns_tcp_state_label(c->conn.tcp_state), today,
		       then);
	}
}

static void print_text(const struct plan_run *r)
{
	bool differs = plan_diff_differs(&r->diff);

	printf("plan for host %s: %s\n", r->host, r->config);
	if (r->before.enforced)
		printf("  against generation %u enforced at %s (%s, sha256 %.12s)\n",
		       r->before.generation, r->pin_dir, r->rec.config_path, r->rec.config_sha256);
	else
		printf("  against no instance at %s: nothing is enforced, every packet passes\n",
		       r->pin_dir);
	if (r->diff.mode_changed)
		printf("~ mode: %s -> %s\n", r->before.enforced ? mode_label(r->before.mode) : "none",
		       mode_label(r->after.mode));
	for (int d = 0; d < SPEE_DIR_MAX; d++)
		if (r->diff.default_changed[d])
			printf("~ default %s: %s -> %s\n", dir_label(d),
			       r->before.enforced ? action_label(r->before.default_action[d]) : "pass",
			       action_label(r->after.default_action[d]));
	if (r->diff.n_groups)
		printf("rules:\n");
	for (size_t i = 0; i < r->diff.n_groups; i++)
		print_group(&r->diff.groups[i], r);
	print_names(r);
	print_cuts(r);
	printf(differs ? "%s differs from what is enforced\n" :
			 "no difference: %s compiles to what is enforced\n",
	       r->config);
}

/* ---- JSON ---- */

static struct json_object *ports_json(const struct plan_ports *p)
{
	struct json_object *a = json_object_new_array();
	char text[16];

	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].lo == p->v[i].hi)
			snprintf(text, sizeof(text), "%u", p->v[i].lo);
		else
			snprintf(text, sizeof(text), "%u-%u", p->v[i].lo, p->v[i].hi);
		json_object_array_add(a, json_object_new_string(text));
	}
	return a;
}

static struct json_object *peers_json(const struct plan_peers *p)
{
	struct json_object *a = json_object_new_array();
	char text[ADDR_TEXT_LEN];

	for (size_t i = 0; i < p->n; i++) {
		prefix_format(&p->v[i], text, sizeof(text));
		json_object_array_add(a, json_object_new_string(text));
	}
	return a;
}

static struct json_object *addr_json(const struct prefix *a)
{
	char text[ADDR_TEXT_LEN];

	addr_format(a, text, sizeof(text));
	return json_object_new_string(text);
}

static struct json_object *verdict_json(const struct plan_verdict *v)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "verdict", json_object_new_string(v->pass ? "pass" : "drop"));
	json_object_object_add(o, "enforced", json_object_new_boolean(v->enforced));
	json_object_object_add(o, "reason",
			       v->enforced ? json_object_new_string(reason_label(v->reason)) : NULL);
	json_object_object_add(o, "rule", v->rule[0] ? json_object_new_string(v->rule) : NULL);
	return o;
}

static struct json_object *settings_json(const struct plan_run *r)
{
	struct json_object *o = json_object_new_object(), *mode = json_object_new_object();
	struct json_object *def = json_object_new_object();

	json_object_object_add(mode, "before", r->before.enforced ?
				json_object_new_string(mode_label(r->before.mode)) : NULL);
	json_object_object_add(mode, "after", json_object_new_string(mode_label(r->after.mode)));
	json_object_object_add(mode, "changed", json_object_new_boolean(r->diff.mode_changed));
	json_object_object_add(o, "mode", mode);
	for (int d = 0; d < SPEE_DIR_MAX; d++) {
		struct json_object *x = json_object_new_object();

		json_object_object_add(x, "before", r->before.enforced ?
				json_object_new_string(action_label(r->before.default_action[d])) : NULL);
		json_object_object_add(x, "after",
				       json_object_new_string(action_label(r->after.default_action[d])));
		json_object_object_add(x, "changed",
				       json_object_new_boolean(r->diff.default_changed[d]));
		json_object_object_add(def, dir_label(d), x);
	}
	json_object_object_add(o, "default", def);
	return o;
}

static void print_json(const struct plan_run *r)
{
	struct json_object *root = json_object_new_object(), *rules = json_object_new_array();
	struct json_object *names = json_object_new_array(), *conns = json_object_new_object();
	struct json_object *cut = json_object_new_array(), *enforced = NULL;

	if (r->before.enforced) {
		enforced = json_object_new_object();
		json_object_object_add(enforced, "generation",
				       json_object_new_int64(r->before.generation));
		json_object_object_add(enforced, "host", json_object_new_string(r->rec.host));
		json_object_object_add(enforced, "config",
				       json_object_new_string(r->rec.config_path));
		json_object_object_add(enforced, "config_sha256",
				       json_object_new_string(r->rec.config_sha256));
	}
	json_object_object_add(root, "host", json_object_new_string(r->host));
	json_object_object_add(root, "config", json_object_new_string(r->config));
	json_object_object_add(root, "pin_dir", json_object_new_string(r->pin_dir));
	json_object_object_add(root, "enforced", enforced);
	json_object_object_add(root, "differs", json_object_new_boolean(plan_diff_differs(&r->diff)));
	json_object_object_add(root, "settings", settings_json(r));
	for (size_t i = 0; i < r->diff.n_groups; i++) {
		const struct plan_group *g = &r->diff.groups[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "rule", g->rule[0] ? json_object_new_string(g->rule) : NULL);
		json_object_object_add(o, "reason", json_object_new_string(reason_label(g->reason)));
		json_object_object_add(o, "direction", json_object_new_string(dir_label(g->dir)));
		json_object_object_add(o, "proto", json_object_new_string(proto_text(g->proto)));
		json_object_object_add(o, "change",
				       json_object_new_string(plan_change_label(g->change)));
		json_object_object_add(o, "ports_before", ports_json(&g->ports_before));
		json_object_object_add(o, "ports_after", ports_json(&g->ports_after));
		json_object_object_add(o, "ports_added", ports_json(&g->ports_added));
		json_object_object_add(o, "ports_removed", ports_json(&g->ports_removed));
		json_object_object_add(o, "peers_before", peers_json(&g->peers_before));
		json_object_object_add(o, "peers_after", peers_json(&g->peers_after));
		json_object_object_add(o, "peers_added", peers_json(&g->peers_added));
		json_object_object_add(o, "peers_removed", peers_json(&g->peers_removed));
		json_object_object_add(o, "reshaped", json_object_new_boolean(g->reshaped));
		json_object_array_add(rules, o);
	}
	json_object_object_add(root, "rules", rules);
	for (size_t i = 0; i < r->diff.n_names; i++) {
		const struct plan_name *n = &r->diff.names[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(n->name));
		json_object_object_add(o, "change", json_object_new_string(plan_change_label(n->change)));
		json_object_object_add(o, "before", peers_json(&n->before));
		json_object_object_add(o, "after", peers_json(&n->after));
		json_object_object_add(o, "resolved", json_object_new_boolean(n->resolved_after));
		json_object_array_add(names, o);
	}
	json_object_object_add(root, "names", names);
	for (size_t i = 0; i < r->cuts.n; i++) {
		const struct plan_cut *c = &r->cuts.v[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "proto", json_object_new_string(proto_label(c->conn.proto)));
		json_object_object_add(o, "direction", json_object_new_string(dir_label(c->dir)));
		json_object_object_add(o, "local", addr_json(&c->conn.local));
		json_object_object_add(o, "local_port", json_object_new_int(c->conn.lport));
		json_object_object_add(o, "remote", addr_json(&c->conn.remote));
		json_object_object_add(o, "remote_port", json_object_new_int(c->conn.rport));
		json_object_object_add(o, "state", c->conn.tcp_state ?
				json_object_new_string(conns_tcp_state_label(c->conn.tcp_state)) : NULL);
		json_object_object_add(o, "socket",
				       json_object_new_boolean(c->conn.seen & PLAN_SEEN_SOCKET));
		json_object_object_add(o, "flow", json_object_new_boolean(c->conn.seen & PLAN_SEEN_FLOW));
		json_object_object_add(o, "before", verdict_json(&c->before));
		json_object_object_add(o, "after", verdict_json(&c->after));
		json_object_array_add(cut, o);
	}
	json_object_object_add(conns, "judged", json_object_new_int64((int64_t)r->cuts.judged));
	json_object_object_add(conns, "error", r->conns_error[0] ?
				json_object_new_string(r->conns_error) : NULL);
	json_object_object_add(conns, "cut", cut);
	json_object_object_add(root, "connections", conns);
	cli_json_print(root);
}

/* ---- the command ---- */

/* The enforced side, the record and the live connections; the instance's lock only meanwhile. */
static int read_enforced(const struct cli_args *a, struct plan_run *r)
{
	bool json = cli_flag(a, CLI_OPT_JSON);
	struct instance *inst = NULL;
	struct diags d = { 0 };
	int err;

	err = instance_open(r->pin_dir, INSTANCE_READ, &inst, &d);
	if (err == -ENOENT) {
		/* No instance: nothing is enforced; the comparison is with an empty policy. */
		err = 0;
		inst = NULL;
	} else if (err) {
		cli_print_diags(&d, json, NULL);
		goto out;
	} else {
		r->have_instance = true;
		r->rec = inst->rec;
		err = plan_side_read(inst, &r->before, &d);
		if (err) {
			cli_print_diags(&d, json, NULL);
			goto out;
		}
	}
	diags_free(&d);
	if (conns_list(inst, &r->conns, &r->n_conns, &d) && d.n)
		diag_format(&d.v[0], r->conns_error, sizeof(r->conns_error));
out:
	instance_close(inst);
	diags_free(&d);
	return err;
}

/* The new side: NEW compiled for the host apply would pick, its names as apply finds them. */
static int build_new(const struct cli_args *a, const struct config *cfg, struct plan_run *r)
{
	bool json = cli_flag(a, CLI_OPT_JSON);
	struct name_table names = { 0 };
	struct prefix *resolvers = NULL;
	const struct cfg_host *host;
	struct policy *p = NULL;
	struct prefix *local = NULL;
	struct policy_env env;
	struct diags d = { 0 };
	int err;

	err = host_select(cfg, cli_text(a, CLI_OPT_HOST), &host, &d);
	if (err) {
		cli_print_diags(&d, json, NULL);
		err = -CLI_EUSAGE;
		goto out;
	}
	r->host = host->name;
	if (r->have_instance && r->rec.host[0] && strcmp(r->rec.host, host->name))
		fprintf(stderr,
			"speebpf plan: warning: the instance at %s enforces host %s's policy; this "
			"plan is for host %s (--host)\n",
			r->pin_dir, r->rec.host, host->name);
	err = cli_policy_env(&env, &resolvers);
	if (err) {
		fprintf(stderr, "speebpf: cannot read the system's resolvers: %s\n", strerror(-err));
		goto out;
	}
	/* as apply compiles it: only the host's addresses configured here are the host itself */
	err = cli_machine_addrs(&env, &local);
	if (err) {
		fprintf(stderr, "speebpf: cannot list this machine's addresses: %s\n", strerror(-err));
		goto out;
	}
	cli_warn_missing_addrs(host, &env);
	err = policy_compile(cfg, host->name, &env, &p, &d);
	if (err) {
		cli_print_diags(&d, json, NULL);
		goto out;
	}
	if (cli_flag(a, CLI_OPT_NO_RESOLVE)) {
		for (size_t i = 0; i < p->n_names && !err; i++) {
			const struct name_addrs *pin = names_find(&a->pinned, p->names[i]);

			if (pin)
				err = names_set(&names, pin->name, pin->addrs, pin->n_addrs, 0);
		}
	} else {
		err = resolve_policy_names(p, &a->pinned, &names);
	}
	if (!err)
		err = plan_side_build(p, &names, cli_flag(a, CLI_OPT_AUDIT), &r->after, &d);
	if (err)
		cli_print_diags(&d, json, NULL);
out:
	names_free(&names);
	policy_free(p);
	free(resolvers);
	free(local);
	diags_free(&d);
	return err;
}

static int do_plan(const struct cli_args *a, struct instance *unused)
{
	bool json = cli_flag(a, CLI_OPT_JSON);
	struct plan_run r = { .config = cli_text(a, CLI_OPT_CONFIG),
			      .pin_dir = cli_text(a, CLI_OPT_PIN_DIR) };
	struct config *cfg = NULL;
	int err;

	(void)unused; /* plan opens the instance itself: its absence is no error */
	err = cli_load_config(r.config, json, &cfg);
	if (!err)
		err = read_enforced(a, &r);
	if (!err)
		err = build_new(a, cfg, &r);
	if (!err)
		err = plan_diff(&r.before, &r.after, &r.diff);
	if (!err)
		err = plan_judge(&r.before, &r.after, r.conns, r.n_conns, &r.cuts);
	if (err)
		goto out;
	if (json)
		print_json(&r);
	else
		print_text(&r);
	if (r.conns_error[0])
		fprintf(stderr, "speebpf plan: warning: %s\n", r.conns_error);
	if (cli_flag(a, CLI_OPT_EXIT_CODE) && (plan_diff_differs(&r.diff) || r.cuts.n))
		err = -CLI_EFLAGGED;
out:
	plan_cuts_free(&r.cuts);
	plan_diff_free(&r.diff);
	free(r.conns);
	plan_side_free(&r.before);
	plan_side_free(&r.after);
	config_free(cfg);
	return err;
}

CLI_COMMAND(plan, .summary = "what applying a config would change, and what it would cut",
	    .description =
		    "  Compares the policy FILE compiles to for this host with the one the instance\n"
		    "  at --pin-dir enforces (its active policy slot; none: an empty policy): the\n"
		    "  rules and peers added and removed per direction, ports moved, DNS names and\n"
		    "  their addresses now; and the live connections (the socket table and the flow\n"
		    "  state) that the new policy would not let in or out, each with the rule that\n"
		    "  allows it today. Changes nothing. --exit-code: exit 3 when anything differs.",
	    .access = CLI_READS_IF_ANY,
	    .options = CLI_TAKES(CLI_REQUIRE(CONFIG), CLI_USE(HOST),
				 { .id = CLI_OPT_AUDIT, .help = "as `apply --audit` would apply it" },
				 CLI_USE(RESOLVE), CLI_USE(NO_RESOLVE),
				 CLI_USE(JSON), CLI_USE(EXIT_CODE)),
	    .run = do_plan);
