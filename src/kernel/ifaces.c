// SPDX-License-Identifier: GPL-2.0-only
/* ifaces.c - an interface's link type and its tc egress filter (ifaces.h). */
#include "ifaces.h"

#include <net/if.h> /* before the kernel's headers, which then leave its names alone */

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_arp.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>

#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519
#endif

/* Link types whose frames start elsewhere than speebpf parses, named for the message. */
static const struct {
	unsigned type;
	const char *what;
} refused[] = {
	{ ARPHRD_TUNNEL, "an IPv4-in-IPv4 tunnel" },
	{ ARPHRD_TUNNEL6, "an IPv6 tunnel" },
	{ ARPHRD_SIT, "an IPv6-in-IPv4 (sit) tunnel" },
	{ ARPHRD_IPGRE, "a GRE tunnel" },
	{ ARPHRD_IP6GRE, "an IPv6 GRE tunnel" },
	{ ARPHRD_INFINIBAND, "InfiniBand" },
	{ ARPHRD_IEEE80211_RADIOTAP, "an 802.11 monitor" },
	{ ARPHRD_CAN, "CAN" },
};

static int driver_of(int fd, const char *ifname, char *driver, size_t len)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&info;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		return -errno; /* not every driver answers; the link type decides then */
	snprintf(driver, len, "%s", info.driver);
	return 0;
}

int ifaces_classify(const char *ifname, struct iface_kind *k)
{
	struct ifreq ifr = { 0 };
	char driver[32] = "";
	int fd, err = 0;

	memset(k, 0, sizeof(*k));
	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENAMETOOLONG;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		err = -errno;
		goto out;
	}
	k->link_type = ifr.ifr_hwaddr.sa_family;
	driver_of(fd, ifname, driver, sizeof(driver));
	k->generic_only = !strcmp(driver, "tun");
	switch (k->link_type) {
	case ARPHRD_ETHER:
		k->frames = IFACE_ETHERNET;
		break;
	case ARPHRD_NONE: /* tun, WireGuard */
	case ARPHRD_PPP:
	case ARPHRD_RAWIP:
		/* Their frames reach generic XDP with the mac header at the IP header. */
		k->frames = IFACE_IP;
		k->generic_only = true;
		break;
	case ARPHRD_LOOPBACK:
		k->frames = IFACE_REFUSED;
		snprintf(k->why, sizeof(k->why),
			 "it is the loopback device, the host talking to itself");
		break;
	default:
		k->frames = IFACE_REFUSED;
		snprintf(k->why, sizeof(k->why),
			 "its frames (link type %u) do not start with an Ethernet or IP header",
			 k->link_type);
		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
			if (refused[i].type == k->link_type)
				snprintf(k->why, sizeof(k->why),
					 "it is %s, whose frames start with a header speebpf does "
					 "not parse (link type %u)",
					 refused[i].what, k->link_type);
	}
out:
	close(fd);
	return err;
}

const char *ifaces_frames_label(enum iface_frames f)
{
	return f == IFACE_ETHERNET ? "ethernet" : f == IFACE_IP ? "ip" : f == IFACE_REFUSED ? "refused" :
														      "unseen";
}

static int tc_attach(unsigned ifindex, enum bpf_tc_attach_point point, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = IFACES_TC_HANDLE,
		    .priority = IFACES_TC_PRIORITY, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

static int tc_query(unsigned ifindex, enum bpf_tc_attach_point point, uint32_t *prog_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = IFACES_TC_HANDLE,
		    .priority = IFACES_TC_PRIORITY);
	int err = bpf_tc_query(&hook, &opts);

	*prog_id = 0;
	if (err == -ENOENT || err == -EINVAL)
		return 0; /* no filter, or no clsact qdisc at all */
	if (!err)
		*prog_id = opts.prog_id;
	return err;
}

static int tc_detach(unsigned ifindex, enum bpf_tc_attach_point point)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = IFACES_TC_HANDLE,
		    .priority = IFACES_TC_PRIORITY);
	int err = bpf_tc_detach(&hook, &opts);

	return err == -ENOENT || err == -EINVAL ? 0 : err;
}

int ifaces_tc_attach(unsigned ifindex, int prog_fd)
{
	return tc_attach(ifindex, BPF_TC_EGRESS, prog_fd);
}

int ifaces_tc_query(unsigned ifindex, uint32_t *prog_id)
{
	return tc_query(ifindex, BPF_TC_EGRESS, prog_id);
}

