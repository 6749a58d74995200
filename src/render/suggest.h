/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * suggest.h - `speebpf suggest`: what the kernel noted (tallies.h) as a
 * fragment of the fleet config, for an operator to review and merge:
 *  - `narrow:` entries: for each built-in rule that allowed new connections
 *    through its ANY side, the remote addresses it allowed;
 *  - site `rules:`: for audit mode's would-drops (no rule), one rule per
 *    direction, protocol and port, from or to the addresses they involved,
 *    on the host's roles (site rules are enforced by role).
 * Counts and first/last seen (UTC) follow each address as a YAML comment;
 * what cannot be written as config (rules that are not built in, a network
 * set to any) is said in comments. The fragment's top-level keys are those
 * of the config (CONTRACT.md section 2): merged into a fleet config, `check`
 * accepts it.
 */
#ifndef SPEE_SUGGEST_H
#define SPEE_SUGGEST_H

#include <stdint.h>
#include <stdio.h>

#include "tallies.h"

struct suggest_opts {
	uint64_t min_count; /* addresses seen fewer times are left out (0 and 1: none) */
	const char *source; /* what the header names as the source (the pin dir), or NULL */
	/*
	 * The host's roles as a side of a rule ("CAS, IH"): site rules are
	 * enforced by role. NULL when unknown (the applied config no longer
	 * loads, a gateway): the would-drops are then said in comments.
	 */
	const char *roles;
	const char *why_no_roles; /* why roles is NULL, for the comment; may be NULL */
};

/* Writes the fragment. Returns 0 or -ENOMEM. */
int suggest_render(FILE *out, const struct tally_snapshot *s, const struct suggest_opts *o);

/*
 * The id of the site rule suggested for would-drops of host on dir, proto,
 * port: "suggest-HOST-in-tcp-9100" (the host's name made a valid id and cut
 * to fit SPEE_RULE_ID_LEN). buf holds SPEE_RULE_ID_LEN bytes.
 */
void suggest_rule_id(const char *host, unsigned dir, unsigned proto, unsigned port, char *buf);

#endif
