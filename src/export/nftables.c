// SPDX-License-Identifier: GPL-2.0-only
/*
 * The nftables exporter: one host's policy as table inet speebpf, with the
 * eBPF datapath's verdicts for new connections (docs/export.md has the whole
 * mapping and what differs):
 *  - the file replaces the table in one transaction ("table; delete table;
 *    table { ... }"), so loading it twice leaves one table, and no other
 *    table is touched;
 *  - chain input judges what the host receives (XDP), chain output what it
 *    sends (cgroup egress); forwarded packets meet neither;
 *  - replies are conntrack's (ct state established,related); loopback, ICMP
 *    errors, path-MTU, neighbour discovery and DNS to the resolvers pass as
 *    in the datapath, each counted under its reason;
 *  - new connections: one nft rule per rule, family and prefix length,
 *    matching a named set of the rule's peers (or a DNS name's set), in
 *    chains ordered longest prefix first and, at one length, by row: the
 *    first nft rule that matches is the rule the kernel's lookup picks, so
 *    each rule's counter counts what the datapath's would;
 *  - conntrack reassembles fragments before the filter chains; a chain ahead
 *    of it drops first fragments too short for the transport header, the
 *    datapath's `fragment`;
 *  - audit mode turns every drop into a counted (and logged) accept.
 */
#include "export_walk.h"
#include "formats.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "explain.h"
#include "labels.h"
#include "matrix.h"
#include "protocols.h"

#define NFT_NAME_MAX 255 /* NFT_NAME_MAXLEN, less its NUL */
#define NFT_COMMENT_MAX 127 /* nft's comment limit, less its NUL */
#define ELEMENTS_PER_LINE 4

/* A named set: the prefixes of one rule (or implicit reason), direction, family and length. */
struct nft_set {
	const struct policy_entry *const *elems; /* sorted; duplicates adjacent */
	size_t n;
	bool len_suffix; /* the rule has sets of other lengths in this family: name them apart */
};

/* One nft rule of the new-connection chains. */
struct nft_row {
	uint8_t dir;
	uint8_t family;
	uint8_t len;
	unsigned order;
	uint8_t proto;
	uint16_t port_lo, port_hi;
	const struct policy_entry *e; /* names the rule or the reason */
	const char *name; /* a DNS name's set, or NULL */
	long set; /* index into plan.sets, or -1: no set (a /0 peer, or a DNS name) */
};

struct nft_plan {
	const struct policy *p;
	const struct policy_entry **pfx; /* the prefix entries, sorted by cmp_pfx */
	size_t n_pfx;
	struct nft_set *sets;
	size_t n_sets;
	struct nft_row *rows;
	size_t n_rows, cap_rows;
};

static const char *dir_tag(uint8_t dir)
{
	return dir == SPEE_DIR_INGRESS ? "in" : "out";
}

static int fam_digit(uint8_t family)
{
	return family == AF_INET ? 4 : 6;
}

static const char *hook_chain_name(uint8_t dir)
{
	return dir == SPEE_DIR_INGRESS ? "input" : "output";
}

static int cmp_pfx(const void *pa, const void *pb, void *policy)
{
	const struct policy_entry *a = *(const struct policy_entry *const *)pa;
	const struct policy_entry *b = *(const struct policy_entry *const *)pb;
	unsigned oa = export_entry_order(policy, a), ob = export_entry_order(policy, b);

	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	if (oa != ob)
		return oa < ob ? -1 : 1;
	if (a->prefix.family != b->prefix.family)
		return a->prefix.family < b->prefix.family ? -1 : 1;
	if (a->prefix.len != b->prefix.len)
		return a->prefix.len > b->prefix.len ? -1 : 1;
	return prefix_cmp(&a->prefix, &b->prefix);
}

/* The chains' order: longest prefix first, then the earlier row, then anything stable. */
static int cmp_row(const void *pa, const void *pb)
{
	const struct nft_row *a = pa, *b = pb;

	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->len != b->len)
		return a->len > b->len ? -1 : 1;
	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	if (!a->name != !b->name)
		return a->name ? 1 : -1;
	if (a->name)
		return strcmp(a->name, b->name);
	return a->set < b->set ? -1 : a->set > b->set;
}

