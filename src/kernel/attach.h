/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * attach.h - the link syscalls under links.h: attach a program through a
 * link and pin it (so that it outlives the process that made it), swap the
 * program of a pinned link, read what a pinned link is attached to, and
 * detach it. Which links an instance has, and should have, is links.h's.
 */
#ifndef SPEE_ATTACH_H
#define SPEE_ATTACH_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Attaches prog_fd to interface ifname with a link of attach_type, pinned at
 * pin. XDP tries native (driver) mode first and falls back to generic mode
 * with a warning (*generic set); generic_only: straight to generic mode, the
 * one that sees every packet of a device whose native XDP would miss some
 * (ifaces.h). Errors name the interface.
 */
int attach_iface(int prog_fd, uint32_t attach_type, const char *ifname, const char *pin,
		 bool generic_only, bool *generic);

/* Attaches prog_fd (what: its name in messages) to cgroup_path and pins the link at pin. */
int attach_cgroup(int prog_fd, uint32_t attach_type, const char *what, const char *cgroup_path,
		  const char *pin);

/* Replaces the program behind a pinned link atomically (no gap). */
int attach_update(const char *pin, int new_prog_fd);

/* What one pinned link is attached to now. */
struct link_state {
	char pin[PATH_MAX];
	/* From the pin's name (pindir.h): false for a pin no link of ours has. */
	bool known;
	int prog; /* enum spee_prog_id, when known */
	char iface[IF_NAMESIZE]; /* the interface the pin names, for an interface program */
	/* From the kernel: */
	bool alive; /* the link still exists and is attached */
	uint32_t link_id;
	uint32_t prog_id;
	uint32_t ifindex; /* interface links */
	char ifname[IF_NAMESIZE]; /* what the kernel calls ifindex now */
	const char *xdp_mode; /* "native", "generic", "offload" or "none" (XDP links) */
	uint64_t cgroup_id; /* cgroup links */
	/* links.h: it runs the instance's own program (this build's, around the pinned maps) */
	bool ours;
	/*
	 * links.h, XDP links: how the device's frames start (enum iface_frames;
	 * IFACE_UNSEEN: the device is not in this network namespace, where an
	 * ifindex means another device or none) and the device's tc egress
	 * filter: its program (0: none) and whether it is the instance's.
	 */
	int frames;
	bool generic_only; /* ifaces.h: native XDP would miss frames of this device */
	uint32_t tc_prog_id;
	bool tc_ours;
};

/* Reads the link pinned at ls->pin into ls (a pin that opens no more: not alive). */
int attach_read(struct link_state *ls);

/* Detaches the link pinned at pin and removes the pin. */
int attach_detach_pinned(const char *pin);

/* The cgroup v2 mount point, from /proc/mounts. */
int attach_cgroup2_root(char *buf, size_t len);

#endif
