// SPDX-License-Identifier: GPL-2.0-only
/*
 * A gateway instance (apply --gateway: kernel/apply.c, links.c,
 * maps_gateway.c, drift.c, detach.c) on a real BPF filesystem, in a network
 * namespace of the test's own holding a bridge with two ports and a routed
 * uplink: each interface hooked by its kind (tc ingress on the bridge ports,
 * XDP on the uplink), the gateway's maps filled, status --json telling it,
 * a policy change written in place without touching a hook, host indexes
 * kept across a change of the inventory, drift seen and repaired, a bridge
 * device refused by its ports, an interface dropped, and detach leaving
 * nothing. Only the gateway's programs are loaded in gateway mode, and none
 * of them in host mode. Runs under tests/run-unit.sh --bpffs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "apply.h"
#include "bpfenv.h"
#include "config.h"
#include "detach.h"
#include "drift.h"
#include "gateway.h"
#include "ifaces.h"
#include "instance.h"
#include "links.h"
#include "loader.h"
#include "maps_gateway.h"
#include "pindir.h"

#define UPLINK "spg-up0"
#define UPLINK_PEER "spg-up1"
#define BRIDGE "spg-br"
#define PORT1 "spg-p1"
#define PORT2 "spg-p2"

static char pin_dir[128], config_path[128];

static const char config_v1[] =
	"hosts:\n"
	"  - {name: mgmt1, roles: [MGMT], addresses: [198.18.0.10, \"fd00:5e::10\"]}\n"
	"  - {name: cas1, roles: [CAS], addresses: [198.18.0.11]}\n"
	"  - {name: cas2, roles: [CAS], addresses: [198.18.0.12]}\n"
	"  - {name: ih1, roles: [IH], addresses: [198.18.0.21]}\n"
	"networks:\n"
	"  ADM: [198.18.9.0/24]\n"
	"resolvers: [198.19.2.53]\n";

/* v1 with a site rule of CAS's (its policy changes) and cas1 gone (ih1 keeps its index) */
static const char config_v2[] =
	"hosts:\n"
	"  - {name: mgmt1, roles: [MGMT], addresses: [198.18.0.10, \"fd00:5e::10\"]}\n"
	"  - {name: cas2, roles: [CAS], addresses: [198.18.0.12]}\n"
	"  - {name: ih1, roles: [IH], addresses: [198.18.0.21]}\n"
	"networks:\n"
	"  ADM: [198.18.9.0/24]\n"
	"rules:\n"
	"  - {id: extra-web, port: 8080, from: [ADM], to: [CAS]}\n"
	"resolvers: [198.19.2.53]\n";

struct compiled {
	struct config *cfg;
	struct gateway_policy *g;
};

/* The config text, written where the record will name it, compiled for the gateway. */
static struct compiled compile(const char *text)
{
	struct compiled c = { 0 };
	struct diags d = { 0 };
	FILE *f = fopen(config_path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) < 0, 0);
	assert_int_equal(fclose(f), 0);
	if (config_load(config_path, &c.cfg, &d) || gateway_compile(c.cfg, NULL, &c.g, &d)) {
		diags_print(stderr, &d);
		fail();
	}
	diags_free(&d);
	return c;
}

static void compiled_free(struct compiled *c)
{
	gateway_free(c->g);
	config_free(c->cfg);
}

static struct instance *open_handle;

static struct instance *open_inst(void)
{
	struct diags d = { 0 };

	if (instance_open(pin_dir, INSTANCE_CREATE, &open_handle, &d)) {
		diags_print(stderr, &d);
		fail();
	}
	diags_free(&d);
	return open_handle;
}

static int close_handle(void **state)
{
	(void)state;
	instance_close(open_handle);
	open_handle = NULL;
	return 0;
}

static int apply_gw(struct instance *inst, const struct compiled *c, char **ifaces, size_t n,
		    struct apply_outcome *out, struct diags *d)
{
	struct name_table t = { 0 };
	struct apply_request req = {
		.policy = &c->g->fleet,
		.gateway = c->g,
		.names = &t,
		.ifaces = ifaces,
		.n_ifaces = n,
	};

	return apply_policy(inst, &req, out, d);
}

