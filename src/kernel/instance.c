// SPDX-License-Identifier: GPL-2.0-only
/*
 * Creating and updating an instance. The order of steps is what keeps
 * traffic safe:
 *  - a new instance has its maps filled before any program is attached,
 *    so the first packet already meets the whole policy;
 *  - an update writes the inactive policy slot and flips (maps.c), and
 *    attaches newly requested interfaces before removing unrequested ones;
 *  - nothing that is running is detached or replaced by an update.
 */
#include "instance.h"

#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/magic.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "attach.h"
#include "grow.h"
#include "loader.h"
#include "maps.h"
#include "namestore.h"

#define BPFFS_DEFAULT "/sys/fs/bpf"

/* Copies a path into a fixed-size record field (status shows it; longer paths are cut). */
static void set_text(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The nearest existing ancestor of path (path itself if it exists). */
static void existing_ancestor(const char *path, char *buf, size_t len)
{
	struct stat st;

	snprintf(buf, len, "%s", path);
	while (stat(buf, &st) != 0) {
		char *slash = strrchr(buf, '/');

		if (!slash || slash == buf) {
			snprintf(buf, len, "/");
			return;
		}
		*slash = '\0';
	}
}

int instance_ensure_bpffs(const char *dir, struct diags *d)
{
	char anc[PATH_MAX];
	struct statfs fs;

	existing_ancestor(dir, anc, sizeof(anc));
	if (statfs(anc, &fs) == 0 && fs.f_type == BPF_FS_MAGIC)
		return 0;
	if (!strncmp(dir, BPFFS_DEFAULT "/", sizeof(BPFFS_DEFAULT)) &&
	    statfs(BPFFS_DEFAULT, &fs) == 0 && fs.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", BPFFS_DEFAULT, "bpf", 0, "mode=0700") == 0)
			return 0;
		diag_add(d, NULL, 0, 0, "cannot mount the BPF filesystem at %s: %s", BPFFS_DEFAULT,
			 strerror(errno));
		return -errno;
	}
	diag_add(d, NULL, 0, 0, "%s is not on a BPF filesystem (mount -t bpf bpf DIR)", dir);
	return -ENOTDIR;
}

int instance_lock(const char *pin_dir, struct diags *d)
{
	int fd, err = mkdir_p(pin_dir);

	if (err) {
		diag_add(d, NULL, 0, 0, "cannot create %s: %s", pin_dir, strerror(-err));
		return err;
	}
	fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX)) {
		err = -errno;
		diag_add(d, NULL, 0, 0, "cannot lock %s: %s", pin_dir, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	return fd;
}

void instance_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the lock */
}

bool instance_exists(const char *pin_dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/maps/%s", pin_dir, spee_map_names[SPEE_MAP_RT]);
	return access(path, F_OK) == 0;
}

static void xdp_pin_path(const char *pin_dir, const char *ifname, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s/%s%s", pin_dir, ATTACH_LINKS_DIR, ATTACH_XDP_PREFIX, ifname);
}

static void cgroup_pin_path(const char *pin_dir, enum link_kind k, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s/%s", pin_dir, ATTACH_LINKS_DIR, attach_cgroup_pin_name(k));
}

/*
 * Every up, non-loopback interface of this network namespace that speebpf
 * can judge; the others (ifaces.h: tunnels that keep an outer header where
 * XDP looks...) are left out with a warning, as no --iface asked for them.
 */
static int default_ifaces(char ***out, size_t *n)
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

enum loader_prog instance_link_prog(enum link_kind kind)
{
	static const enum loader_prog progs[LINK_KIND_MAX] = {
		[LINK_XDP] = LOADER_PROG_XDP,
		[LINK_CGROUP_EGRESS] = LOADER_PROG_EGRESS,
		[LINK_CGROUP_CONNECT4] = LOADER_PROG_CONNECT4,
		[LINK_CGROUP_CONNECT6] = LOADER_PROG_CONNECT6,
		[LINK_CGROUP_SENDMSG4] = LOADER_PROG_SENDMSG4,
		[LINK_CGROUP_SENDMSG6] = LOADER_PROG_SENDMSG6,
	};

	return progs[kind];
}

void instance_iface_progs(const struct loader *l, struct iface_progs *ip)
{
	ip->xdp = loader_prog_fd(l, LOADER_PROG_XDP);
	ip->xdp_l3 = loader_prog_fd(l, LOADER_PROG_XDP_L3);
	ip->tc = loader_prog_fd(l, LOADER_PROG_TC_EGRESS);
	ip->tc_l3 = loader_prog_fd(l, LOADER_PROG_TC_EGRESS_L3);
}

