/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * event_text.h - one drop event for people or programs: a line with time,
 * direction, interface, protocol, source:port -> destination:port, TCP
 * flags, reason, and the rules that allow that port to other peers; or one
 * JSON object per line. Used by the events command (kernel/events.h reads
 * the ring).
 */
#ifndef SPEE_EVENT_TEXT_H
#define SPEE_EVENT_TEXT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "spee_abi.h"

/*
 * Prints e. rules: the instance's rule table ([SPEE_MAX_RULES]), to name
 * the rules that allow the port; mono_to_real_ns: CLOCK_REALTIME minus
 * CLOCK_MONOTONIC, for the event's time.
 */
void event_print(FILE *out, bool json, const struct spee_event *e,
		 const struct spee_rule_meta *rules, int64_t mono_to_real_ns);

#endif