/* The protocol and ports a rule's entries are matched on: the rule's as written. */
static void row_match(const struct policy *p, const struct policy_entry *e, struct nft_row *r)
{
	r->proto = e->proto;
	r->port_lo = e->port_lo;
	r->port_hi = e->port_hi;
	/*
	 * The compiler split a rule's port range only where an earlier rule
	 * holds the same peer on those ports; that rule's nft rule comes first
	 * (same length, earlier row), so matching the whole range is the same.
	 */
	if (e->reason == SPEE_REASON_RULE) {
		r->port_lo = p->rules[e->rule].port_lo;
		r->port_hi = p->rules[e->rule].port_hi;
	}
}

static int add_row(struct nft_plan *pl, const struct nft_row *r)
{
	for (size_t i = 0; i < pl->n_rows; i++) {
		const struct nft_row *o = &pl->rows[i];

		if (o->dir == r->dir && o->family == r->family && o->len == r->len &&
		    o->order == r->order && o->proto == r->proto && o->port_lo == r->port_lo &&
		    o->port_hi == r->port_hi && o->set == r->set &&
		    (o->name == r->name || (o->name && r->name && !strcmp(o->name, r->name))))
			return 0;
	}
	if (pl->n_rows == pl->cap_rows) {
		size_t cap = pl->cap_rows ? pl->cap_rows * 2 : 32;
		struct nft_row *v = realloc(pl->rows, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		pl->rows = v;
		pl->cap_rows = cap;
	}
	pl->rows[pl->n_rows++] = *r;
	return 0;
}

static bool same_run(const struct nft_plan *pl, size_t i, size_t j)
{
	const struct policy_entry *a = pl->pfx[i], *b = pl->pfx[j];

	return a->dir == b->dir && a->prefix.family == b->prefix.family &&
	       a->prefix.len == b->prefix.len &&
	       export_entry_order(pl->p, a) == export_entry_order(pl->p, b);
}

/* Prefix entries -> sets (one per rule, direction, family, length) and their rows. */
static int plan_prefixes(struct nft_plan *pl)
{
	const struct policy *p = pl->p;
	size_t n = 0;
	int err = 0;

	pl->pfx = malloc((p->n_entries ? p->n_entries : 1) * sizeof(*pl->pfx));
	pl->sets = calloc(p->n_entries ? p->n_entries : 1, sizeof(*pl->sets));
	if (!pl->pfx || !pl->sets)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_entries; i++)
		/* non-IP ethertypes never reach an inet table: nothing to write */
		if (p->entries[i].proto != SPEE_PROTO_LOCAL &&
		    p->entries[i].proto != SPEE_PROTO_ETHERTYPE &&
		    p->entries[i].peer_kind == ENTRY_PEER_PREFIX)
			pl->pfx[n++] = &p->entries[i];
	pl->n_pfx = n;
	qsort_r(pl->pfx, n, sizeof(*pl->pfx), cmp_pfx, (void *)p);

	for (size_t i = 0, end; i < n && !err; i = end) {
		const struct policy_entry *e = pl->pfx[i];
		long set = -1;

		for (end = i + 1; end < n && same_run(pl, i, end); end++)
			;
		if (e->prefix.len > 0) {
			set = (long)pl->n_sets++;
			pl->sets[set].elems = &pl->pfx[i];
			pl->sets[set].n = end - i;
		}
		for (size_t k = i; k < end && !err; k++) {
			struct nft_row r = {
				.dir = e->dir,
				.family = e->prefix.family,
				.len = e->prefix.len,
				.order = export_entry_order(p, e),
				.e = pl->pfx[k],
				.set = set,
			};

			row_match(p, pl->pfx[k], &r);
			err = add_row(pl, &r);
		}
	}
	/* Sets of one rule, direction and family but several lengths need their length in the name. */
	for (size_t s = 0; s + 1 < pl->n_sets; s++) {
		const struct policy_entry *a = pl->sets[s].elems[0], *b = pl->sets[s + 1].elems[0];

		if (a->dir == b->dir && a->prefix.family == b->prefix.family &&
		    export_entry_order(p, a) == export_entry_order(p, b))
			pl->sets[s].len_suffix = pl->sets[s + 1].len_suffix = true;
	}
	return err;
}

