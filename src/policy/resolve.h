/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * resolve.h - DNS names -> address sets with TTLs, through c-ares (which
 * reads /etc/hosts and /etc/resolv.conf like the system resolver, and
 * reports TTLs). Results are written into a struct name_table: an answer
 * replaces a name's addresses; a failure keeps the last known ones and is
 * recorded, so that a DNS hiccup never empties a rule.
 */
#ifndef SPEE_RESOLVE_H
#define SPEE_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/select.h>

#include "addr.h"
#include "names.h"
#include "policy.h"

struct resolver;

/* Opens a resolver; timeout_ms bounds each query's wait for an answer. */
int resolver_open(struct resolver **out, int timeout_ms);

void resolver_close(struct resolver *r);

/* The name servers the system is configured with (/etc/resolv.conf). */
int resolver_servers(struct resolver *r, struct prefix **out, size_t *n);

/* Called after each answer or failure has been written into its table. */
typedef void (*resolver_done_fn)(void *arg, const char *name, bool ok);

/* Sets the function called when a query completes (NULL: none). */
void resolver_on_done(struct resolver *r, resolver_done_fn fn, void *arg);

/* Starts resolving name (A and AAAA); the answer lands in t when processed. */
int resolver_query(struct resolver *r, struct name_table *t, const char *name);

/* Queries still waiting for an answer. */
int resolver_pending(const struct resolver *r);

/*
 * For an event loop: adds the resolver's sockets to the sets, raises *maxfd,
 * and returns the ms until it needs resolver_process() even without I/O
 * (-1: no query pending).
 */
int resolver_fds(struct resolver *r, fd_set *rd, fd_set *wr, int *maxfd);

/* Processes what is ready (and timeouts). */
void resolver_process(struct resolver *r, fd_set *rd, fd_set *wr);

/* Resolves every name and waits (bounded by the resolver's timeout) for all answers. */
int resolver_resolve_all(struct resolver *r, struct name_table *t, char *const *names, size_t n);

/*
 * Fills t with the addresses of p's DNS names, as apply needs them: the
 * names pinned (--resolve NAME=ADDR) take their addresses from pinned, the
 * rest are resolved (bounded). Names that do not resolve are reported on
 * stderr and allow nothing. Returns 0 or a negative errno.
 */
int resolve_policy_names(const struct policy *p, const struct name_table *pinned,
			 struct name_table *t);

#endif
