// SPDX-License-Identifier: GPL-2.0-only
#include "drift.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "links.h"
#include "maps.h"
#include "maps_gateway.h"

/* Counts the differences between two key-sorted entry arrays. */
static void compare_entries(const void *want, size_t n_want, const void *have, size_t n_have,
			    size_t entry_sz, size_t key_sz, struct drift_report *r)
{
	size_t i = 0, j = 0;

	while (i < n_want || j < n_have) {
		const char *w = i < n_want ? (const char *)want + i * entry_sz : NULL;
		const char *h = j < n_have ? (const char *)have + j * entry_sz : NULL;
		int c = !w ? 1 : !h ? -1 : memcmp(w, h, key_sz);

		if (c < 0) {
			r->missing++;
			i++;
		} else if (c > 0) {
			r->extra++;
			j++;
		} else {
			r->changed += memcmp(w + key_sz, h + key_sz, entry_sz - key_sz) != 0;
			i++;
			j++;
		}
	}
}

static int check_maps(const struct spee_map_fds *m, const struct policy *p,
		      const struct gateway_policy *g, const struct name_table *t, bool audit,
		      struct drift_report *r, struct diags *d)
{
	struct spee_rule_meta *table = calloc(SPEE_MAX_RULES, sizeof(*table));
	uint16_t *slot_of_rule = calloc(p->n_rules ? p->n_rules : 1, sizeof(*slot_of_rule));
	struct maps_image want = { 0 }, have = { 0 };
	const struct spee_slot_cfg *cfg;
	struct spee_runtime rt;
	int err;

	if (!table || !slot_of_rule) {
		err = -ENOMEM;
		goto out;
	}
	err = maps_read_runtime(m, &rt, d);
	if (!err)
		err = maps_read_rules(m, table, d);
	if (err)
		goto out;
	for (size_t i = 0; i < p->n_rules; i++) {
		if (!p->rules[i].dirs)
			continue;
		slot_of_rule[i] = maps_find_rule_slot(table, p->rules[i].id);
		r->rules_unassigned += slot_of_rule[i] == 0;
	}
	if (g)
		err = maps_gateway_image(g, t, slot_of_rule, (uint8_t)(rt.active & 1), &want, d);
	else
		err = maps_build_image(p, t, slot_of_rule, (uint8_t)(rt.active & 1), &want, d);
	if (!err)
		err = maps_read_slot(m, (uint8_t)(rt.active & 1), &have, d);
	if (err)
		goto out;
	compare_entries(want.exact, want.n_exact, have.exact, have.n_exact, sizeof(*want.exact),
			sizeof(want.exact->key), r);
	compare_entries(want.prefix, want.n_prefix, have.prefix, have.n_prefix,
			sizeof(*want.prefix), sizeof(want.prefix->key), r);
	for (size_t k = 0; k < MAPS_SLOT_PORTS; k++)
		r->ports_changed += memcmp(&want.ports[k], &have.ports[k], sizeof(*want.ports)) != 0;
	cfg = &rt.slot[rt.active & 1];
	r->settings_changed = cfg->mode != (audit ? SPEE_MODE_AUDIT : p->mode) ||
			      cfg->default_action[SPEE_DIR_INGRESS] !=
				      p->default_action[SPEE_DIR_INGRESS] ||
			      cfg->default_action[SPEE_DIR_EGRESS] != p->default_action[SPEE_DIR_EGRESS];
out:
	maps_image_free(&want);
	maps_image_free(&have);
	free(table);
	free(slot_of_rule);
	return err;
}

static int check(struct instance *inst, const struct policy *p, const struct gateway_policy *g,
		 const struct name_table *t, bool audit, struct drift_report *r, struct diags *d)
{
	struct links_assessment a;
	int err;

	memset(r, 0, sizeof(*r));
	err = check_maps(&inst->maps, p, g, t, audit, r, d);
	if (!err && g) {
		size_t missing, extra, changed;

		err = maps_gateway_check_hosts(&inst->maps, g, &missing, &extra, &changed, d);
		r->hosts_changed = missing + extra + changed;
	}
	if (!err)
		err = links_assess(inst, NULL, &a);
	if (err)
		return err;
	r->links_detached = a.detached;
	r->links_missing = a.missing;
	r->programs_foreign = a.foreign;
	links_assessment_free(&a);
	return 0;
}

int drift_check(struct instance *inst, const struct policy *p, const struct name_table *t,
		bool audit, struct drift_report *r, struct diags *d)
{
	return check(inst, p, NULL, t, audit, r, d);
}

int drift_check_gateway(struct instance *inst, const struct gateway_policy *g,
			const struct name_table *t, bool audit, struct drift_report *r,
			struct diags *d)
{
	return check(inst, &g->fleet, g, t, audit, r, d);
}

void drift_describe(const struct drift_report *r, char *buf, size_t len)
{
	size_t off = 0;

#define PART(cond, ...)                                                                            \
	do {                                                                                       \
		if ((cond) && off < len)                                                           \
			off += (size_t)snprintf(buf + off, len - off, "%s", off ? ", " : "");      \
		if ((cond) && off < len)                                                           \
			off += (size_t)snprintf(buf + off, len - off, __VA_ARGS__);                \
	} while (0)

	buf[0] = '\0';
	PART(r->missing, "%zu entries missing", r->missing);
	PART(r->extra, "%zu entries extra", r->extra);
	PART(r->changed, "%zu entries changed", r->changed);
	PART(r->ports_changed, "%zu port summaries changed", r->ports_changed);
	PART(r->rules_unassigned, "%zu rules without a counter slot", r->rules_unassigned);
	PART(r->settings_changed, "mode or defaults changed");
	PART(r->links_detached, "%d links detached", r->links_detached);
	PART(r->links_missing, "%d hooks without a link", r->links_missing);
	PART(r->programs_foreign, "%d links run a foreign program", r->programs_foreign);
	PART(r->hosts_changed, "%zu host addresses differ", r->hosts_changed);
	if (!off)
		snprintf(buf, len, "none");
#undef PART
}
