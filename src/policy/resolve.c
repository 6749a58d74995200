// SPDX-License-Identifier: GPL-2.0-only
#include "resolve.h"

#include <ares.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct resolver {
	ares_channel channel;
	int pending;
	int timeout_ms;
	resolver_done_fn done;
	void *done_arg;
};

void resolver_on_done(struct resolver *r, resolver_done_fn fn, void *arg)
{
	r->done = fn;
	r->done_arg = arg;
}

/* One outstanding query: where its answer goes. */
struct query {
	struct resolver *r;
	struct name_table *t;
	char *name;
};

static int library_users;

int resolver_open(struct resolver **out, int timeout_ms)
{
	struct ares_options opts = { .timeout = timeout_ms, .tries = 2 };
	struct resolver *r;
	int st;

	*out = NULL;
	if (library_users++ == 0 && ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		library_users--;
		return -EIO;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		resolver_close(NULL);
		return -ENOMEM;
	}
	r->timeout_ms = timeout_ms;
	/* "fb": the hosts file first, then DNS, as glibc does by default. */
	opts.lookups = (char *)"fb";
	st = ares_init_options(&r->channel, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
						    ARES_OPT_LOOKUPS);
	if (st != ARES_SUCCESS) {
		free(r);
		resolver_close(NULL);
		return st == ARES_ENOMEM ? -ENOMEM : -EIO;
	}
	*out = r;
	return 0;
}

void resolver_close(struct resolver *r)
{
	if (r) {
		ares_destroy(r->channel); /* runs pending callbacks with ARES_EDESTRUCTION */
		free(r);
	}
	if (library_users > 0 && --library_users == 0)
		ares_library_cleanup();
}

int resolver_servers(struct resolver *r, struct prefix **out, size_t *n)
{
	struct ares_addr_port_node *servers = NULL, *s;
	struct prefix *v = NULL;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (ares_get_servers_ports(r->channel, &servers) != ARES_SUCCESS)
		return -EIO;
	for (s = servers; s; s = s->next) {
		struct prefix p = { .family = (uint8_t)s->family };
		struct prefix *grown;

		if (s->family == AF_INET) {
			p.len = 32;
			memcpy(p.addr, &s->addr.addr4, 4);
		} else if (s->family == AF_INET6) {
			p.len = 128;
			memcpy(p.addr, &s->addr.addr6, 16);
		} else {
			continue;
		}
		grown = realloc(v, (count + 1) * sizeof(*v));
		if (!grown) {
			free(v);
			ares_free_data(servers);
			return -ENOMEM;
		}
		v = grown;
		v[count++] = p;
	}
	ares_free_data(servers);
	*out = v;
	*n = count;
	return 0;
}

static void record_failure(struct name_table *t, const char *name, const char *why)
{
	struct name_addrs *e = (struct name_addrs *)names_find(t, name);

	if (!e) {
		if (names_set(t, name, NULL, 0, 0))
			return;
		e = (struct name_addrs *)names_find(t, name);
		e->resolved = false;
	}
	e->failures++;
	free(e->last_error);
	e->last_error = strdup(why);
}

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct query *q = arg;
	struct prefix addrs[256];
	size_t n = 0;
	int ttl = -1;

	(void)timeouts;
	q->r->pending--;
	if (status == ARES_SUCCESS && res) {
		for (struct ares_addrinfo_node *nd = res->nodes; nd && n < 256; nd = nd->ai_next) {
			struct prefix *p = &addrs[n];

			memset(p, 0, sizeof(*p));
			if (nd->ai_family == AF_INET) {
				p->family = AF_INET;
				p->len = 32;
				memcpy(p->addr, &((struct sockaddr_in *)nd->ai_addr)->sin_addr, 4);
			} else if (nd->ai_family == AF_INET6) {
				p->family = AF_INET6;
				p->len = 128;
				memcpy(p->addr, &((struct sockaddr_in6 *)nd->ai_addr)->sin6_addr, 16);
			} else {
				continue;
			}
			if (ttl < 0 || nd->ai_ttl < ttl)
				ttl = nd->ai_ttl;
			n++;
		}
	}
	if (status == ARES_EDESTRUCTION) {
		/* The resolver is closing: nothing was learned, nothing failed. */
	} else if (n > 0) {
		if (names_set(q->t, q->name, addrs, n, ttl > 0 ? (uint32_t)ttl : 0) == 0) {
			struct name_addrs *e = (struct name_addrs *)names_find(q->t, q->name);

			e->last_ok = (int64_t)time(NULL);
		}
		if (q->r->done)
			q->r->done(q->r->done_arg, q->name, true);
	} else {
		record_failure(q->t, q->name, status == ARES_SUCCESS ? "no addresses" :
						ares_strerror(status));
		if (q->r->done)
			q->r->done(q->r->done_arg, q->name, false);
	}
	if (res)
		ares_freeaddrinfo(res);
	free(q->name);
	free(q);
}

