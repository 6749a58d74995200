// SPDX-License-Identifier: GPL-2.0-only
#include "verify.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "explain.h"

/* A set of TCP ports: one bit each. */
struct port_set {
	uint64_t bits[65536 / 64];
};

static void port_set_add(struct port_set *s, uint16_t port)
{
	s->bits[port / 64] |= 1ull << (port % 64);
}

static void port_set_add_range(struct port_set *s, uint16_t lo, uint16_t hi)
{
	for (uint32_t p = lo; p <= hi; p++)
		port_set_add(s, (uint16_t)p);
}

static bool port_set_has(const struct port_set *s, uint16_t port)
{
	return s->bits[port / 64] >> (port % 64) & 1;
}

const char *verify_result_label(unsigned result)
{
	static const char *const labels[] = {
		[VERIFY_OPEN] = "open",
		[VERIFY_BLOCKED_HERE] = "blocked-here",
		[VERIFY_BLOCKED_PATH] = "blocked-path",
		[VERIFY_ERROR] = "error",
		[VERIFY_NOT_RUN] = "not-run",
	};
	_Static_assert(sizeof(labels) / sizeof(labels[0]) == VERIFY_RESULT_MAX,
		       "a label for every verify result");

	return result < VERIFY_RESULT_MAX ? labels[result] : "?";
}

enum verify_result verify_classify(int err, bool timed_out)
{
	if (timed_out)
		return VERIFY_BLOCKED_PATH;
	switch (err) {
	case 0: /* connected */
	case ECONNREFUSED: /* the peer's RST (or its ICMP port unreachable) */
	case ECONNRESET:
		return VERIFY_OPEN;
	case EPERM: /* a cgroup connect hook, or a local netfilter drop */
	case EACCES:
		return VERIFY_BLOCKED_HERE;
	case EHOSTUNREACH: /* an ICMP unreachable on the way, or no neighbour answer */
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case ETIMEDOUT:
		return VERIFY_BLOCKED_PATH;
	default:
		return VERIFY_ERROR;
	}
}

static bool entry_matches(const struct policy_entry *e, const struct name_table *t,
			  const struct prefix *addr)
{
	const struct name_addrs *na;

	if (e->peer_kind == ENTRY_PEER_PREFIX)
		return prefix_contains(&e->prefix, addr);
	na = names_find(t, e->name);
	for (size_t i = 0; na && i < na->n_addrs; i++)
		if (!prefix_cmp(&na->addrs[i], addr))
			return true;
	return false;
}

static bool is_tcp_entry(const struct policy_entry *e, uint8_t dir)
{
	return e->dir == dir && e->proto == IPPROTO_TCP;
}

uint16_t verify_unlisted_port(const struct policy *self, const struct policy *peer)
{
	struct port_set named = { 0 };

	for (size_t i = 0; i < self->n_entries; i++)
		if (is_tcp_entry(&self->entries[i], SPEE_DIR_EGRESS))
			port_set_add_range(&named, self->entries[i].port_lo, self->entries[i].port_hi);
	for (size_t i = 0; i < peer->n_entries; i++)
		if (is_tcp_entry(&peer->entries[i], SPEE_DIR_INGRESS))
			port_set_add_range(&named, peer->entries[i].port_lo, peer->entries[i].port_hi);
	for (uint32_t p = 1; p <= 65535; p++)
		if (!port_set_has(&named, (uint16_t)p))
			return (uint16_t)p;
	return 0;
}

static bool is_link_local(const struct prefix *a)
{
	return a->family == AF_INET6 && a->addr[0] == 0xfe && (a->addr[1] & 0xc0) == 0x80;
}

static const struct prefix *source_for(const struct verify_input *in, uint8_t family)
{
	for (size_t i = 0; i < in->n_sources; i++)
		if (in->sources[i].family == family)
			return &in->sources[i];
	return NULL;
}

static void rule_id(const struct policy *p, const struct explain_result *r, char *buf)
{
	buf[0] = '\0';
	if (r->rule >= 0)
		snprintf(buf, SPEE_RULE_ID_LEN, "%s", p->rules[r->rule].id);
}

/* What the fleet's policy says of a TCP connect from src to peer's dst:port. */
static void expect_probe(const struct verify_input *in, const struct policy *peer,
			 struct verify_probe *pr)
{
	struct explain_query q = { .proto = IPPROTO_TCP, .port = pr->port };
	struct explain_result here, there;

	q.dir = SPEE_DIR_EGRESS;
	q.peer = pr->dst;
	explain_decide(in->self, in->names, &q, &here);
	rule_id(in->self, &here, pr->rule);
	q.dir = SPEE_DIR_INGRESS;
	q.peer = pr->src;
	explain_decide(peer, in->names, &q, &there);
	rule_id(peer, &there, pr->peer_rule);
	pr->expect = !here.pass ? VERIFY_BLOCKED_HERE :
		     !there.pass ? VERIFY_BLOCKED_PATH : VERIFY_OPEN;
}

struct plan_builder {
	struct verify_plan *plan;
	size_t cap_probes, cap_skipped;
};

static int push_probe(struct plan_builder *b, const char *peer, const struct prefix *src,
		      const struct prefix *dst, uint16_t port, bool unlisted,
		      struct verify_probe **out)
{
	struct verify_plan *plan = b->plan;
	struct verify_probe *pr;