/* The tags of every program this build loads, into the instance record. */
static int note_tags(const struct loader *l, struct spee_instance *inst)
{
	int err = 0;

	for (int k = 0; k < LOADER_PROG_COUNT && !err; k++)
		err = loader_prog_tag(l, (enum loader_prog)k,
				      loader_prog_tag_in(inst, (enum loader_prog)k));
	return err;
}

bool instance_link_is_ours(const struct link_state *ls, struct spee_instance *inst,
			   const struct spee_map_fds *pinned)
{
	enum loader_prog prog = instance_link_prog(ls->kind);
	bool ip = ls->kind == LINK_XDP && ls->frames == IFACE_IP;

	if (ip)
		prog = LOADER_PROG_XDP_L3;
	if (ls->kind == LINK_XDP && ls->frames == IFACE_UNSEEN)
		/* its device is in another network namespace: either program may be right */
		return loader_prog_is_instances(ls->prog_id,
						loader_prog_tag_in(inst, LOADER_PROG_XDP), pinned) ||
		       loader_prog_is_instances(ls->prog_id,
						loader_prog_tag_in(inst, LOADER_PROG_XDP_L3), pinned);
	if (!loader_prog_is_instances(ls->prog_id, loader_prog_tag_in(inst, prog), pinned))
		return false;
	/* an interface is ours only with its tc egress filter: both ways judged */
	return ls->kind != LINK_XDP ||
	       (ls->tc_prog_id &&
		loader_prog_is_instances(ls->tc_prog_id,
					 loader_prog_tag_in(inst, ip ? LOADER_PROG_TC_EGRESS_L3 :
								       LOADER_PROG_TC_EGRESS),
					 pinned));
}

static int attach_cgroup_all(const struct loader *l, const char *pin_dir, const char *cgroup,
			     size_t *attached)
{
	char pin[PATH_MAX];
	int err;

	for (int k = LINK_CGROUP_EGRESS; k < LINK_KIND_MAX; k++) {
		enum link_kind kind = (enum link_kind)k;

		cgroup_pin_path(pin_dir, kind, pin, sizeof(pin));
		err = attach_cgroup(loader_prog_fd(l, instance_link_prog(kind)), kind, cgroup, pin);
		if (err)
			return err;
		(*attached)++;
	}
	return 0;
}

/* Notes what a new instance runs, for status and drift checks: cgroup, program tags, build. */
static int record_programs(const struct loader *l, const char *cgroup, struct diags *d)
{
	struct spee_instance inst;
	int err = maps_read_instance(&l->maps, &inst, d);

	if (err)
		return err;
	set_text(inst.cgroup_path, sizeof(inst.cgroup_path), cgroup);
	err = note_tags(l, &inst);
	loader_object_id(inst.object_id);
	return err ? err : maps_write_instance(&l->maps, &inst, d);
}

/* How full the policy maps are after a successful apply (status of the agent, metrics). */
static void note_capacity(const struct spee_map_fds *m, const struct maps_apply_result *res,
			  struct apply_outcome *out)
{
	struct bpf_map_info info;

	out->exact_entries = res->stats.exact_needed;
	out->prefix_entries = res->stats.prefix_needed;
	if (!loader_map_info(m->fd[SPEE_MAP_EXACT], &info))
		out->exact_size = info.max_entries;
	if (!loader_map_info(m->fd[SPEE_MAP_PREFIX], &info))
		out->prefix_size = info.max_entries;
}

