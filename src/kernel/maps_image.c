// SPDX-License-Identifier: GPL-2.0-only
/*
 * maps_image.c - the pure half of maps.c: rule ids -> counter slots, and a
 * compiled policy -> the entries of one policy slot. No kernel calls, so
 * tests/bpf/test_maps.c checks it without loading anything.
 */
#include "maps.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "protocols.h"
#include "runsort.h"

/* ---- step 1: counter slots ---- */

static bool meta_has_id(const struct spee_rule_meta *m, const char *id)
{
	return !strncmp(m->id, id, SPEE_RULE_ID_LEN);
}

static void meta_fill(struct spee_rule_meta *m, const struct policy_rule *r)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", r->id);
	m->proto = r->proto;
	m->dirs = r->dirs;
	m->port_lo = r->port_lo;
	m->port_hi = r->port_hi;
}

int maps_assign_slots(const struct spee_rule_meta *cur, const struct policy *p,
		      struct spee_rule_meta *next, uint16_t *slot_of_rule, bool *fresh,
		      struct diags *d)
{
	bool *taken = NULL;
	int err = 0;

	taken = calloc(SPEE_MAX_RULES, sizeof(*taken));
	if (!taken)
		return -ENOMEM;
	memcpy(next, cur, SPEE_MAX_RULES * sizeof(*next));
	memset(fresh, 0, SPEE_MAX_RULES * sizeof(*fresh));
	memset(next, 0, sizeof(*next)); /* slot 0 is "no rule" */
	taken[SPEE_RULE_NONE] = true;

	/* A rule keeps the slot that holds its id (even a freed one). */
	for (size_t r = 0; r < p->n_rules; r++) {
		slot_of_rule[r] = SPEE_RULE_NONE;
		if (!p->rules[r].dirs)
			continue;
		for (uint16_t s = 1; s < SPEE_MAX_RULES; s++) {
			if (!taken[s] && cur[s].id[0] && meta_has_id(&cur[s], p->rules[r].id)) {
				slot_of_rule[r] = s;
				taken[s] = true;
				break;
			}
		}
	}
	/* Slots in use by ids that are gone stay taken until after the switch. */
	for (uint16_t s = 1; s < SPEE_MAX_RULES; s++)
		if (cur[s].dirs)
			taken[s] = true;

	/* New ids: never-used slots first, then freed ones (their counters are zeroed). */
	for (size_t r = 0; r < p->n_rules; r++) {
		uint16_t got = SPEE_RULE_NONE;

		if (!p->rules[r].dirs || slot_of_rule[r] != SPEE_RULE_NONE)
			continue;
		for (int pass = 0; pass < 2 && got == SPEE_RULE_NONE; pass++)
			for (uint16_t s = 1; s < SPEE_MAX_RULES; s++)
				if (!taken[s] && (pass == 1 || !cur[s].id[0])) {
					got = s;
					break;
				}
		if (got == SPEE_RULE_NONE) {
			diag_add(d, NULL, 0, 0,
				 "too many rules: %u counter slots are in use and rule '%s' needs "
				 "one more; the kernel object has %d",
				 SPEE_MAX_RULES - 1, p->rules[r].id, SPEE_MAX_RULES - 1);
			err = -ENOSPC;
			goto out;
		}
		taken[got] = true;
		slot_of_rule[r] = got;
		fresh[got] = true;
	}

	for (size_t r = 0; r < p->n_rules; r++)
		if (slot_of_rule[r] != SPEE_RULE_NONE)
			meta_fill(&next[slot_of_rule[r]], &p->rules[r]);
out:
	free(taken);
	return err;
}

void maps_release_slots(struct spee_rule_meta *table, const struct policy *p,
			const uint16_t *slot_of_rule)
{
	bool *held = calloc(SPEE_MAX_RULES, sizeof(*held));

	if (!held)
		return; /* the slots stay taken; the next apply frees them */
	for (size_t r = 0; r < p->n_rules; r++)
		if (slot_of_rule[r] < SPEE_MAX_RULES)
			held[slot_of_rule[r]] = true;
	for (uint16_t s = 1; s < SPEE_MAX_RULES; s++)
		if (!held[s])
			table[s].dirs = 0; /* the id stays, so that it may return to its slot */
	free(held);
}

