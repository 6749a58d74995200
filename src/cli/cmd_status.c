// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf status: what an instance is attached to, its mode, policy
 * generation and last apply. Exits 1 when the instance is not whole (a link
 * gone or detached behind its back).
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attach.h"
#include "cli.h"
#include "config.h"
#include "drift.h"
#include "namestore.h"
#include "policy.h"
#include "instance.h"
#include "labels.h"
#include "loader.h"
#include "maps.h"

static const char *const kind_names[LINK_KIND_MAX] = {
	[LINK_XDP] = "xdp",
	[LINK_CGROUP_EGRESS] = "cgroup-egress",
	[LINK_CGROUP_CONNECT4] = "cgroup-connect4",
	[LINK_CGROUP_CONNECT6] = "cgroup-connect6",
	[LINK_CGROUP_SENDMSG4] = "cgroup-sendmsg4",
	[LINK_CGROUP_SENDMSG6] = "cgroup-sendmsg6",
};

struct status {
	struct spee_runtime rt;
	struct spee_instance inst;
	struct link_state *links;
	size_t n_links;
	int problems; /* links missing or detached */
	struct name_table names; /* the instance's last DNS answers */
	bool drift_checked; /* the recorded config still compiles to what was applied */
	struct drift_report drift;
	char drift_note[2 * SPEE_TEXT_LEN + 96]; /* why the entries could not be checked */
};

/*
 * Compares the maps with the policy the recorded config compiles to, when
 * that file still holds the bytes that were applied (else it is a pending
 * change, not drift). The DNS names take the addresses the agent stored.
 */
static int status_local_addrs(const char *pin_dir, struct policy_env *env, struct prefix **local)
{
	struct spee_map_fds m;
	struct diags d = { 0 };
	int err = loader_open_pinned(&m, pin_dir, &d);

	if (!err)
		err = maps_read_local_addrs(&m, local, &env->n_local_addrs, &d);
	if (!err) {
		env->local_addrs = *local;
		env->local_known = true;
	}
	loader_close_pinned(&m);
	diags_free(&d);
	return err;
}

static void check_drift(const char *pin_dir, struct status *s)
{
	struct config *cfg = NULL;
	struct policy *p = NULL;
	struct name_table names = { 0 };
	struct prefix *resolvers = NULL, *local = NULL;
	struct policy_env env;
	struct diags d = { 0 };
	char sha[65];

	if (config_load(s->inst.config_path, &cfg, &d)) {
		snprintf(s->drift_note, sizeof(s->drift_note),
			 "cannot check the entries: %s no longer loads", s->inst.config_path);
		goto out;
	}
	for (size_t i = 0; i < 32; i++)
		sprintf(sha + 2 * i, "%02x", cfg->sha256[i]);
	if (strcmp(sha, s->inst.config_sha256)) {
		snprintf(s->drift_note, sizeof(s->drift_note),
			 "%s changed since it was applied: the entries were not checked",
			 s->inst.config_path);
		goto out;
	}
	/*
	 * As apply compiled it: the host's addresses it found on the machine
	 * are the ones the maps hold as its own (status may run in another
	 * network namespace than the one apply saw).
	 */
	if (cli_policy_env(&env, &resolvers) || status_local_addrs(pin_dir, &env, &local) ||
	    policy_compile(cfg, s->inst.host, &env, &p, &d) || namestore_load(pin_dir, &names)) {
		snprintf(s->drift_note, sizeof(s->drift_note), "cannot compile %s for %s",
			 s->inst.config_path, s->inst.host);
		goto out;
	}
	if (drift_check(pin_dir, p, &names,
			s->inst.mode == SPEE_MODE_AUDIT && p->mode != SPEE_MODE_AUDIT, &s->drift,
			&d) == 0)
		s->drift_checked = true;
out:
	names_free(&names);
	policy_free(p);
	free(resolvers);
	free(local);
	config_free(cfg);
	diags_free(&d);
}

