// SPDX-License-Identifier: GPL-2.0-only
/*
 * loader.c - skeleton open/size/load/pin, and pinned maps by path.
 */
#include "loader.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "speebpf.skel.h"

static bool verbose;

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void loader_set_verbose(bool on)
{
	verbose = on;
	libbpf_set_print(print_libbpf);
}

/* The creation flags that change how user space may use a map. */
#define SHAPE_FLAGS (BPF_F_NO_PREALLOC | BPF_F_MMAPABLE)

/* What each map must be; an instance pinned by another build is checked against it. */
static const struct {
	enum bpf_map_type type;
	__u32 key_size;
	__u32 value_size;
	__u32 flags; /* within SHAPE_FLAGS */
} map_shape[SPEE_MAP_COUNT] = {
	[SPEE_MAP_RT] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct spee_runtime), 0 },
	[SPEE_MAP_EXACT] = { BPF_MAP_TYPE_HASH, sizeof(struct spee_rule_key),
			     sizeof(struct spee_verdict), 0 },
	[SPEE_MAP_PREFIX] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct spee_prefix_key),
			      sizeof(struct spee_verdict), BPF_F_NO_PREALLOC },
	[SPEE_MAP_PORTS] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct spee_port_info),
			     BPF_F_MMAPABLE },
	[SPEE_MAP_FLOWS] = { BPF_MAP_TYPE_LRU_HASH, sizeof(struct spee_flow_key),
			     sizeof(struct spee_flow_state), 0 },
	[SPEE_MAP_FRAGS] = { BPF_MAP_TYPE_LRU_HASH, sizeof(struct spee_frag_key),
			     sizeof(struct spee_frag_state), 0 },
	[SPEE_MAP_RULE_CTR] = { BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct spee_counter), 0 },
	[SPEE_MAP_REASON_CTR] = { BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct spee_counter), 0 },
	[SPEE_MAP_RULES] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct spee_rule_meta), 0 },
	[SPEE_MAP_INST] = { BPF_MAP_TYPE_ARRAY, 4, sizeof(struct spee_instance), 0 },
	[SPEE_MAP_EVENTS] = { BPF_MAP_TYPE_RINGBUF, 0, 0, 0 },
	[SPEE_MAP_EV_BUCKET] = { BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct spee_ev_bucket), 0 },
	[SPEE_MAP_EV_STATS] = { BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(__u64), 0 },
};

/*
 * The sizes that are the build's rather than the policy's (0: sized by the
 * loader or the policy). A counter array of fewer entries (an older
 * build's, from before reasons were added) is one this build makes
 * otherwise: it is replaced, its counters carried over.
 */
static const __u32 map_entries[SPEE_MAP_COUNT] = {
	[SPEE_MAP_REASON_CTR] = SPEE_REASON_CTR_ENTRIES,
};

void loader_sizes_default(struct loader_sizes *out)
{
	out->exact = LOADER_EXACT_MIN;
	out->prefix = LOADER_PREFIX_MIN;
	out->flows = LOADER_FLOWS_DEFAULT;
	out->frags = LOADER_FRAGS_DEFAULT;
	out->fresh_maps = 0;
}

/*
 * Not a power of two: spee_exact is preallocated, so every entry of room
 * costs memory whether used or not.
 */
uint32_t loader_room_for(size_t n, uint32_t min)
{
	uint64_t want = (uint64_t)n * 2;

	want = (want + 4095) / 4096 * 4096;
	if (want < min)
		want = min;
	return want > (1u << 30) ? 1u << 30 : (uint32_t)want;
}

/* n entries per slot -> room for both slots, doubled. */
static uint32_t size_for(size_t n, uint32_t min)
{
	return loader_room_for(n * SPEE_POLICY_SLOTS, min);
}

void loader_sizes_for(const struct policy *p, const struct name_table *t,
		      struct loader_sizes *out)
{
	size_t n_exact, n_prefix;

	loader_sizes_default(out);
	maps_count_entries(p, t, &n_exact, &n_prefix);
	out->exact = size_for(n_exact, LOADER_EXACT_MIN);
	out->prefix = size_for(n_prefix, LOADER_PREFIX_MIN);
}