uint16_t maps_find_rule_slot(const struct spee_rule_meta *table, const char *id)
{
	for (uint16_t s = 1; s < SPEE_MAX_RULES; s++)
		if (table[s].dirs && meta_has_id(&table[s], id))
			return s;
	return SPEE_RULE_NONE;
}

/* ---- step 2: the image of one slot ---- */

/*
 * An exact entry while the image is built: the key is kept only as its
 * bytes read as big-endian words (memcmp's order, compared faster), so an
 * entry takes 32 bytes; at 10,000 hosts there are tens of thousands.
 */
struct seq_exact {
	uint64_t order[3];
	uint32_t seq;
	struct spee_verdict v;
};

struct seq_prefix {
	struct maps_prefix_entry e;
	size_t seq;
};

static int cmp_seq_exact(const struct seq_exact *x, const struct seq_exact *y)
{

	for (int i = 0; i < 3; i++)
		if (x->order[i] != y->order[i])
			return x->order[i] < y->order[i] ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The entries arrive in long sorted runs (a rule's peers come from the
 * policy in address order, and one rule, port and family make one run):
 * at 10,000 hosts sorting them is the larger part of building an image.
 */
RUNSORT_DEFINE(sort_exact, struct seq_exact, cmp_seq_exact)

static void set_order(struct seq_exact *s, const struct spee_rule_key *k)
{
	_Static_assert(sizeof(*k) == sizeof(s->order), "the key is three words");
	memcpy(s->order, k, sizeof(s->order));
	for (int i = 0; i < 3; i++)
		s->order[i] = be64toh(s->order[i]);
}

static void get_key(const struct seq_exact *s, struct spee_rule_key *k)
{
	uint64_t w[3];

	for (int i = 0; i < 3; i++)
		w[i] = htobe64(s->order[i]);
	memcpy(k, w, sizeof(*k));
}

static int cmp_seq_prefix(const void *a, const void *b)
{
	const struct seq_prefix *x = a, *y = b;
	int c = memcmp(&x->e.key, &y->e.key, sizeof(x->e.key));

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The addresses an entry stands for: its prefix, or its name's addresses. */
static const struct prefix *entry_addrs(const struct policy_entry *e, const struct name_table *t,
					size_t *n)
{
	const struct name_addrs *na;

	if (e->peer_kind == ENTRY_PEER_PREFIX) {
		*n = 1;
		return &e->prefix;
	}
	na = e->name ? names_find(t, e->name) : NULL;
	*n = na ? na->n_addrs : 0;
	return na ? na->addrs : NULL;
}

/* tcp and udp: ports with spee_ports elements, where a /0 rule is the port's any_rule. */
static bool entry_has_port_table(const struct policy_entry *e)
{
	return e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP;
}

static size_t entry_ports(const struct policy_entry *e)
{
	if (e->proto == SPEE_PROTO_LOCAL || e->port_hi < e->port_lo)
		return 1;
	return (size_t)e->port_hi - e->port_lo + 1;
}

/* Whether a /0 of entry e (in a part of this kind) is a port's any_rule rather than a trie entry. */
static bool any_in_port_table(const struct policy_entry *e, enum maps_part_kind kind)
{
	return kind == MAPS_PART_HOST && e->reason == SPEE_REASON_RULE && entry_has_port_table(e);
}

/* Whether a part of this kind writes entry e. */
static bool part_writes(const struct policy_entry *e, enum maps_part_kind kind)
{
	switch (kind) {
	case MAPS_PART_HOST:
		return true;
	case MAPS_PART_GATEWAY_POLICY:
		/* a host's own addresses are host mode's; the ethertypes the fleet's */
		return e->proto != SPEE_PROTO_LOCAL && e->proto != SPEE_PROTO_ETHERTYPE;
	case MAPS_PART_GATEWAY_FLEET:
		return e->proto == SPEE_PROTO_ETHERTYPE;
	}
	return false;
}

static void count_part(const struct maps_part *part, const struct name_table *t, size_t *n_exact,
		       size_t *n_prefix)
{
	const struct policy *p = part->p;

	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];
		size_t n, ports = entry_ports(e);
		const struct prefix *a;

		if (!part_writes(e, part->kind))
			continue;
		a = entry_addrs(e, t, &n);
		for (size_t k = 0; k < n; k++) {
			if (prefix_is_host(&a[k]))
				*n_exact += ports;
			else if (a[k].len > 0 || !any_in_port_table(e, part->kind))
				*n_prefix += ports;
		}
	}
}

