/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * drift.h - is an instance enforcing what was compiled? Reads back the
 * active policy slot, its settings, the links and the programs behind them,
 * and compares them with a compiled policy: a map entry missing or extra, a
 * link gone, a program replaced by someone else is drift. Used by the agent
 * (periodically, then it repairs) and by status.
 */
#ifndef SPEE_DRIFT_H
#define SPEE_DRIFT_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "instance.h"
#include "names.h"
#include "policy.h"

struct drift_report {
	size_t missing; /* entries the policy has and the active slot lacks */
	size_t extra; /* entries the active slot has and the policy lacks */
	size_t changed; /* same key, other verdict */
	size_t ports_changed; /* spee_ports elements that differ */
	size_t rules_unassigned; /* rules of the policy without a counter slot */
	bool settings_changed; /* mode or defaults of the active slot */
	int links_detached; /* pinned links no longer attached */
	int links_missing; /* hooks with no link at all */
	/* links running a program that is not this instance's: another build's, or
	 * one around maps that are not the pinned ones (a growth cut short) */
	int programs_foreign;
	/* gateway mode: host addresses missing from spee_gw_hosts, extra, or with another value */
	size_t hosts_changed;
};

static inline bool drift_found(const struct drift_report *r)
{
	return r->missing || r->extra || r->changed || r->ports_changed || r->rules_unassigned ||
	       r->settings_changed || r->links_detached || r->links_missing || r->programs_foreign ||
	       r->hosts_changed;
}

/*
 * Compares the instance (locked) with p (names from t; audit: the policy
 * was applied with --audit). Returns 0 with r filled, or a negative errno.
 */
int drift_check(struct instance *inst, const struct policy *p, const struct name_table *t,
		bool audit, struct drift_report *r, struct diags *d);

struct gateway_policy;

/* drift_check for a gateway instance: g's every host, and the host table besides. */
int drift_check_gateway(struct instance *inst, const struct gateway_policy *g,
			const struct name_table *t, bool audit, struct drift_report *r,
			struct diags *d);

/* "3 entries missing, 1 link detached" */
void drift_describe(const struct drift_report *r, char *buf, size_t len);

#endif