static int create(const struct apply_request *req, struct apply_outcome *out, struct diags *d)
{
	struct loader l = { 0 };
	struct loader_sizes sz;
	struct maps_apply_opts opts = { .audit = req->audit, .cache = req->cache };
	struct maps_apply_result res;
	struct iface_progs iprogs;
	char **ifaces = NULL, cgroot[PATH_MAX], links[PATH_MAX], pin[PATH_MAX];
	const char *cgroup = req->cgroup;
	size_t n_ifaces = 0;
	bool own_ifaces = false;
	int err;

	if (!req->n_ifaces) {
		err = default_ifaces(&ifaces, &n_ifaces);
		if (err)
			return err;
		own_ifaces = true;
	} else {
		ifaces = (char **)req->ifaces;
		n_ifaces = req->n_ifaces;
	}
	for (size_t i = 0; i < n_ifaces; i++) {
		if (!if_nametoindex(ifaces[i])) {
			diag_add(d, NULL, 0, 0, "no such interface: %s", ifaces[i]);
			err = -ENODEV;
			goto out_free;
		}
	}
	if (!cgroup) {
		err = attach_cgroup2_root(cgroot, sizeof(cgroot));
		if (err) {
			diag_add(d, NULL, 0, 0, "no cgroup v2 hierarchy is mounted (/proc/mounts)");
			goto out_free;
		}
		cgroup = cgroot;
	}
	snprintf(links, sizeof(links), "%s/%s", req->pin_dir, ATTACH_LINKS_DIR);
	err = mkdir_p(links);
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot create %s: %s", links, strerror(-err));
		goto out_free;
	}
	loader_sizes_for(req->policy, req->names, &sz);
	err = loader_load(&l, &sz, req->pin_dir, d);
	if (err)
		goto out_undo;
	out->created = true;
	if (req->cache) {
		/* Maps this call created hold nothing yet. */
		maps_cache_free(req->cache);
		maps_cache_assume_empty(req->cache);
	}
	/* The whole policy is in the maps before the first program sees a packet. */
	err = maps_apply(&l.maps, req->policy, req->names, &opts, &res, d);
	if (err)
		goto out_undo;
	note_capacity(&l.maps, &res, out);
	out->generation = res.generation;
	out->added = res.stats.added;
	out->removed = res.stats.removed;
	instance_iface_progs(&l, &iprogs);
	for (size_t i = 0; i < n_ifaces; i++) {
		bool generic;

		xdp_pin_path(req->pin_dir, ifaces[i], pin, sizeof(pin));
		err = attach_iface(&iprogs, ifaces[i], pin, &generic);
		if (err) {
			diag_add(d, NULL, 0, 0, "cannot attach XDP to %s: %s", ifaces[i],
				 strerror(-err));
			goto out_undo;
		}
		out->attached++;
	}
	err = attach_cgroup_all(&l, req->pin_dir, cgroup, &out->attached);
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot attach to cgroup %s: %s", cgroup, strerror(-err));
		goto out_undo;
	}
	err = record_programs(&l, cgroup, d);
	loader_close(&l);
	if (!err)
		err = instance_record(req->pin_dir, req->policy, out->generation, req->audit, true,
				      NULL, d);
	goto out_free;
out_undo:
	/* Leave nothing behind: the machine is as it was before this apply. */
	attach_remove_all(req->pin_dir);
	loader_close(&l);
	loader_unpin_maps(req->pin_dir, NULL);
	rmdir(links);
	rmdir(req->pin_dir);
	out->created = false;
out_free:
	if (own_ifaces)
		free_strings(ifaces, n_ifaces);
	return err;
}

/* The interface an XDP link pin names ("xdp-eth0" -> "eth0"), or NULL. */
static const char *pin_ifname(const char *pin)
{
	const char *base = strrchr(pin, '/');

	base = base ? base + 1 : pin;
	return !strncmp(base, ATTACH_XDP_PREFIX, strlen(ATTACH_XDP_PREFIX)) ?
		       base + strlen(ATTACH_XDP_PREFIX) :
		       NULL;
}

static const struct link_state *find_xdp(const struct link_state *links, size_t n,
					 const char *ifname)
{
	for (size_t i = 0; i < n; i++) {
		const char *name = pin_ifname(links[i].pin);

		if (name && !strcmp(name, ifname))
			return &links[i];
	}
	return NULL;
}

static const struct link_state *find_kind(const struct link_state *links, size_t n,
					  enum link_kind k)
{
	for (size_t i = 0; i < n; i++)
		if (links[i].kind == k && !pin_ifname(links[i].pin))
			return &links[i];
	return NULL;
}

static bool requested(const struct apply_request *req, const char *ifname)
{
	for (size_t i = 0; i < req->n_ifaces; i++)
		if (!strcmp(req->ifaces[i], ifname))
			return true;
	return false;
}

/* True when a live link runs this instance's program: this build's, around the pinned maps. */
static bool runs_ours(const struct link_state *ls, const struct spee_instance *inst,
		      const struct spee_map_fds *pinned)
{
	return instance_link_is_ours(ls, (struct spee_instance *)inst, pinned);
}

/* One link brought to what it should be: attached, and running this build's program. */
static int reconcile_one(const struct loader *l, const struct link_state *ls, enum link_kind kind,
			 const char *ifname, const char *cgroup, const char *pin,
			 const struct spee_instance *inst, struct apply_outcome *out,
			 struct diags *d)
{
	enum loader_prog prog = instance_link_prog(kind);
	struct iface_progs iprogs;
	bool generic;
	int err;

