/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * conns.h - the host's live connections, for `speebpf plan` (plan.h): the
 * kernel's socket table, read with sock_diag over netlink (TCP and UDP,
 * IPv4 and IPv6, of the network namespace the caller runs in: the one whose
 * sockets the egress programs judge), and an instance's flow state
 * (spee_flows).
 *
 * What counts as live: a TCP socket in a state that carries a connection
 * (from SYN-SENT and SYN-RECV to LAST-ACK, not LISTEN, TIME-WAIT or CLOSE);
 * a connected UDP socket; a UDP flow of the flow state whose last datagram
 * is younger than the instance's udp-timeout (its replies still pass). A TCP
 * entry of the flow state with no socket behind it is history (a connection
 * that ended without a FIN or RST going out) and is not listed; one with a
 * socket is the same connection, seen twice.
 */
#ifndef SPEE_CONNS_H
#define SPEE_CONNS_H

#include <stddef.h>

#include "diag.h"
#include "instance.h"
#include "plan.h"

/*
 * Lists the live connections: the socket table, and inst's flow state when
 * inst is not NULL (locked). Returns 0 with *out (free() it) and *n set, or
 * a negative errno (said in d).
 */
int conns_list(struct instance *inst, struct plan_conn **out, size_t *n, struct diags *d);

/* "established", "syn-sent", ... for a TCP state; "" for 0. */
const char *conns_tcp_state_label(unsigned state);

#endif
