// SPDX-License-Identifier: GPL-2.0-only
#include "attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <mntent.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const cgroup_pins[LINK_KIND_MAX] = {
	[LINK_CGROUP_EGRESS] = "cgroup-egress",
	[LINK_CGROUP_CONNECT4] = "cgroup-connect4",
	[LINK_CGROUP_CONNECT6] = "cgroup-connect6",
	[LINK_CGROUP_SENDMSG4] = "cgroup-sendmsg4",
	[LINK_CGROUP_SENDMSG6] = "cgroup-sendmsg6",
};

static const enum bpf_attach_type cgroup_types[LINK_KIND_MAX] = {
	[LINK_CGROUP_EGRESS] = BPF_CGROUP_INET_EGRESS,
	[LINK_CGROUP_CONNECT4] = BPF_CGROUP_INET4_CONNECT,
	[LINK_CGROUP_CONNECT6] = BPF_CGROUP_INET6_CONNECT,
	[LINK_CGROUP_SENDMSG4] = BPF_CGROUP_UDP4_SENDMSG,
	[LINK_CGROUP_SENDMSG6] = BPF_CGROUP_UDP6_SENDMSG,
};

const char *attach_cgroup_pin_name(enum link_kind kind)
{
	return kind > LINK_XDP && kind < LINK_KIND_MAX ? cgroup_pins[kind] : NULL;
}

static int pin_link(int link_fd, const char *pin_path)
{
	if (bpf_obj_pin(link_fd, pin_path)) {
		int err = -errno;

		fprintf(stderr, "speebpf: cannot pin link at %s: %s\n", pin_path, strerror(-err));
		return err;
	}
	return 0;
}

/* generic_only: native mode would not see every packet of this device (ifaces.h). */
static int attach_xdp_mode(int prog_fd, const char *ifname, const char *pin_path, bool *generic,
			   bool generic_only)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XDP_FLAGS_DRV_MODE);
	unsigned ifindex = if_nametoindex(ifname);
	int link_fd, err;

	*generic = false;
	if (!ifindex) {
		fprintf(stderr, "speebpf: no such interface: %s\n", ifname);
		return -ENODEV;
	}
	if (generic_only) {
		opts.flags = XDP_FLAGS_SKB_MODE;
		*generic = true;
	}
	link_fd = bpf_link_create(prog_fd, (int)ifindex, BPF_XDP, &opts);
	if (link_fd < 0 && (errno == EOPNOTSUPP || errno == EINVAL)) {
		/* No native XDP in this driver: generic mode works everywhere, slower. */
		opts.flags = XDP_FLAGS_SKB_MODE;
		link_fd = bpf_link_create(prog_fd, (int)ifindex, BPF_XDP, &opts);
		if (link_fd >= 0) {
			*generic = true;
			fprintf(stderr, "speebpf: warning: %s has no native XDP; attached in "
					"generic mode (slower)\n",
				ifname);
		}
	}
	if (link_fd < 0) {
		err = -errno;
		if (err == -EBUSY || err == -EEXIST)
			fprintf(stderr, "speebpf: %s already has an XDP program attached by someone "
					"else; detach it first\n",
				ifname);
		else
			fprintf(stderr, "speebpf: cannot attach XDP to %s: %s\n", ifname,
				strerror(-err));
		return err;
	}
	err = pin_link(link_fd, pin_path);
	close(link_fd); /* the pin keeps the link */
	return err;
}

int attach_xdp(int prog_fd, const char *ifname, const char *pin_path, bool *generic)
{
	return attach_xdp_mode(prog_fd, ifname, pin_path, generic, false);
}

/* Classifies ifname; a device speebpf cannot judge is refused, said on stderr. */
static int iface_kind_of(const char *ifname, struct iface_kind *k)
{
	int err = ifaces_classify(ifname, k);

	if (err) {
		fprintf(stderr, "speebpf: cannot tell what %s carries: %s\n", ifname,
			strerror(-err));
		return err;
	}
	if (k->frames == IFACE_REFUSED) {
		fprintf(stderr, "speebpf: refusing to enforce %s: %s; leave it out of --iface\n",
			ifname, k->why);
		return -EOPNOTSUPP;
	}
	return 0;
}

int attach_iface(const struct iface_progs *progs, const char *ifname, const char *pin_path,
		 bool *generic)
{
	struct iface_kind k;
	bool ip;
	int err = iface_kind_of(ifname, &k);

	if (err)
		return err;
	ip = k.frames == IFACE_IP;
	/* The egress filter first: the interface is never enforced one way only after this. */
	err = ifaces_tc_attach(if_nametoindex(ifname), ip ? progs->tc_l3 : progs->tc);
	if (err) {
		fprintf(stderr, "speebpf: cannot attach the tc egress filter to %s: %s\n", ifname,
			strerror(-err));
		return err;
	}
	err = attach_xdp_mode(ip ? progs->xdp_l3 : progs->xdp, ifname, pin_path, generic,
			      k.generic_only);
	if (err)
		ifaces_tc_detach(if_nametoindex(ifname));
	else if (k.generic_only)
		fprintf(stderr,
			"speebpf: %s: XDP in generic mode, the one that sees every packet of this "
			"device\n",
			ifname);
	return err;
}

int attach_iface_update(const struct iface_progs *progs, const struct link_state *ls)
{
	bool ip = ls->frames == IFACE_IP;
	int err;

	if (ls->frames == IFACE_UNSEEN) {
		/* which device it is, and so which programs, only its namespace can tell */
		fprintf(stderr,
			"speebpf: the interface of %s (ifindex %u) is in another network namespace: "
			"run apply in that one\n",
			ls->pin, ls->ifindex);
		return -EXDEV;
	}
	err = attach_update(ls->pin, ip ? progs->xdp_l3 : progs->xdp);
	if (!err)
		err = ifaces_tc_attach(ls->ifindex, ip ? progs->tc_l3 : progs->tc);
	return err;
}