	instance_iface_progs(l, &iprogs);
	if (ls && ls->alive) {
		if (runs_ours(ls, inst, &l->maps))
			return 0;
		/* Replaced behind our back, or an older build's program: swap in place, no gap. */
		if (kind == LINK_XDP)
			err = attach_iface_update(&iprogs, ls);
		else
			err = attach_update(ls->pin, loader_prog_fd(l, prog));
		if (err)
			diag_add(d, NULL, 0, 0, "cannot update the program of %s: %s", ls->pin,
				 strerror(-err));
		else
			out->replaced++;
		return err;
	}
	if (ls) /* pinned but detached: the pin must go before a new link takes its place */
		attach_detach_pinned(ls->pin);
	if (kind == LINK_XDP)
		err = attach_iface(&iprogs, ifname, pin, &generic);
	else
		err = attach_cgroup(loader_prog_fd(l, prog), kind, cgroup, pin);
	if (err)
		diag_add(d, NULL, 0, 0, "cannot attach %s: %s", kind == LINK_XDP ? ifname : cgroup,
			 strerror(-err));
	else
		out->attached++;
	return err;
}

/*
 * Brings the links of an existing instance to what req asks for (or to what
 * the instance already had): detached or missing links are attached again,
 * links running another program get this build's (after an upgrade, or when
 * someone replaced it), newly requested interfaces and a new cgroup are
 * attached before what is no longer asked for is removed.
 */
static int reconcile_links(const struct apply_request *req, struct spee_instance *inst,
			   struct apply_outcome *out, struct diags *d)
{
	struct link_state *links = NULL;
	struct loader l = { 0 };
	struct loader_sizes sz;
	const char *cgroup = req->cgroup ? req->cgroup : inst->cgroup_path;
	bool move_cgroup = req->cgroup && strcmp(req->cgroup, inst->cgroup_path);
	char pin[PATH_MAX], **ifaces = NULL;
	size_t n = 0, n_ifaces = 0;
	int err;

