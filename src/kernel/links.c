// SPDX-License-Identifier: GPL-2.0-only
/*
 * links.c - the links of an instance (links.h). The order of changes is
 * what keeps traffic safe: what is asked for is attached (or swapped in
 * place) before what is no longer asked for is removed, and a link that is
 * attached is never detached to be attached again.
 */
#include "links.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "ifaces.h"

/* What links_assess reads of the handle, copied under its lock. */
struct owner_view {
	uint8_t prog_tag[SPEE_PROG_COUNT][SPEE_TAG_SIZE];
	uint8_t object_id[8];
	char cgroup[SPEE_TEXT_LEN];
	uint32_t map_id[SPEE_MAP_COUNT];
	bool gateway; /* the record's kind */
	char ports[SPEE_GW_PORTS][SPEE_IFNAME_LEN]; /* gateway: the bridge ports filtered */
	size_t n_ports;
};

/* The bridge ports a record names (gateway mode), each a string. */
static size_t record_ports(const struct spee_instance *rec, char ports[][SPEE_IFNAME_LEN])
{
	size_t n = 0;

	for (size_t i = 0; i < rec->gw_n_ports && i < SPEE_GW_PORTS; i++) {
		memcpy(ports[n], rec->gw_ports[i], SPEE_IFNAME_LEN);
		ports[n][SPEE_IFNAME_LEN - 1] = '\0';
		n += ports[n][0] != '\0';
	}
	return n;
}

static void view_of(struct instance *inst, struct owner_view *v)
{
	pthread_mutex_lock(&inst->mu);
	for (int p = 0; p < SPEE_PROG_COUNT; p++)
		memcpy(v->prog_tag[p], spee_instance_prog_tag(&inst->rec, (enum spee_prog_id)p),
		       SPEE_TAG_SIZE);
	memcpy(v->object_id, inst->rec.object_id, sizeof(v->object_id));
	memcpy(v->cgroup, inst->rec.cgroup_path, sizeof(v->cgroup));
	memcpy(v->map_id, inst->map_id, sizeof(v->map_id));
	v->gateway = inst->rec.kind == SPEE_INST_GATEWAY;
	v->n_ports = v->gateway ? record_ports(&inst->rec, v->ports) : 0;
	pthread_mutex_unlock(&inst->mu);
}

/* True when a map this program uses is one of ours but not the pinned one of its name. */
static bool uses_other_map(uint32_t id, const uint32_t pinned[SPEE_MAP_COUNT])
{
	struct bpf_map_info info;
	int fd, err;

	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		if (pinned[i] == id)
			return false;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return true;
	err = loader_map_info(fd, &info);
	close(fd);
	if (err)
		return true;
	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		if (!strcmp(info.name, spee_map_names[i]))
			return true;
	return false; /* the object's own data (.rodata) or a scratch map, never pinned */
}

/* True when the program with this id has this tag and uses the pinned maps only. */
static bool runs(uint32_t prog_id, const uint8_t tag[SPEE_TAG_SIZE],
		 const uint32_t pinned[SPEE_MAP_COUNT])
{
	__u32 ids[2 * SPEE_MAP_COUNT + 8], len;
	struct bpf_prog_info info;
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool ours;

	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(uintptr_t)ids;
	len = sizeof(info);
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) && !memcmp(info.tag, tag, SPEE_TAG_SIZE) &&
	       info.nr_map_ids <= sizeof(ids) / sizeof(ids[0]);
	close(fd);
	for (__u32 i = 0; ours && i < info.nr_map_ids; i++)
		ours = !uses_other_map(ids[i], pinned);
	return ours;
}

/*
 * Which of our programs of hook `where` the program with this id is, by its
 * name (whatever build loaded it), or -1.
 */
static int program_named(uint32_t prog_id, enum spee_attach_where where)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id), found = -1;

	if (fd < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		for (int p = 0; p < SPEE_PROG_COUNT && found < 0; p++)
			if (spee_progs[p].where == where &&
			    !strncmp(info.name, spee_progs[p].name, sizeof(info.name) - 1))
				found = p;
	close(fd);
	return found;
}

/*
 * An XDP link's device: how its frames start, its tc egress filter (host
 * mode's only), and so
 * the variant of the XDP program it needs (ls->prog). A link's ifindex
 * names its device only in the device's network namespace: where the
 * link's program is not on that ifindex here, the device is unseen, and
 * the variant is the one it runs.
 */
static void read_iface(struct link_state *ls)
{
	enum spee_attach_where where = spee_progs[ls->prog].where; /* host mode's, or the gateway's */
	struct iface_kind k;
	int variant;

	ls->frames = IFACE_UNSEEN;
	if (!ls->alive)
		return;
	if (!strcmp(ls->xdp_mode, "none")) {
		variant = program_named(ls->prog_id, where);
		if (variant >= 0)
			ls->prog = variant;
		return;
	}
	ls->frames = IFACE_REFUSED;
	if (!ifaces_classify(ls->ifname, &k)) {
		ls->frames = k.frames;
		ls->generic_only = k.generic_only;
	}
	if (where == SPEE_ATTACH_XDP) /* gateway mode has no egress filter */
		ifaces_tc_query(ls->ifindex, &ls->tc_prog_id);
	if (ls->frames == IFACE_IP)
		ls->prog = spee_prog_for(where, SPEE_FRAMES_IP);
}

/* The tc egress filter program that goes with an XDP program (the same frames). */
static enum spee_prog_id tc_of(int xdp_prog)
{
	return (enum spee_prog_id)spee_prog_for(SPEE_ATTACH_TC, spee_progs[xdp_prog].frames);
}