void maps_count_parts(const struct maps_part *parts, size_t n_parts, const struct name_table *t,
		      size_t *n_exact, size_t *n_prefix)
{
	*n_exact = 0;
	*n_prefix = 0;
	for (size_t i = 0; i < n_parts; i++)
		count_part(&parts[i], t, n_exact, n_prefix);
}

void maps_count_entries(const struct policy *p, const struct name_table *t, size_t *n_exact,
			size_t *n_prefix)
{
	const struct maps_part part = { .p = p, .kind = MAPS_PART_HOST };

	maps_count_parts(&part, 1, t, n_exact, n_prefix);
}

static uint8_t spee_family_of(const struct prefix *a)
{
	return a->family == AF_INET ? SPEE_FAMILY_V4 : SPEE_FAMILY_V6;
}

/*
 * The key of one entry for one address and port. Host addresses (spee_exact)
 * and prefixes (spee_prefix) share it: spee_prefix_key is a spee_rule_key
 * behind the trie's prefix length. The address is masked to its prefix.
 */
static void fill_key(struct spee_rule_key *k, uint8_t slot, uint16_t policy,
		     const struct policy_entry *e, const struct prefix *a, uint32_t port)
{
	unsigned int len = a->len > 128 ? 128 : a->len, whole = len / 8, rest = len % 8;

	memset(k, 0, sizeof(*k));
	k->slot = slot;
	k->policy = policy;
	k->dir = e->dir;
	k->proto = e->proto;
	k->family = spee_family_of(a);
	k->port = htons((uint16_t)port);
	/* whole bytes copied, not masked one by one: most keys are host addresses */
	memcpy(k->addr, a->addr, whole);
	if (rest)
		k->addr[whole] = a->addr[whole] & (uint8_t)(0xff << (8 - rest));
}

_Static_assert(offsetof(struct spee_prefix_key, slot) == sizeof(__u32) &&
		       sizeof(struct spee_prefix_key) == sizeof(__u32) + sizeof(struct spee_rule_key),
	       "spee_prefix_key is a prefix length, then a spee_rule_key");
_Static_assert(offsetof(struct spee_prefix_key, port) - sizeof(__u32) ==
			       offsetof(struct spee_rule_key, port) &&
		       offsetof(struct spee_prefix_key, addr) - sizeof(__u32) ==
			       offsetof(struct spee_rule_key, addr),
	       "spee_prefix_key is a prefix length, then a spee_rule_key");

static void fill_prefix_key(struct spee_prefix_key *pk, uint8_t slot, uint16_t policy,
			    const struct policy_entry *e, const struct prefix *a, uint32_t port)
{
	struct spee_rule_key k;

	fill_key(&k, slot, policy, e, a, port);
	pk->prefixlen = SPEE_PREFIX_FIXED_BITS + a->len;
	memcpy(&pk->slot, &k, sizeof(k));
}

/*
 * The slot's port table (2 MiB, a few dozen entries used) as a mapping of
 * its own: its pages are zero until touched, so building an image costs the
 * pages it uses. From the heap it was a 2 MiB memset on every apply, and
 * pages that malloc_trim had returned were faulted in again.
 */
