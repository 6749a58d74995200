// SPDX-License-Identifier: GPL-2.0-only
/*
 * What check reports besides the allowlists (policy.h, struct policy_note):
 * notes on rules that cannot do what they seem to (shadowed, empty, of the
 * wrong family, defeated by a rule open to ANY, enforced nowhere) and
 * warnings about the host (no way in for SSH, a loopback resolver). Each is
 * one sentence that says what happens and what to do.
 */
#include "policy_work.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "labels.h"
#include "matrix.h"
#include "policy.h"
#include "protocols.h"

#define SSH_PORT 22

static const char *const note_kinds[NOTE_KIND_MAX] = {
	[NOTE_INDISTINGUISHABLE] = "indistinguishable",
	[NOTE_SHADOWED] = "shadowed",
	[NOTE_ROLE_UNUSED] = "role-unused",
	[NOTE_EMPTY] = "empty",
	[NOTE_NAME] = "dns-name",
	[NOTE_FAMILY] = "family",
	[NOTE_NARROW_DEFEATED] = "narrow-defeated",
	[NOTE_PORT_ON_ANY] = "port-on-any",
	[NOTE_NOWHERE] = "enforced-nowhere",
	[NOTE_NO_SSH] = "no-ssh",
	[NOTE_LOOPBACK_RESOLVER] = "loopback-resolver",
};

const char *note_kind_label(enum note_kind kind)
{
	return kind < NOTE_KIND_MAX && note_kinds[kind] ? note_kinds[kind] : "?";
}

static int note_vadd(struct policy_note **v, size_t *n, enum note_kind kind, bool warning,
		     const char *rule, const char *other, const char *fmt, va_list ap)
{
	struct policy_note *grown = realloc(*v, (*n + 1) * sizeof(**v));
	struct policy_note *note;

	if (!grown)
		return -ENOMEM;
	*v = grown;
	note = &grown[*n];
	memset(note, 0, sizeof(*note));
	note->kind = kind;
	note->warning = warning;
	if (vasprintf(&note->text, fmt, ap) < 0)
		return -ENOMEM;
	if ((rule && !(note->rule = strdup(rule))) || (other && !(note->other = strdup(other)))) {
		free(note->text);
		free(note->rule);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

static int note_add(struct policy *p, enum note_kind kind, bool warning, const char *rule,
		    const char *other, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int note_add(struct policy *p, enum note_kind kind, bool warning, const char *rule,
		    const char *other, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = note_vadd(&p->notes, &p->n_notes, kind, warning, rule, other, fmt, ap);
	va_end(ap);
	return err;
}

void policy_notes_free(struct policy_note *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].rule);
		free(v[i].other);
		free(v[i].text);
	}
	free(v);
}

/* ---- the rules of one host's policy ---------------------------------------- */

static unsigned held_roles(const struct config *cfg)
{
	unsigned held = 0;

	for (size_t h = 0; h < cfg->n_hosts; h++)
		held |= cfg->hosts[h].roles;
	return held;
}

/* A side's role that no host holds, or one of its networks that is empty. */
static int side_notes(struct policy *p, const struct policy_rule *rule, const struct peer_list *side,
		      uint8_t dir, unsigned held)
{
	const char *dname = dir == SPEE_DIR_INGRESS ? "from" : "to";
	int err = 0;

	for (size_t i = 0; i < side->n && !err; i++) {
		const struct peer *pr = &side->v[i];

		if (pr->kind == PEER_ROLE && !(pr->roles & held)) {
			char roles[32];

			roles_format(pr->roles, roles, sizeof(roles));
			err = note_add(p, NOTE_ROLE_UNUSED, false, rule->id, NULL,
				       "%s: no host of the inventory holds %s, so it allows nothing "
				       "%s it",
				       rule->id, roles, dname);
		} else if (pr->kind == PEER_NETWORK && p->cfg->networks[pr->network].members.n == 0) {
			err = note_add(p, NOTE_EMPTY, false, rule->id, NULL,
				       "%s: network %s is empty, so it allows nothing %s it", rule->id,
				       p->cfg->networks[pr->network].name, dname);
		}
	}
	return err;
}

