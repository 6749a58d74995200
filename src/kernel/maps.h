/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * maps.h - a compiled policy -> the contents of the kernel's policy maps.
 * maps.c is the only writer of spee_exact, spee_prefix, spee_ports,
 * spee_rt and spee_rules. It works on map fds, so the same code updates a
 * freshly loaded object and a pinned instance (loader.h opens both).
 *
 * An apply goes in four steps, each usable on its own (tests do):
 *  1. maps_assign_slots: rule ids -> stable counter slots 1..SPEE_MAX_RULES-1;
 *  2. maps_build_image: (policy, name table, slots) -> one slot's entries;
 *  3. maps_write_slot: write the image into the inactive slot, writing
 *     only what differs from what that slot holds now;
 *  4. maps_flip: make that slot the active one, in one map update.
 * maps_apply does all four and frees the counter slots of vanished rules.
 */
#ifndef SPEE_MAPS_H
#define SPEE_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spee_abi.h"
#include "diag.h"
#include "names.h"
#include "objects.h"
#include "policy.h"

/* Port infos of one slot: [dir][l4][port], i.e. spee_port_index() minus the slot's base. */
#define MAPS_SLOT_PORTS (SPEE_DIR_MAX * SPEE_L4_MAX * SPEE_PORTS)

struct maps_exact_entry {
	struct spee_rule_key key;
	struct spee_verdict v;
};

struct maps_prefix_entry {
	struct spee_prefix_key key;
	struct spee_verdict v;
};

/* Everything one policy slot holds, as it should be in the maps. */
struct maps_image {
	uint8_t slot;
	struct maps_exact_entry *exact; /* sorted by key, unique */
	size_t n_exact;
	struct maps_prefix_entry *prefix; /* sorted by key, unique */
	size_t n_prefix;
	struct spee_port_info *ports; /* [MAPS_SLOT_PORTS] */
	/*
	 * The indices of ports[] that are not zero, ascending, where known
	 * (maps_build_image); NULL: ports[] is scanned whole. An image holds a
	 * few dozen ports of 262,144: writing and caching go by this list.
	 */
	uint32_t *port_used;
	size_t n_port_used;
	bool ports_mapped; /* ports[] is an anonymous mapping (maps_image_free) */
};

/*
 * Step 1. cur: what spee_rules holds now ([SPEE_MAX_RULES]). Fills next
 * (the table to write before the switch), slot_of_rule ([p->n_rules]; 0 for
 * rules not enforced on this host) and fresh ([SPEE_MAX_RULES]; true where
 * a slot is newly given to a different id and its counters must be zeroed).
 * A rule keeps the slot that holds its id. Slots of ids that are not in the
 * policy stay taken in next (the active policy may still count on them);
 * maps_release_slots frees them after the switch. Returns 0, or -ENOSPC
 * (with a message in d) when there are more rules than slots.
 */
int maps_assign_slots(const struct spee_rule_meta *cur, const struct policy *p,
		      struct spee_rule_meta *next, uint16_t *slot_of_rule, bool *fresh,
		      struct diags *d);

/* After the switch: marks free (dirs = 0) every slot no rule of p holds. */
void maps_release_slots(struct spee_rule_meta *table, const struct policy *p,
			const uint16_t *slot_of_rule);

/*
 * Step 2. Host prefixes (and resolved addresses of names) become spee_exact
 * entries, shorter prefixes spee_prefix entries, /0 rules the port's
 * any_rule; port ranges are expanded port by port. icmp, icmpv6 and ip
 * rules (port: the type, or 0) have no spee_ports elements: their /0 is a
 * spee_prefix entry like any other prefix. Where entries collide on
 * one key the earlier entry of the policy wins. Returns 0, -ENOMEM, or
 * -EINVAL (message in d) for an entry the maps cannot express.
 */
/*
 * Whether the datapath can enforce every rule of p enforced on this host:
 * tcp, udp, icmp, icmpv6 and every other IP protocol but 0 and 255, which
 * key the kernel's own entries (SPEE_PROTO_LOCAL, SPEE_PROTO_ETHERTYPE;
 * the config refuses both). Such a rule is refused by name rather than
 * widened on its way to the maps. Returns 0, or -EOPNOTSUPP with one
 * message per such rule in d.
 */
int maps_check_datapath(const struct policy *p, struct diags *d);