int attach_cgroup(int prog_fd, enum link_kind kind, const char *cgroup_path, const char *pin_path)
{
	int cg_fd, link_fd, err;

	cg_fd = open(cgroup_path, O_RDONLY | O_DIRECTORY);
	if (cg_fd < 0) {
		err = -errno;
		fprintf(stderr, "speebpf: cannot open cgroup %s: %s\n", cgroup_path,
			strerror(-err));
		return err;
	}
	link_fd = bpf_link_create(prog_fd, cg_fd, cgroup_types[kind], NULL);
	err = link_fd < 0 ? -errno : 0;
	close(cg_fd);
	if (err) {
		fprintf(stderr, "speebpf: cannot attach %s to cgroup %s: %s\n", cgroup_pins[kind],
			cgroup_path, strerror(-err));
		return err;
	}
	err = pin_link(link_fd, pin_path);
	close(link_fd);
	return err;
}

int attach_update(const char *pin_path, int new_prog_fd)
{
	int link_fd = bpf_obj_get(pin_path), err = 0;

	if (link_fd < 0)
		return -errno;
	if (bpf_link_update(link_fd, new_prog_fd, NULL))
		err = -errno;
	close(link_fd);
	return err;
}

static void xdp_mode_of(struct link_state *ls)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	ls->xdp_mode = "none";
	if (!ls->ifindex || bpf_xdp_query((int)ls->ifindex, 0, &q))
		return;
	if (q.drv_prog_id == ls->prog_id)
		ls->xdp_mode = "native";
	if (q.skb_prog_id == ls->prog_id)
		ls->xdp_mode = "generic";
	if (q.hw_prog_id == ls->prog_id)
		ls->xdp_mode = "offload";
}

static int read_link(const char *path, struct link_state *ls)
{
	struct bpf_link_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_obj_get(path), err = 0;

	snprintf(ls->pin, sizeof(ls->pin), "%s", path);
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	ls->link_id = info.id;
	ls->prog_id = info.prog_id;
	if (info.type == BPF_LINK_TYPE_XDP) {
		struct iface_kind k;

		ls->kind = LINK_XDP;
		ls->ifindex = info.xdp.ifindex;
		/* A detached XDP link reports ifindex 0. */
		ls->alive = ls->ifindex != 0;
		if (!if_indextoname(ls->ifindex, ls->ifname))
			ls->ifname[0] = '\0';
		xdp_mode_of(ls);
		ls->frames = IFACE_UNSEEN;
		ls->tc_prog_id = ATTACH_TC_UNSEEN;
		/* its program on this ifindex: the device is in this network namespace */
		if (ls->alive && strcmp(ls->xdp_mode, "none")) {
			ls->frames = IFACE_REFUSED;
			if (ls->ifname[0] && !ifaces_classify(ls->ifname, &k))
				ls->frames = k.frames;
			ifaces_tc_query(ls->ifindex, &ls->tc_prog_id);
		}
	} else if (info.type == BPF_LINK_TYPE_CGROUP) {
		ls->cgroup_id = info.cgroup.cgroup_id;
		ls->alive = ls->cgroup_id != 0;
		for (int k = LINK_CGROUP_EGRESS; k < LINK_KIND_MAX; k++)
			if (info.cgroup.attach_type == cgroup_types[k])
				ls->kind = (enum link_kind)k;
	}
out:
	close(fd);
	return err;
}

int attach_list(const char *pin_dir, struct link_state **out, size_t *n)
{
	char dir[2048], path[4096];
	struct link_state *v = NULL;
	struct dirent *de;
	size_t count = 0;
	DIR *d;

	*out = NULL;
	*n = 0;
	snprintf(dir, sizeof(dir), "%s/%s", pin_dir, ATTACH_LINKS_DIR);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		struct link_state *grown;

		if (de->d_name[0] == '.')
			continue;
		grown = realloc(v, (count + 1) * sizeof(*v));
		if (!grown) {
			closedir(d);
			free(v);
			return -ENOMEM;
		}
		v = grown;
		memset(&v[count], 0, sizeof(v[count]));
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		read_link(path, &v[count]); /* a dead pin is reported, not fatal */
		count++;
	}
	closedir(d);
	*out = v;
	*n = count;
	return 0;
}

int attach_detach_pinned(const char *pin)
{
	int fd = bpf_obj_get(pin);

	/* Detach explicitly: another process might still hold the link open. */
	if (fd >= 0) {
		struct bpf_link_info info;
		uint32_t len = sizeof(info);

		memset(&info, 0, sizeof(info));
		/* an interface's tc egress filter goes with its XDP link */
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_LINK_TYPE_XDP &&
		    info.xdp.ifindex)
			ifaces_tc_detach(info.xdp.ifindex);
		bpf_link_detach(fd);
		close(fd);
	}
	return unlink(pin) ? -errno : 0;
}

int attach_remove_all(const char *pin_dir)
{
	struct link_state *links;
	size_t n;
	int err = attach_list(pin_dir, &links, &n), removed = 0;

	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		int e = attach_detach_pinned(links[i].pin);

		if (!e)
			removed++;
		else if (!err)
			err = e;
	}
	free(links);
	return err ? err : removed;
}

int attach_cgroup2_root(char *buf, size_t len)
{
	FILE *f = setmntent("/proc/mounts", "r");
	struct mntent *m;
	int err = -ENOENT;

	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (!strcmp(m->mnt_type, "cgroup2")) {
			snprintf(buf, len, "%s", m->mnt_dir);
			err = 0;
			break;
		}
	}
	endmntent(f);
	return err;
}
