// SPDX-License-Identifier: GPL-2.0-only
/*
 * The config's rules (see config_schema.h): what `ports:`, `disable:` and
 * `narrow:` change about the built-in matrix, site rules and failsafe rules,
 * and the one namespace their ids share.
 */
#include "config_rules.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "config_peers.h"
#include "labels.h"
#include "matrix.h"
#include "protocols.h"

#define PORT_MAX 65535
#define FAILSAFE_SSH_PORT 22
#define FAILSAFE_SSH_DESCRIPTION "SSH from the administration networks (failsafe)"

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!cfg_is_digit(*s))
			return false;
	return true;
}

/* tcp/22 from ADM to every host: the contract's failsafe when the file has none. */
int cfg_default_failsafe(struct config *cfg)
{
	struct cfg_rule *r;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	cfg->failsafe = r;
	cfg->n_failsafe = 1;
	r->id = strdup(CONFIG_FAILSAFE_SSH_ID);
	r->description = strdup(FAILSAFE_SSH_DESCRIPTION);
	r->from.v = calloc(1, sizeof(*r->from.v));
	if (!r->id || !r->description || !r->from.v || cfg_every_host(&r->to))
		return -ENOMEM;
	r->proto = IPPROTO_TCP;
	r->port_lo = FAILSAFE_SSH_PORT;
	r->port_hi = FAILSAFE_SSH_PORT;
	r->from.v[0].kind = PEER_NETWORK;
	r->from.v[0].network = CONFIG_NETWORK_ADM;
	r->from.n = 1;
	return 0;
}

static int unknown_rule_id(struct cfg_parser *p, const struct ynode *n, const char *id)
{
	const char *best = NULL;
	size_t best_d = Y_TYPO_MAX + 1;

	for (size_t i = 0; i < matrix_rule_count; i++) {
		size_t d = y_edit_distance(id, matrix_rules[i].id);

		if (d < best_d) {
			best_d = d;
			best = matrix_rules[i].id;
		}
	}
	if (best)
		return y_error(&p->y, n, "unknown rule id '%s' (did you mean '%s'?)", id, best);
	return y_error(&p->y, n, "unknown rule id '%s'", id);
}

/*
 * Index of the built-in rule `id` names, noting where the file first
 * mentions it; a negative errno after reporting an unknown id.
 */
static int matrix_rule(struct cfg_parser *p, const struct ynode *n, const char *id)
{
	struct cfg_matrix_override *o;
	struct src_loc loc = y_loc(n);
	int i = matrix_find(id);

	if (i < 0)
		return unknown_rule_id(p, n, id);
	o = &p->cfg->matrix[i];
	if (!o->loc.line || cfg_loc_before(loc, o->loc))
		o->loc = loc;
	return i;
}

/* ---- ports, disable, narrow ---- */

static int parse_port(struct cfg_parser *p, const struct ynode *n, uint16_t *port)
{
	long long v;
	int err;

	err = y_int(&p->y, n, &v);
	if (err)
		return err;
	if (v < 1 || v > PORT_MAX)
		return y_error(&p->y, n, "port %s is out of range (1-%d)", y_text(n), PORT_MAX);
	*port = (uint16_t)v;
	return 0;
}

int cfg_parse_ports(struct cfg_parser *p, struct ynode *n)
{
	size_t len = 0;
	int err;

	if (y_is_null(n))
		return 0;
	err = y_map(&p->y, n, &len);
	for (size_t i = 0; i < len && !y_fatal(err); i++) {
		struct ynode *k, *v;
		const char *id;
		uint16_t port = 0;
		int idx;

		err = y_map_pair(&p->y, n, i, &id, &k, &v);
		if (err)
			continue;
		idx = matrix_rule(p, k, id);
		err = parse_port(p, v, &port);
		if (y_fatal(idx))
			err = idx;
		else if (!err && idx >= 0)
			p->cfg->matrix[idx].port = port;
	}
	return err;
}

