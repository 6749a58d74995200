/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * agent.h - speebpf run: apply, then keep the policy current until SIGTERM
 * or SIGINT. The config file is watched (inotify on its directory, with a
 * debounce; SIGHUP reloads at once), DNS names are re-resolved when their
 * TTL runs out, and the instance is checked for drift and repaired. A bad
 * config or a failed apply is logged and leaves the running policy alone.
 * Exiting leaves enforcement in place: only detach removes it.
 */
#ifndef SPEE_AGENT_H
#define SPEE_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "apply_opts.h"

struct agent_settings {
	const struct apply_opts *opts;
	unsigned debounce_ms; /* quiet time after a config change before reloading */
	unsigned drift_interval_s; /* 0: no periodic drift check */
};

/*
 * Runs the agent. Returns 0 after SIGTERM/SIGINT; -CLI_EUSAGE when the config
 * is unusable and there is no running policy to keep; another negative errno
 * when the first apply fails on a new instance.
 */
int agent_run(const struct agent_settings *s);

#endif