/* DNS-name entries -> rows on the name's sets, one per family (the name may gain either). */
static int plan_names(struct nft_plan *pl)
{
	const struct policy *p = pl->p;
	int err = 0;

	for (size_t i = 0; i < p->n_entries && !err; i++) {
		const struct policy_entry *e = &p->entries[i];
		static const uint8_t families[] = { AF_INET, AF_INET6 };

		if (e->proto == SPEE_PROTO_LOCAL || e->peer_kind != ENTRY_PEER_NAME)
			continue;
		for (size_t f = 0; f < sizeof(families) && !err; f++) {
			struct nft_row r = {
				.dir = e->dir,
				.family = families[f],
				.len = (uint8_t)prefix_max_len(families[f]),
				.order = export_entry_order(p, e),
				.e = e,
				.name = e->name,
				.set = -1,
			};

			row_match(p, e, &r);
			err = add_row(pl, &r);
		}
	}
	return err;
}

static void plan_free(struct nft_plan *pl)
{
	free(pl->pfx);
	free(pl->sets);
	free(pl->rows);
}

/* ---- names ------------------------------------------------------------- */

static void set_name(const struct nft_plan *pl, size_t s, char *buf, size_t len)
{
	const struct nft_set *set = &pl->sets[s];
	const struct policy_entry *e = set->elems[0];
	int n;

	if (e->reason == SPEE_REASON_RULE)
		n = snprintf(buf, len, "%s%d.%s", dir_tag(e->dir), fam_digit(e->prefix.family),
			     pl->p->rules[e->rule].id);
	else if (e->reason == SPEE_REASON_DNS)
		n = snprintf(buf, len, "resolvers%d", fam_digit(e->prefix.family));
	else
		n = snprintf(buf, len, "%s%d-%s", dir_tag(e->dir), fam_digit(e->prefix.family),
			     reason_label(e->reason));
	if (set->len_suffix && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ".%u", e->prefix.len);
}

static int name_set_name(const struct policy *p, const char *name, uint8_t family, char *buf,
			 size_t len, struct diags *d)
{
	int n = snprintf(buf, len, "dns%d.%s", fam_digit(family), name);

	if (n < 0 || (size_t)n > NFT_NAME_MAX || (size_t)n >= len) {
		diag_add(d, p->cfg->path, 0, 0,
			 "DNS name %s is too long for an nftables set name (%d characters at most)",
			 name, NFT_NAME_MAX - 5);
		return -ENAMETOOLONG;
	}
	return 0;
}

static void counter_name(const struct policy *p, const struct policy_entry *e, char *buf,
			 size_t len)
{
	if (e->reason == SPEE_REASON_RULE)
		snprintf(buf, len, "rule.%s.%s", dir_tag(e->dir), p->rules[e->rule].id);
	else
		snprintf(buf, len, "reason.%s.%s", dir_tag(e->dir), reason_label(e->reason));
}

/* A quoted nft string: no double quotes or control characters, cut to nft's limit. */
static void put_quoted(FILE *out, const char *s)
{
	size_t n = strlen(s);

	if (n > NFT_COMMENT_MAX) {
		n = NFT_COMMENT_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--; /* never cut a UTF-8 sequence */
	}
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		fputc(c == '"' ? '\'' : c < 0x20 || c == 0x7f ? ' ' : c, out);
	}
	fputc('"', out);
}

/* ---- the ruleset ----------------------------------------------------------- */