int cfg_parse_disable(struct cfg_parser *p, struct ynode *n)
{
	size_t len = 0;
	int err;

	if (y_is_null(n))
		return 0;
	err = y_seq(&p->y, n, &len);
	for (size_t i = 0; i < len && !y_fatal(err); i++) {
		const struct ynode *item = y_seq_item(&p->y, n, i);
		struct cfg_matrix_override *o;
		const char *id;
		int idx;

		err = y_str(&p->y, item, &id);
		if (err)
			continue;
		idx = matrix_rule(p, item, id);
		if (idx < 0) {
			err = idx;
			continue;
		}
		o = &p->cfg->matrix[idx];
		if (o->disabled)
			err = y_error(&p->y, item, "rule '%s' is disabled twice", id);
		o->disabled = true;
	}
	return err;
}

static int parse_narrow_rule(struct cfg_parser *p, const struct ynode *k, const char *id,
			     const struct ynode *v)
{
	struct peer_list tmp = {0};
	const struct matrix_rule *r;
	int idx, err = 0;

	idx = matrix_rule(p, k, id);
	if (y_fatal(idx))
		return idx;
	if (idx >= 0) {
		r = &matrix_rules[idx];
		if (!matrix_side_is_any(r, true) && !matrix_side_is_any(r, false))
			err = y_error(&p->y, k, "rule '%s' has no ANY side to narrow%s", id,
				      !strcmp(id, "ca-revocation") ? "; set networks: CA instead"
								   : "");
	}
	if (y_fatal(err))
		return err;
	if (y_is_empty_seq(v))
		return y_error(&p->y, v,
			       "narrow list of '%s' is empty; use disable: to switch the rule off",
			       id);
	err = cfg_parse_peers(p, v, false, &tmp);
	/* Kept even after a problem, so that config_free() has one owner to free. */
	if (idx >= 0 && !p->cfg->matrix[idx].narrowed) {
		p->cfg->matrix[idx].narrowed = true;
		p->cfg->matrix[idx].narrow = tmp;
	} else {
		cfg_peers_free(&tmp);
	}
	return err;
}

int cfg_parse_narrow(struct cfg_parser *p, struct ynode *n)
{
	size_t len = 0;
	int err;

	if (y_is_null(n))
		return 0;
	err = y_map(&p->y, n, &len);
	for (size_t i = 0; i < len && !y_fatal(err); i++) {
		struct ynode *k, *v;
		const char *id;

		err = y_map_pair(&p->y, n, i, &id, &k, &v);
		if (!err)
			err = parse_narrow_rule(p, k, id, v);
	}
	return err;
}

/* ---- site and failsafe rules ---- */

static int parse_rule_id(struct cfg_parser *p, const struct ynode *n, struct cfg_rule *r)
{
	const char *s;
	bool ok;
	int err;

	err = y_str(&p->y, n, &s);
	if (err)
		return err;
	/* A rule is where its id is written: duplicates and later stages point there. */
	r->loc = y_loc(n);
	r->id = strdup(s);
	if (!r->id)
		return -ENOMEM;
	ok = (*s >= 'a' && *s <= 'z') || cfg_is_digit(*s);
	for (const char *c = s; *c && ok; c++)
		ok = (*c >= 'a' && *c <= 'z') || cfg_is_digit(*c) || *c == '-';
	if (!ok)
		return y_error(&p->y, n,
			       "rule id '%s' is not valid (lowercase letters, digits and '-', not "
			       "starting with '-')",
			       s);
	if (strlen(s) >= SPEE_RULE_ID_LEN)
		return y_error(&p->y, n, "rule id '%s' is too long (at most %d characters)", s,
			       SPEE_RULE_ID_LEN - 1);
	if (matrix_find(s) >= 0)
		return y_error(&p->y, n, "rule id '%s' collides with a built-in rule", s);
	if (!strncmp(s, BASELINE_ID_PREFIX, strlen(BASELINE_ID_PREFIX)))
		return y_error(&p->y, n,
			       "rule id '%s' starts with '" BASELINE_ID_PREFIX "', which is kept "
			       "for the baselines",
			       s);
	return 0;
}

