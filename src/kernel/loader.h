/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * loader.h - the BPF object of speebpf: open the embedded skeleton, size
 * its maps for a policy, load it (pinned or not), and open the pinned maps
 * of an instance that is already running. Attaching (XDP and cgroup links)
 * is attach.c's: it takes the programs from loader_prog().
 *
 * Typical use:
 *   first apply:   loader_sizes_for(p, names, &sz);
 *                  loader_load(&l, &sz, pin_dir, &d);   maps_apply(&l.maps, ...);
 *                  then attach loader_prog(&l, ...)     (attach.c)
 *   later applies, stats, status:
 *                  loader_open_pinned(&m, pin_dir, &d); maps_apply(&m, ...);
 *                  loader_close_pinned(&m);
 *
 * Maps must be written (maps_apply) before the programs are attached: a
 * fresh spee_rt says enforce with default drop and an empty policy.
 *
 * Pinned maps live in PIN_DIR/maps/<map name> (spee_map_names). Links and
 * programs are attach.c's to pin, elsewhere under PIN_DIR.
 */
#ifndef SPEE_LOADER_H
#define SPEE_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "maps.h"
#include "names.h"
#include "policy.h"

struct speebpf; /* the skeleton, build/speebpf.skel.h */
struct bpf_program;

/* Sizes of the maps whose size depends on the policy or the host's load. */
struct loader_sizes {
	uint32_t exact; /* spee_exact max_entries */
	uint32_t prefix; /* spee_prefix max_entries */
	uint32_t flows; /* spee_flows max_entries */
	uint32_t frags; /* spee_frags max_entries */
	/* Bits 1 << SPEE_MAP_*: maps created anew (and left unpinned) even where
	 * pinned ones exist; every other map is the pinned one (src/grow.c). */
	uint32_t fresh_maps;
};

#define LOADER_EXACT_MIN 32768 /* hash, preallocated: about 96 bytes each */
#define LOADER_PREFIX_MIN 16384 /* trie, not preallocated */
#define LOADER_FLOWS_DEFAULT 65536 /* LRU, preallocated: about 110 bytes each */
#define LOADER_FRAGS_DEFAULT 8192

/*
 * Sizes for policy p (names from t, may be NULL): room for both slots and
 * for the policy to double (DNS answers grow, inventories grow), never below
 * the minimums. A pinned instance keeps the sizes it was created with
 * until a policy outgrows them (src/grow.c).
 */
void loader_sizes_for(const struct policy *p, const struct name_table *t,
		      struct loader_sizes *out);

/* The size for n entries held at once by both slots: doubled, in whole 4,096s, >= min. */
uint32_t loader_room_for(size_t n, uint32_t min);

/* The defaults (for tests and for instances loaded before any policy). */
void loader_sizes_default(struct loader_sizes *out);

/*
 * The programs, in the order of the instance record's program tags
 * (spee_instance.prog_tag, then prog_tag_more).
 */
enum loader_prog {
	LOADER_PROG_XDP, /* SEC("xdp") spee_xdp: ingress on Ethernet devices */
	LOADER_PROG_EGRESS, /* SEC("cgroup_skb/egress") */
	LOADER_PROG_CONNECT4, /* SEC("cgroup/connect4") */
	LOADER_PROG_CONNECT6, /* SEC("cgroup/connect6") */
	LOADER_PROG_XDP_L3, /* SEC("xdp") spee_xdp_l3: ingress on devices without a link header */
	LOADER_PROG_SENDMSG4, /* SEC("cgroup/sendmsg4") */
	LOADER_PROG_SENDMSG6, /* SEC("cgroup/sendmsg6") */
	LOADER_PROG_TC_EGRESS, /* SEC("tc") spee_tc_egress: packet sockets' frames, Ethernet */
	LOADER_PROG_TC_EGRESS_L3, /* SEC("tc") spee_tc_egress_l3: the same without a link header */
	LOADER_PROG_COUNT,
};

_Static_assert(LOADER_PROG_COUNT == SPEE_PROG_KINDS + SPEE_PROG_KINDS_MORE,
	       "every program has a tag in the instance record");

/* The tag the instance record holds for a program (NULL for none). */
uint8_t *loader_prog_tag_in(struct spee_instance *inst, enum loader_prog which);

struct loader {
	struct speebpf *skel;
	struct spee_map_fds maps; /* the skeleton's map fds (owned by skel) */
	bool pinned;
};

/*
 * Opens and loads the object. pin_dir NULL: nothing is pinned (tests).
 * Else the maps are pinned under pin_dir/maps/, and maps already pinned
 * there are reused (keeping their contents and sizes; sz is then ignored
 * for them), except those of sz->fresh_maps. Returns 0 or a negative
 * errno, with the reason in d.
 */
int loader_load(struct loader *l, const struct loader_sizes *sz, const char *pin_dir,
		struct diags *d);

/* The program for attach.c; valid until loader_close. */
struct bpf_program *loader_prog(const struct loader *l, enum loader_prog which);

/* The program's fd, or -1. */
int loader_prog_fd(const struct loader *l, enum loader_prog which);

/* The tag of a loaded program (what the kernel reports for it). */
int loader_prog_tag(const struct loader *l, enum loader_prog which, uint8_t tag[8]);

/* The first 8 bytes of the SHA-256 of this build's BPF object: which programs it loads. */
void loader_object_id(uint8_t out[8]);

/* Unloads what loader_load loaded (pins stay). */
void loader_close(struct loader *l);

/*
 * Opens the maps pinned under pin_dir/maps/ and checks that each is what
 * this build expects (type, key and value size). Returns 0, -ENOENT when no
 * instance is pinned there, or another negative errno; d says which map.
 */
int loader_open_pinned(struct spee_map_fds *m, const char *pin_dir, struct diags *d);

/*
 * True when the program with this id is one of the instance's: it has the
 * tag recorded for its kind, and every map of ours it uses is the one
 * pinned under that name (programs around other maps, left by a growth
 * cut short, are not).
 */
bool loader_prog_is_instances(uint32_t prog_id, const uint8_t tag[SPEE_TAG_SIZE],
			      const struct spee_map_fds *pinned);

/*
 * Which maps pinned under pin_dir/maps/ this build would make otherwise
 * (type, key or value size, creation flags): bits 1 << SPEE_MAP_*. Returns
 * 0 or a negative errno (-ENOENT: a map is missing).
 */
int loader_pinned_mismatch(const char *pin_dir, uint32_t *mask);

/* True when a map's entries are those this build keeps in map i (flags aside). */
struct bpf_map_info;
bool loader_same_entries(enum spee_map_id i, const struct bpf_map_info *info);

/*
 * True when map i pinned by an older build holds a record this build has
 * made longer at its end (the instance record): its entries carry over,
 * the new fields zero.
 */
bool loader_extends(enum spee_map_id i, const struct bpf_map_info *info);

/* What the kernel says of the map behind fd. 0 or a negative errno. */
int loader_map_info(int fd, struct bpf_map_info *info);

/* Closes the fds loader_open_pinned opened. */
void loader_close_pinned(struct spee_map_fds *m);

/* Removes the map pins of pin_dir/maps/ and that directory. */
int loader_unpin_maps(const char *pin_dir, struct diags *d);

/* libbpf's own messages are printed (to stderr) only when verbose. */
void loader_set_verbose(bool verbose);

#endif
