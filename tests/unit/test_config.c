// SPDX-License-Identifier: GPL-2.0-only
/*
 * The config parser against CONTRACT.md section 2: valid files become the
 * struct the rest of the agent reads, with the contract's defaults filled
 * in; every file under tests/fixtures/config/errors/ is rejected with
 * exactly the "FILE:LINE:COL: message" its first line expects.
 *
 * Run from the top of the tree, or set SPEE_CONFIG_FIXTURES to the
 * fixtures directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <glob.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "baseline.h"
#include "config.h"
#include "matrix.h"

#define FIXTURES_DEFAULT "tests/fixtures/config"
#define EXPECT_TAG "# expect: "
#define MIN_ERROR_FIXTURES 40

static const char *fixtures_dir(void)
{
	const char *dir = getenv("SPEE_CONFIG_FIXTURES");

	return dir ? dir : FIXTURES_DEFAULT;
}

static void fixture_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", fixtures_dir(), name);
}

static struct config *parse_ok(const char *text)
{
	struct diags d = {0};
	struct config *cfg = NULL;
	int err;

	err = config_parse("test.yaml", text, strlen(text), &cfg, &d);
	if (err)
		diags_print(stderr, &d);
	assert_int_equal(err, 0);
	assert_int_equal(d.n, 0);
	assert_non_null(cfg);
	diags_free(&d);
	return cfg;
}

static struct config *load_ok(const char *name)
{
	char path[512];
	struct diags d = {0};
	struct config *cfg = NULL;
	int err;

	fixture_path(path, sizeof(path), name);
	err = config_load(path, &cfg, &d);
	if (err)
		diags_print(stderr, &d);
	assert_int_equal(err, 0);
	assert_non_null(cfg);
	diags_free(&d);
	return cfg;
}

/* Parses text that must fail; returns the formatted first diagnostic in buf. */
static size_t parse_fails(const char *text, char *buf, size_t len)
{
	struct diags d = {0};
	struct config *cfg = NULL;
	size_t n;
	int err;

	err = config_parse("bad.yaml", text, strlen(text), &cfg, &d);
	assert_int_equal(err, -EINVAL);
	assert_null(cfg);
	assert_true(d.n > 0);
	diag_format(&d.v[0], buf, len);
	n = d.n;
	diags_free(&d);
	return n;
}

static void assert_prefix(const struct prefix *p, const char *text)
{
	char buf[ADDR_TEXT_LEN];

	prefix_format(p, buf, sizeof(buf));
	assert_string_equal(buf, text);
}

static void assert_peer_prefix(const struct peer *p, const char *text)
{
	assert_int_equal(p->kind, PEER_PREFIX);
	assert_prefix(&p->prefix, text);
}

static void assert_peer_name(const struct peer *p, const char *name)
{
	assert_int_equal(p->kind, PEER_NAME);
	assert_string_equal(p->name, name);
}

static void assert_peer_role(const struct peer *p, unsigned roles)
{
	assert_int_equal(p->kind, PEER_ROLE);
	assert_int_equal(p->roles, roles);
}

static void assert_peer_network(const struct peer *p, size_t network)
{
	assert_int_equal(p->kind, PEER_NETWORK);
	assert_int_equal(p->network, network);
}

static void assert_loc(struct src_loc loc, int line, int col)
{
	assert_int_equal(loc.line, line);
	assert_int_equal(loc.col, col);
}

static const struct cfg_matrix_override *row_override(const struct config *cfg, const char *id)
{
	int i = matrix_find(id);

	assert_true(i >= 0);
	return &cfg->matrix[i];
}

static const struct cfg_network *network(const struct config *cfg, const char *name)
{
	const struct cfg_network *net = config_find_network(cfg, name);

	assert_non_null(net);
	return net;
}

#define ONE_HOST                                                                                   \
	"hosts:\n"                                                                                 \
	"  - name: mgmt1\n"                                                                        \
	"    roles: [MGMT]\n"                                                                      \
	"    addresses: [198.18.0.10]\n"

/* The default failsafe: tcp/22 from ADM to every host. */
static void assert_default_failsafe(const struct config *cfg)
{
	const struct cfg_rule *r;

	assert_false(cfg->failsafe_from_file);
	assert_int_equal(cfg->n_failsafe, 1);
	r = &cfg->failsafe[0];
	assert_string_equal(r->id, CONFIG_FAILSAFE_SSH_ID);
	assert_int_equal(r->proto, IPPROTO_TCP);
	assert_int_equal(r->port_lo, 22);
	assert_int_equal(r->port_hi, 22);
	assert_int_equal(r->from.n, 1);
	assert_peer_network(&r->from.v[0], CONFIG_NETWORK_ADM);
	assert_int_equal(r->to.n, 1);
	assert_peer_role(&r->to.v[0], ROLE_ALL);
	assert_string_equal(r->description, "SSH from the administration networks (failsafe)");
	assert_loc(r->loc, 0, 0);
}

