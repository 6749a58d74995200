// SPDX-License-Identifier: GPL-2.0-only
/* conns.c - live connections: sock_diag (libmnl) and spee_flows (conns.h). */
#include "conns.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <bpf/bpf.h>

#include "maps.h"

struct listener {
	struct prefix addr; /* unspecified: every address */
	uint16_t port;
};

struct collect {
	struct plan_conn *v;
	size_t n, cap;
	struct listener *listen;
	size_t n_listen, cap_listen;
	uint8_t proto; /* of the dump under way */
	int err;
};

static const char *const tcp_states[] = {
	[TCP_ESTABLISHED] = "established", [TCP_SYN_SENT] = "syn-sent",
	[TCP_SYN_RECV] = "syn-recv",	   [TCP_FIN_WAIT1] = "fin-wait-1",
	[TCP_FIN_WAIT2] = "fin-wait-2",	   [TCP_TIME_WAIT] = "time-wait",
	[TCP_CLOSE] = "close",		   [TCP_CLOSE_WAIT] = "close-wait",
	[TCP_LAST_ACK] = "last-ack",	   [TCP_LISTEN] = "listen",
	[TCP_CLOSING] = "closing",
};

const char *conns_tcp_state_label(unsigned state)
{
	if (state < sizeof(tcp_states) / sizeof(tcp_states[0]) && tcp_states[state])
		return tcp_states[state];
	return state ? "?" : "";
}

/* The states in which a TCP socket carries a connection. */
static bool tcp_live(unsigned state)
{
	return state != TCP_LISTEN && state != TCP_TIME_WAIT && state != TCP_CLOSE;
}

/* An address as the wire sees it: IPv4-mapped IPv6 (a dual-stack socket's) is IPv4. */
static void set_addr(struct prefix *p, int family, const void *addr)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(p, 0, sizeof(*p));
	if (family == AF_INET6 && !memcmp(addr, mapped, sizeof(mapped))) {
		p->family = AF_INET;
		memcpy(p->addr, (const uint8_t *)addr + 12, 4);
	} else {
		p->family = (uint8_t)family;
		memcpy(p->addr, addr, family == AF_INET ? 4 : 16);
	}
	p->len = (uint8_t)prefix_max_len(p->family);
}

static bool unspecified(const struct prefix *p)
{
	static const uint8_t zero[16];

	return !memcmp(p->addr, zero, p->family == AF_INET ? 4 : 16);
}

static int add_conn(struct collect *c, const struct plan_conn *conn)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct plan_conn *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = *conn;
	return 0;
}

static int add_listener(struct collect *c, const struct prefix *addr, uint16_t port)
{
	if (c->n_listen == c->cap_listen) {
		size_t cap = c->cap_listen ? 2 * c->cap_listen : 16;
		struct listener *v = realloc(c->listen, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->listen = v;
		c->cap_listen = cap;
	}
	c->listen[c->n_listen++] = (struct listener){ *addr, port };
	return 0;
}

/* One socket of a SOCK_DIAG_BY_FAMILY dump. */
static int on_socket(const struct nlmsghdr *nlh, void *data)
{
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct collect *c = data;
	struct plan_conn conn = { .seen = PLAN_SEEN_SOCKET };
	uint8_t proto = c->proto;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return MNL_CB_OK;
	set_addr(&conn.local, m->idiag_family, m->id.idiag_src);
	set_addr(&conn.remote, m->idiag_family, m->id.idiag_dst);
	conn.lport = ntohs(m->id.idiag_sport);
	conn.rport = ntohs(m->id.idiag_dport);
	conn.proto = proto;
	if (proto == IPPROTO_TCP) {
		if (m->idiag_state == TCP_LISTEN)
			c->err = c->err ? c->err : add_listener(c, &conn.local, conn.lport);
		if (!tcp_live(m->idiag_state))
			return MNL_CB_OK;
		conn.tcp_state = m->idiag_state;
	} else if (!conn.rport || unspecified(&conn.remote)) {
		return MNL_CB_OK; /* an unconnected UDP socket: no peer of its own */
	} else {
		conn.opened = PLAN_CONN_OUT;
	}
	c->err = c->err ? c->err : add_conn(c, &conn);
	return MNL_CB_OK;
}

/* Dumps one family and protocol of the socket table into c. */
static int dump(struct mnl_socket *nl, uint8_t family, uint8_t proto, uint32_t seq,
		struct collect *c)
{
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	struct inet_diag_req_v2 *req;
	struct nlmsghdr *nlh;
	unsigned portid = mnl_socket_get_portid(nl);
	ssize_t len;
	int ret;

	if (!buf)
		return -ENOMEM;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = proto;
	c->proto = proto;
	req->idiag_states = ~0u;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	do {
		len = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);
		if (len < 0) {
			ret = -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)len, seq, portid, on_socket, c);
	} while (ret > 0);
	ret = ret < 0 ? -errno : c->err;
