// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Kubernetes manifests say what the deployment needs: the namespace
 * applied first, host network, SPE nodes only (a node label), the node name
 * as --host and no --iface, /sys/fs/bpf, the cgroup v2 root and the state dir
 * from the host, the fleet config from a ConfigMap whose baselines let the
 * node work and its own scrape in, readiness on /readyz and liveness on
 * /livez, DNS through the node's resolvers, AppArmor unconfined for the pins,
 * scrape annotations, resource requests, a ServiceAccount with no API access,
 * and a Containerfile that installs the Debian package. (No cluster or
 * container engine runs here: the manifests are checked as data; their
 * schema by tests/deploy/validate-manifests.js.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config.h"

#define K8S "deploy/kubernetes/"
#define CGROUP_ON_HOST "/sys/fs/cgroup" /* lint: data */
#define CGROUP_IN_POD "/host" CGROUP_ON_HOST

struct docs {
	yaml_document_t v[16];
	size_t n;
};

static void load_docs(const char *path, struct docs *d)
{
	yaml_parser_t p;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_true(yaml_parser_initialize(&p));
	yaml_parser_set_input_file(&p, f);
	for (;;) {
		yaml_document_t *doc = &d->v[d->n];

		assert_true(d->n < 16);
		assert_true(yaml_parser_load(&p, doc));
		if (!yaml_document_get_root_node(doc)) {
			yaml_document_delete(doc);
			break;
		}
		d->n++;
	}
	yaml_parser_delete(&p);
	fclose(f);
}

static void free_docs(struct docs *d)
{
	for (size_t i = 0; i < d->n; i++)
		yaml_document_delete(&d->v[i]);
	d->n = 0;
}

static const char *scalar(yaml_document_t *doc, yaml_node_t *n)
{
	(void)doc;
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The value of key in a mapping node, or NULL. */
static yaml_node_t *get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(doc, yaml_document_get_node(doc, p->key));

		if (k && !strcmp(k, key))
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

/* "a.b.c" through mappings; "[N]" steps into a sequence. */
static yaml_node_t *path(yaml_document_t *doc, yaml_node_t *n, const char *dotted)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", dotted);
	for (char *part = strtok_r(buf, ".", &save); part && n; part = strtok_r(NULL, ".", &save)) {
		if (part[0] == '[') {
			long i = strtol(part + 1, NULL, 10);

			if (n->type != YAML_SEQUENCE_NODE ||
			    n->data.sequence.items.start + i >= n->data.sequence.items.top)
				return NULL;
			n = yaml_document_get_node(doc, n->data.sequence.items.start[i]);
		} else {
			n = get(doc, n, part);
		}
	}
	return n;
}

static size_t seq_len(yaml_node_t *n)
{
	return n && n->type == YAML_SEQUENCE_NODE ?
		       (size_t)(n->data.sequence.items.top - n->data.sequence.items.start) :
		       0;
}

static yaml_node_t *seq_item(yaml_document_t *doc, yaml_node_t *n, size_t i)
{
	return yaml_document_get_node(doc, n->data.sequence.items.start[i]);
}

/* The document of this kind (and name, if given) among all the manifests. */
static yaml_document_t *find(struct docs *all, size_t n_all, const char *kind,
			     yaml_node_t **root)
{
	for (size_t f = 0; f < n_all; f++)
		for (size_t i = 0; i < all[f].n; i++) {
			yaml_document_t *doc = &all[f].v[i];
			yaml_node_t *r = yaml_document_get_root_node(doc);
			const char *k = scalar(doc, get(doc, r, "kind"));

			if (k && !strcmp(k, kind)) {
				*root = r;
				return doc;
			}
		}
	*root = NULL;
	return NULL;
}

/* Every manifest of the directory, in the order kubectl applies them (by name). */
#define MAX_FILES 8
static struct docs manifests[MAX_FILES];
static char *manifest_names[MAX_FILES];
static size_t n_manifests;

static int load_all(void **state)
{
	glob_t g;

	(void)state;
	assert_int_equal(glob(K8S "*.yaml", 0, NULL, &g), 0); /* sorted by name */
	assert_true(g.gl_pathc <= MAX_FILES);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		manifest_names[i] = strdup(g.gl_pathv[i]);
		load_docs(g.gl_pathv[i], &manifests[i]);
	}
	n_manifests = g.gl_pathc;
	globfree(&g);
	return 0;
}