static int ports_alloc(struct maps_image *img)
{
	void *mem = mmap(NULL, MAPS_SLOT_PORTS * sizeof(*img->ports), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		return -ENOMEM;
	img->ports = mem;
	img->ports_mapped = true;
	return 0;
}

static bool port_info_unset(const struct spee_port_info *pi)
{
	uint64_t v;

	_Static_assert(sizeof(*pi) == sizeof(v), "a port info compares as one word");
	memcpy(&v, pi, sizeof(v));
	return !v;
}

/* Notes port index idx in img->port_used the first time it is about to be set. */
static int port_touch(struct maps_image *img, uint32_t idx, size_t *cap)
{
	if (!port_info_unset(&img->ports[idx]))
		return 0;
	/* any_rule is SPEE_RULE_NONE (0) and lookup empty: this entry is about to change it */
	if (img->n_port_used == *cap) {
		size_t n = *cap ? *cap * 2 : 64;
		uint32_t *v = reallocarray(img->port_used, n, sizeof(*v));

		if (!v)
			return -ENOMEM;
		img->port_used = v;
		*cap = n;
	}
	img->port_used[img->n_port_used++] = idx;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int maps_check_datapath(const struct policy *p, struct diags *d)
{
	int err = 0;

	for (size_t r = 0; r < p->n_rules; r++) {
		const struct policy_rule *rule = &p->rules[r];
		char match[48];

		if (!rule->dirs ||
		    (rule->proto != SPEE_PROTO_LOCAL && rule->proto != SPEE_PROTO_ETHERTYPE))
			continue;
		/* the config refuses both; a policy built otherwise must not reach the maps */
		proto_match_text(rule->proto, rule->port_lo, rule->port_hi, match, sizeof(match));
		diag_add(d, NULL, 0, 0,
			 "rule %s (%s) cannot be enforced: IP protocol %u keys the kernel's own "
			 "entries (the host's addresses, the ethertypes) and is never a rule's",
			 rule->id, match, rule->proto);
		err = -EOPNOTSUPP;
	}
	return err;
}

/*
 * The entries of one part into ex/px (room counted by count_part), and the
 * port table's bits for host mode's tcp and udp.
 */
static int build_part(const struct maps_part *part, const struct name_table *t,
		      const uint16_t *slot_of_rule, uint8_t slot, struct maps_image *img,
		      struct seq_exact *ex, size_t *nex, struct seq_prefix *px, size_t *npx,
		      size_t *seq, size_t *cap_used, struct diags *d)
{
	const struct policy *p = part->p;
	int err = 0;

	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];
		struct spee_verdict v = { .rule = SPEE_RULE_NONE, .reason = e->reason };
		bool local = e->proto == SPEE_PROTO_LOCAL;
		/* a non-IP ethertype: one exact key, port the ethertype, no port-table bits */
		bool ethertype = e->proto == SPEE_PROTO_ETHERTYPE;
		/*
		 * Host mode's tcp and udp have port-table bits and their ANY is
		 * the port's any_rule; icmp, icmpv6, `ip` and every gateway
		 * entry have none: ANY is a /0 in the trie.
		 */
		bool ported = part->kind == MAPS_PART_HOST && entry_has_port_table(e);
		uint32_t l4 = e->proto == IPPROTO_UDP ? SPEE_L4_UDP : SPEE_L4_TCP;
		const struct prefix *a;
		size_t n;

		if (!part_writes(e, part->kind))
			continue;
		if (e->dir >= SPEE_DIR_MAX || e->reason >= SPEE_REASON_MAX ||
		    (!entry_has_port_table(e) && !local && !ethertype && e->port_lo != e->port_hi)) {
			diag_add(d, NULL, 0, 0, "policy entry %zu: direction, protocol or reason "
				 "out of range", i);
			return -EINVAL;
		}
		if (e->reason == SPEE_REASON_RULE) {
			if (e->rule >= p->n_rules || !slot_of_rule ||
			    slot_of_rule[e->rule] == SPEE_RULE_NONE) {
				diag_add(d, NULL, 0, 0,
					 "policy entry %zu names a rule with no counter slot", i);
				return -EINVAL;
			}
			v.rule = slot_of_rule[e->rule];
		}
		a = entry_addrs(e, t, &n);
		for (size_t k = 0; k < n; k++) {
			uint8_t fam = spee_family_of(&a[k]);
			bool host = prefix_is_host(&a[k]);

			if ((local || ethertype) && !host) {
				diag_add(d, NULL, 0, 0,
					 "policy entry %zu: the host's own addresses and ethertypes "
					 "must be host addresses, not prefixes", i);
				return -EINVAL;
			}
			for (uint32_t port = local ? 0 : e->port_lo;
			     port <= (local ? 0u : (uint32_t)e->port_hi); port++) {
				uint32_t pidx = spee_port_index(0, e->dir, l4, port);
				struct spee_port_info *pi = &img->ports[pidx];

				if (host) {
					struct seq_exact *s = &ex[(*nex)++];
					struct spee_rule_key key;

					fill_key(&key, slot, part->policy, e, &a[k], port);
					s->seq = (uint32_t)(*seq)++;
					s->v = v;
					set_order(s, &key);
					if (ported) {
						err = port_touch(img, pidx, cap_used);
						if (err)
							return err;
						pi->lookup[fam] |= SPEE_LOOKUP_EXACT;
					}
				} else if (ported && a[k].len == 0 && e->reason == SPEE_REASON_RULE) {
					/* /0: answered from the port table; the first rule wins */
					err = port_touch(img, pidx, cap_used);
					if (err)
						return err;
					if (pi->any_rule[fam] == SPEE_RULE_NONE)
						pi->any_rule[fam] = v.rule;
				} else if (ported && a[k].len == 0 &&
					   pi->any_rule[fam] != SPEE_RULE_NONE) {
					/*
					 * A /0 with another reason (DNS to "any") after
					 * a /0 rule: the earlier rule wins the tie. Put
					 * in the trie it would win over any_rule.
					 */
					continue;
				} else {
					struct seq_prefix *s = &px[(*npx)++];

					s->seq = (*seq)++;
					fill_prefix_key(&s->e.key, slot, part->policy, e, &a[k], port);
					s->e.v = v;
					if (ported) {
						err = port_touch(img, pidx, cap_used);
						if (err)
							return err;
						pi->lookup[fam] |= SPEE_LOOKUP_PREFIX;
					}
				}
			}
		}
	}
	return 0;
}

