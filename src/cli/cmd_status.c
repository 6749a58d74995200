// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf status: what an instance is attached to, its mode, policy
 * generation and last apply. Exits 1 when the instance is not whole (a link
 * gone or detached behind its back).
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "drift.h"
#include "gateway.h"
#include "ifaces.h"
#include "labels.h"
#include "links.h"
#include "maps.h"
#include "namestore.h"
#include "policy.h"

struct status {
	struct spee_runtime rt;
	struct spee_instance inst;
	struct links_assessment links;
	int problems; /* links missing or detached, stray pins */
	struct name_table names; /* the instance's last DNS answers */
	bool drift_checked; /* the recorded config still compiles to what was applied */
	struct drift_report drift;
	char drift_note[2 * SPEE_TEXT_LEN + 96]; /* why the entries could not be checked */
};

/*
 * The host's own addresses as the apply that wrote the maps found them on
 * the machine: the ones the active slot holds as the host's (status may
 * run in another network namespace than the one apply saw).
 */
static int applied_local_addrs(struct instance *inst, struct policy_env *env,
			       struct prefix **local, struct prefix **receive)
{
	struct diags d = { 0 };
	int err = maps_read_local_addrs(&inst->maps, SPEE_DIR_EGRESS, local, &env->n_local_addrs,
					&d);

	if (!err) {
		env->local_addrs = *local;
		env->local_known = true;
		err = maps_read_local_addrs(&inst->maps, SPEE_DIR_INGRESS, receive,
					    &env->n_receive_addrs, &d);
	}
	if (!err) {
		env->receive_addrs = *receive;
		env->receive_known = true;
	}
	diags_free(&d);
	return err;
}

/* check_drift of a gateway instance: every host of the config, as apply compiled them. */
static void check_gateway_drift(struct instance *inst, struct status *s, const struct config *cfg)
{
	struct gateway_policy *g = NULL;
	struct name_table names = { 0 };
	struct prefix *resolvers = NULL;
	struct policy_env env;
	struct diags d = { 0 };

	if (cli_policy_env(&env, &resolvers) || gateway_compile(cfg, &env, &g, &d) ||
	    namestore_load(inst, &names)) {
		snprintf(s->drift_note, sizeof(s->drift_note), "cannot compile %s for the gateway",
			 s->inst.config_path);
		goto out;
	}
	if (drift_check_gateway(inst, g, &names,
				s->inst.mode == SPEE_MODE_AUDIT && g->fleet.mode != SPEE_MODE_AUDIT,
				&s->drift, &d) == 0)
		s->drift_checked = true;
out:
	names_free(&names);
	gateway_free(g);
	free(resolvers);
	diags_free(&d);
}

/*
 * Compares the maps with the policy the recorded config compiles to, when
 * that file still holds the bytes that were applied (else it is a pending
 * change, not drift). The DNS names take the addresses the agent stored.
 */