/* An XDP link whose device is seen from here, so that its tc filter is known. */
static bool iface_seen(const struct link_state *ls)
{
	return ls->known && spee_progs[ls->prog].where == SPEE_ATTACH_XDP && ls->alive &&
	       ls->frames != IFACE_UNSEEN;
}

/* Native XDP on a device that runs it on only some frames (ifaces.h) judges too little. */
static bool misses_frames(const struct link_state *ls)
{
	return ls->generic_only && !strcmp(ls->xdp_mode, "native");
}

/* Every pin under PIN_DIR/links, read. */
static int list_links(const char *pin_dir, struct link_state **out, size_t *n)
{
	char dir[PATH_MAX];
	struct link_state *v = NULL;
	struct dirent *de;
	size_t count = 0;
	DIR *dp;
	int err = pindir_links_dir(dir, sizeof(dir), pin_dir);

	*out = NULL;
	*n = 0;
	if (err)
		return err;
	dp = opendir(dir);
	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dp))) {
		struct link_state *grown, *ls;
		enum spee_prog_id prog;

		if (de->d_name[0] == '.')
			continue;
		grown = realloc(v, (count + 1) * sizeof(*v));
		if (!grown) {
			closedir(dp);
			free(v);
			return -ENOMEM;
		}
		v = grown;
		ls = &v[count++];
		memset(ls, 0, sizeof(*ls));
		if (snprintf(ls->pin, sizeof(ls->pin), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(ls->pin)) {
			count--; /* no name of ours is that long */
			continue;
		}
		ls->known = pindir_parse_link(de->d_name, &prog, ls->iface, sizeof(ls->iface));
		ls->prog = ls->known ? (int)prog : -1;
		attach_read(ls); /* a dead pin is reported, not fatal */
		if (ls->known && spee_where_per_iface(spee_progs[prog].where))
			read_iface(ls);
	}
	closedir(dp);
	*out = v;
	*n = count;
	return 0;
}

/*
 * Gateway mode: each bridge port of the record as a link_state of
 * spee_gw_tc (no pin: a tc filter is no link), alive while its ingress
 * filter is there, appended to *v.
 */
static int add_ports(char ports[][SPEE_IFNAME_LEN], size_t n_ports, struct link_state **v,
		     size_t *n)
{
	struct link_state *grown;

	if (!n_ports)
		return 0;
	grown = realloc(*v, (*n + n_ports) * sizeof(**v));
	if (!grown)
		return -ENOMEM;
	*v = grown;
	for (size_t i = 0; i < n_ports; i++) {
		struct link_state *ls = &grown[(*n)++];

		memset(ls, 0, sizeof(*ls));
		ls->known = true;
		ls->prog = SPEE_PROG_GW_TC;
		ls->xdp_mode = "none";
		snprintf(ls->iface, sizeof(ls->iface), "%s", ports[i]);
		snprintf(ls->ifname, sizeof(ls->ifname), "%s", ports[i]);
		ls->ifindex = if_nametoindex(ports[i]);
		ls->frames = ls->ifindex ? IFACE_ETHERNET : IFACE_UNSEEN;
		if (ls->ifindex && !ifaces_tc_ingress_query(ls->ifindex, &ls->prog_id))
			ls->alive = ls->prog_id != 0;
	}
	return 0;
}

/* True when a link of program p is one of hook (the variants of an XDP hook are one). */
static bool of_hook(int p, enum spee_prog_id hook)
{
	return p == (int)hook || (spee_where_per_iface(spee_progs[p].where) &&
				  spee_progs[p].where == spee_progs[hook].where);
}

/* The link of hook (on iface, for an XDP hook) among a's, or NULL. */
static const struct link_state *find(const struct links_assessment *a, enum spee_prog_id hook,
				     const char *iface)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].known && of_hook(a->v[i].prog, hook) &&
		    ((!spee_where_per_iface(spee_progs[hook].where) &&
		      spee_progs[hook].where != SPEE_ATTACH_GW_TC) ||
		     !strcmp(a->v[i].iface, iface)))
			return &a->v[i];
	return NULL;
}

static bool alive(const struct link_state *ls)
{
	return ls && ls->alive;
}

static bool requested(const struct links_want *want, const char *iface)
{
	for (size_t i = 0; i < want->n_ifaces; i++)
		if (!strcmp(want->ifaces[i], iface))
			return true;
	return false;
}

/* Interfaces without an attached link of XDP hook prog. */
static int iface_missing(const struct links_assessment *a, enum spee_prog_id prog,
			 const struct links_want *want)
{
	int missing = 0;

	if (!want->n_ifaces) {
		for (size_t i = 0; i < a->n; i++)
			if (a->v[i].known && of_hook(a->v[i].prog, prog) && a->v[i].alive)
				return 0;
		return 1; /* an instance judges what comes in on one interface at least */
	}
	for (size_t i = 0; i < want->n_ifaces; i++)
		missing += !alive(find(a, prog, want->ifaces[i]));
	return missing;
}

/* Gateway mode: the hook an interface needs, by what it is to a bridge (-1: cannot tell). */
static int gw_hook_of(const char *iface)
{
	enum iface_bridge_role role;

	if (ifaces_bridge_role(iface, &role, NULL, 0))
		return -1;
	return role == IFACE_BRIDGE_PORT ? SPEE_PROG_GW_TC : SPEE_PROG_GW_XDP;
}

/* An interface entry of gateway mode: its XDP link, or a bridge port's tc ingress filter. */
static bool gw_iface_entry(const struct link_state *ls)
{
	return ls->known && spee_where_gateway(spee_progs[ls->prog].where);
}