static void when_text(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (!ns) {
		snprintf(buf, len, "never");
		return;
	}
	strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", localtime_r(&t, &tm));
}

/*
 * Links an instance must have: XDP on at least one interface, each with its
 * tc egress filter (an interface judged one way only is not enforced), and
 * the cgroup hooks.
 */
static int count_problems(struct status *s)
{
	bool seen[LINK_KIND_MAX] = { 0 };
	int problems = 0;

	for (size_t i = 0; i < s->n_links; i++) {
		if (!s->links[i].alive)
			problems++;
		else
			seen[s->links[i].kind] = true;
		/* (ATTACH_TC_UNSEEN, in another network namespace, is no problem seen) */
		if (s->links[i].alive && s->links[i].kind == LINK_XDP && !s->links[i].tc_prog_id)
			problems++;
	}
	for (int k = 0; k < LINK_KIND_MAX; k++)
		problems += !seen[k];
	return problems;
}

static void print_text(const char *pin_dir, const struct status *s)
{
	const struct spee_slot_cfg *cfg = &s->rt.slot[s->rt.active & 1];
	char when[64];

	when_text(s->inst.applied_at, when, sizeof(when));
	printf("instance %s\n", pin_dir);
	printf("  host %s, mode %s, policy generation %u (slot %u)\n", s->inst.host,
	       mode_label(cfg->mode), cfg->generation, s->rt.active);
	printf("  applied %s from %s\n  config sha256 %s\n", when, s->inst.config_path,
	       s->inst.config_sha256);
	printf("  last apply: %s%s%s\n", s->inst.last_result_ok ? "ok" : "FAILED",
	       s->inst.last_error[0] ? ": " : "", s->inst.last_error);
	printf("  cgroup %s\n", s->inst.cgroup_path);
	if (s->inst.confirm_deadline) {
		when_text(s->inst.confirm_deadline, when, sizeof(when));
		printf("  PENDING: generation %u reverts at %s unless `speebpf confirm` runs\n",
		       s->inst.confirm_generation, when);
	}
	for (size_t i = 0; i < s->n_links; i++) {
		const struct link_state *l = &s->links[i];

		if (!l->alive) {
			printf("  %-16s DETACHED (pinned at %s)\n", kind_names[l->kind], l->pin);
			continue;
		}
		if (l->kind == LINK_XDP && l->frames == IFACE_UNSEEN) {
			printf("  %-16s ifindex %u of another network namespace: prog %u, link %u\n",
			       kind_names[l->kind], l->ifindex, l->prog_id, l->link_id);
		} else if (l->kind == LINK_XDP) {
			char tc[32] = "MISSING";

			if (l->tc_prog_id)
				snprintf(tc, sizeof(tc), "prog %u", l->tc_prog_id);
			printf("  %-16s %-10s %-8s prog %u, link %u; frames from the %s header; "
			       "tc egress %s\n",
			       kind_names[l->kind], l->ifname, l->xdp_mode, l->prog_id, l->link_id,
			       l->frames == IFACE_IP ? "IP" : "Ethernet", tc);
		} else
			printf("  %-16s prog %u, link %u\n", kind_names[l->kind], l->prog_id,
			       l->link_id);
	}
	if (s->problems)
		printf("  PROBLEM: %d link%s or filter%s missing or detached; run apply again\n",
		       s->problems, s->problems == 1 ? "" : "s", s->problems == 1 ? "" : "s");
	for (size_t i = 0; i < s->names.n; i++) {
		const struct name_addrs *na = &s->names.v[i];
		char addrs[512] = "", one[ADDR_TEXT_LEN], when[64];
		size_t off = 0;

		for (size_t k = 0; k < na->n_addrs && off < sizeof(addrs); k++) {
			prefix_format(&na->addrs[k], one, sizeof(one));
			off += (size_t)snprintf(addrs + off, sizeof(addrs) - off, "%s%s",
						k ? ", " : "", one);
		}
		if (!na->n_addrs) {
			printf("  dns %s: never resolved (%s): its rules allow nothing\n", na->name,
			       na->last_error ? na->last_error : "no answer yet");
			continue;
		}
		when_text((uint64_t)na->last_ok * 1000000000ull, when, sizeof(when));
		printf("  dns %s: %s (resolved %s)", na->name, addrs, when);
		if (na->failures)
			printf("; %u failures since: %s (the last answer stays)", na->failures,
			       na->last_error ? na->last_error : "no answer");
		printf("\n");
	}
	if (s->drift_checked) {
		char what[512];

		drift_describe(&s->drift, what, sizeof(what));
		printf("  drift: %s%s\n", what,
		       drift_found(&s->drift) ? " (the agent repairs it; or run apply again)" : "");
	} else if (s->drift_note[0]) {
		printf("  drift: %s\n", s->drift_note);
	}
}

