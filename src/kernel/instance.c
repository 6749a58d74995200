// SPDX-License-Identifier: GPL-2.0-only
/*
 * instance.c - the handle (instance.h): lock, maps opened once, the record.
 * Opening a pinned map is one BPF_OBJ_GET; a relock compares each pin's
 * inode with the one noted at open, so a process that keeps its handle
 * opens again only what growth or an upgrade replaced.
 */
#include "instance.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "loader.h"
#include "maps.h"

void instance_set_text(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static ino_t inode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_ino;
}

/* Reads the record when spee_inst is there and of this build's entries. */
static void read_record(struct instance *inst)
{
	struct spee_instance rec;

	memset(&rec, 0, sizeof(rec));
	if (inst->maps.fd[SPEE_MAP_INST] >= 0 && !(inst->other_layout & (1u << SPEE_MAP_INST)))
		maps_read_instance(&inst->maps, &rec, NULL);
	pthread_mutex_lock(&inst->mu);
	inst->rec = rec;
	pthread_mutex_unlock(&inst->mu);
}

/* Opens map i by its pin; a missing pin is noted, not an error. */
static int open_map(struct instance *inst, enum spee_map_id i, struct diags *d)
{
	char path[PATH_MAX];
	struct bpf_map_info info;
	uint32_t bit = 1u << i;
	int fd, err = pindir_map(path, sizeof(path), inst->pin_dir, i);

	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = -errno;
		if (err != -ENOENT) {
			diag_add(d, NULL, 0, 0, "cannot open pinned map %s: %s", path,
				 strerror(-err));
			return err;
		}
	} else {
		err = loader_map_info(fd, &info);
		if (err) {
			diag_add(d, NULL, 0, 0, "cannot inspect pinned map %s: %s", path,
				 strerror(-err));
			close(fd);
			return err;
		}
	}
	pthread_mutex_lock(&inst->mu);
	if (inst->maps.fd[i] >= 0)
		close(inst->maps.fd[i]);
	inst->maps.fd[i] = fd;
	inst->map_id[i] = fd >= 0 ? info.id : 0;
	inst->map_ino[i] = fd >= 0 ? inode_of(path) : 0;
	inst->missing = fd >= 0 ? inst->missing & ~bit : inst->missing | bit;
	inst->other_layout = fd >= 0 && !loader_shape_matches(i, &info) ?
				     inst->other_layout | bit :
				     inst->other_layout & ~bit;
	pthread_mutex_unlock(&inst->mu);
	return 0;
}

static void open_names_store(struct instance *inst)
{
	char path[PATH_MAX];

	if (inst->names_fd >= 0)
		close(inst->names_fd);
	inst->names_fd = -1;
	inst->names_ino = 0;
	if (pindir_names_store(path, sizeof(path), inst->pin_dir))
		return;
	inst->names_fd = bpf_obj_get(path);
	if (inst->names_fd >= 0)
		inst->names_ino = inode_of(path);
}

void instance_forget_maps(struct instance *inst)
{
	pthread_mutex_lock(&inst->mu);
	spee_map_fds_close(&inst->maps);
	memset(inst->map_id, 0, sizeof(inst->map_id));
	memset(inst->map_ino, 0, sizeof(inst->map_ino));
	memset(&inst->rec, 0, sizeof(inst->rec));
	inst->missing = SPEE_MAP_ALL;
	inst->other_layout = 0;
	inst->exists = false;
	pthread_mutex_unlock(&inst->mu);
	if (inst->names_fd >= 0)
		close(inst->names_fd);
	inst->names_fd = -1;
	inst->names_ino = 0;
}

/* Opens the maps that changed since they were opened (all of them the first time). */
static int open_maps(struct instance *inst, bool only_changed, struct diags *d)
{
	char path[PATH_MAX];
	struct stat st;
	int err = pindir_maps_dir(path, sizeof(path), inst->pin_dir);

	if (err)
		return err;
	if (stat(path, &st)) {
		instance_forget_maps(inst);
		return 0;
	}
	inst->exists = true;
	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		if (only_changed && !pindir_map(path, sizeof(path), inst->pin_dir, i) &&
		    inode_of(path) == inst->map_ino[i])
			continue;
		err = open_map(inst, (enum spee_map_id)i, d);
		if (err)
			return err;
	}
	if (!only_changed || (!pindir_names_store(path, sizeof(path), inst->pin_dir) &&
			      inode_of(path) != inst->names_ino))
		open_names_store(inst);
	read_record(inst);
	return 0;
}