/* Gateway mode's counts: every interface asked for has the hook its kind needs, and only those. */
static void assess_gateway(const struct links_want *want, struct links_assessment *a)
{
	bool any = false;

	for (size_t i = 0; i < a->n; i++) {
		const struct link_state *ls = &a->v[i];

		if (!gw_iface_entry(ls))
			continue;
		any = true;
		if (want->n_ifaces && !requested(want, ls->iface)) {
			a->unwanted++;
			continue;
		}
		/* a bridge port's filter is no link: gone, it is missing, not detached */
		if (ls->prog == SPEE_PROG_GW_TC && !ls->alive)
			a->missing++;
	}
	for (size_t i = 0; i < want->n_ifaces; i++) {
		int hook = gw_hook_of(want->ifaces[i]);
		const struct link_state *ls;

		if (hook < 0) {
			a->missing++; /* no such interface (any more) */
			continue;
		}
		ls = find(a, (enum spee_prog_id)hook, want->ifaces[i]);
		if (!ls)
			a->missing++;
		/* the other hook on it: it joined or left a bridge since */
		a->unwanted += find(a, hook == SPEE_PROG_GW_TC ? SPEE_PROG_GW_XDP : SPEE_PROG_GW_TC,
				    want->ifaces[i]) != NULL;
	}
	if (!want->n_ifaces && !any)
		a->missing++; /* an instance judges what comes in on one interface at least */
}

int links_assess(struct instance *inst, const struct links_want *want, struct links_assessment *a)
{
	static const struct links_want as_is;
	struct owner_view *v = malloc(sizeof(*v));
	uint8_t object_id[8];
	int err;

	memset(a, 0, sizeof(*a));
	if (!v)
		return -ENOMEM;
	if (!want)
		want = &as_is;
	view_of(inst, v);
	err = list_links(inst->pin_dir, &a->v, &a->n);
	if (!err)
		err = add_ports(v->ports, v->n_ports, &a->v, &a->n);
	if (err) {
		free(v);
		links_assessment_free(a);
		return err;
	}
	for (size_t i = 0; i < a->n; i++) {
		struct link_state *ls = &a->v[i];

		if (!ls->known) {
			a->stray++;
			continue;
		}
		if (!ls->alive && ls->prog != SPEE_PROG_GW_TC)
			a->detached++;
		else if (ls->alive)
			ls->ours = runs(ls->prog_id, v->prog_tag[ls->prog], v->map_id) &&
				   !misses_frames(ls);
		a->foreign += ls->alive && !ls->ours;
		if (iface_seen(ls)) {
			/* an interface is enforced with its tc egress filter: both ways */
			ls->tc_ours = ls->tc_prog_id &&
				      runs(ls->tc_prog_id, v->prog_tag[tc_of(ls->prog)], v->map_id);
			a->missing += !ls->tc_prog_id;
			a->foreign += ls->tc_prog_id && !ls->tc_ours;
		}
		a->unwanted += want->n_ifaces && spee_progs[ls->prog].where == SPEE_ATTACH_XDP &&
			       !requested(want, ls->iface);
	}
	if (v->gateway) {
		assess_gateway(want, a);
	} else {
		for (int p = 0; p < SPEE_PROG_COUNT; p++) {
			if (!spee_prog_names_hook((enum spee_prog_id)p) ||
			    spee_where_gateway(spee_progs[p].where))
				continue; /* a variant, or a tc filter: counted with its XDP link; or gateway mode's */
			a->missing += spee_progs[p].where == SPEE_ATTACH_XDP ?
					      iface_missing(a, (enum spee_prog_id)p, want) :
					      !alive(find(a, (enum spee_prog_id)p, NULL));
		}
		a->moving = want->cgroup && v->cgroup[0] && strcmp(want->cgroup, v->cgroup);
	}
	loader_object_id(object_id);
	a->upgrade = memcmp(object_id, v->object_id, sizeof(object_id)) != 0;
	free(v);
	return 0;
}

void links_assessment_free(struct links_assessment *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* ---- reconciling ---- */

/*
 * Removes a pinned link; an XDP link's device loses its tc egress filter
 * with it (found by the link's ifindex, or for a link no longer attached by
 * the interface its pin names, when the filter there runs one of ours).
 */
static int remove_link(const struct link_state *ls)
{
	uint32_t tc_prog = 0;
	unsigned ifindex;

	if (ls->known && ls->prog == SPEE_PROG_GW_TC) {
		/* a bridge port's filter, the instance's by the program's name */
		if (ls->ifindex && ls->prog_id &&
		    program_named(ls->prog_id, SPEE_ATTACH_GW_TC) >= 0)
			return ifaces_tc_ingress_detach(ls->ifindex);
		return 0;
	}
	if (ls->known && spee_progs[ls->prog].where == SPEE_ATTACH_XDP) {
		if (iface_seen(ls) && ls->tc_prog_id) {
			ifaces_tc_detach(ls->ifindex);
		} else if (!ls->alive && (ifindex = if_nametoindex(ls->iface)) &&
			   !ifaces_tc_query(ifindex, &tc_prog) && tc_prog &&
			   program_named(tc_prog, SPEE_ATTACH_TC) >= 0) {
			ifaces_tc_detach(ifindex);
		}
	}
	return attach_detach_pinned(ls->pin);
}

/*
 * The part of reconciling a pinned link that every hook shares. A live link
 * is made to run fd in place, with no gap (nothing when it runs the program
 * of tag already: a program replaced behind our back, or an older build's,
 * is swapped); a dead one loses its pin, which must go before a new link
 * takes its place. 1 when the link is alive and runs fd's program, 0 when
 * the caller must attach anew, or a negative errno with the reason in d.
 */
static int relink_in_place(const struct instance *inst, const struct link_state *ls, int fd,
			   const uint8_t tag[SPEE_TAG_SIZE], struct links_changes *c,
			   struct diags *d)
{
	int err;

	if (!alive(ls)) {
		if (ls)
			attach_detach_pinned(ls->pin);
		return 0;
	}
	if (runs(ls->prog_id, tag, inst->map_id))
		return 1;
	err = attach_update(ls->pin, fd);
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot update the program of %s: %s", ls->pin,
			 strerror(-err));
		return err;
	}
	c->replaced++;
	return 1;
}