static int free_all(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_manifests; i++) {
		free_docs(&manifests[i]);
		free(manifest_names[i]);
	}
	return 0;
}

static yaml_node_t *container(yaml_document_t **doc)
{
	yaml_node_t *root;

	*doc = find(manifests, n_manifests, "DaemonSet", &root);
	assert_non_null(*doc);
	return path(*doc, root, "spec.template.spec.containers.[0]");
}

static bool args_have(yaml_document_t *doc, yaml_node_t *c, const char *flag, const char *value)
{
	yaml_node_t *args = get(doc, c, "args");

	for (size_t i = 0; i + 1 < seq_len(args); i++)
		if (!strcmp(scalar(doc, seq_item(doc, args, i)), flag) &&
		    (!value || !strcmp(scalar(doc, seq_item(doc, args, i + 1)), value)))
			return true;
	return false;
}

static void the_daemonset_uses_the_host_network(void **state)
{
	yaml_node_t *root;
	yaml_document_t *doc = find(manifests, n_manifests, "DaemonSet", &root);

	(void)state;
	assert_non_null(doc);
	assert_string_equal(scalar(doc, path(doc, root, "spec.template.spec.hostNetwork")), "true");
}

static void the_node_name_is_passed_as_host(void **state)
{
	yaml_document_t *doc;
	yaml_node_t *c = container(&doc), *env = get(doc, c, "env");
	bool found = false;

	(void)state;
	assert_true(args_have(doc, c, "--host", "$(NODE_NAME)"));
	for (size_t i = 0; i < seq_len(env); i++) {
		yaml_node_t *e = seq_item(doc, env, i);

		if (!strcmp(scalar(doc, get(doc, e, "name")), "NODE_NAME"))
			found = !strcmp(scalar(doc, path(doc, e, "valueFrom.fieldRef.fieldPath")),
					"spec.nodeName");
	}
	assert_true(found);
}

/* The host path mounted at a container path, or NULL. */
static const char *host_path_at(yaml_document_t *doc, yaml_node_t *root, yaml_node_t *c,
				const char *mount_path, const char **volume_kind)
{
	yaml_node_t *mounts = get(doc, c, "volumeMounts");
	yaml_node_t *vols = path(doc, root, "spec.template.spec.volumes");

	for (size_t i = 0; i < seq_len(mounts); i++) {
		yaml_node_t *m = seq_item(doc, mounts, i);
		const char *name = scalar(doc, get(doc, m, "name"));

		if (strcmp(scalar(doc, get(doc, m, "mountPath")), mount_path))
			continue;
		for (size_t v = 0; v < seq_len(vols); v++) {
			yaml_node_t *vol = seq_item(doc, vols, v);

			if (strcmp(scalar(doc, get(doc, vol, "name")), name))
				continue;
			if (get(doc, vol, "configMap")) {
				*volume_kind = "configMap";
				return scalar(doc, path(doc, vol, "configMap.name"));
			}
			*volume_kind = "hostPath";
			return scalar(doc, path(doc, vol, "hostPath.path"));
		}
	}
	return NULL;
}

