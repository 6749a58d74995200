// SPDX-License-Identifier: GPL-2.0-only
/* plan.c - the difference of two sides and the connections it cuts (plan.h). */
#include "plan.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "explain.h"

/* ---- sides ---- */

int plan_side_add(struct plan_side *s, const struct plan_entry *e)
{
	if (s->n_entries == s->cap_entries) {
		size_t cap = s->cap_entries ? 2 * s->cap_entries : 64;
		struct plan_entry *v = realloc(s->entries, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->entries = v;
		s->cap_entries = cap;
	}
	s->entries[s->n_entries++] = *e;
	return 0;
}

/* The group an entry belongs to: rule id, reason, direction, protocol. */
static int cmp_group(const struct plan_entry *a, const struct plan_entry *b)
{
	int c = strncmp(a->rule, b->rule, SPEE_RULE_ID_LEN);

	if (c)
		return c;
	if (a->reason != b->reason)
		return a->reason < b->reason ? -1 : 1;
	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return 0;
}

static int cmp_entry(const void *x, const void *y)
{
	const struct plan_entry *a = x, *b = y;
	int c = cmp_group(a, b);

	if (c)
		return c;
	c = prefix_cmp(&a->peer, &b->peer);
	if (c)
		return c;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	return a->port_hi < b->port_hi ? -1 : a->port_hi > b->port_hi;
}

/* Explain's view of the side: one policy entry per plan entry, in the same order. */
static int build_model(struct plan_side *s)
{
	struct policy *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->entries = calloc(s->n_entries ? s->n_entries : 1, sizeof(*m->entries));
	if (!m->entries) {
		free(m);
		return -ENOMEM;
	}
	m->mode = s->mode;
	for (int d = 0; d < SPEE_DIR_MAX; d++)
		m->default_action[d] = s->default_action[d];
	for (size_t i = 0; i < s->n_entries; i++) {
		const struct plan_entry *e = &s->entries[i];

		/*
		 * Every key of a side is unique (a port run of one peer), so no two
		 * entries of the same length match one connection: explain's tie to
		 * the earlier rule never arises, and the rule index is not needed
		 * (the entry that matched names it).
		 */
		m->entries[i] = (struct policy_entry){
			.dir = e->dir,
			.proto = e->proto,
			.port_lo = e->port_lo,
			.port_hi = e->port_hi,
			.peer_kind = ENTRY_PEER_PREFIX,
			.prefix = e->peer,
			.reason = e->reason,
		};
	}
	m->n_entries = s->n_entries;
	policy_free(s->model);
	s->model = m;
	return 0;
}

int plan_side_finish(struct plan_side *s)
{
	size_t out = 0;

	if (s->n_entries)
		qsort(s->entries, s->n_entries, sizeof(*s->entries), cmp_entry);
	for (size_t i = 0; i < s->n_entries; i++) {
		struct plan_entry *prev = out ? &s->entries[out - 1] : NULL;
		const struct plan_entry *e = &s->entries[i];

		if (prev && !cmp_group(prev, e) && !prefix_cmp(&prev->peer, &e->peer) &&
		    (uint32_t)e->port_lo <= (uint32_t)prev->port_hi + 1) {
			if (e->port_hi > prev->port_hi)
				prev->port_hi = e->port_hi;
			continue;
		}
		s->entries[out++] = *e;
	}
	s->n_entries = out;
	return build_model(s);
}

void plan_side_free(struct plan_side *s)
{
	free(s->entries);
	names_free(&s->names);
	policy_free(s->model);
	memset(s, 0, sizeof(*s));
}

/* ---- sets of ports and peers ---- */

static int ports_add(struct plan_ports *p, uint16_t lo, uint16_t hi)
{
	struct plan_range *v = realloc(p->v, (p->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	p->v = v;
	p->v[p->n++] = (struct plan_range){ lo, hi };
	return 0;
}

static int cmp_range(const void *x, const void *y)
{
	const struct plan_range *a = x, *b = y;

	return a->lo != b->lo ? (a->lo < b->lo ? -1 : 1) : (a->hi > b->hi) - (a->hi < b->hi);
}

/* Sorts and merges overlapping and adjacent ranges. */
static void ports_normalize(struct plan_ports *p)
{
	size_t out = 0;

	if (!p->n)
		return;
	qsort(p->v, p->n, sizeof(*p->v), cmp_range);
	for (size_t i = 0; i < p->n; i++) {
		if (out && (uint32_t)p->v[i].lo <= (uint32_t)p->v[out - 1].hi + 1) {
			if (p->v[i].hi > p->v[out - 1].hi)
				p->v[out - 1].hi = p->v[i].hi;
			continue;
		}
		p->v[out++] = p->v[i];
	}
	p->n = out;
}

/* out = a minus b (both normalized). */
static int ports_minus(const struct plan_ports *a, const struct plan_ports *b,
		       struct plan_ports *out)
{
	size_t j = 0;
	int err = 0;

	for (size_t i = 0; i < a->n && !err; i++) {
		uint32_t lo = a->v[i].lo, hi = a->v[i].hi;

		while (j < b->n && b->v[j].hi < lo)
			j++;
		for (size_t k = j; k < b->n && b->v[k].lo <= hi && lo <= hi; k++) {
			if (b->v[k].lo > lo)
				err = err ? err : ports_add(out, (uint16_t)lo, (uint16_t)(b->v[k].lo - 1));
			lo = (uint32_t)b->v[k].hi + 1;
		}
		if (!err && lo <= hi)
			err = ports_add(out, (uint16_t)lo, (uint16_t)hi);
	}
	return err;
}

static int peers_add(struct plan_peers *p, const struct prefix *a)
{
	struct prefix *v = realloc(p->v, (p->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	p->v = v;
	p->v[p->n++] = *a;
	return 0;
}

static int cmp_prefix(const void *a, const void *b)
{
	return prefix_cmp(a, b);
}

static void peers_normalize(struct plan_peers *p)
{
	size_t out = 0;

	if (!p->n)
		return;
	qsort(p->v, p->n, sizeof(*p->v), cmp_prefix);
	for (size_t i = 0; i < p->n; i++)
		if (!out || prefix_cmp(&p->v[out - 1], &p->v[i]))
			p->v[out++] = p->v[i];
	p->n = out;
}

/* out = a minus b (both normalized). */
static int peers_minus(const struct plan_peers *a, const struct plan_peers *b,
		       struct plan_peers *out)
{
	size_t j = 0;
	int err = 0;

	for (size_t i = 0; i < a->n && !err; i++) {
		while (j < b->n && prefix_cmp(&b->v[j], &a->v[i]) < 0)
			j++;
		if (j >= b->n || prefix_cmp(&b->v[j], &a->v[i]))
			err = peers_add(out, &a->v[i]);
	}
	return err;
}

static bool ports_equal(const struct plan_ports *a, const struct plan_ports *b)
{
	return a->n == b->n && (!a->n || !memcmp(a->v, b->v, a->n * sizeof(*a->v)));
}

static bool peers_equal(const struct plan_peers *a, const struct plan_peers *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (prefix_cmp(&a->v[i], &b->v[i]))
			return false;
	return true;
}

/* ---- the difference ---- */

const char *plan_change_label(enum plan_change c)
{
	static const char *const labels[] = { "same", "added", "removed", "changed" };

	return (unsigned)c < sizeof(labels) / sizeof(labels[0]) ? labels[c] : "?";
}

/* The end of the group that starts at entries[i]. */
static size_t group_end(const struct plan_side *s, size_t i)
{
	size_t j = i + 1;

	while (j < s->n_entries && !cmp_group(&s->entries[i], &s->entries[j]))
		j++;
	return j;
}

/* Fills ports and peers of one side of a group from entries [i, end). */
static int group_sets(const struct plan_side *s, size_t i, size_t end, struct plan_ports *ports,
		      struct plan_peers *peers)
{
	int err = 0;

	for (size_t k = i; k < end && !err; k++) {
		err = ports_add(ports, s->entries[k].port_lo, s->entries[k].port_hi);
		if (!err)
			err = peers_add(peers, &s->entries[k].peer);
	}
	ports_normalize(ports);
	peers_normalize(peers);
	return err;
}

static void group_free(struct plan_group *g)
{
	free(g->ports_before.v);
	free(g->ports_after.v);
	free(g->ports_added.v);
	free(g->ports_removed.v);
	free(g->peers_before.v);
	free(g->peers_after.v);
	free(g->peers_added.v);
	free(g->peers_removed.v);
}

/* The same peer and port runs, entry for entry. */
static bool same_entries(const struct plan_side *a, size_t ai, size_t ae, const struct plan_side *b,
			 size_t bi, size_t be)
{
	if (ae - ai != be - bi)
		return false;
	for (; ai < ae; ai++, bi++)
		if (prefix_cmp(&a->entries[ai].peer, &b->entries[bi].peer) ||
		    a->entries[ai].port_lo != b->entries[bi].port_lo ||
		    a->entries[ai].port_hi != b->entries[bi].port_hi)
			return false;
	return true;
}

/* Compares one group: before's entries [bi, be), after's [ai, ae) (either may be empty). */
static int compare_group(const struct plan_side *before, size_t bi, size_t be,
			 const struct plan_side *after, size_t ai, size_t ae, struct plan_diff *out)
{
	const struct plan_entry *first = bi < be ? &before->entries[bi] : &after->entries[ai];
	struct plan_group g = { 0 }, *v;
	int err;

	memcpy(g.rule, first->rule, sizeof(g.rule));
	g.reason = first->reason;
	g.dir = first->dir;
	g.proto = first->proto;
	err = group_sets(before, bi, be, &g.ports_before, &g.peers_before);
	if (!err)
		err = group_sets(after, ai, ae, &g.ports_after, &g.peers_after);
	if (!err)
		err = ports_minus(&g.ports_after, &g.ports_before, &g.ports_added);
	if (!err)
		err = ports_minus(&g.ports_before, &g.ports_after, &g.ports_removed);
	if (!err)
		err = peers_minus(&g.peers_after, &g.peers_before, &g.peers_added);
	if (!err)
		err = peers_minus(&g.peers_before, &g.peers_after, &g.peers_removed);
	if (err)
		goto fail;
	if (bi == be)
		g.change = PLAN_ADDED;
	else if (ai == ae)
		g.change = PLAN_REMOVED;
	else if (!ports_equal(&g.ports_before, &g.ports_after) ||
		 !peers_equal(&g.peers_before, &g.peers_after))
		g.change = PLAN_CHANGED;
	else if (!same_entries(before, bi, be, after, ai, ae))
		g.change = PLAN_CHANGED, g.reshaped = true;
	else
		g.change = PLAN_SAME;
	if (g.change == PLAN_SAME) {
		group_free(&g);
		return 0;
	}
	v = realloc(out->groups, (out->n_groups + 1) * sizeof(*v));
	if (!v) {
		err = -ENOMEM;
		goto fail;
	}
	out->groups = v;
	out->groups[out->n_groups++] = g;
	return 0;
fail:
	group_free(&g);
	return err;
}

static int add_addrs(struct plan_peers *p, const struct name_addrs *na)
{
	int err = 0;

	for (size_t i = 0; na && i < na->n_addrs && !err; i++)
		err = peers_add(p, &na->addrs[i]);
	peers_normalize(p);
	return err;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct plan_name *)a)->name, ((const struct plan_name *)b)->name);
}

/* Every name of either side: its addresses before and now. */
static int compare_names(const struct name_table *before, const struct name_table *after,
			 struct plan_diff *out)
{
	size_t cap = before->n + after->n;
	int err = 0;

	out->names = calloc(cap ? cap : 1, sizeof(*out->names));
	if (!out->names)
		return -ENOMEM;
	for (int side = 0; side < 2 && !err; side++) {
		const struct name_table *t = side ? after : before;

		for (size_t i = 0; i < t->n && !err; i++) {
			const struct name_addrs *b = names_find(before, t->v[i].name);
			const struct name_addrs *a = names_find(after, t->v[i].name);
			struct plan_name *n = &out->names[out->n_names];

			if (side && b)
				continue; /* done with before's */
			n->name = strdup(t->v[i].name);
			if (!n->name)
				return -ENOMEM;
			out->n_names++;
			err = add_addrs(&n->before, b);
			if (!err)
				err = add_addrs(&n->after, a);
			n->resolved_after = a && a->n_addrs;
			n->change = !b ? PLAN_ADDED :
				    !a ? PLAN_REMOVED :
				    peers_equal(&n->before, &n->after) ? PLAN_SAME : PLAN_CHANGED;
		}
	}
	if (out->n_names)
		qsort(out->names, out->n_names, sizeof(*out->names), cmp_name);
	return err;
}

int plan_diff(const struct plan_side *before, const struct plan_side *after, struct plan_diff *out)
{
	size_t bi = 0, ai = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	/* Nothing enforced is an empty policy in enforce mode: every setting of the new one differs. */
	out->mode_changed = !before->enforced || before->mode != after->mode;
	for (int d = 0; d < SPEE_DIR_MAX; d++)
		out->default_changed[d] = !before->enforced ||
					  before->default_action[d] != after->default_action[d];
	while (!err && (bi < before->n_entries || ai < after->n_entries)) {
		size_t be = bi < before->n_entries ? group_end(before, bi) : bi;
		size_t ae = ai < after->n_entries ? group_end(after, ai) : ai;
		int c = bi == before->n_entries ? 1 :
			ai == after->n_entries	? -1 :
						  cmp_group(&before->entries[bi], &after->entries[ai]);

		if (c < 0) {
			err = compare_group(before, bi, be, after, ai, ai, out);
			bi = be;
		} else if (c > 0) {
			err = compare_group(before, bi, bi, after, ai, ae, out);
			ai = ae;
		} else {
			err = compare_group(before, bi, be, after, ai, ae, out);
			bi = be;
			ai = ae;
		}
	}
	if (!err)
		err = compare_names(&before->names, &after->names, out);
	if (err)
		plan_diff_free(out);
	return err;
}

void plan_diff_free(struct plan_diff *d)
{
	for (size_t i = 0; i < d->n_groups; i++)
		group_free(&d->groups[i]);
	for (size_t i = 0; i < d->n_names; i++) {
		free(d->names[i].name);
		free(d->names[i].before.v);
		free(d->names[i].after.v);
	}
	free(d->groups);
	free(d->names);
	memset(d, 0, sizeof(*d));
}

bool plan_diff_differs(const struct plan_diff *d)
{
	if (d->mode_changed || d->n_groups)
		return true;
	for (int i = 0; i < SPEE_DIR_MAX; i++)
		if (d->default_changed[i])
			return true;
	for (size_t i = 0; i < d->n_names; i++)
		if (d->names[i].change != PLAN_SAME)
			return true;
	return false;
}

/* ---- connections ---- */

void plan_decide(const struct plan_side *s, uint8_t dir, uint8_t proto, uint16_t port,
		 const struct prefix *peer, struct plan_verdict *v)
{
	struct explain_query q = { .dir = dir, .proto = proto, .port = port, .peer = *peer };
	struct explain_result r;

	memset(v, 0, sizeof(*v));
	if (!s->enforced || !s->model) {
		v->pass = true;
		v->reason = SPEE_REASON_NO_RULE;
		return;
	}
	v->enforced = true;
	explain_decide(s->model, NULL, &q, &r);
	v->pass = r.pass;
	v->reason = r.reason;
	if (r.entry) {
		v->entry = &s->entries[r.entry - s->model->entries];
		if (v->reason == SPEE_REASON_RULE)
			memcpy(v->rule, v->entry->rule, sizeof(v->rule));
	}
}

static bool is_loopback(const struct prefix *a)
{
	static const uint8_t v6_loop[16] = { [15] = 1 };

	return a->family == AF_INET ? a->addr[0] == 127 : !memcmp(a->addr, v6_loop, 16);
}

/* A new connection of c in direction dir: the remote port on egress, the local one on ingress. */
static void judge(const struct plan_side *s, const struct plan_conn *c, uint8_t dir,
		  struct plan_verdict *v)
{
	plan_decide(s, dir, c->proto, dir == SPEE_DIR_EGRESS ? c->rport : c->lport, &c->remote, v);
}

int plan_judge(const struct plan_side *before, const struct plan_side *after,
	       const struct plan_conn *conns, size_t n, struct plan_cuts *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		const struct plan_conn *c = &conns[i];
		struct plan_cut cut = { .conn = *c };
		struct plan_cut *v;

		/* The host talking to itself is never judged (loopback, its own addresses). */
		if (is_loopback(&c->remote) || !prefix_cmp(&c->local, &c->remote))
			continue;
		out->judged++;
		if (c->opened == PLAN_CONN_IN) {
			cut.dir = SPEE_DIR_INGRESS;
		} else if (c->opened == PLAN_CONN_OUT) {
			cut.dir = SPEE_DIR_EGRESS;
		} else {
			struct plan_verdict in, eg;

			judge(before, c, SPEE_DIR_INGRESS, &in);
			judge(before, c, SPEE_DIR_EGRESS, &eg);
			cut.dir = in.reason == SPEE_REASON_RULE && eg.reason != SPEE_REASON_RULE ?
					  SPEE_DIR_INGRESS :
					  SPEE_DIR_EGRESS;
		}
		judge(before, c, cut.dir, &cut.before);
		judge(after, c, cut.dir, &cut.after);
		if (!cut.before.pass || cut.after.pass)
			continue;
		v = realloc(out->v, (out->n + 1) * sizeof(*v));
		if (!v) {
			plan_cuts_free(out);
			return -ENOMEM;
		}
		out->v = v;
		out->v[out->n++] = cut;
	}
	return 0;
}

void plan_cuts_free(struct plan_cuts *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}