/* A cgroup program's link brought to what it should be: attached, and running l's program. */
static int reconcile_one(struct instance *inst, const struct loader *l, const struct link_state *ls,
			 enum spee_prog_id prog, const char *cgroup, const char *pin,
			 const uint8_t tag[SPEE_TAG_SIZE], struct links_changes *c,
			 struct diags *d)
{
	int fd = loader_prog_fd(l, prog), err;
	char what[32];

	err = relink_in_place(inst, ls, fd, tag, c, d);
	if (err)
		return err > 0 ? 0 : err;
	spee_prog_kind(prog, what, sizeof(what));
	err = attach_cgroup(fd, loader_attach_type(prog), what, cgroup, pin);
	if (err)
		diag_add(d, NULL, 0, 0, "cannot attach %s to %s: %s", what, cgroup, strerror(-err));
	else
		c->attached++;
	return err;
}

/* The tc egress filter of an attached interface: l's program for it, unless it runs already. */
static int reconcile_tc(struct instance *inst, const struct loader *l, const struct link_state *ls,
			enum spee_prog_id tc, const uint8_t tag[SPEE_TAG_SIZE],
			struct links_changes *c, struct diags *d)
{
	int err;

	if (ls->tc_prog_id && runs(ls->tc_prog_id, tag, inst->map_id))
		return 0;
	/* in place of the filter there (replaced atomically), or the missing one */
	err = ifaces_tc_attach(ls->ifindex, loader_prog_fd(l, tc));
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot attach the tc egress filter to %s: %s", ls->ifname,
			 strerror(-err));
		return err;
	}
	if (ls->tc_prog_id)
		c->replaced++;
	else
		c->attached++;
	return 0;
}

/*
 * What an interface's XDP link needs to be reconciled: 1 when it runs the
 * program it should on a device of another namespace (nothing to do, and
 * nothing this one can tell), 0 with *k its kind, or a negative errno with
 * the reason in d (another namespace's device running something else, a
 * device that cannot be classified or judged).
 */
static int iface_to_reconcile(const struct instance *inst, const struct link_state *ls,
			      const char *iface, uint8_t tag[SPEE_PROG_COUNT][SPEE_TAG_SIZE],
			      struct iface_kind *k, struct diags *d)
{
	int err;

	if (alive(ls) && ls->frames == IFACE_UNSEEN) {
		if (runs(ls->prog_id, tag[ls->prog], inst->map_id))
			return 1;
		/* which device it is, and so which programs it needs, only its namespace can tell */
		diag_add(d, NULL, 0, 0,
			 "the interface of %s (ifindex %u) is in another network namespace: run "
			 "apply in that one",
			 ls->pin, ls->ifindex);
		return -EXDEV;
	}
	err = ifaces_classify(iface, k);
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot tell what %s carries: %s", iface, strerror(-err));
		return err;
	}
	if (k->frames == IFACE_REFUSED) {
		diag_add(d, NULL, 0, 0, "refusing to enforce %s: %s; leave it out of --iface", iface,
			 k->why);
		return -EOPNOTSUPP;
	}
	return 0;
}

unsigned links_frames_needed(const struct links_want *want, const struct links_assessment *a)
{
	unsigned frames = 0;
	struct iface_kind k;

	for (size_t i = 0; want && i < want->n_ifaces; i++)
		if (!ifaces_classify(want->ifaces[i], &k) &&
		    (k.frames == IFACE_ETHERNET || k.frames == IFACE_IP))
			frames |= 1u << k.frames;
	for (size_t i = 0; a && i < a->n; i++) {
		enum spee_frames f = a->v[i].known ? spee_progs[a->v[i].prog].frames
						   : SPEE_FRAMES_NONE;

		if (f != SPEE_FRAMES_NONE)
			frames |= 1u << f;
	}
	return frames;
}

/* Program p is among l's: not when iface changed kind after the load chose l's programs. */
static int loaded_for(const struct loader *l, enum spee_prog_id p, const char *iface,
		      struct diags *d)
{
	if (loader_has(l, p))
		return 0;
	diag_add(d, NULL, 0, 0,
		 "%s changed while the programs were loaded (%s is not among them): apply again",
		 iface, spee_progs[p].name);
	return -EAGAIN;
}

/*
 * What an interface's XDP link starts with, in either mode: its kind (*k),
 * the variant of where's program for its frames (*xdp, one of l's), and a
 * native link that misses frames detached (*ls NULL then). 1 when there is
 * nothing to do, 0, or a negative errno with the reason in d.
 */
static int xdp_link_start(struct instance *inst, const struct loader *l,
			  const struct link_state **ls, const char *iface,
			  enum spee_attach_where where, uint8_t tag[SPEE_PROG_COUNT][SPEE_TAG_SIZE],
			  struct iface_kind *k, enum spee_prog_id *xdp, struct links_changes *c,
			  struct diags *d)
{
	int err = iface_to_reconcile(inst, *ls, iface, tag, k, d);