/* What `proto:` says; `ip` becomes a protocol number only with ip-proto. */
enum rule_kind { KIND_TCP, KIND_UDP, KIND_ICMP, KIND_ICMPV6, KIND_IP };

static const char *const kind_names[] = {
	[KIND_TCP] = "tcp", [KIND_UDP] = "udp", [KIND_ICMP] = "icmp", [KIND_ICMPV6] = "icmpv6",
	[KIND_IP] = "ip",
};

static int parse_kind(struct cfg_parser *p, const struct ynode *n, enum rule_kind *kind)
{
	const char *s;
	int err;

	err = y_str(&p->y, n, &s);
	if (err)
		return err;
	for (int k = KIND_TCP; k <= KIND_IP; k++) {
		if (!strcmp(s, kind_names[k])) {
			*kind = (enum rule_kind)k;
			return 0;
		}
	}
	if (ip_proto_from_name(s) >= 0)
		return y_error(&p->y, n,
			       "unknown protocol '%s' (expected tcp, udp, icmp, icmpv6 or ip; for %s "
			       "write proto: ip with ip-proto: %s)",
			       s, s, s);
	return y_error(&p->y, n, "unknown protocol '%s' (expected tcp, udp, icmp, icmpv6 or ip)",
		       s);
}

static uint8_t kind_proto(enum rule_kind kind)
{
	return kind == KIND_TCP	   ? IPPROTO_TCP :
	       kind == KIND_UDP	   ? IPPROTO_UDP :
	       kind == KIND_ICMP   ? IPPROTO_ICMP :
	       kind == KIND_ICMPV6 ? IPPROTO_ICMPV6 :
				     0;
}

/* A number 0-255 written plainly or quoted, or else a name: 1 for a name, 0 for a number. */
static int number_or_name(struct cfg_parser *p, const struct ynode *n, const char *what,
			  const char **s, long long *v)
{
	int err = y_str(&p->y, n, s);

	if (err)
		return err;
	if (!y_parse_int(*s, v))
		return 1;
	if (*v < 0 || *v > 255)
		return y_error(&p->y, n, "%s %s is out of range (0-255)", what, *s);
	return 0;
}

/* icmp-type: a name of the rule's family or a number; never an error or ND message. */
static int parse_icmp_type(struct cfg_parser *p, const struct ynode *n, uint8_t proto,
			   struct cfg_rule *r)
{
	uint8_t other = proto == IPPROTO_ICMP ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	const char *fam = proto == IPPROTO_ICMP ? "icmp" : "icmpv6";
	const char *s, *name, *hint;
	long long v;
	int err;

	err = number_or_name(p, n, "icmp-type", &s, &v);
	if (err < 0)
		return err;
	if (err == 1) {
		v = icmp_type_from_name(proto, s);
		if (v < 0 && icmp_type_from_name(other, s) >= 0)
			return y_error(&p->y, n, "icmp-type '%s' is an %s type: write proto: %s", s,
				       proto == IPPROTO_ICMP ? "ICMPv6" : "ICMP (IPv4)",
				       proto == IPPROTO_ICMP ? "icmpv6" : "icmp");
		if (v < 0) {
			char names[512];

			hint = icmp_type_suggest(proto, s);
			if (hint)
				return y_error(&p->y, n,
					       "unknown icmp-type '%s' for proto %s (did you mean "
					       "'%s'?)",
					       s, fam, hint);
			icmp_type_names(proto, names, sizeof(names));
			return y_error(&p->y, n,
				       "unknown icmp-type '%s' for proto %s (a number 0-255 or one "
				       "of: %s)",
				       s, fam, names);
		}
	}
	name = icmp_type_name(proto, (unsigned)v);
	switch (icmp_type_class(proto, (unsigned)v)) {
	case ICMP_CLASS_ERROR:
		return y_error(&p->y, n,
			       "icmp-type %s is an error message, which passes whenever it concerns "
			       "a connection of the host: a rule cannot allow it",
			       name ? name : s);
	case ICMP_CLASS_ND:
		return y_error(&p->y, n,
			       "icmp-type %s is neighbour discovery or MLD, which always passes on "
			       "the link: a rule cannot allow it",
			       name ? name : s);
	case ICMP_CLASS_OTHER:
		break;
	}
	r->port_lo = r->port_hi = (uint16_t)v;
	return 0;
}

