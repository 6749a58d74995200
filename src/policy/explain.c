// SPDX-License-Identifier: GPL-2.0-only
/*
 * The reference model. It deliberately evaluates every entry (no maps, no
 * indexes): its job is to be obviously right, so that the kernel's fast
 * structures can be checked against it.
 */
#include "explain.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "protocols.h"

static bool is_loopback(const struct prefix *a)
{
	static const uint8_t v6_loop[16] = { [15] = 1 };

	if (a->family == AF_INET)
		return a->addr[0] == 127;
	return !memcmp(a->addr, v6_loop, 16);
}

/* How specific a match of e on addr is, or -1 when e does not match addr. */
static int match_len(const struct policy_entry *e, const struct name_table *t,
		     const struct prefix *addr)
{
	if (e->peer_kind == ENTRY_PEER_PREFIX)
		return prefix_contains(&e->prefix, addr) ? e->prefix.len : -1;
	{
		const struct name_addrs *na = names_find(t, e->name);

		for (size_t i = 0; na && i < na->n_addrs; i++)
			if (!prefix_cmp(&na->addrs[i], addr))
				return na->addrs[i].len;
	}
	return -1;
}

bool explain_reason_passes(const struct policy *p, uint8_t dir, uint8_t reason)
{
	if (!spee_reason_is_drop(reason) || p->mode == SPEE_MODE_AUDIT)
		return true;
	return reason == SPEE_REASON_NO_RULE && p->default_action[dir] == SPEE_ACTION_PASS;
}

bool explain_for_host(const struct policy *p, const struct prefix *addr)
{
	const uint8_t *a = addr->addr;

	if (!p->host_scope || is_loopback(addr))
		return true;
	if (addr->family == AF_INET ? (a[0] & 0xf0) == 0xe0 || !memcmp(a, "\xff\xff\xff\xff", 4) :
				      a[0] == 0xff)
		return true;
	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];

		if (e->dir == SPEE_DIR_INGRESS && e->proto == SPEE_PROTO_LOCAL &&
		    e->prefix.family == addr->family &&
		    !memcmp(e->prefix.addr, a, addr->family == AF_INET ? 4 : 16))
			return true;
	}
	return false;
}

void explain_decide(const struct policy *p, const struct name_table *t,
		    const struct explain_query *q, struct explain_result *r)
{
	struct prefix host = q->peer;
	int best_len = -1;

	memset(r, 0, sizeof(*r));
	r->rule = -1;
	r->reason = SPEE_REASON_NO_RULE;
	host.len = (uint8_t)prefix_max_len(host.family);

	if (q->dir == SPEE_DIR_INGRESS && q->transit) {
		r->transit = true;
		r->reason = SPEE_REASON_TRANSIT;
		goto verdict;
	}
	if (q->dir == SPEE_DIR_EGRESS && !q->gateway && is_loopback(&host)) {
		r->reason = SPEE_REASON_LOOPBACK;
		goto verdict;
	}
	/* Errors and neighbour discovery pass by their own reasons; no rule names them. */
	if (proto_is_icmp(q->proto) && q->port <= UINT8_MAX) {
		enum icmp_class c = icmp_type_class(q->proto, q->port);

		if (c != ICMP_CLASS_OTHER) {
			r->reason = c == ICMP_CLASS_ERROR ? SPEE_REASON_ICMP : SPEE_REASON_ND;
			goto verdict;
		}
	}
	/* Entries are in rule order, so the first of the longest matches is the earliest rule. */
	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];
		bool local = e->proto == SPEE_PROTO_LOCAL;
		int len;

		/* the ingress scope's entries name the host's addresses, never a peer */
		if (e->dir != q->dir || (local && (e->dir == SPEE_DIR_INGRESS || q->gateway)))
			continue;
		if (!local && (e->proto != q->proto || q->port < e->port_lo || q->port > e->port_hi))
			continue;
		len = match_len(e, t, &host);
		if (len < 0)
			continue;
		if (local) {
			/* The host's own address: nothing outranks talking to itself. */
			r->entry = e;
			r->reason = SPEE_REASON_LOOPBACK;
			r->rule = -1;
			goto verdict;
		}
		if (len > best_len) {
			best_len = len;
			r->entry = e;
		}
	}
	if (r->entry) {
		r->reason = r->entry->reason;
		r->rule = r->entry->reason == SPEE_REASON_RULE ? r->entry->rule : -1;
	}
verdict:
	r->pass = explain_reason_passes(p, q->dir, r->reason);
}

bool explain_socket_peer(struct prefix *peer)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t zero[16];

	if (peer->family == AF_INET6 && !memcmp(peer->addr, mapped, sizeof(mapped))) {
		struct prefix v4 = { .family = AF_INET, .len = 32 };

		memcpy(v4.addr, peer->addr + 12, 4);
		*peer = v4;
	}
	peer->len = (uint8_t)prefix_max_len(peer->family);
	return !memcmp(peer->addr, zero, peer->family == AF_INET ? 4 : 16) || is_loopback(peer);
}
