/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * events.h - reads an instance's drop events (struct spee_event, from its
 * spee_events ring buffer) and prints one line each: time, direction,
 * interface, protocol, source:port -> destination:port, reason, and the
 * rule that allows that port to other peers, if any. Or one JSON object
 * per line. A ring buffer has one reader: events are consumed as read.
 */
#ifndef SPEE_EVENTS_H
#define SPEE_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "spee_abi.h"
#include "diag.h"

struct events_reader;

/* Opens the events of the instance at pin_dir; lines go to out. */
int events_open(const char *pin_dir, bool json, FILE *out, struct events_reader **r,
		struct diags *d);

/* Prints the events that arrive within timeout_ms (0: only those waiting). Returns how many. */
int events_poll(struct events_reader *r, int timeout_ms);

/* Sent, suppressed by the rate limit, lost to a full ring (enum spee_ev_stat), summed. */
int events_stats(struct events_reader *r, uint64_t out[SPEE_EV_STAT_MAX]);

void events_close(struct events_reader *r);

#endif