static void print_json(const char *pin_dir, const struct status *s)
{
	const struct spee_slot_cfg *cfg = &s->rt.slot[s->rt.active & 1];
	struct json_object *o = json_object_new_object(), *links = json_object_new_array();

	json_object_object_add(o, "pin_dir", json_object_new_string(pin_dir));
	json_object_object_add(o, "host", json_object_new_string(s->inst.host));
	json_object_object_add(o, "mode", json_object_new_string(mode_label(cfg->mode)));
	json_object_object_add(o, "generation", json_object_new_int64(cfg->generation));
	json_object_object_add(o, "active_slot", json_object_new_int((int)s->rt.active));
	json_object_object_add(o, "applied_at_ns", json_object_new_uint64(s->inst.applied_at));
	json_object_object_add(o, "config", json_object_new_string(s->inst.config_path));
	json_object_object_add(o, "config_sha256", json_object_new_string(s->inst.config_sha256));
	json_object_object_add(o, "last_apply_ok", json_object_new_boolean(s->inst.last_result_ok));
	json_object_object_add(o, "last_error", s->inst.last_error[0] ?
			       json_object_new_string(s->inst.last_error) : NULL);
	json_object_object_add(o, "cgroup", json_object_new_string(s->inst.cgroup_path));
	json_object_object_add(o, "confirm_pending", json_object_new_boolean(s->inst.confirm_deadline != 0));
	if (s->inst.confirm_deadline) {
		json_object_object_add(o, "confirm_generation",
				       json_object_new_int64(s->inst.confirm_generation));
		json_object_object_add(o, "confirm_deadline_ns",
				       json_object_new_uint64(s->inst.confirm_deadline));
	}
	if (s->inst.reverted_generation)
		json_object_object_add(o, "reverted_generation",
				       json_object_new_int64(s->inst.reverted_generation));
	for (size_t i = 0; i < s->n_links; i++) {
		const struct link_state *l = &s->links[i];
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "kind", json_object_new_string(kind_names[l->kind]));
		json_object_object_add(j, "attached", json_object_new_boolean(l->alive));
		json_object_object_add(j, "pin", json_object_new_string(l->pin));
		json_object_object_add(j, "prog_id", json_object_new_int64(l->prog_id));
		json_object_object_add(j, "link_id", json_object_new_int64(l->link_id));
		if (l->kind == LINK_XDP) {
			json_object_object_add(j, "interface", json_object_new_string(l->ifname));
			json_object_object_add(j, "xdp_mode", json_object_new_string(l->xdp_mode));
			json_object_object_add(j, "frames",
					       json_object_new_string(ifaces_frames_label(l->frames)));
			json_object_object_add(j, "tc_egress_prog_id",
					       l->tc_prog_id && l->tc_prog_id != ATTACH_TC_UNSEEN ?
						       json_object_new_int64(l->tc_prog_id) :
						       NULL);
		}
		json_object_array_add(links, j);
	}
	json_object_object_add(o, "links", links);
	json_object_object_add(o, "problems", json_object_new_int(s->problems));
	{
		struct json_object *names = json_object_new_array();

		for (size_t i = 0; i < s->names.n; i++) {
			const struct name_addrs *na = &s->names.v[i];
			struct json_object *n = json_object_new_object(), *a = json_object_new_array();
			char one[ADDR_TEXT_LEN];

			for (size_t k = 0; k < na->n_addrs; k++) {
				prefix_format(&na->addrs[k], one, sizeof(one));
				json_object_array_add(a, json_object_new_string(one));
			}
			json_object_object_add(n, "name", json_object_new_string(na->name));
			json_object_object_add(n, "addresses", a);
			json_object_object_add(n, "resolved", json_object_new_boolean(na->n_addrs > 0));
			json_object_object_add(n, "last_success", json_object_new_int64(na->last_ok));
			json_object_object_add(n, "failures", json_object_new_int64(na->failures));
			json_object_object_add(n, "last_error", na->last_error ?
					       json_object_new_string(na->last_error) : NULL);
			json_object_array_add(names, n);
		}
		json_object_object_add(o, "dns", names);
	}
	if (s->drift_checked) {
		struct json_object *dr = json_object_new_object();
		char what[512];

		drift_describe(&s->drift, what, sizeof(what));
		json_object_object_add(dr, "found", json_object_new_boolean(drift_found(&s->drift)));
		json_object_object_add(dr, "missing", json_object_new_uint64(s->drift.missing));
		json_object_object_add(dr, "extra", json_object_new_uint64(s->drift.extra));
		json_object_object_add(dr, "changed", json_object_new_uint64(s->drift.changed));
		json_object_object_add(dr, "ports_changed",
				       json_object_new_uint64(s->drift.ports_changed));
		json_object_object_add(dr, "settings_changed",
				       json_object_new_boolean(s->drift.settings_changed));
		json_object_object_add(dr, "programs_foreign",
				       json_object_new_int(s->drift.programs_foreign));
		json_object_object_add(dr, "text", json_object_new_string(what));
		json_object_object_add(o, "drift", dr);
	} else {
		json_object_object_add(o, "drift", NULL);
		json_object_object_add(o, "drift_note", json_object_new_string(s->drift_note));
	}
	cli_json_print(o);
}

