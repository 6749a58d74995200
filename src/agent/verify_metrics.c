// SPDX-License-Identifier: GPL-2.0-only
#include "verify_metrics.h"

#include "prom.h"

static void gauge_head(FILE *out, const char *name, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

void verify_render_prometheus(FILE *out, const struct verify_plan *plan)
{
	size_t by_result[VERIFY_RESULT_MAX] = { 0 };
	char addr[ADDR_TEXT_LEN];

	for (size_t i = 0; i < plan->n_probes; i++)
		if (plan->probes[i].result < VERIFY_RESULT_MAX)
			by_result[plan->probes[i].result]++;
	gauge_head(out, "speebpf_verify_ok",
		   "1 when every probe of the last verify run gave what the policy says it must.");
	fprintf(out, "speebpf_verify_ok %d\n", verify_passed(plan));
	gauge_head(out, "speebpf_verify_last_run_timestamp_seconds",
		   "When the last verify run started.");
	fprintf(out, "speebpf_verify_last_run_timestamp_seconds %lld\n", (long long)plan->started);
	gauge_head(out, "speebpf_verify_duration_seconds", "How long the last verify run took.");
	fprintf(out, "speebpf_verify_duration_seconds %.3f\n", plan->duration_ms / 1000.0);
	gauge_head(out, "speebpf_verify_failed_probes",
		   "Probes of the last verify run whose result was not the expected one.");
	fprintf(out, "speebpf_verify_failed_probes %zu\n", verify_failures(plan));
	gauge_head(out, "speebpf_verify_probes", "Probes of the last verify run by result.");
	for (unsigned r = 0; r < VERIFY_RESULT_MAX; r++)
		fprintf(out, "speebpf_verify_probes{result=\"%s\"} %zu\n", verify_result_label(r),
			by_result[r]);
	gauge_head(out, "speebpf_verify_probe",
		   "1 when a probe of the last verify run gave the expected result, else 0.");
	for (size_t i = 0; i < plan->n_probes; i++) {
		const struct verify_probe *p = &plan->probes[i];

		addr_format(&p->dst, addr, sizeof(addr));
		fprintf(out, "speebpf_verify_probe{peer=\"");
		prom_label_value(out, p->peer);
		fprintf(out, "\",address=\"%s\",port=\"%u\",rule=\"", addr, p->port);
		prom_label_value(out, p->rule);
		fprintf(out, "\",expected=\"%s\",result=\"%s\"} %d\n", verify_result_label(p->expect),
			verify_result_label(p->result), verify_probe_ok(p));
	}
}
