// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf check: validate a fleet config and print a host's compiled
 * allowlists rule by rule (or every host's, when this machine is not one
 * of them or --all is given).
 */
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "host.h"
#include "labels.h"
#include "matrix.h"
#include "policy.h"
#include "protocols.h"

#define PEERS_SHOWN 12 /* per rule in text output, unless --full */


static const char *origin_label(enum rule_origin o)
{
	return o == RULE_MATRIX	  ? "matrix" :
	       o == RULE_SITE	  ? "site" :
	       o == RULE_BASELINE ? "baseline" :
				    "failsafe";
}

static void entry_peer_text(const struct policy_entry *e, char *buf, size_t len)
{
	if (e->peer_kind == ENTRY_PEER_NAME)
		snprintf(buf, len, "%s (DNS)", e->name);
	else
		prefix_format(&e->prefix, buf, len);
}

static bool peers_equal_text(const struct policy_entry *e, const char *text)
{
	char buf[ADDR_TEXT_LEN];

	prefix_format(&e->prefix, buf, sizeof(buf));
	return !strcmp(buf, text);
}

static void port_text(uint16_t lo, uint16_t hi, char *buf, size_t len)
{
	if (lo == hi)
		snprintf(buf, len, "%u", lo);
	else
		snprintf(buf, len, "%u-%u", lo, hi);
}

/* Entries are sorted by direction then rule: [*first, *end) are rule r's in dir. */
static void rule_entries(const struct policy *p, uint8_t dir, size_t r, size_t *first,
			 size_t *end)
{
	size_t i = 0;

	while (i < p->n_entries && !(p->entries[i].dir == dir &&
				     p->entries[i].reason == SPEE_REASON_RULE &&
				     p->entries[i].rule == r))
		i++;
	*first = i;
	while (i < p->n_entries && p->entries[i].dir == dir &&
	       p->entries[i].reason == SPEE_REASON_RULE && p->entries[i].rule == r)
		i++;
	*end = i;
}

static void print_peer_list(const struct policy *p, const struct policy_rule *rule, size_t first,
			    size_t end, bool full)
{
	size_t shown = 0;
	char text[ADDR_TEXT_LEN + 300], ports[16];

	if (first == end) {
		printf("(nothing)");
		return;
	}
	for (size_t i = first; i < end; i++) {
		const struct policy_entry *e = &p->entries[i];

		if (!full && shown == PEERS_SHOWN) {
			printf(", ... (+%zu more)", end - i);
			return;
		}
		entry_peer_text(e, text, sizeof(text));
		printf("%s%s", shown ? ", " : "", text);
		if (e->port_lo != rule->port_lo || e->port_hi != rule->port_hi) {
			port_text(e->port_lo, e->port_hi, ports, sizeof(ports));
			printf(" [ports %s]", ports);
		}
		shown++;
	}
}

static void print_implicit(const struct policy *p, uint8_t reason, const char *label,
			   const char *what)
{
	bool any = false;
	char text[ADDR_TEXT_LEN];

	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];

		if (e->reason != reason || (reason == SPEE_REASON_DNS && e->proto != IPPROTO_UDP))
			continue;
		if (!any)
			printf("    %-16s %-12s %s: ", label, reason == SPEE_REASON_DNS ?
								  "udp+tcp/53" : "any",
			       what);
		entry_peer_text(e, text, sizeof(text));
		printf("%s%s", any ? ", " : "", text);
		any = true;
	}
	if (any)
		printf("\n");
}

/* Warnings first: they are what would break the host. */
static void print_notes(const struct policy_note *v, size_t n, const char *indent)
{
	if (!n)
		return;
	printf("\n%snotes:\n", indent);
	for (int warnings = 1; warnings >= 0; warnings--)
		for (size_t i = 0; i < n; i++)
			if (v[i].warning == (bool)warnings)
				printf("%s  - %s%s\n", indent, warnings ? "warning: " : "", v[i].text);
}

/* An ethertype key of the config as written: "0x88cc", "llc", "any". */
static void ethertype_text(uint16_t key, char *buf, size_t len)
{
	if (key == SPEE_ETHERTYPE_ANY)
		snprintf(buf, len, "any");
	else if (key == SPEE_ETHERTYPE_LLC)
		snprintf(buf, len, "llc");
	else
		snprintf(buf, len, "0x%04x", key);
}

