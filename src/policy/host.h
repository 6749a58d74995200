/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * host.h - which inventory host this machine is (CONTRACT.md section 3):
 * --host NAME; else the machine's hostname; else the inventory host that
 * holds one of the machine's addresses.
 */
#ifndef SPEE_HOST_H
#define SPEE_HOST_H

#include "config.h"
#include "diag.h"

/*
 * Sets *out to the selected host. Returns 0, -ENOENT when no host matches
 * (or the named one is not in the inventory), -EEXIST when the machine's
 * addresses match several hosts; the reason is added to d.
 */
int host_select(const struct config *cfg, const char *name, const struct cfg_host **out,
		struct diags *d);

/* The machine's own addresses (every interface), as host prefixes. */
int host_local_addresses(struct prefix **out, size_t *n);

/*
 * What the machine takes packets for as its own: its addresses and its
 * IPv4 subnets' broadcast addresses, each once (the ingress scope).
 */
int host_receive_addresses(struct prefix **out, size_t *n);

#endif
