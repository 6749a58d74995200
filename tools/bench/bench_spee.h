/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bench_spee.h - speebpf as `speebpf apply` loads it, for the benchmarks:
 * a generated inventory read (config), compiled for bench0 (policy), the
 * object loaded (loader) and its maps filled (maps). These are the only
 * calls the data-plane and flood parts make into src/, so that a change of
 * that API is mended here. Included by tools/bench/ files.
 */
#ifndef SPEE_BENCH_SPEE_H
#define SPEE_BENCH_SPEE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "gateway.h"
#include "gen.h"
#include "loader.h"
#include "maps.h"
#include "names.h"
#include "policy.h"

struct bench_spee {
	struct config *cfg;
	struct policy *pol;		/* host mode: the host's policy */
	struct gateway_policy *gw;	/* gateway mode: every host's, instead */
	struct name_table names;
	struct loader l;
	bool loaded;
};

/* Reads and compiles the inventory gs (named name in messages). 0 or a negative errno. */
int bench_spee_compile(struct bench_spee *b, const struct gen_spec *gs, const char *name);

/* The same for the inventory's host `host` (bench_spee_compile: GEN_HOST_NAME). */
int bench_spee_compile_host(struct bench_spee *b, const struct gen_spec *gs, const char *name,
			    const char *host);

/* The same for gateway mode: every host of the inventory, as `apply --gateway` compiles them. */
int bench_spee_compile_gateway(struct bench_spee *b, const struct gen_spec *gs, const char *name);

/*
 * Loads the object sized for the policy and applies the policy (gateway
 * mode: the gateway's programs alone, as `apply --gateway` loads them).
 * 0 or a negative errno.
 */
int bench_spee_load(struct bench_spee *b);

/* The XDP or the cgroup_skb/egress program's fd (gateway mode: spee_gw_xdp's, either way). */
int bench_spee_prog(const struct bench_spee *b, bool egress);

/* Packets counted under reason (SPEE_REASON_*) in direction dir, summed over the CPUs. */
uint64_t bench_spee_reason_count(const struct bench_spee *b, unsigned reason, unsigned dir);

/* Packets counted under rule id in direction dir; -ENOENT when no such rule. */
int64_t bench_spee_rule_count(const struct bench_spee *b, const char *rule, unsigned dir);

void bench_spee_free(struct bench_spee *b);

#endif
