/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * loader.h - the BPF object of speebpf, embedded as a skeleton: size its
 * maps for a policy, load it (its maps new, or some of them the maps of a
 * running instance, by fd), and what the object itself says: each map's
 * shape, each program's attach type, this build's identity. Pinning is the
 * instance's (instance.h, apply.h); attaching is links.h's.
 *
 * Typical use:
 *   tests, benchmarks:  loader_sizes_for(p, names, &sz);
 *                       loader_load(&l, &sz, NULL, &d);  maps_apply(&l.maps, ...);
 *   a running instance: loader_load(&l, &sz, &inst->maps, &d) loads the
 *                       programs around the instance's own maps.
 *
 * Maps must be written (maps_apply) before the programs are attached: a
 * fresh spee_rt says enforce with default drop and an empty policy.
 */
#ifndef SPEE_LOADER_H
#define SPEE_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/bpf.h>

#include "diag.h"
#include "maps.h"
#include "names.h"
#include "objects.h"
#include "policy.h"

struct speebpf; /* the skeleton, build/speebpf.skel.h */
struct bpf_program;
struct bpf_map_info;

/*
 * max_entries of the maps whose size depends on the policy or the host's
 * load (SPEE_MAPF_SIZED); 0 leaves the object's own size.
 */
struct loader_sizes {
	uint32_t max_entries[SPEE_MAP_COUNT];
};

#define LOADER_EXACT_MIN 32768 /* hash, preallocated: about 96 bytes each */
#define LOADER_PREFIX_MIN 16384 /* trie, not preallocated */
#define LOADER_FLOWS_DEFAULT 65536 /* LRU, preallocated: about 110 bytes each */
#define LOADER_FRAGS_DEFAULT 8192
/* Gateway maps: sized to the inventory in gateway mode (host mode: LOADER_UNUSED_ENTRIES). */
#define LOADER_GW_HOSTS_MIN 1024
#define LOADER_GW_NAMES_MIN 512
#define LOADER_GW_CTR_MIN 4096
#define LOADER_GW_FLOWS_DEFAULT 65536
#define LOADER_GW_SYNS_DEFAULT 16384
/* A sized map that the loaded mode never uses (SPEE_MAPF_HOST, _GATEWAY); an LRU gets one a CPU. */
#define LOADER_UNUSED_ENTRIES 1

/*
 * Sizes for policy p (names from t, may be NULL): room for both slots and
 * for the policy to grow by a quarter (DNS answers grow, inventories grow),
 * never below the minimums. A pinned instance keeps the sizes it was created
 * with until a policy outgrows them (grow.h).
 */
void loader_sizes_for(const struct policy *p, const struct name_table *t,
		      struct loader_sizes *out);

struct gateway_policy;

/* loader_sizes_for gateway mode: the policy maps and the gateway's, sized to the inventory. */
void loader_sizes_for_gateway(const struct gateway_policy *g, const struct name_table *t,
			      struct loader_sizes *out);

/* The size for n entries held at once by both slots: 1.25 n, in whole 4,096s, >= min. */
uint32_t loader_room_for(size_t n, uint32_t min);

/* The defaults (for tests and for instances loaded before any policy). */
void loader_sizes_default(struct loader_sizes *out);

enum loader_progs {
	LOADER_PROGS_HOST, /* host mode's: XDP, tc egress, cgroup */
	LOADER_PROGS_GATEWAY, /* gateway mode's: spee_gw_* */
	LOADER_PROGS_ALL, /* loader_load: tests and benchmarks of either mode */
};

/*
 * Which interface programs a load includes, by the frames they parse: a
 * variant costs a verifier pass (spee_xdp_l3 and spee_tc_egress_l3 ~25 ms
 * on 6.18), and only devices without a link header need the IP ones.
 */
#define LOADER_FRAMES_ETHERNET (1u << SPEE_FRAMES_ETHERNET)
#define LOADER_FRAMES_IP (1u << SPEE_FRAMES_IP)
#define LOADER_FRAMES_ALL (LOADER_FRAMES_ETHERNET | LOADER_FRAMES_IP)

struct loader {
	struct speebpf *skel;
	struct spee_map_fds maps; /* the skeleton's map fds (owned by skel) */
	enum loader_progs progs; /* the programs loaded: the mode's... */
	unsigned frames; /* ...and of its interface programs, those for these frames */
};

/*
 * The cookie of the caller's network namespace (SO_NETNS_COOKIE, Linux
 * 5.14), 0 when the kernel cannot tell: the programs loaded here judge
 * egress for the sockets of that namespace only, and every socket with 0.
 */
uint64_t loader_netns_cookie(void);