static void contract_example_sets_every_field_it_names(void **state)
{
	struct config *cfg = load_ok("contract-example.yaml");
	const struct cfg_host *h;
	const struct cfg_rule *r;
	const struct cfg_matrix_override *o;

	(void)state;
	assert_int_equal(cfg->mode, SPEE_MODE_ENFORCE);

	assert_int_equal(cfg->n_hosts, 3);
	h = &cfg->hosts[0];
	assert_string_equal(h->name, "mgmt1");
	assert_int_equal(h->roles, ROLE_MGMT);
	assert_int_equal(h->n_addrs, 2);
	assert_int_equal(h->addrs[0].family, AF_INET);
	assert_prefix(&h->addrs[0], "198.18.0.10");
	assert_int_equal(h->addrs[1].family, AF_INET6);
	assert_prefix(&h->addrs[1], "fd00:5e::10");
	assert_loc(h->loc, 3, 11);
	h = &cfg->hosts[1];
	assert_string_equal(h->name, "cas1");
	assert_int_equal(h->roles, ROLE_CAS);
	assert_int_equal(h->n_addrs, 1);
	assert_prefix(&h->addrs[0], "198.18.0.11");
	h = &cfg->hosts[2];
	assert_string_equal(h->name, "ih1");
	assert_int_equal(h->roles, ROLE_IH);
	assert_int_equal(h->n_addrs, 1);
	assert_prefix(&h->addrs[0], "198.18.0.21");

	assert_int_equal(cfg->n_networks, CONFIG_BUILTIN_NETWORKS);
	assert_string_equal(cfg->networks[CONFIG_NETWORK_ADM].name, "ADM");
	assert_true(cfg->networks[CONFIG_NETWORK_ADM].from_file);
	assert_loc(cfg->networks[CONFIG_NETWORK_ADM].loc, 13, 3);
	assert_int_equal(cfg->networks[CONFIG_NETWORK_ADM].members.n, 1);
	assert_peer_prefix(&cfg->networks[CONFIG_NETWORK_ADM].members.v[0], "198.18.9.0/24");
	assert_string_equal(cfg->networks[CONFIG_NETWORK_CA].name, "CA");
	assert_true(cfg->networks[CONFIG_NETWORK_CA].from_file);
	assert_int_equal(cfg->networks[CONFIG_NETWORK_CA].members.n, 1);
	assert_int_equal(cfg->networks[CONFIG_NETWORK_CA].members.v[0].kind, PEER_ANY);

	for (size_t i = 0; i < matrix_rule_count; i++) {
		const char *id = matrix_rules[i].id;

		o = &cfg->matrix[i];
		assert_int_equal(o->port, strcmp(id, "mgmt-console") ? 0 : 9470);
		assert_int_equal(o->disabled, !strcmp(id, "mgmt-pairing"));
		assert_int_equal(o->narrowed, !strcmp(id, "ih-ews") || !strcmp(id, "ih-icewarp"));
	}
	assert_loc(row_override(cfg, "mgmt-console")->loc, 16, 3);
	assert_loc(row_override(cfg, "mgmt-pairing")->loc, 17, 11);
	o = row_override(cfg, "ih-ews");
	assert_int_equal(o->narrow.n, 1);
	assert_peer_name(&o->narrow.v[0], "exchange.example.com");
	assert_loc(o->narrow.v[0].loc, 19, 12);
	o = row_override(cfg, "ih-icewarp");
	assert_int_equal(o->narrow.n, 1);
	assert_peer_prefix(&o->narrow.v[0], "198.18.5.0/28");

	assert_int_equal(cfg->n_rules, 1);
	r = &cfg->rules[0];
	assert_string_equal(r->id, "node-exporter");
	assert_loc(r->loc, 22, 9);
	assert_int_equal(r->proto, IPPROTO_TCP);
	assert_int_equal(r->port_lo, 9100);
	assert_int_equal(r->port_hi, 9100);
	assert_int_equal(r->from.n, 1);
	assert_peer_prefix(&r->from.v[0], "198.18.9.50");
	assert_int_equal(r->to.n, 3);
	assert_peer_role(&r->to.v[0], ROLE_MGMT);
	assert_peer_role(&r->to.v[1], ROLE_CAS);
	assert_peer_role(&r->to.v[2], ROLE_IH);
	assert_loc(r->to.v[2].loc, 26, 21);
	assert_string_equal(r->description, "metrics scrape from the monitoring server");

	assert_true(cfg->failsafe_from_file);
	assert_int_equal(cfg->n_failsafe, 1);
	r = &cfg->failsafe[0];
	assert_string_equal(r->id, "failsafe-ssh");
	assert_int_equal(r->proto, IPPROTO_TCP);
	assert_int_equal(r->port_lo, 22);
	assert_int_equal(r->port_hi, 22);
	assert_int_equal(r->from.n, 1);
	assert_peer_network(&r->from.v[0], CONFIG_NETWORK_ADM);
	assert_int_equal(r->to.n, 1);
	assert_peer_role(&r->to.v[0], ROLE_ALL);
	assert_null(r->description);

	assert_int_equal(cfg->default_action[SPEE_DIR_INGRESS], SPEE_ACTION_DROP);
	assert_int_equal(cfg->default_action[SPEE_DIR_EGRESS], SPEE_ACTION_DROP);
	assert_false(cfg->resolvers_from_file);
	assert_int_equal(cfg->n_resolvers, 0);
	config_free(cfg);
}

static void minimal_config_gets_the_contract_defaults(void **state)
{
	struct config *cfg = load_ok("minimal.yaml");

	(void)state;
	assert_int_equal(cfg->mode, SPEE_MODE_ENFORCE);
	assert_int_equal(cfg->default_action[SPEE_DIR_INGRESS], SPEE_ACTION_DROP);
	assert_int_equal(cfg->default_action[SPEE_DIR_EGRESS], SPEE_ACTION_DROP);
	assert_int_equal(cfg->n_hosts, 1);
	assert_int_equal(cfg->hosts[0].roles, ROLE_ALL);

	assert_int_equal(cfg->n_networks, CONFIG_BUILTIN_NETWORKS);
	assert_string_equal(cfg->networks[CONFIG_NETWORK_ADM].name, "ADM");
	assert_false(cfg->networks[CONFIG_NETWORK_ADM].from_file);
	assert_int_equal(cfg->networks[CONFIG_NETWORK_ADM].members.n, 0);
	assert_string_equal(cfg->networks[CONFIG_NETWORK_CA].name, "CA");
	assert_false(cfg->networks[CONFIG_NETWORK_CA].from_file);
	assert_int_equal(cfg->networks[CONFIG_NETWORK_CA].members.n, 1);
	assert_int_equal(cfg->networks[CONFIG_NETWORK_CA].members.v[0].kind, PEER_ANY);

	for (size_t i = 0; i < matrix_rule_count; i++) {
		assert_int_equal(cfg->matrix[i].port, 0);
		assert_false(cfg->matrix[i].disabled);
		assert_false(cfg->matrix[i].narrowed);
		assert_loc(cfg->matrix[i].loc, 0, 0);
	}
	assert_int_equal(cfg->n_rules, 0);
	assert_default_failsafe(cfg);

	assert_false(cfg->resolvers_from_file);
	assert_int_equal(cfg->dns_min_ttl, CONFIG_DEFAULT_DNS_MIN_TTL);
	assert_int_equal(cfg->dns_max_ttl, CONFIG_DEFAULT_DNS_MAX_TTL);
	assert_int_equal(cfg->udp_timeout, CONFIG_DEFAULT_UDP_TIMEOUT);
	config_free(cfg);
}

