/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * instance.h - one enforcing instance, identified by its pin dir: create it
 * (load, fill, attach, pin), update it in place (no detach, no gap), read
 * back what it is attached to, and remove it. Several instances with
 * distinct pin dirs, interfaces and cgroups coexist on one machine.
 *
 * Used by the apply, run, status and detach commands.
 */
#ifndef SPEE_INSTANCE_H
#define SPEE_INSTANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attach.h"
#include "diag.h"
#include "loader.h"
#include "names.h"
#include "maps.h"
#include "policy.h"

#define INSTANCE_DEFAULT_PIN_DIR "/sys/fs/bpf/speebpf"

struct apply_request {
	const struct policy *policy; /* compiled for this host */
	const struct name_table *names; /* addresses of the policy's DNS names; may be NULL */
	const char *pin_dir;
	/* Interfaces for XDP. None given: every up, non-loopback interface on a new
	 * instance; the ones already attached on an existing instance. */
	char *const *ifaces;
	size_t n_ifaces;
	/* cgroup v2 directory for the egress programs. NULL: the cgroup2 root on a
	 * new instance; the one already attached on an existing instance. */
	const char *cgroup;
	bool audit; /* force audit mode */
	/* What this process last wrote into each slot (the agent keeps one): writing a
	 * change then needs no read-back of the slot. NULL: read the slot back. */
	struct maps_cache *cache;
};

struct apply_outcome {
	bool created; /* a new instance (else an update in place) */
	uint32_t generation;
	size_t added; /* policy entries written */
	size_t removed; /* stale entries deleted */
	size_t attached; /* links created by this apply */
	size_t detached; /* links removed because they were no longer asked for */
	size_t replaced; /* links given this build's program (upgrade, or a foreign one) */
	bool grown; /* the policy outgrew the maps, which were replaced by bigger ones */
	uint32_t migrated; /* maps of another build's layout replaced by this build's (bits) */
	/* The policy maps after the apply: entries of both slots, and max_entries. */
	size_t exact_entries, prefix_entries;
	uint32_t exact_size, prefix_size;
};

/*
 * Makes the instance at req->pin_dir enforce req->policy. On a new
 * instance, a failure removes everything this call created. On an existing
 * one, the running policy stays in force unless the switch completed.
 * Returns 0 or a negative errno with the reasons in d.
 */
int instance_apply(const struct apply_request *req, struct apply_outcome *out, struct diags *d);

/*
 * Records the result of an apply for status. ok with a generation: p
 * (applied as that generation, in audit mode if audit) is now the running
 * policy. ok with generation 0: only a past error is cleared. !ok: only the
 * error is recorded; what status calls the running policy stays as it was.
 */
int instance_record(const char *pin_dir, const struct policy *p, uint32_t generation, bool audit,
		    bool ok, const char *error, struct diags *d);

/*
 * Serializes the writers of one instance (apply, run, confirm, detach):
 * creates pin_dir if needed and takes an exclusive lock on it, waiting for
 * the holder. Returns the descriptor to pass to instance_unlock, or -errno.
 */
int instance_lock(const char *pin_dir, struct diags *d);

void instance_unlock(int fd);

/* instance_lock() of an instance that must exist: -ENOENT, said in d, when none is pinned. */
int instance_lock_existing(const char *pin_dir, struct diags *d);

/* The program a link of this kind runs (an XDP link: on an Ethernet device). */
enum loader_prog instance_link_prog(enum link_kind kind);

/* The programs of l for an interface (attach.h). */
void instance_iface_progs(const struct loader *l, struct iface_progs *ip);

/*
 * True when a live link runs one of the instance's programs: the one for
 * its kind (for an interface, its kind of frames, and its tc egress filter
 * as well), of the build that inst records, around the pinned maps.
 */
bool instance_link_is_ours(const struct link_state *ls, struct spee_instance *inst,
			   const struct spee_map_fds *pinned);

/* True when an instance is pinned at pin_dir. */
bool instance_exists(const char *pin_dir);

/* Removes every link and pin of the instance; nothing of it is left. */
int instance_detach(const char *pin_dir, struct diags *d);

/*
 * Makes sure dir lies on a BPF filesystem, mounting bpffs at /sys/fs/bpf
 * when that is where dir is and nothing is mounted there yet.
 */
int instance_ensure_bpffs(const char *dir, struct diags *d);

#endif