int do_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *pin_dir = INSTANCE_DEFAULT_PIN_DIR;
	struct status s = { 0 };
	struct spee_map_fds m;
	struct diags d = { 0 };
	bool json = false;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pin_dir = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: speebpf status [--pin-dir DIR] [--json]\n");
			return 0;
		default:
			fprintf(stderr, "usage: speebpf status [--pin-dir DIR] [--json]\n");
			return -CLI_EUSAGE;
		}
	}
	loader_set_verbose(cli_verbose);
	err = loader_open_pinned(&m, pin_dir, &d);
	if (err) {
		if (err == -ENOENT)
			diag_add(&d, NULL, 0, 0, "no instance is pinned at %s", pin_dir);
		cli_print_diags(&d, json, NULL);
		diags_free(&d);
		return err;
	}
	err = maps_read_runtime(&m, &s.rt, &d);
	if (!err)
		err = maps_read_instance(&m, &s.inst, &d);
	if (!err)
		err = attach_list(pin_dir, &s.links, &s.n_links);
	loader_close_pinned(&m);
	if (err) {
		cli_print_diags(&d, json, NULL);
		goto out;
	}
	s.problems = count_problems(&s);
	namestore_load(pin_dir, &s.names);
	check_drift(pin_dir, &s);
	if (json)
		print_json(pin_dir, &s);
	else
		print_text(pin_dir, &s);
	if (s.problems || (s.drift_checked && drift_found(&s.drift)))
		err = -EIO;
out:
	free(s.links);
	names_free(&s.names);
	diags_free(&d);
	return err;
}
