/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * apply.h - makes an instance enforce a compiled policy: creates it (load,
 * fill, pin, attach) or updates it in place (no detach, no gap), taking
 * over maps of another build's layout and growing maps a policy outgrows
 * on the way. Used by the apply command and the agent, on a handle opened
 * with INSTANCE_CREATE (instance.h).
 */
#ifndef SPEE_APPLY_H
#define SPEE_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "instance.h"
#include "maps.h"
#include "names.h"
#include "policy.h"

struct gateway_policy;

struct apply_request {
	/* compiled for this host; in gateway mode the fleet's (gateway->fleet) */
	const struct policy *policy;
	/*
	 * Gateway mode (--gateway): every inventory host's policy, enforced on
	 * the interfaces given (at least one; not APPLY_IFACES_ALL), no cgroup.
	 * NULL: host mode. An instance stays in the mode it was created in.
	 */
	const struct gateway_policy *gateway;
	const struct name_table *names; /* addresses of the policy's DNS names; may be NULL */
	/* Interfaces for XDP. None given: those holding one of the host's inventory
	 * addresses on a new instance (none: -EADDRNOTAVAIL); the ones already
	 * attached on an existing instance. APPLY_IFACES_ALL alone: every up,
	 * non-loopback interface. */
	char *const *ifaces;
	size_t n_ifaces;
	/* cgroup v2 directory for the egress programs. NULL: the cgroup2 root on a
	 * new instance; the one already attached on an existing instance. */
	const char *cgroup;
	bool audit; /* force audit mode */
	/* What this process last wrote into each slot (the agent keeps one): writing a
	 * change then needs no read-back of the slot. NULL: read the slot back. */
	struct maps_cache *cache;
};

struct apply_outcome {
	bool created; /* a new instance (else an update in place) */
	uint32_t generation;
	size_t added; /* policy entries written */
	size_t removed; /* stale entries deleted */
	size_t attached; /* links (and interfaces' tc egress filters) created by this apply */
	size_t detached; /* links removed because they were no longer asked for */
	size_t replaced; /* links given this build's program (upgrade, or a foreign one) */
	bool grown; /* the policy outgrew the maps, which were replaced by bigger ones */
	uint32_t migrated; /* maps of another build's layout replaced by this build's (bits) */
	/* The policy maps after the apply: entries of both slots, and max_entries. */
	size_t exact_entries, prefix_entries;
	uint32_t exact_size, prefix_size;
};

/* --iface all */
#define APPLY_IFACES_ALL "all"

bool apply_ifaces_all(char *const *ifaces, size_t n);

/*
 * The interfaces holding one of host's inventory addresses (CONTRACT.md
 * section 4: the scope), each once, in *out (malloc'd strings); the ones
 * speebpf cannot judge are left out with a warning. 0 or a negative errno.
 */
int apply_scope_ifaces(const struct cfg_host *host, char ***out, size_t *n);

/*
 * Gateway mode's interfaces, checked before anything is loaded: each one
 * exists and is not a bridge device (whose XDP never sees what it
 * bridges: its ports are named instead). -ENODEV or -EINVAL, said in d.
 */
int apply_check_gateway_ifaces(char *const *ifaces, size_t n, struct diags *d);

/*
 * Makes inst (locked, INSTANCE_CREATE) enforce req->policy, and records it
 * (instance_note_result) with the DNS answers (namestore.h). On a new
 * instance, a failure removes everything this call created. On an existing
 * one, the running policy stays in force unless the switch completed.
 * Returns 0 or a negative errno with the reasons in d.
 */
int apply_policy(struct instance *inst, const struct apply_request *req, struct apply_outcome *out,
		 struct diags *d);

#endif
