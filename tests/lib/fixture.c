// SPDX-License-Identifier: GPL-2.0-only
/* fixture.c - hand-built policies for the BPF tests (see fixture.h). */
#include "fixture.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 32
#define MAX_ENTRIES 96

struct builder {
	struct policy *p;
	bool failed;
};

static int rule_index(const struct policy *p, const char *id)
{
	for (size_t i = 0; i < p->n_rules; i++)
		if (!strcmp(p->rules[i].id, id))
			return (int)i;
	return -1;
}

static void rule(struct builder *b, const char *id, uint8_t proto, uint16_t lo, uint16_t hi,
		 uint8_t dirs)
{
	struct policy_rule *r = &b->p->rules[b->p->n_rules++];

	memset(r, 0, sizeof(*r));
	strncpy(r->id, id, sizeof(r->id) - 1);
	r->origin = RULE_SITE;
	r->matrix_index = -1;
	r->proto = proto;
	r->port_lo = lo;
	r->port_hi = hi;
	r->dirs = dirs;
}

/* peer: an address or CIDR, else a DNS name; rule_id NULL for implicit entries. */
static void entry(struct builder *b, uint8_t dir, uint8_t proto, uint16_t lo, uint16_t hi,
		  const char *peer, uint8_t reason, const char *rule_id)
{
	struct policy_entry *e = &b->p->entries[b->p->n_entries++];

	memset(e, 0, sizeof(*e));
	e->dir = dir;
	e->proto = proto;
	e->port_lo = lo;
	e->port_hi = hi;
	e->reason = reason;
	if (prefix_parse(peer, &e->prefix) == PREFIX_OK) {
		e->peer_kind = ENTRY_PEER_PREFIX;
	} else {
		e->peer_kind = ENTRY_PEER_NAME;
		e->name = peer;
	}
	if (rule_id) {
		int r = rule_index(b->p, rule_id);

		if (r < 0)
			b->failed = true;
		e->rule = (uint16_t)(r < 0 ? 0 : r);
	}
}

#define IN (1u << SPEE_DIR_INGRESS)
#define OUT (1u << SPEE_DIR_EGRESS)
#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP
#define RULE SPEE_REASON_RULE

struct policy *fixture_policy(enum fixture_id id)
{
	struct builder b = {};
	bool sw = id == FX_SWITCHED;

	b.p = calloc(1, sizeof(*b.p));
	if (!b.p)
		return NULL;
	b.p->rules = calloc(MAX_RULES, sizeof(*b.p->rules));
	b.p->entries = calloc(MAX_ENTRIES, sizeof(*b.p->entries));
	if (!b.p->rules || !b.p->entries) {
		fixture_policy_free(b.p);
		return NULL;
	}
	b.p->mode = id == FX_AUDIT ? SPEE_MODE_AUDIT : SPEE_MODE_ENFORCE;
	b.p->default_action[SPEE_DIR_INGRESS] =
		id == FX_DEFPASS ? SPEE_ACTION_PASS : SPEE_ACTION_DROP;
	b.p->default_action[SPEE_DIR_EGRESS] =
		id == FX_DEFPASS ? SPEE_ACTION_PASS : SPEE_ACTION_DROP;

	/* Rules in row order: matrix rows first, then site rules, then failsafe. */
	rule(&b, "ca-revocation", TCP, 80, 80, OUT);
	rule(&b, "ih-ews", TCP, 443, 443, OUT);
	rule(&b, "ih-icewarp", TCP, 443, 443, OUT);
	rule(&b, "cas-https", TCP, 443, 443, 0); /* a CAS rule: not enforced on this host */
	rule(&b, "mgmt-license", TCP, 443, 443, OUT);
	rule(&b, "mgmt-console", TCP, 8470, 8470, IN);
	rule(&b, "mgmt-internal", TCP, 8471, 8471, IN);
	rule(&b, "ih-internal", TCP, 8472, 8472, IN);
	rule(&b, "mgmt-api", TCP, 8474, 8474, IN);
	rule(&b, "vip-https", TCP, 443, 443, IN);
	rule(&b, "lab-https", TCP, 443, 443, IN);
	if (!sw)
		rule(&b, "lab-https-dup", TCP, 443, 443, IN);
	rule(&b, "any-https", TCP, 443, 443, IN);
	rule(&b, "syslog", UDP, 514, 514, IN);
	if (!sw)
		rule(&b, "ntp-out", UDP, 123, 123, OUT);
	rule(&b, "web-range", TCP, 9000, 9003, IN);
	rule(&b, "ghost", TCP, 8443, 8443, OUT);
	if (sw)
		rule(&b, "metrics", TCP, 9100, 9100, IN);
	rule(&b, "failsafe-ssh", TCP, 22, 22, IN);