/* Why a rule kept no entry in dir: it lost them all to earlier or more specific rules. */
static int lost_note(struct policy *p, struct rule_work *work, size_t r, uint8_t dir)
{
	const struct policy_rule *rule = &p->rules[r];
	const struct policy_rule *o;
	bool same;

	if (work[r].lost_to < 0)
		return note_add(p, NOTE_SHADOWED, false, rule->id, NULL,
				"%s (%s) is shadowed by several earlier rules", rule->id,
				dir_label(dir));
	o = &p->rules[work[r].lost_to];
	same = o->proto == rule->proto && o->port_lo == rule->port_lo &&
	       o->port_hi == rule->port_hi &&
	       work[o - p->rules].candidates[dir] == work[r].candidates[dir];
	return note_add(p, same ? NOTE_INDISTINGUISHABLE : NOTE_SHADOWED, false, rule->id, o->id,
			same ? "%s (%s) cannot be told apart from %s on the wire: its traffic "
			       "counts under %s"
			     : "%s (%s) is shadowed by %s: every entry it has belongs to %s, an "
			       "earlier rule",
			rule->id, dir_label(dir), o->id, o->id);
}

/* An icmp or icmpv6 rule whose peers have no address of its family here. */
static int family_note(struct policy *p, const struct rule_work *w, const struct policy_rule *rule,
		       uint8_t dir)
{
	if (!proto_family(rule->proto) || w->candidates[dir] || !w->other_family[dir])
		return 0;
	return note_add(p, NOTE_FAMILY, false, rule->id, NULL,
			"%s: proto %s is IPv%d's, and its peers %s (%s) have no IPv%d address, so "
			"it allows nothing (write a rule of proto %s for them)",
			rule->id, proto_kind_label(rule->proto),
			rule->proto == IPPROTO_ICMP ? 4 : 6,
			dir == SPEE_DIR_INGRESS ? "from" : "to", rule->peers_text[dir],
			rule->proto == IPPROTO_ICMP ? 4 : 6,
			rule->proto == IPPROTO_ICMP ? "icmpv6" : "icmp");
}

/*
 * Another rule's entry in dir open to ANY (a /0) on a port of rule r: the
 * rule, and which families it opens (bit 0: IPv4, bit 1: IPv6).
 */
static int open_to_any(const struct policy *p, size_t r, uint8_t dir, unsigned *families)
{
	const struct policy_rule *rule = &p->rules[r];
	int other = -1;

	*families = 0;
	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];

		if (e->reason != SPEE_REASON_RULE || e->dir != dir || e->rule == r ||
		    e->peer_kind != ENTRY_PEER_PREFIX || e->prefix.len != 0 ||
		    e->proto != rule->proto || e->port_hi < rule->port_lo ||
		    e->port_lo > rule->port_hi)
			continue;
		if (other >= 0 && e->rule != other)
			continue;
		other = e->rule;
		*families |= e->prefix.family == AF_INET ? 1u : 2u;
	}
	return other;
}

static const char *any_text(unsigned families)
{
	return families == 3 ? "ANY" : families == 1 ? "every IPv4 address" : "every IPv6 address";
}

/*
 * A rule that the config narrowed, or moved to another port, but whose port
 * another rule of this host keeps open to ANY in the same direction: what
 * the config restricted is restricted nowhere.
 */