	if (err)
		return err;
	*xdp = (enum spee_prog_id)spee_prog_for(where, (enum spee_frames)k->frames);
	err = loaded_for(l, *xdp, iface, d);
	if (err)
		return err;
	if (alive(*ls) && misses_frames(*ls)) {
		/*
		 * Native XDP on this device never sees the frames it should
		 * judge (an older build attached it so): detaching it to attach
		 * in generic mode loses nothing that was enforced.
		 */
		attach_detach_pinned((*ls)->pin);
		c->detached++;
		*ls = NULL;
	}
	return 0;
}

/*
 * An interface brought to what it should be: the XDP program and the tc
 * egress filter for its frames (ifaces.h), attached and l's. A device
 * speebpf cannot judge is refused: nothing is attached to pass its frames
 * unjudged.
 */
static int reconcile_iface(struct instance *inst, const struct loader *l,
			   const struct link_state *ls, const char *iface, const char *pin,
			   uint8_t tag[SPEE_PROG_COUNT][SPEE_TAG_SIZE], struct links_changes *c,
			   struct diags *d)
{
	enum spee_prog_id xdp, tc;
	struct iface_kind k;
	unsigned ifindex;
	bool generic;
	int err;

	err = xdp_link_start(inst, l, &ls, iface, SPEE_ATTACH_XDP, tag, &k, &xdp, c, d);
	if (err)
		return err > 0 ? 0 : err;
	tc = tc_of(xdp);
	err = relink_in_place(inst, ls, loader_prog_fd(l, xdp), tag[xdp], c, d);
	if (err < 0)
		return err;
	if (err > 0)
		return reconcile_tc(inst, l, ls, tc, tag[tc], c, d);
	ifindex = if_nametoindex(iface);
	if (!ifindex) {
		diag_add(d, NULL, 0, 0, "no such interface: %s", iface);
		return -ENODEV;
	}
	/* The egress filter first: the interface is never judged one way only after this. */
	err = ifaces_tc_attach(ifindex, loader_prog_fd(l, tc));
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot attach the tc egress filter to %s: %s", iface,
			 strerror(-err));
		return err;
	}
	err = attach_iface(loader_prog_fd(l, xdp), loader_attach_type(xdp), iface, pin,
			   k.generic_only, &generic);
	if (err) {
		ifaces_tc_detach(ifindex);
		diag_add(d, NULL, 0, 0, "cannot attach xdp to %s: %s", iface, strerror(-err));
		return err;
	}
	c->attached += 2; /* the XDP link and the tc filter */
	return 0;
}

/* A host-mode XDP link's entry. */
static bool host_xdp_entry(const struct link_state *ls)
{
	return ls->known && spee_progs[ls->prog].where == SPEE_ATTACH_XDP;
}

/* The interfaces of the entries keep accepts, each once (*out: malloc'd, names borrowed). */
static int distinct_ifaces(const struct links_assessment *a,
			   bool (*keep)(const struct link_state *), char ***out, size_t *n)
{
	char **v = calloc(a->n ? a->n : 1, sizeof(*v));

	*n = 0;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < a->n; i++) {
		bool dup = false;

		if (!keep(&a->v[i]))
			continue;
		for (size_t k = 0; k < *n && !dup; k++)
			dup = !strcmp(v[k], a->v[i].iface);
		if (!dup)
			v[(*n)++] = (char *)a->v[i].iface;
	}
	*out = v;
	return 0;
}

/* The interfaces the interface programs go on: asked for, or those attached now. */
static int iface_list(const struct links_want *want, const struct links_assessment *a,
		      char ***out, size_t *n)
{
	*n = 0;
	if (want->n_ifaces) {
		*out = (char **)want->ifaces;
		*n = want->n_ifaces;
		return 0;
	}
	return distinct_ifaces(a, host_xdp_entry, out, n);
}

/* A cgroup program's link on a new cgroup: made under a staging pin, the old one removed, renamed. */
static int move_one(struct instance *inst, const struct loader *l, const struct link_state *ls,
		    enum spee_prog_id prog, const char *cgroup, const char *pin,
		    const uint8_t tag[SPEE_TAG_SIZE], struct links_changes *c, struct diags *d)
{
	char staging[PATH_MAX];
	int err = pindir_staging(staging, sizeof(staging), pin);

	if (err)
		return err;
	unlink(staging); /* left by a process that died here */
	err = reconcile_one(inst, l, NULL, prog, cgroup, staging, tag, c, d);
	if (err)
		return err;
	if (ls && attach_detach_pinned(ls->pin) == 0)
		c->detached++;
	if (rename(staging, pin)) {
		err = -errno;
		diag_add(d, NULL, 0, 0, "cannot rename %s: %s", staging, strerror(-err));
	}
	return err;
}

/* A bridge port's tc ingress filter (gateway mode): l's spee_gw_tc, unless it runs already. */
static int reconcile_port(struct instance *inst, const struct loader *l,
			  const struct link_state *ls, const char *iface,
			  const uint8_t tag[SPEE_TAG_SIZE], struct links_changes *c, struct diags *d)
{
	unsigned ifindex = if_nametoindex(iface);
	uint32_t now = 0;
	int err;

	if (!ifindex) {
		diag_add(d, NULL, 0, 0, "no such interface: %s", iface);
		return -ENODEV;
	}
	/* what the port runs now (ls: as assessed; a port new to the record has none listed) */
	if (!ls || !ls->alive)
		ifaces_tc_ingress_query(ifindex, &now);
	else
		now = ls->prog_id;
	if (now && runs(now, tag, inst->map_id))
		return 0;
	err = loaded_for(l, SPEE_PROG_GW_TC, iface, d);
	if (err)
		return err;
	err = ifaces_tc_ingress_attach(ifindex, loader_prog_fd(l, SPEE_PROG_GW_TC));
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot attach the tc ingress filter to %s: %s", iface,
			 strerror(-err));
		return err;
	}
	if (now)
		c->replaced++;
	else
		c->attached++;
	return 0;
}