int ifaces_tc_detach(unsigned ifindex)
{
	return tc_detach(ifindex, BPF_TC_EGRESS);
}

int ifaces_tc_ingress_attach(unsigned ifindex, int prog_fd)
{
	return tc_attach(ifindex, BPF_TC_INGRESS, prog_fd);
}

int ifaces_tc_ingress_query(unsigned ifindex, uint32_t *prog_id)
{
	return tc_query(ifindex, BPF_TC_INGRESS, prog_id);
}

int ifaces_tc_ingress_detach(unsigned ifindex)
{
	return tc_detach(ifindex, BPF_TC_INGRESS);
}

/* ---- bridges, through rtnetlink ---- */

struct link_walk {
	unsigned ifindex; /* the interface asked about */
	enum iface_bridge_role role;
	bool found;
	/* a dump: every interface's name and master, to list a bridge's ports */
	struct {
		char name[IF_NAMESIZE];
		unsigned master;
	} *links;
	size_t n_links, cap_links;
};

/* IFLA_LINKINFO: the kind of the device and of its master's port. */
static void read_linkinfo(const struct nlattr *info, bool *is_bridge, bool *is_port)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, info) {
		if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
		    !strcmp(mnl_attr_get_str(a), "bridge"))
			*is_bridge = true;
		if (mnl_attr_get_type(a) == IFLA_INFO_SLAVE_KIND &&
		    !strcmp(mnl_attr_get_str(a), "bridge"))
			*is_port = true;
	}
}

static int on_link(const struct nlmsghdr *nlh, void *arg)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct link_walk *w = arg;
	const struct nlattr *a;
	bool is_bridge = false, is_port = false;
	const char *name = "";
	unsigned master = 0;

	mnl_attr_for_each(a, nlh, sizeof(*ifi)) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_IFNAME:
			name = mnl_attr_get_str(a);
			break;
		case IFLA_MASTER:
			master = mnl_attr_get_u32(a);
			break;
		case IFLA_LINKINFO:
			read_linkinfo(a, &is_bridge, &is_port);
			break;
		}
	}
	if ((unsigned)ifi->ifi_index == w->ifindex) {
		w->found = true;
		w->role = is_bridge ? IFACE_BRIDGE : is_port ? IFACE_BRIDGE_PORT : IFACE_NOT_BRIDGED;
	}
	if (w->n_links == w->cap_links) {
		size_t cap = w->cap_links ? w->cap_links * 2 : 32;
		void *grown = reallocarray(w->links, cap, sizeof(*w->links));

		if (!grown)
			return MNL_CB_ERROR;
		w->links = grown;
		w->cap_links = cap;
	}
	snprintf(w->links[w->n_links].name, IF_NAMESIZE, "%s", name);
	w->links[w->n_links++].master = master;
	return MNL_CB_OK;
}

/* Every interface of this network namespace (RTM_GETLINK dump) through on_link. */
static int walk_links(struct link_walk *w)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	unsigned portid, seq = 1;
	int err = 0;
	ssize_t len;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		int ret;

		len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (len < 0) {
			err = -errno;
			break;
		}
		ret = mnl_cb_run(buf, (size_t)len, seq, portid, on_link, w);
		if (ret <= MNL_CB_STOP) {
			if (ret < 0)
				err = errno ? -errno : -EIO;
			break;
		}
	}
out:
	if (nl)
		mnl_socket_close(nl);
	return err;
}

int ifaces_bridge_role(const char *ifname, enum iface_bridge_role *role, char *ports,
		       size_t ports_len)
{
	struct link_walk w = { .ifindex = if_nametoindex(ifname) };
	size_t off = 0;
	int err;

	*role = IFACE_NOT_BRIDGED;
	if (ports && ports_len)
		ports[0] = '\0';
	if (!w.ifindex)
		return -ENODEV;
	err = walk_links(&w);
	if (!err && !w.found)
		err = -ENODEV;
	if (!err)
		*role = w.role;
	for (size_t i = 0; !err && ports && w.role == IFACE_BRIDGE && i < w.n_links; i++) {
		if (w.links[i].master != w.ifindex || off >= ports_len)
			continue;
		off += (size_t)snprintf(ports + off, ports_len - off, "%s%s", off ? ", " : "",
					w.links[i].name);
	}
	free(w.links);
	return err;
}