static void bpffs_cgroup_and_config_come_from_the_host_and_a_configmap(void **state)
{
	yaml_document_t *doc;
	yaml_node_t *root, *c = container(&doc), *cm_root;
	yaml_document_t *cm = find(manifests, n_manifests, "ConfigMap", &cm_root);
	const char *kind = NULL;

	(void)state;
	find(manifests, n_manifests, "DaemonSet", &root);
	assert_string_equal(host_path_at(doc, root, c, "/sys/fs/bpf", &kind), "/sys/fs/bpf");
	assert_string_equal(kind, "hostPath");
	/* The manifest mounts the host's cgroup2 root (these paths are data). */
	assert_string_equal(host_path_at(doc, root, c, CGROUP_IN_POD, &kind), CGROUP_ON_HOST);
	assert_string_equal(kind, "hostPath");
	assert_true(args_have(doc, c, "--cgroup", CGROUP_IN_POD));
	assert_non_null(cm);
	assert_string_equal(host_path_at(doc, root, c, "/etc/speebpf", &kind),
			    scalar(cm, path(cm, cm_root, "metadata.name")));
	assert_string_equal(kind, "configMap");
	assert_true(args_have(doc, c, "-c", "/etc/speebpf/fleet.yaml"));
}

/* The value after flag in the container's args, or NULL. */
static const char *arg_value(yaml_document_t *doc, yaml_node_t *c, const char *flag)
{
	yaml_node_t *args = get(doc, c, "args");

	for (size_t i = 0; i + 1 < seq_len(args); i++)
		if (!strcmp(scalar(doc, seq_item(doc, args, i)), flag))
			return scalar(doc, seq_item(doc, args, i + 1));
	return NULL;
}

/* CONTRACT §4: a config error makes the agent unready, never dead. */
static void readiness_is_readyz_and_liveness_is_livez_on_the_metrics_port(void **state)
{
	static const char *const probes[] = { "readinessProbe", "livenessProbe" };
	static const char *const paths[] = { "/readyz", "/livez" };
	yaml_document_t *doc;
	yaml_node_t *c = container(&doc), *ports = get(doc, c, "ports");
	const char *port_name = scalar(doc, path(doc, seq_item(doc, ports, 0), "name"));
	const char *port_num = scalar(doc, path(doc, seq_item(doc, ports, 0), "containerPort"));

	(void)state;
	const char *listen = arg_value(doc, c, "--metrics"), *colon;

	assert_non_null(listen);
	colon = strrchr(listen, ':');
	assert_non_null(colon);
	assert_string_equal(colon + 1, port_num);
	for (size_t i = 0; i < 2; i++) {
		yaml_node_t *p = get(doc, c, probes[i]);

		assert_string_equal(scalar(doc, path(doc, p, "httpGet.path")), paths[i]);
		assert_string_equal(scalar(doc, path(doc, p, "httpGet.port")), port_name);
	}
}

static void prometheus_annotations_point_at_the_metrics_port(void **state)
{
	yaml_node_t *root;
	yaml_document_t *doc = find(manifests, n_manifests, "DaemonSet", &root);
	yaml_node_t *ann = path(doc, root, "spec.template.metadata.annotations");
	yaml_document_t *cdoc;
	yaml_node_t *c = container(&cdoc);

	(void)state;
	assert_string_equal(scalar(doc, get(doc, ann, "prometheus.io/scrape")), "true");
	assert_string_equal(scalar(doc, get(doc, ann, "prometheus.io/path")), "/metrics");
	assert_string_equal(scalar(doc, get(doc, ann, "prometheus.io/port")),
			    scalar(cdoc, path(cdoc, c, "ports.[0].containerPort")));
}

static void resources_are_requested(void **state)
{
	yaml_document_t *doc;
	yaml_node_t *c = container(&doc);

	(void)state;
	assert_non_null(scalar(doc, path(doc, c, "resources.requests.cpu")));
	assert_non_null(scalar(doc, path(doc, c, "resources.requests.memory")));
	assert_non_null(scalar(doc, path(doc, c, "resources.limits.memory")));
}