static void write_header(const struct policy *p, FILE *out)
{
	char roles[32], addr[ADDR_TEXT_LEN], sha[65];

	roles_format(p->roles, roles, sizeof(roles));
	export_sha256_hex(p, sha);
	fprintf(out, "#!/usr/sbin/nft -f\n");
	fprintf(out, "# speebpf nftables ruleset for host %s (%s):", p->host->name, roles);
	for (size_t a = 0; a < p->host->n_addrs; a++) {
		prefix_format(&p->host->addrs[a], addr, sizeof(addr));
		fprintf(out, "%s %s", a ? "," : "", addr);
	}
	fprintf(out, "\n# from %s (sha256 %s)\n", export_config_name(p), sha);
	fprintf(out, "# mode %s; what no rule allows: ingress %s, egress %s\n", mode_label(p->mode),
		action_label(p->default_action[SPEE_DIR_INGRESS]),
		action_label(p->default_action[SPEE_DIR_EGRESS]));
	fprintf(out, "#\n"
		     "# Load: nft -f FILE (or: speebpf export ... | nft -f -). It replaces table\n"
		     "# inet speebpf in one transaction and touches no other table; a packet must\n"
		     "# also pass every other table's chains on the same hooks.\n"
		     "# Counters: nft list counters table inet speebpf. rule.in.ID and rule.out.ID\n"
		     "# count each rule's new connections, reason.DIR.REASON the rest, as\n"
		     "# `speebpf stats` does.\n");
	if (p->mode == SPEE_MODE_AUDIT)
		fprintf(out, "# Audit mode: nothing is dropped; what would be is counted under its\n"
			     "# reason and logged with the prefix \"speebpf DIR would-drop REASON\".\n");
	if (p->n_names)
		fprintf(out, "# DNS names: the sets dns4.NAME and dns6.NAME hold the addresses the\n"
			     "# names had when exported; `speebpf export ... --format nftables-names\n"
			     "# | nft -f -` replaces only those sets' contents (run it from a timer).\n");
	fprintf(out, "# What differs from the eBPF datapath: docs/export.md.\n\n");
}

static void write_counter(FILE *out, const char *name, const char *comment)
{
	fprintf(out, "\tcounter %s {", name);
	if (comment) {
		fprintf(out, "\n\t\tcomment ");
		put_quoted(out, comment);
		fprintf(out, "\n\t");
	}
	fprintf(out, "}\n");
}

/* The reasons each direction counts besides its rules. */
static const uint8_t reasons_in[] = {
	SPEE_REASON_ESTABLISHED, SPEE_REASON_ICMP,     SPEE_REASON_ND,	    SPEE_REASON_LOOPBACK,
	SPEE_REASON_FRAGMENT,	 SPEE_REASON_MALFORMED, SPEE_REASON_NO_RULE,
};
static const uint8_t reasons_out[] = {
	SPEE_REASON_ESTABLISHED, SPEE_REASON_ICMP,	SPEE_REASON_ND,	     SPEE_REASON_LOOPBACK,
	SPEE_REASON_DNS,	 SPEE_REASON_MALFORMED, SPEE_REASON_NO_RULE,
};

static int write_counters(const struct policy *p, FILE *out)
{
	char name[SPEE_RULE_ID_LEN + 16], match[48];

	fprintf(out, "\t# ---- counters: each rule enforced here, per direction; each reason ----\n");
	for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++) {
		for (size_t r = 0; r < p->n_rules; r++) {
			const struct policy_rule *rule = &p->rules[r];
			char *comment;

			if (!(rule->dirs & (1u << dir)))
				continue;
			snprintf(name, sizeof(name), "rule.%s.%s", dir_tag(dir), rule->id);
			proto_match_text(rule->proto, rule->port_lo, rule->port_hi, match,
					 sizeof(match));
			if (asprintf(&comment, "%s %s %s", match, dir == SPEE_DIR_INGRESS ? "from" : "to",
				     rule->peers_text[dir]) < 0)
				return -ENOMEM;
			write_counter(out, name, comment);
			free(comment);
		}
	}
	for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++) {
		const uint8_t *v = dir == SPEE_DIR_INGRESS ? reasons_in : reasons_out;
		size_t n = dir == SPEE_DIR_INGRESS ? sizeof(reasons_in) : sizeof(reasons_out);

		for (size_t i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "reason.%s.%s", dir_tag(dir),
				 reason_label(v[i]));
			write_counter(out, name, NULL);
		}
	}
	return 0;
}