/* Whether cgroup_skb programs may call bpf_get_netns_cookie (probed once). */
bool loader_netns_in_skb(void);

/*
 * Opens and loads the object, every program of it (egress scoped to the
 * caller's network namespace: loader_netns_cookie()). An instance loads
 * only its mode's (loader_load_mode). Map i is reuse->fd[i] where reuse is given and
 * that fd is open (keeping its contents and size; sz is then ignored for
 * it), else a new map sized by sz. Nothing is pinned. Returns 0 or a
 * negative errno, with the reason in d.
 */
int loader_load(struct loader *l, const struct loader_sizes *sz, const struct spee_map_fds *reuse,
		struct diags *d);

/*
 * loader_load with only progs' programs: a mode's only (each costs a
 * verifier pass, so host mode never pays for the gateway's), or all. The
 * others have no fd (loader_prog_fd: negative).
 */
int loader_load_mode(struct loader *l, const struct loader_sizes *sz,
		     const struct spee_map_fds *reuse, enum loader_progs progs, struct diags *d);

/*
 * loader_load_mode with the interface programs for frames only
 * (LOADER_FRAMES_*: what the interfaces to attach need, links.h); the
 * cgroup programs of host mode are always loaded.
 */
int loader_load_frames(struct loader *l, const struct loader_sizes *sz,
		       const struct spee_map_fds *reuse, enum loader_progs progs, unsigned frames,
		       struct diags *d);

/* True when l loaded program which. */
bool loader_has(const struct loader *l, enum spee_prog_id which);

/* The programs of an instance's mode, by its record (spee_instance.kind). */
enum loader_progs loader_progs_of(const struct spee_instance *rec);

/* True when progs includes program which. */
bool loader_progs_has(enum loader_progs progs, enum spee_prog_id which);

/* The program for attaching; valid until loader_close. */
struct bpf_program *loader_prog(const struct loader *l, enum spee_prog_id which);

/* The program's fd, or -1. */
int loader_prog_fd(const struct loader *l, enum spee_prog_id which);

/* The tag of a loaded program (what the kernel reports for it); -EBADF for one not loaded. */
int loader_prog_tag(const struct loader *l, enum spee_prog_id which, uint8_t tag[SPEE_TAG_SIZE]);

/* The first 8 bytes of the SHA-256 of this build's BPF object: which programs it loads. */
void loader_object_id(uint8_t out[8]);

/* Unloads what loader_load loaded (pins stay). */
void loader_close(struct loader *l);

/* The shape of map i in this build's object, read from the skeleton. */
struct loader_shape {
	uint32_t type, key_size, value_size;
	uint32_t flags; /* of LOADER_SHAPE_FLAGS only */
	uint32_t max_entries; /* the object's; the loader sets it for SPEE_MAPF_SIZED maps */
};

/* The creation flags that change how user space may use a map. */
#define LOADER_SHAPE_FLAGS (BPF_F_NO_PREALLOC | BPF_F_MMAPABLE)

const struct loader_shape *loader_shape(enum spee_map_id i);

/*
 * True when a map is what this build makes as map i: type, key, value,
 * shape flags, and the number of entries where the loader does not size it.
 */
bool loader_shape_matches(enum spee_map_id i, const struct bpf_map_info *info);

/* True when a map keeps the entries this build keeps in map i (flags and size aside). */
bool loader_same_entries(enum spee_map_id i, const struct bpf_map_info *info);

/*
 * True when map i (SPEE_MAPF_EXTENDS) was pinned by an older build with a
 * shorter value, which this build's carries over, the new fields zero.
 */
bool loader_extends(enum spee_map_id i, const struct bpf_map_info *info);

/* The attach type of a program (BPF_XDP, BPF_CGROUP_INET_EGRESS...), from its section. */
uint32_t loader_attach_type(enum spee_prog_id which);

/* What the kernel says of the map behind fd. 0 or a negative errno. */
int loader_map_info(int fd, struct bpf_map_info *info);

/* libbpf's own messages are printed (to stderr) only when verbose. */
void loader_set_verbose(bool verbose);

/*
 * For tests and benchmarks: the programs loaded from now on will be run by
 * BPF_PROG_TEST_RUN. Where this kernel's test runs give cgroup_skb programs
 * no direct packet access (6.12 and older), the egress program then parses
 * a copy of the packet, a path attached programs never take and an agent's
 * load does not verify.
 */
void loader_set_test_run(bool on);

/* Whether this kernel's BPF_PROG_TEST_RUN gives cgroup_skb programs direct packet access (probed once). */
bool loader_test_run_direct(void);

#endif
