// SPDX-License-Identifier: GPL-2.0-only
/* suggest.c - the config fragment of `speebpf suggest` (suggest.h). */
#include "suggest.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "matrix.h"

/* One remote address of a group, its tallies summed over the directions. */
struct sugg_addr {
	uint8_t family; /* enum spee_family */
	uint8_t addr[16];
	uint8_t dirs; /* 1 << enum spee_dir */
	uint64_t count, first_ns, last_ns;
};

/* A rule (narrow) or a direction, protocol and port (site rule), and its addresses. */
struct sugg_group {
	uint16_t rule;
	uint8_t dir, proto;
	uint16_t port;
	struct sugg_addr *addrs;
	size_t n;
};

static const char *const dir_names[SPEE_DIR_MAX] = { "ingress", "egress" };

static int addr_cmp(const struct sugg_addr *a, const struct sugg_addr *b)
{
	if (a->family != b->family)
		return a->family - b->family;
	return memcmp(a->addr, b->addr, 16);
}

/* Most often seen first; then by address, for output that does not depend on the walk. */
static int by_count(const void *x, const void *y)
{
	const struct sugg_addr *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return addr_cmp(a, b);
}

/* Adds one tally to group g, merging it with the same address's. */
static int group_add(struct sugg_group *g, uint8_t family, const uint8_t *addr, uint8_t dir,
		     const struct spee_tally *t)
{
	struct sugg_addr a = { .family = family, .dirs = (uint8_t)(1u << dir) }, *p;

	memcpy(a.addr, addr, 16);
	for (size_t i = 0; i < g->n; i++) {
		p = &g->addrs[i];
		if (addr_cmp(p, &a))
			continue;
		p->dirs |= a.dirs;
		p->count += t->count;
		if (t->first_ns < p->first_ns)
			p->first_ns = t->first_ns;
		if (t->last_ns > p->last_ns)
			p->last_ns = t->last_ns;
		return 0;
	}
	p = realloc(g->addrs, (g->n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	g->addrs = p;
	a.count = t->count;
	a.first_ns = t->first_ns;
	a.last_ns = t->last_ns;
	g->addrs[g->n++] = a;
	return 0;
}

/* The group of these fields, made when new. Groups are few (rules, ports): a list. */
static struct sugg_group *group_of(struct sugg_group **gs, size_t *n, uint16_t rule, uint8_t dir,
				   uint8_t proto, uint16_t port)
{
	struct sugg_group *g;

	for (size_t i = 0; i < *n; i++) {
		g = &(*gs)[i];
		if (g->rule == rule && g->dir == dir && g->proto == proto && g->port == port)
			return g;
	}
	g = realloc(*gs, (*n + 1) * sizeof(*g));
	if (!g)
		return NULL;
	*gs = g;
	g = &(*gs)[(*n)++];
	*g = (struct sugg_group){ .rule = rule, .dir = dir, .proto = proto, .port = port };
	return g;
}

static void groups_free(struct sugg_group *gs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(gs[i].addrs);
	free(gs);
}

/* Drops the addresses seen fewer than min times, then sorts the rest. */
static void group_finish(struct sugg_group *g, uint64_t min)
{
	size_t k = 0;

	for (size_t i = 0; i < g->n; i++)
		if (g->addrs[i].count >= min)
			g->addrs[k++] = g->addrs[i];
	g->n = k;
	if (g->n)
		qsort(g->addrs, g->n, sizeof(*g->addrs), by_count);
}

static void put_addr(FILE *out, const struct sugg_addr *a)
{
	struct prefix p = { .family = a->family == SPEE_FAMILY_V4 ? AF_INET : AF_INET6 };
	char buf[ADDR_TEXT_LEN];

	p.len = (uint8_t)prefix_max_len(p.family);
	memcpy(p.addr, a->addr, 16);
	addr_format(&p, buf, sizeof(buf));
	/* IPv6 addresses quoted: a plain scalar with colons is easy to misread */
	fprintf(out, a->family == SPEE_FAMILY_V4 ? "%s" : "\"%s\"", buf);
}

static void put_time(FILE *out, const struct tally_snapshot *s, uint64_t mono_ns)
{
	time_t t = (time_t)tallies_real_time(s, mono_ns);
	struct tm tm;
	char buf[32];

	if (gmtime_r(&t, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		fputs(buf, out);
	else
		fputs("?", out);
}

/* "  # 5 connections, first ..., last ..." after an address. */
static void put_counts(FILE *out, const struct tally_snapshot *s, const struct sugg_addr *a,
		       const char *what)
{
	fprintf(out, "  # %llu %s%s, first ", (unsigned long long)a->count, what,
		a->count == 1 ? "" : "s");
	put_time(out, s, a->first_ns);
	fputs(", last ", out);
	put_time(out, s, a->last_ns);
	fputc('\n', out);
}

static const char *rule_id(const struct tally_snapshot *s, uint16_t rule)
{
	return s->meta[rule].id;
}

static int by_rule_id(const void *x, const void *y, void *ctx)
{
	const struct sugg_group *a = x, *b = y;

	return strcmp(rule_id(ctx, a->rule), rule_id(ctx, b->rule));
}

static int by_dir_proto_port(const void *x, const void *y)
{
	const struct sugg_group *a = x, *b = y;

	if (a->dir != b->dir)
		return a->dir - b->dir;
	if (a->proto != b->proto)
		return a->proto - b->proto;
	return a->port - b->port;
}

/* A built-in rule whose ANY side `narrow:` may replace (ca-revocation's CA is a network). */
static bool narrowable(const char *id)
{
	int i = matrix_find(id);

	return i >= 0 && (matrix_side_is_any(&matrix_rules[i], true) ||
			  matrix_side_is_any(&matrix_rules[i], false));
}

static void put_dirs(FILE *out, const struct sugg_group *g)
{
	uint8_t dirs = 0;

	for (size_t i = 0; i < g->n; i++)
		dirs |= g->addrs[i].dirs;
	fputs(dirs == 3 ? "ingress and egress" : dir_names[dirs == 2], out);
}

static void render_narrow(FILE *out, const struct tally_snapshot *s, struct sugg_group *gs,
			  size_t n)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		struct sugg_group *g = &gs[i];

		if (!g->n || !narrowable(rule_id(s, g->rule)))
			continue;
		if (!any)
			fputs("narrow:\n", out);
		any = true;
		fprintf(out, "  %s:  # ", rule_id(s, g->rule));
		put_dirs(out, g);
		fprintf(out, ", %zu address%s\n", g->n, g->n == 1 ? "" : "es");
		for (size_t k = 0; k < g->n; k++) {
			fputs("    - ", out);
			put_addr(out, &g->addrs[k]);
			put_counts(out, s, &g->addrs[k], "connection");
		}
	}
	/* What narrow: cannot take, said so that nothing seen goes unreported. */
	for (size_t i = 0; i < n; i++) {
		struct sugg_group *g = &gs[i];
		const char *id = rule_id(s, g->rule);

		if (!g->n || narrowable(id))
			continue;
		if (matrix_find(id) >= 0)
			fprintf(out, "# %s reaches ANY through a network set to any (narrow: does "
				     "not take it): list the network's addresses instead of any:\n",
				id);
		else
			fprintf(out, "# %s is not a built-in rule (narrow: takes only those): "
				     "replace ANY in its from/to with:\n",
				id);
		for (size_t k = 0; k < g->n; k++) {
			fputs("#   - ", out);
			put_addr(out, &g->addrs[k]);
			put_counts(out, s, &g->addrs[k], "connection");
		}
	}
}

/* The host's name inside a double-quoted YAML scalar: quotes and backslashes escaped. */
static void put_host(FILE *out, const char *host)
{
	for (const char *c = host; *c; c++) {
		if (*c == '"' || *c == '\\')
			fputc('\\', out);
		if ((unsigned char)*c >= 0x20)
			fputc(*c, out);
	}
}

void suggest_rule_id(const char *host, unsigned dir, unsigned proto, unsigned port, char *buf)
{
	char tail[32], name[SPEE_RULE_ID_LEN], full[SPEE_RULE_ID_LEN + 48];
	size_t room, k = 0;

	snprintf(tail, sizeof(tail), "-%s-%s-%u", dir == SPEE_DIR_INGRESS ? "in" : "out",
		 proto == IPPROTO_UDP ? "udp" : "tcp", port & 0xffff);
	room = SPEE_RULE_ID_LEN - 1 - strlen("suggest-") - strlen(tail);
	for (const char *c = host; *c && k < room; c++) {
		char ch = *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
			ch = '-';
		name[k++] = ch;
	}
	while (k && name[k - 1] == '-')
		k--; /* no "--" before the tail */
	name[k] = '\0';
	snprintf(full, sizeof(full), "suggest-%s%s", k ? name : "host", tail);
	k = strlen(full); /* < SPEE_RULE_ID_LEN by room's count */
	if (k >= SPEE_RULE_ID_LEN)
		k = SPEE_RULE_ID_LEN - 1;
	memcpy(buf, full, k);
	buf[k] = '\0';
}

static void render_rules(FILE *out, const struct tally_snapshot *s, struct sugg_group *gs,
			 size_t n, const struct suggest_opts *o)
{
	const char *host = *s->rec.host ? s->rec.host : NULL;
	const char *roles = o ? o->roles : NULL;
	bool any = false;
	char id[SPEE_RULE_ID_LEN];

	for (size_t i = 0; i < n; i++) {
		struct sugg_group *g = &gs[i];
		const char *peers = g->dir == SPEE_DIR_INGRESS ? "from" : "to";
		const char *self = g->dir == SPEE_DIR_INGRESS ? "to" : "from";
		const char *proto = g->proto == IPPROTO_UDP ? "udp" : "tcp";

		if (!g->n)
			continue;
		if (!host || !roles) {
			fprintf(out, "# would-drops, %s %s/%u (no rule written: %s):\n",
				dir_names[g->dir], proto, g->port,
				!host ? "a gateway judges for many hosts"
				      : o && o->why_no_roles ? o->why_no_roles : "the host's roles are unknown");
			for (size_t k = 0; k < g->n; k++) {
				fputs("#   - ", out);
				put_addr(out, &g->addrs[k]);
				put_counts(out, s, &g->addrs[k], "would-drop");
			}
			continue;
		}
		if (!any)
			fputs("rules:\n", out);
		any = true;
		suggest_rule_id(host, g->dir, g->proto, g->port, id);
		fprintf(out, "  - id: %s\n", id);
		fprintf(out, "    proto: %s\n", proto);
		fprintf(out, "    port: %u\n", g->port);
		fprintf(out, "    %s:\n", peers);
		for (size_t k = 0; k < g->n; k++) {
			fputs("      - ", out);
			put_addr(out, &g->addrs[k]);
			put_counts(out, s, &g->addrs[k], "would-drop");
		}
		/* by role, as every site rule: the host's roles */
		fprintf(out, "    %s: [%s]\n", self, roles);
		fprintf(out, "    description: \"%s would-drops seen on ", dir_names[g->dir]);
		put_host(out, host);
		fputs(" in audit mode\"\n", out);
	}
}

int suggest_render(FILE *out, const struct tally_snapshot *s, const struct suggest_opts *o)
{
	struct sugg_group *narrow = NULL, *rules = NULL, *g;
	size_t n_narrow = 0, n_rules = 0;
	uint64_t min = o && o->min_count ? o->min_count : 1;
	int err = 0;

	for (size_t i = 0; i < s->n_seen && !err; i++) {
		const struct tally_seen *e = &s->seen[i];

		/* a slot freed since (dirs 0) names no rule any more */
		if (e->key.rule == SPEE_RULE_NONE || e->key.rule >= SPEE_MAX_RULES ||
		    !s->meta[e->key.rule].dirs || e->key.dir >= SPEE_DIR_MAX)
			continue;
		g = group_of(&narrow, &n_narrow, e->key.rule, 0, 0, 0);
		err = g ? group_add(g, e->key.family & 1, e->key.addr, e->key.dir, &e->t) : -ENOMEM;
	}
	for (size_t i = 0; i < s->n_would && !err; i++) {
		const struct tally_would *e = &s->would[i];
		uint16_t port = (uint16_t)(e->key.port >> 8 | (e->key.port & 0xff) << 8);

		if (e->key.dir >= SPEE_DIR_MAX ||
		    (e->key.proto != IPPROTO_TCP && e->key.proto != IPPROTO_UDP) || !port)
			continue;
		g = group_of(&rules, &n_rules, 0, e->key.dir, e->key.proto, port);
		err = g ? group_add(g, e->key.family & 1, e->key.addr, e->key.dir, &e->t) : -ENOMEM;
	}
	if (err)
		goto out;
	for (size_t i = 0; i < n_narrow; i++)
		group_finish(&narrow[i], min);
	for (size_t i = 0; i < n_rules; i++)
		group_finish(&rules[i], min);
	if (n_narrow)
		qsort_r(narrow, n_narrow, sizeof(*narrow), by_rule_id, (void *)s);
	if (n_rules)
		qsort(rules, n_rules, sizeof(*rules), by_dir_proto_port);

	fprintf(out, "# speebpf suggest%s%s: host %s, %s mode, policy generation %u\n",
		o && o->source ? " " : "", o && o->source ? o->source : "",
		*s->rec.host ? s->rec.host : "(none: gateway)",
		s->cfg.mode == SPEE_MODE_AUDIT ? "audit" : "enforce", s->cfg.generation);
	fputs("# narrow: the remote addresses each rule let in or out through its ANY side\n"
	      "# (counts: new connections: TCP handshakes in, TCP SYNs out, new UDP flows);\n"
	      "# rules: what audit mode would have dropped for want of a rule (the same, and\n"
	      "# every UDP datagram). Times UTC.\n"
	      "# One host's view: merge every host's before narrowing a rule of the fleet.\n",
	      out);
	if (min > 1)
		fprintf(out, "# Addresses seen fewer than %llu times are left out.\n",
			(unsigned long long)min);
	render_narrow(out, s, narrow, n_narrow);
	render_rules(out, s, rules, n_rules, o);
out:
	groups_free(narrow, n_narrow);
	groups_free(rules, n_rules);
	return err;
}
