/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * stats.h - counters rendered for people (a table, with rates when two
 * snapshots are given), for programs (the JSON of CONTRACT.md section 3) and
 * for Prometheus (text exposition format; `stats --prometheus` and the
 * agent's /metrics use the same names).
 */
#ifndef SPEE_STATS_H
#define SPEE_STATS_H

#include <stdio.h>

#include "counters.h"

struct json_object;

/* prev may be NULL; with it, packets and bytes per second since prev are shown. */
void stats_render_text(FILE *out, const struct counter_snapshot *s,
		       const struct counter_snapshot *prev);

/* {"mode", "rules": [...], "drops": [...], ...}; the caller owns the object. */
struct json_object *stats_json(const struct counter_snapshot *s);

void stats_render_prometheus(FILE *out, const struct counter_snapshot *s);

#endif
