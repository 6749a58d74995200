// SPDX-License-Identifier: GPL-2.0-only
/* bpfenv.c - the BPF tests' namespace, test_run and counter helpers (see bpfenv.h). */
#include "bpfenv.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"

#define IP_ARGS_MAX 24

int bpfenv_ip(const char *arg, ...)
{
	const char *argv[IP_ARGS_MAX + 2] = {"ip"};
	int n = 1, status;
	va_list ap;
	pid_t pid;

	va_start(ap, arg);
	for (const char *a = arg; a && n < IP_ARGS_MAX; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* iproute2's ip first: a busybox ip earlier on PATH lacks veth */
		execv("/usr/sbin/ip", (char *const *)argv);
		execv("/sbin/ip", (char *const *)argv);
		execvp("ip", (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY), err = 0;

	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		err = -1;
	close(fd);
	return err;
}

/* The programs the tests load are run by BPF_PROG_TEST_RUN (loader.h). */
__attribute__((constructor)) static void programs_are_test_run(void)
{
	loader_set_test_run(true);
}

int bpfenv_netns(const char *a, const char *b, const char *addr4, const char *addr6)
{
	char path[128], pfx[64];
	int ifindex;

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s (run as root)\n", strerror(errno));
		return -1;
	}
	if (bpfenv_ip("link", "set", "lo", "up", NULL) ||
	    bpfenv_ip("link", "add", a, "type", "veth", "peer", "name", b, NULL)) {
		fprintf(stderr, "cannot make the veth pair %s/%s\n", a, b);
		return -1;
	}
	/* No duplicate address detection, so that the address is usable at once. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_dad", a);
	if (addr6 && write_file(path, "0")) {
		fprintf(stderr, "cannot turn DAD off on %s\n", a);
		return -1;
	}
	if (addr4) {
		snprintf(pfx, sizeof(pfx), "%s/32", addr4);
		if (bpfenv_ip("addr", "add", pfx, "dev", a, NULL))
			return -1;
	}
	if (addr6) {
		snprintf(pfx, sizeof(pfx), "%s/128", addr6);
		if (bpfenv_ip("-6", "addr", "add", pfx, "dev", a, NULL))
			return -1;
	}
	if (bpfenv_ip("link", "set", a, "up", NULL) || bpfenv_ip("link", "set", b, "up", NULL))
		return -1;
	ifindex = (int)if_nametoindex(a);
	return ifindex > 1 ? ifindex : -1;
}

int bpfenv_run(int prog_fd, enum bpfenv_prog kind, const uint8_t *frame, size_t len, int ifindex,
	       uint32_t *retval)
{
	struct __sk_buff skb = {.ifindex = (__u32)ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (__u32)len);

	if (kind == BPFENV_EGRESS) {
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}
	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	*retval = o.retval;
	return 0;
}

static int sum_cpus(int fd, uint32_t idx, struct spee_counter *out)
{
	static struct spee_counter *v;
	static int ncpu;

	if (!v) {
		ncpu = libbpf_num_possible_cpus();
		if (ncpu <= 0)
			return -EINVAL;
		v = calloc((size_t)ncpu, sizeof(*v)); /* kept for the process's life */
		if (!v)
			return -ENOMEM;
	}
	if (bpf_map_lookup_elem(fd, &idx, v))
		return -errno;
	out->packets = out->bytes = 0;
	for (int c = 0; c < ncpu; c++) {
		out->packets += v[c].packets;
		out->bytes += v[c].bytes;
	}
	return 0;
}

int bpfenv_read_counter(const struct spee_map_fds *m, bool is_rule, uint32_t idx,
			struct spee_counter *out)
{
	return sum_cpus(m->fd[is_rule ? SPEE_MAP_RULE_CTR : SPEE_MAP_REASON_CTR], idx, out);
}

int bpfenv_read_counters(const struct spee_map_fds *m, struct bpfenv_counters *c)
{
	int err = 0;

	for (uint32_t i = 0; !err && i < BPFENV_RULE_CTRS; i++)
		err = bpfenv_read_counter(m, true, i, &c->rule[i]);
	for (uint32_t i = 0; !err && i < BPFENV_REASON_CTRS; i++)
		err = bpfenv_read_counter(m, false, i, &c->reason[i]);
	for (uint32_t k = 0; !err && k < BPFENV_L2_CTRS; k++)
		err = bpfenv_read_counter(m, false,
					  spee_l2_ctr_index(k / (2 * SPEE_DIR_MAX),
							    (k / SPEE_DIR_MAX) & 1, k % SPEE_DIR_MAX),
					  &c->l2[k]);
	return err;
}

int bpfenv_clear_map(int fd, size_t key_size)
{
	uint8_t key[64], next[64];
	/* Bounded: the tables the tests clear hold far fewer entries than this. */
	int budget = 1 << 20;

	if (key_size > sizeof(key))
		return -EINVAL;
	while (budget-- > 0) {
		if (bpf_map_get_next_key(fd, NULL, next))
			return errno == ENOENT ? 0 : -errno;
		memcpy(key, next, key_size);
		if (bpf_map_delete_elem(fd, key) && errno != ENOENT)
			return -errno;
	}
	return -E2BIG;
}

void bpfenv_hex(const uint8_t *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[3 * i] = digits[p[i] >> 4];
		out[3 * i + 1] = digits[p[i] & 15];
		out[3 * i + 2] = ' ';
	}
	out[len ? 3 * len - 1 : 0] = '\0';
}
