/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * attach.h - the links that put an instance's programs on the wire: one XDP
 * link per interface (native mode, generic as a fallback, generic only where
 * native would miss packets) with its tc egress filter beside it, and cgroup
 * links on one cgroup v2 directory, each link pinned under PIN_DIR/links/ so
 * that it outlives the process that made it (the tc filter stays with its
 * device). Reading them back serves status and drift detection.
 */
#ifndef SPEE_ATTACH_H
#define SPEE_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ifaces.h"

#define ATTACH_LINKS_DIR "links"
#define ATTACH_TC_UNSEEN UINT32_MAX
#define ATTACH_XDP_PREFIX "xdp-"

enum link_kind {
	LINK_XDP,
	LINK_CGROUP_EGRESS,
	LINK_CGROUP_CONNECT4,
	LINK_CGROUP_CONNECT6,
	LINK_CGROUP_SENDMSG4,
	LINK_CGROUP_SENDMSG6,
	LINK_KIND_MAX,
};

/* The pin file name of a cgroup link kind ("cgroup-egress", ...). */
const char *attach_cgroup_pin_name(enum link_kind kind);

/*
 * Attaches an XDP program to ifname through a link and pins it at pin_path.
 * Tries native (driver) mode first; *generic is set when it fell back to
 * generic mode. Errors name the interface.
 */
int attach_xdp(int prog_fd, const char *ifname, const char *pin_path, bool *generic);

/* The programs an interface gets: chosen by how its frames start (ifaces.h). */
struct iface_progs {
	int xdp, xdp_l3; /* ingress */
	int tc, tc_l3; /* egress, packet sockets' frames */
};

/*
 * Attaches ifname: its XDP program through a link pinned at pin_path (in
 * the mode that sees every packet: native, else generic, with a warning;
 * generic only where native would miss packets) and its tc egress filter.
 * An interface whose frames speebpf cannot judge is refused, -EOPNOTSUPP,
 * with the reason on stderr. Errors name the interface.
 */
int attach_iface(const struct iface_progs *progs, const char *ifname, const char *pin_path,
		 bool *generic);

struct link_state;

/* Gives an attached interface the programs of progs, each replaced atomically (no gap). */
int attach_iface_update(const struct iface_progs *progs, const struct link_state *ls);

/* Attaches a cgroup program (egress, connect or sendmsg hook) to cgroup_path and pins the link. */
int attach_cgroup(int prog_fd, enum link_kind kind, const char *cgroup_path,
		  const char *pin_path);

/* Replaces the program behind a pinned link atomically (no gap). */
int attach_update(const char *pin_path, int new_prog_fd);

/* What one pinned link is attached to now. */
struct link_state {
	char pin[4096];
	enum link_kind kind;
	bool alive; /* the link still exists and is attached */
	uint32_t link_id;
	uint32_t prog_id;
	uint32_t ifindex; /* LINK_XDP */
	char ifname[16];
	const char *xdp_mode; /* "native", "generic", "offload" or "none" */
	/*
	 * LINK_XDP: how the device's frames start, and the program of its tc
	 * egress filter (0: none). A link's device is known by its ifindex,
	 * which means something only in the network namespace of the device:
	 * where its program is not attached to that ifindex (status run in
	 * another namespace), both are IFACE_UNSEEN and ATTACH_TC_UNSEEN.
	 */
	enum iface_frames frames;
	uint32_t tc_prog_id;
	uint64_t cgroup_id; /* cgroup links */
};

/* Every link pinned under pin_dir/links. *out is malloc'd. */
int attach_list(const char *pin_dir, struct link_state **out, size_t *n);

/* Detaches the link pinned at pin (an XDP link's tc filter too) and removes the pin. */
int attach_detach_pinned(const char *pin);

/* Unpins and detaches every link under pin_dir/links; returns how many. */
int attach_remove_all(const char *pin_dir);

/* The cgroup v2 mount point, from /proc/mounts. */
int attach_cgroup2_root(char *buf, size_t len);

#endif
