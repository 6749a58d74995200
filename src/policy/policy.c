// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy compiler. Three passes:
 *   1. rules: the matrix rows that are not disabled, the site rules, the
 *      failsafe rules, the rows of the baselines the config names, in that
 *      (row) order, with ports and narrowing applied and the directions this
 *      host enforces them in;
 *   2. candidates: every rule's peers expanded to prefixes and names, plus
 *      the host's implicit entries (its resolvers, its own addresses);
 *   3. ties: entries with the same direction, protocol and peer whose ports
 *      overlap are resolved in favour of the earlier rule (ranges are split),
 *      so that no two final entries share a kernel key; what a rule lost is
 *      reported as a note.
 */
#include "policy.h"

#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "baseline.h"
#include "labels.h"
#include "matrix.h"
#include "policy_work.h"
#include "protocols.h"
#include "runsort.h"

#define DNS_PORT 53

/* A growable array of entries. */
struct entry_vec {
	struct policy_entry *v;
	size_t n;
	size_t cap;
};

static int entry_push(struct entry_vec *ev, const struct policy_entry *e)
{
	if (ev->n == ev->cap) {
		size_t cap = ev->cap ? ev->cap * 2 : 64;
		struct policy_entry *v = realloc(ev->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ev->v = v;
		ev->cap = cap;
	}
	ev->v[ev->n++] = *e;
	return 0;
}

/* ---- pass 1: rules --------------------------------------------------- */

/*
 * A term of a built-in row (the matrix, a baseline): a role, every host,
 * ANY, a built-in network, an address or CIDR, or else a DNS name.
 */
static struct peer term_to_peer(const struct config *cfg, const char *term)
{
	struct peer pr = { .kind = PEER_ANY, .host = CFG_NO_HOST };
	unsigned role = role_parse(term);
	size_t net;

	if (role) {
		pr.kind = PEER_ROLE;
		pr.roles = role;
	} else if (!strcmp(term, BASELINE_EVERY_HOST)) {
		pr.kind = PEER_ROLE;
		pr.roles = ROLE_ALL;
	} else if (!strcmp(term, "ANY")) {
		pr.kind = PEER_ANY;
	} else if (cfg_network_index(cfg, term, &net) && net < CONFIG_BUILTIN_NETWORKS) {
		pr.kind = PEER_NETWORK;
		pr.network = net;
	} else if (prefix_parse(term, &pr.prefix) == PREFIX_OK) {
		pr.kind = PEER_PREFIX;
	} else {
		pr.kind = PEER_NAME;
		pr.name = (char *)term; /* borrowed from the built-in table; never freed */
	}
	return pr;
}

static void builtin_sides(const struct config *cfg, const char *const *const terms[2],
			  size_t max, struct rule_sides *s)
{
	struct peer_list *lists[2] = { &s->from, &s->to };

	for (int side = 0; side < 2; side++) {
		size_t n = 0;

		for (; n < max && terms[side][n]; n++)
			s->terms[side][n] = term_to_peer(cfg, terms[side][n]);
		lists[side]->v = s->terms[side];
		lists[side]->n = n;
	}
}

static void matrix_sides(const struct config *cfg, size_t row, struct rule_sides *s)
{
	const struct matrix_rule *m = &matrix_rules[row];
	const struct cfg_matrix_override *o = &cfg->matrix[row];
	const char *const *const terms[2] = { m->from, m->to };

	builtin_sides(cfg, terms, MATRIX_SIDE_MAX, s);
	if (o->narrowed && matrix_side_is_any(m, true))
		s->from = o->narrow;
	if (o->narrowed && matrix_side_is_any(m, false))
		s->to = o->narrow;
}

static bool term_names_host(const struct config *cfg, const struct peer *pr, size_t h)
{
	const struct peer_list *members;

	switch (pr->kind) {
	case PEER_ROLE:
		return (pr->roles & cfg->hosts[h].roles) != 0;
	case PEER_HOST:
	case PEER_PREFIX:
		return pr->host == h;
	case PEER_NETWORK:
		/* Its members are addresses, CIDRs, names, hosts and any: no recursion. */
		members = &cfg->networks[pr->network].members;
		for (size_t i = 0; i < members->n; i++)
			if (members->v[i].kind != PEER_NETWORK && term_names_host(cfg, &members->v[i], h))
				return true;
		return false;
	case PEER_ANY:
	case PEER_NAME:
		return false;
	}
	return false;
}

bool policy_side_names_host(const struct config *cfg, const struct peer_list *side, size_t h)
{
	for (size_t i = 0; i < side->n; i++)
		if (term_names_host(cfg, &side->v[i], h))
			return true;
	return false;
}

static void peer_text(const struct config *cfg, const struct peer *pr, char *buf, size_t len)
{
	switch (pr->kind) {
	case PEER_ROLE:
		if (pr->roles == ROLE_ALL)
			snprintf(buf, len, "every host");
		else
			roles_format(pr->roles, buf, len);
		break;
	case PEER_ANY:
		snprintf(buf, len, "ANY");
		break;
	case PEER_NETWORK:
		snprintf(buf, len, "%s", cfg->networks[pr->network].name);
		break;
	case PEER_PREFIX:
		prefix_format(&pr->prefix, buf, len);
		break;
	case PEER_NAME:
		snprintf(buf, len, "%s", pr->name);
		break;
	case PEER_HOST:
		snprintf(buf, len, "%s", cfg->hosts[pr->host].name);
		break;
	}
}

static char *side_text(const struct config *cfg, const struct peer_list *side)
{
	size_t cap = 64, off = 0;
	char *s = malloc(cap), item[ADDR_TEXT_LEN + 256];

	if (!s)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < side->n; i++) {
		size_t need;

		peer_text(cfg, &side->v[i], item, sizeof(item));
		need = off + strlen(item) + 3;
		if (need > cap) {
			char *t;

			while (cap < need)
				cap *= 2;
			t = realloc(s, cap);
			if (!t) {
				free(s);
				return NULL;
			}
			s = t;
		}
		off += (size_t)sprintf(s + off, "%s%s", i ? ", " : "", item);
	}
	return s;
}