/* A routed interface's XDP link (gateway mode): the variant for its frames, attached and l's. */
static int reconcile_gw_xdp(struct instance *inst, const struct loader *l,
			    const struct link_state *ls, const char *iface, const char *pin,
			    uint8_t tag[SPEE_PROG_COUNT][SPEE_TAG_SIZE], struct links_changes *c,
			    struct diags *d)
{
	enum spee_prog_id xdp;
	struct iface_kind k;
	bool generic;
	int err;

	err = xdp_link_start(inst, l, &ls, iface, SPEE_ATTACH_GW_XDP, tag, &k, &xdp, c, d);
	if (err)
		return err > 0 ? 0 : err;
	err = relink_in_place(inst, ls, loader_prog_fd(l, xdp), tag[xdp], c, d);
	if (err)
		return err > 0 ? 0 : err;
	err = attach_iface(loader_prog_fd(l, xdp), loader_attach_type(xdp), iface, pin,
			   k.generic_only, &generic);
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot attach xdp to %s: %s", iface, strerror(-err));
		return err;
	}
	c->attached++;
	return 0;
}

/*
 * Notes in the record (saved) that the instance is a gateway and which bridge
 * ports it filters: ports, and those of a's still there (NULL: none).
 */
static int note_ports(struct instance *inst, char ports[][SPEE_IFNAME_LEN], size_t n_ports,
		      const struct links_assessment *a, struct diags *d)
{
	size_t n = 0;

	pthread_mutex_lock(&inst->mu);
	inst->rec.kind = SPEE_INST_GATEWAY;
	memset(inst->rec.gw_ports, 0, sizeof(inst->rec.gw_ports));
	for (size_t i = 0; i < n_ports; i++)
		memcpy(inst->rec.gw_ports[n++], ports[i], SPEE_IFNAME_LEN);
	for (size_t i = 0; a && i < a->n && n < SPEE_GW_PORTS; i++) {
		bool dup = false;

		if (!a->v[i].known || a->v[i].prog != SPEE_PROG_GW_TC)
			continue;
		for (size_t k = 0; k < n && !dup; k++)
			dup = !strncmp(inst->rec.gw_ports[k], a->v[i].iface, SPEE_IFNAME_LEN);
		if (!dup)
			snprintf(inst->rec.gw_ports[n++], SPEE_IFNAME_LEN, "%s", a->v[i].iface);
	}
	inst->rec.gw_n_ports = (uint16_t)n;
	pthread_mutex_unlock(&inst->mu);
	return instance_save_record(inst, d);
}

/* The interfaces of a gateway instance now: its XDP links' and its ports'. */
static int gw_iface_list(const struct links_assessment *a, char ***out, size_t *n)
{
	return distinct_ifaces(a, gw_iface_entry, out, n);
}

/*
 * links_reconcile in gateway mode: each interface gets the hook of its
 * kind (a bridge port its tc ingress filter, any other interface its XDP
 * link); the bridge ports filtered are noted in the record, since no pin
 * holds them. What is no longer asked for goes last.
 */
static int reconcile_gateway(struct instance *inst, const struct loader *l,
			     const struct links_want *want, const struct links_assessment *a,
			     uint8_t tag[SPEE_PROG_COUNT][SPEE_TAG_SIZE], struct links_changes *c,
			     struct diags *d)
{
	char pin[PATH_MAX], **ifaces = NULL, (*ports)[SPEE_IFNAME_LEN] = NULL;
	size_t n_ifaces = 0, n_ports = 0;
	bool *is_port = NULL;
	int err;

