/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * verify_metrics.h - the results of a verify run (verify.h) in the
 * Prometheus text format: for the agent's /metrics (`run --verify-interval`)
 * and `speebpf verify --prometheus` (a file for node_exporter's textfile
 * collector). The metrics:
 *
 *   speebpf_verify_ok                          1 when every probe of the last
 *                                              run gave what it must, else 0
 *   speebpf_verify_last_run_timestamp_seconds  when the last run started
 *   speebpf_verify_duration_seconds            how long it took
 *   speebpf_verify_failed_probes               its probes that did not
 *   speebpf_verify_probes{result}              its probes by result (open,
 *                                              blocked-here, blocked-path,
 *                                              error, not-run)
 *   speebpf_verify_probe{peer,address,port,rule,expected,result}
 *                                              1 when that probe gave what
 *                                              it must (expected == result),
 *                                              else 0; rule is this host's
 *                                              egress rule ("" for the probe
 *                                              of a port no rule names)
 */
#ifndef SPEE_VERIFY_METRICS_H
#define SPEE_VERIFY_METRICS_H

#include <stdio.h>

#include "verify.h"

/* Writes the metrics of a plan that has run (verify_run). */
void verify_render_prometheus(FILE *out, const struct verify_plan *plan);

#endif