int resolver_query(struct resolver *r, struct name_table *t, const char *name)
{
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC,
					     .ai_socktype = SOCK_STREAM };
	struct query *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->r = r;
	q->t = t;
	q->name = strdup(name);
	if (!q->name) {
		free(q);
		return -ENOMEM;
	}
	r->pending++;
	ares_getaddrinfo(r->channel, name, NULL, &hints, on_answer, q);
	return 0;
}

int resolver_pending(const struct resolver *r)
{
	return r->pending;
}

int resolver_fds(struct resolver *r, fd_set *rd, fd_set *wr, int *maxfd)
{
	struct timeval tv, *tvp;
	int nfds;

	if (!r->pending)
		return -1;
	nfds = ares_fds(r->channel, rd, wr);
	if (nfds - 1 > *maxfd)
		*maxfd = nfds - 1;
	tvp = ares_timeout(r->channel, NULL, &tv);
	if (!tvp)
		return r->timeout_ms;
	return (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000);
}

void resolver_process(struct resolver *r, fd_set *rd, fd_set *wr)
{
	ares_process(r->channel, rd, wr);
}

int resolver_resolve_all(struct resolver *r, struct name_table *t, char *const *names, size_t n)
{
	/* c-ares gives up on its own after timeout x tries per server; this only guards the loop. */
	int rounds = 1000;
	int err;

	for (size_t i = 0; i < n; i++) {
		err = resolver_query(r, t, names[i]);
		if (err)
			return err;
	}
	while (r->pending && rounds-- > 0) {
		fd_set rd, wr;
		int maxfd = -1, ms;
		struct timeval tv;

		FD_ZERO(&rd);
		FD_ZERO(&wr);
		ms = resolver_fds(r, &rd, &wr, &maxfd);
		if (ms < 0)
			break;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		if (select(maxfd + 1, &rd, &wr, NULL, &tv) < 0 && errno != EINTR)
			return -errno;
		resolver_process(r, &rd, &wr);
	}
	return r->pending ? -ETIMEDOUT : 0;
}

int resolve_policy_names(const struct policy *p, const struct name_table *pinned,
			 struct name_table *t)
{
	struct resolver *r;
	char **todo;
	size_t n = 0;
	int err = 0;

	if (!p->n_names)
		return 0;
	todo = calloc(p->n_names, sizeof(*todo));
	if (!todo)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_names && !err; i++) {
		const struct name_addrs *pin = names_find(pinned, p->names[i]);

		if (pin)
			err = names_set(t, pin->name, pin->addrs, pin->n_addrs, 0);
		else
			todo[n++] = p->names[i];
	}
	if (!err && n)
		err = resolver_open(&r, 2000);
	if (!err && n) {
		resolver_resolve_all(r, t, todo, n);
		resolver_close(r);
		for (size_t i = 0; i < n; i++) {
			const struct name_addrs *na = names_find(t, todo[i]);

			if (!na || !na->n_addrs)
				fprintf(stderr, "speebpf: warning: %s does not resolve (%s); the rules "
						"naming it allow nothing until it does\n",
					todo[i], na && na->last_error ? na->last_error : "no answer");
		}
	}
	free(todo);
	return err;
}