/* "elements = { a, b, ... }" of a sorted list (duplicates adjacent and written once). */
static void write_elements(FILE *out, const struct prefix *const *v, size_t n)
{
	char text[ADDR_TEXT_LEN];
	size_t shown = 0;

	if (!n)
		return;
	fprintf(out, "\t\telements = { ");
	for (size_t i = 0; i < n; i++) {
		if (i && !prefix_cmp(v[i], v[i - 1]))
			continue;
		prefix_format(v[i], text, sizeof(text));
		if (shown)
			fprintf(out, shown % ELEMENTS_PER_LINE ? ", " : ",\n\t\t\t     ");
		fprintf(out, "%s", text);
		shown++;
	}
	fprintf(out, " }\n");
}

static void write_set_head(FILE *out, const char *name, uint8_t family, bool interval,
			   const char *comment)
{
	fprintf(out, "\tset %s {\n\t\ttype %s\n", name,
		family == AF_INET ? "ipv4_addr" : "ipv6_addr");
	if (interval)
		fprintf(out, "\t\tflags interval\n");
	fprintf(out, "\t\tcomment ");
	put_quoted(out, comment);
	fprintf(out, "\n");
}

static int write_rule_sets(const struct nft_plan *pl, FILE *out)
{
	const struct policy *p = pl->p;
	const struct prefix **v = malloc((pl->n_pfx ? pl->n_pfx : 1) * sizeof(*v));
	char name[NFT_NAME_MAX + 1];

	if (!v)
		return -ENOMEM;
	fprintf(out, "\n\t# ---- peers: each rule's, per direction, family and prefix length ----\n");
	for (size_t s = 0; s < pl->n_sets; s++) {
		const struct nft_set *set = &pl->sets[s];
		const struct policy_entry *e = set->elems[0];

		set_name(pl, s, name, sizeof(name));
		write_set_head(out, name, e->prefix.family,
			       e->prefix.len < prefix_max_len(e->prefix.family),
			       e->reason == SPEE_REASON_RULE ? p->rules[e->rule].peers_text[e->dir]
			       : e->reason == SPEE_REASON_DNS ? "the host's resolvers"
							      : reason_label(e->reason));
		for (size_t i = 0; i < set->n; i++)
			v[i] = &set->elems[i]->prefix;
		write_elements(out, v, set->n);
		fprintf(out, "\t}\n");
	}
	free(v);
	return 0;
}

/* The v4 or v6 addresses of a name, as a list write_elements takes (at most 64). */
static size_t name_family_addrs(const struct name_addrs *na, uint8_t family,
				const struct prefix **v, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; na && i < na->n_addrs && n < max; i++)
		if (na->addrs[i].family == family)
			v[n++] = &na->addrs[i];
	return n;
}

#define NAME_ADDRS_MAX 256

static int write_name_sets(const struct policy *p, const struct name_table *names, FILE *out,
			   struct diags *d)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	const struct prefix *v[NAME_ADDRS_MAX];
	char name[NFT_NAME_MAX + 1];
	int err;

	if (!p->n_names)
		return 0;
	fprintf(out, "\n\t# ---- DNS names: their addresses when exported; --format nftables-names "
		     "refreshes them ----\n");
	for (size_t i = 0; i < p->n_names; i++) {
		const struct name_addrs *na = export_name_addrs(names, p->names[i]);

		for (size_t f = 0; f < sizeof(families); f++) {
			err = name_set_name(p, p->names[i], families[f], name, sizeof(name), d);
			if (err)
				return err;
			write_set_head(out, name, families[f], false,
				       na ? p->names[i]
					  : "not resolved when exported: allows nothing yet");
			write_elements(out, v, name_family_addrs(na, families[f], v, NAME_ADDRS_MAX));
			fprintf(out, "\t}\n");
		}
	}
	return 0;
}

