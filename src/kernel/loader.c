// SPDX-License-Identifier: GPL-2.0-only
/*
 * loader.c - the skeleton: sizes, load (with maps reused by fd), programs,
 * and the shapes and attach types the object defines.
 */
#include "loader.h"

#include <errno.h>
#include <malloc.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps_gateway.h"
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

static bool test_run;

void loader_set_test_run(bool on)
{
	test_run = on;
}

bool loader_test_run_direct(void)
{
	static int known = -1;

	if (known < 0) {
		/* r0 = skb->data < skb->data_end: whether the run set the packet's end */
		const struct bpf_insn data_below_end[] = {
			{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_2,
			  .src_reg = BPF_REG_1, .off = offsetof(struct __sk_buff, data) },
			{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_3,
			  .src_reg = BPF_REG_1, .off = offsetof(struct __sk_buff, data_end) },
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
			{ .code = BPF_JMP | BPF_JLT | BPF_X, .dst_reg = BPF_REG_2,
			  .src_reg = BPF_REG_3, .off = 1 },
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
			{ .code = BPF_JMP | BPF_EXIT },
		};
		uint8_t frame[64] = { [12] = 0x08, [14] = 0x45 }; /* Ethernet, then IPv4 */
		LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = frame, .data_size_in = sizeof(frame));
		int fd = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SKB, NULL, "GPL", data_below_end,
				       sizeof(data_below_end) / sizeof(data_below_end[0]), NULL);

		known = fd >= 0 && !bpf_prog_test_run_opts(fd, &run) && run.retval == 1;
		if (fd >= 0)
			close(fd);
	}
	return known == 1;
}

/* ---- what the object defines, read from the skeleton once ---- */

static struct {
	pthread_once_t once;
	bool ok;
	struct loader_shape map[SPEE_MAP_COUNT];
	uint32_t attach_type[SPEE_PROG_COUNT];
} object = { .once = PTHREAD_ONCE_INIT };

/* Opening the skeleton parses the embedded ELF (well under a millisecond) and loads nothing. */
static void read_object(void)
{
	struct speebpf *skel = speebpf__open();
	bool ok = skel != NULL;

	for (int i = 0; ok && i < SPEE_MAP_COUNT; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(skel->obj, spee_map_names[i]);

		ok = m != NULL;
		if (ok)
			object.map[i] = (struct loader_shape){
				.type = bpf_map__type(m),
				.key_size = bpf_map__key_size(m),
				.value_size = bpf_map__value_size(m),
				.flags = bpf_map__map_flags(m) & LOADER_SHAPE_FLAGS,
				.max_entries = bpf_map__max_entries(m),
			};
	}
	for (int p = 0; ok && p < SPEE_PROG_COUNT; p++) {
		struct bpf_program *prog =
			bpf_object__find_program_by_name(skel->obj, spee_progs[p].name);

		ok = prog != NULL;
		if (ok)
			object.attach_type[p] = bpf_program__expected_attach_type(prog);
	}
	object.ok = ok;
	speebpf__destroy(skel);
}

const struct loader_shape *loader_shape(enum spee_map_id i)
{
	pthread_once(&object.once, read_object);
	return object.ok ? &object.map[i] : NULL;
}

bool loader_same_entries(enum spee_map_id i, const struct bpf_map_info *info)
{
	const struct loader_shape *s = loader_shape(i);

	return s && info->type == s->type && info->key_size == s->key_size &&
	       info->value_size == s->value_size;
}

bool loader_shape_matches(enum spee_map_id i, const struct bpf_map_info *info)
{
	/* the object's own number of entries, where the loader does not size the map */
	return loader_same_entries(i, info) &&
	       (info->map_flags & LOADER_SHAPE_FLAGS) == loader_shape(i)->flags &&
	       ((spee_map_flags[i] & SPEE_MAPF_SIZED) ||
		info->max_entries == loader_shape(i)->max_entries);
}

bool loader_extends(enum spee_map_id i, const struct bpf_map_info *info)
{
	const struct loader_shape *s = loader_shape(i);

	return s && (spee_map_flags[i] & SPEE_MAPF_EXTENDS) && info->type == s->type &&
	       info->key_size == s->key_size && info->value_size < s->value_size;
}

uint32_t loader_attach_type(enum spee_prog_id which)
{
	pthread_once(&object.once, read_object);
	return object.attach_type[which];
}

/* ---- sizes ---- */

void loader_sizes_default(struct loader_sizes *out)
{
	memset(out, 0, sizeof(*out));
	out->max_entries[SPEE_MAP_EXACT] = LOADER_EXACT_MIN;
	out->max_entries[SPEE_MAP_PREFIX] = LOADER_PREFIX_MIN;
	out->max_entries[SPEE_MAP_FLOWS] = LOADER_FLOWS_DEFAULT;
	out->max_entries[SPEE_MAP_FRAGS] = LOADER_FRAGS_DEFAULT;
	out->max_entries[SPEE_MAP_GW_HOSTS] = LOADER_GW_HOSTS_MIN;
	out->max_entries[SPEE_MAP_GW_NAMES] = LOADER_GW_NAMES_MIN;
	out->max_entries[SPEE_MAP_GW_CTR] = LOADER_GW_CTR_MIN;
	out->max_entries[SPEE_MAP_GW_FLOWS] = LOADER_GW_FLOWS_DEFAULT;
	out->max_entries[SPEE_MAP_GW_SYNS] = LOADER_GW_SYNS_DEFAULT;
}