	/* Entries: direction, protocol, port, rule order, peer. */
	entry(&b, SPEE_DIR_INGRESS, TCP, 22, 22, "198.18.9.0/24", RULE, "failsafe-ssh");
	entry(&b, SPEE_DIR_INGRESS, TCP, 22, 22, "fd00:5e::9:0/112", RULE, "failsafe-ssh");
	entry(&b, SPEE_DIR_INGRESS, TCP, 443, 443, FX_VIP4, RULE, "vip-https");
	entry(&b, SPEE_DIR_INGRESS, TCP, 443, 443, "198.18.3.0/24", RULE, "lab-https");
	if (!sw)
		entry(&b, SPEE_DIR_INGRESS, TCP, 443, 443, "198.18.3.0/24", RULE,
		      "lab-https-dup");
	entry(&b, SPEE_DIR_INGRESS, TCP, 443, 443, "0.0.0.0/0", RULE, "any-https");
	entry(&b, SPEE_DIR_INGRESS, TCP, 443, 443, "::/0", RULE, "any-https");
	entry(&b, SPEE_DIR_INGRESS, TCP, 8470, 8470, "198.18.9.0/24", RULE, "mgmt-console");
	entry(&b, SPEE_DIR_INGRESS, TCP, 8470, 8470, "fd00:5e::9:0/112", RULE, "mgmt-console");
	entry(&b, SPEE_DIR_INGRESS, TCP, 8471, 8471, FX_CAS4, RULE, "mgmt-internal");
	entry(&b, SPEE_DIR_INGRESS, TCP, 8471, 8471, FX_CAS6, RULE, "mgmt-internal");
	entry(&b, SPEE_DIR_INGRESS, TCP, 8471, 8471, FX_IH4, RULE, "mgmt-internal");
	entry(&b, SPEE_DIR_INGRESS, TCP, 8472, 8472, FX_HOST4, RULE, "ih-internal");
	entry(&b, SPEE_DIR_INGRESS, TCP, 8472, 8472, FX_CAS4, RULE, "ih-internal");
	entry(&b, SPEE_DIR_INGRESS, TCP, 8474, 8474, "198.18.9.0/24", RULE, "mgmt-api");
	entry(&b, SPEE_DIR_INGRESS, TCP, 9000, 9003, "198.18.9.0/24", RULE, "web-range");
	if (sw)
		entry(&b, SPEE_DIR_INGRESS, TCP, 9100, 9100, "198.18.9.0/24", RULE, "metrics");
	entry(&b, SPEE_DIR_INGRESS, UDP, 514, 514, "198.18.9.0/24", RULE, "syslog");
	entry(&b, SPEE_DIR_INGRESS, UDP, 514, 514, "fd00:5e::9:0/112", RULE, "syslog");

	entry(&b, SPEE_DIR_EGRESS, SPEE_PROTO_LOCAL, 0, 0, FX_HOST4, SPEE_REASON_LOOPBACK, NULL);
	entry(&b, SPEE_DIR_EGRESS, SPEE_PROTO_LOCAL, 0, 0, FX_HOST6, SPEE_REASON_LOOPBACK, NULL);
	/* the ingress scope: packets to other addresses are transit */
	entry(&b, SPEE_DIR_INGRESS, SPEE_PROTO_LOCAL, 0, 0, FX_HOST4, SPEE_REASON_LOOPBACK, NULL);
	entry(&b, SPEE_DIR_INGRESS, SPEE_PROTO_LOCAL, 0, 0, FX_HOST6, SPEE_REASON_LOOPBACK, NULL);
	/* the machine's own address of the BPF tests' real connections (test_verdicts.c: SOCK4/6) */
	entry(&b, SPEE_DIR_INGRESS, SPEE_PROTO_LOCAL, 0, 0, "198.18.1.1", SPEE_REASON_LOOPBACK, NULL);
	entry(&b, SPEE_DIR_INGRESS, SPEE_PROTO_LOCAL, 0, 0, "fd00:5e::1:1", SPEE_REASON_LOOPBACK,
	      NULL);
	b.p->host_scope = true;
	entry(&b, SPEE_DIR_EGRESS, TCP, 53, 53, FX_RES4, SPEE_REASON_DNS, NULL);
	entry(&b, SPEE_DIR_EGRESS, TCP, 53, 53, FX_RES6, SPEE_REASON_DNS, NULL);
	entry(&b, SPEE_DIR_EGRESS, TCP, 80, 80, "0.0.0.0/0", RULE, "ca-revocation");
	entry(&b, SPEE_DIR_EGRESS, TCP, 80, 80, "::/0", RULE, "ca-revocation");
	entry(&b, SPEE_DIR_EGRESS, TCP, 443, 443, "0.0.0.0/0", RULE, "ih-ews");
	entry(&b, SPEE_DIR_EGRESS, TCP, 443, 443, "::/0", RULE, "ih-ews");
	entry(&b, SPEE_DIR_EGRESS, TCP, 443, 443, "0.0.0.0/0", RULE, "ih-icewarp");
	entry(&b, SPEE_DIR_EGRESS, TCP, 443, 443, "::/0", RULE, "ih-icewarp");
	entry(&b, SPEE_DIR_EGRESS, TCP, 443, 443, "my.mailstore.com", RULE, "mgmt-license");
	entry(&b, SPEE_DIR_EGRESS, TCP, 8443, 8443, "nowhere.example.com", RULE, "ghost");
	entry(&b, SPEE_DIR_EGRESS, UDP, 53, 53, FX_RES4, SPEE_REASON_DNS, NULL);
	entry(&b, SPEE_DIR_EGRESS, UDP, 53, 53, FX_RES6, SPEE_REASON_DNS, NULL);
	if (!sw) {
		entry(&b, SPEE_DIR_EGRESS, UDP, 123, 123, "0.0.0.0/0", RULE, "ntp-out");
		entry(&b, SPEE_DIR_EGRESS, UDP, 123, 123, "::/0", RULE, "ntp-out");
	}
	if (b.failed) {
		fixture_policy_free(b.p);
		return NULL;
	}
	return b.p;
}

void fixture_policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->rules);
	free(p->entries);
	free(p);
}

int fixture_names(struct name_table *t)
{
	struct prefix ms[2];
	int err;

	if (!addr_parse(FX_MS4, &ms[0]) || !addr_parse(FX_MS6, &ms[1]))
		return -1;
	err = names_set(t, "my.mailstore.com", ms, 2, 300);
	if (!err)
		err = names_set(t, "nowhere.example.com", NULL, 0, 0);
	return err;
}
