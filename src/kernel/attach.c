// SPDX-License-Identifier: GPL-2.0-only
/* attach.c - the link syscalls (attach.h). */
#include "attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int pin_link(int link_fd, const char *pin)
{
	if (bpf_obj_pin(link_fd, pin)) {
		int err = -errno;

		fprintf(stderr, "speebpf: cannot pin link at %s: %s\n", pin, strerror(-err));
		return err;
	}
	return 0;
}

int attach_iface(int prog_fd, uint32_t attach_type, const char *ifname, const char *pin,
		 bool generic_only, bool *generic)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	bool xdp = attach_type == BPF_XDP;
	unsigned ifindex = if_nametoindex(ifname);
	int link_fd, err;

	*generic = false;
	if (!ifindex) {
		fprintf(stderr, "speebpf: no such interface: %s\n", ifname);
		return -ENODEV;
	}
	if (xdp)
		opts.flags = generic_only ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	*generic = xdp && generic_only;
	link_fd = bpf_link_create(prog_fd, (int)ifindex, (enum bpf_attach_type)attach_type, &opts);
	if (xdp && !generic_only && link_fd < 0 && (errno == EOPNOTSUPP || errno == EINVAL)) {
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
		if (xdp && (err == -EBUSY || err == -EEXIST))
			fprintf(stderr, "speebpf: %s already has an XDP program attached by someone "
					"else; detach it first\n",
				ifname);
		else
			fprintf(stderr, "speebpf: cannot attach %s to %s: %s\n",
				xdp ? "XDP" : "a program", ifname, strerror(-err));
		return err;
	}
	if (xdp && generic_only)
		fprintf(stderr,
			"speebpf: %s: XDP in generic mode, the one that sees every packet of this "
			"device\n",
			ifname);
	err = pin_link(link_fd, pin);
	close(link_fd); /* the pin keeps the link */
	return err;
}

int attach_cgroup(int prog_fd, uint32_t attach_type, const char *what, const char *cgroup_path,
		  const char *pin)
{
	int cg_fd, link_fd, err;

	cg_fd = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0) {
		err = -errno;
		fprintf(stderr, "speebpf: cannot open cgroup %s: %s\n", cgroup_path,
			strerror(-err));
		return err;
	}
	link_fd = bpf_link_create(prog_fd, cg_fd, (enum bpf_attach_type)attach_type, NULL);
	err = link_fd < 0 ? -errno : 0;
	close(cg_fd);
	if (err) {
		fprintf(stderr, "speebpf: cannot attach %s to cgroup %s: %s\n", what, cgroup_path,
			strerror(-err));
		return err;
	}
	err = pin_link(link_fd, pin);
	close(link_fd);
	return err;
}

int attach_update(const char *pin, int new_prog_fd)
{
	int link_fd = bpf_obj_get(pin), err = 0;

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

int attach_read(struct link_state *ls)
{
	struct bpf_link_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_obj_get(ls->pin), err = 0;

	ls->alive = false;
	ls->xdp_mode = "none";
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
		ls->ifindex = info.xdp.ifindex;
		/* A detached XDP link reports ifindex 0. */
		ls->alive = ls->ifindex != 0;
		if (!if_indextoname(ls->ifindex, ls->ifname))
			ls->ifname[0] = '\0';
		xdp_mode_of(ls);
	} else if (info.type == BPF_LINK_TYPE_CGROUP) {
		ls->cgroup_id = info.cgroup.cgroup_id;
		ls->alive = ls->cgroup_id != 0;
	}
out:
	close(fd);
	return err;
}

int attach_detach_pinned(const char *pin)
{
	int fd = bpf_obj_get(pin);

	/* Detach explicitly: another process might still hold the link open. */
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	return unlink(pin) ? -errno : 0;
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