	if (want->n_ifaces) {
		ifaces = (char **)want->ifaces;
		n_ifaces = want->n_ifaces;
		err = 0;
	} else {
		err = gw_iface_list(a, &ifaces, &n_ifaces);
	}
	if (!err && n_ifaces > SPEE_GW_PORTS * 4) {
		diag_add(d, NULL, 0, 0, "%zu interfaces is more than a gateway instance takes",
			 n_ifaces);
		err = -E2BIG;
	}
	if (!err) {
		ports = calloc(SPEE_GW_PORTS, sizeof(*ports));
		is_port = calloc(n_ifaces ? n_ifaces : 1, sizeof(*is_port));
		if (!ports || !is_port)
			err = -ENOMEM;
	}
	/* First what each interface is: a bridge is refused before anything changes. */
	for (size_t i = 0; i < n_ifaces && !err; i++) {
		enum iface_bridge_role role;
		char members[256];

		err = ifaces_bridge_role(ifaces[i], &role, members, sizeof(members));
		if (err) {
			diag_add(d, NULL, 0, 0, "cannot tell what %s is: %s", ifaces[i],
				 strerror(-err));
			break;
		}
		if (role == IFACE_BRIDGE) {
			diag_add(d, NULL, 0, 0,
				 "%s is a bridge: give its ports instead (--iface for each of: %s)",
				 ifaces[i], members[0] ? members : "it has none");
			err = -EINVAL;
			break;
		}
		is_port[i] = role == IFACE_BRIDGE_PORT;
		if (!is_port[i])
			continue;
		if (n_ports == SPEE_GW_PORTS) {
			diag_add(d, NULL, 0, 0, "more than %d bridge ports", SPEE_GW_PORTS);
			err = -E2BIG;
			break;
		}
		snprintf(ports[n_ports++], SPEE_IFNAME_LEN, "%s", ifaces[i]);
	}
	/*
	 * The ports are noted before a filter is attached or removed, the old
	 * ones with the new: whatever happens from here on (a failure undone, a
	 * process killed), the record names every filter there may be.
	 */
	if (!err)
		err = note_ports(inst, ports, n_ports, a, d);
	for (size_t i = 0; i < n_ifaces && !err; i++) {
		if (is_port[i]) {
			err = reconcile_port(inst, l, find(a, SPEE_PROG_GW_TC, ifaces[i]), ifaces[i],
					     tag[SPEE_PROG_GW_TC], c, d);
			continue;
		}
		err = pindir_link(pin, sizeof(pin), inst->pin_dir, SPEE_PROG_GW_XDP, ifaces[i]);
		if (!err)
			err = reconcile_gw_xdp(inst, l, find(a, SPEE_PROG_GW_XDP, ifaces[i]),
					       ifaces[i], pin, tag, c, d);
	}
	/* Last, what is no longer asked for: interfaces dropped or that changed kind, stray pins. */
	for (size_t i = 0; i < a->n && !err; i++) {
		const struct link_state *ls = &a->v[i];
		bool drop = !ls->known;

		for (size_t k = 0; !drop && gw_iface_entry(ls) && k <= n_ifaces; k++) {
			if (k == n_ifaces)
				drop = true; /* not asked for */
			else if (!strcmp(ifaces[k], ls->iface))
				break;
		}
		if (!drop && gw_iface_entry(ls)) {
			/* asked for, but with the other hook: it joined or left a bridge */
			for (size_t k = 0; k < n_ifaces; k++)
				if (!strcmp(ifaces[k], ls->iface))
					drop = is_port[k] != (ls->prog == SPEE_PROG_GW_TC);
		}
		if (drop && remove_link(ls) == 0)
			c->detached++;
	}
	if (!err)
		err = note_ports(inst, ports, n_ports, NULL, d);
	if (ifaces != want->ifaces)
		free(ifaces);
	free(ports);
	free(is_port);
	return err;
}

int links_reconcile(struct instance *inst, const struct loader *l, const struct links_want *want,
		    const struct links_assessment *a, struct links_changes *c, struct diags *d)
{
	uint8_t tag[SPEE_PROG_COUNT][SPEE_TAG_SIZE] = { { 0 } };
	const char *cgroup = want->cgroup ? want->cgroup : inst->rec.cgroup_path;
	char pin[PATH_MAX], **ifaces = NULL;
	size_t n_ifaces = 0;
	int err = 0;

	for (int p = 0; p < SPEE_PROG_COUNT && !err; p++)
		if (loader_has(l, (enum spee_prog_id)p)) /* the others stay zero */
			err = loader_prog_tag(l, (enum spee_prog_id)p, tag[p]);
	if (!err)
		err = pindir_links_dir(pin, sizeof(pin), inst->pin_dir);
	if (!err && (err = pindir_mkdir(pin)))
		diag_add(d, NULL, 0, 0, "cannot create %s: %s", pin, strerror(-err));
	if (!err && l->progs == LOADER_PROGS_GATEWAY) {
		err = reconcile_gateway(inst, l, want, a, tag, c, d);
		goto noted;
	}
	if (!err && !cgroup[0]) {
		diag_add(d, NULL, 0, 0, "the instance at %s names no cgroup: give --cgroup",
			 inst->pin_dir);
		err = -EINVAL;
	}
	if (!err)
		err = iface_list(want, a, &ifaces, &n_ifaces);
	for (int p = 0; p < SPEE_PROG_COUNT && !err; p++) {
		enum spee_prog_id prog = (enum spee_prog_id)p;

		if (!spee_prog_names_hook(prog) || spee_where_gateway(spee_progs[p].where))
			continue; /* a variant, a tc filter (reconciled with its interface), gateway mode's */
		if (spee_progs[p].where == SPEE_ATTACH_XDP) {
			for (size_t i = 0; i < n_ifaces && !err; i++) {
				err = pindir_link(pin, sizeof(pin), inst->pin_dir, prog, ifaces[i]);
				if (!err)
					err = reconcile_iface(inst, l, find(a, prog, ifaces[i]),
							      ifaces[i], pin, tag, c, d);
			}
			continue;
		}
		err = pindir_link(pin, sizeof(pin), inst->pin_dir, prog, NULL);
		if (!err && a->moving)
			err = move_one(inst, l, find(a, prog, NULL), prog, cgroup, pin, tag[p], c, d);
		else if (!err)
			err = reconcile_one(inst, l, find(a, prog, NULL), prog, cgroup, pin, tag[p], c,
					    d);
	}
	/* Last, what is no longer asked for: interfaces dropped, and stray pins. */
	for (size_t i = 0; i < a->n && !err; i++) {
		const struct link_state *ls = &a->v[i];
		bool drop = !ls->known || (want->n_ifaces &&
					   spee_progs[ls->prog].where == SPEE_ATTACH_XDP &&
					   !requested(want, ls->iface));

		if (drop && remove_link(ls) == 0)
			c->detached++;
	}
	if (ifaces != want->ifaces)
		free(ifaces);
noted:
	if (err)
		return err;
	pthread_mutex_lock(&inst->mu);
	if (l->progs == LOADER_PROGS_GATEWAY)
		cgroup = inst->rec.cgroup_path; /* none: gateway mode has no cgroup programs */
	if (cgroup != inst->rec.cgroup_path)
		instance_set_text(inst->rec.cgroup_path, sizeof(inst->rec.cgroup_path), cgroup);
	for (int p = 0; p < SPEE_PROG_COUNT; p++)
		memcpy(spee_instance_prog_tag(&inst->rec, (enum spee_prog_id)p), tag[p],
		       SPEE_TAG_SIZE);
	loader_object_id(inst->rec.object_id);
	pthread_mutex_unlock(&inst->mu);
	return 0;
}