static void check_drift(struct instance *inst, struct status *s)
{
	struct config *cfg = NULL;
	struct policy *p = NULL;
	struct name_table names = { 0 };
	struct prefix *resolvers = NULL, *local = NULL, *receive = NULL;
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
	if (s->inst.kind == SPEE_INST_GATEWAY) {
		check_gateway_drift(inst, s, cfg);
		goto out;
	}
	if (cli_policy_env(&env, &resolvers) || applied_local_addrs(inst, &env, &local, &receive) ||
	    policy_compile(cfg, s->inst.host, &env, &p, &d) || namestore_load(inst, &names)) {
		snprintf(s->drift_note, sizeof(s->drift_note), "cannot compile %s for %s",
			 s->inst.config_path, s->inst.host);
		goto out;
	}
	if (drift_check(inst, p, &names,
			s->inst.mode == SPEE_MODE_AUDIT && p->mode != SPEE_MODE_AUDIT, &s->drift,
			&d) == 0)
		s->drift_checked = true;
out:
	names_free(&names);
	policy_free(p);
	free(resolvers);
	free(local);
	free(receive);
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

/* A link's kind as status names it: "xdp", "cgroup-egress"... */
static const char *kind_of(const struct link_state *l, char *buf, size_t len)
{
	if (!l->known)
		return "stray";
	spee_prog_kind((enum spee_prog_id)l->prog, buf, len);
	return buf;
}

/* Gateway mode: the hook of an interface entry ("xdp", "tc-ingress"), or NULL for another link. */
static const char *gateway_hook(const struct link_state *l)
{
	if (!l->known || !spee_where_gateway(spee_progs[l->prog].where))
		return NULL;
	return spee_progs[l->prog].where == SPEE_ATTACH_GW_TC ? "tc-ingress" : "xdp";
}

static void print_gateway_iface(const struct link_state *l)
{
	const char *hook = gateway_hook(l);

	if (l->prog == SPEE_PROG_GW_TC && !l->alive) {
		printf("  %-16s %-10s MISSING: its filter is gone; run apply again\n", hook,
		       l->iface);
		return;
	}
	if (!l->alive) {
		printf("  %-16s %-10s DETACHED (pinned at %s)\n", hook, l->iface, l->pin);
		return;
	}
	if (l->prog == SPEE_PROG_GW_TC)
		printf("  %-16s %-10s prog %u%s (a bridge port)\n", hook, l->iface, l->prog_id,
		       l->ours ? "" : " (not this instance's)");
	else if (l->frames == IFACE_UNSEEN)
		printf("  %-16s ifindex %u of another network namespace: prog %u, link %u\n", hook,
		       l->ifindex, l->prog_id, l->link_id);
	else
		printf("  %-16s %-10s %-8s prog %u, link %u%s; frames from the %s header\n", hook,
		       l->ifname, l->xdp_mode, l->prog_id, l->link_id,
		       l->ours ? "" : " (not this instance's)",
		       l->frames == IFACE_IP ? "IP" : "Ethernet");
}

static void print_text(const char *pin_dir, const struct status *s)
{
	const struct spee_slot_cfg *cfg = &s->rt.slot[s->rt.active & 1];
	char when[64];

	when_text(s->inst.applied_at, when, sizeof(when));
	printf("instance %s\n", pin_dir);
	if (s->inst.kind == SPEE_INST_GATEWAY)
		printf("  gateway for %u hosts (%u policies), mode %s, policy generation %u "
		       "(slot %u)\n",
		       s->inst.gw_hosts, s->inst.gw_policies, mode_label(cfg->mode), cfg->generation,
		       s->rt.active);
	else
		printf("  host %s, mode %s, policy generation %u (slot %u)\n", s->inst.host,
		       mode_label(cfg->mode), cfg->generation, s->rt.active);
	printf("  applied %s from %s\n  config sha256 %s\n", when, s->inst.config_path,
	       s->inst.config_sha256);
	printf("  last apply: %s%s%s\n", s->inst.last_result_ok ? "ok" : "FAILED",
	       s->inst.last_error[0] ? ": " : "", s->inst.last_error);
	if (s->inst.kind != SPEE_INST_GATEWAY)
		printf("  cgroup %s\n", s->inst.cgroup_path);
	if (s->inst.confirm_deadline) {
		when_text(s->inst.confirm_deadline, when, sizeof(when));
		printf("  PENDING: generation %u reverts at %s unless `speebpf confirm` runs\n",
		       s->inst.confirm_generation, when);
	}
	for (size_t i = 0; i < s->links.n; i++) {
		const struct link_state *l = &s->links.v[i];
		char kind[32];

		if (!l->known) {
			printf("  %-16s %s (not a link of this instance; apply removes it)\n", "STRAY",
			       l->pin);
			continue;
		}
		if (gateway_hook(l)) {
			print_gateway_iface(l);
			continue;
		}
		kind_of(l, kind, sizeof(kind));
		if (!l->alive) {
			printf("  %-16s DETACHED (pinned at %s)\n", kind, l->pin);
			continue;
		}
		if (spee_progs[l->prog].where != SPEE_ATTACH_XDP) {
			printf("  %-16s prog %u, link %u\n", kind, l->prog_id, l->link_id);
		} else if (l->frames == IFACE_UNSEEN) {
			printf("  %-16s ifindex %u of another network namespace: prog %u, link %u\n",
			       kind, l->ifindex, l->prog_id, l->link_id);
		} else {
			/* an interface is enforced only with its tc egress filter: both ways */
			char tc[48] = "MISSING: not enforced";

			if (l->tc_prog_id)
				snprintf(tc, sizeof(tc), "prog %u%s", l->tc_prog_id,
					 l->tc_ours ? "" : " (not this instance's)");
			printf("  %-16s %-10s %-8s prog %u, link %u; frames from the %s header; "
			       "tc egress %s\n",
			       kind, l->ifname, l->xdp_mode, l->prog_id, l->link_id,
			       l->frames == IFACE_IP ? "IP" : "Ethernet", tc);
		}
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
	/* where it enforces: "host" (this machine's traffic) or "gateway" (--gateway) */
	json_object_object_add(o, "kind", json_object_new_string(s->inst.kind == SPEE_INST_GATEWAY ?
								 "gateway" : "host"));
	json_object_object_add(o, "host", s->inst.kind == SPEE_INST_GATEWAY ? NULL :
					  json_object_new_string(s->inst.host));
	json_object_object_add(o, "mode", json_object_new_string(mode_label(cfg->mode)));
	json_object_object_add(o, "generation", json_object_new_int64(cfg->generation));
	json_object_object_add(o, "active_slot", json_object_new_int((int)s->rt.active));
	json_object_object_add(o, "applied_at_ns", json_object_new_uint64(s->inst.applied_at));
	json_object_object_add(o, "config", json_object_new_string(s->inst.config_path));
	json_object_object_add(o, "config_sha256", json_object_new_string(s->inst.config_sha256));
	json_object_object_add(o, "last_apply_ok", json_object_new_boolean(s->inst.last_result_ok));
	json_object_object_add(o, "last_error", s->inst.last_error[0] ?
			       json_object_new_string(s->inst.last_error) : NULL);
	json_object_object_add(o, "cgroup", s->inst.kind == SPEE_INST_GATEWAY ? NULL :
					    json_object_new_string(s->inst.cgroup_path));
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
	for (size_t i = 0; i < s->links.n; i++) {
		const struct link_state *l = &s->links.v[i];
		struct json_object *j = json_object_new_object();
		char kind[32];

		json_object_object_add(j, "kind", json_object_new_string(kind_of(l, kind, sizeof(kind))));
		json_object_object_add(j, "attached", json_object_new_boolean(l->alive));
		json_object_object_add(j, "pin", json_object_new_string(l->pin));
		json_object_object_add(j, "prog_id", json_object_new_int64(l->prog_id));
		json_object_object_add(j, "link_id", json_object_new_int64(l->link_id));
		if (gateway_hook(l)) {
			json_object_object_add(j, "interface", json_object_new_string(l->iface));
			json_object_object_add(j, "hook", json_object_new_string(gateway_hook(l)));
			json_object_object_add(j, "ours", json_object_new_boolean(l->alive && l->ours));
			if (l->prog != SPEE_PROG_GW_TC)
				json_object_object_add(j, "xdp_mode",
						       json_object_new_string(l->xdp_mode));
		}
		if (l->known && spee_progs[l->prog].where == SPEE_ATTACH_XDP) {
			json_object_object_add(j, "interface", json_object_new_string(l->ifname));
			json_object_object_add(j, "xdp_mode", json_object_new_string(l->xdp_mode));
			/* where frames start; unseen: the device is in another network namespace */
			json_object_object_add(j, "frames",
					       json_object_new_string(ifaces_frames_label(
						       (enum iface_frames)l->frames)));
			json_object_object_add(j, "tc_egress_prog_id",
					       l->tc_prog_id ? json_object_new_int64(l->tc_prog_id) :
							       NULL);
		}
		json_object_array_add(links, j);
	}
	json_object_object_add(o, "links", links);
	if (s->inst.kind == SPEE_INST_GATEWAY) {
		struct json_object *gw = json_object_new_object(), *ifs = json_object_new_array();

		json_object_object_add(gw, "hosts", json_object_new_int(s->inst.gw_hosts));
		json_object_object_add(gw, "policies", json_object_new_int(s->inst.gw_policies));
		for (size_t i = 0; i < s->links.n; i++) {
			const struct link_state *l = &s->links.v[i];
			struct json_object *j;

			if (!gateway_hook(l))
				continue;
			j = json_object_new_object();
			json_object_object_add(j, "interface", json_object_new_string(l->iface));
			json_object_object_add(j, "hook", json_object_new_string(gateway_hook(l)));
			json_object_object_add(j, "attached", json_object_new_boolean(l->alive));
			json_object_object_add(j, "prog_id", json_object_new_int64(l->prog_id));
			json_object_array_add(ifs, j);
		}
		json_object_object_add(gw, "interfaces", ifs);
		json_object_object_add(o, "gateway", gw);
	} else {
		json_object_object_add(o, "gateway", NULL);
	}
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
		json_object_object_add(dr, "hosts_changed",
				       json_object_new_uint64(s->drift.hosts_changed));
		json_object_object_add(dr, "text", json_object_new_string(what));
		json_object_object_add(o, "drift", dr);
	} else {
		json_object_object_add(o, "drift", NULL);
		json_object_object_add(o, "drift_note", json_object_new_string(s->drift_note));
	}
	cli_json_print(o);
}

static int do_status(const struct cli_args *a, struct instance *inst)
{
	bool json = cli_flag(a, CLI_OPT_JSON);
	struct status s = { 0 };
	struct diags d = { 0 };
	int err;

	/* The shared lock is held throughout: what is shown is one state, not a change halfway. */
	s.inst = inst->rec;
	err = maps_read_runtime(&inst->maps, &s.rt, &d);
	if (!err)
		err = links_assess(inst, NULL, &s.links);
	if (err) {
		cli_print_diags(&d, json, NULL);
		goto out;
	}
	s.problems = s.links.detached + s.links.missing + s.links.stray;
	namestore_load(inst, &s.names);
	check_drift(inst, &s);
	if (json)
		print_json(inst->pin_dir, &s);
	else
		print_text(inst->pin_dir, &s);
	if (s.problems || (s.drift_checked && drift_found(&s.drift)))
		err = -EIO;
out:
	links_assessment_free(&s.links);
	names_free(&s.names);
	diags_free(&d);
	return err;
}

CLI_COMMAND(status, .summary = "what is attached where, mode, policy generation, last apply",
	    .access = CLI_READS, .options = CLI_TAKES(CLI_USE(JSON)), .run = do_status);