int maps_build_parts(const struct maps_part *parts, size_t n_parts, const struct name_table *t,
		     const uint16_t *slot_of_rule, uint8_t slot, struct maps_image *img,
		     struct diags *d)
{
	struct seq_exact *ex = NULL;
	struct seq_prefix *px = NULL;
	size_t cap_ex, cap_px, nex = 0, npx = 0, seq = 0, cap_used = 0;
	int err = 0;

	memset(img, 0, sizeof(*img));
	img->slot = slot;
	for (size_t i = 0; i < n_parts && !err; i++)
		err = maps_check_datapath(parts[i].p, d);
	if (err)
		return err;
	maps_count_parts(parts, n_parts, t, &cap_ex, &cap_px);
	err = ports_alloc(img);
	/* Each entry is written whole below (its key zeroed first): no zeroing here. */
	ex = malloc((cap_ex ? cap_ex : 1) * sizeof(*ex));
	px = calloc(cap_px ? cap_px : 1, sizeof(*px));
	if (err || !ex || !px) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_parts && !err; i++)
		err = build_part(&parts[i], t, slot_of_rule, slot, img, ex, &nex, px, &npx, &seq,
				 &cap_used, d);
	if (err)
		goto out;

	if (img->n_port_used) /* none when only icmp and ip rules: and no array then */
		qsort(img->port_used, img->n_port_used, sizeof(*img->port_used), cmp_u32);
	/* Colliding keys: keep the earliest entry (the policy's order decided). */
	err = sort_exact(ex, nex);
	if (err)
		goto out;
	qsort(px, npx, sizeof(*px), cmp_seq_prefix);
	img->exact = malloc((nex ? nex : 1) * sizeof(*img->exact));
	img->prefix = calloc(npx ? npx : 1, sizeof(*img->prefix));
	if (!img->exact || !img->prefix) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nex; i++)
		if (!i || memcmp(ex[i].order, ex[i - 1].order, sizeof(ex[i].order))) {
			get_key(&ex[i], &img->exact[img->n_exact].key);
			img->exact[img->n_exact++].v = ex[i].v;
		}
	for (size_t i = 0; i < npx; i++)
		if (!i || memcmp(&px[i].e.key, &px[i - 1].e.key, sizeof(px[i].e.key)))
			img->prefix[img->n_prefix++] = px[i].e;
out:
	free(ex);
	free(px);
	if (err)
		maps_image_free(img);
	return err;
}

int maps_build_image(const struct policy *p, const struct name_table *t,
		     const uint16_t *slot_of_rule, uint8_t slot, struct maps_image *img,
		     struct diags *d)
{
	const struct maps_part part = { .p = p, .kind = MAPS_PART_HOST };

	return maps_build_parts(&part, 1, t, slot_of_rule, slot, img, d);
}

void maps_image_free(struct maps_image *img)
{
	free(img->exact);
	free(img->prefix);
	if (img->ports_mapped)
		munmap(img->ports, MAPS_SLOT_PORTS * sizeof(*img->ports));
	else
		free(img->ports);
	free(img->port_used);
	memset(img, 0, sizeof(*img));
}
