// SPDX-License-Identifier: GPL-2.0-only
/* plan_sides.c - a policy slot's image as plan entries: read back, or built (plan_sides.h). */
#include "plan_sides.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "maps.h"
#include "namestore.h"

/* The transport protocol of a port table's l4 index. */
static uint8_t l4_proto(uint32_t l4)
{
	return l4 == SPEE_L4_UDP ? IPPROTO_UDP : IPPROTO_TCP;
}

/* Fills e's verdict: a rule's id by its counter slot (table), or an implicit reason. */
static void set_verdict(struct plan_entry *e, const struct spee_verdict *v,
			const struct spee_rule_meta *table)
{
	e->reason = v->reason;
	if (v->reason == SPEE_REASON_RULE && v->rule < SPEE_MAX_RULES)
		snprintf(e->rule, sizeof(e->rule), "%.*s", SPEE_RULE_ID_LEN - 1,
			 table[v->rule].id);
	if (v->reason == SPEE_REASON_RULE && !e->rule[0])
		snprintf(e->rule, sizeof(e->rule), "(slot %u)", v->rule); /* a slot with no id: drift */
}

/* The key's fields shared by spee_exact and spee_prefix (a prefix key is a length, then one). */
static void set_key(struct plan_entry *e, const struct spee_rule_key *k, uint8_t len)
{
	e->dir = k->dir;
	e->proto = k->proto;
	e->port_lo = e->port_hi = ntohs(k->port);
	e->peer.family = k->family == SPEE_FAMILY_V4 ? AF_INET : AF_INET6;
	e->peer.len = len;
	memcpy(e->peer.addr, k->addr, sizeof(e->peer.addr));
}

static int side_from_image(const struct maps_image *img, const struct spee_rule_meta *table,
			   struct plan_side *s)
{
	int err = 0;

	for (size_t i = 0; i < img->n_exact && !err; i++) {
		const struct spee_rule_key *k = &img->exact[i].key;
		struct plan_entry e = { 0 };

		set_key(&e, k, (uint8_t)prefix_max_len(k->family == SPEE_FAMILY_V4 ? AF_INET :
											  AF_INET6));
		set_verdict(&e, &img->exact[i].v, table);
		err = plan_side_add(s, &e);
	}
	for (size_t i = 0; i < img->n_prefix && !err; i++) {
		const struct spee_prefix_key *pk = &img->prefix[i].key;
		struct spee_rule_key k;
		struct plan_entry e = { 0 };

		memcpy(&k, &pk->slot, sizeof(k));
		set_key(&e, &k, (uint8_t)(pk->prefixlen - SPEE_PREFIX_FIXED_BITS));
		set_verdict(&e, &img->prefix[i].v, table);
		err = plan_side_add(s, &e);
	}
	/* The /0 rules ("ANY") live in the port table, one per port and family. */
	for (uint32_t k = 0; k < MAPS_SLOT_PORTS && !err; k++) {
		const struct spee_port_info *pi = &img->ports[k];

		for (int fam = 0; fam < SPEE_FAMILY_MAX && !err; fam++) {
			struct spee_verdict v = { .rule = pi->any_rule[fam], .reason = SPEE_REASON_RULE };
			struct plan_entry e = { 0 };

			if (pi->any_rule[fam] == SPEE_RULE_NONE)
				continue;
			e.dir = (uint8_t)((k >> 16) / SPEE_L4_MAX);
			e.proto = l4_proto((k >> 16) % SPEE_L4_MAX);
			e.port_lo = e.port_hi = (uint16_t)(k & 0xffff);
			e.peer = prefix_any(fam == SPEE_FAMILY_V4 ? AF_INET : AF_INET6);
			set_verdict(&e, &v, table);
			err = plan_side_add(s, &e);
		}
	}
	return err ? err : plan_side_finish(s);
}

int plan_side_read(struct instance *inst, struct plan_side *out, struct diags *d)
{
	struct spee_rule_meta *table = calloc(SPEE_MAX_RULES, sizeof(*table));
	struct maps_image img = { 0 };
	struct spee_runtime rt;
	const struct spee_slot_cfg *cfg;
	uint8_t active;
	int err;

	memset(out, 0, sizeof(*out));
	if (!table)
		return -ENOMEM;
	err = maps_read_runtime(&inst->maps, &rt, d);
	if (!err)
		err = maps_read_rules(&inst->maps, table, d);
	active = (uint8_t)(rt.active & 1);
	if (!err)
		err = maps_read_slot(&inst->maps, active, &img, d);
	if (err)
		goto out;
	cfg = &rt.slot[active];
	out->enforced = true;
	out->generation = cfg->generation;
	out->mode = cfg->mode;
	for (int dir = 0; dir < SPEE_DIR_MAX; dir++)
		out->default_action[dir] = cfg->default_action[dir];
	err = namestore_load(inst, &out->names);
	if (!err)
		err = side_from_image(&img, table, out);
	if (err)
		diag_add(d, NULL, 0, 0, "cannot read the policy %s enforces: %s", inst->pin_dir,
			 strerror(-err));
out:
	if (err)
		plan_side_free(out);
	maps_image_free(&img);
	free(table);
	return err;
}

int plan_side_build(const struct policy *p, const struct name_table *t, bool audit,
		    struct plan_side *out, struct diags *d)
{
	struct spee_rule_meta *none = calloc(SPEE_MAX_RULES, sizeof(*none));
	struct spee_rule_meta *table = calloc(SPEE_MAX_RULES, sizeof(*table));
	bool *fresh = calloc(SPEE_MAX_RULES, sizeof(*fresh));
	uint16_t *slot_of_rule = calloc(p->n_rules ? p->n_rules : 1, sizeof(*slot_of_rule));
	struct maps_image img = { 0 };
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (!none || !table || !fresh || !slot_of_rule) {
		err = -ENOMEM;
		goto out;
	}
	/* Counter slots as a new instance would give them: the ids are all the plan needs. */
	err = maps_assign_slots(none, p, table, slot_of_rule, fresh, d);
	if (!err)
		err = maps_build_image(p, t, slot_of_rule, 0, &img, d);
	if (err)
		goto out;
	out->enforced = true;
	out->mode = audit ? SPEE_MODE_AUDIT : p->mode;
	for (int dir = 0; dir < SPEE_DIR_MAX; dir++)
		out->default_action[dir] = p->default_action[dir];
	for (size_t i = 0; i < p->n_names && !err; i++) {
		const struct name_addrs *na = names_find(t, p->names[i]);

		err = names_set(&out->names, p->names[i], na ? na->addrs : NULL, na ? na->n_addrs : 0,
				na ? na->ttl : 0);
	}
	if (!err)
		err = side_from_image(&img, table, out);
out:
	if (err)
		plan_side_free(out);
	maps_image_free(&img);
	free(none);
	free(table);
	free(fresh);
	free(slot_of_rule);
	return err;
}
