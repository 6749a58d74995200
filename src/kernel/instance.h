/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * instance.h - the handle of one enforcing instance, identified by its pin
 * dir. Opening it takes the instance's lock (pindir.h), opens each pinned
 * map once and reads the instance record once; everything that reads or
 * changes the instance (apply, record, confirm, drift, counters, events,
 * metrics, status, detach) works through the handle and its fds. A process
 * that lives on (the agent, the confirm watcher) keeps its handle: between
 * changes it releases the lock, and relocking reopens only the pins that
 * were replaced meanwhile (a pin's inode tells, without a BPF syscall).
 *
 * Several instances with distinct pin dirs, interfaces and cgroups coexist
 * on one machine. Used by everything in src/kernel/ above objects, loader
 * and maps, and by the commands.
 */
#ifndef SPEE_INSTANCE_H
#define SPEE_INSTANCE_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "diag.h"
#include "objects.h"
#include "pindir.h"
#include "policy.h"

enum instance_mode {
	INSTANCE_READ, /* a shared lock; the instance must exist */
	INSTANCE_WRITE, /* an exclusive lock; the instance must exist */
	INSTANCE_CREATE, /* an exclusive lock; the instance may be created (apply) */
};

struct instance {
	char pin_dir[PATH_MAX];
	enum instance_mode mode;
	int lock_fd; /* -1 while released */
	bool exists; /* its maps are pinned (CREATE: else apply creates them) */
	/*
	 * The pinned maps, this build's list; -1 for one that is missing.
	 * maps, map_id and rec change only under mu, which a thread that reads
	 * them while the owner may change them (the agent's HTTP thread) takes.
	 */
	struct spee_map_fds maps;
	uint32_t map_id[SPEE_MAP_COUNT];
	ino_t map_ino[SPEE_MAP_COUNT];
	uint32_t other_layout; /* bits: pinned by a build of another layout */
	uint32_t missing; /* bits: not pinned (a build that did not have them) */
	int names_fd; /* spee_names, -1 until namestore.h creates it */
	ino_t names_ino;
	ino_t dir_ino; /* of pin_dir when last locked */
	struct spee_instance rec; /* the record as last read or written */
	pthread_mutex_t mu;
};

/*
 * Opens the instance at pin_dir and takes its lock. READ and WRITE: -ENOENT
 * (said in d) when no instance is pinned there; READ: -EPROTO (said in d)
 * when its maps are not all of this build's layout (an apply takes them
 * over). CREATE: makes sure pin_dir is on bpffs and exists; an instance that
 * is not there yet (exists false) is apply's to create. Returns 0 with *out
 * set, or a negative errno.
 */
int instance_open(const char *pin_dir, enum instance_mode mode, struct instance **out,
		  struct diags *d);

/*
 * Drops the lock and keeps the fds (a reader that goes on reading, the
 * agent between changes). CREATE's pin dir without an instance is removed.
 */
void instance_release(struct instance *inst);

/*
 * Takes the lock again: a pin dir removed and made again meanwhile, or map
 * pins replaced, are opened anew (only those); the record is read again.
 * Returns 0, -ENOENT when a READ or WRITE instance is gone, or another
 * negative errno.
 */
int instance_relock(struct instance *inst, struct diags *d);

/* Releases and frees (NULL is fine). */
void instance_close(struct instance *inst);

/* inst->rec written to spee_inst. */
int instance_save_record(struct instance *inst, struct diags *d);

/*
 * Notes the result of an apply in a record. ok with a
 * generation: p (applied as that generation, in audit mode if audit) is now
 * the running policy, and a confirmation pending for an earlier one is over
 * (the new policy took its place). ok with generation 0: only a past error
 * is cleared. !ok: only the error is noted; what status calls the running
 * policy stays as it was.
 */
void instance_record_result(struct spee_instance *rec, const struct policy *p, uint32_t generation,
			    bool audit, bool ok, const char *error);

/* instance_record_result() on inst->rec, saved. */
int instance_note_result(struct instance *inst, const struct policy *p, uint32_t generation,
			 bool audit, bool ok, const char *error, struct diags *d);

/*
 * The maps of mask, pinned now at their paths, become the handle's: fds
 * dup'ed from fresh, ids and inodes noted; the record is read again when
 * spee_inst is one of them. For apply (a new instance) and growth.
 */
int instance_take_maps(struct instance *inst, const struct spee_map_fds *fresh, uint32_t mask,
		       struct diags *d);

/* The handle's view of a missing instance (after detach, or a create undone). */
void instance_forget_maps(struct instance *inst);

/* Copies a text into a fixed-size record field (longer texts are cut). */
void instance_set_text(char *dst, size_t len, const char *src);

#endif