static void print_host_text(const struct policy *p, bool full)
{
	static const char *const heading[SPEE_DIR_MAX] = {
		[SPEE_DIR_INGRESS] = "ingress (XDP): new connections this host accepts",
		[SPEE_DIR_EGRESS] = "egress (cgroup): new connections this host opens",
	};
	char roles[32], addr[ADDR_TEXT_LEN], match[40];

	roles_format(p->roles, roles, sizeof(roles));
	printf("host %s (%s):", p->host->name, roles);
	for (size_t a = 0; a < p->host->n_addrs; a++) {
		prefix_format(&p->host->addrs[a], addr, sizeof(addr));
		printf("%s %s", a ? "," : "", addr);
	}
	printf("\n  mode %s; what no rule allows: ingress %s, egress %s\n", mode_label(p->mode),
	       action_label(p->default_action[SPEE_DIR_INGRESS]),
	       action_label(p->default_action[SPEE_DIR_EGRESS]));
	for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++) {
		printf("\n  %s\n", heading[dir]);
		for (size_t r = 0; r < p->n_rules; r++) {
			const struct policy_rule *rule = &p->rules[r];
			size_t first, end;

			if (!(rule->dirs & (1u << dir)))
				continue;
			rule_entries(p, dir, r, &first, &end);
			proto_match_text(rule->proto, rule->port_lo, rule->port_hi, match,
					 sizeof(match));
			printf("    %-16s %-12s %s %s", rule->id, match,
			       dir == SPEE_DIR_INGRESS ? "from" : "to", rule->peers_text[dir]);
			/* Show the expansion unless the side was written as exactly that. */
			if (!(end == first + 1 && p->entries[first].peer_kind == ENTRY_PEER_PREFIX &&
			      peers_equal_text(&p->entries[first], rule->peers_text[dir]))) {
				printf(": ");
				print_peer_list(p, rule, first, end, full);
			}
			printf("\n");
			if (rule->description)
				printf("    %-16s %s%s\n", "",
				       rule->optional ? "(optional) " : "", rule->description);
		}
		if (dir == SPEE_DIR_EGRESS) {
			/* Without resolvers: the policy takes this machine's, maybe not the host's. */
			print_implicit(p, SPEE_REASON_DNS, "(dns)",
				       p->cfg->resolvers_from_file
					       ? "to the resolvers"
					       : "to this machine's resolvers (the config names none)");
			print_implicit(p, SPEE_REASON_LOOPBACK, "(loopback)",
				       "to this host's own addresses");
		}
	}
	printf("\n  non-IP frames passed besides ARP (ethertypes): ");
	if (!p->cfg->n_ethertypes)
		printf("none; the others are dropped");
	for (size_t i = 0; i < p->cfg->n_ethertypes; i++) {
		char et[16];

		ethertype_text(p->cfg->ethertypes[i], et, sizeof(et));
		printf("%s%s", i ? ", " : "", et);
	}
	printf("\n  always allowed: replies of allowed connections (echo replies of allowed "
	       "pings too),\n  ICMP errors and path-MTU messages about them, IPv6 neighbour "
	       "discovery on the link, ARP, loopback\n");
	print_notes(p->notes, p->n_notes, "  ");
}

static struct json_object *json_entries(const struct policy *p, size_t first, size_t end,
					const struct policy_rule *rule)
{
	struct json_object *arr = json_object_new_array();
	char text[ADDR_TEXT_LEN + 300];

	for (size_t i = first; i < end; i++) {
		const struct policy_entry *e = &p->entries[i];
		struct json_object *o = json_object_new_object();

		if (e->peer_kind == ENTRY_PEER_NAME) {
			json_object_object_add(o, "name", json_object_new_string(e->name));
		} else {
			prefix_format(&e->prefix, text, sizeof(text));
			json_object_object_add(o, "prefix", json_object_new_string(text));
		}
		if (!rule || e->port_lo != rule->port_lo || e->port_hi != rule->port_hi) {
			json_object_object_add(o, "port", json_object_new_int(e->port_lo));
			if (e->port_hi != e->port_lo)
				json_object_object_add(o, "port_end",
						       json_object_new_int(e->port_hi));
		}
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *json_implicit(const struct policy *p, uint8_t reason)
{
	struct json_object *arr = json_object_new_array();
	char text[ADDR_TEXT_LEN];

	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];

		if (e->reason != reason || (reason == SPEE_REASON_DNS && e->proto != IPPROTO_UDP))
			continue;
		prefix_format(&e->prefix, text, sizeof(text));
		json_object_array_add(arr, json_object_new_string(text));
	}
	return arr;
}