/* One chain per (direction, drop reason): log within the events' rate, count, then the verdict. */
static void write_verdict_chain(const struct policy *p, FILE *out, uint8_t dir, uint8_t reason)
{
	bool pass = explain_reason_passes(p, dir, reason);
	bool audit = p->mode == SPEE_MODE_AUDIT;

	fprintf(out, "\n\tchain %s-%s-%s {\n", pass ? "pass" : "drop", dir_tag(dir),
		reason_label(reason));
	if (p->cfg->events_rate && (!pass || audit))
		fprintf(out,
			"\t\tlimit rate %u/second burst %u packets log prefix \"speebpf %s %s%s: \" "
			"level info\n",
			p->cfg->events_rate, p->cfg->events_burst, dir_label(dir),
			audit ? "would-drop " : "", reason_label(reason));
	fprintf(out, "\t\tcounter name \"reason.%s.%s\" %s\n\t}\n", dir_tag(dir), reason_label(reason),
		pass ? "accept" : "drop");
}

static const char *verdict_chain(const struct policy *p, uint8_t dir, uint8_t reason, char *buf,
				 size_t len)
{
	snprintf(buf, len, "%s-%s-%s", explain_reason_passes(p, dir, reason) ? "pass" : "drop",
		 dir_tag(dir), reason_label(reason));
	return buf;
}

/*
 * What passes before any rule, in both directions and as in the datapath:
 * loopback, ICMP errors and path-MTU messages, neighbour discovery and MLD,
 * then replies; TCP with SYN and FIN or RST set is malformed.
 */
static void write_base_chain(const struct policy *p, FILE *out, uint8_t dir)
{
	const char *t = dir_tag(dir);
	char chain[48];

	fprintf(out, "\n\tchain %s {\n", dir == SPEE_DIR_INGRESS ? "input" : "output");
	fprintf(out, "\t\ttype filter hook %s priority filter; policy accept;\n",
		dir == SPEE_DIR_INGRESS ? "input" : "output");
	fprintf(out, "\t\t%s \"lo\" counter name \"reason.%s.loopback\" accept\n",
		dir == SPEE_DIR_INGRESS ? "iif" : "oif", t);
	fprintf(out, "\t\ticmp type { destination-unreachable, time-exceeded, parameter-problem } "
		     "counter name \"reason.%s.icmp\" accept\n", t);
	fprintf(out, "\t\ticmpv6 type { destination-unreachable, packet-too-big, time-exceeded, "
		     "parameter-problem } counter name \"reason.%s.icmp\" accept\n", t);
	fprintf(out, "\t\ticmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, "
		     "nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, "
		     "nd-redirect, mld2-listener-report } counter name \"reason.%s.nd\" accept\n", t);
	fprintf(out, "\t\tct state established,related counter name \"reason.%s.established\" "
		     "accept\n", t);
	verdict_chain(p, dir, SPEE_REASON_MALFORMED, chain, sizeof(chain));
	fprintf(out, "\t\ttcp flags & (syn | fin) == syn | fin goto %s\n", chain);
	fprintf(out, "\t\ttcp flags & (syn | rst) == syn | rst goto %s\n", chain);
	if (dir == SPEE_DIR_EGRESS)
		/*
		 * The host's own TCP connections that conntrack did not see open
		 * (they predate the ruleset): their segments are theirs, as the
		 * datapath's socket check says. Without this, loading the
		 * ruleset could cut a session it allows, such as the SSH
		 * session that loads it.
		 */
		fprintf(out, "\t\ttcp flags & (syn | ack) != syn counter name "
			     "\"reason.out.established\" accept\n");
	fprintf(out, "\t\tmeta nfproto ipv4 jump %s4\n", hook_chain_name(dir));
	fprintf(out, "\t\tmeta nfproto ipv6 jump %s6\n", hook_chain_name(dir));
	fprintf(out, "\t\tgoto %s\n\t}\n", verdict_chain(p, dir, SPEE_REASON_NO_RULE, chain,
							   sizeof(chain)));
}

