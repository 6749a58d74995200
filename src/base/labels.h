/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * labels.h - the names of the ABI's enums as users see them, in the
 * contract's spelling ("ingress", "no-rule", "audit"), and back.
 */
#ifndef SPEE_LABELS_H
#define SPEE_LABELS_H

#include "spee_abi.h"

const char *dir_label(unsigned dir);
const char *reason_label(unsigned reason);
const char *mode_label(unsigned mode);
const char *action_label(unsigned action);
const char *proto_label(unsigned proto); /* "tcp", "udp" */

/* The enum value for a label, or -1. */
int dir_from_label(const char *s);
int reason_from_label(const char *s);
int mode_from_label(const char *s);
int action_from_label(const char *s);
int proto_from_label(const char *s); /* IPPROTO_TCP / IPPROTO_UDP */

/* True for the reasons that drop (no-rule only when the default is drop). */
static inline int reason_is_drop(unsigned reason)
{
	return reason <= SPEE_REASON_LAST_DROP;
}

#endif