static int defeat_notes(struct policy *p, struct rule_work *work, size_t r, uint8_t dir)
{
	const struct policy_rule *rule = &p->rules[r];
	const struct cfg_matrix_override *o;
	const struct matrix_rule *m;
	const char *way = dir == SPEE_DIR_INGRESS ? "from" : "to";
	char match[64];
	unsigned families;
	int other, err = 0;

	if (rule->origin != RULE_MATRIX || work[r].any[dir])
		return 0;
	m = &matrix_rules[rule->matrix_index];
	o = &p->cfg->matrix[rule->matrix_index];
	if (!(o->narrowed && matrix_side_is_any(m, dir == SPEE_DIR_INGRESS)) &&
	    !(o->port && o->port != m->port))
		return 0;
	other = open_to_any(p, r, dir, &families);
	if (other < 0)
		return 0;
	proto_match_text(rule->proto, rule->port_lo, rule->port_hi, match, sizeof(match));
	if (o->narrowed && matrix_side_is_any(m, dir == SPEE_DIR_INGRESS))
		err = note_add(p, NOTE_NARROW_DEFEATED, false, rule->id, p->rules[other].id,
			       "%s is narrowed to %s, but %s still allows %s %s %s %s here: narrow "
			       "or disable %s too",
			       rule->id, rule->peers_text[dir], p->rules[other].id,
			       dir_label(dir), match, way, any_text(families), p->rules[other].id);
	if (!err && o->port && o->port != m->port)
		err = note_add(p, NOTE_PORT_ON_ANY, false, rule->id, p->rules[other].id,
			       "%s is moved to %s, where %s allows %s %s %s here: %s's peers (%s) "
			       "restrict nothing on that port",
			       rule->id, match, p->rules[other].id, dir_label(dir), way,
			       any_text(families), rule->id, rule->peers_text[dir]);
	return err;
}

static int name_notes(struct policy *p)
{
	int err = 0;

	for (size_t i = 0; i < p->n_entries && !err; i++) {
		const struct policy_entry *e = &p->entries[i];
		bool seen = false;

		if (e->peer_kind != ENTRY_PEER_NAME || e->reason != SPEE_REASON_RULE)
			continue;
		for (size_t k = 0; k < p->n_notes && !seen; k++)
			seen = p->notes[k].kind == NOTE_NAME &&
			       !strcmp(p->notes[k].rule, p->rules[e->rule].id) &&
			       strstr(p->notes[k].text, e->name);
		if (!seen)
			err = note_add(p, NOTE_NAME, false, p->rules[e->rule].id, NULL,
				       "%s follows the DNS name %s: it allows that name's current "
				       "addresses, re-resolved when their TTL runs out",
				       p->rules[e->rule].id, e->name);
	}
	return err;
}

int policy_rule_notes(struct policy *p, struct rule_work *work)
{
	unsigned held = held_roles(p->cfg);
	int err = 0;

	for (size_t r = 0; r < p->n_rules && !err; r++) {
		const struct policy_rule *rule = &p->rules[r];

		for (uint8_t dir = 0; dir < SPEE_DIR_MAX && !err; dir++) {
			if (!(rule->dirs & (1u << dir)))
				continue;
			err = side_notes(p, rule, work[r].peers[dir], dir, held);
			if (!err)
				err = family_note(p, &work[r], rule, dir);
			if (!err)
				err = defeat_notes(p, work, r, dir);
			if (err || work[r].candidates[dir] == 0 || work[r].kept[dir] > 0)
				continue;
			err = lost_note(p, work, r, dir);
		}
	}
	return err ? err : name_notes(p);
}

/* ---- the host -------------------------------------------------------------- */

static bool is_loopback(const struct prefix *a)
{
	static const uint8_t v6_loop[16] = { [15] = 1 };

	return a->family == AF_INET ? a->addr[0] == 127 : !memcmp(a->addr, v6_loop, 16);
}

static bool ssh_allowed_in(const struct policy *p)
{
	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];

		if (e->dir == SPEE_DIR_INGRESS && e->reason == SPEE_REASON_RULE &&
		    e->proto == IPPROTO_TCP && e->port_lo <= SSH_PORT && e->port_hi >= SSH_PORT)
			return true;
	}
	return false;
}

int policy_host_warnings(struct policy *p, const struct prefix *resolvers, size_t n_resolvers)
{
	const struct config *cfg = p->cfg;
	char text[ADDR_TEXT_LEN];
	int err = 0;

	if (cfg->failsafe_from_file && !cfg->n_failsafe &&
	    p->default_action[SPEE_DIR_INGRESS] == SPEE_ACTION_DROP && !ssh_allowed_in(p))
		err = note_add(p, NOTE_NO_SSH, true, NULL, NULL,
			       "failsafe: [] turns the SSH failsafe off and no rule lets tcp/%d in "
			       "to %s: enforcing this policy cuts off new SSH sessions to it",
			       SSH_PORT, p->host->name);
	for (size_t i = 0; i < n_resolvers && !err; i++) {
		if (!is_loopback(&resolvers[i]))
			continue;
		prefix_format(&resolvers[i], text, sizeof(text));
		err = note_add(p, NOTE_LOOPBACK_RESOLVER, true, NULL, NULL,
			       "resolver %s is a loopback address (a local stub resolver such as "
			       "systemd-resolved): the host's queries to it pass as loopback, but "
			       "the stub's own queries upstream are judged as ordinary egress; name "
			       "the upstream servers in resolvers: instead",
			       text);
	}
	return err;
}