static void every_key_fixture_is_valid(void **state)
{
	struct config *cfg = load_ok("every-key.yaml");

	(void)state;
	assert_int_equal(cfg->mode, SPEE_MODE_AUDIT);
	assert_int_equal(cfg->n_hosts, 4);
	assert_int_equal(cfg->n_networks, CONFIG_BUILTIN_NETWORKS + 1);
	assert_int_equal(cfg->n_rules, 3);
	assert_int_equal(cfg->n_failsafe, 2);
	assert_int_equal(row_override(cfg, "mgmt-api")->port, 9474);
	assert_true(row_override(cfg, "ih-kerio")->disabled);
	assert_peer_network(&row_override(cfg, "ih-smtp")->narrow.v[0], CONFIG_BUILTIN_NETWORKS);
	assert_int_equal(cfg->default_action[SPEE_DIR_EGRESS], SPEE_ACTION_PASS);
	assert_int_equal(cfg->n_resolvers, 2);
	assert_int_equal(cfg->n_ethertypes, 4);
	assert_int_equal(cfg->ethertypes[0], 0x88cc);
	assert_int_equal(cfg->ethertypes[3], 0x88b5);
	config_free(cfg);
}

static void every_valid_fixture_loads(void **state)
{
	char pattern[512];
	glob_t g;

	(void)state;
	fixture_path(pattern, sizeof(pattern), "*.yaml");
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 3);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct diags d = {0};
		struct config *cfg = NULL;
		int err = config_load(g.gl_pathv[i], &cfg, &d);

		if (err)
			diags_print(stderr, &d);
		assert_int_equal(err, 0);
		config_free(cfg);
		diags_free(&d);
	}
	globfree(&g);
}

static void ipv6_host_addresses_are_parsed(void **state)
{
	struct config *cfg =
	    parse_ok("hosts:\n"
		     "  - name: v6only\n"
		     "    roles: [IH]\n"
		     "    addresses: [\"2001:db8::21\", \"fd00:5e:0:0::1\", \"::1\"]\n"
		     "  - name: dual\n"
		     "    roles: [CAS]\n"
		     "    addresses: ['2001:DB8::22', 198.18.0.22]\n");

	(void)state;
	assert_int_equal(cfg->hosts[0].n_addrs, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(cfg->hosts[0].addrs[i].family, AF_INET6);
		assert_int_equal(cfg->hosts[0].addrs[i].len, 128);
	}
	assert_prefix(&cfg->hosts[0].addrs[0], "2001:db8::21");
	assert_prefix(&cfg->hosts[0].addrs[1], "fd00:5e::1");
	assert_prefix(&cfg->hosts[0].addrs[2], "::1");
	assert_prefix(&cfg->hosts[1].addrs[0], "2001:db8::22");
	assert_int_equal(cfg->hosts[1].addrs[1].family, AF_INET);
	assert_int_equal(cfg->hosts[1].addrs[1].len, 32);
	config_free(cfg);
}

static void dns_names_in_networks_become_name_peers(void **state)
{
	struct config *cfg =
	    parse_ok(ONE_HOST "networks:\n"
			      "  ADM: [admin.example.com, 198.18.9.0/24, any]\n"
			      "  CA: [ocsp.example.com, crl.example.net., \"2001:db8::/32\"]\n");
	const struct peer_list *adm = &cfg->networks[CONFIG_NETWORK_ADM].members;
	const struct peer_list *ca = &cfg->networks[CONFIG_NETWORK_CA].members;

	(void)state;
	assert_int_equal(adm->n, 3);
	assert_peer_name(&adm->v[0], "admin.example.com");
	assert_loc(adm->v[0].loc, 6, 9);
	assert_peer_prefix(&adm->v[1], "198.18.9.0/24");
	assert_int_equal(adm->v[2].kind, PEER_ANY);
	assert_int_equal(ca->n, 3);
	assert_peer_name(&ca->v[0], "ocsp.example.com");
	assert_peer_name(&ca->v[1], "crl.example.net.");
	assert_peer_prefix(&ca->v[2], "2001:db8::/32");
	config_free(cfg);
}

static void networks_defined_in_the_file_follow_adm_and_ca(void **state)
{
	/* rules come before networks in the file: the order of keys does not matter. */
	struct config *cfg = parse_ok(ONE_HOST "rules:\n"
					       "  - id: scrape\n"
					       "    port: 9100\n"
					       "    from: [MONITORING, backup-net]\n"
					       "    to: [MGMT]\n"
					       "networks:\n"
					       "  MONITORING: [198.18.9.50]\n"
					       "  backup-net: []\n"
					       "  ADM: [198.18.9.0/24]\n");

	(void)state;
	assert_int_equal(cfg->n_networks, CONFIG_BUILTIN_NETWORKS + 1);
	assert_string_equal(cfg->networks[0].name, "ADM");
	assert_string_equal(cfg->networks[1].name, "CA");
	assert_false(cfg->networks[1].from_file);
	assert_string_equal(cfg->networks[CONFIG_NETWORK_MONITORING].name, "MONITORING");
	assert_true(cfg->networks[CONFIG_NETWORK_MONITORING].from_file);
	assert_loc(cfg->networks[CONFIG_NETWORK_MONITORING].loc, 11, 3);
	assert_string_equal(cfg->networks[CONFIG_BUILTIN_NETWORKS].name, "backup-net");
	assert_int_equal(cfg->networks[CONFIG_BUILTIN_NETWORKS].members.n, 0);
	assert_peer_network(&cfg->rules[0].from.v[0], CONFIG_NETWORK_MONITORING);
	assert_peer_network(&cfg->rules[0].from.v[1], CONFIG_BUILTIN_NETWORKS);
	assert_ptr_equal(network(cfg, "MONITORING"), &cfg->networks[CONFIG_NETWORK_MONITORING]);
	config_free(cfg);
}