static int add_rule(struct policy *p, struct rule_work *w, const char *id, const char *description,
		    enum rule_origin origin, int matrix_index, uint8_t proto, uint16_t lo,
		    uint16_t hi)
{
	struct policy_rule *r = &p->rules[p->n_rules];

	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->description = description;
	r->origin = origin;
	r->matrix_index = matrix_index;
	r->proto = proto;
	r->port_lo = lo;
	r->port_hi = hi;
	r->optional = matrix_index >= 0 && matrix_rules[matrix_index].optional;
	w->lost_to = -1;
	if (policy_side_names_host(p->cfg, &w->sides.to, p->host_index)) {
		r->dirs |= 1u << SPEE_DIR_INGRESS;
		w->peers[SPEE_DIR_INGRESS] = &w->sides.from;
		r->peers_text[SPEE_DIR_INGRESS] = side_text(p->cfg, &w->sides.from);
		if (!r->peers_text[SPEE_DIR_INGRESS])
			return -ENOMEM;
	}
	if (policy_side_names_host(p->cfg, &w->sides.from, p->host_index)) {
		r->dirs |= 1u << SPEE_DIR_EGRESS;
		w->peers[SPEE_DIR_EGRESS] = &w->sides.to;
		r->peers_text[SPEE_DIR_EGRESS] = side_text(p->cfg, &w->sides.to);
		if (!r->peers_text[SPEE_DIR_EGRESS])
			return -ENOMEM;
	}
	p->n_rules++;
	return 0;
}