	err = attach_list(req->pin_dir, &links, &n);
	if (err)
		return err;
	/* Loading costs a verifier pass; the programs are only needed to attach or update. */
	loader_sizes_default(&sz);
	err = loader_load(&l, &sz, req->pin_dir, d);
	if (err)
		goto out;
	err = note_tags(&l, inst);
	if (err)
		goto out;
	if (req->n_ifaces) {
		ifaces = (char **)req->ifaces;
		n_ifaces = req->n_ifaces;
	} else {
		ifaces = calloc(n ? n : 1, sizeof(*ifaces));
		if (!ifaces) {
			err = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			if (pin_ifname(links[i].pin))
				ifaces[n_ifaces++] = (char *)pin_ifname(links[i].pin);
	}
	for (size_t i = 0; i < n_ifaces; i++) {
		xdp_pin_path(req->pin_dir, ifaces[i], pin, sizeof(pin));
		err = reconcile_one(&l, find_xdp(links, n, ifaces[i]), LINK_XDP, ifaces[i], NULL, pin,
				    inst, out, d);
		if (err)
			goto out;
	}
	for (int k = LINK_CGROUP_EGRESS; k < LINK_KIND_MAX; k++) {
		const struct link_state *ls = find_kind(links, n, (enum link_kind)k);
		char tmp[PATH_MAX + 8];

		cgroup_pin_path(req->pin_dir, (enum link_kind)k, pin, sizeof(pin));
		if (!move_cgroup) {
			err = reconcile_one(&l, ls, (enum link_kind)k, NULL, cgroup, pin, inst, out, d);
			if (err)
				goto out;
			continue;
		}
		/* Moving: the new cgroup's link first, under a temporary name; then the old goes. */
		snprintf(tmp, sizeof(tmp), "%s-new", pin); /* bpffs refuses dots in names */
		err = reconcile_one(&l, NULL, (enum link_kind)k, NULL, cgroup, tmp, inst, out, d);
		if (err)
			goto out;
		if (ls && attach_detach_pinned(ls->pin) == 0)
			out->detached++;
		if (rename(tmp, pin)) {
			err = -errno;
			diag_add(d, NULL, 0, 0, "cannot rename %s: %s", tmp, strerror(-err));
			goto out;
		}
	}
	for (size_t i = 0; req->n_ifaces && i < n; i++) {
		const char *name = pin_ifname(links[i].pin);

		if (name && !requested(req, name) && attach_detach_pinned(links[i].pin) == 0)
			out->detached++;
	}
	if (move_cgroup)
		set_text(inst->cgroup_path, sizeof(inst->cgroup_path), req->cgroup);
	loader_object_id(inst->object_id);
out:
	if (ifaces != req->ifaces)
		free(ifaces);
	loader_close(&l);
	free(links);
	return err;
}

/* True when the links need no change: all attached, all ours, nothing new asked for. */
static bool links_settled(const struct apply_request *req, const struct spee_instance *inst,
			  const struct spee_map_fds *pinned)
{
	struct link_state *links;
	uint8_t object_id[8];
	size_t n;
	bool settled;

	loader_object_id(object_id);
	if (memcmp(object_id, inst->object_id, sizeof(object_id)) ||
	    (req->cgroup && strcmp(req->cgroup, inst->cgroup_path)))
		return false;
	if (attach_list(req->pin_dir, &links, &n))
		return false;
	settled = n > 0;
	for (size_t i = 0; i < n && settled; i++)
		settled = links[i].alive && runs_ours(&links[i], inst, pinned) &&
			  (!req->n_ifaces || !pin_ifname(links[i].pin) ||
			   requested(req, pin_ifname(links[i].pin)));
	for (int k = LINK_CGROUP_EGRESS; k < LINK_KIND_MAX && settled; k++)
		settled = find_kind(links, n, (enum link_kind)k) != NULL;
	for (size_t i = 0; i < req->n_ifaces && settled; i++)
		settled = find_xdp(links, n, req->ifaces[i]) != NULL;
	free(links);
	return settled;
}

/*
 * The policy outgrew spee_exact or spee_prefix (maps_apply refused it and
 * wrote nothing): the maps grow without a gap and the apply is made again.
 * The refusal's message goes once it is answered. m is reopened: two of
 * its pins now hold other maps.
 */
static int apply_grown(const struct apply_request *req, struct spee_map_fds *m,
		       const struct maps_apply_opts *opts, struct maps_apply_result *res,
		       size_t refusal, struct apply_outcome *out, struct diags *d)
{
	int err;

	err = grow_policy_maps(req->pin_dir, res->stats.exact_needed, res->stats.prefix_needed, d);
	if (err)
		return err;
	diags_truncate(d, refusal);
	loader_close_pinned(m);
	err = loader_open_pinned(m, req->pin_dir, d);
	if (err)
		return err;
	out->grown = true;
	return maps_apply(m, req->policy, req->names, opts, res, d);
}

/*
 * Maps pinned by a build of another layout (loader_open_pinned refused
 * them): this build's replace them without a gap (grow.c), keeping what
 * they hold where it can. The refusal's message goes once it is answered.
 */
static int adopt_layout(const struct apply_request *req, struct spee_map_fds *m, size_t refusal,
			struct apply_outcome *out, struct diags *d)
{
	struct loader_sizes sz;
	uint32_t mask;
	int err = loader_pinned_mismatch(req->pin_dir, &mask);