/*
 * Not a power of two, and a quarter to spare rather than double: spee_exact
 * is preallocated, so every entry of room costs memory whether used or not,
 * and creating it costs time in proportion (at 10,000 hosts doubling took
 * ~22 MiB and ~30-50 ms of a program load). A policy that outgrows the room
 * makes the instance grow its maps without a gap (grow.h).
 */
uint32_t loader_room_for(size_t n, uint32_t min)
{
	uint64_t want = (uint64_t)n + n / 4;

	want = (want + 4095) / 4096 * 4096;
	if (want < min)
		want = min;
	return want > (1u << 30) ? 1u << 30 : (uint32_t)want;
}

void loader_sizes_for(const struct policy *p, const struct name_table *t,
		      struct loader_sizes *out)
{
	size_t n_exact, n_prefix;

	loader_sizes_default(out);
	maps_count_entries(p, t, &n_exact, &n_prefix);
	/* n entries per slot -> room for both slots, and a quarter more */
	out->max_entries[SPEE_MAP_EXACT] =
		loader_room_for(n_exact * SPEE_POLICY_SLOTS, LOADER_EXACT_MIN);
	out->max_entries[SPEE_MAP_PREFIX] =
		loader_room_for(n_prefix * SPEE_POLICY_SLOTS, LOADER_PREFIX_MIN);
}

void loader_sizes_for_gateway(const struct gateway_policy *g, const struct name_table *t,
			      struct loader_sizes *out)
{
	struct maps_gateway_counts c;
	/* the drops counted per host, created by the programs: every reason, both directions */
	size_t drops = g->n_hosts * SPEE_DIR_MAX * 8;

	loader_sizes_default(out);
	maps_gateway_count(g, t, &c);
	out->max_entries[SPEE_MAP_EXACT] = loader_room_for(c.exact * SPEE_POLICY_SLOTS,
							   LOADER_EXACT_MIN);
	out->max_entries[SPEE_MAP_PREFIX] = loader_room_for(c.prefix * SPEE_POLICY_SLOTS,
							    LOADER_PREFIX_MIN);
	out->max_entries[SPEE_MAP_GW_HOSTS] = loader_room_for(c.host_addrs * SPEE_POLICY_SLOTS,
							      LOADER_GW_HOSTS_MIN);
	out->max_entries[SPEE_MAP_GW_NAMES] = loader_room_for(g->n_hosts, LOADER_GW_NAMES_MIN);
	out->max_entries[SPEE_MAP_GW_CTR] = loader_room_for(c.rule_ctrs + drops, LOADER_GW_CTR_MIN);
}

/* ---- loading ---- */

int loader_map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

/* Whether the programs progs loads, or their mode's user space, use map i. */
static bool mode_uses(enum loader_progs progs, enum spee_map_id i)
{
	if (progs == LOADER_PROGS_HOST)
		return !(spee_map_flags[i] & SPEE_MAPF_GATEWAY);
	if (progs == LOADER_PROGS_GATEWAY)
		return !(spee_map_flags[i] & SPEE_MAPF_HOST);
	return true;
}

/* Map i of the object: reused from an fd, or sized (the least room if the mode never uses it). */
static int prepare_map(struct bpf_map *map, enum spee_map_id i, const struct loader_sizes *sz,
		       const struct spee_map_fds *reuse, enum loader_progs progs, struct diags *d)
{
	uint32_t entries = sz->max_entries[i];
	int err;

	if (reuse && reuse->fd[i] >= 0) {
		/* libbpf takes the map's type and sizes from the fd, and a dup of it. */
		err = bpf_map__reuse_fd(map, reuse->fd[i]);
		if (err)
			diag_add(d, NULL, 0, 0, "cannot reuse map %s: %s", spee_map_names[i],
				 strerror(-err));
		return err;
	}
	if (!entries)
		return 0;
	if (!mode_uses(progs, i))
		entries = LOADER_UNUSED_ENTRIES;
	err = bpf_map__set_max_entries(map, entries);
	if (err)
		diag_add(d, NULL, 0, 0, "cannot size map %s: %s", spee_map_names[i], strerror(-err));
	return err;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

uint64_t loader_netns_cookie(void)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
		cookie = 0;
	close(fd);
	return cookie;
}

/*
 * Whether this kernel lets cgroup_skb programs call bpf_get_netns_cookie: a
 * three-instruction program calling it is loaded, and the verifier's answer
 * is the answer. (libbpf 1.1's libbpf_probe_bpf_helper() reads only the
 * older kernels' "unknown func" wording, and calls the helper usable on 6.12,
 * whose verifier says "program of this type cannot use helper".)
 */
