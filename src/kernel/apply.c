// SPDX-License-Identifier: GPL-2.0-only
/*
 * Creating and updating an instance (apply.h). The order of steps is what
 * keeps traffic safe, and what lets the next apply repair whatever a
 * process killed halfway left:
 *  - a new instance has its maps filled and its record written before they
 *    are pinned, under PIN_DIR/maps-new, then renamed to PIN_DIR/maps in one
 *    step, and only then are programs attached: the first packet meets the
 *    whole policy, and maps/ is there whole or not at all;
 *  - an update writes the inactive policy slot and flips (maps.c), and
 *    attaches newly requested interfaces before removing unrequested ones
 *    (links.c); nothing that is running is detached.
 */
#include "apply.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "attach.h"
#include "grow.h"
#include "ifaces.h"
#include "links.h"
#include "loader.h"
#include "maps.h"
#include "maps_gateway.h"
#include "namestore.h"
#include "pindir.h"

static int push_name(char ***v, size_t *count, const char *name)
{
	char **grown;

	for (size_t k = 0; k < *count; k++)
		if (!strcmp((*v)[k], name))
			return 0;
	grown = realloc(*v, (*count + 1) * sizeof(**v));
	if (!grown)
		return -ENOMEM;
	*v = grown;
	if (!(grown[*count] = strdup(name)))
		return -ENOMEM;
	(*count)++;
	return 0;
}