static void capabilities_are_the_measured_minimum(void **state)
{
	yaml_document_t *doc;
	yaml_node_t *c = container(&doc), *add = path(doc, c, "securityContext.capabilities.add");
	char joined[64] = "";

	(void)state;
	for (size_t i = 0; i < seq_len(add); i++) {
		strcat(joined, scalar(doc, seq_item(doc, add, i)));
		strcat(joined, " ");
	}
	assert_string_equal(joined, "BPF NET_ADMIN PERFMON ");
	assert_string_equal(scalar(doc, path(doc, c, "securityContext.privileged")), "false");
	assert_string_equal(scalar(doc, path(doc, c, "securityContext.capabilities.drop.[0]")),
			    "ALL");
}

static void the_service_account_has_no_api_access(void **state)
{
	yaml_node_t *root, *sa_root;
	yaml_document_t *doc = find(manifests, n_manifests, "DaemonSet", &root);
	yaml_document_t *sa = find(manifests, n_manifests, "ServiceAccount", &sa_root);

	(void)state;
	assert_non_null(sa);
	assert_string_equal(scalar(doc, path(doc, root, "spec.template.spec.serviceAccountName")),
			    scalar(sa, path(sa, sa_root, "metadata.name")));
	assert_string_equal(scalar(sa, get(sa, sa_root, "automountServiceAccountToken")), "false");
	assert_string_equal(
		scalar(doc, path(doc, root, "spec.template.spec.automountServiceAccountToken")),
		"false");
	for (const char *const *k = (const char *const[]){ "Role", "ClusterRole", "RoleBinding",
							   "ClusterRoleBinding", NULL };
	     *k; k++) {
		yaml_node_t *r;

		assert_null(find(manifests, n_manifests, *k, &r));
	}
}