static int build_rules(struct policy *p, struct rule_work *work)
{
	const struct config *cfg = p->cfg;
	int err;

	for (size_t i = 0; i < matrix_rule_count; i++) {
		const struct matrix_rule *m = &matrix_rules[i];
		uint16_t port = cfg->matrix[i].port ? cfg->matrix[i].port : m->port;
		struct rule_work *w = &work[p->n_rules];

		if (cfg->matrix[i].disabled)
			continue;
		matrix_sides(cfg, i, &w->sides);
		err = add_rule(p, w, m->id, m->description, RULE_MATRIX, (int)i, IPPROTO_TCP, port,
			       port);
		if (err)
			return err;
	}
	for (int pass = 0; pass < 2; pass++) {
		const struct cfg_rule *v = pass ? cfg->failsafe : cfg->rules;
		size_t n = pass ? cfg->n_failsafe : cfg->n_rules;

		for (size_t i = 0; i < n; i++) {
			struct rule_work *w = &work[p->n_rules];

			w->sides.from = v[i].from;
			w->sides.to = v[i].to;
			err = add_rule(p, w, v[i].id, v[i].description,
				       pass ? RULE_FAILSAFE : RULE_SITE, -1, v[i].proto,
				       v[i].port_lo, v[i].port_hi);
			if (err)
				return err;
		}
	}
	for (size_t i = 0; i < baseline_rule_count; i++) {
		const struct baseline_rule *b = &baseline_rules[i];
		const char *const *const terms[2] = { b->from, b->to };
		struct rule_work *w = &work[p->n_rules];
		uint16_t port = b->port;

		if (!(cfg->baselines & b->set))
			continue;
		if (b->proto == IPPROTO_TCP && port == BASELINE_PORT_METRICS)
			port = cfg->metrics_port;
		builtin_sides(cfg, terms, BASELINE_SIDE_MAX, &w->sides);
		err = add_rule(p, w, b->id, b->description, RULE_BASELINE, -1, b->proto, port,
			       port);
		if (err)
			return err;
	}
	return 0;
}

/* ---- pass 2: candidates ---------------------------------------------- */

/*
 * One prefix entry. w, the rule being expanded (NULL for implicit entries),
 * learns what its protocol's family left out and whether it is open to ANY.
 */
static int push_prefix(struct entry_vec *ev, const struct policy_entry *base,
		       const struct prefix *pfx, struct rule_work *w)
{
	struct policy_entry e = *base;
	int family = proto_family(base->proto);

	/* icmp is IPv4's and icmpv6 IPv6's: a peer of the other family matches nothing. */
	if (family && pfx->family != family) {
		if (w)
			w->other_family[base->dir]++;
		return 0;
	}
	if (w && pfx->len == 0)
		w->any[base->dir] = true;
	e.peer_kind = ENTRY_PEER_PREFIX;
	e.prefix = *pfx;
	e.name = NULL;
	return entry_push(ev, &e);
}

static int push_any(struct entry_vec *ev, const struct policy_entry *base, struct rule_work *w)
{
	struct prefix v4 = prefix_any(AF_INET), v6 = prefix_any(AF_INET6);
	int err = push_prefix(ev, base, &v4, w);

	return err ? err : push_prefix(ev, base, &v6, w);
}

static int push_host(struct entry_vec *ev, const struct policy_entry *base,
		     const struct cfg_host *h, struct rule_work *w)
{
	int err = 0;

	for (size_t a = 0; a < h->n_addrs && !err; a++)
		err = push_prefix(ev, base, &h->addrs[a], w);
	return err;
}

/* Names are stored once in policy.names; entries point at those copies. */
static const char *intern_name(struct policy *p, const char *name)
{
	char **v;

	for (size_t i = 0; i < p->n_names; i++)
		if (!strcmp(p->names[i], name))
			return p->names[i];
	v = realloc(p->names, (p->n_names + 1) * sizeof(*v));
	if (!v)
		return NULL;
	p->names = v;
	v[p->n_names] = strdup(name);
	if (!v[p->n_names])
		return NULL;
	return v[p->n_names++];
}

static int push_name(struct policy *p, struct entry_vec *ev, const struct policy_entry *base,
		     const char *name)
{
	struct policy_entry e = *base;

	e.peer_kind = ENTRY_PEER_NAME;
	memset(&e.prefix, 0, sizeof(e.prefix));
	e.name = intern_name(p, name);
	if (!e.name)
		return -ENOMEM;
	return entry_push(ev, &e);
}

static int expand_peer(struct policy *p, struct entry_vec *ev, const struct policy_entry *base,
		       const struct peer *pr, struct rule_work *w)
{
	const struct config *cfg = p->cfg;
	int err = 0;

	switch (pr->kind) {
	case PEER_ROLE:
		for (size_t h = 0; h < cfg->n_hosts && !err; h++)
			if (cfg->hosts[h].roles & pr->roles)
				err = push_host(ev, base, &cfg->hosts[h], w);
		return err;
	case PEER_ANY:
		return push_any(ev, base, w);
	case PEER_NETWORK: {
		const struct cfg_network *net = &cfg->networks[pr->network];

		for (size_t i = 0; i < net->members.n && !err; i++)
			err = expand_peer(p, ev, base, &net->members.v[i], w);
		return err;
	}
	case PEER_PREFIX:
		return push_prefix(ev, base, &pr->prefix, w);
	case PEER_NAME:
		return push_name(p, ev, base, pr->name);
	case PEER_HOST:
		return push_host(ev, base, &cfg->hosts[pr->host], w);
	}
	return -EINVAL;
}