	if (err || !mask)
		return err ? err : -EPROTO;
	loader_sizes_for(req->policy, req->names, &sz);
	sz.fresh_maps = mask;
	err = grow_replace_maps(req->pin_dir, &sz, d);
	if (err)
		return err;
	diags_truncate(d, refusal);
	out->migrated = mask;
	return loader_open_pinned(m, req->pin_dir, d);
}

static int update(const struct apply_request *req, struct apply_outcome *out, struct diags *d)
{
	struct spee_map_fds m;
	struct maps_apply_opts opts = { .audit = req->audit, .cache = req->cache };
	struct maps_apply_result res;
	struct spee_instance inst;
	size_t refusal = d->n;
	int err;

	err = loader_open_pinned(&m, req->pin_dir, d);
	if (err == -EPROTO)
		err = adopt_layout(req, &m, refusal, out, d);
	if (err)
		return err;
	err = maps_read_instance(&m, &inst, d);
	if (err)
		goto out;
	/* Interfaces first: a bad --iface must not leave a new policy half-applied. */
	for (size_t i = 0; i < req->n_ifaces; i++) {
		if (!if_nametoindex(req->ifaces[i])) {
			diag_add(d, NULL, 0, 0, "no such interface: %s", req->ifaces[i]);
			err = -ENODEV;
			goto out;
		}
	}
	refusal = d->n;
	err = maps_apply(&m, req->policy, req->names, &opts, &res, d);
	if (err == -E2BIG)
		err = apply_grown(req, &m, &opts, &res, refusal, out, d);
	if (err)
		goto out;
	note_capacity(&m, &res, out);
	out->generation = res.generation;
	out->added = res.stats.added;
	out->removed = res.stats.removed;
	if (!links_settled(req, &inst, &m)) {
		err = reconcile_links(req, &inst, out, d);
		if (err)
			goto out;
		err = maps_write_instance(&m, &inst, d);
		if (err)
			goto out;
	}
	err = instance_record(req->pin_dir, req->policy, out->generation, req->audit, true, NULL, d);
out:
	loader_close_pinned(&m);
	return err;
}

int instance_apply(const struct apply_request *req, struct apply_outcome *out, struct diags *d)
{
	int err, lock;

	memset(out, 0, sizeof(*out));
	err = instance_ensure_bpffs(req->pin_dir, d);
	if (err)
		return err;
	lock = instance_lock(req->pin_dir, d);
	if (lock < 0)
		return lock;
	if (instance_exists(req->pin_dir)) {
		err = update(req, out, d);
		if (!err && req->names)
			err = namestore_save(req->pin_dir, req->names);
	} else {
		err = create(req, out, d);
		if (err) {
			/* The lock made the directory; a failed create leaves nothing, not even that. */
			char links[PATH_MAX];

			snprintf(links, sizeof(links), "%s/%s", req->pin_dir, ATTACH_LINKS_DIR);
			rmdir(links);
			rmdir(req->pin_dir);
		} else if (req->names) {
			/* What the names stood for, for status and for a restarted agent. */
			err = namestore_save(req->pin_dir, req->names);
		}
	}
	instance_unlock(lock);
	return err;
}

int instance_record(const char *pin_dir, const struct policy *p, uint32_t generation, bool audit,
		    bool ok, const char *error, struct diags *d)
{
	struct spee_map_fds m;
	struct spee_instance inst;
	struct timespec now;
	int err;

	err = loader_open_pinned(&m, pin_dir, d);
	if (err)
		return err;
	err = maps_read_instance(&m, &inst, d);
	if (err)
		goto out;
	inst.last_result_ok = ok;
	set_text(inst.last_error, sizeof(inst.last_error), error ? error : "");
	if (ok && p && generation) {
		/* Only a successful apply changes what status calls the running policy. */
		clock_gettime(CLOCK_REALTIME, &now);
		inst.applied_at = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
		inst.generation = generation;
		inst.mode = (uint8_t)(audit ? SPEE_MODE_AUDIT : p->mode);
		set_text(inst.host, sizeof(inst.host), p->host->name);
		if (p->cfg->path) {
			char full[PATH_MAX];

			set_text(inst.config_path, sizeof(inst.config_path),
				 realpath(p->cfg->path, full) ? full : p->cfg->path);
		}
		for (size_t i = 0; i < 32; i++)
			sprintf(inst.config_sha256 + 2 * i, "%02x", p->cfg->sha256[i]);
	}
	err = maps_write_instance(&m, &inst, d);
out:
	loader_close_pinned(&m);
	return err;
}

static int detach_locked(const char *pin_dir, struct diags *d)
{
	char links[PATH_MAX];
	int err, removed;

	removed = attach_remove_all(pin_dir);
	if (removed < 0) {
		diag_add(d, NULL, 0, 0, "cannot remove the links under %s: %s", pin_dir,
			 strerror(-removed));
		return removed;
	}
	err = namestore_remove(pin_dir);
	if (!err)
		err = loader_unpin_maps(pin_dir, d);
	if (err)
		return err;
	snprintf(links, sizeof(links), "%s/%s", pin_dir, ATTACH_LINKS_DIR);
	if ((rmdir(links) && errno != ENOENT) || rmdir(pin_dir)) {
		err = -errno;
		diag_add(d, NULL, 0, 0, "cannot remove %s: %s (something else is pinned there)",
			 pin_dir, strerror(-err));
		return err;
	}
	return 0;
}

int instance_lock_existing(const char *pin_dir, struct diags *d)
{
	if (!instance_exists(pin_dir)) {
		diag_add(d, NULL, 0, 0, "no instance is pinned at %s", pin_dir);
		return -ENOENT;
	}
	return instance_lock(pin_dir, d);
}

int instance_detach(const char *pin_dir, struct diags *d)
{
	int err, lock = instance_lock_existing(pin_dir, d);

	if (lock < 0)
		return lock;
	err = detach_locked(pin_dir, d);
	instance_unlock(lock);
	return err;
}
