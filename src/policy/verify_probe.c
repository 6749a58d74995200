// SPDX-License-Identifier: GPL-2.0-only
#include "verify_probe.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static socklen_t sockaddr_of(const struct prefix *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a->addr, 4);
		return sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a->addr, 16);
		return sizeof(*s6);
	}
}

static void finish(struct verify_probe *p, enum verify_result result, int err, bool timed_out,
		   int64_t started)
{
	p->result = result;
	p->error = err;
	p->timed_out = timed_out;
	p->elapsed_ms = (uint32_t)(now_ms() - started);
}

/* Closes a probe's socket; with a RST when it connected (no TIME_WAIT left). */
static void close_probe(int fd, bool connected)
{
	if (connected) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(fd);
}

/*
 * Starts a probe's connect. Returns the socket while the connect is under
 * way, or -1 when the probe has ended already (its result is set).
 */
static int start_probe(struct verify_probe *p, int64_t started)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, err;

	fd = socket(p->dst.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		finish(p, VERIFY_ERROR, errno, false, started);
		return -1;
	}
	/* Bind only the address: ports are picked at connect, so many probes need no more of them. */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	len = sockaddr_of(&p->src, 0, &ss);
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		finish(p, VERIFY_ERROR, errno, false, started);
		close(fd);
		return -1;
	}
	len = sockaddr_of(&p->dst, p->port, &ss);
	if (!connect(fd, (struct sockaddr *)&ss, len)) {
		finish(p, VERIFY_OPEN, 0, false, started);
		close_probe(fd, true);
		return -1;
	}
	err = errno;
	if (err == EINPROGRESS)
		return fd;
	/* Refused at once: EPERM from a connect hook, ENETUNREACH without a route... */
	finish(p, verify_classify(err, false), err, false, started);
	close(fd);
	return -1;
}

struct inflight {
	size_t probe;
	int64_t started;
};

int verify_run(struct verify_plan *plan, const struct verify_run_opts *opts)
{
	unsigned timeout = opts && opts->timeout_ms ? opts->timeout_ms : VERIFY_DEFAULT_TIMEOUT_MS;
	unsigned cap = opts && opts->max_inflight ? opts->max_inflight : VERIFY_DEFAULT_INFLIGHT;
	struct pollfd *fds = calloc(cap, sizeof(*fds));
	struct inflight *slots = calloc(cap, sizeof(*slots));
	size_t next = 0, n = 0;
	int64_t t0 = now_ms();
	int err = 0;

	plan->timeout_ms = timeout;
	plan->started = time(NULL);
	if (!fds || !slots) {
		err = -ENOMEM;
		goto out;
	}
	while (next < plan->n_probes || n) {
		int64_t now, wait = timeout;
		int ready;

		while (n < cap && next < plan->n_probes) {
			int64_t started = now_ms();
			int fd = start_probe(&plan->probes[next], started);

			if (fd >= 0) {
				fds[n] = (struct pollfd){ .fd = fd, .events = POLLOUT };
				slots[n] = (struct inflight){ next, started };
				n++;
			}
			next++;
		}
		if (!n)
			continue;
		now = now_ms();
		for (size_t i = 0; i < n; i++) {
			int64_t left = slots[i].started + timeout - now;

			if (left < wait)
				wait = left < 0 ? 0 : left;
		}
		ready = poll(fds, n, (int)wait);
		if (ready < 0 && errno != EINTR) {
			err = -errno;
			goto out;
		}
		now = now_ms();
		/* Backwards, so that moving the last slot into a finished one skips nothing. */
		for (size_t i = n; i-- > 0;) {
			struct verify_probe *p = &plan->probes[slots[i].probe];

			if (ready > 0 && fds[i].revents) {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);

				if (getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
					soerr = errno;
				finish(p, verify_classify(soerr, false), soerr, false, slots[i].started);
				close_probe(fds[i].fd, soerr == 0);
			} else if (now - slots[i].started >= timeout) {
				finish(p, VERIFY_BLOCKED_PATH, 0, true, slots[i].started);
				close(fds[i].fd);
			} else {
				continue;
			}
			n--;
			fds[i] = fds[n];
			slots[i] = slots[n];
		}
	}
out:
	for (size_t i = 0; fds && i < n; i++)
		close(fds[i].fd);
	plan->duration_ms = (uint32_t)(now_ms() - t0);
	free(fds);
	free(slots);
	return err;
}