static bool holds(const struct cfg_host *host, const struct sockaddr *sa)
{
	struct prefix a = { 0 };

	if (sa->sa_family == AF_INET) {
		a.family = AF_INET;
		a.len = 32;
		memcpy(a.addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		a.family = AF_INET6;
		a.len = 128;
		memcpy(a.addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	} else {
		return false;
	}
	for (size_t i = 0; i < host->n_addrs; i++)
		if (!prefix_cmp(&host->addrs[i], &a))
			return true;
	return false;
}

int apply_scope_ifaces(const struct cfg_host *host, char ***out, size_t *n)
{
	struct ifaddrs *ifa, *i;
	struct iface_kind kind;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i && !err; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || !holds(host, i->ifa_addr))
			continue;
		if (!ifaces_classify(i->ifa_name, &kind) && kind.frames == IFACE_REFUSED) {
			fprintf(stderr, "speebpf: warning: not enforcing %s: %s\n", i->ifa_name,
				kind.why);
			continue;
		}
		err = push_name(out, n, i->ifa_name);
	}
	freeifaddrs(ifa);
	if (err) {
		for (size_t k = 0; k < *n; k++)
			free((*out)[k]);
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return err;
}

/* The interfaces of a request that names none: those holding the host's addresses. */
static int default_ifaces(const struct apply_request *req, char ***out, size_t *n,
			  struct diags *d)
{
	int err = apply_scope_ifaces(req->policy->host, out, n);

	if (!err && !*n) {
		diag_add(d, NULL, 0, 0,
			 "no interface holds an address of host %s: give the interfaces to "
			 "enforce with --iface IF (or --iface all)",
			 req->policy->host->name);
		err = -EADDRNOTAVAIL;
	}
	return err;
}

/*
 * --iface all: every up, non-loopback interface of this network namespace
 * that speebpf can judge; the others (ifaces.h: tunnels that keep an outer
 * header where XDP looks...) are left out with a warning, as no --iface
 * named them.
 */
static int every_iface(char ***out, size_t *n)
{
	struct ifaddrs *ifa, *i;
	struct iface_kind kind;
	char **v = NULL;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		bool dup = false;
		char **grown;

		if (!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		for (size_t k = 0; k < count && !dup; k++)
			dup = !strcmp(v[k], i->ifa_name);
		if (dup)
			continue;
		if (!ifaces_classify(i->ifa_name, &kind) && kind.frames == IFACE_REFUSED) {
			bool said = false;

			for (struct ifaddrs *j = ifa; j != i && !said; j = j->ifa_next)
				said = !strcmp(j->ifa_name, i->ifa_name);
			if (!said)
				fprintf(stderr, "speebpf: warning: not enforcing %s: %s\n", i->ifa_name,
					kind.why);
			continue;
		}
		grown = realloc(v, (count + 1) * sizeof(*v));
		if (!grown || !(grown[count] = strdup(i->ifa_name))) {
			free(grown ? grown : v);
			freeifaddrs(ifa);
			return -ENOMEM;
		}
		v = grown;
		count++;
	}
	freeifaddrs(ifa);
	*out = v;
	*n = count;
	return 0;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

bool apply_ifaces_all(char *const *ifaces, size_t n)
{
	return n == 1 && !strcmp(ifaces[0], APPLY_IFACES_ALL);
}

static int check_ifaces(char *const *ifaces, size_t n, struct diags *d)
{
	for (size_t i = 0; i < n; i++) {
		if (!if_nametoindex(ifaces[i])) {
			diag_add(d, NULL, 0, 0, "no such interface: %s", ifaces[i]);
			return -ENODEV;
		}
	}
	return 0;
}

int apply_check_gateway_ifaces(char *const *ifaces, size_t n, struct diags *d)
{
	if (!n || apply_ifaces_all(ifaces, n)) {
		diag_add(d, NULL, 0, 0,
			 "gateway mode needs the interfaces to judge: --iface IF for each bridge "
			 "port and routed interface (not all)");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		enum iface_bridge_role role;
		char ports[256];
		int err = ifaces_bridge_role(ifaces[i], &role, ports, sizeof(ports));

		if (err == -ENODEV) {
			diag_add(d, NULL, 0, 0, "no such interface: %s", ifaces[i]);
			return err;
		}
		if (err) {
			diag_add(d, NULL, 0, 0, "cannot tell what %s is: %s", ifaces[i],
				 strerror(-err));
			return err;
		}
		if (role == IFACE_BRIDGE) {
			diag_add(d, NULL, 0, 0,
				 "%s is a bridge device: what it bridges never reaches its own "
				 "hooks; give its ports instead (--iface for each of: %s)",
				 ifaces[i], ports[0] ? ports : "it has none yet");
			return -EINVAL;
		}
	}
	return 0;
}

/* The policy maps of the request's mode, sized for it. */
static void sizes_for(const struct apply_request *req, struct loader_sizes *sz)
{
	if (req->gateway)
		loader_sizes_for_gateway(req->gateway, req->names, sz);
	else
		loader_sizes_for(req->policy, req->names, sz);
}

static int apply_maps(const struct spee_map_fds *m, const struct apply_request *req,
		      const struct maps_apply_opts *opts, struct maps_apply_result *res,
		      struct diags *d)
{
	if (req->gateway)
		return maps_apply_gateway(m, req->gateway, req->names, opts, res, d);
	return maps_apply(m, req->policy, req->names, opts, res, d);
}

/* The record's gateway fields: the hosts and policies enforced. */
static void note_gateway(struct spee_instance *rec, const struct apply_request *req)
{
	if (!req->gateway)
		return;
	rec->kind = SPEE_INST_GATEWAY;
	rec->gw_hosts = (uint16_t)req->gateway->n_hosts;
	rec->gw_policies = req->gateway->n_policies;
}

/* How full the policy maps are after a successful apply (status of the agent, metrics). */
static void note_result(const struct spee_map_fds *m, const struct maps_apply_result *res,
			struct apply_outcome *out)
{
	struct bpf_map_info info;

	out->generation = res->generation;
	out->added = res->stats.added;
	out->removed = res->stats.removed;
	out->exact_entries = res->stats.exact_needed;
	out->prefix_entries = res->stats.prefix_needed;
	if (!loader_map_info(m->fd[SPEE_MAP_EXACT], &info))
		out->exact_size = info.max_entries;
	if (!loader_map_info(m->fd[SPEE_MAP_PREFIX], &info))
		out->prefix_size = info.max_entries;
}

/* Pins every map of l under maps-new/, then makes that maps/ in one rename. */
static int pin_new_maps(const struct instance *inst, const struct loader *l, struct diags *d)
{
	char staging[PATH_MAX], maps[PATH_MAX], path[PATH_MAX];
	int err = pindir_maps_staging_dir(staging, sizeof(staging), inst->pin_dir);

	if (!err)
		err = pindir_maps_dir(maps, sizeof(maps), inst->pin_dir);
	if (!err)
		err = pindir_unpin_maps(inst->pin_dir, d); /* what a process killed here left */
	if (!err)
		err = pindir_mkdir(staging);
	for (int i = 0; i < SPEE_MAP_COUNT && !err; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", staging, spee_map_names[i]) >=
		    (int)sizeof(path))
			err = -ENAMETOOLONG;
		else if (bpf_obj_pin(l->maps.fd[i], path))
			err = -errno;
	}
	if (!err && rename(staging, maps))
		err = -errno;
	if (err)
		diag_add(d, NULL, 0, 0, "cannot pin the maps under %s: %s", maps, strerror(-err));
	return err;
}

/* The record of a new instance, whole before anything of it is pinned. */
static int first_record(const struct loader *l, const char *cgroup,
			const struct apply_request *req, uint32_t generation, struct diags *d)
{
	struct spee_instance rec = { 0 };
	int err = 0;

	if (cgroup)
		instance_set_text(rec.cgroup_path, sizeof(rec.cgroup_path), cgroup);
	for (int p = 0; p < SPEE_PROG_COUNT && !err; p++)
		if (loader_has(l, (enum spee_prog_id)p)) /* the others stay zero */
			err = loader_prog_tag(l, (enum spee_prog_id)p,
					      spee_instance_prog_tag(&rec, (enum spee_prog_id)p));
	loader_object_id(rec.object_id);
	instance_record_result(&rec, req->policy, generation, req->audit, true, NULL);
	note_gateway(&rec, req);
	return err ? err : maps_write_instance(&l->maps, &rec, d);
}

static int create(struct instance *inst, const struct apply_request *req,
		  struct apply_outcome *out, struct diags *d)
{
	struct maps_apply_opts opts = { .audit = req->audit, .cache = req->cache };
	struct links_assessment none = { 0 };
	struct links_changes changes = { 0 };
	struct maps_apply_result res;
	struct links_want want = { 0 };
	struct loader_sizes sz;
	struct loader l = { 0 };
	char **ifaces = (char **)req->ifaces, cgroot[PATH_MAX];
	const char *cgroup = req->cgroup;
	size_t n_ifaces = req->n_ifaces;
	int err = 0;

	if (req->gateway)
		err = apply_check_gateway_ifaces(req->ifaces, req->n_ifaces, d);
	else if (!n_ifaces)
		err = default_ifaces(req, &ifaces, &n_ifaces, d);
	else if (apply_ifaces_all(req->ifaces, req->n_ifaces))
		err = every_iface(&ifaces, &n_ifaces);
	if (!err)
		err = check_ifaces(ifaces, n_ifaces, d);
	if (!err && !cgroup && !req->gateway) {
		err = attach_cgroup2_root(cgroot, sizeof(cgroot));
		if (err)
			diag_add(d, NULL, 0, 0, "no cgroup v2 hierarchy is mounted (/proc/mounts)");
		cgroup = cgroot;
	}
	if (err)
		goto out;
	sizes_for(req, &sz);
	want = (struct links_want){ .ifaces = ifaces, .n_ifaces = n_ifaces };
	/* The interface programs of the frames these interfaces carry only: each is a verifier pass. */
	err = loader_load_frames(&l, &sz, NULL,
				 req->gateway ? LOADER_PROGS_GATEWAY : LOADER_PROGS_HOST,
				 links_frames_needed(&want, NULL), d);
	if (err)
		goto out;
	out->created = true;
	if (req->cache) {
		/* Maps this call created hold nothing yet. */
		maps_cache_free(req->cache);
		maps_cache_assume_empty(req->cache);
	}
	/* The whole policy and the record are in the maps before anything is pinned. */
	err = apply_maps(&l.maps, req, &opts, &res, d);
	if (!err)
		err = first_record(&l, cgroup, req, res.generation, d);
	if (!err)
		err = pin_new_maps(inst, &l, d);
	if (!err)
		err = instance_take_maps(inst, &l.maps, SPEE_MAP_ALL, d);
	if (err)
		goto undo;
	note_result(&l.maps, &res, out);
	err = links_reconcile(inst, &l, &want, &none, &changes, d);
	out->attached = changes.attached;
	if (!err)
		err = instance_save_record(inst, d);
	if (!err)
		goto out;
undo:
	/* Leave nothing behind: the machine is as it was before this apply. */
	links_remove_all(inst);
	instance_forget_maps(inst);
	pindir_unpin_maps(inst->pin_dir, NULL);
	out->created = false;
out:
	loader_close(&l);
	if (ifaces != req->ifaces)
		free_strings(ifaces, n_ifaces);
	return err;
}

/*
 * Maps pinned by a build of another layout, or missing from it: this
 * build's replace them without a gap (grow.c), keeping what they hold
 * where they can.
 */
static int adopt_layout(struct instance *inst, const struct apply_request *req,
			struct apply_outcome *out, struct diags *d)
{
	uint32_t mask = inst->other_layout | inst->missing;
	struct loader_sizes sz;
	int err;

	sizes_for(req, &sz);
	err = grow_replace_maps(inst, &sz, mask, d);
	if (!err)
		out->migrated = mask;
	return err;
}

/* True when some interface program has a link, attached or not. */
static bool iface_links(const struct links_assessment *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].known && spee_progs[a->v[i].prog].where == SPEE_ATTACH_XDP)
			return true;
	return false;
}