/* "proto" and what goes with it: port (and port_end), icmp_type, or ip_proto. */
static void json_match(struct json_object *o, const struct policy_rule *rule)
{
	const char *name = NULL;

	json_object_object_add(o, "proto", json_object_new_string(proto_kind_label(rule->proto)));
	if (proto_has_ports(rule->proto)) {
		json_object_object_add(o, "port", json_object_new_int(rule->port_lo));
		if (rule->port_hi != rule->port_lo)
			json_object_object_add(o, "port_end", json_object_new_int(rule->port_hi));
		return;
	}
	if (proto_is_icmp(rule->proto)) {
		json_object_object_add(o, "icmp_type", json_object_new_int(rule->port_lo));
		name = icmp_type_name(rule->proto, rule->port_lo);
		if (name)
			json_object_object_add(o, "icmp_type_name", json_object_new_string(name));
		return;
	}
	json_object_object_add(o, "ip_proto", json_object_new_int(rule->proto));
	name = ip_proto_name(rule->proto);
	if (name)
		json_object_object_add(o, "ip_proto_name", json_object_new_string(name));
}

static struct json_object *json_notes(const struct policy_note *v, size_t n_notes)
{
	struct json_object *notes = json_object_new_array();

	for (size_t i = 0; i < n_notes; i++) {
		struct json_object *n = json_object_new_object();

		json_object_object_add(n, "kind", json_object_new_string(note_kind_label(v[i].kind)));
		json_object_object_add(n, "warning", json_object_new_boolean(v[i].warning));
		if (v[i].rule)
			json_object_object_add(n, "rule", json_object_new_string(v[i].rule));
		if (v[i].other)
			json_object_object_add(n, "other", json_object_new_string(v[i].other));
		json_object_object_add(n, "text", json_object_new_string(v[i].text));
		json_object_array_add(notes, n);
	}
	return notes;
}

static struct json_object *host_json(const struct policy *p)
{
	struct json_object *h = json_object_new_object(), *roles = json_object_new_array();
	struct json_object *addrs = json_object_new_array(), *def = json_object_new_object();
	struct json_object *implicit = json_object_new_object();
	char text[ADDR_TEXT_LEN];

	for (unsigned bit = ROLE_MGMT; bit <= ROLE_IH; bit <<= 1)
		if (p->roles & bit)
			json_object_array_add(roles, json_object_new_string(role_name(bit)));
	for (size_t a = 0; a < p->host->n_addrs; a++) {
		prefix_format(&p->host->addrs[a], text, sizeof(text));
		json_object_array_add(addrs, json_object_new_string(text));
	}
	json_object_object_add(h, "name", json_object_new_string(p->host->name));
	json_object_object_add(h, "roles", roles);
	json_object_object_add(h, "addresses", addrs);
	json_object_object_add(h, "mode", json_object_new_string(mode_label(p->mode)));
	for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++)
		json_object_object_add(def, dir_label(dir),
				       json_object_new_string(action_label(p->default_action[dir])));
	json_object_object_add(h, "default", def);
	for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++) {
		struct json_object *rules = json_object_new_array();

		for (size_t r = 0; r < p->n_rules; r++) {
			const struct policy_rule *rule = &p->rules[r];
			struct json_object *o;
			size_t first, end;

			if (!(rule->dirs & (1u << dir)))
				continue;
			rule_entries(p, dir, r, &first, &end);
			o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_string(rule->id));
			json_match(o, rule);
			json_object_object_add(o, "peers",
					       json_object_new_string(rule->peers_text[dir]));
			json_object_object_add(o, "entries", json_entries(p, first, end, rule));
			json_object_object_add(o, "origin",
					       json_object_new_string(origin_label(rule->origin)));
			json_object_object_add(o, "optional", json_object_new_boolean(rule->optional));
			if (rule->description)
				json_object_object_add(o, "description",
						       json_object_new_string(rule->description));
			json_object_array_add(rules, o);
		}
		json_object_object_add(h, dir_label(dir), rules);
	}
	json_object_object_add(implicit, "dns_resolvers", json_implicit(p, SPEE_REASON_DNS));
	json_object_object_add(implicit, "local_addresses",
			       json_implicit(p, SPEE_REASON_LOOPBACK));
	{
		struct json_object *ets = json_object_new_array();
		char et[16];

		for (size_t i = 0; i < p->cfg->n_ethertypes; i++) {
			ethertype_text(p->cfg->ethertypes[i], et, sizeof(et));
			json_object_array_add(ets, json_object_new_string(et));
		}
		json_object_object_add(implicit, "ethertypes", ets);
	}
	json_object_object_add(h, "implicit", implicit);
	json_object_object_add(h, "notes", json_notes(p->notes, p->n_notes));
	return h;
}

