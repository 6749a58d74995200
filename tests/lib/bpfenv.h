/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bpfenv.h - what the BPF tests share: a private network namespace with a
 * veth pair (so that egress packets can name a non-loopback device and real
 * sockets exist for the socket-lookup fallback), running one packet through
 * a program with BPF_PROG_TEST_RUN, and reading the per-CPU counters.
 *
 * ip runs by exec, never through a shell, and iproute2's is preferred:
 * the guests of `make test-kernels` have busybox, whose sh and ip applets
 * shadow iproute2's ip (which alone makes veths). Used by tests/bpf/.
 */
#ifndef SPEE_TEST_BPFENV_H
#define SPEE_TEST_BPFENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spee_abi.h"
#include "maps.h"

/* Runs `ip` with the given arguments (NULL-terminated). 0 when it exits 0. */
int bpfenv_ip(const char *arg, ...);

/*
 * Moves the process into a new network namespace with lo up and a veth
 * pair a/b, a holding addr4/32 and addr6/128 (either may be NULL), without
 * duplicate address detection. Returns a's ifindex, or -1 (message on
 * stderr). Must run as root; the namespace goes with the process.
 */
int bpfenv_netns(const char *a, const char *b, const char *addr4, const char *addr6);

enum bpfenv_prog {
	BPFENV_XDP,
	BPFENV_EGRESS,
};

/*
 * Runs frame (Ethernet first) through prog_fd once. Egress runs get
 * ifindex in the context (the device the packet leaves on). Returns 0 and
 * the program's return code, or a negative errno from the kernel.
 */
int bpfenv_run(int prog_fd, enum bpfenv_prog kind, const uint8_t *frame, size_t len, int ifindex,
	       uint32_t *retval);

/* All counters, summed over the CPUs. */
#define BPFENV_RULE_CTRS (SPEE_MAX_RULES * SPEE_DIR_MAX)
#define BPFENV_REASON_CTRS (SPEE_REASON_MAX * SPEE_DIR_MAX)
/* non-IP frames by ethertype class: [(class * 2 + passed) * SPEE_DIR_MAX + dir] */
#define BPFENV_L2_CTRS (SPEE_L2_MAX * 2 * SPEE_DIR_MAX)

struct bpfenv_counters {
	struct spee_counter rule[BPFENV_RULE_CTRS];
	struct spee_counter reason[BPFENV_REASON_CTRS];
	struct spee_counter l2[BPFENV_L2_CTRS];
};

static inline uint32_t bpfenv_l2_index(uint32_t cls, uint32_t passed, uint32_t dir)
{
	return (cls * 2 + passed) * SPEE_DIR_MAX + dir;
}

int bpfenv_read_counters(const struct spee_map_fds *m, struct bpfenv_counters *c);

/* One counter, summed over the CPUs: rule counter idx when is_rule, else reason counter. */
int bpfenv_read_counter(const struct spee_map_fds *m, bool is_rule, uint32_t idx,
			struct spee_counter *out);

/* Deletes every element of a hash map (the flow and fragment tables). */
int bpfenv_clear_map(int fd, size_t key_size);

/* "ab cd ..." of len bytes into out (at least 3 * len + 1 bytes). */
void bpfenv_hex(const uint8_t *p, size_t len, char *out);

#endif