/* Brings the links to what req asks for, loading the programs only when something must change. */
static int settle_links(struct instance *inst, const struct apply_request *req,
			struct apply_outcome *out, struct diags *d)
{
	struct links_want want = {
		.ifaces = req->ifaces,
		.n_ifaces = req->n_ifaces,
		.cgroup = req->cgroup,
	};
	struct links_assessment a;
	struct links_changes changes = { 0 };
	struct loader_sizes sz;
	struct loader l;
	char **ifaces = NULL;
	size_t n_ifaces = 0;
	int err = 0;

	if (apply_ifaces_all(want.ifaces, want.n_ifaces)) {
		err = every_iface(&ifaces, &n_ifaces);
		if (err)
			return err;
		want.ifaces = ifaces;
		want.n_ifaces = n_ifaces;
	}
	err = links_assess(inst, &want, &a);
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot read the links of %s: %s", inst->pin_dir,
			 strerror(-err));
		free_strings(ifaces, n_ifaces);
		return err;
	}
	if (links_settled(&a)) {
		links_assessment_free(&a);
		free_strings(ifaces, n_ifaces);
		return 0;
	}
	if (!want.n_ifaces && !iface_links(&a) && !req->gateway) {
		/* None asked for and none attached (a create killed before its links): as a new one. */
		err = default_ifaces(req, &ifaces, &n_ifaces, d);
		if (err) {
			links_assessment_free(&a);
			return err;
		}
		want.ifaces = ifaces;
		want.n_ifaces = n_ifaces;
	}
	/* Loading costs a verifier pass; the programs are only needed to attach or update. */
	loader_sizes_default(&sz);
	err = loader_load_frames(&l, &sz, &inst->maps, loader_progs_of(&inst->rec),
				 links_frames_needed(&want, &a), d);
	if (!err) {
		err = links_reconcile(inst, &l, &want, &a, &changes, d);
		loader_close(&l);
	}
	out->attached = changes.attached;
	out->detached = changes.detached;
	out->replaced = changes.replaced;
	links_assessment_free(&a);
	free_strings(ifaces, n_ifaces);
	return err;
}