static void terms_resolve_to_roles_any_networks_prefixes_and_names(void **state)
{
	struct config *cfg =
	    parse_ok(ONE_HOST "rules:\n"
			      "  - id: everything\n"
			      "    port: 1\n"
			      "    from: [MGMT, CAS, IH, ANY, any, ADM, CA, 10.0.0.0/8,\n"
			      "           \"2001:db8::/32\", 192.0.2.1, \"2001:db8::1\",\n"
			      "           host.example.com]\n"
			      "    to: [MGMT]\n");
	const struct peer_list *from = &cfg->rules[0].from;

	(void)state;
	assert_int_equal(from->n, 12);
	assert_peer_role(&from->v[0], ROLE_MGMT);
	assert_peer_role(&from->v[1], ROLE_CAS);
	assert_peer_role(&from->v[2], ROLE_IH);
	assert_int_equal(from->v[3].kind, PEER_ANY);
	assert_int_equal(from->v[4].kind, PEER_ANY);
	assert_peer_network(&from->v[5], CONFIG_NETWORK_ADM);
	assert_peer_network(&from->v[6], CONFIG_NETWORK_CA);
	assert_peer_prefix(&from->v[7], "10.0.0.0/8");
	assert_peer_prefix(&from->v[8], "2001:db8::/32");
	assert_peer_prefix(&from->v[9], "192.0.2.1");
	assert_true(prefix_is_host(&from->v[9].prefix));
	assert_peer_prefix(&from->v[10], "2001:db8::1");
	assert_peer_name(&from->v[11], "host.example.com");
	assert_loc(from->v[0].loc, 8, 12);
	assert_loc(from->v[8].loc, 9, 12);
	assert_loc(from->v[11].loc, 10, 12);
	config_free(cfg);
}

static void narrow_replaces_the_any_side_on_either_side(void **state)
{
	struct config *cfg = parse_ok(ONE_HOST "narrow:\n"
					       "  cas-https: [ADM, 203.0.113.0/24]\n"
					       "  ih-smtp: [smtp.example.com]\n");
	const struct cfg_matrix_override *o;

	(void)state;
	o = row_override(cfg, "cas-https");
	assert_true(o->narrowed);
	assert_int_equal(o->narrow.n, 2);
	assert_peer_network(&o->narrow.v[0], CONFIG_NETWORK_ADM);
	assert_peer_prefix(&o->narrow.v[1], "203.0.113.0/24");
	assert_loc(o->loc, 6, 3);
	o = row_override(cfg, "ih-smtp");
	assert_true(o->narrowed);
	assert_peer_name(&o->narrow.v[0], "smtp.example.com");
	assert_false(row_override(cfg, "ih-ews")->narrowed);
	config_free(cfg);
}

/* ---- CONTRACT.md section 4: baselines, host names, icmp, icmpv6 and ip ---- */

static void section_4_example_sets_every_field_it_names(void **state)
{
	struct config *cfg = load_ok("real-host.yaml");
	const struct cfg_rule *r;

	(void)state;
	assert_int_equal(cfg->baselines, BASELINE_LINUX_HOST | BASELINE_KUBERNETES_NODE);
	assert_int_equal(cfg->metrics_port, CONFIG_DEFAULT_METRICS_PORT);
	assert_true(network(cfg, "NTP")->from_file);
	assert_peer_prefix(&network(cfg, "NTP")->members.v[0], "198.18.7.123");
	assert_peer_prefix(&network(cfg, "K8S_CONTROL")->members.v[0], "198.18.8.0/24");
	assert_peer_prefix(&network(cfg, "MONITORING")->members.v[0], "198.18.9.50");
	assert_int_equal(cfg->n_rules, 5);

	r = &cfg->rules[0]; /* backup-agent: to an inventory host by name */
	assert_int_equal(r->proto, IPPROTO_TCP);
	assert_int_equal(r->to.v[0].kind, PEER_HOST);
	assert_int_equal(r->to.v[0].host, 3);
	assert_loc(r->to.v[0].loc, 16, 63);
	assert_int_equal(r->from.v[0].host, CFG_NO_HOST); /* not an inventory address */

	r = &cfg->rules[1]; /* icmp by name: the type in port_lo == port_hi */
	assert_int_equal(r->proto, IPPROTO_ICMP);
	assert_int_equal(r->port_lo, 8);
	assert_int_equal(r->port_hi, 8);

	r = &cfg->rules[2]; /* ip by number: the protocol number, no port */
	assert_int_equal(r->proto, 112);
	assert_int_equal(r->port_lo, 0);
	assert_int_equal(r->port_hi, 0);
	assert_int_equal(r->from.v[0].kind, PEER_HOST);
	assert_int_equal(r->from.v[0].host, 1);
	assert_int_equal(r->from.v[1].host, 2);

	r = &cfg->rules[3]; /* icmpv6 by number */
	assert_int_equal(r->proto, IPPROTO_ICMPV6);
	assert_int_equal(r->port_lo, 128);

	r = &cfg->rules[4]; /* ip by name; an inventory address stands for its host */
	assert_int_equal(r->proto, 50);
	assert_int_equal(r->from.v[0].kind, PEER_PREFIX);
	assert_int_equal(r->from.v[0].host, 3);
	config_free(cfg);
}

static void baseline_networks_have_their_defaults(void **state)
{
	struct config *cfg = parse_ok(ONE_HOST "networks:\n"
					       "  ADM: [198.18.9.0/24, admin.example.com]\n"
					       "baseline: [linux-host]\n"
					       "metrics-port: 9700\n");
	const struct cfg_network *mon = network(cfg, "MONITORING");

	(void)state;
	assert_int_equal(cfg->baselines, BASELINE_LINUX_HOST);
	assert_int_equal(cfg->metrics_port, 9700);
	/* NTP: any; K8S_CONTROL: empty; MONITORING: ADM's members (copies). */
	assert_int_equal(network(cfg, "NTP")->members.n, 1);
	assert_int_equal(network(cfg, "NTP")->members.v[0].kind, PEER_ANY);
	assert_false(network(cfg, "NTP")->from_file);
	assert_int_equal(network(cfg, "K8S_CONTROL")->members.n, 0);
	assert_false(mon->from_file);
	assert_int_equal(mon->members.n, 2);
	assert_peer_prefix(&mon->members.v[0], "198.18.9.0/24");
	assert_peer_name(&mon->members.v[1], "admin.example.com");
	assert_ptr_not_equal(mon->members.v[1].name,
			     network(cfg, "ADM")->members.v[1].name);
	config_free(cfg);

	cfg = parse_ok(ONE_HOST "baseline:\n");
	assert_int_equal(cfg->baselines, 0);
	assert_int_equal(network(cfg, "MONITORING")->members.n, 0);
	config_free(cfg);
}