/*
 * Before conntrack reassembles fragments (priority -400), a first fragment
 * addressed to the host must hold its whole TCP or UDP header: one that does
 * not cannot be judged by its ports, and the datapath drops it as `fragment`.
 * Later fragments are judged with their datagram, once reassembled.
 */
static void write_fragment_chains(const struct policy *p, FILE *out)
{
	char chain[48];

	fprintf(out, "\n\tchain fragments {\n"
		     "\t\ttype filter hook prerouting priority -450; policy accept;\n"
		     "\t\tip frag-off & 0x3fff == 0x2000 fib daddr type { local, broadcast, "
		     "multicast } jump first-fragment\n"
		     "\t\tfrag frag-off 0 frag more-fragments 1 fib daddr type { local, broadcast, "
		     "multicast } jump first-fragment\n"
		     "\t}\n");
	fprintf(out, "\n\tchain first-fragment {\n"
		     "\t\tmeta l4proto tcp @th,152,8 & 0x0 == 0x0 return\n"
		     "\t\tmeta l4proto udp @th,56,8 & 0x0 == 0x0 return\n"
		     "\t\tmeta l4proto != { tcp, udp } return\n"
		     "\t\tgoto %s\n\t}\n",
		verdict_chain(p, SPEE_DIR_INGRESS, SPEE_REASON_FRAGMENT, chain, sizeof(chain)));
}

static int write_row(const struct nft_plan *pl, const struct nft_row *r, FILE *out,
		     struct diags *d)
{
	const struct policy *p = pl->p;
	const char *l3 = r->family == AF_INET ? "ip" : "ip6";
	const char *side = r->dir == SPEE_DIR_INGRESS ? "saddr" : "daddr";
	char set[NFT_NAME_MAX + 1], ports[16], counter[SPEE_RULE_ID_LEN + 16];
	int err;

	fprintf(out, "\t\t");
	if (r->name) {
		err = name_set_name(p, r->name, r->family, set, sizeof(set), d);
		if (err)
			return err;
		fprintf(out, "%s %s @%s ", l3, side, set);
	} else if (r->set >= 0) {
		set_name(pl, (size_t)r->set, set, sizeof(set));
		fprintf(out, "%s %s @%s ", l3, side, set);
	}
	export_port_text(r->port_lo, r->port_hi, ports, sizeof(ports));
	/* The match as nft says it; icmp and ip by number, which every nft version reads alike. */
	if (r->proto == IPPROTO_TCP || r->proto == IPPROTO_UDP) {
		fprintf(out, "%s dport %s ", proto_label(r->proto), ports);
	} else if (proto_is_icmp(r->proto)) {
		fprintf(out, "%s type %u ", r->proto == IPPROTO_ICMP ? "icmp" : "icmpv6", r->port_lo);
	} else if (r->e->reason == SPEE_REASON_RULE && export_proto_known(r->proto)) {
		/* proto: ip; the compiler's own pseudo-protocols (local, ...) are no rule's */
		fprintf(out, "meta l4proto %u ", r->proto);
	} else {
		if (r->e->reason == SPEE_REASON_RULE)
			return export_unknown_proto(p, &p->rules[r->e->rule], "nftables", d);
		diag_add(d, NULL, 0, 0, "nftables: cannot export the %s entries' protocol %u",
			 reason_label(r->e->reason), r->proto);
		return -EPROTONOSUPPORT;
	}
	counter_name(p, r->e, counter, sizeof(counter));
	fprintf(out, "counter name \"%s\" accept\n", counter);
	return 0;
}

static int write_row_chains(const struct nft_plan *pl, FILE *out, struct diags *d)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	int err = 0;

	for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++) {
		for (size_t f = 0; f < sizeof(families); f++) {
			fprintf(out, "\n\tchain %s%d {\n"
				     "\t\t# new connections over IPv%d: the longest prefix first; "
				     "at one length, the earlier row\n",
				hook_chain_name(dir), fam_digit(families[f]), fam_digit(families[f]));
			for (size_t i = 0; i < pl->n_rows && !err; i++)
				if (pl->rows[i].dir == dir && pl->rows[i].family == families[f])
					err = write_row(pl, &pl->rows[i], out, d);
			if (err)
				return err;
			fprintf(out, "\t}\n");
		}
	}
	return 0;
}

