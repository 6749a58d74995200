/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * account.bpf.h - the last stage: a verdict -> pass or drop, and the one
 * counter every packet bumps on the way out. Audit mode changes only the
 * pass/drop mapping, never what is counted. Included by bpf/speebpf.bpf.c.
 */
#ifndef SPEE_ACCOUNT_BPF_H
#define SPEE_ACCOUNT_BPF_H

/* Counts a verdict under its rule (reason RULE) or its reason. */
static __always_inline void spee_count(__u32 dir, struct spee_verdict v, __u64 packets,
				       __u64 bytes)
{
	struct spee_counter *c;
	__u32 idx;

	/*
	 * One lookup per map, each with its own constant map: the verifier
	 * inlines an array lookup only where the call site names one map. A
	 * single call choosing between the two maps goes through the generic
	 * helper, an indirect call (~10 ns a packet measured on 6.18).
	 */
	if (v.reason == SPEE_REASON_RULE) {
		idx = spee_rule_ctr_index(v.rule, dir);
		c = bpf_map_lookup_elem(&spee_rule_ctr, &idx);
		if (c) {
			c->packets += packets;
			c->bytes += bytes;
		}
		return;
	}
	idx = spee_reason_ctr_index(v.reason, dir);
	asm volatile("" ::: "memory"); /* keeps clang from merging the two calls into one */
	c = bpf_map_lookup_elem(&spee_reason_ctr, &idx);
	if (c) {
		c->packets += packets;
		c->bytes += bytes;
	}
}

/* The exit of every packet: count once, then pass (true) or drop. */
static __always_inline bool spee_account(const struct spee_run *run, __u32 dir,
					 struct spee_verdict v, __u64 bytes)
{
	spee_count(dir, v, 1, bytes);
	if (run->cfg.mode == SPEE_MODE_AUDIT)
		return true;
	return spee_allows(run, dir, v);
}

#endif /* SPEE_ACCOUNT_BPF_H */