/* ---- the fleet ------------------------------------------------------------- */

static int fleet_add(struct policy_note **v, size_t *n, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fleet_add(struct policy_note **v, size_t *n, const char *rule, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = note_vadd(v, n, NOTE_NOWHERE, false, rule, NULL, fmt, ap);
	va_end(ap);
	return err;
}

/* A CIDR of a side (directly or in a network) that holds an inventory address, or NULL. */
static const struct peer *cidr_with_hosts(const struct config *cfg, const struct peer_list *side)
{
	for (size_t i = 0; i < side->n; i++) {
		const struct peer *pr = &side->v[i];
		const struct peer *found = NULL;

		if (pr->kind == PEER_NETWORK)
			found = cidr_with_hosts(cfg, &cfg->networks[pr->network].members);
		if (found)
			return found;
		if (pr->kind != PEER_PREFIX || pr->prefix.len == 0 ||
		    pr->prefix.len == prefix_max_len(pr->prefix.family))
			continue;
		for (size_t h = 0; h < cfg->n_hosts; h++)
			for (size_t a = 0; a < cfg->hosts[h].n_addrs; a++)
				if (prefix_contains(&pr->prefix, &cfg->hosts[h].addrs[a]))
					return pr;
	}
	return NULL;
}

/* The roles a side names that no host holds. */
static unsigned unheld_roles(const struct config *cfg, const struct peer_list *side)
{
	unsigned named = 0;

	for (size_t i = 0; i < side->n; i++)
		if (side->v[i].kind == PEER_ROLE)
			named |= side->v[i].roles;
	return named & ~held_roles(cfg);
}

static int nowhere_note(const struct config *cfg, const struct cfg_rule *r,
			struct policy_note **v, size_t *n)
{
	const struct peer_list *sides[2] = { &r->from, &r->to };
	unsigned unheld = unheld_roles(cfg, &r->from) | unheld_roles(cfg, &r->to);
	const struct peer *cidr = NULL;
	char text[ADDR_TEXT_LEN];

	for (size_t h = 0; h < cfg->n_hosts; h++)
		for (int s = 0; s < 2; s++)
			if (policy_side_names_host(cfg, sides[s], h))
				return 0;
	for (int s = 0; s < 2 && !cidr; s++)
		cidr = cidr_with_hosts(cfg, sides[s]);
	if (unheld) {
		roles_format(unheld, text, sizeof(text));
		return fleet_add(v, n, r->id,
				 "%s is enforced on no host: no host of the inventory holds %s, "
				 "and no side names another role, an inventory host or one of its "
				 "addresses",
				 r->id, text);
	}
	if (cidr) {
		prefix_format(&cidr->prefix, text, sizeof(text));
		return fleet_add(v, n, r->id,
				 "%s is enforced on no host: %s holds inventory addresses, but a "
				 "CIDR selects no host; name the hosts, their addresses or their "
				 "roles",
				 r->id, text);
	}
	return fleet_add(v, n, r->id,
			 "%s is enforced on no host: neither side names a role, an inventory host "
			 "or one of its addresses, so no speebpf host judges its traffic",
			 r->id);
}

int policy_fleet_notes(const struct config *cfg, struct policy_note **out, size_t *n)
{
	int err = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < cfg->n_rules && !err; i++)
		err = nowhere_note(cfg, &cfg->rules[i], out, n);
	for (size_t i = 0; i < cfg->n_failsafe && !err; i++)
		err = nowhere_note(cfg, &cfg->failsafe[i], out, n);
	if (err) {
		policy_notes_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return err;
}