int maps_build_image(const struct policy *p, const struct name_table *t,
		     const uint16_t *slot_of_rule, uint8_t slot, struct maps_image *img,
		     struct diags *d);

/*
 * An image from several policies (gateway mode: one part per policy id).
 * A part's kind says which of its entries it writes and how:
 *   MAPS_PART_HOST            every entry, as maps_build_image (policy 0);
 *   MAPS_PART_GATEWAY_POLICY  all but the host's own addresses and the
 *                             ethertypes, keyed with .policy; no spee_ports
 *                             bits, tcp/udp ANY a /0 spee_prefix entry;
 *   MAPS_PART_GATEWAY_FLEET   the ethertypes only, with the part's policy.
 */
enum maps_part_kind {
	MAPS_PART_HOST,
	MAPS_PART_GATEWAY_POLICY,
	MAPS_PART_GATEWAY_FLEET,
};

struct maps_part {
	const struct policy *p;
	uint16_t policy; /* spee_rule_key.policy of its entries */
	enum maps_part_kind kind;
};

/* maps_build_image over parts; slot_of_rule indexes the rules every part's policy shares. */
int maps_build_parts(const struct maps_part *parts, size_t n_parts, const struct name_table *t,
		     const uint16_t *slot_of_rule, uint8_t slot, struct maps_image *img,
		     struct diags *d);

/* Upper bounds of the entries one slot of these parts needs. */
void maps_count_parts(const struct maps_part *parts, size_t n_parts, const struct name_table *t,
		      size_t *n_exact, size_t *n_prefix);

void maps_image_free(struct maps_image *img);

/* Upper bounds of the entries one slot of p needs (for sizing the maps). */
void maps_count_entries(const struct policy *p, const struct name_table *t, size_t *n_exact,
			size_t *n_prefix);

struct maps_write_stats {
	size_t added; /* entries added or changed (spee_exact, spee_prefix) */
	size_t removed; /* stale entries deleted */
	size_t ports_changed; /* spee_ports elements rewritten */
	/* Entries the map must hold at once, the other slot's and this image's
	 * (set also on -E2BIG, for both maps: what growing them needs). */
	size_t exact_needed, prefix_needed;
	/* Gateway mode (maps_gateway.h), set likewise: spee_gw_hosts, spee_gw_ctr. */
	size_t gw_hosts_needed, gw_ctr_needed, gw_names_needed;
};

/*
 * Step 3. Writes img into its slot (which must not be the active one) and
 * that slot's settings. Returns 0; -E2BIG (message in d) before writing
 * anything when a map cannot hold the image; -EBUSY when img's slot is the
 * active one; or the errno of a failed map operation. While it writes, the
 * slot's generation in spee_rt is MAPS_GENERATION_WRITING.
 */
int maps_write_slot(const struct spee_map_fds *m, const struct maps_image *img,
		    const struct spee_slot_cfg *cfg, struct maps_write_stats *st, struct diags *d);

/* Step 4. Makes slot the active one. */
int maps_flip(const struct spee_map_fds *m, uint8_t slot, struct diags *d);

/* The active slot and the whole runtime record. */
int maps_read_runtime(const struct spee_map_fds *m, struct spee_runtime *rt, struct diags *d);

/*
 * What a process that applies again and again (the agent) keeps between
 * applies: the image it wrote into each slot and the generation it wrote
 * it with. maps_apply then diffs the new image against the one in memory
 * instead of reading the slot back, which at 10,000 hosts costs tens of
 * milliseconds (the port table alone is 131,072 elements a slot); with the
 * cache a one-host change writes a handful of entries and reads nothing
 * but spee_rt and spee_rules.
 *
 * A cached slot is used only while spee_rt still gives it the cached
 * generation. Every write of a slot changes that (to
 * MAPS_GENERATION_WRITING before the first entry is written, to the new
 * generation after the last) and maps.c is the only writer, so a slot that
 * another process wrote, or whose write failed halfway, is never taken for
 * the cached image; it is read back as without a cache, and cached again.
 * Zero-initialise; free with maps_cache_free.
 */
struct maps_cache_slot {
	bool valid;
	uint32_t generation;
	struct maps_exact_entry *exact; /* sorted by key, unique */
	size_t n_exact;
	struct maps_prefix_entry *prefix;
	size_t n_prefix;
	uint32_t *port_idx; /* the non-zero port infos: index within the slot, ascending */
	struct spee_port_info *port_val;
	size_t n_ports;
};