static struct apply_outcome apply_ok(struct instance *inst, const struct compiled *c,
				     char **ifaces, size_t n)
{
	struct apply_outcome out;
	struct diags d = { 0 };

	if (apply_gw(inst, c, ifaces, n, &out, &d)) {
		diags_print(stderr, &d);
		fail();
	}
	diags_free(&d);
	return out;
}

static char *all_three[] = { PORT1, PORT2, UPLINK };

/* The name of the program with this id ("" when there is none). */
static void prog_name(uint32_t id, char *out, size_t len)
{
	struct bpf_prog_info info;
	uint32_t info_len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	out[0] = '\0';
	if (fd < 0)
		return;
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(fd, &info, &info_len))
		snprintf(out, len, "%s", info.name);
	close(fd);
}

static uint32_t tc_ingress_prog(const char *ifname)
{
	uint32_t id = 0;

	assert_int_equal(ifaces_tc_ingress_query(if_nametoindex(ifname), &id), 0);
	return id;
}

static uint32_t xdp_prog(const char *ifname)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	assert_int_equal(bpf_xdp_query((int)if_nametoindex(ifname), 0, &q), 0);
	return q.prog_id;
}

static size_t hash_entries(int fd, size_t ksz)
{
	uint8_t key[64], prev[64];
	size_t n = 0;
	bool first = true;

	while (!bpf_map_get_next_key(fd, first ? NULL : prev, key)) {
		memcpy(prev, key, ksz);
		first = false;
		n++;
	}
	return n;
}

static struct spee_gw_host host_entry(struct instance *inst, const char *addr4)
{
	struct spee_runtime rt;
	struct spee_gw_host_key k = { 0 };
	struct spee_gw_host v = { 0 };

	assert_int_equal(maps_read_runtime(&inst->maps, &rt, NULL), 0);
	k.slot = (uint8_t)(rt.active & 1);
	k.family = SPEE_FAMILY_V4;
	assert_int_equal(inet_pton(AF_INET, addr4, k.addr), 1);
	if (bpf_map_lookup_elem(inst->maps.fd[SPEE_MAP_GW_HOSTS], &k, &v))
		memset(&v, 0, sizeof(v));
	return v;
}

static void only_the_programs_of_the_mode_are_loaded(void **state)
{
	struct loader_sizes sz;
	struct loader l;
	struct diags d = { 0 };

	(void)state;
	loader_sizes_default(&sz);
	assert_int_equal(loader_load_mode(&l, &sz, NULL, LOADER_PROGS_GATEWAY, &d), 0);
	for (int p = 0; p < SPEE_PROG_COUNT; p++)
		assert_int_equal(loader_prog_fd(&l, (enum spee_prog_id)p) >= 0,
				 spee_where_gateway(spee_progs[p].where));
	loader_close(&l);
	assert_int_equal(loader_load_mode(&l, &sz, NULL, LOADER_PROGS_HOST, &d), 0);
	for (int p = 0; p < SPEE_PROG_COUNT; p++)
		assert_int_equal(loader_prog_fd(&l, (enum spee_prog_id)p) >= 0,
				 !spee_where_gateway(spee_progs[p].where));
	loader_close(&l);
	/* loader_load: the whole object, for tests and benchmarks of either mode */
	assert_int_equal(loader_load(&l, &sz, NULL, &d), 0);
	for (int p = 0; p < SPEE_PROG_COUNT; p++)
		assert_true(loader_prog_fd(&l, (enum spee_prog_id)p) >= 0);
	loader_close(&l);
	diags_free(&d);
}