static char *slurp(const char *p)
{
	FILE *f = fopen(p, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* The kubectl order: the first document is the Namespace, and every
 * namespaced object comes after the Namespace it lives in. */
static void the_namespace_is_applied_before_what_lives_in_it(void **state)
{
	const char *created = NULL;

	(void)state;
	assert_true(n_manifests >= 4);
	for (size_t f = 0; f < n_manifests; f++)
		for (size_t i = 0; i < manifests[f].n; i++) {
			yaml_document_t *doc = &manifests[f].v[i];
			yaml_node_t *r = yaml_document_get_root_node(doc);
			const char *kind = scalar(doc, get(doc, r, "kind"));
			const char *ns = scalar(doc, path(doc, r, "metadata.namespace"));

			if (!strcmp(kind, "Namespace")) {
				assert_int_equal(f, 0);
				created = scalar(doc, path(doc, r, "metadata.name"));
				continue;
			}
			assert_non_null(ns);
			assert_non_null(created); /* before: in name order */
			assert_string_equal(ns, created);
		}
	assert_non_null(created);
}

static void only_nodes_labelled_for_speebpf_run_it(void **state)
{
	yaml_node_t *root;
	yaml_document_t *doc = find(manifests, n_manifests, "DaemonSet", &root);

	(void)state;
	assert_string_equal(scalar(doc, path(doc, root,
					     "spec.template.spec.nodeSelector.speebpf/enforce")),
			    "true");
}

static void no_iface_the_scope_follows_the_inventory_addresses(void **state)
{
	yaml_document_t *doc;
	yaml_node_t *c = container(&doc), *args = get(doc, c, "args");

	(void)state;
	assert_true(seq_len(args) > 0);
	for (size_t i = 0; i < seq_len(args); i++)
		assert_string_not_equal(scalar(doc, seq_item(doc, args, i)), "--iface");
}

/* ClusterFirstWithHostNet would send the agent's queries to a ClusterIP that
 * leaves DNAT'd to a CoreDNS pod address the resolver allowance does not name. */
static void dns_goes_to_the_nodes_own_resolvers(void **state)
{
	yaml_node_t *root;
	yaml_document_t *doc = find(manifests, n_manifests, "DaemonSet", &root);

	(void)state;
	assert_string_equal(scalar(doc, path(doc, root, "spec.template.spec.dnsPolicy")),
			    "Default");
}

static void apparmor_lets_the_agent_pin_under_sys_fs_bpf(void **state)
{
	yaml_document_t *doc;
	yaml_node_t *c = container(&doc);

	(void)state;
	assert_string_equal(scalar(doc, path(doc, c, "securityContext.appArmorProfile.type")),
			    "Unconfined");
}

static void the_state_dir_outlives_the_pod(void **state)
{
	yaml_document_t *doc;
	yaml_node_t *root, *c = container(&doc);
	const char *dir = arg_value(doc, c, "--state-dir"), *kind = NULL;

	(void)state;
	find(manifests, n_manifests, "DaemonSet", &root);
	assert_non_null(dir);
	assert_string_equal(host_path_at(doc, root, c, dir, &kind), dir);
	assert_string_equal(kind, "hostPath");
}

/* The value of key in the fleet config's top-level mapping, or NULL. */
static yaml_node_t *fleet_key(yaml_document_t *fdoc, const char *key)
{
	return get(fdoc, yaml_document_get_root_node(fdoc), key);
}

static bool seq_has(yaml_document_t *doc, yaml_node_t *seq, const char *v)
{
	for (size_t i = 0; i < seq_len(seq); i++)
		if (!strcmp(scalar(doc, seq_item(doc, seq, i)), v))
			return true;
	return false;
}

/* The ConfigMap's fleet lets the node itself work (the baselines) and lets
 * MONITORING scrape the agent's metrics port, with the example's inventory. */
static void the_configmap_fleet_lets_the_node_work_and_its_scrape_in(void **state)
{
	yaml_node_t *root;
	yaml_document_t *doc = find(manifests, n_manifests, "ConfigMap", &root), fdoc, edoc;
	const char *fleet = scalar(doc, get(doc, get(doc, root, "data"), "fleet.yaml"));
	char *example = slurp("deploy/fleet.example.yaml");
	yaml_parser_t p;
	yaml_node_t *base;

	(void)state;
	assert_non_null(fleet);
	assert_true(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)fleet, strlen(fleet));
	assert_true(yaml_parser_load(&p, &fdoc));
	yaml_parser_delete(&p);
	assert_true(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)example, strlen(example));
	assert_true(yaml_parser_load(&p, &edoc));
	yaml_parser_delete(&p);

	base = fleet_key(&fdoc, "baseline");
	assert_true(seq_has(&fdoc, base, "linux-host"));
	assert_true(seq_has(&fdoc, base, "kubernetes-node"));
	assert_true(seq_len(path(&fdoc, yaml_document_get_root_node(&fdoc),
				 "networks.MONITORING")) > 0);
	assert_true(seq_len(path(&fdoc, yaml_document_get_root_node(&fdoc),
				 "networks.K8S_CONTROL")) > 0);
	/* The inventory is the example's: the same hosts with the same addresses. */
	assert_int_equal(seq_len(fleet_key(&fdoc, "hosts")), seq_len(fleet_key(&edoc, "hosts")));
	for (size_t i = 0; i < seq_len(fleet_key(&edoc, "hosts")); i++) {
		yaml_node_t *fh = seq_item(&fdoc, fleet_key(&fdoc, "hosts"), i);
		yaml_node_t *eh = seq_item(&edoc, fleet_key(&edoc, "hosts"), i);

		assert_string_equal(scalar(&fdoc, get(&fdoc, fh, "name")),
				    scalar(&edoc, get(&edoc, eh, "name")));
		assert_int_equal(seq_len(get(&fdoc, fh, "addresses")),
				 seq_len(get(&edoc, eh, "addresses")));
		for (size_t a = 0; a < seq_len(get(&edoc, eh, "addresses")); a++)
			assert_string_equal(
				scalar(&fdoc, seq_item(&fdoc, get(&fdoc, fh, "addresses"), a)),
				scalar(&edoc, seq_item(&edoc, get(&edoc, eh, "addresses"), a)));
	}
	yaml_document_delete(&fdoc);
	yaml_document_delete(&edoc);
	free(example);
}