struct maps_cache {
	struct maps_cache_slot slot[SPEE_POLICY_SLOTS];
};

/* The generation a slot carries while maps_write_slot writes it; never a policy's. */
#define MAPS_GENERATION_WRITING UINT32_MAX

/*
 * Records both slots as empty at generation 0: for maps the caller has just
 * created (loader_load of an unpinned object, or one whose pins it made).
 */
void maps_cache_assume_empty(struct maps_cache *c);

void maps_cache_free(struct maps_cache *c);

struct maps_apply_opts {
	bool audit; /* force audit mode (apply --audit) */
	struct maps_cache *cache; /* NULL: read the slot back; else used and updated */
};

struct maps_apply_result {
	uint8_t slot; /* now active */
	uint32_t generation;
	struct maps_write_stats stats;
};

/*
 * Applies p (with the addresses of its names from t, may be NULL) to the
 * maps: steps 1-4, the counter zeroing of reused slots, and the release of
 * vanished rules' slots after the switch. On error the active slot is
 * untouched.
 */
int maps_apply(const struct spee_map_fds *m, const struct policy *p, const struct name_table *t,
	       const struct maps_apply_opts *opts, struct maps_apply_result *res, struct diags *d);

/*
 * What maps_apply_source applies: host mode's policy (maps_apply), or
 * gateway mode's (maps_gateway.h), which adds maps of its own around the
 * same four steps.
 */
struct maps_source {
	/* Counter slots (its rules), mode, default actions, scope, timeouts, events. */
	const struct policy *rules;
	const struct name_table *names; /* may be NULL */
	/* Step 2 for this source. */
	int (*build)(const struct maps_source *src, const uint16_t *slot_of_rule, uint8_t slot,
		     struct maps_image *img, struct diags *d);
	/*
	 * May be NULL. check: before anything is written (-E2BIG with the
	 * needs in st); before_flip: once the slot's entries are written;
	 * after_flip: once the slot is active.
	 */
	int (*check)(const struct maps_source *src, const struct spee_map_fds *m, uint8_t slot,
		     struct maps_write_stats *st, struct diags *d);
	int (*before_flip)(const struct maps_source *src, const struct spee_map_fds *m,
			   const uint16_t *slot_of_rule, const bool *fresh, uint8_t slot,
			   struct diags *d);
	int (*after_flip)(const struct maps_source *src, const struct spee_map_fds *m,
			  const uint16_t *slot_of_rule, uint8_t slot, struct diags *d);
	const void *arg;
};

/* maps_apply for any source. */
int maps_apply_source(const struct spee_map_fds *m, const struct maps_source *src,
		      const struct maps_apply_opts *opts, struct maps_apply_result *res,
		      struct diags *d);

/*
 * Copies every entry of a hash or trie into another map of the same key and
 * value sizes (growing a map: src/grow.c). Returns 0 or a negative errno.
 */
int maps_copy_entries(int from_fd, int to_fd, size_t key_size, size_t value_size);

/* What slot holds now, as an image sorted like maps_build_image's (drift checks). */
int maps_read_slot(const struct spee_map_fds *m, uint8_t slot, struct maps_image *img,
		   struct diags *d);

/*
 * The host's own addresses the active slot holds (its local entries of
 * direction dir, as the apply that wrote it found them on the machine:
 * egress, the host itself; ingress, its scope): *out is malloc'd.
 * status checks for drift against a policy compiled with these, wherever
 * it runs. 0 or a negative errno.
 */
int maps_read_local_addrs(const struct spee_map_fds *m, uint8_t dir, struct prefix **out,
			  size_t *n, struct diags *d);

/* spee_rules as it is now ([SPEE_MAX_RULES]). */
int maps_read_rules(const struct spee_map_fds *m, struct spee_rule_meta *table, struct diags *d);

/* The counter slot of rule id, or 0 when no slot holds it (dirs != 0). */
uint16_t maps_find_rule_slot(const struct spee_rule_meta *table, const char *id);

/* The instance record (status): read and write. */
int maps_read_instance(const struct spee_map_fds *m, struct spee_instance *inst, struct diags *d);
int maps_write_instance(const struct spee_map_fds *m, const struct spee_instance *inst,
			struct diags *d);

#endif