static int update(struct instance *inst, const struct apply_request *req,
		  struct apply_outcome *out, struct diags *d)
{
	struct maps_apply_opts opts = { .audit = req->audit, .cache = req->cache };
	struct maps_apply_result res;
	size_t refusal = d->n;
	int err = 0;

	if ((inst->rec.kind == SPEE_INST_GATEWAY) != (req->gateway != NULL)) {
		/* one instance, one mode: its maps and links are of that mode */
		diag_add(d, NULL, 0, 0,
			 "the instance at %s is in %s mode: run `speebpf detach --pin-dir %s` "
			 "first, or use another --pin-dir",
			 inst->pin_dir, inst->rec.kind == SPEE_INST_GATEWAY ? "gateway" : "host",
			 inst->pin_dir);
		return -EINVAL;
	}
	if (inst->other_layout | inst->missing)
		err = adopt_layout(inst, req, out, d);
	/* Interfaces first: a bad --iface must not leave a new policy half-applied. */
	if (!err && req->gateway && req->n_ifaces)
		err = apply_check_gateway_ifaces(req->ifaces, req->n_ifaces, d);
	else if (!err && !apply_ifaces_all(req->ifaces, req->n_ifaces))
		err = check_ifaces(req->ifaces, req->n_ifaces, d);
	if (err)
		return err;
	refusal = d->n;
	err = apply_maps(&inst->maps, req, &opts, &res, d);
	if (err == -E2BIG) {
		/* The policy outgrew a map; nothing of the slot was switched to. */
		err = grow_for(inst, &res.stats, d);
		if (!err) {
			diags_truncate(d, refusal); /* the refusal is answered */
			out->grown = true;
			err = apply_maps(&inst->maps, req, &opts, &res, d);
		}
	}
	if (err)
		return err;
	note_result(&inst->maps, &res, out);
	return settle_links(inst, req, out, d);
}

int apply_policy(struct instance *inst, const struct apply_request *req, struct apply_outcome *out,
		 struct diags *d)
{
	int err;

	memset(out, 0, sizeof(*out));
	/* Refused before anything is loaded or written: the running policy stays. */
	err = maps_check_datapath(req->policy, d);
	if (err)
		return err;
	err = inst->exists ? update(inst, req, out, d) : create(inst, req, out, d);
	if (!err && !out->created) {
		pthread_mutex_lock(&inst->mu);
		note_gateway(&inst->rec, req);
		pthread_mutex_unlock(&inst->mu);
		err = instance_note_result(inst, req->policy, out->generation, req->audit, true,
					   NULL, d);
	}
	/* What the names stood for, for status and for a restarted agent. */
	if (!err && req->names)
		err = namestore_save(inst, req->names);
	return err;
}
