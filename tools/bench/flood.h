/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * flood.h - what the two floods (flood.c: refused SYNs; connflood.c:
 * allowed connections) share: the receiver's veth and NAPI threads, their
 * CPU time and packet counts, and the host's ingress rules as nftables sets.
 */
#ifndef SPEE_BENCH_FLOOD_H
#define SPEE_BENCH_FLOOD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "policy.h"

#define FLOOD_HOSTS 10000 /* the inventory both floods' receiver holds */

/* The MAC address of ifname (of the current network namespace). 0 or a negative errno. */
int flood_if_mac(const char *ifname, uint8_t mac[6]);

/* GRO on: veth then runs NAPI and takes XDP frames without an XDP program of its own. */
int flood_set_gro(const char *ifname);

/* Threaded NAPI on or off for ifname (of the current network namespace). */
int flood_set_threaded(const char *ifname, bool on);

/*
 * Pins the NAPI threads of ifname ("napi/IF-ID", cut to 15 characters) to
 * cpu; their pids go to pids (at most max). Returns how many were pinned,
 * or a negative errno.
 */
int flood_pin_napi(const char *ifname, int cpu, int *pids, int max, int *n_pids);

/* CPU time (ns) of the tasks pids: the first field of /proc/PID/schedstat. */
uint64_t flood_cpu_ns(const int *pids, int n);

/* Frames the device's NAPI took from its ring (rtnl_link_stats, 32 bits). */
uint32_t flood_rx_packets(const char *ifname);

/* Loads an nftables ruleset (nft -f) through a file in dir. 0 or a negative errno. */
int flood_nft_load(const char *dir, const char *text);

/* The packets of nftables counter `counter` of table (e.g. "netdev spb_bench"); 0 when unknown. */
uint64_t flood_nft_counter(const char *table, const char *counter);

/*
 * The host's ingress TCP rules as nftables sets: any_ports (the ANY rules),
 * peers4/peers6 ({source . port}: what spee_exact holds) and nets4/nets6
 * (intervals: spee_prefix). Written inside a table; elements counts them.
 */
void flood_nft_sets(FILE *f, const struct policy *pol, size_t *elements);

#endif