/* Which hosts to show: the named one, all, or this machine (all when it is not in the inventory). */
static int pick_hosts(const struct config *cfg, const struct cli_args *a,
		      const struct cfg_host **one)
{
	struct diags d = { 0 };
	int err;

	*one = NULL;
	if (cli_flag(a, CLI_OPT_ALL))
		return 0;
	err = host_select(cfg, cli_text(a, CLI_OPT_HOST), one, &d);
	if (err && cli_text(a, CLI_OPT_HOST)) {
		cli_print_diags(&d, cli_flag(a, CLI_OPT_JSON), NULL);
		diags_free(&d);
		return -CLI_EUSAGE;
	}
	diags_free(&d);
	return 0;
}

static int do_check(const struct cli_args *a, struct instance *inst)
{
	bool json = cli_flag(a, CLI_OPT_JSON);
	struct config *cfg = NULL;
	struct prefix *resolvers = NULL, *local = NULL;
	struct policy_env env;
	const struct cfg_host *one;
	struct json_object *root = NULL, *hosts = NULL;
	struct policy_note *fleet = NULL;
	size_t n_fleet = 0;
	char sha[65];
	int err;

	(void)inst; /* it opens no instance */

	err = cli_load_config(cli_text(a, CLI_OPT_CONFIG), json, &cfg);
	if (err)
		return err;
	err = pick_hosts(cfg, a, &one);
	if (err)
		goto out;
	err = cli_policy_env(&env, &resolvers);
	if (err) {
		fprintf(stderr, "speebpf: cannot read the system's resolvers: %s\n", strerror(-err));
		goto out;
	}
	err = policy_fleet_notes(cfg, &fleet, &n_fleet);
	if (err) {
		fprintf(stderr, "speebpf check: %s\n", strerror(-err));
		goto out;
	}
	for (size_t i = 0; i < 32; i++)
		sprintf(sha + 2 * i, "%02x", cfg->sha256[i]);
	if (json) {
		root = json_object_new_object();
		hosts = json_object_new_array();
		json_object_object_add(root, "config", json_object_new_string(cfg->path));
		json_object_object_add(root, "sha256", json_object_new_string(sha));
		json_object_object_add(root, "valid", json_object_new_boolean(1));
		json_object_object_add(root, "hosts", hosts);
		json_object_object_add(root, "notes", json_notes(fleet, n_fleet));
	} else {
		printf("%s: valid (sha256 %s)\n", cfg->path, sha);
		/* What concerns no single host comes before the hosts. */
		print_notes(fleet, n_fleet, "");
		if (!one && !cli_flag(a, CLI_OPT_ALL))
			printf("this machine is not in the inventory: showing every host\n");
	}
	for (size_t h = 0; h < cfg->n_hosts; h++) {
		struct diags d = { 0 };
		struct policy *p;

		if (one && &cfg->hosts[h] != one)
			continue;
		/* This machine's host: only its addresses configured here are itself. */
		env.local_known = false;
		if (cli_is_this_machine(cfg, &cfg->hosts[h])) {
			free(local);
			local = NULL;
			if (!cli_machine_addrs(&env, &local))
				cli_warn_missing_addrs(&cfg->hosts[h], &env);
		}
		err = policy_compile(cfg, cfg->hosts[h].name, &env, &p, &d);
		if (err) {
			cli_print_diags(&d, json, NULL);
			diags_free(&d);
			goto out;
		}
		diags_free(&d);
		if (json) {
			json_object_array_add(hosts, host_json(p));
		} else {
			printf("\n");
			print_host_text(p, cli_flag(a, CLI_OPT_FULL));
		}
		policy_free(p);
	}
	if (json) {
		cli_json_print(root);
		root = NULL;
	}
out:
	json_object_put(root);
	policy_notes_free(fleet, n_fleet);
	free(resolvers);
	free(local);
	config_free(cfg);
	return err;
}

#define STR(x) #x
#define XSTR(x) STR(x)

CLI_COMMAND(check, .summary = "validate a fleet config; print this host's allowlists",
	    .options = CLI_TAKES(CLI_REQUIRE(CONFIG),
				 { .id = CLI_OPT_HOST,
				   .help = "the inventory host to show (default: this machine; every "
					   "host when this machine is not in the inventory)" },
				 CLI_USE(ALL), CLI_USE(JSON),
				 { .id = CLI_OPT_FULL,
				   .help = "list every peer address (text output shows " XSTR(
					   PEERS_SHOWN) " per rule)" }),
	    .rules = CLI_RULES({ CLI_EXCLUDES, CLI_OPT_ALL, CLI_OPT_HOST }), .run = do_check);
