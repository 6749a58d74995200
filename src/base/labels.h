/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * labels.h - the names of the ABI's enums as users see them, in the
 * contract's spelling ("ingress", "no-rule", "audit"), and back.
 */
#ifndef SPEE_LABELS_H
#define SPEE_LABELS_H

#include <stddef.h>
#include <stdint.h>

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
	return spee_reason_is_drop(reason);
}

/* A non-IP ethertype class (enum spee_l2_class): "arp", "lldp", "lacp"... */
const char *l2_class_label(unsigned cls);

/*
 * The spee_ethertype_key() values a name of the config's `ethertypes:`
 * stands for ("lldp", "pppoe": discovery and session, "llc": every 802.3
 * frame, "any"): up to ETHERTYPE_NAME_MAX into out; 0 for an unknown name.
 */
#define ETHERTYPE_NAME_MAX 2
size_t ethertype_by_name(const char *name, uint16_t out[ETHERTYPE_NAME_MAX]);

/* The names ethertype_by_name() knows, for messages: "arp, lldp, ...". */
const char *ethertype_names(void);

#endif
