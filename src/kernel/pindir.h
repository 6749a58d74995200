/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * pindir.h - the pin directory of an instance: the one place that names its
 * paths, makes sure it lies on a BPF filesystem, and locks it.
 *
 *   PIN_DIR/maps/<map name>         the maps of the object (spee_objects.h)
 *   PIN_DIR/maps/spee_names         the last DNS answers (namestore.h)
 *   PIN_DIR/maps-new/               a new instance's maps until they are whole
 *   PIN_DIR/links/<pin>[<ifname>]   one pinned link per hook (spee_objects.h)
 *   <path>-new                      a pin on its way to <path> (bpffs refuses dots)
 *
 * Locking: writers (apply, run, confirm, detach, the confirm watcher's
 * revert) hold an exclusive flock on PIN_DIR for the whole of a change;
 * readers (stats, status, events) a shared one while they read. Detach and
 * a failed first apply remove PIN_DIR while holding the lock, so whoever
 * waited for it checks after flock() that the path still names the
 * directory it locked, and starts again when it does not.
 */
#ifndef SPEE_PINDIR_H
#define SPEE_PINDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "objects.h"

#define PINDIR_DEFAULT "/sys/fs/bpf/speebpf"
#define PINDIR_STAGING_SUFFIX "-new"

/* Each fills buf (len bytes) and returns 0, or -ENAMETOOLONG. */
int pindir_maps_dir(char *buf, size_t len, const char *pin_dir);
int pindir_maps_staging_dir(char *buf, size_t len, const char *pin_dir);
int pindir_links_dir(char *buf, size_t len, const char *pin_dir);
int pindir_map(char *buf, size_t len, const char *pin_dir, enum spee_map_id map);
int pindir_names_store(char *buf, size_t len, const char *pin_dir);
/* The pin of prog's link (on ifname for an interface program; ifname is ignored otherwise). */
int pindir_link(char *buf, size_t len, const char *pin_dir, enum spee_prog_id prog,
		const char *ifname);
/* path + PINDIR_STAGING_SUFFIX. */
int pindir_staging(char *buf, size_t len, const char *path);

/*
 * Which program's link a file name under PIN_DIR/links names, and for an
 * interface program which interface (ifname gets at most ifname_len bytes).
 * False for a name no program's link has (a staging pin left by a process
 * that died, or something that is not ours).
 */
bool pindir_parse_link(const char *name, enum spee_prog_id *prog, char *ifname,
		       size_t ifname_len);

/*
 * Makes sure dir lies on a BPF filesystem, mounting bpffs at /sys/fs/bpf
 * when that is where dir is and nothing is mounted there yet.
 */
int pindir_ensure_bpffs(const char *dir, struct diags *d);

/* Creates dir and its missing parents (mode 0700). 0 or a negative errno. */
int pindir_mkdir(const char *dir);

/*
 * Locks pin_dir: exclusive for a writer, else shared; waits for the holder.
 * With create, pin_dir (and its parents) is made when missing; without,
 * -ENOENT is returned when there is no such directory. Returns the fd to
 * pass to pindir_unlock, or a negative errno (said in d, except -ENOENT).
 */
int pindir_lock(const char *pin_dir, bool exclusive, bool create, struct diags *d);

void pindir_unlock(int fd);

/* Removes the map pins of this build's list and spee_names, then PIN_DIR/maps. */
int pindir_unpin_maps(const char *pin_dir, struct diags *d);

/*
 * Removes PIN_DIR/links and PIN_DIR, which must be empty by now: -ENOTEMPTY
 * (said in d) when something else is pinned there.
 */
int pindir_remove(const char *pin_dir, struct diags *d);

#endif