static int rule_candidates(struct policy *p, struct rule_work *work, struct entry_vec *ev)
{
	for (size_t r = 0; r < p->n_rules; r++) {
		const struct policy_rule *rule = &p->rules[r];

		for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++) {
			struct policy_entry base = {
				.dir = dir,
				.proto = rule->proto,
				.port_lo = rule->port_lo,
				.port_hi = rule->port_hi,
				.reason = SPEE_REASON_RULE,
				.rule = (uint16_t)r,
			};
			size_t before = ev->n;
			int err;

			if (!(rule->dirs & (1u << dir)))
				continue;
			for (size_t i = 0; i < work[r].peers[dir]->n; i++) {
				err = expand_peer(p, ev, &base, &work[r].peers[dir]->v[i],
						  &work[r]);
				if (err)
					return err;
			}
			work[r].candidates[dir] = ev->n - before;
		}
	}
	return 0;
}

/* The host's resolvers (DNS over udp and tcp) and its own addresses. */
static int implicit_candidates(struct policy *p, const struct policy_env *env,
			       struct entry_vec *ev)
{
	const struct prefix *res = p->cfg->resolvers_from_file ? p->cfg->resolvers : env->resolvers;
	size_t n_res = p->cfg->resolvers_from_file ? p->cfg->n_resolvers : env->n_resolvers;
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP };
	int err;

	for (size_t i = 0; i < n_res; i++) {
		for (size_t k = 0; k < sizeof(protos); k++) {
			struct policy_entry base = {
				.dir = SPEE_DIR_EGRESS,
				.proto = protos[k],
				.port_lo = DNS_PORT,
				.port_hi = DNS_PORT,
				.reason = SPEE_REASON_DNS,
			};

			err = push_prefix(ev, &base, &res[i], NULL);
			if (err)
				return err;
		}
	}
	for (size_t i = 0; i < p->host->n_addrs; i++) {
		struct policy_entry base = {
			.dir = SPEE_DIR_EGRESS,
			.proto = SPEE_PROTO_LOCAL,
			.reason = SPEE_REASON_LOOPBACK,
		};

		/*
		 * An inventory address that is not on the machine (a VIP another
		 * machine holds, a stale inventory) is not the host itself: what
		 * goes there leaves the machine and is judged like any peer.
		 */
		if (env && !policy_env_has_local(env, &p->host->addrs[i]))
			continue;
		err = push_prefix(ev, &base, &p->host->addrs[i], NULL);
		if (err)
			return err;
	}
	/*
	 * Ingress scope: the host's inventory addresses and whatever else the
	 * machine takes packets for as its own. Ingress judges only packets to
	 * these (and broadcast, multicast); the rest is transit.
	 */
	for (size_t i = 0; i < p->host->n_addrs + (env && env->receive_known ? env->n_receive_addrs : 0);
	     i++) {
		const struct prefix *a = i < p->host->n_addrs ? &p->host->addrs[i] :
							       &env->receive_addrs[i - p->host->n_addrs];
		struct policy_entry base = {
			.dir = SPEE_DIR_INGRESS,
			.proto = SPEE_PROTO_LOCAL,
			.reason = SPEE_REASON_LOOPBACK,
		};
		bool seen = !prefix_is_host(a);

		for (size_t k = 0; k < i && !seen; k++)
			seen = !prefix_cmp(k < p->host->n_addrs ? &p->host->addrs[k] :
								 &env->receive_addrs[k - p->host->n_addrs],
					   a);
		if (seen)
			continue;
		err = push_prefix(ev, &base, a, NULL);
		if (err)
			return err;
		p->host_scope = true;
	}
	for (size_t i = 0; i < p->cfg->n_ethertypes; i++) {
		struct prefix none = { .family = AF_INET, .len = 32 };

		for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++) {
			struct policy_entry base = {
				.dir = dir,
				.proto = SPEE_PROTO_ETHERTYPE,
				.port_lo = p->cfg->ethertypes[i],
				.port_hi = p->cfg->ethertypes[i],
				.reason = SPEE_REASON_NON_IP,
			};

			err = push_prefix(ev, &base, &none, NULL);
			if (err)
				return err;
		}
	}
	return 0;
}