static int join(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int mkdir_one(const char *path)
{
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Creates pin_dir and pin_dir/maps on a bpf filesystem. */
static int make_pin_dirs(const char *pin_dir, char *maps_dir, size_t len, struct diags *d)
{
	struct statfs fs;
	int err;

	err = join(maps_dir, len, pin_dir, "maps");
	if (err) {
		diag_add(d, NULL, 0, 0, "pin directory %s: name too long", pin_dir);
		return err;
	}
	err = mkdir_one(pin_dir);
	if (!err && statfs(pin_dir, &fs))
		err = -errno;
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot create pin directory %s: %s", pin_dir,
			 strerror(-err));
		return err;
	}
	if (fs.f_type != BPF_FS_MAGIC) {
		diag_add(d, NULL, 0, 0,
			 "pin directory %s is not on a bpf filesystem; mount one with "
			 "'mount -t bpf bpf /sys/fs/bpf'",
			 pin_dir);
		return -EINVAL;
	}
	err = mkdir_one(maps_dir);
	if (err)
		diag_add(d, NULL, 0, 0, "cannot create %s: %s", maps_dir, strerror(-err));
	return err;
}

int loader_map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

/* max_entries of a map pinned at path, or 0 when nothing is pinned there. */
static int pinned_max_entries(const char *path, __u32 *max)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	*max = 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err)
		return err;
	*max = info.max_entries;
	return 0;
}

int loader_load(struct loader *l, const struct loader_sizes *sz, const char *pin_dir,
		struct diags *d)
{
	const __u32 sizes[SPEE_MAP_COUNT] = {
		[SPEE_MAP_EXACT] = sz->exact,
		[SPEE_MAP_PREFIX] = sz->prefix,
		[SPEE_MAP_FLOWS] = sz->flows,
		[SPEE_MAP_FRAGS] = sz->frags,
	};
	char maps_dir[PATH_MAX], path[PATH_MAX];
	int err;

	memset(l, 0, sizeof(*l));
	spee_map_fds_init(&l->maps);
	loader_set_verbose(verbose);

