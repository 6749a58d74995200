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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "loader.h"
#include "maps.h"

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

/* Every up, non-loopback interface of this network namespace. */
static int default_ifaces(char ***out, size_t *n)
{
	struct ifaddrs *ifa, *i;
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

static const enum loader_prog cgroup_progs[LINK_KIND_MAX] = {
	[LINK_CGROUP_EGRESS] = LOADER_PROG_EGRESS,
	[LINK_CGROUP_CONNECT4] = LOADER_PROG_CONNECT4,
	[LINK_CGROUP_CONNECT6] = LOADER_PROG_CONNECT6,
};

static int attach_cgroup_all(const struct loader *l, const char *pin_dir, const char *cgroup,
			     size_t *attached)
{
	char pin[PATH_MAX];
	int err;

	for (int k = LINK_CGROUP_EGRESS; k < LINK_KIND_MAX; k++) {
		cgroup_pin_path(pin_dir, (enum link_kind)k, pin, sizeof(pin));
		err = attach_cgroup(loader_prog_fd(l, cgroup_progs[k]), (enum link_kind)k, cgroup,
				    pin);
		if (err)
			return err;
		(*attached)++;
	}
	return 0;
}

static int create(const struct apply_request *req, struct apply_outcome *out, struct diags *d)
{
	struct loader l = { 0 };
	struct loader_sizes sz;
	struct maps_apply_opts opts = { .audit = req->audit };
	struct maps_apply_result res;
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
	/* The whole policy is in the maps before the first program sees a packet. */
	err = maps_apply(&l.maps, req->policy, req->names, &opts, &res, d);
	if (err)
		goto out_undo;
	out->generation = res.generation;
	out->added = res.stats.added;
	out->removed = res.stats.removed;
	for (size_t i = 0; i < n_ifaces; i++) {
		bool generic;

		xdp_pin_path(req->pin_dir, ifaces[i], pin, sizeof(pin));
		err = attach_xdp(loader_prog_fd(&l, LOADER_PROG_XDP), ifaces[i], pin, &generic);
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
	loader_close(&l);
	err = instance_record(req->pin_dir, req->policy, out->generation, true, NULL, d);
	if (!err) {
		struct spee_map_fds m;

		/* The cgroup path is only known here: store it for status. */
		if (loader_open_pinned(&m, req->pin_dir, d) == 0) {
			struct spee_instance inst;

			if (maps_read_instance(&m, &inst, d) == 0) {
				set_text(inst.cgroup_path, sizeof(inst.cgroup_path), cgroup);
				err = maps_write_instance(&m, &inst, d);
			}
			loader_close_pinned(&m);
		}
	}
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

/* Interfaces an existing instance has XDP links on. */
static bool has_xdp_link(const struct link_state *links, size_t n, const char *ifname)
{
	for (size_t i = 0; i < n; i++)
		if (links[i].kind == LINK_XDP && links[i].alive && !strcmp(links[i].ifname, ifname))
			return true;
	return false;
}

static bool requested(const struct apply_request *req, const char *ifname)
{
	for (size_t i = 0; i < req->n_ifaces; i++)
		if (!strcmp(req->ifaces[i], ifname))
			return true;
	return false;
}

/* Attaches newly requested interfaces and cgroup, then removes what is no longer asked for. */
static int update_attachments(const struct apply_request *req, const char *cur_cgroup,
			      struct apply_outcome *out, struct diags *d)
{
	struct link_state *links = NULL;
	struct loader l = { 0 };
	struct loader_sizes sz;
	bool need_progs = false, move_cgroup;
	char pin[PATH_MAX];
	size_t n = 0;
	int err;

	move_cgroup = req->cgroup && strcmp(req->cgroup, cur_cgroup);
	if (!req->n_ifaces && !move_cgroup)
		return 0;
	err = attach_list(req->pin_dir, &links, &n);
	if (err)
		return err;
	for (size_t i = 0; i < req->n_ifaces; i++)
		need_progs |= !has_xdp_link(links, n, req->ifaces[i]);
	if (need_progs || move_cgroup) {
		/* Programs of this binary, bound to the instance's pinned maps. */
		loader_sizes_default(&sz);
		err = loader_load(&l, &sz, req->pin_dir, d);
		if (err)
			goto out;
	}
	for (size_t i = 0; i < req->n_ifaces; i++) {
		bool generic;

		if (has_xdp_link(links, n, req->ifaces[i]))
			continue;
		xdp_pin_path(req->pin_dir, req->ifaces[i], pin, sizeof(pin));
		err = attach_xdp(loader_prog_fd(&l, LOADER_PROG_XDP), req->ifaces[i], pin, &generic);
		if (err) {
			diag_add(d, NULL, 0, 0, "cannot attach XDP to %s: %s", req->ifaces[i],
				 strerror(-err));
			goto out;
		}
		out->attached++;
	}
	if (move_cgroup) {
		/* New cgroup links first (pinned under temporary names), then the old ones go. */
		for (int k = LINK_CGROUP_EGRESS; k < LINK_KIND_MAX; k++) {
			char tmp[PATH_MAX + 8];

			cgroup_pin_path(req->pin_dir, (enum link_kind)k, pin, sizeof(pin));
			snprintf(tmp, sizeof(tmp), "%s.new", pin);
			err = attach_cgroup(loader_prog_fd(&l, cgroup_progs[k]), (enum link_kind)k,
					    req->cgroup, tmp);
			if (err) {
				diag_add(d, NULL, 0, 0, "cannot attach to cgroup %s: %s", req->cgroup,
					 strerror(-err));
				goto out;
			}
			out->attached++;
		}
		for (int k = LINK_CGROUP_EGRESS; k < LINK_KIND_MAX; k++) {
			char tmp[PATH_MAX + 8];

			cgroup_pin_path(req->pin_dir, (enum link_kind)k, pin, sizeof(pin));
			snprintf(tmp, sizeof(tmp), "%s.new", pin);
			if (attach_detach_pinned(pin) == 0)
				out->detached++;
			if (rename(tmp, pin)) {
				err = -errno;
				diag_add(d, NULL, 0, 0, "cannot rename %s: %s", tmp, strerror(-err));
				goto out;
			}
		}
	}
	if (req->n_ifaces) {
		for (size_t i = 0; i < n; i++) {
			if (links[i].kind != LINK_XDP || requested(req, links[i].ifname))
				continue;
			if (attach_detach_pinned(links[i].pin) == 0)
				out->detached++;
		}
	}
out:
	if (need_progs || move_cgroup)
		loader_close(&l);
	free(links);
	return err;
}

static int update(const struct apply_request *req, struct apply_outcome *out, struct diags *d)
{
	struct spee_map_fds m;
	struct maps_apply_opts opts = { .audit = req->audit };
	struct maps_apply_result res;
	struct spee_instance inst;
	int err;

	err = loader_open_pinned(&m, req->pin_dir, d);
	if (err)
		return err;
	err = maps_read_instance(&m, &inst, d);
	if (err)
		goto out;
	/* Interfaces and cgroup first: a bad --iface must not leave a new policy half-applied. */
	for (size_t i = 0; i < req->n_ifaces; i++) {
		if (!if_nametoindex(req->ifaces[i])) {
			diag_add(d, NULL, 0, 0, "no such interface: %s", req->ifaces[i]);
			err = -ENODEV;
			goto out;
		}
	}
	err = maps_apply(&m, req->policy, req->names, &opts, &res, d);
	if (err)
		goto out;
	out->generation = res.generation;
	out->added = res.stats.added;
	out->removed = res.stats.removed;
	err = update_attachments(req, inst.cgroup_path, out, d);
	if (err)
		goto out;
	err = instance_record(req->pin_dir, req->policy, out->generation, true, NULL, d);
	if (!err && req->cgroup && strcmp(req->cgroup, inst.cgroup_path)) {
		if (maps_read_instance(&m, &inst, d) == 0) {
			set_text(inst.cgroup_path, sizeof(inst.cgroup_path), req->cgroup);
			err = maps_write_instance(&m, &inst, d);
		}
	}
out:
	loader_close_pinned(&m);
	return err;
}

int instance_apply(const struct apply_request *req, struct apply_outcome *out, struct diags *d)
{
	int err;

	memset(out, 0, sizeof(*out));
	err = instance_ensure_bpffs(req->pin_dir, d);
	if (err)
		return err;
	if (instance_exists(req->pin_dir))
		return update(req, out, d);
	return create(req, out, d);
}

int instance_record(const char *pin_dir, const struct policy *p, uint32_t generation, bool ok,
		    const char *error, struct diags *d)
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
	if (ok && p) {
		/* Only a successful apply changes what status calls the running policy. */
		clock_gettime(CLOCK_REALTIME, &now);
		inst.applied_at = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
		inst.generation = generation;
		inst.mode = (uint8_t)p->mode;
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

int instance_detach(const char *pin_dir, struct diags *d)
{
	char links[PATH_MAX];
	int err, removed;

	if (!instance_exists(pin_dir)) {
		diag_add(d, NULL, 0, 0, "no instance is pinned at %s", pin_dir);
		return -ENOENT;
	}
	removed = attach_remove_all(pin_dir);
	if (removed < 0) {
		diag_add(d, NULL, 0, 0, "cannot remove the links under %s: %s", pin_dir,
			 strerror(-removed));
		return removed;
	}
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
