/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * metrics.h - the agent's HTTP endpoint (libmicrohttpd, its own thread):
 * /metrics in the Prometheus text format (the counters under the names of
 * `stats --prometheus`, plus the agent's own state); /livez (200 while the
 * agent's loop turns) and /readyz (200 only while the current config's
 * policy is enforced: attached, applied, nothing in agent_state.unready;
 * else 503 and the reason); /healthz is /readyz.
 *
 * The agent updates a struct agent_state under its lock; the HTTP thread
 * reads the kernel's counters and links through the agent's instance handle
 * (instance.h), which is safe from another thread.
 */
#ifndef SPEE_METRICS_H
#define SPEE_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "instance.h"
#include "names.h"

/* What the agent knows that the maps do not. */
struct agent_state {
	pthread_mutex_t lock;
	bool applied; /* a policy has been applied (or adopted) */
	bool last_apply_ok;
	int64_t last_apply_time; /* CLOCK_REALTIME seconds */
	uint64_t applies_ok;
	uint64_t applies_failed;
	uint64_t config_errors;
	uint64_t drift_found;
	uint64_t dns_changes;
	uint64_t dns_failures;
	uint64_t map_growths; /* applies that outgrew the policy maps and grew them */
	/* The policy maps after the last good apply: entries of both slots, max_entries. */
	uint64_t exact_entries, prefix_entries, exact_size, prefix_size;
	struct name_table names; /* a copy of the agent's, for /metrics */
	char *verify_metrics; /* the last verify run's (verify_metrics.h), or NULL */
	/* Why the current config's policy is not what runs ("" when it is): /readyz's answer. */
	char unready[512];
	int64_t loop_at; /* CLOCK_MONOTONIC seconds when the agent's loop last turned: /livez */
};

/* Sets (text) or clears (NULL) why the agent is not ready (takes the lock). */
void agent_state_set_unready(struct agent_state *st, const char *text);

void agent_state_init(struct agent_state *st);
void agent_state_destroy(struct agent_state *st);

/* Replaces the copy of the name table (under the lock). */
int agent_state_set_names(struct agent_state *st, const struct name_table *t);

/* Replaces the last verify run's metrics (under the lock); takes text (may be NULL). */
void agent_state_set_verify(struct agent_state *st, char *text);

/* The agent's own metrics in Prometheus text format (takes the lock). */
void agent_state_render(struct agent_state *st, FILE *out);

struct metrics_server;

/*
 * Serves ADDR:PORT ("127.0.0.1:9600", "[::1]:9600", ":9600" for every
 * address). Returns 0, -EINVAL for a bad address, or the errno of the bind.
 */
int metrics_start(const char *listen, struct instance *inst, struct agent_state *st,
		  struct metrics_server **out);

void metrics_stop(struct metrics_server *srv);

#endif