	if (pin_dir) {
		err = make_pin_dirs(pin_dir, maps_dir, sizeof(maps_dir), d);
		if (err)
			return err;
	}
	l->skel = speebpf__open();
	if (!l->skel) {
		err = -errno;
		diag_add(d, NULL, 0, 0, "cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(l->skel->obj, spee_map_names[i]);
		__u32 max = sizes[i];

		if (!map) {
			diag_add(d, NULL, 0, 0, "the BPF object has no map %s", spee_map_names[i]);
			err = -ENOENT;
			goto fail;
		}
		if (pin_dir && !(sz->fresh_maps & (1u << i))) {
			__u32 pinned;

			err = join(path, sizeof(path), maps_dir, spee_map_names[i]);
			if (!err)
				err = pinned_max_entries(path, &pinned);
			if (err) {
				diag_add(d, NULL, 0, 0, "cannot read pinned map %s: %s", path,
					 strerror(-err));
				goto fail;
			}
			/*
			 * libbpf reuses a pinned map only if it matches, size
			 * included: the pinned size, but for maps whose size is
			 * the build's (a smaller one is replaced, as fresh_maps).
			 */
			if (pinned && !map_entries[i])
				max = pinned;
			err = bpf_map__set_pin_path(map, path);
			if (err) {
				diag_add(d, NULL, 0, 0, "cannot set pin path %s: %s", path,
					 strerror(-err));
				goto fail;
			}
		}
		if (max) {
			err = bpf_map__set_max_entries(map, max);
			if (err) {
				diag_add(d, NULL, 0, 0, "cannot size map %s: %s",
					 spee_map_names[i], strerror(-err));
				goto fail;
			}
		}
	}
	err = speebpf__load(l->skel);
	if (err) {
		diag_add(d, NULL, 0, 0,
			 "cannot load the BPF programs: %s%s", strerror(-err),
			 pin_dir ? " (if maps are pinned by an older speebpf, run 'speebpf detach' "
				   "first; -v shows the kernel's verifier log)"
				 : " (-v shows the kernel's verifier log)");
		goto fail;
	}
	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		l->maps.fd[i] =
			bpf_map__fd(bpf_object__find_map_by_name(l->skel->obj, spee_map_names[i]));
	l->pinned = pin_dir != NULL;
	/* libbpf read the kernel's BTF (megabytes) to relocate the programs, and freed it. */
	malloc_trim(0);
	return 0;
fail:
	loader_close(l);
	return err;
}

struct bpf_program *loader_prog(const struct loader *l, enum loader_prog which)
{
	if (!l->skel)
		return NULL;
	switch (which) {
	case LOADER_PROG_XDP:
		return l->skel->progs.spee_xdp;
	case LOADER_PROG_EGRESS:
		return l->skel->progs.spee_egress;
	case LOADER_PROG_CONNECT4:
		return l->skel->progs.spee_connect4;
	case LOADER_PROG_CONNECT6:
		return l->skel->progs.spee_connect6;
	case LOADER_PROG_XDP_L3:
		return l->skel->progs.spee_xdp_l3;
	case LOADER_PROG_SENDMSG4:
		return l->skel->progs.spee_sendmsg4;
	case LOADER_PROG_SENDMSG6:
		return l->skel->progs.spee_sendmsg6;
	case LOADER_PROG_TC_EGRESS:
		return l->skel->progs.spee_tc_egress;
	case LOADER_PROG_TC_EGRESS_L3:
		return l->skel->progs.spee_tc_egress_l3;
	default:
		return NULL;
	}
}

uint8_t *loader_prog_tag_in(struct spee_instance *inst, enum loader_prog which)
{
	if (which < SPEE_PROG_KINDS)
		return inst->prog_tag[which];
	if (which < LOADER_PROG_COUNT)
		return inst->prog_tag_more[which - SPEE_PROG_KINDS];
	return NULL;
}

int loader_prog_fd(const struct loader *l, enum loader_prog which)
{
	struct bpf_program *prog = loader_prog(l, which);

	return prog ? bpf_program__fd(prog) : -1;
}

void loader_close(struct loader *l)
{
	speebpf__destroy(l->skel);
	l->skel = NULL;
	spee_map_fds_init(&l->maps);
}

/* True when a map is what this build makes under map i's name. */
static bool shape_matches(int i, const struct bpf_map_info *info)
{
	return info->type == map_shape[i].type && info->key_size == map_shape[i].key_size &&
	       info->value_size == map_shape[i].value_size &&
	       (info->map_flags & SHAPE_FLAGS) == map_shape[i].flags &&
	       (!map_entries[i] || info->max_entries == map_entries[i]);
}

bool loader_same_entries(enum spee_map_id i, const struct bpf_map_info *info)
{
	return info->type == map_shape[i].type && info->key_size == map_shape[i].key_size &&
	       info->value_size == map_shape[i].value_size;
}

bool loader_extends(enum spee_map_id i, const struct bpf_map_info *info)
{
	return i == SPEE_MAP_INST && info->type == map_shape[i].type &&
	       info->key_size == map_shape[i].key_size &&
	       info->value_size < map_shape[i].value_size;
}

int loader_pinned_mismatch(const char *pin_dir, uint32_t *mask)
{
	char path[PATH_MAX];
	int err = 0;

	*mask = 0;
	for (int i = 0; i < SPEE_MAP_COUNT && !err; i++) {
		struct bpf_map_info info;
		int fd;

		if (snprintf(path, sizeof(path), "%s/maps/%s", pin_dir, spee_map_names[i]) >=
		    (int)sizeof(path))
			return -ENAMETOOLONG;
		fd = bpf_obj_get(path);
		if (fd < 0)
			return -errno;
		err = loader_map_info(fd, &info);
		if (!err && !shape_matches(i, &info))
			*mask |= 1u << i;
		close(fd);
	}
	return err;
}

int loader_open_pinned(struct spee_map_fds *m, const char *pin_dir, struct diags *d)
{
	char maps_dir[PATH_MAX], path[PATH_MAX];
	int err;

	spee_map_fds_init(m);
	loader_set_verbose(verbose);
	err = join(maps_dir, sizeof(maps_dir), pin_dir, "maps");
	if (err) {
		diag_add(d, NULL, 0, 0, "pin directory %s: name too long", pin_dir);
		return err;
	}
	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		err = join(path, sizeof(path), maps_dir, spee_map_names[i]);
		if (err)
			goto fail;
		m->fd[i] = bpf_obj_get(path);
		if (m->fd[i] < 0) {
			err = m->fd[i];
			m->fd[i] = -1;
			if (err == -ENOENT)
				diag_add(d, NULL, 0, 0, "no speebpf instance is pinned at %s (%s is "
					 "missing)", pin_dir, path);
			else
				diag_add(d, NULL, 0, 0, "cannot open pinned map %s: %s", path,
					 strerror(-err));
			goto fail;
		}
		err = bpf_obj_get_info_by_fd(m->fd[i], &info, &len);
		if (err) {
			diag_add(d, NULL, 0, 0, "cannot inspect pinned map %s: %s", path,
				 strerror(-err));
			goto fail;
		}
		if (!shape_matches(i, &info)) {
			diag_add(d, NULL, 0, 0,
				 "pinned map %s was made by an incompatible speebpf (type %u, key "
				 "%u, value %u bytes, flags %#x; expected %u, %u, %u, %#x): an apply "
				 "with this build takes it over",
				 path, info.type, info.key_size, info.value_size,
				 info.map_flags & SHAPE_FLAGS, map_shape[i].type,
				 map_shape[i].key_size, map_shape[i].value_size, map_shape[i].flags);
			err = -EPROTO;
			goto fail;
		}
	}
	return 0;
fail:
	loader_close_pinned(m);
	return err;
}