bool policy_env_has_local(const struct policy_env *env, const struct prefix *addr)
{
	if (!env->local_known)
		return true;
	for (size_t i = 0; i < env->n_local_addrs; i++)
		if (env->local_addrs[i].family == addr->family &&
		    !memcmp(env->local_addrs[i].addr, addr->addr, addr->family == AF_INET ? 4 : 16))
			return true;
	return false;
}

/* ---- pass 3: ties ---------------------------------------------------- */

/* Rules come first in row order; implicit entries after every rule. */
static unsigned entry_order(const struct policy *p, const struct policy_entry *e)
{
	return e->reason == SPEE_REASON_RULE ? e->rule : (unsigned)p->n_rules + e->reason;
}

static int peer_cmp(const struct policy_entry *a, const struct policy_entry *b)
{
	if (a->peer_kind != b->peer_kind)
		return a->peer_kind < b->peer_kind ? -1 : 1;
	if (a->peer_kind == ENTRY_PEER_NAME)
		return strcmp(a->name, b->name);
	return prefix_cmp(&a->prefix, &b->prefix);
}

/*
 * For the ties, entries are sorted by (dir, proto, peer, rule order, port),
 * so that each (dir, proto, peer) group comes together in rule order (the
 * final order, by (dir, rule order, proto, port, peer), is made from this
 * one: sort_final_from_ties). Peers order as peer_cmp orders them. Every
 * field fits in 32 bytes, written so that comparing the bytes in order (as
 * four big-endian words) gives that order, and entries are sorted by this
 * key: comparators calling entry_order and prefix_cmp made sorting most of
 * the time a large inventory took to compile. A DNS name goes in as its
 * rank among the policy's names in strcmp order.
 */
struct sort_item {
	uint64_t key[4];
	size_t idx;
};

static int cmp_sort_item(const struct sort_item *a, const struct sort_item *b)
{
	for (int i = 0; i < 4; i++)
		if (a->key[i] != b->key[i])
			return a->key[i] < b->key[i] ? -1 : 1;
	return 0;
}

RUNSORT_DEFINE(sort_items, struct sort_item, cmp_sort_item)

/* Appends len bytes of v, most significant first. */
static void put_be(uint8_t **at, uint64_t v, int len)
{
	for (int i = len - 1; i >= 0; i--)
		*(*at)++ = (uint8_t)(v >> (8 * i));
}

/* The strcmp rank of an interned name (policy names are few). */
static uint32_t name_rank(const struct policy *p, const char *name)
{
	uint32_t rank = 0;

	for (size_t i = 0; i < p->n_names; i++)
		rank += strcmp(p->names[i], name) < 0;
	return rank;
}

/* peer_cmp's order: prefixes (family, address bytes, length) before names (strcmp). */
static void put_peer(uint8_t **at, const struct policy *p, const struct policy_entry *e)
{
	const struct prefix *pf = &e->prefix;

	put_be(at, e->peer_kind, 1);
	if (e->peer_kind == ENTRY_PEER_NAME) {
		put_be(at, name_rank(p, e->name), 4);
		memset(*at, 0, 14);
		*at += 14;
		return;
	}
	put_be(at, pf->family, 1);
	memcpy(*at, pf->addr, sizeof(pf->addr));
	*at += sizeof(pf->addr);
	put_be(at, pf->len, 1);
}

static void sort_item_key(const struct policy *p, const struct policy_entry *e,
			  struct sort_item *it)
{
	uint8_t buf[sizeof(it->key)] = { 0 }, *at = buf;

	_Static_assert(1 + 1 + 19 + 4 + 2 <= sizeof(buf), "the key fits");
	put_be(&at, e->dir, 1);
	put_be(&at, e->proto, 1);
	put_peer(&at, p, e);
	put_be(&at, entry_order(p, e), 4);
	put_be(&at, e->port_lo, 2);
	for (int i = 0; i < 4; i++) {
		memcpy(&it->key[i], buf + 8 * i, 8);
		it->key[i] = be64toh(it->key[i]);
	}
}