/* Every rule's protocol, checked before anything is written. */
static int check_protocols(const struct policy *p, struct diags *d)
{
	for (size_t r = 0; r < p->n_rules; r++)
		if (!export_proto_known(p->rules[r].proto))
			return export_unknown_proto(p, &p->rules[r], "nftables", d);
	return 0;
}

int nft_write_ruleset(const struct policy *p, const struct name_table *names, FILE *out,
		      struct diags *d)
{
	struct nft_plan pl = { .p = p };
	int err;

	err = check_protocols(p, d);
	if (!err)
		err = plan_prefixes(&pl);
	if (!err)
		err = plan_names(&pl);
	if (err)
		goto out;
	qsort(pl.rows, pl.n_rows, sizeof(*pl.rows), cmp_row);

	write_header(p, out);
	fprintf(out, "table inet speebpf\ndelete table inet speebpf\n\ntable inet speebpf {\n");
	err = write_counters(p, out);
	if (!err)
		err = write_rule_sets(&pl, out);
	if (!err)
		err = write_name_sets(p, names, out, d);
	if (err)
		goto out;
	write_fragment_chains(p, out);
	write_verdict_chain(p, out, SPEE_DIR_INGRESS, SPEE_REASON_FRAGMENT);
	for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++) {
		write_verdict_chain(p, out, dir, SPEE_REASON_MALFORMED);
		write_verdict_chain(p, out, dir, SPEE_REASON_NO_RULE);
	}
	for (uint8_t dir = 0; dir < SPEE_DIR_MAX; dir++)
		write_base_chain(p, out, dir);
	err = write_row_chains(&pl, out, d);
	if (!err)
		fprintf(out, "}\n");
out:
	plan_free(&pl);
	return err;
}

/* ---- the DNS names' sets alone ------------------------------------------------ */

int nft_write_names(const struct policy *p, const struct name_table *names, FILE *out,
		    struct diags *d)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	const struct prefix *v[NAME_ADDRS_MAX];
	char name[NFT_NAME_MAX + 1], sha[65], text[ADDR_TEXT_LEN];
	int err;

	export_sha256_hex(p, sha);
	fprintf(out, "# speebpf nftables-names for host %s: the addresses of the DNS names its\n"
		     "# rules use, for table inet speebpf as --format nftables wrote it\n"
		     "# from %s (sha256 %s).\n"
		     "# Load: nft -f FILE. It replaces these sets' contents in one transaction;\n"
		     "# rules and counters stay. A name that did not resolve keeps its addresses.\n",
		p->host->name, export_config_name(p), sha);
	if (!p->n_names)
		fprintf(out, "# The rules of host %s use no DNS name: nothing to refresh.\n",
			p->host->name);
	for (size_t i = 0; i < p->n_names; i++) {
		const struct name_addrs *na = export_name_addrs(names, p->names[i]);
		const struct name_addrs *known = names_find(names, p->names[i]);

		if (!na) {
			fprintf(out, "# %s: not resolved%s%s%s: its sets keep their addresses\n",
				p->names[i], known && known->last_error ? " (" : "",
				known && known->last_error ? known->last_error : "",
				known && known->last_error ? ")" : "");
			continue;
		}
		for (size_t f = 0; f < sizeof(families); f++) {
			size_t n = name_family_addrs(na, families[f], v, NAME_ADDRS_MAX);

			err = name_set_name(p, p->names[i], families[f], name, sizeof(name), d);
			if (err)
				return err;
			fprintf(out, "flush set inet speebpf %s\n", name);
			if (!n)
				continue;
			fprintf(out, "add element inet speebpf %s { ", name);
			for (size_t k = 0; k < n; k++) {
				prefix_format(v[k], text, sizeof(text));
				fprintf(out, "%s%s", k ? ", " : "", text);
			}
			fprintf(out, " }\n");
		}
	}
	return 0;
}
