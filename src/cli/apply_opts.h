/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * apply_opts.h - the options `apply` and `run` share (CONTRACT.md: run takes
 * the flags of apply), and resolving a policy's DNS names for them.
 */
#ifndef SPEE_APPLY_OPTS_H
#define SPEE_APPLY_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "names.h"
#include "policy.h"

struct apply_opts {
	const char *config;
	const char *host;
	char **ifaces;
	size_t n_ifaces;
	const char *cgroup;
	const char *pin_dir;
	bool audit;
	unsigned long confirm_secs; /* 0: no --confirm */
	struct name_table pinned; /* --resolve NAME=ADDR */
	/* run only */
	const char *log_format;
	const char *metrics;
	unsigned long drift_interval; /* seconds between drift checks; 0: none */
	unsigned long debounce_ms; /* quiet time after a config change */
};

/*
 * Parses argv. Returns 0; 1 after printing help; or -CLI_EUSAGE after
 * printing why. The caller frees with apply_opts_free.
 */
int apply_opts_parse(int argc, char **argv, struct apply_opts *o, void (*usage)(FILE *));

void apply_opts_free(struct apply_opts *o);

/*
 * Fills t with the addresses of p's DNS names: --resolve pins first, the
 * rest resolved (c-ares, bounded). Names that do not resolve are reported
 * on stderr and allow nothing. Returns 0 or a negative errno.
 */
int apply_opts_resolve(const struct apply_opts *o, const struct policy *p, struct name_table *t);

#endif