/* ip-proto: a protocol number or name that only proto: ip can name. */
static int parse_ip_proto(struct cfg_parser *p, const struct ynode *n, struct cfg_rule *r)
{
	const char *s, *hint, *why;
	long long v;
	int err;

	err = number_or_name(p, n, "ip-proto", &s, &v);
	if (err < 0)
		return err;
	if (err == 1) {
		if (!strcmp(s, "tcp") || !strcmp(s, "udp") || !strcmp(s, "icmp") ||
		    !strcmp(s, "icmpv6"))
			return y_error(&p->y, n, "ip-proto %s is a protocol of its own: write "
				       "proto: %s", s, s);
		v = ip_proto_from_name(s);
		if (v < 0) {
			char names[256];

			hint = ip_proto_suggest(s);
			if (hint)
				return y_error(&p->y, n,
					       "unknown ip-proto '%s' (did you mean '%s'?)", s, hint);
			ip_proto_names(names, sizeof(names));
			return y_error(&p->y, n,
				       "unknown ip-proto '%s' (a number 0-255 or one of: %s)", s,
				       names);
		}
	}
	why = ip_proto_refusal((unsigned)v);
	if (why)
		return y_error(&p->y, n, "ip-proto %s %s", s, why);
	r->proto = (uint8_t)v;
	r->port_lo = r->port_hi = 0;
	return 0;
}

static int port_in_range(struct cfg_parser *p, const struct ynode *n, const char *text, long long v)
{
	if (v < 1 || v > PORT_MAX)
		return y_error(&p->y, n, "port %s is out of range (1-%d)", text, PORT_MAX);
	return 0;
}

/* A port (an integer or a string of one) or a range "LO-HI". */
static int parse_port_range(struct cfg_parser *p, const struct ynode *n, struct cfg_rule *r)
{
	const char *s = y_text(n), *dash;
	char lo_text[16], hi_text[16];
	long long lo, hi;
	int err;

	if (!y_is_scalar(n) || y_is_null(n))
		goto bad;
	if (y_parse_int(s, &lo)) {
		hi = lo;
		err = port_in_range(p, n, s, lo);
		goto out;
	}
	dash = strchr(s, '-');
	if (!dash || (size_t)(dash - s) >= sizeof(lo_text) || strlen(dash + 1) >= sizeof(hi_text))
		goto bad;
	memcpy(lo_text, s, (size_t)(dash - s));
	lo_text[dash - s] = '\0';
	strcpy(hi_text, dash + 1);
	if (!all_digits(lo_text) || !all_digits(hi_text))
		goto bad;
	lo = strtoll(lo_text, NULL, 10);
	hi = strtoll(hi_text, NULL, 10);
	err = port_in_range(p, n, lo_text, lo);
	if (!err)
		err = port_in_range(p, n, hi_text, hi);
	if (!err && lo > hi)
		err = y_error(&p->y, n, "port range '%s' is backwards (%lld > %lld)", s, lo, hi);
out:
	if (!err) {
		r->port_lo = (uint16_t)lo;
		r->port_hi = (uint16_t)hi;
	}
	return err;
bad:
	return y_error(&p->y, n, "expected a port or a range like \"8000-8100\"");
}