/* Sorts ev in the ties order. Returns 0 or -ENOMEM. */
static int sort_ties(const struct policy *p, struct entry_vec *ev)
{
	struct policy_entry *sorted;
	struct sort_item *items;

	items = malloc((ev->n ? ev->n : 1) * sizeof(*items));
	sorted = malloc((ev->n ? ev->n : 1) * sizeof(*sorted));
	if (!items || !sorted) {
		free(items);
		free(sorted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ev->n; i++) {
		sort_item_key(p, &ev->v[i], &items[i]);
		items[i].idx = i;
	}
	/* few runs (the candidates come rule by rule, peers ascending): merged in a few passes */
	if (sort_items(items, ev->n)) {
		free(items);
		free(sorted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ev->n; i++)
		sorted[i] = ev->v[items[i].idx];
	free(items);
	free(ev->v);
	ev->v = sorted;
	ev->cap = ev->n ? ev->n : 1;
	return 0;
}

/*
 * The final order, (dir, rule order, proto, port_lo, peer), from the ties
 * order without comparing peers again: resolve_ties emits each (dir, proto,
 * peer) group whole, groups in ascending peer order, so among the entries
 * of one (dir, rule order, proto, port_lo) prefix the peers already ascend,
 * and placing the entries stably into one bucket per prefix, buckets in
 * prefix order, gives the final order. Prefixes are few (a rule's ports and
 * directions): found through a small hash table, one pass each way.
 */
struct prefix_bucket {
	uint64_t prefix;
	uint32_t id; /* the bucket's number in bucket_of[], its order of appearance */
	size_t count;
	size_t next; /* once the buckets are in prefix order: the bucket's next place */
};

static uint64_t final_prefix(const struct policy *p, const struct policy_entry *e)
{
	return (uint64_t)e->dir << 56 | (uint64_t)entry_order(p, e) << 24 |
	       (uint64_t)e->proto << 16 | e->port_lo;
}

static int cmp_bucket(const void *a, const void *b)
{
	uint64_t x = ((const struct prefix_bucket *)a)->prefix;
	uint64_t y = ((const struct prefix_bucket *)b)->prefix;

	return x < y ? -1 : x > y;
}

/* The hash slot of prefix in a table of cap (a power of two) slots: its own, or the free one. */
static size_t bucket_slot(const uint32_t *slot, size_t cap, const struct prefix_bucket *b,
			  uint64_t prefix)
{
	size_t h = (size_t)((prefix * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);

	while (slot[h] && b[slot[h] - 1].prefix != prefix)
		h = (h + 1) & (cap - 1);
	return h;
}

/* slot (bucket + 1, 0 free) rebuilt at twice the size for n buckets and one more. */
static int grow_slots(uint32_t **slot, size_t *cap, const struct prefix_bucket *b, size_t n)
{
	size_t want = *cap ? *cap * 2 : 128;
	uint32_t *v = calloc(want, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++)
		v[bucket_slot(v, want, b, b[k].prefix)] = (uint32_t)k + 1;
	free(*slot);
	*slot = v;
	*cap = want;
	return 0;
}

static int sort_final_from_ties(const struct policy *p, struct entry_vec *ev)
{
	size_t cap = 0, n_b = 0, b_cap = 0, at = 0;
	uint32_t *slot = NULL, *rank = NULL;
	uint32_t *bucket_of = malloc((ev->n ? ev->n : 1) * sizeof(*bucket_of));
	struct policy_entry *sorted = malloc((ev->n ? ev->n : 1) * sizeof(*sorted));
	struct prefix_bucket *b = NULL;
	int err = bucket_of && sorted ? 0 : -ENOMEM;

	for (size_t i = 0; i < ev->n && !err; i++) {
		uint64_t prefix = final_prefix(p, &ev->v[i]);
		size_t h;

		if (2 * (n_b + 1) > cap)
			err = grow_slots(&slot, &cap, b, n_b);
		if (!err && n_b == b_cap) {
			struct prefix_bucket *grown = reallocarray(b, b_cap ? b_cap * 2 : 64, sizeof(*b));

			if (grown) {
				b = grown;
				b_cap = b_cap ? b_cap * 2 : 64;
			} else {
				err = -ENOMEM;
			}
		}
		if (err)
			break;
		h = bucket_slot(slot, cap, b, prefix);
		if (!slot[h]) {
			b[n_b] = (struct prefix_bucket){ .prefix = prefix, .id = (uint32_t)n_b };
			slot[h] = (uint32_t)++n_b;
		}
		bucket_of[i] = slot[h] - 1;
		b[slot[h] - 1].count++;
	}
	if (!err) {
		rank = malloc((n_b ? n_b : 1) * sizeof(*rank));
		if (!rank)
			err = -ENOMEM;
	}
	if (err)
		goto out;
	qsort(b, n_b, sizeof(*b), cmp_bucket);
	for (size_t k = 0; k < n_b; k++) {
		rank[b[k].id] = (uint32_t)k;
		b[k].next = at;
		at += b[k].count;
	}
	for (size_t i = 0; i < ev->n; i++)
		sorted[b[rank[bucket_of[i]]].next++] = ev->v[i];
	free(ev->v);
	ev->v = sorted;
	ev->cap = ev->n ? ev->n : 1;
	sorted = NULL;
out:
	free(slot);
	free(b);
	free(bucket_of);
	free(sorted);
	free(rank);
	return err;
}

/* Port intervals already taken within one (dir, proto, peer) group, with their owner. */
struct taken {
	uint16_t lo, hi;
	const struct policy_entry *owner;
};

static void note_loss(struct rule_work *work, const struct policy_entry *loser,
		      const struct policy_entry *winner)
{
	struct rule_work *w;

	if (loser->reason != SPEE_REASON_RULE || winner->reason != SPEE_REASON_RULE ||
	    loser->rule == winner->rule)
		return;
	w = &work[loser->rule];
	if (w->lost_to == -1)
		w->lost_to = winner->rule;
	else if (w->lost_to != winner->rule)
		w->lost_to = -2;
}

/*
 * Emits the parts of e's port range that no earlier entry of its group holds,
 * and records them as taken. `taken` stays sorted by lo and disjoint.
 */
static int resolve_entry(struct rule_work *work, struct entry_vec *out, struct taken **taken,
			 size_t *n_taken, size_t *cap_taken, const struct policy_entry *e)
{
	struct taken local[16], *pieces = local;
	size_t n_pieces = 0;
	uint32_t cursor = e->port_lo;
	int err = 0;

	/* Each taken interval can split the range once more. */
	if (*n_taken + 1 > sizeof(local) / sizeof(local[0])) {
		pieces = malloc((*n_taken + 1) * sizeof(*pieces));
		if (!pieces)
			return -ENOMEM;
	}

	for (size_t i = 0; i < *n_taken && cursor <= e->port_hi; i++) {
		const struct taken *t = &(*taken)[i];

		if (t->hi < cursor)
			continue;
		if (t->lo > e->port_hi)
			break;
		if (t->lo > cursor)
			pieces[n_pieces++] = (struct taken){ (uint16_t)cursor, (uint16_t)(t->lo - 1), e };
		if (!(t->owner->reason == SPEE_REASON_RULE && e->reason == SPEE_REASON_RULE &&
		      t->owner->rule == e->rule))
			note_loss(work, e, t->owner);
		cursor = (uint32_t)t->hi + 1;
	}
	if (cursor <= e->port_hi)
		pieces[n_pieces++] = (struct taken){ (uint16_t)cursor, e->port_hi, e };
	for (size_t k = 0; k < n_pieces && !err; k++) {
		struct policy_entry piece = *e;
		size_t at = 0;

		piece.port_lo = pieces[k].lo;
		piece.port_hi = pieces[k].hi;
		err = entry_push(out, &piece);
		if (err)
			break;
		if (e->reason == SPEE_REASON_RULE)
			work[e->rule].kept[e->dir]++;
		if (*n_taken == *cap_taken) {
			size_t cap = *cap_taken ? *cap_taken * 2 : 8;
			struct taken *v = realloc(*taken, cap * sizeof(*v));

			if (!v) {
				err = -ENOMEM;
				break;
			}
			*taken = v;
			*cap_taken = cap;
		}
		while (at < *n_taken && (*taken)[at].lo < pieces[k].lo)
			at++;
		memmove(&(*taken)[at + 1], &(*taken)[at], (*n_taken - at) * sizeof(**taken));
		(*taken)[at] = pieces[k];
		(*n_taken)++;
	}
	if (pieces != local)
		free(pieces);
	return err;
}

static int resolve_ties(struct policy *p, struct rule_work *work, struct entry_vec *cand,
			struct entry_vec *out)
{
	struct taken *taken = NULL;
	size_t n_taken = 0, cap_taken = 0;
	int err = 0;

	err = sort_ties(p, cand);
	for (size_t i = 0; i < cand->n && !err; i++) {
		const struct policy_entry *e = &cand->v[i];

		if (i == 0 || e->dir != e[-1].dir || e->proto != e[-1].proto || peer_cmp(e, &e[-1]))
			n_taken = 0;
		err = resolve_entry(work, out, &taken, &n_taken, &cap_taken, e);
	}
	free(taken);
	if (!err)
		err = sort_final_from_ties(p, out);
	return err;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- the compiler ---------------------------------------------------- */

int policy_compile(const struct config *cfg, const char *host_name, const struct policy_env *env,
		   struct policy **out, struct diags *d)
{
	static const struct policy_env no_env;
	size_t max_rules = matrix_rule_count + cfg->n_rules + cfg->n_failsafe + baseline_rule_count;
	struct entry_vec cand = { 0 }, final = { 0 };
	struct rule_work *work = NULL;
	struct policy *p;
	int err;

	*out = NULL;
	if (!env)
		env = &no_env;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = cfg;
	p->host = config_find_host(cfg, host_name);
	if (!p->host) {
		diag_add(d, cfg->path, 0, 0, "host '%s' is not in the inventory", host_name);
		err = -ENOENT;
		goto out;
	}
	p->host_index = (size_t)(p->host - cfg->hosts);
	p->roles = p->host->roles;
	p->mode = cfg->mode;
	memcpy(p->default_action, cfg->default_action, sizeof(p->default_action));
	p->rules = calloc(max_rules ? max_rules : 1, sizeof(*p->rules));
	work = calloc(max_rules ? max_rules : 1, sizeof(*work));
	if (!p->rules || !work) {
		err = -ENOMEM;
		goto out;
	}
	if (max_rules >= SPEE_MAX_RULES) {
		diag_add(d, cfg->path, 0, 0, "%zu rules is more than the %d the kernel counts",
			 max_rules, SPEE_MAX_RULES - 1);
		err = -E2BIG;
		goto out;
	}
	err = build_rules(p, work);
	if (!err)
		err = rule_candidates(p, work, &cand);
	if (!err)
		err = implicit_candidates(p, env, &cand);
	if (!err)
		err = resolve_ties(p, work, &cand, &final);
	if (err)
		goto out;
	p->entries = final.v;
	p->n_entries = final.n;
	final.v = NULL;
	err = policy_rule_notes(p, work);
	if (!err)
		err = policy_host_warnings(p,
					   cfg->resolvers_from_file ? cfg->resolvers : env->resolvers,
					   cfg->resolvers_from_file ? cfg->n_resolvers : env->n_resolvers);
	if (!err && p->n_names)
		qsort(p->names, p->n_names, sizeof(*p->names), cmp_names);
out:
	if (err == -ENOMEM)
		diag_add(d, NULL, 0, 0, "out of memory compiling the policy");
	free(cand.v);
	free(final.v);
	free(work);
	if (err) {
		policy_free(p);
		return err;
	}
	*out = p;
	return 0;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_rules; i++)
		for (int d = 0; d < SPEE_DIR_MAX; d++)
			free(p->rules[i].peers_text[d]);
	policy_notes_free(p->notes, p->n_notes);
	for (size_t i = 0; i < p->n_names; i++)
		free(p->names[i]);
	free(p->rules);
	free(p->entries);
	free(p->names);
	free(p);
}

int policy_find_rule(const struct policy *p, const char *id)
{
	for (size_t i = 0; i < p->n_rules; i++)
		if (!strcmp(p->rules[i].id, id))
			return (int)i;
	return -1;
}
