/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * verify_probe.h - runs a verify plan (verify.h): a TCP connect per probe,
 * in parallel and bounded in time. For `speebpf verify` and, periodically,
 * the agent.
 *
 * Each probe is a non-blocking socket bound to the probe's source address
 * (IP_BIND_ADDRESS_NO_PORT: the port is picked at connect), whose connect()
 * is awaited with poll() for at most the timeout. At most max_inflight
 * sockets are open at once; a probe starts when another ends. So a run
 * takes at most ceil(n_probes / max_inflight) * timeout_ms, whatever the
 * network does. A probe that connected is closed with a RST (SO_LINGER 0),
 * as load balancers' health checks do, so that periodic runs leave no
 * TIME_WAIT sockets behind.
 */
#ifndef SPEE_VERIFY_PROBE_H
#define SPEE_VERIFY_PROBE_H

#include "verify.h"

/* A lost first SYN is sent again after 1 s: 2 s leaves room for that retry. */
#define VERIFY_DEFAULT_TIMEOUT_MS 2000
#define VERIFY_DEFAULT_INFLIGHT 64

struct verify_run_opts {
	unsigned timeout_ms; /* per probe; 0: VERIFY_DEFAULT_TIMEOUT_MS */
	unsigned max_inflight; /* sockets open at once; 0: VERIFY_DEFAULT_INFLIGHT */
};

/*
 * Runs every probe of the plan and fills its result, and the plan's
 * started, duration_ms and timeout_ms. A probe that cannot run (socket,
 * bind) gets VERIFY_ERROR. Returns 0, or a negative errno when the run
 * itself failed (memory, poll); the probes not finished then stay
 * VERIFY_NOT_RUN.
 */
int verify_run(struct verify_plan *plan, const struct verify_run_opts *opts);

#endif
