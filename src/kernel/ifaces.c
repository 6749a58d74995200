// SPDX-License-Identifier: GPL-2.0-only
/* ifaces.c - an interface's link type and its tc egress filter (ifaces.h). */
#include "ifaces.h"

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

int ifaces_tc_attach(unsigned ifindex, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = IFACES_TC_HANDLE,
		    .priority = IFACES_TC_PRIORITY, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

int ifaces_tc_query(unsigned ifindex, uint32_t *prog_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = BPF_TC_EGRESS);
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

int ifaces_tc_detach(unsigned ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = IFACES_TC_HANDLE,
		    .priority = IFACES_TC_PRIORITY);
	int err = bpf_tc_detach(&hook, &opts);

	return err == -ENOENT || err == -EINVAL ? 0 : err;
}