/* True when the map with this id is not one of ours, or is the pinned one of its name. */
static bool map_is_pinned_one(__u32 id, const struct spee_map_fds *pinned)
{
	struct bpf_map_info info, pin;
	int fd = bpf_map_get_fd_by_id(id), err;

	if (fd < 0)
		return false;
	err = loader_map_info(fd, &info);
	close(fd);
	if (err)
		return false;
	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		if (!strcmp(info.name, spee_map_names[i]))
			return pinned->fd[i] >= 0 && !loader_map_info(pinned->fd[i], &pin) &&
			       pin.id == id;
	return true; /* the object's own data (.rodata), never pinned */
}

bool loader_prog_is_instances(uint32_t prog_id, const uint8_t tag[SPEE_TAG_SIZE],
			      const struct spee_map_fds *pinned)
{
	__u32 ids[2 * SPEE_MAP_COUNT], len;
	struct bpf_prog_info info;
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool ours;

	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(uintptr_t)ids;
	len = sizeof(info);
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) && !memcmp(info.tag, tag, SPEE_TAG_SIZE) &&
	       info.nr_map_ids <= sizeof(ids) / sizeof(ids[0]);
	close(fd);
	for (__u32 i = 0; ours && i < info.nr_map_ids; i++)
		ours = map_is_pinned_one(ids[i], pinned);
	return ours;
}

void loader_close_pinned(struct spee_map_fds *m)
{
	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		if (m->fd[i] >= 0)
			close(m->fd[i]);
	spee_map_fds_init(m);
}

int loader_unpin_maps(const char *pin_dir, struct diags *d)
{
	char maps_dir[PATH_MAX], path[PATH_MAX];
	int err = join(maps_dir, sizeof(maps_dir), pin_dir, "maps");

	if (err)
		return err;
	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		if (join(path, sizeof(path), maps_dir, spee_map_names[i]))
			continue;
		if (unlink(path) && errno != ENOENT) {
			err = -errno;
			diag_add(d, NULL, 0, 0, "cannot remove %s: %s", path, strerror(errno));
		}
	}
	if (rmdir(maps_dir) && errno != ENOENT && !err) {
		err = -errno;
		diag_add(d, NULL, 0, 0, "cannot remove %s: %s", maps_dir, strerror(errno));
	}
	return err;
}

void loader_object_id(uint8_t out[8])
{
	struct sha256_ctx ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	size_t sz;
	const void *bytes = speebpf__elf_bytes(&sz);

	sha256_init(&ctx);
	sha256_update(&ctx, sz, bytes);
	sha256_digest(&ctx, sizeof(digest), digest);
	memcpy(out, digest, 8);
}

int loader_prog_tag(const struct loader *l, enum loader_prog which, uint8_t tag[8])
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd = loader_prog_fd(l, which);

	if (fd < 0)
		return -EBADF;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	memcpy(tag, info.tag, 8);
	return 0;
}
