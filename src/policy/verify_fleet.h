/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * verify_fleet.h - one whole verify run from a loaded fleet config: every
 * host's policy compiled (ours decides the probes, the peers' what each
 * must give), the DNS names they meet resolved, the probes' sources picked
 * from this host's inventory addresses the machine holds, the plan built
 * and run (verify.h, verify_probe.h). Shared by `speebpf verify`,
 * `apply --confirm --verify` and the agent's `run --verify-interval`.
 */
#ifndef SPEE_VERIFY_FLEET_H
#define SPEE_VERIFY_FLEET_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "diag.h"
#include "names.h"
#include "policy.h"
#include "verify.h"

struct verify_fleet_opts {
	const char *host;	      /* this host's inventory name; NULL: by hostname or address */
	const struct policy_env *env; /* the machine's resolvers (and addresses: this host's only) */
	const struct name_table
	    *pinned;	     /* names' addresses known already (--resolve); may be NULL */
	bool no_resolve;     /* resolve nothing more: names not in pinned allow nothing */
	unsigned timeout_ms; /* per probe; 0: the default */
};

struct verify_fleet {
	struct verify_plan plan; /* run: every probe has its result */
	struct prefix *sources;	 /* this host's addresses the probes left from */
	size_t n_sources;
	struct diags warnings; /* this host's inventory addresses the machine does not hold */
};

/*
 * Plans and runs the probes. Returns 0 (verify_passed(&out->plan) tells the
 * verdict); -ESRCH when the host is not in the inventory, -EADDRNOTAVAIL
 * when none of its addresses is on this machine (verify runs on the host
 * it verifies), -EINVAL when a policy does not compile, or another negative
 * errno; every error is said in d. verify_fleet_free() in every case.
 */
int verify_fleet_run(const struct config *cfg, const struct verify_fleet_opts *opts,
		     struct verify_fleet *out, struct diags *d);

void verify_fleet_free(struct verify_fleet *v);

#endif