static int parse_description(struct cfg_parser *p, const struct ynode *n, char **out)
{
	const char *s;
	int err;

	if (y_is_null(n))
		return 0;
	err = y_str(&p->y, n, &s);
	if (err)
		return err;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

enum {
	R_ID,
	R_PROTO,
	R_PORT,
	R_ICMP_TYPE,
	R_IP_PROTO,
	R_FROM,
	R_TO,
	R_DESCRIPTION,
	R_COUNT,
};

/*
 * What the rule matches: proto, and the one key that goes with it (port,
 * icmp-type or ip-proto); a key that does not go with the protocol is an
 * error where it is written.
 */
static int parse_match(struct cfg_parser *p, const struct ynode *rule, struct y_field *f,
		       struct cfg_rule *r)
{
	enum rule_kind kind = KIND_TCP;
	const char *written = f[R_PROTO].value ? "" : " (the default)";
	int err = 0, kerr = 0;

	if (f[R_PROTO].value) {
		kerr = parse_kind(p, f[R_PROTO].value, &kind);
		if (kerr)
			return kerr; /* which keys belong is unknown: say nothing of them */
	}
	r->proto = kind_proto(kind);
	if (f[R_PORT].key && !proto_has_ports(r->proto))
		err = y_error(&p->y, f[R_PORT].key, "proto %s has no ports (%s)", kind_names[kind],
			      kind == KIND_IP ? "name the protocol with ip-proto"
					      : "name the message with icmp-type");
	if (!y_fatal(err) && f[R_ICMP_TYPE].key && !proto_is_icmp(r->proto))
		err = y_error(&p->y, f[R_ICMP_TYPE].key,
			      "icmp-type is for proto icmp or icmpv6, not %s%s", kind_names[kind],
			      written);
	if (!y_fatal(err) && f[R_IP_PROTO].key && kind != KIND_IP)
		err = y_error(&p->y, f[R_IP_PROTO].key, "ip-proto is for proto ip, not %s%s",
			      kind_names[kind], written);
	if (y_fatal(err))
		return err;
	switch (kind) {
	case KIND_TCP:
	case KIND_UDP:
		if (!f[R_PORT].value)
			return y_error(&p->y, rule, "missing key 'port'");
		return parse_port_range(p, f[R_PORT].value, r) ?: err;
	case KIND_ICMP:
	case KIND_ICMPV6:
		if (!f[R_ICMP_TYPE].value)
			return y_error(&p->y, f[R_PROTO].value,
				       "proto %s needs icmp-type: the message, a name such as "
				       "echo-request or a number 0-255",
				       kind_names[kind]);
		return parse_icmp_type(p, f[R_ICMP_TYPE].value, r->proto, r) ?: err;
	case KIND_IP:
		if (!f[R_IP_PROTO].value)
			return y_error(&p->y, f[R_PROTO].value,
				       "proto ip needs ip-proto: the protocol, a number 0-255 or a "
				       "name such as vrrp, esp or gre");
		return parse_ip_proto(p, f[R_IP_PROTO].value, r) ?: err;
	}
	return err;
}

static int parse_rule(struct cfg_parser *p, const struct ynode *n, bool failsafe, struct cfg_rule *r)
{
	/* A failsafe rule protects every host unless it says otherwise: `to` is optional. */
	struct y_field f[R_COUNT] = {
	    [R_ID] = {.name = "id", .required = true},
	    [R_PROTO] = {.name = "proto"},
	    [R_PORT] = {.name = "port"}, /* required with tcp and udp (parse_match) */
	    [R_ICMP_TYPE] = {.name = "icmp-type"},
	    [R_IP_PROTO] = {.name = "ip-proto"},
	    [R_FROM] = {.name = "from", .required = true},
	    [R_TO] = {.name = "to", .required = !failsafe},
	    [R_DESCRIPTION] = {.name = "description"},
	};
	int err;

	r->loc = y_loc(n);
	r->proto = IPPROTO_TCP;
	err = y_map(&p->y, n, NULL);
	if (err)
		return err;
	err = y_fields(&p->y, n, f, R_COUNT);
	if (!y_fatal(err) && f[R_ID].value)
		err = parse_rule_id(p, f[R_ID].value, r);
	/* A misspelled key of the match is reported as such (y_fields), not also as missing. */
	if (!y_fatal(err) && !f[R_PROTO].hinted && !f[R_PORT].hinted && !f[R_ICMP_TYPE].hinted &&
	    !f[R_IP_PROTO].hinted)
		err = parse_match(p, n, f, r);
	if (!y_fatal(err) && f[R_FROM].value)
		err = cfg_parse_peers(p, f[R_FROM].value, false, &r->from);
	if (!y_fatal(err) && f[R_TO].value)
		err = cfg_parse_peers(p, f[R_TO].value, false, &r->to);
	else if (!y_fatal(err) && failsafe)
		err = cfg_every_host(&r->to);
	if (!y_fatal(err) && f[R_DESCRIPTION].value)
		err = parse_description(p, f[R_DESCRIPTION].value, &r->description);
	return err;
}

static int parse_rule_list(struct cfg_parser *p, const struct ynode *n, bool failsafe,
			   struct cfg_rule **out, size_t *count)
{
	size_t len;
	int err;

	err = y_seq(&p->y, n, &len);
	if (err || !len)
		return err;
	*out = calloc(len, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		err = parse_rule(p, y_seq_item(&p->y, n, i), failsafe, &(*out)[(*count)++]);
		if (y_fatal(err))
			return err;
	}
	return 0;
}

int cfg_parse_site_rules(struct cfg_parser *p, struct ynode *n)
{
	if (y_is_null(n))
		return 0;
	return parse_rule_list(p, n, false, &p->cfg->rules, &p->cfg->n_rules);
}

int cfg_parse_failsafe(struct cfg_parser *p, struct ynode *n)
{
	/* Present in any form: the default is replaced, even if the list turns out bad. */
	p->cfg->failsafe_from_file = true;
	if (y_is_null(n))
		return y_error(&p->y, n, "expected a list (failsafe: [] turns the failsafe off)");
	return parse_rule_list(p, n, true, &p->cfg->failsafe, &p->cfg->n_failsafe);
}

static int cmp_rule_loc(const void *a, const void *b)
{
	const struct cfg_rule *ra = *(const struct cfg_rule *const *)a;
	const struct cfg_rule *rb = *(const struct cfg_rule *const *)b;

	return cfg_loc_before(ra->loc, rb->loc) ? -1 : cfg_loc_before(rb->loc, ra->loc) ? 1 : 0;
}

/* Site and failsafe ids share one namespace: counters and stats name rules by id. */
int cfg_check_rule_ids(struct cfg_parser *p)
{
	const struct config *cfg = p->cfg;
	const struct cfg_rule **v;
	size_t n = 0;
	int err = 0;

	v = calloc(cfg->n_rules + cfg->n_failsafe + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_rules; i++)
		if (cfg->rules[i].id)
			v[n++] = &cfg->rules[i];
	for (size_t i = 0; i < cfg->n_failsafe && cfg->failsafe_from_file; i++)
		if (cfg->failsafe[i].id)
			v[n++] = &cfg->failsafe[i];
	/* "First defined" is first in the file, whichever section comes first. */
	qsort(v, n, sizeof(*v), cmp_rule_loc);
	for (size_t i = 0; i < n && !y_fatal(err); i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(v[i]->id, v[j]->id))
				continue;
			err = y_error_at(&p->y, v[i]->loc,
					 "duplicate rule id '%s' (first defined at line %d)",
					 v[i]->id, v[j]->loc.line);
			break;
		}
		if (!y_fatal(err) && !cfg->failsafe_from_file &&
		    !strcmp(v[i]->id, CONFIG_FAILSAFE_SSH_ID))
			err = y_error_at(&p->y, v[i]->loc,
					 "rule id '%s' collides with the default failsafe rule (a "
					 "failsafe: list replaces it)",
					 v[i]->id);
	}
	free(v);
	return err;
}
