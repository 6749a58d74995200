/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ifaces.h - what an interface's frames look like to speebpf, decided by its
 * link type when the programs are attached, and its tc egress filter.
 *
 * XDP sees a frame from its first byte (generic XDP: from the mac header).
 * That is an Ethernet header on Ethernet devices, but the IP header itself
 * on devices without a link header (tun, WireGuard, PPP, raw-IP modems):
 * those get the programs that parse from the IP header (spee_xdp_l3,
 * spee_tc_egress_l3). Devices whose frames start with something else
 * (tunnels that keep an outer header there, InfiniBand, CAN...) are refused
 * with the reason: a program that cannot judge their frames is never
 * attached to pass them unjudged. The tc egress filter (clsact, one per
 * enforced interface, at IFACES_TC_PRIORITY/IFACES_TC_HANDLE) judges the
 * frames of packet sockets, which never meet the cgroup hook.
 *
 * Used by links.c (which program each hook of an interface gets: the
 * variant of spee_objects.h's list for its frames) and apply.c (which
 * interfaces to enforce by default). No BPF program loading here; only
 * netlink and ioctls.
 */
#ifndef SPEE_IFACES_H
#define SPEE_IFACES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "objects.h"

enum iface_frames {
	IFACE_ETHERNET = SPEE_FRAMES_ETHERNET, /* frames start with an Ethernet header */
	IFACE_IP = SPEE_FRAMES_IP, /* frames start with the IP header */
	IFACE_REFUSED, /* speebpf cannot judge them: not attached */
	IFACE_UNSEEN, /* (a link's device) not in this network namespace: unknown here */
};

struct iface_kind {
	enum iface_frames frames;
	unsigned link_type; /* ARPHRD_* */
	/*
	 * Native XDP would not see every packet: tun (and tap) run a native
	 * program only on the frames they build themselves (not in tun mode,
	 * nor for GSO or page-sized tap frames), so their program goes in
	 * generic mode, which sees every packet the stack receives.
	 */
	bool generic_only;
	char why[160]; /* IFACE_REFUSED: why, for the error message */
};

/* Classifies ifname (in the caller's network namespace). 0, or a negative errno. */
int ifaces_classify(const char *ifname, struct iface_kind *k);

/* "ethernet", "ip", "refused" or "unseen", for status. */
const char *ifaces_frames_label(enum iface_frames f);

#define IFACES_TC_PRIORITY 1 /* first, so that no earlier filter's verdict skips it */
#define IFACES_TC_HANDLE 0x5eeb

/*
 * Puts prog_fd in place as ifindex's tc egress filter (creating the clsact
 * qdisc if needed), replacing the filter's program atomically when it is
 * there already. 0, or a negative errno.
 */
int ifaces_tc_attach(unsigned ifindex, int prog_fd);

/* The program of ifindex's filter in *prog_id (0: none). 0, or a negative errno. */
int ifaces_tc_query(unsigned ifindex, uint32_t *prog_id);

/* Removes ifindex's filter (the clsact qdisc stays: other filters may use it). */
int ifaces_tc_detach(unsigned ifindex);

/*
 * The same for the tc ingress filter (gateway mode's, on bridge ports), at
 * the same priority and handle.
 */
int ifaces_tc_ingress_attach(unsigned ifindex, int prog_fd);
int ifaces_tc_ingress_query(unsigned ifindex, uint32_t *prog_id);
int ifaces_tc_ingress_detach(unsigned ifindex);

/* What an interface is to a Linux bridge (rtnetlink, in the caller's network namespace). */
enum iface_bridge_role {
	IFACE_NOT_BRIDGED, /* neither: a routed interface */
	IFACE_BRIDGE_PORT, /* enslaved to a bridge (/sys/class/net/IF/brport) */
	IFACE_BRIDGE, /* the bridge device itself */
};

/*
 * ifname's role; for a bridge, its ports' names, comma-separated, in ports
 * (may be NULL). 0, or a negative errno (-ENODEV: no such interface).
 */
int ifaces_bridge_role(const char *ifname, enum iface_bridge_role *role, char *ports,
		       size_t ports_len);

#endif