static void icmp_types_and_ip_protocols_by_name_and_number(void **state)
{
	static const struct {
		const char *rule;
		uint8_t proto;
		uint16_t type;
	} cases[] = {
		{ "{id: a, proto: icmp, icmp-type: echo-request, from: [ANY], to: [MGMT]}", 1, 8 },
		{ "{id: a, proto: icmp, icmp-type: 13, from: [ANY], to: [MGMT]}", 1, 13 },
		{ "{id: a, proto: icmp, icmp-type: '0', from: [ANY], to: [MGMT]}", 1, 0 },
		{ "{id: a, proto: icmpv6, icmp-type: echo-request, from: [ANY], to: [MGMT]}", 58, 128 },
		{ "{id: a, proto: icmpv6, icmp-type: router-renumbering, from: [ANY], to: [MGMT]}", 58,
		  138 },
		{ "{id: a, proto: ip, ip-proto: vrrp, from: [ANY], to: [MGMT]}", 112, 0 },
		{ "{id: a, proto: ip, ip-proto: gre, from: [ANY], to: [MGMT]}", 47, 0 },
		{ "{id: a, proto: ip, ip-proto: 253, from: [ANY], to: [MGMT]}", 253, 0 },
		{ "{id: a, proto: udp, port: 4789, from: [ANY], to: [MGMT]}", 17, 4789 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		struct config *cfg;

		snprintf(text, sizeof(text), ONE_HOST "rules:\n  - %s\n", cases[i].rule);
		cfg = parse_ok(text);
		assert_int_equal(cfg->rules[0].proto, cases[i].proto);
		assert_int_equal(cfg->rules[0].port_lo, cases[i].type);
		assert_int_equal(cfg->rules[0].port_hi, cases[i].type);
		config_free(cfg);
	}
}

static void host_names_are_targets_and_only_in_their_case(void **state)
{
	struct config *cfg = parse_ok("hosts:\n"
				      "  - {name: mgmt1, roles: [MGMT], addresses: [198.18.0.10]}\n"
				      "  - {name: db-1, roles: [IH], addresses: [198.18.0.30]}\n"
				      "networks:\n"
				      "  BACKUP: [db-1, 198.18.9.7]\n"
				      "rules:\n"
				      "  - {id: a, port: 873, from: [mgmt1], to: [BACKUP, 198.18.0.10]}\n");
	char msg[512];

	(void)state;
	assert_int_equal(cfg->rules[0].from.v[0].kind, PEER_HOST);
	assert_int_equal(cfg->rules[0].from.v[0].host, 0);
	assert_int_equal(network(cfg, "BACKUP")->members.v[0].kind, PEER_HOST);
	assert_int_equal(network(cfg, "BACKUP")->members.v[0].host, 1);
	assert_int_equal(network(cfg, "BACKUP")->members.v[1].host, CFG_NO_HOST);
	assert_int_equal(cfg->rules[0].to.v[1].kind, PEER_PREFIX);
	assert_int_equal(cfg->rules[0].to.v[1].host, 0);
	config_free(cfg);

	/* Host names are case-sensitive, like DNS labels written in the inventory. */
	parse_fails(ONE_HOST "rules:\n  - {id: a, port: 1, from: [MGMT1], to: [MGMT]}\n", msg,
		    sizeof(msg));
	assert_non_null(strstr(msg, "did you mean the host mgmt1?"));
	/* A DNS-looking host name is the host, not a lookup. */
	cfg = parse_ok("hosts:\n"
		       "  - {name: cas.example.com, roles: [CAS], addresses: [198.18.0.11]}\n"
		       "rules:\n"
		       "  - {id: a, port: 1, from: [cas.example.com], to: [CAS]}\n");
	assert_int_equal(cfg->rules[0].from.v[0].kind, PEER_HOST);
	config_free(cfg);
}

static void site_rule_with_port_range_is_parsed(void **state)
{
	struct config *cfg = parse_ok(ONE_HOST "rules:\n"
					       "  - id: passive-ftp\n"
					       "    port: \"8000-8100\"\n"
					       "    from: [ADM]\n"
					       "    to: [MGMT]\n"
					       "  - id: rtp\n"
					       "    proto: udp\n"
					       "    port: 10000-10000\n"
					       "    from: [ANY]\n"
					       "    to: [CAS, IH]\n");
	const struct cfg_rule *r;

	(void)state;
	assert_int_equal(cfg->n_rules, 2);
	r = &cfg->rules[0];
	assert_string_equal(r->id, "passive-ftp");
	assert_int_equal(r->proto, IPPROTO_TCP);
	assert_int_equal(r->port_lo, 8000);
	assert_int_equal(r->port_hi, 8100);
	assert_null(r->description);
	r = &cfg->rules[1];
	assert_int_equal(r->proto, IPPROTO_UDP);
	assert_int_equal(r->port_lo, 10000);
	assert_int_equal(r->port_hi, 10000);
	assert_int_equal(r->to.n, 2);
	config_free(cfg);
}

static void port_may_be_written_as_a_string(void **state)
{
	struct config *cfg =
	    parse_ok(ONE_HOST "ports:\n"
			      "  mgmt-console: \"9470\"\n"
			      "  cas-https: 8443\n"
			      "rules:\n"
			      "  - {id: ssh-alt, port: '2222', from: [ADM], to: [MGMT]}\n");

	(void)state;
	assert_int_equal(row_override(cfg, "mgmt-console")->port, 9470);
	assert_int_equal(row_override(cfg, "cas-https")->port, 8443);
	assert_int_equal(cfg->rules[0].port_lo, 2222);
	assert_int_equal(cfg->rules[0].port_hi, 2222);
	config_free(cfg);
}

static void failsafe_list_replaces_the_default(void **state)
{
	struct config *cfg =
	    parse_ok(ONE_HOST "failsafe:\n"
			      "  - id: ssh-from-jump\n"
			      "    port: 22\n"
			      "    from: [198.18.9.2]\n"
			      "    to: [MGMT]\n"
			      "    description: the jump host\n"
			      "  - {id: console, proto: tcp, port: 8470, from: [ADM]}\n");
	const struct cfg_rule *r;

	(void)state;
	assert_true(cfg->failsafe_from_file);
	assert_int_equal(cfg->n_failsafe, 2);
	r = &cfg->failsafe[0];
	assert_string_equal(r->id, "ssh-from-jump");
	assert_peer_prefix(&r->from.v[0], "198.18.9.2");
	assert_int_equal(r->to.n, 1);
	assert_peer_role(&r->to.v[0], ROLE_MGMT);
	assert_string_equal(r->description, "the jump host");
	assert_loc(r->loc, 6, 9);
	r = &cfg->failsafe[1];
	assert_string_equal(r->id, "console");
	assert_int_equal(r->port_lo, 8470);
	/* Without `to`, a failsafe rule protects every host. */
	assert_int_equal(r->to.n, 1);
	assert_peer_role(&r->to.v[0], ROLE_ALL);
	assert_loc(r->to.v[0].loc, 0, 0);
	assert_null(r->description);
	assert_int_equal(cfg->n_rules, 0);
	config_free(cfg);
}

static void empty_failsafe_list_turns_the_failsafe_off(void **state)
{
	struct config *cfg = parse_ok(ONE_HOST "failsafe: []\n");

	(void)state;
	assert_true(cfg->failsafe_from_file);
	assert_int_equal(cfg->n_failsafe, 0);
	assert_null(cfg->failsafe);
	config_free(cfg);
}

static void extensions_resolvers_dns_and_udp_timeout_are_read(void **state)
{
	struct config *cfg = parse_ok(ONE_HOST "resolvers: [198.18.0.53, \"fd00:5e::53\"]\n"
					       "dns: {min-ttl: 1, max-ttl: 86400}\n"
					       "udp-timeout: 300\n");

	(void)state;
	assert_true(cfg->resolvers_from_file);
	assert_int_equal(cfg->n_resolvers, 2);
	assert_prefix(&cfg->resolvers[0], "198.18.0.53");
	assert_prefix(&cfg->resolvers[1], "fd00:5e::53");
	assert_int_equal(cfg->dns_min_ttl, 1);
	assert_int_equal(cfg->dns_max_ttl, 86400);
	assert_int_equal(cfg->udp_timeout, 300);
	config_free(cfg);
}

static void audit_mode_and_pass_defaults_are_read(void **state)
{
	struct config *cfg = parse_ok("mode: audit\n" ONE_HOST "default: {ingress: pass}\n");

	(void)state;
	assert_int_equal(cfg->mode, SPEE_MODE_AUDIT);
	assert_int_equal(cfg->default_action[SPEE_DIR_INGRESS], SPEE_ACTION_PASS);
	assert_int_equal(cfg->default_action[SPEE_DIR_EGRESS], SPEE_ACTION_DROP);
	config_free(cfg);
}

static void sections_left_empty_change_nothing(void **state)
{
	/* A key whose entries are all commented out is a YAML null. */
	struct config *cfg = parse_ok(ONE_HOST "networks:\n"
					       "ports:\n"
					       "#  mgmt-console: 9470\n"
					       "disable:\n"
					       "narrow: ~\n"
					       "rules:\n"
					       "dns:\n");

	(void)state;
	assert_int_equal(cfg->n_networks, CONFIG_BUILTIN_NETWORKS);
	assert_int_equal(cfg->networks[CONFIG_NETWORK_CA].members.n, 1);
	assert_int_equal(row_override(cfg, "mgmt-console")->port, 0);
	assert_int_equal(cfg->n_rules, 0);
	assert_default_failsafe(cfg);
	config_free(cfg);
}

static void aliases_are_followed(void **state)
{
	struct config *cfg = parse_ok(ONE_HOST "rules:\n"
					       "  - id: a\n"
					       "    port: &port 8443\n"
					       "    from: &admins [ADM, 198.18.9.50]\n"
					       "    to: [MGMT]\n"
					       "  - id: b\n"
					       "    port: *port\n"
					       "    from: *admins\n"
					       "    to: [MGMT]\n");

	(void)state;
	assert_int_equal(cfg->rules[1].from.n, 2);
	assert_peer_prefix(&cfg->rules[1].from.v[1], "198.18.9.50");
	assert_int_equal(cfg->rules[1].port_lo, 8443);
	config_free(cfg);
}

static void matrix_override_points_at_its_first_mention(void **state)
{
	/* ports: comes before disable: in the file, though it is parsed after it. */
	struct config *cfg = parse_ok(ONE_HOST "ports: {mgmt-api: 9474}\n"
					       "disable: [mgmt-api]\n");
	const struct cfg_matrix_override *o = row_override(cfg, "mgmt-api");

	(void)state;
	assert_true(o->disabled);
	assert_int_equal(o->port, 9474);
	assert_loc(o->loc, 5, 9);
	config_free(cfg);
}

static void sha256_is_the_digest_of_the_file_bytes(void **state)
{
	/* sha256sum of exactly these bytes. */
	static const uint8_t want[32] = {
	    0x38, 0xf4, 0xb3, 0xe6, 0xe8, 0xaf, 0x09, 0x40, 0x5d, 0x15, 0xcd,
	    0x08, 0x85, 0x8c, 0x76, 0x1b, 0xc7, 0x85, 0x7e, 0x4a, 0xfb, 0xf4,
	    0x3a, 0xf7, 0xc6, 0x29, 0x7f, 0x8e, 0x56, 0xf9, 0x54, 0xf2,
	};
	struct config *cfg = parse_ok(ONE_HOST);

	(void)state;
	assert_memory_equal(cfg->sha256, want, sizeof(want));
	assert_string_equal(cfg->path, "test.yaml");
	config_free(cfg);
}

static void find_host_and_network_look_up_by_name(void **state)
{
	struct config *cfg = load_ok("contract-example.yaml");

	(void)state;
	assert_ptr_equal(config_find_host(cfg, "cas1"), &cfg->hosts[1]);
	assert_null(config_find_host(cfg, "CAS1"));
	assert_null(config_find_host(cfg, "nope"));
	assert_ptr_equal(config_find_network(cfg, "ADM"), &cfg->networks[CONFIG_NETWORK_ADM]);
	assert_ptr_equal(config_find_network(cfg, "CA"), &cfg->networks[CONFIG_NETWORK_CA]);
	assert_null(config_find_network(cfg, "ANY"));
	config_free(cfg);
}

static void every_problem_of_a_file_is_reported_in_file_order(void **state)
{
	static const char text[] = "mode: enforcing\n"
				   "hosts:\n"
				   "  - name: mgmt1\n"
				   "    roles: [MGMT, ARCHIVE]\n"
				   "    addresses: [198.18.0.10]\n"
				   "  - name: ih1\n"
				   "    roles: [IH]\n"
				   "    addresses: [198.18.0.10]\n"
				   "networks:\n"
				   "  ADM: [198.18.9.1/24]\n"
				   "ports:\n"
				   "  mgmt-console: 0\n"
				   "rules:\n"
				   "  - id: backup\n"
				   "    port: 873\n"
				   "    from: [BACKUP]\n"
				   "    to: [MGMT]\n"
				   "default:\n"
				   "  ingress: accept\n";
	static const int lines[] = {1, 4, 8, 10, 12, 16, 19};
	struct diags d = {0};
	struct config *cfg = NULL;

	(void)state;
	assert_int_equal(config_parse("multi.yaml", text, strlen(text), &cfg, &d), -EINVAL);
	assert_null(cfg);
	if (d.n != sizeof(lines) / sizeof(lines[0]))
		diags_print(stderr, &d);
	assert_int_equal(d.n, sizeof(lines) / sizeof(lines[0]));
	for (size_t i = 0; i < d.n; i++) {
		assert_string_equal(d.v[i].file, "multi.yaml");
		assert_int_equal(d.v[i].line, lines[i]);
	}
	diags_free(&d);
}

/*
 * The duplicate checks go through a hash index (a scan of every earlier host
 * made large inventories quadratic): among thousands of hosts they still
 * name the first definition, compare addresses as addresses, and report in
 * file order.
 */
static void duplicates_among_thousands_of_hosts_name_the_first_definition(void **state)
{
	enum { N = 3000 };
	char *text = NULL, msg[3][128];
	size_t len = 0;
	struct diags d = {0};
	struct config *cfg = NULL;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	fprintf(f, "hosts:\n");
	for (unsigned i = 0; i < N; i++) {
		unsigned v4 = i == N - 2 ? 8 : i + 1; /* host 7's */
		unsigned v6 = i == N - 3 ? 9 : i + 1; /* host 8's, written another way */

		fprintf(f, "  - name: h%u\n    roles: [IH]\n", i == N - 1 ? 5 : i);
		fprintf(f, "    addresses: [198.18.%u.%u, \"fd00:5e:%s%x\"]\n", v4 >> 8, v4 & 0xff,
			i == N - 3 ? "0:0::" : ":", v6);
	}
	assert_int_equal(fclose(f), 0);
	assert_int_equal(config_parse("big.yaml", text, len, &cfg, &d), -EINVAL);
	/* Host i's name is on line 2 + 3i, its addresses on line 4 + 3i. */
	snprintf(msg[0], sizeof(msg[0]),
		 "address fd00:5e:0:0::9 is already used by host 'h8' (line %d)", 4 + 3 * 8);
	snprintf(msg[1], sizeof(msg[1]),
		 "address 198.18.0.8 is already used by host 'h7' (line %d)", 4 + 3 * 7);
	snprintf(msg[2], sizeof(msg[2]), "duplicate host name 'h5' (first defined at line %d)",
		 2 + 3 * 5);
	if (d.n != 3)
		diags_print(stderr, &d);
	assert_int_equal(d.n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(d.v[i].msg, msg[i]);
	assert_int_equal(d.v[0].line, 4 + 3 * (N - 3));
	assert_int_equal(d.v[1].line, 4 + 3 * (N - 2));
	assert_int_equal(d.v[2].line, 2 + 3 * (N - 1));
	diags_free(&d);
	free(text);
}

static void diagnostics_already_collected_are_kept_first(void **state)
{
	static const char text[] = "hosts: []\nmode: x\n";
	struct diags d = {0};
	struct config *cfg = NULL;

	(void)state;
	assert_int_equal(diag_add(&d, "other.yaml", 99, 1, "earlier problem"), 0);
	assert_int_equal(config_parse("bad.yaml", text, strlen(text), &cfg, &d), -EINVAL);
	assert_int_equal(d.n, 3);
	assert_string_equal(d.v[0].msg, "earlier problem");
	assert_int_equal(d.v[1].line, 1);
	assert_int_equal(d.v[2].line, 2);
	diags_free(&d);
}

static void empty_buffer_is_an_empty_config(void **state)
{
	char buf[256];

	(void)state;
	assert_int_equal(parse_fails("", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "bad.yaml:1:1: empty config");
	assert_int_equal(parse_fails("# nothing but a comment\n\n", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "bad.yaml:1:1: empty config");
}

static void missing_file_is_reported_with_its_errno(void **state)
{
	struct diags d = {0};
	struct config *cfg = NULL;
	char buf[256];

	(void)state;
	assert_int_equal(config_load("/nonexistent/speebpf.yaml", &cfg, &d), -ENOENT);
	assert_null(cfg);
	assert_int_equal(d.n, 1);
	diag_format(&d.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "/nonexistent/speebpf.yaml: cannot read the config: "
				 "No such file or directory");
	diags_free(&d);
}

static void directory_is_reported_with_its_errno(void **state)
{
	struct diags d = {0};
	struct config *cfg = NULL;

	(void)state;
	assert_int_equal(config_load(fixtures_dir(), &cfg, &d), -EISDIR);
	assert_null(cfg);
	assert_int_equal(d.n, 1);
	diags_free(&d);
}

/*
 * A FIFO at the config path: refused at once, never waited on (an open()
 * without a writer would block the agent's only loop, its signals, and
 * status). The alarm ends the test, failed, if it waits.
 */
static void a_fifo_is_refused_without_waiting(void **state)
{
	char path[64], buf[256];
	struct diags d = {0};
	struct config *cfg = NULL;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/spk-fifo-%d.yaml", getpid());
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	assert_int_equal(config_load(path, &cfg, &d), -EINVAL);
	alarm(0);
	unlink(path);
	assert_null(cfg);
	assert_int_equal(d.n, 1);
	diag_format(&d.v[0], buf, sizeof(buf));
	assert_non_null(strstr(buf, "cannot read the config: it is a FIFO, not a file"));
	diags_free(&d);
}

/* 100,000 nested lists took libyaml over 20 s to refuse: refused at the first level too deep. */
static void nesting_deeper_than_the_cap_is_refused_where_it_starts(void **state)
{
	size_t n = 100000;
	char *text = malloc(n + 2), buf[256];

	(void)state;
	assert_non_null(text);
	memset(text, '[', n);
	text[n] = '\n';
	text[n + 1] = '\0';
	assert_int_equal(parse_fails(text, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "bad.yaml:1:65: lists and mappings nested deeper than 64 levels");
	free(text);
	/* block style too */
	assert_int_equal(parse_fails("hosts:\n - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - "
				     "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - x\n",
				     buf, sizeof(buf)),
			 1);
	assert_non_null(strstr(buf, "nested deeper than 64 levels"));
}

static void messages_hint_at_what_was_meant(void **state)
{
	char buf[256];

	(void)state;
	parse_fails(ONE_HOST "disable: [mgmt-consol]\n", buf, sizeof(buf));
	assert_string_equal(buf, "bad.yaml:5:11: unknown rule id 'mgmt-consol' "
				 "(did you mean 'mgmt-console'?)");
	parse_fails(ONE_HOST "rules:\n  - {id: x, port: 1, from: [Mgmt], to: [MGMT]}\n", buf,
		    sizeof(buf));
	assert_string_equal(buf,
			    "bad.yaml:6:29: unknown role or network 'Mgmt' (did you mean MGMT?)");
	parse_fails("hosts:\n  - name: a\n    roles: [MGMT]\n    adresses: [198.18.0.1]\n", buf,
		    sizeof(buf));
	assert_string_equal(buf,
			    "bad.yaml:4:5: unknown key 'adresses' (did you mean 'addresses'?)");
}

/* ---- one test per file under errors/ ---- */

/* "# expect: LINE:COL: message" -> "PATH:LINE:COL: message" */
static void expected_diagnostic(const char *path, char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	assert_true(!strncmp(line, EXPECT_TAG, strlen(EXPECT_TAG)));
	snprintf(buf, len, "%s:%s", path, line + strlen(EXPECT_TAG));
}

static void error_fixture_is_rejected_with_its_expected_message(void **state)
{
	const char *path = *state;
	struct diags d = {0};
	struct config *cfg = NULL;
	char want[600], got[600];
	int err;

	expected_diagnostic(path, want, sizeof(want));
	err = config_load(path, &cfg, &d);
	if (d.n)
		diag_format(&d.v[0], got, sizeof(got));
	else
		snprintf(got, sizeof(got), "(no diagnostic)");
	if (err != -EINVAL || strcmp(got, want))
		diags_print(stderr, &d);
	diags_free(&d);
	config_free(cfg);
	assert_int_equal(err, -EINVAL);
	assert_string_equal(got, want);
}

static int run_error_fixtures(void)
{
	struct CMUnitTest *tests = NULL;
	char pattern[512];
	int failed = 1;
	glob_t g;

	fixture_path(pattern, sizeof(pattern), "errors/*.yaml");
	if (glob(pattern, 0, NULL, &g)) {
		fprintf(stderr, "no error fixtures match %s\n", pattern);
		return 1;
	}
	if (g.gl_pathc < MIN_ERROR_FIXTURES) {
		fprintf(stderr, "only %zu error fixtures in %s\n", g.gl_pathc, pattern);
		goto out;
	}
	tests = calloc(g.gl_pathc, sizeof(*tests));
	assert_non_null(tests);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *base = strrchr(g.gl_pathv[i], '/');
		char *name;

		base = base ? base + 1 : g.gl_pathv[i];
		if (asprintf(&name, "errors/%s is rejected with its expected message", base) < 0)
			goto out;
		tests[i].name = name;
		tests[i].test_func = error_fixture_is_rejected_with_its_expected_message;
		tests[i].initial_state = g.gl_pathv[i];
	}
	failed = _cmocka_run_group_tests("config error fixtures", tests, g.gl_pathc, NULL, NULL);
out:
	if (tests)
		for (size_t i = 0; i < g.gl_pathc; i++)
			free((char *)tests[i].name);
	free(tests);
	globfree(&g);
	return failed;
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(contract_example_sets_every_field_it_names),
	    cmocka_unit_test(minimal_config_gets_the_contract_defaults),
	    cmocka_unit_test(every_key_fixture_is_valid),
	    cmocka_unit_test(every_valid_fixture_loads),
	    cmocka_unit_test(ipv6_host_addresses_are_parsed),
	    cmocka_unit_test(dns_names_in_networks_become_name_peers),
	    cmocka_unit_test(networks_defined_in_the_file_follow_adm_and_ca),
	    cmocka_unit_test(terms_resolve_to_roles_any_networks_prefixes_and_names),
	    cmocka_unit_test(narrow_replaces_the_any_side_on_either_side),
	    cmocka_unit_test(section_4_example_sets_every_field_it_names),
	    cmocka_unit_test(baseline_networks_have_their_defaults),
	    cmocka_unit_test(icmp_types_and_ip_protocols_by_name_and_number),
	    cmocka_unit_test(host_names_are_targets_and_only_in_their_case),
	    cmocka_unit_test(site_rule_with_port_range_is_parsed),
	    cmocka_unit_test(port_may_be_written_as_a_string),
	    cmocka_unit_test(failsafe_list_replaces_the_default),
	    cmocka_unit_test(empty_failsafe_list_turns_the_failsafe_off),
	    cmocka_unit_test(extensions_resolvers_dns_and_udp_timeout_are_read),
	    cmocka_unit_test(audit_mode_and_pass_defaults_are_read),
	    cmocka_unit_test(sections_left_empty_change_nothing),
	    cmocka_unit_test(aliases_are_followed),
	    cmocka_unit_test(matrix_override_points_at_its_first_mention),
	    cmocka_unit_test(sha256_is_the_digest_of_the_file_bytes),
	    cmocka_unit_test(find_host_and_network_look_up_by_name),
	    cmocka_unit_test(every_problem_of_a_file_is_reported_in_file_order),
	    cmocka_unit_test(duplicates_among_thousands_of_hosts_name_the_first_definition),
	    cmocka_unit_test(diagnostics_already_collected_are_kept_first),
	    cmocka_unit_test(empty_buffer_is_an_empty_config),
	    cmocka_unit_test(missing_file_is_reported_with_its_errno),
	    cmocka_unit_test(directory_is_reported_with_its_errno),
	    cmocka_unit_test(a_fifo_is_refused_without_waiting),
	    cmocka_unit_test(nesting_deeper_than_the_cap_is_refused_where_it_starts),
	    cmocka_unit_test(messages_hint_at_what_was_meant),
	};
	int failed;

	failed = cmocka_run_group_tests_name("config", tests, NULL, NULL);
	failed += run_error_fixtures();
	return failed ? 1 : 0;
}