static void each_interface_is_hooked_by_its_kind(void **state)
{
	struct compiled c = compile(config_v1);
	struct instance *inst = open_inst();
	struct apply_outcome out;
	struct links_assessment a;
	char name[32], path[256];
	struct spee_gw_name nm;
	__u32 index = 2;

	(void)state;
	out = apply_ok(inst, &c, all_three, 3);
	assert_true(out.created);
	assert_int_equal(out.attached, 3);
	/* the bridge ports: the tc ingress filter; the uplink: XDP and no tc egress filter */
	prog_name(tc_ingress_prog(PORT1), name, sizeof(name));
	assert_string_equal(name, "spee_gw_tc");
	prog_name(tc_ingress_prog(PORT2), name, sizeof(name));
	assert_string_equal(name, "spee_gw_tc");
	assert_int_equal(xdp_prog(PORT1), 0);
	prog_name(xdp_prog(UPLINK), name, sizeof(name));
	assert_string_equal(name, "spee_gw_xdp");
	{
		uint32_t egress = 1;

		assert_int_equal(ifaces_tc_query(if_nametoindex(UPLINK), &egress), 0);
		assert_int_equal(egress, 0);
	}
	assert_int_equal(tc_ingress_prog(UPLINK), 0);
	snprintf(path, sizeof(path), "%s/links/gw-xdp-" UPLINK, pin_dir);
	assert_int_equal(access(path, F_OK), 0);
	/* the record: a gateway of 4 hosts, 3 policies (cas1 and cas2 share one), its ports */
	assert_int_equal(inst->rec.kind, SPEE_INST_GATEWAY);
	assert_int_equal(inst->rec.gw_hosts, 4);
	assert_int_equal(inst->rec.gw_policies, 3);
	assert_int_equal(inst->rec.gw_n_ports, 2);
	assert_string_equal(inst->rec.gw_ports[0], PORT1);
	assert_string_equal(inst->rec.gw_ports[1], PORT2);
	assert_string_equal(inst->rec.config_path, config_path);
	a = (struct links_assessment){ 0 };
	assert_int_equal(links_assess(inst, NULL, &a), 0);
	assert_true(links_settled(&a));
	assert_int_equal(a.n, 3);
	links_assessment_free(&a);
	/* the maps: every host address, the names, a zero counter per rule and direction */
	assert_int_equal(host_entry(inst, "198.18.0.11").host, 2);
	assert_int_equal(host_entry(inst, "198.18.0.12").host, 3);
	assert_int_equal(host_entry(inst, "198.18.0.11").policy,
			 host_entry(inst, "198.18.0.12").policy);
	assert_int_not_equal(host_entry(inst, "198.18.0.10").policy,
			     host_entry(inst, "198.18.0.11").policy);
	assert_int_equal(hash_entries(inst->maps.fd[SPEE_MAP_GW_HOSTS],
				      sizeof(struct spee_gw_host_key)),
			 5);
	assert_int_equal(bpf_map_lookup_elem(inst->maps.fd[SPEE_MAP_GW_NAMES], &index, &nm), 0);
	assert_string_equal(nm.name, "cas1");
	{
		struct maps_gateway_counts cnt;

		maps_gateway_count(c.g, NULL, &cnt);
		assert_int_equal(hash_entries(inst->maps.fd[SPEE_MAP_GW_CTR],
					      sizeof(struct spee_gw_ctr_key)),
				 cnt.rule_ctrs);
	}
	compiled_free(&c);
}

/* Runs speebpf status --json and parses what it prints. */
static struct json_object *status_json(int *exit_code)
{
	const char *bin = getenv("SPEEBPF") ? getenv("SPEEBPF") : "build/speebpf";
	char cmd[512], *buf = NULL;
	size_t len = 0;
	FILE *out, *p;
	struct json_object *o;
	int status, ch;