out:
	free(buf);
	return ret;
}

/* TCP connections accepted here: a listener holds their local port (and address). */
static void mark_inbound(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct plan_conn *conn = &c->v[i];

		if (conn->proto != IPPROTO_TCP)
			continue;
		conn->opened = PLAN_CONN_OUT;
		for (size_t l = 0; l < c->n_listen; l++)
			if (c->listen[l].port == conn->lport &&
			    (unspecified(&c->listen[l].addr) ||
			     !prefix_cmp(&c->listen[l].addr, &conn->local))) {
				conn->opened = PLAN_CONN_IN;
				break;
			}
	}
}

static int read_socket_table(struct collect *c, struct diags *d)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	uint32_t seq = (uint32_t)time(NULL);
	int err = 0;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	for (size_t f = 0; f < sizeof(families) && !err; f++)
		for (size_t p = 0; p < sizeof(protos) && !err; p++) {
			err = dump(nl, families[f], protos[p], ++seq, c);
		}
out:
	if (err)
		diag_add(d, NULL, 0, 0, "cannot read the socket table (sock_diag): %s",
			 strerror(-err));
	if (nl)
		mnl_socket_close(nl);
	return err;
}

static bool same_tuple(const struct plan_conn *a, const struct plan_conn *b)
{
	return a->proto == b->proto && a->lport == b->lport && a->rport == b->rport &&
	       !prefix_cmp(&a->local, &b->local) && !prefix_cmp(&a->remote, &b->remote);
}

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns()'s clock */
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The flow state: UDP flows still within udp_timeout; TCP ones only mark their socket. */
static int read_flows(struct instance *inst, struct collect *c, struct diags *d)
{
	int fd = inst->maps.fd[SPEE_MAP_FLOWS];
	struct spee_flow_key key, prev;
	struct spee_flow_state st;
	struct spee_runtime rt;
	int64_t now = monotonic_ns();
	uint64_t timeout;
	size_t n_sockets = c->n;
	int err;

	if (fd < 0)
		return 0; /* a build without it: nothing to add */
	err = maps_read_runtime(&inst->maps, &rt, d);
	if (err)
		return err;
	timeout = rt.slot[rt.active & 1].udp_timeout_ns;
	for (err = bpf_map_get_next_key(fd, NULL, &key); !err;
	     err = bpf_map_get_next_key(fd, &prev, &key)) {
		struct plan_conn conn = { .seen = PLAN_SEEN_FLOW, .opened = PLAN_CONN_UNKNOWN };
		int family = key.family == SPEE_FAMILY_V4 ? AF_INET : AF_INET6;
		bool known = false;

		prev = key;
		if (bpf_map_lookup_elem(fd, &key, &st))
			continue; /* evicted meanwhile */
		if (key.proto != IPPROTO_TCP && key.proto != IPPROTO_UDP)
			continue;
		conn.proto = key.proto;
		set_addr(&conn.local, family, key.laddr);
		set_addr(&conn.remote, family, key.raddr);
		conn.lport = ntohs(key.lport);
		conn.rport = ntohs(key.rport);
		for (size_t i = 0; i < n_sockets && !known; i++)
			if (same_tuple(&c->v[i], &conn)) {
				c->v[i].seen |= PLAN_SEEN_FLOW;
				known = true;
			}
		if (known || conn.proto == IPPROTO_TCP)
			continue;
		if (now - (int64_t)st.last_seen_ns > (int64_t)timeout)
			continue; /* expired: its replies no longer pass */
		err = add_conn(c, &conn);
		if (err)
			return err;
	}
	if (err == -ENOENT)
		return 0;
	diag_add(d, NULL, 0, 0, "cannot read the flow state of %s: %s", inst->pin_dir,
		 strerror(-err));
	return err;
}

int conns_list(struct instance *inst, struct plan_conn **out, size_t *n, struct diags *d)
{
	struct collect c = { 0 };
	int err;

	*out = NULL;
	*n = 0;
	err = read_socket_table(&c, d);
	if (!err)
		mark_inbound(&c);
	if (!err && inst)
		err = read_flows(inst, &c, d);
	free(c.listen);
	if (err) {
		free(c.v);
		return err;
	}
	*out = c.v;
	*n = c.n;
	return 0;
}