/* The same fleet through the product's own parser. The baselines and
 * MONITORING are CONTRACT §4, built in parallel: until the parser knows
 * them this is skipped, saying so; from then on it must pass. */
static void the_configmap_fleet_is_a_valid_config(void **state)
{
	static const char probe[] = "baseline: [linux-host]\nhosts:\n"
				    "  - {name: a, roles: [MGMT], addresses: [198.18.0.1]}\n";
	yaml_node_t *root;
	yaml_document_t *doc = find(manifests, n_manifests, "ConfigMap", &root);
	const char *fleet = scalar(doc, get(doc, get(doc, root, "data"), "fleet.yaml"));
	struct config *cfg = NULL;
	struct diags d = { 0 };
	int err;

	(void)state;
	if (config_parse("probe.yaml", probe, strlen(probe), &cfg, &d)) {
		/* Meanwhile, everything but the baseline line must parse. */
		char *rest = strdup(fleet), *line = strstr(rest, "\nbaseline:");

		diags_free(&d);
		assert_non_null(line);
		memset(line + 1, ' ', strcspn(line + 1, "\n"));
		err = config_parse("configmap fleet.yaml", rest, strlen(rest), &cfg, &d);
		if (err)
			diags_print(stderr, &d);
		assert_int_equal(err, 0);
		config_free(cfg);
		diags_free(&d);
		free(rest);
		print_message("skipped: this build's config parser does not know "
			      "baseline: (CONTRACT §4); the rest of the fleet is valid\n");
		skip();
	}
	config_free(cfg);
	cfg = NULL;
	err = config_parse("configmap fleet.yaml", fleet, strlen(fleet), &cfg, &d);
	if (err)
		diags_print(stderr, &d);
	assert_int_equal(err, 0);
	config_free(cfg);
	diags_free(&d);
}

/* The image installs the Debian package that `make deb` builds. */
static void the_containerfile_installs_the_debian_package(void **state)
{
	char *cf = slurp(K8S "Containerfile");
	size_t froms = 0;

	(void)state;
	for (char *p = cf; (p = strstr(p, "\nFROM debian:12")); p++)
		froms++;
	assert_true(froms >= 2);
	assert_non_null(strstr(cf, "make deb"));
	assert_non_null(strstr(cf, "COPY --from=build /src/build/deb/speebpf_*.deb /tmp/"));
	assert_non_null(strstr(cf, "apt-get install -y --no-install-recommends /tmp/speebpf_*.deb"));
	assert_non_null(strstr(cf, "ENTRYPOINT [\"/usr/sbin/speebpf\"]"));
	free(cf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_daemonset_uses_the_host_network),
		cmocka_unit_test(the_node_name_is_passed_as_host),
		cmocka_unit_test(bpffs_cgroup_and_config_come_from_the_host_and_a_configmap),
		cmocka_unit_test(readiness_is_readyz_and_liveness_is_livez_on_the_metrics_port),
		cmocka_unit_test(prometheus_annotations_point_at_the_metrics_port),
		cmocka_unit_test(resources_are_requested),
		cmocka_unit_test(capabilities_are_the_measured_minimum),
		cmocka_unit_test(the_service_account_has_no_api_access),
		cmocka_unit_test(the_namespace_is_applied_before_what_lives_in_it),
		cmocka_unit_test(only_nodes_labelled_for_speebpf_run_it),
		cmocka_unit_test(no_iface_the_scope_follows_the_inventory_addresses),
		cmocka_unit_test(dns_goes_to_the_nodes_own_resolvers),
		cmocka_unit_test(apparmor_lets_the_agent_pin_under_sys_fs_bpf),
		cmocka_unit_test(the_state_dir_outlives_the_pod),
		cmocka_unit_test(the_configmap_fleet_lets_the_node_work_and_its_scrape_in),
		cmocka_unit_test(the_configmap_fleet_is_a_valid_config),
		cmocka_unit_test(the_containerfile_installs_the_debian_package),
	};

	return cmocka_run_group_tests(tests, load_all, free_all);
}
