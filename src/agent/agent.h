/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * agent.h - speebpf run: apply, then keep the policy current until SIGTERM
 * or SIGINT. The config file is watched (inotify on its directory, with a
 * debounce; SIGHUP reloads at once), DNS names are re-resolved when their
 * TTL runs out, the instance is checked for drift and repaired, and (when
 * asked) verify probes the fleet from this host and its results join
 * /metrics (verify_metrics.h). A bad config or a failed apply is logged and
 * leaves the running policy alone; the agent is then unready (/readyz),
 * never dead. Without --iface it follows the interfaces holding the host's
 * addresses (netwatch.h). The last config applied is kept in the state dir:
 * started with a config it cannot apply and no pinned instance, the agent
 * applies that one.
 * Exiting leaves enforcement in place: only detach removes it.
 */
#ifndef SPEE_AGENT_H
#define SPEE_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "names.h"

struct agent_settings {
	const char *config; /* the fleet config */
	const char *host; /* NULL: by hostname or address */
	/* --gateway: every inventory host's policy, on the interfaces given (no host, no cgroup) */
	bool gateway;
	char *const *ifaces; /* none: as apply */
	size_t n_ifaces;
	const char *cgroup; /* NULL: as apply */
	const char *pin_dir;
	bool audit;
	const struct name_table *pinned; /* --resolve NAME=ADDR: never asked */
	const char *metrics; /* ADDR:PORT of /metrics and /healthz, or NULL */
	unsigned debounce_ms; /* quiet time after a config change before reloading */
	unsigned drift_interval_s; /* 0: no periodic drift check */
	unsigned verify_interval_s; /* 0: no periodic verify */
	unsigned verify_timeout_ms; /* each probe's */
	/* Where the last config applied successfully is kept (NULL: nowhere). */
	const char *state_dir;
	/* Every change the agent applies reverts unless `speebpf confirm` within this (0: off). */
	unsigned confirm_s;
};

/* agent_run's result when the config or a setting is unusable (reported). */
#define AGENT_EUSAGE 1

/*
 * Runs the agent. Returns 0 after SIGTERM/SIGINT; AGENT_EUSAGE when the
 * config is unusable and there is no running policy to keep, or the metrics
 * address is not ADDR:PORT; a negative errno when the first apply fails on a
 * new instance, or the agent cannot start.
 */
int agent_run(const struct agent_settings *s);

#endif