/* What READ needs: every map there, each of this build's layout. */
static int check_usable(const struct instance *inst, struct diags *d)
{
	char path[PATH_MAX];

	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		const struct loader_shape *want = loader_shape((enum spee_map_id)i);
		struct bpf_map_info info;

		pindir_map(path, sizeof(path), inst->pin_dir, (enum spee_map_id)i);
		if (inst->missing & (1u << i)) {
			diag_add(d, NULL, 0, 0, "no speebpf instance is pinned at %s (%s is missing)",
				 inst->pin_dir, path);
			return -ENOENT;
		}
		if (!(inst->other_layout & (1u << i)))
			continue;
		if (!want || loader_map_info(inst->maps.fd[i], &info))
			return -EPROTO;
		diag_add(d, NULL, 0, 0,
			 "pinned map %s was made by an incompatible speebpf (type %u, key %u, value "
			 "%u bytes, %u entries, flags %#x; expected %u, %u, %u, %u, %#x): an apply "
			 "with this build takes it over",
			 path, info.type, info.key_size, info.value_size, info.max_entries,
			 info.map_flags & LOADER_SHAPE_FLAGS, want->type, want->key_size,
			 want->value_size, want->max_entries, want->flags);
		return -EPROTO;
	}
	return 0;
}

static int take_lock(struct instance *inst, struct diags *d)
{
	struct stat st;
	int fd = pindir_lock(inst->pin_dir, inst->mode != INSTANCE_READ,
			     inst->mode == INSTANCE_CREATE, d);

	if (fd == -ENOENT)
		diag_add(d, NULL, 0, 0, "no instance is pinned at %s", inst->pin_dir);
	if (fd < 0)
		return fd;
	inst->lock_fd = fd;
	if (!fstat(fd, &st) && st.st_ino != inst->dir_ino) {
		/* A new directory (the first lock, or one made again since): nothing is known of it. */
		instance_forget_maps(inst);
		inst->dir_ino = st.st_ino;
	}
	return 0;
}

int instance_open(const char *pin_dir, enum instance_mode mode, struct instance **out,
		  struct diags *d)
{
	struct instance *inst = calloc(1, sizeof(*inst));
	int err;

	*out = NULL;
	if (!inst)
		return -ENOMEM;
	pthread_mutex_init(&inst->mu, NULL);
	spee_map_fds_init(&inst->maps);
	inst->lock_fd = -1;
	inst->names_fd = -1;
	inst->mode = mode;
	inst->missing = SPEE_MAP_ALL;
	if (snprintf(inst->pin_dir, sizeof(inst->pin_dir), "%s", pin_dir) >=
	    (int)sizeof(inst->pin_dir)) {
		diag_add(d, NULL, 0, 0, "pin directory %s: name too long", pin_dir);
		err = -ENAMETOOLONG;
		goto fail;
	}
	err = mode == INSTANCE_CREATE ? pindir_ensure_bpffs(pin_dir, d) : 0;
	if (!err)
		err = take_lock(inst, d);
	if (!err)
		err = open_maps(inst, false, d);
	if (!err && !inst->exists && mode != INSTANCE_CREATE) {
		diag_add(d, NULL, 0, 0, "no instance is pinned at %s", pin_dir);
		err = -ENOENT;
	}
	if (!err && mode == INSTANCE_READ)
		err = check_usable(inst, d);
	if (err)
		goto fail;
	*out = inst;
	return 0;
fail:
	instance_close(inst);
	return err;
}