bool loader_netns_in_skb(void)
{
	static int known = -1;

	if (known < 0) {
		const struct bpf_insn call_it[] = {
			{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_netns_cookie },
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
			{ .code = BPF_JMP | BPF_EXIT },
		};
		int fd = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SKB, NULL, "GPL", call_it,
				       sizeof(call_it) / sizeof(call_it[0]), NULL);

		known = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	return known == 1;
}

enum loader_progs loader_progs_of(const struct spee_instance *rec)
{
	return rec->kind == SPEE_INST_GATEWAY ? LOADER_PROGS_GATEWAY : LOADER_PROGS_HOST;
}

bool loader_progs_has(enum loader_progs progs, enum spee_prog_id which)
{
	bool gateway = spee_where_gateway(spee_progs[which].where);

	return progs == LOADER_PROGS_ALL || gateway == (progs == LOADER_PROGS_GATEWAY);
}

int loader_load(struct loader *l, const struct loader_sizes *sz, const struct spee_map_fds *reuse,
		struct diags *d)
{
	return loader_load_mode(l, sz, reuse, LOADER_PROGS_ALL, d);
}

int loader_load_mode(struct loader *l, const struct loader_sizes *sz,
		     const struct spee_map_fds *reuse, enum loader_progs progs, struct diags *d)
{
	return loader_load_frames(l, sz, reuse, progs, LOADER_FRAMES_ALL, d);
}

bool loader_has(const struct loader *l, enum spee_prog_id which)
{
	enum spee_frames f = spee_progs[which].frames;

	return loader_progs_has(l->progs, which) &&
	       (f == SPEE_FRAMES_NONE || (l->frames & (1u << f)));
}

int loader_load_frames(struct loader *l, const struct loader_sizes *sz,
		       const struct spee_map_fds *reuse, enum loader_progs progs, unsigned frames,
		       struct diags *d)
{
	int err;

	memset(l, 0, sizeof(*l));
	spee_map_fds_init(&l->maps);
	loader_set_verbose(verbose);
	l->progs = progs;
	l->frames = frames;
	l->skel = speebpf__open();
	if (!l->skel) {
		err = -errno;
		diag_add(d, NULL, 0, 0, "cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(l->skel->obj, spee_map_names[i]);

		if (!map) {
			diag_add(d, NULL, 0, 0, "the BPF object has no map %s", spee_map_names[i]);
			err = -ENOENT;
			goto fail;
		}
		err = prepare_map(map, (enum spee_map_id)i, sz, reuse, progs, d);
		if (err)
			goto fail;
	}
	for (int p = 0; p < SPEE_PROG_COUNT; p++) {
		struct bpf_program *prog =
			bpf_object__find_program_by_name(l->skel->obj, spee_progs[p].name);

		if (prog)
			bpf_program__set_autoload(prog, loader_has(l, (enum spee_prog_id)p));
	}
	/* Egress judges the sockets of this network namespace only (CONTRACT.md section 4). */
	l->skel->rodata->spee_netns_cookie = loader_netns_cookie();
	l->skel->rodata->spee_netns_skb = loader_netns_in_skb();
	l->skel->rodata->spee_parse_copy = test_run && !loader_test_run_direct();
	err = speebpf__load(l->skel);
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot load the BPF programs: %s%s", strerror(-err),
			 reuse ? " (if maps are pinned by an older speebpf, run 'speebpf detach' "
				 "first; -v shows the kernel's verifier log)"
			       : " (-v shows the kernel's verifier log)");
		goto fail;
	}
	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		l->maps.fd[i] =
			bpf_map__fd(bpf_object__find_map_by_name(l->skel->obj, spee_map_names[i]));
	/* libbpf freed what loading took (the object's ELF, BTF, instructions): give it back. */
	malloc_trim(0);
	return 0;
fail:
	loader_close(l);
	return err;
}

struct bpf_program *loader_prog(const struct loader *l, enum spee_prog_id which)
{
	if (!l->skel || which >= SPEE_PROG_COUNT)
		return NULL;
	return bpf_object__find_program_by_name(l->skel->obj, spee_progs[which].name);
}

int loader_prog_fd(const struct loader *l, enum spee_prog_id which)
{
	struct bpf_program *prog = loader_prog(l, which);

	return prog && loader_has(l, which) ? bpf_program__fd(prog) : -1;
}

void loader_close(struct loader *l)
{
	speebpf__destroy(l->skel);
	l->skel = NULL;
	spee_map_fds_init(&l->maps);
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

int loader_prog_tag(const struct loader *l, enum spee_prog_id which, uint8_t tag[SPEE_TAG_SIZE])
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd = loader_prog_fd(l, which);

	if (fd < 0)
		return -EBADF;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	memcpy(tag, info.tag, SPEE_TAG_SIZE);
	return 0;
}
