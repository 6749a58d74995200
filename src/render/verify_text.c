// SPDX-License-Identifier: GPL-2.0-only
/* A verify run as the table `speebpf verify` prints (verify_text.h). */
#include "verify_text.h"

void verify_text_print(FILE *out, const struct verify_plan *plan, const struct prefix *src,
		       size_t n_src)
{
	char addr[ADDR_TEXT_LEN], detail[128];
	size_t failed = verify_failures(plan);

	fprintf(out, "verify %s: %zu probe%s from", plan->host, plan->n_probes,
		plan->n_probes == 1 ? "" : "s");
	for (size_t i = 0; i < n_src; i++) {
		addr_format(&src[i], addr, sizeof(addr));
		fprintf(out, "%s %s", i ? "," : "", addr);
	}
	fprintf(out, " (timeout %u ms, %.1f s)\n", plan->timeout_ms, plan->duration_ms / 1000.0);
	if (plan->n_probes)
		fprintf(out, "%-10s %-26s %5s  %-16s %-13s %s\n", "PEER", "ADDRESS", "PORT", "RULE",
			"EXPECTED", "RESULT");
	for (size_t i = 0; i < plan->n_probes; i++) {
		const struct verify_probe *p = &plan->probes[i];

		addr_format(&p->dst, addr, sizeof(addr));
		verify_describe(p, plan->timeout_ms, detail, sizeof(detail));
		fprintf(out, "%-10s %-26s %5u  %-16s %-13s %-13s %-4s %s\n", p->peer, addr, p->port,
			p->rule[0]    ? p->rule
			: p->unlisted ? "(no rule)"
				      : "-",
			verify_result_label(p->expect), verify_result_label(p->result),
			verify_probe_ok(p) ? "ok" : "FAIL", detail);
	}
	for (size_t i = 0; i < plan->n_skipped; i++) {
		addr_format(&plan->skipped[i].addr, addr, sizeof(addr));
		fprintf(out, "skipped %s %s: %s\n", plan->skipped[i].peer, addr,
			plan->skipped[i].why);
	}
	if (!plan->n_probes)
		fprintf(out, "nothing to probe: no other inventory host this host can reach\n");
	else if (!failed)
		fprintf(out, "ok: every probe gave what the policy says\n");
	else
		fprintf(out, "FAILED: %zu of %zu probes did not give what the policy says\n",
			failed, plan->n_probes);
}