/* ---- switching for a growth ---- */

int links_switch(struct instance *inst, const struct loader *l, struct links_switched *s,
		 struct diags *d)
{
	int err = links_assess(inst, NULL, &s->a);

	s->old_prog = s->old_tc = NULL;
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot list the links of %s: %s", inst->pin_dir,
			 strerror(-err));
		return err;
	}
	s->old_prog = malloc((s->a.n ? s->a.n : 1) * sizeof(*s->old_prog));
	s->old_tc = malloc((s->a.n ? s->a.n : 1) * sizeof(*s->old_tc));
	if (!s->old_prog || !s->old_tc)
		return -ENOMEM;
	for (size_t i = 0; i < s->a.n; i++)
		s->old_prog[i] = s->old_tc[i] = -1;
	for (size_t i = 0; i < s->a.n; i++) {
		const struct link_state *ls = &s->a.v[i];
		bool xdp;

		if (!ls->known || !ls->alive)
			continue; /* for the next reconcile to attach again, or remove */
		if (ls->prog == SPEE_PROG_GW_TC) {
			/* a bridge port's filter: replaced in place like a link's program */
			s->old_prog[i] = bpf_prog_get_fd_by_id(ls->prog_id);
			if (s->old_prog[i] < 0) {
				err = -errno;
				diag_add(d, NULL, 0, 0, "cannot open the filter program of %s: %s",
					 ls->iface, strerror(-err));
				return err;
			}
			err = ifaces_tc_ingress_attach(ls->ifindex,
						       loader_prog_fd(l, SPEE_PROG_GW_TC));
			if (err) {
				diag_add(d, NULL, 0, 0, "cannot update the tc ingress filter of %s: %s",
					 ls->iface, strerror(-err));
				return err;
			}
			continue;
		}
		xdp = spee_progs[ls->prog].where == SPEE_ATTACH_XDP;
		if (xdp && ls->frames == IFACE_UNSEEN) {
			/* its tc filter, around the old maps, cannot be switched from here */
			diag_add(d, NULL, 0, 0,
				 "the interface of %s (ifindex %u) is in another network namespace: "
				 "run apply in that one",
				 ls->pin, ls->ifindex);
			return -EXDEV;
		}
		/* noted first: an interface's switch may fail between its two programs */
		s->old_prog[i] = bpf_prog_get_fd_by_id(ls->prog_id);
		if (s->old_prog[i] >= 0 && xdp && ls->tc_prog_id)
			s->old_tc[i] = bpf_prog_get_fd_by_id(ls->tc_prog_id);
		if (s->old_prog[i] < 0 || (xdp && ls->tc_prog_id && s->old_tc[i] < 0)) {
			err = -errno;
			diag_add(d, NULL, 0, 0, "cannot open the programs of %s: %s", ls->pin,
				 strerror(-err));
			return err;
		}
		err = attach_update(ls->pin, loader_prog_fd(l, (enum spee_prog_id)ls->prog));
		if (!err && xdp && ls->tc_prog_id)
			err = ifaces_tc_attach(ls->ifindex, loader_prog_fd(l, tc_of(ls->prog)));
		if (err) {
			diag_add(d, NULL, 0, 0, "cannot update the programs of %s: %s", ls->pin,
				 strerror(-err));
			return err;
		}
	}
	return 0;
}

void links_restore(struct links_switched *s)
{
	for (size_t i = 0; s->old_prog && i < s->a.n; i++) {
		if (s->old_prog[i] >= 0 && s->a.v[i].prog == SPEE_PROG_GW_TC)
			ifaces_tc_ingress_attach(s->a.v[i].ifindex, s->old_prog[i]);
		else if (s->old_prog[i] >= 0)
			attach_update(s->a.v[i].pin, s->old_prog[i]);
		if (s->old_tc && s->old_tc[i] >= 0)
			ifaces_tc_attach(s->a.v[i].ifindex, s->old_tc[i]);
	}
}

void links_switched_free(struct links_switched *s)
{
	for (size_t i = 0; s->old_prog && i < s->a.n; i++) {
		if (s->old_prog[i] >= 0)
			close(s->old_prog[i]);
		if (s->old_tc && s->old_tc[i] >= 0)
			close(s->old_tc[i]);
	}
	free(s->old_prog);
	free(s->old_tc);
	s->old_prog = s->old_tc = NULL;
	links_assessment_free(&s->a);
}

int links_remove_all(const struct instance *inst)
{
	char (*ports)[SPEE_IFNAME_LEN] = calloc(SPEE_GW_PORTS, sizeof(*ports));
	struct link_state *v = NULL;
	size_t n = 0, n_ports;
	int err, removed = 0;

	if (!ports)
		return -ENOMEM;
	/* a gateway's bridge ports: their filters are no links, the record names them */
	n_ports = inst->rec.kind == SPEE_INST_GATEWAY ? record_ports(&inst->rec, ports) : 0;
	err = list_links(inst->pin_dir, &v, &n);
	if (!err)
		err = add_ports(ports, n_ports, &v, &n);
	free(ports);
	if (err) {
		free(v);
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		int e = remove_link(&v[i]);

		if (!e)
			removed++;
		else if (!err)
			err = e;
	}
	free(v);
	return err ? err : removed;
}
