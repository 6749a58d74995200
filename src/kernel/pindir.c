// SPDX-License-Identifier: GPL-2.0-only
/* pindir.c - the paths, the filesystem and the lock of a pin directory (pindir.h). */
#include "pindir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define BPFFS_DEFAULT "/sys/fs/bpf"
#define MAPS_DIR "maps"
#define LINKS_DIR "links"
#define NAMES_STORE "spee_names"
#define LOCK_TRIES 100 /* a directory removed and made again this often in a row: give up */

static int path_of(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int path_of(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pindir_maps_dir(char *buf, size_t len, const char *pin_dir)
{
	return path_of(buf, len, "%s/" MAPS_DIR, pin_dir);
}

int pindir_maps_staging_dir(char *buf, size_t len, const char *pin_dir)
{
	return path_of(buf, len, "%s/" MAPS_DIR PINDIR_STAGING_SUFFIX, pin_dir);
}

int pindir_links_dir(char *buf, size_t len, const char *pin_dir)
{
	return path_of(buf, len, "%s/" LINKS_DIR, pin_dir);
}

int pindir_map(char *buf, size_t len, const char *pin_dir, enum spee_map_id map)
{
	return path_of(buf, len, "%s/" MAPS_DIR "/%s", pin_dir, spee_map_names[map]);
}

int pindir_names_store(char *buf, size_t len, const char *pin_dir)
{
	return path_of(buf, len, "%s/" MAPS_DIR "/" NAMES_STORE, pin_dir);
}

int pindir_link(char *buf, size_t len, const char *pin_dir, enum spee_prog_id prog,
		const char *ifname)
{
	bool iface = spee_where_per_iface(spee_progs[prog].where);

	if (!spee_progs[prog].pin)
		return -EINVAL; /* a tc filter: no link to pin */
	return path_of(buf, len, "%s/" LINKS_DIR "/%s%s", pin_dir, spee_progs[prog].pin,
		       iface ? ifname : "");
}

int pindir_staging(char *buf, size_t len, const char *path)
{
	return path_of(buf, len, "%s" PINDIR_STAGING_SUFFIX, path);
}

bool pindir_parse_link(const char *name, enum spee_prog_id *prog, char *ifname,
		       size_t ifname_len)
{
	for (int p = 0; p < SPEE_PROG_COUNT; p++) {
		const char *pin = spee_progs[p].pin;
		size_t n;

		/* the hook's own program: a variant shares its pin */
		if (!spee_prog_names_hook((enum spee_prog_id)p))
			continue;
		n = strlen(pin);
		if (spee_progs[p].where == SPEE_ATTACH_CGROUP ? strcmp(name, pin) :
		    strncmp(name, pin, n) || !name[n] || strlen(name + n) >= ifname_len)
			continue;
		*prog = (enum spee_prog_id)p;
		snprintf(ifname, ifname_len, "%s",
			 spee_where_per_iface(spee_progs[p].where) ? name + n : "");
		return true;
	}
	return false;
}

int pindir_mkdir(const char *dir)
{
	char buf[PATH_MAX];

	if (path_of(buf, sizeof(buf), "%s", dir))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The nearest existing ancestor of path (path itself if it exists). */
static void existing_ancestor(const char *path, char *buf, size_t len)
{
	struct stat st;

	snprintf(buf, len, "%s", path);
	while (stat(buf, &st) != 0) {
		char *slash = strrchr(buf, '/');

		if (!slash || slash == buf) {
			snprintf(buf, len, "/");
			return;
		}
		*slash = '\0';
	}
}

int pindir_ensure_bpffs(const char *dir, struct diags *d)
{
	char anc[PATH_MAX];
	struct statfs fs;

	existing_ancestor(dir, anc, sizeof(anc));
	if (statfs(anc, &fs) == 0 && fs.f_type == BPF_FS_MAGIC)
		return 0;
	if (!strncmp(dir, BPFFS_DEFAULT "/", sizeof(BPFFS_DEFAULT)) &&
	    statfs(BPFFS_DEFAULT, &fs) == 0 && fs.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", BPFFS_DEFAULT, "bpf", 0, "mode=0700") == 0)
			return 0;
		diag_add(d, NULL, 0, 0, "cannot mount the BPF filesystem at %s: %s", BPFFS_DEFAULT,
			 strerror(errno));
		return -errno;
	}
	diag_add(d, NULL, 0, 0,
		 "pin directory %s is not on a bpf filesystem; mount one with "
		 "'mount -t bpf bpf /sys/fs/bpf'",
		 dir);
	return -ENOTDIR;
}

/* True when path still names the directory fd refers to. */
static bool still_there(int fd, const char *path)
{
	struct stat have, now;

	return !fstat(fd, &have) && !stat(path, &now) && have.st_ino == now.st_ino &&
	       have.st_dev == now.st_dev;
}

int pindir_lock(const char *pin_dir, bool exclusive, bool create, struct diags *d)
{
	int err = 0;

	for (int tries = 0; tries < LOCK_TRIES; tries++) {
		int fd;

		if (create) {
			err = pindir_mkdir(pin_dir);
			if (err) {
				diag_add(d, NULL, 0, 0, "cannot create %s: %s", pin_dir,
					 strerror(-err));
				return err;
			}
		}
		fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			if (err == -ENOENT && create)
				continue; /* removed between mkdir and open */
			if (err != -ENOENT)
				diag_add(d, NULL, 0, 0, "cannot open %s: %s", pin_dir,
					 strerror(-err));
			return err;
		}
		while (flock(fd, exclusive ? LOCK_EX : LOCK_SH)) {
			if (errno == EINTR)
				continue;
			err = -errno;
			diag_add(d, NULL, 0, 0, "cannot lock %s: %s", pin_dir, strerror(-err));
			close(fd);
			return err;
		}
		if (still_there(fd, pin_dir))
			return fd;
		/* The holder removed it (detach, a failed first apply): start again. */
		close(fd);
		err = -ENOENT;
		if (!create)
			return err;
	}
	diag_add(d, NULL, 0, 0, "cannot lock %s: it keeps being removed", pin_dir);
	return -EAGAIN;
}

void pindir_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the lock */
}

/* Unlinks every file of dir, then dir. */
static int empty_dir(const char *dir, struct diags *d)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dp = opendir(dir);
	int err = 0;

	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (path_of(path, sizeof(path), "%s/%s", dir, de->d_name) ||
		    (unlink(path) && errno != ENOENT)) {
			err = -errno;
			diag_add(d, NULL, 0, 0, "cannot remove %s: %s", path, strerror(errno));
		}
	}
	closedir(dp);
	if (!err && rmdir(dir) && errno != ENOENT) {
		err = -errno;
		diag_add(d, NULL, 0, 0, "cannot remove %s: %s", dir, strerror(errno));
	}
	return err;
}

int pindir_unpin_maps(const char *pin_dir, struct diags *d)
{
	char dir[PATH_MAX];
	int err;

	err = pindir_maps_staging_dir(dir, sizeof(dir), pin_dir);
	if (!err)
		err = empty_dir(dir, d);
	if (!err)
		err = pindir_maps_dir(dir, sizeof(dir), pin_dir);
	return err ? err : empty_dir(dir, d);
}

int pindir_remove(const char *pin_dir, struct diags *d)
{
	char links[PATH_MAX];
	int err = pindir_links_dir(links, sizeof(links), pin_dir);

	if (err)
		return err;
	if ((rmdir(links) && errno != ENOENT) || (rmdir(pin_dir) && errno != ENOENT)) {
		err = -errno;
		diag_add(d, NULL, 0, 0, "cannot remove %s: %s (something else is pinned there)",
			 pin_dir, strerror(-err));
	}
	return err;
}
