/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netwatch.h - the agent follows the machine's interfaces and addresses:
 * an rtnetlink socket subscribed to link and address changes (RTM_NEWLINK,
 * RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR). The messages are only a nudge:
 * after one, the agent reads the interfaces and addresses afresh
 * (getifaddrs) and re-applies when its scope changed, so that a lost or
 * overflowing notification (ENOBUFS) costs nothing but a re-read.
 */
#ifndef SPEE_NETWATCH_H
#define SPEE_NETWATCH_H

/* A non-blocking rtnetlink socket subscribed to links and addresses, or a negative errno. */
int netwatch_open(void);

/* Reads what is pending; returns 1 when anything changed (or may have), else 0. */
int netwatch_drain(int fd);

#endif