	snprintf(cmd, sizeof(cmd), "%s status --json --pin-dir %s", bin, pin_dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	out = open_memstream(&buf, &len);
	assert_non_null(out);
	while ((ch = fgetc(p)) != EOF)
		fputc(ch, out);
	fclose(out);
	status = pclose(p);
	*exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	o = json_tokener_parse(buf);
	if (!o)
		fail_msg("status --json printed no JSON: %s", buf);
	free(buf);
	return o;
}

static const char *hook_of(struct json_object *ifs, const char *iface)
{
	for (size_t i = 0; i < json_object_array_length(ifs); i++) {
		struct json_object *j = json_object_array_get_idx(ifs, i), *v;

		if (json_object_object_get_ex(j, "interface", &v) &&
		    !strcmp(json_object_get_string(v), iface) &&
		    json_object_object_get_ex(j, "hook", &v))
			return json_object_get_string(v);
	}
	return NULL;
}

static void status_json_tells_the_gateway(void **state)
{
	struct json_object *o, *gw, *v, *ifs, *drift;
	int code;

	(void)state;
	o = status_json(&code);
	assert_int_equal(code, 0);
	assert_true(json_object_object_get_ex(o, "kind", &v));
	assert_string_equal(json_object_get_string(v), "gateway");
	assert_true(json_object_object_get_ex(o, "gateway", &gw));
	assert_true(json_object_object_get_ex(gw, "hosts", &v));
	assert_int_equal(json_object_get_int(v), 4);
	assert_true(json_object_object_get_ex(gw, "policies", &v));
	assert_int_equal(json_object_get_int(v), 3);
	assert_true(json_object_object_get_ex(gw, "interfaces", &ifs));
	assert_int_equal(json_object_array_length(ifs), 3);
	assert_string_equal(hook_of(ifs, PORT1), "tc-ingress");
	assert_string_equal(hook_of(ifs, PORT2), "tc-ingress");
	assert_string_equal(hook_of(ifs, UPLINK), "xdp");
	assert_true(json_object_object_get_ex(o, "drift", &drift));
	assert_true(json_object_object_get_ex(drift, "found", &v));
	assert_false(json_object_get_boolean(v));
	json_object_put(o);
}

static void a_policy_change_is_written_in_place_and_hosts_keep_their_index(void **state)
{
	struct compiled c = compile(config_v2);
	struct instance *inst = open_inst();
	uint32_t xdp = xdp_prog(UPLINK), tc1 = tc_ingress_prog(PORT1), tc2 = tc_ingress_prog(PORT2);
	uint32_t gen = inst->rec.generation, exact_id = inst->map_id[SPEE_MAP_EXACT];
	struct spee_gw_ctr_key k, prev;
	struct apply_outcome out;
	struct spee_gw_name nm;
	bool first = true;
	__u32 index = 2;

	(void)state;
	out = apply_ok(inst, &c, all_three, 3);
	assert_false(out.created);
	assert_int_equal(out.attached + out.detached + out.replaced, 0);
	assert_int_equal(inst->rec.generation, gen + 1);
	/* no hook touched, no map replaced */
	assert_int_equal(xdp_prog(UPLINK), xdp);
	assert_int_equal(tc_ingress_prog(PORT1), tc1);
	assert_int_equal(tc_ingress_prog(PORT2), tc2);
	assert_int_equal(inst->map_id[SPEE_MAP_EXACT], exact_id);
	/* cas1 is gone: its address, name and counters; cas2 and ih1 keep their indexes */
	assert_int_equal(host_entry(inst, "198.18.0.11").host, 0);
	assert_int_equal(host_entry(inst, "198.18.0.12").host, 3);
	assert_int_equal(host_entry(inst, "198.18.0.21").host, 4);
	assert_int_equal(inst->rec.gw_hosts, 3);
	assert_int_not_equal(bpf_map_lookup_elem(inst->maps.fd[SPEE_MAP_GW_NAMES], &index, &nm), 0);
	while (!bpf_map_get_next_key(inst->maps.fd[SPEE_MAP_GW_CTR], first ? NULL : &prev, &k)) {
		assert_int_not_equal(k.host, 2);
		prev = k;
		first = false;
	}
	compiled_free(&c);
}

static void drift_is_seen_and_an_apply_repairs_it(void **state)
{
	struct compiled c = compile(config_v2);
	struct instance *inst = open_inst();
	struct spee_runtime rt;
	struct spee_gw_host_key k = { .family = SPEE_FAMILY_V4 };
	struct drift_report r;
	struct diags d = { 0 };
	struct name_table t = { 0 };

	(void)state;
	assert_int_equal(drift_check_gateway(inst, c.g, &t, false, &r, &d), 0);
	assert_false(drift_found(&r));
	/* a port's filter removed behind its back, a host address deleted */
	assert_int_equal(ifaces_tc_ingress_detach(if_nametoindex(PORT2)), 0);
	assert_int_equal(maps_read_runtime(&inst->maps, &rt, NULL), 0);
	k.slot = (uint8_t)(rt.active & 1);
	assert_int_equal(inet_pton(AF_INET, "198.18.0.21", k.addr), 1);
	assert_int_equal(bpf_map_delete_elem(inst->maps.fd[SPEE_MAP_GW_HOSTS], &k), 0);
	assert_int_equal(drift_check_gateway(inst, c.g, &t, false, &r, &d), 0);
	assert_true(drift_found(&r));
	assert_int_equal(r.links_missing, 1);
	assert_int_equal(r.hosts_changed, 1);
	apply_ok(inst, &c, all_three, 3);
	assert_int_not_equal(tc_ingress_prog(PORT2), 0);
	assert_int_equal(host_entry(inst, "198.18.0.21").host, 4);
	assert_int_equal(drift_check_gateway(inst, c.g, &t, false, &r, &d), 0);
	assert_false(drift_found(&r));
	diags_free(&d);
	compiled_free(&c);
}

static void a_bridge_device_is_refused_by_its_ports(void **state)
{
	struct compiled c = compile(config_v2);
	struct instance *inst = open_inst();
	char *bridge[] = { BRIDGE };
	uint32_t gen = inst->rec.generation;
	struct apply_outcome out;
	struct diags d = { 0 };

	(void)state;
	assert_int_equal(apply_check_gateway_ifaces(bridge, 1, &d), -EINVAL);
	assert_non_null(strstr(d.v[0].msg, PORT1));
	assert_non_null(strstr(d.v[0].msg, PORT2));
	diags_free(&d);
	assert_int_equal(apply_gw(inst, &c, bridge, 1, &out, &d), -EINVAL);
	diags_free(&d);
	/* nothing changed */
	assert_int_equal(inst->rec.generation, gen);
	assert_int_equal(xdp_prog(BRIDGE), 0);
	assert_int_equal(tc_ingress_prog(BRIDGE), 0);
	assert_int_not_equal(tc_ingress_prog(PORT1), 0);
	compiled_free(&c);
}

static void an_interface_dropped_loses_its_hook_and_host_mode_is_refused(void **state)
{
	struct compiled c = compile(config_v2);
	struct instance *inst = open_inst();
	char *two[] = { PORT1, UPLINK };
	struct apply_outcome out;
	struct diags d = { 0 };
	struct apply_request host_req = { .policy = c.g->hosts[0].p, .ifaces = two, .n_ifaces = 1 };

	(void)state;
	out = apply_ok(inst, &c, two, 2);
	assert_int_equal(out.detached, 1);
	assert_int_equal(tc_ingress_prog(PORT2), 0);
	assert_int_not_equal(tc_ingress_prog(PORT1), 0);
	assert_int_equal(inst->rec.gw_n_ports, 1);
	assert_string_equal(inst->rec.gw_ports[0], PORT1);
	/* one instance, one mode */
	assert_int_equal(apply_policy(inst, &host_req, &out, &d), -EINVAL);
	assert_non_null(strstr(d.v[d.n - 1].msg, "gateway mode"));
	diags_free(&d);
	compiled_free(&c);
}

/* An inventory of 1,100 Instance Hosts besides mgmt1: more than the maps were made for. */
static char *big_config(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fputs("hosts:\n  - {name: mgmt1, roles: [MGMT], addresses: [198.18.0.10]}\n", f);
	for (int i = 0; i < 1100; i++)
		fprintf(f, "  - {name: ih%04d, roles: [IH], addresses: [198.18.%d.%d]}\n", i,
			4 + i / 250, 1 + i % 250);
	fputs("networks:\n  ADM: [198.18.9.0/24]\nresolvers: [198.19.2.53]\n", f);
	fclose(f);
	return buf;
}

static void the_maps_grow_with_the_inventory_without_a_gap(void **state)
{
	char *text = big_config();
	struct compiled c = compile(text);
	struct instance *inst = open_inst();
	char *two[] = { PORT1, UPLINK };
	uint32_t ctr_id = inst->map_id[SPEE_MAP_GW_CTR], xdp_link;
	struct maps_gateway_counts cnt;
	struct links_assessment a;
	struct apply_outcome out;
	struct bpf_map_info info;
	char name[32];

	(void)state;
	free(text);
	assert_int_equal(links_assess(inst, NULL, &a), 0);
	xdp_link = 0;
	for (size_t i = 0; i < a.n; i++)
		if (a.v[i].prog == SPEE_PROG_GW_XDP)
			xdp_link = a.v[i].link_id;
	links_assessment_free(&a);
	assert_int_not_equal(xdp_link, 0);
	out = apply_ok(inst, &c, two, 2);
	/* a rule counter per host and direction: more than the 4,096 made for 4 hosts */
	maps_gateway_count(c.g, NULL, &cnt);
	assert_true(cnt.rule_ctrs > 4096);
	assert_true(out.grown);
	assert_int_not_equal(inst->map_id[SPEE_MAP_GW_CTR], ctr_id);
	assert_int_equal(loader_map_info(inst->maps.fd[SPEE_MAP_GW_CTR], &info), 0);
	assert_true(info.max_entries >= cnt.rule_ctrs);
	assert_int_equal(hash_entries(inst->maps.fd[SPEE_MAP_GW_CTR], sizeof(struct spee_gw_ctr_key)),
			 cnt.rule_ctrs);
	assert_int_equal(loader_map_info(inst->maps.fd[SPEE_MAP_GW_NAMES], &info), 0);
	assert_true(info.max_entries >= 1101);
	assert_int_equal(inst->rec.gw_hosts, 1101);
	assert_int_equal(host_entry(inst, "198.18.8.100").host != 0, true);
	/* the same link and filter, running programs around the new maps */
	assert_int_equal(links_assess(inst, NULL, &a), 0);
	assert_true(links_settled(&a));
	for (size_t i = 0; i < a.n; i++)
		if (a.v[i].prog == SPEE_PROG_GW_XDP)
			assert_int_equal(a.v[i].link_id, xdp_link);
	links_assessment_free(&a);
	prog_name(tc_ingress_prog(PORT1), name, sizeof(name));
	assert_string_equal(name, "spee_gw_tc");
	compiled_free(&c);
}

static void detach_leaves_nothing(void **state)
{
	struct instance *inst = open_inst();
	struct diags d = { 0 };

	(void)state;
	/* the port's filter, which only the record knows of, goes with the XDP link */
	assert_int_equal(detach_instance(inst, &d), 0);
	assert_int_not_equal(access(pin_dir, F_OK), 0);
	assert_int_equal(tc_ingress_prog(PORT1), 0);
	assert_int_equal(tc_ingress_prog(PORT2), 0);
	assert_int_equal(xdp_prog(UPLINK), 0);
	diags_free(&d);
}

static int group_setup(void **state)
{
	struct stat st;

	(void)state;
	if (stat("/sys/fs/bpf", &st)) {
		fprintf(stderr, "needs bpffs at /sys/fs/bpf\n");
		return -1;
	}
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/spk-gw-%d", getpid());
	snprintf(config_path, sizeof(config_path), "/tmp/spk-gw-%d.yaml", getpid());
	/* a namespace of the test's own: the uplink, then the bridge and its ports */
	if (bpfenv_netns(UPLINK, UPLINK_PEER, NULL, NULL) < 0 ||
	    bpfenv_ip("link", "add", BRIDGE, "type", "bridge", NULL) ||
	    bpfenv_ip("link", "add", PORT1, "type", "veth", "peer", "name", "spg-v1", NULL) ||
	    bpfenv_ip("link", "add", PORT2, "type", "veth", "peer", "name", "spg-v2", NULL) ||
	    bpfenv_ip("link", "set", PORT1, "master", BRIDGE, "up", NULL) ||
	    bpfenv_ip("link", "set", PORT2, "master", BRIDGE, "up", NULL) ||
	    bpfenv_ip("link", "set", BRIDGE, "up", NULL))
		return -1;
	loader_set_verbose(getenv("SPEE_VERBOSE") != NULL);
	return 0;
}

static int group_teardown(void **state)
{
	struct instance *inst;

	(void)state;
	if (!instance_open(pin_dir, INSTANCE_WRITE, &inst, NULL)) {
		detach_instance(inst, NULL);
		instance_close(inst);
	}
	unlink(config_path);
	return 0; /* the namespace, and all in it, goes with the process */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(only_the_programs_of_the_mode_are_loaded),
		cmocka_unit_test_teardown(each_interface_is_hooked_by_its_kind, close_handle),
		cmocka_unit_test(status_json_tells_the_gateway),
		cmocka_unit_test_teardown(a_policy_change_is_written_in_place_and_hosts_keep_their_index,
					  close_handle),
		cmocka_unit_test_teardown(drift_is_seen_and_an_apply_repairs_it, close_handle),
		cmocka_unit_test_teardown(a_bridge_device_is_refused_by_its_ports, close_handle),
		cmocka_unit_test_teardown(an_interface_dropped_loses_its_hook_and_host_mode_is_refused,
					  close_handle),
		cmocka_unit_test_teardown(the_maps_grow_with_the_inventory_without_a_gap,
					  close_handle),
		cmocka_unit_test_teardown(detach_leaves_nothing, close_handle),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