	if (plan->n_probes == b->cap_probes) {
		size_t cap = b->cap_probes ? 2 * b->cap_probes : 32;
		struct verify_probe *v = realloc(plan->probes, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		plan->probes = v;
		b->cap_probes = cap;
	}
	pr = &plan->probes[plan->n_probes];
	memset(pr, 0, sizeof(*pr));
	pr->peer = strdup(peer);
	if (!pr->peer)
		return -ENOMEM;
	plan->n_probes++;
	pr->src = *src;
	pr->dst = *dst;
	pr->port = port;
	pr->unlisted = unlisted;
	pr->result = VERIFY_NOT_RUN;
	*out = pr;
	return 0;
}

static int push_skip(struct plan_builder *b, const char *peer, const struct prefix *addr,
		     const char *why)
{
	struct verify_plan *plan = b->plan;
	struct verify_skip *s;

	if (plan->n_skipped == b->cap_skipped) {
		size_t cap = b->cap_skipped ? 2 * b->cap_skipped : 8;
		struct verify_skip *v = realloc(plan->skipped, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		plan->skipped = v;
		b->cap_skipped = cap;
	}
	s = &plan->skipped[plan->n_skipped];
	s->peer = strdup(peer);
	if (!s->peer)
		return -ENOMEM;
	plan->n_skipped++;
	s->addr = *addr;
	s->why = why;
	return 0;
}

/* The probes of one peer address: the ports our egress opens to it, and the unlisted one. */
static int plan_address(struct plan_builder *b, const struct verify_input *in,
			const struct policy *peer, const struct prefix *dst, uint16_t unlisted,
			struct port_set *ports)
{
	const struct prefix *src = source_for(in, dst->family);
	int err = 0;

	if (is_link_local(dst))
		return push_skip(b, peer->host->name, dst,
				 "a link-local address (it needs an interface to be reached by)");
	if (!src)
		return push_skip(b, peer->host->name, dst,
				 dst->family == AF_INET ?
				 "this host has no IPv4 inventory address on this machine to probe from" :
				 "this host has no IPv6 inventory address on this machine to probe from");
	memset(ports, 0, sizeof(*ports));
	for (size_t i = 0; i < in->self->n_entries; i++) {
		const struct policy_entry *e = &in->self->entries[i];

		if (e->reason != SPEE_REASON_RULE || !is_tcp_entry(e, SPEE_DIR_EGRESS) ||
		    !entry_matches(e, in->names, dst))
			continue;
		port_set_add(ports, e->port_lo);
		port_set_add(ports, e->port_hi);
	}
	if (unlisted)
		port_set_add(ports, unlisted);
	for (uint32_t port = 1; port <= 65535 && !err; port++) {
		struct verify_probe *pr;

		if (!port_set_has(ports, (uint16_t)port))
			continue;
		err = push_probe(b, peer->host->name, src, dst, (uint16_t)port, port == unlisted,
				 &pr);
		if (!err)
			expect_probe(in, peer, pr);
	}
	return err;
}

int verify_plan_build(const struct verify_input *in, struct verify_plan *out)
{
	struct plan_builder b = { .plan = out };
	struct port_set *ports;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->host = strdup(in->self->host->name);
	ports = malloc(sizeof(*ports));
	if (!out->host || !ports) {
		free(ports);
		verify_plan_free(out);
		return -ENOMEM;
	}
	for (size_t p = 0; p < in->n_peers && !err; p++) {
		const struct policy *peer = in->peers[p];
		uint16_t unlisted;

		if (peer->host == in->self->host || !strcmp(peer->host->name, in->self->host->name))
			continue;
		unlisted = verify_unlisted_port(in->self, peer);
		for (size_t a = 0; a < peer->host->n_addrs && !err; a++)
			err = plan_address(&b, in, peer, &peer->host->addrs[a], unlisted, ports);
	}
	free(ports);
	if (err)
		verify_plan_free(out);
	return err;
}

void verify_plan_free(struct verify_plan *plan)
{
	for (size_t i = 0; i < plan->n_probes; i++)
		free(plan->probes[i].peer);
	for (size_t i = 0; i < plan->n_skipped; i++)
		free(plan->skipped[i].peer);
	free(plan->probes);
	free(plan->skipped);
	free(plan->host);
	memset(plan, 0, sizeof(*plan));
}

size_t verify_failures(const struct verify_plan *plan)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->n_probes; i++)
		n += !verify_probe_ok(&plan->probes[i]);
	return n;
}

void verify_describe(const struct verify_probe *p, unsigned timeout_ms, char *buf, size_t len)
{
	switch (p->result) {
	case VERIFY_NOT_RUN:
		snprintf(buf, len, "not run");
		break;
	case VERIFY_OPEN:
		snprintf(buf, len, "%s", p->error ? "refused by the peer" : "connected");
		break;
	case VERIFY_BLOCKED_PATH:
		if (p->timed_out)
			snprintf(buf, len, "no answer within %u ms", timeout_ms);
		else
			snprintf(buf, len, "%s", strerror(p->error));
		break;
	case VERIFY_BLOCKED_HERE:
		snprintf(buf, len, "refused by this host (%s)", strerror(p->error));
		break;
	default:
		snprintf(buf, len, "%s", strerror(p->error));
		break;
	}
}
