/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * events.h - reads an instance's drop events (struct spee_event, from its
 * spee_events ring buffer) and hands each to a callback with the rule table
 * that names the counter slots (render/event_text.h prints them). A ring
 * buffer has one reader: events are consumed as read.
 */
#ifndef SPEE_EVENTS_H
#define SPEE_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "spee_abi.h"
#include "diag.h"
#include "instance.h"

struct events_reader;

/*
 * One event. rules is the instance's rule table ([SPEE_MAX_RULES], re-read
 * at most once a second); mono_to_real_ns turns the event's CLOCK_MONOTONIC
 * time into CLOCK_REALTIME.
 */
typedef void (*events_fn)(void *ctx, const struct spee_event *e,
			  const struct spee_rule_meta *rules, int64_t mono_to_real_ns);

/* Reads the events of inst through its maps; they go to fn. */
int events_open(struct instance *inst, events_fn fn, void *ctx, struct events_reader **r,
		struct diags *d);

/* Hands over the events that arrive within timeout_ms (0: only those waiting). Returns how many. */
int events_poll(struct events_reader *r, int timeout_ms);

/* Sent, suppressed by the rate limit, lost to a full ring (enum spee_ev_stat), summed. */
int events_stats(struct events_reader *r, uint64_t out[SPEE_EV_STAT_MAX]);

void events_close(struct events_reader *r);

#endif
