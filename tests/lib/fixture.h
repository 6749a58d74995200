/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fixture.h - the policies the BPF tests apply, built by hand as plain
 * struct policy values (no config parsing involved), and the addresses
 * they talk about. The host is "mgmt1", holding MGMT and IH, in a small
 * inventory; the rules are a subset of the SPE matrix plus site rules that
 * exercise exact, prefix and ANY peers, ties, port ranges, UDP, DNS names
 * and the implicit DNS and local entries. Used by tests/bpf/.
 */
#ifndef SPEE_TEST_FIXTURE_H
#define SPEE_TEST_FIXTURE_H

#include "names.h"
#include "policy.h"

/* The host itself */
#define FX_HOST4 "198.18.0.10"
#define FX_HOST6 "fd00:5e::10"
/* Peers of the inventory */
#define FX_CAS4 "198.18.0.11"
#define FX_CAS6 "fd00:5e::11"
#define FX_IH4 "198.18.0.21"
/* ADM: 198.18.9.0/24 and fd00:5e::9:0/112 */
#define FX_ADM4 "198.18.9.5"
#define FX_ADM6 "fd00:5e::9:5"
/* Site rules on 443: vip-https (exact), lab-https (/24, tied with lab-https-dup) */
#define FX_VIP4 "198.18.3.7"
#define FX_LAB4 "198.18.3.8"
/* Nobody in particular */
#define FX_OUT4 "198.18.4.1"
#define FX_OUT6 "fd00:5e::4:1"
/* The resolvers, and my.mailstore.com's addresses in the name table */
#define FX_RES4 "198.18.0.53"
#define FX_RES6 "fd00:5e::53"
#define FX_MS4 "198.18.7.7"
#define FX_MS6 "fd00:5e::7:7"

enum fixture_id {
	FX_MAIN, /* enforce, default drop both ways */
	FX_AUDIT, /* FX_MAIN in audit mode */
	FX_DEFPASS, /* FX_MAIN with default pass both ways */
	FX_SWITCHED, /* ntp-out and lab-https-dup gone, metrics new, the rest unchanged */
	FX_COUNT,
};

/* A new policy; free with fixture_policy_free. NULL on allocation failure. */
struct policy *fixture_policy(enum fixture_id id);
void fixture_policy_free(struct policy *p);

/* my.mailstore.com -> FX_MS4, FX_MS6; nowhere.example.com known but without addresses. */
int fixture_names(struct name_table *t);

#endif