int instance_relock(struct instance *inst, struct diags *d)
{
	int err;

	if (inst->lock_fd >= 0)
		return 0;
	err = take_lock(inst, d);
	if (!err)
		err = open_maps(inst, true, d);
	if (!err && !inst->exists && inst->mode != INSTANCE_CREATE) {
		diag_add(d, NULL, 0, 0, "no instance is pinned at %s", inst->pin_dir);
		err = -ENOENT;
	}
	if (err)
		instance_release(inst);
	return err;
}

void instance_release(struct instance *inst)
{
	if (inst->lock_fd < 0)
		return;
	if (inst->mode == INSTANCE_CREATE && !inst->exists)
		pindir_remove(inst->pin_dir, NULL); /* what the lock made; fails when not empty */
	pindir_unlock(inst->lock_fd);
	inst->lock_fd = -1;
}

void instance_close(struct instance *inst)
{
	if (!inst)
		return;
	instance_release(inst);
	spee_map_fds_close(&inst->maps);
	if (inst->names_fd >= 0)
		close(inst->names_fd);
	pthread_mutex_destroy(&inst->mu);
	free(inst);
}

int instance_take_maps(struct instance *inst, const struct spee_map_fds *fresh, uint32_t mask,
		       struct diags *d)
{
	char path[PATH_MAX];

	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		struct bpf_map_info info;
		int fd, err;

		if (!(mask & (1u << i)))
			continue;
		fd = fcntl(fresh->fd[i], F_DUPFD_CLOEXEC, 3);
		err = fd < 0 ? -errno : loader_map_info(fd, &info);
		if (err) {
			diag_add(d, NULL, 0, 0, "cannot keep map %s: %s", spee_map_names[i],
				 strerror(-err));
			if (fd >= 0)
				close(fd);
			return err;
		}
		pindir_map(path, sizeof(path), inst->pin_dir, (enum spee_map_id)i);
		pthread_mutex_lock(&inst->mu);
		if (inst->maps.fd[i] >= 0)
			close(inst->maps.fd[i]);
		inst->maps.fd[i] = fd;
		inst->map_id[i] = info.id;
		inst->map_ino[i] = inode_of(path);
		inst->missing &= ~(1u << i);
		inst->other_layout &= ~(1u << i);
		inst->exists = true;
		pthread_mutex_unlock(&inst->mu);
	}
	if (mask & (1u << SPEE_MAP_INST))
		read_record(inst);
	return 0;
}

int instance_save_record(struct instance *inst, struct diags *d)
{
	return maps_write_instance(&inst->maps, &inst->rec, d);
}

void instance_record_result(struct spee_instance *rec, const struct policy *p, uint32_t generation,
			    bool audit, bool ok, const char *error)
{
	struct timespec now;

	rec->last_result_ok = ok;
	instance_set_text(rec->last_error, sizeof(rec->last_error), error ? error : "");
	if (!ok || !p || !generation)
		return;
	/* Only a successful apply changes what status calls the running policy. */
	clock_gettime(CLOCK_REALTIME, &now);
	rec->applied_at = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	rec->generation = generation;
	rec->mode = (uint8_t)(audit ? SPEE_MODE_AUDIT : p->mode);
	/* gateway mode's policy is the fleet's: no one host */
	instance_set_text(rec->host, sizeof(rec->host), p->host ? p->host->name : "");
	if (p->cfg->path) {
		char full[PATH_MAX];

		instance_set_text(rec->config_path, sizeof(rec->config_path),
				  realpath(p->cfg->path, full) ? full : p->cfg->path);
	}
	for (size_t i = 0; i < 32; i++)
		sprintf(rec->config_sha256 + 2 * i, "%02x", p->cfg->sha256[i]);
	/* The policy waiting for a confirmation is no longer the one that runs. */
	rec->confirm_deadline = 0;
	rec->confirm_generation = 0;
}

int instance_note_result(struct instance *inst, const struct policy *p, uint32_t generation,
			 bool audit, bool ok, const char *error, struct diags *d)
{
	pthread_mutex_lock(&inst->mu);
	instance_record_result(&inst->rec, p, generation, audit, ok, error);
	pthread_mutex_unlock(&inst->mu);
	return instance_save_record(inst, d);
}
