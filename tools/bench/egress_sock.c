// SPDX-License-Identifier: GPL-2.0-only
/*
 * egress_sock.c - the egress program on real sockets: what a packet of a
 * kernel TCP socket costs at the cgroup_skb/egress hook. BPF_PROG_TEST_RUN's
 * skb carries a stand-in socket of no protocol, so the test-run rows of
 * xdp.c take the raw-socket path; here the program is attached to the run's
 * child cgroup, a sender process in that cgroup sends real TCP packets, and
 * the kernel's own statistics (BPF_ENABLE_STATS: the program's run_time_ns
 * and run_cnt) give its time a packet. The statistics are on only while a
 * measurement runs: they add two clock reads to every BPF program run on
 * the machine, the test-run rows' included.
 *
 * The sender is a child process that joins the cgroup and does what the
 * harness asks over a socketpair:
 *  - SYN: nonblocking connect()s to an allowed peer (an IH host, port 8472:
 *    ih-internal), each socket closed at once. A permanent neighbour entry
 *    sends the SYN out on the veth at once; on the peer's side bench_sink
 *    drops it, so nothing answers, and a closed socket retransmits nothing:
 *    one packet through the hook a connect();
 *  - OPEN, SEND, CLOSE: one connection (TCP_NODELAY) to a listener in the
 *    peer's namespace, and small writes on it, each read and acknowledged
 *    on the other side before the next is written, so that each is one
 *    segment and no timer sends anything in between.
 * The harness's figure is the measurement's: run time over runs. The
 * sender reads the statistics around each packet as well, and reports the
 * median packet's, which an interrupt or a preemption during one run (a
 * loaded machine) does not move.
 * The listeners are made by the harness before the fork, outside the
 * cgroup: the connections they accept belong to the listener's cgroup, so
 * the peer's ACKs never pass the hook measured (and come in by XDP).
 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flood.h"
#include "gen.h"
#include "bench.skel.h"

#define ES_PORT 8472	   /* ih-internal: MGMT and CAS to IH */
#define ES_WRITE 64	   /* bytes a write on the connection */
#define ES_WAIT_MS 2000	   /* a bound on every wait of the sender */
#define ES_REPLY_MS 120000 /* a bound on one request to the sender */

enum es_op { OP_SYN, OP_OPEN, OP_SEND, OP_CLOSE };

struct es_cmd {
	int op;
	int fam; /* 0 IPv4, 1 IPv6 */
	int count;
	__u32 prog_id; /* SYN, SEND: the program attached, whose statistics are read */
};

struct es_reply {
	int err;
	double median; /* SYN, SEND: the median packet's run time, ns */
};

struct es_addr {
	struct sockaddr_storage sa;
	socklen_t len;
	char text[48];
};

struct egress_sock {
	const struct bench_opts *o;
	struct bench *skel; /* bench_sink, for the peer's veth */
	int cg_fd;
	int tx_ifindex; /* in the peer's namespace */
	bool sink_attached;
	bool neigh_added[2];
	struct es_addr sink[2]; /* where the SYNs go: the SYN rows of xdp.c's destination */
	struct es_addr peer[2]; /* the listeners */
	int listen_fd[2];	/* in the peer's namespace */
	pid_t child;
	int ctl; /* the harness's end of the socketpair */
	int link_fd;
	int prog_fd; /* attached through link_fd */
	enum egress_sock_kind kind;
	int fam; /* 0 IPv4, 1 IPv6 */
	bool connected;
};

static int fam_of(int family)
{
	return family == 4 ? 0 : 1;
}

static int addr_of(struct es_addr *a, size_t host, int fam)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&a->sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;

	memset(a, 0, sizeof(*a));
	gen_host_addr(host, fam ? 6 : 4, a->text, sizeof(a->text));
	if (!fam) {
		in->sin_family = AF_INET;
		in->sin_port = htons(ES_PORT);
		a->len = sizeof(*in);
		return inet_pton(AF_INET, a->text, &in->sin_addr) == 1 ? 0 : -EINVAL;
	}
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(ES_PORT);
	a->len = sizeof(*in6);
	return inet_pton(AF_INET6, a->text, &in6->sin6_addr) == 1 ? 0 : -EINVAL;
}

/* ---- the sender (a child process in the cgroup) ---- */

static int wait_for(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	int n = poll(&p, 1, ES_WAIT_MS);

	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

/* The program's run time and runs so far (while BPF_ENABLE_STATS is on). */
static int prog_runs(int fd, uint64_t *ns, uint64_t *cnt, __u32 *id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
	if (id)
		*id = info.id;
	return 0;
}

/* One SYN: a connect() whose socket is closed at once. */
static int one_syn(const struct es_addr *dst)
{
	int fd = socket(dst->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (!connect(fd, (const struct sockaddr *)&dst->sa, dst->len) || errno != EINPROGRESS) {
		err = errno && errno != EINPROGRESS ? -errno : -EPROTO;
		close(fd);
		return err;
	}
	close(fd); /* in SYN_SENT: gone at once, nothing sent */
	return 0;
}

struct es_conn {
	int fd;	  /* the sender's */
	int peer; /* accepted on the listener */
};

static int do_open(const struct es_addr *dst, int listen_fd, struct es_conn *c)
{
	int one = 1, err = 0;
	socklen_t len = sizeof(err);

	c->fd = socket(dst->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		return -errno;
	if (!connect(c->fd, (const struct sockaddr *)&dst->sa, dst->len) || errno != EINPROGRESS)
		return errno ? -errno : -EPROTO;
	err = wait_for(c->fd, POLLOUT);
	if (err)
		return err;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	if (err)
		return -err;
	err = wait_for(listen_fd, POLLIN);
	if (err)
		return err;
	c->peer = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	return c->peer < 0 ? -errno : 0;
}

/*
 * One write, read on the other side and acknowledged before the next: one
 * segment each, and nothing left for a timer of the sender's (a tail-loss
 * probe) to send while the statistics are on.
 */
static int one_write(const struct es_conn *c)
{
	static const char out[ES_WRITE];
	char in[ES_WRITE];
	int got = 0, one = 1, unacked = 0, err;

	if (send(c->fd, out, sizeof(out), MSG_NOSIGNAL) != (ssize_t)sizeof(out))
		return errno ? -errno : -EIO;
	while (got < ES_WRITE) {
		ssize_t r = recv(c->peer, in, sizeof(in) - (size_t)got, 0);

		if (r > 0) {
			got += (int)r;
			continue;
		}
		if (r == 0)
			return -ECONNRESET;
		if (errno != EAGAIN)
			return -errno;
		err = wait_for(c->peer, POLLIN);
		if (err)
			return err;
	}
	if (setsockopt(c->peer, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one)))
		return -errno;
	for (int ms = 0;; ms++) {
		if (ioctl(c->fd, SIOCOUTQ, &unacked))
			return -errno;
		if (!unacked)
			return 0;
		if (ms >= ES_WAIT_MS)
			return -ETIMEDOUT;
		usleep(1000);
	}
}

/*
 * cmd->count packets (SYN or SEND), each timed on its own from the
 * program's statistics before and after it: the median packet's run time
 * to *median. An interrupt or a preemption inside one run lands in that
 * packet alone, where the harness's mean over the measurement takes it in.
 */
static int send_timed(const struct egress_sock *e, const struct es_cmd *cmd,
		      const struct es_conn *c, double *median)
{
	double *v = malloc((size_t)cmd->count * sizeof(*v) + 1);
	int fd = bpf_prog_get_fd_by_id(cmd->prog_id), n = 0, err = 0;
	uint64_t t0 = 0, n0 = 0, t1 = 0, n1 = 0;
	struct stat3 st;

	if (!v || fd < 0) {
		err = !v ? -ENOMEM : -errno;
		goto out;
	}
	err = prog_runs(fd, &t0, &n0, NULL);
	for (int i = 0; i < cmd->count && !err; i++) {
		err = cmd->op == OP_SYN ? one_syn(&e->sink[cmd->fam]) : one_write(c);
		if (!err)
			err = prog_runs(fd, &t1, &n1, NULL);
		if (!err && n1 > n0) /* the harness checks the runs against the packets */
			v[n++] = (double)(t1 - t0) / (double)(n1 - n0);
		t0 = t1;
		n0 = n1;
	}
	stat3_of(v, n, &st);
	*median = st.med;
out:
	if (fd >= 0)
		close(fd);
	free(v);
	return err;
}

static void do_close(struct es_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->peer >= 0)
		close(c->peer);
	c->fd = c->peer = -1;
}

static void sender(const struct egress_sock *e, pid_t parent, int ctl)
{
	struct es_conn c = {.fd = -1, .peer = -1};
	char path[600];
	int fd;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(2);
	alarm(900); /* a bound, whatever the harness does */
	snprintf(path, sizeof(path), "%s/cgroup.procs", e->o->cgroup);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || dprintf(fd, "%d\n", (int)getpid()) < 0)
		_exit(3);
	close(fd);
	bench_pin_cpu(e->o->cpu);
	for (;;) {
		struct es_reply rep = {.err = -EINVAL};
		struct es_cmd cmd;

		if (read(ctl, &cmd, sizeof(cmd)) != (ssize_t)sizeof(cmd))
			_exit(0);
		if (cmd.fam < 0 || cmd.fam > 1 || cmd.count < 0)
			cmd.op = -1;
		switch (cmd.op) {
		case OP_SYN:
			rep.err = send_timed(e, &cmd, &c, &rep.median);
			break;
		case OP_OPEN:
			do_close(&c);
			rep.err = do_open(&e->peer[cmd.fam], e->listen_fd[cmd.fam], &c);
			break;
		case OP_SEND:
			rep.err = c.fd >= 0 && c.peer >= 0 ? send_timed(e, &cmd, &c, &rep.median)
							   : -ENOTCONN;
			break;
		case OP_CLOSE:
			do_close(&c);
			rep.err = 0;
			break;
		}
		if (write(ctl, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
			_exit(0);
	}
}

static int ask(struct egress_sock *e, struct es_cmd cmd, double *median)
{
	struct pollfd p = {.fd = e->ctl, .events = POLLIN};
	struct es_reply rep;

	if (write(e->ctl, &cmd, sizeof(cmd)) != (ssize_t)sizeof(cmd))
		return -EPIPE;
	if (poll(&p, 1, ES_REPLY_MS) != 1)
		return -ETIMEDOUT;
	if (read(e->ctl, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		return -EPIPE;
	if (median)
		*median = rep.median;
	return rep.err;
}

/* ---- the harness's side ---- */

static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int shell(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) ? -EIO : 0;
}

static int listen_on(const struct es_addr *a)
{
	int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (const struct sockaddr *)&a->sa, a->len) || listen(fd, 16)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * In the peer's namespace: the listeners' addresses on its veth, the
 * listeners, bench_sink on the veth; its MAC to mac.
 */
static int peer_setup(struct egress_sock *e, uint8_t mac[6])
{
	const char *ifname = e->o->tx_if;
	int err = 0;

	e->tx_ifindex = (int)if_nametoindex(ifname);
	if (e->tx_ifindex <= 0)
		return -ENODEV;
	err = flood_if_mac(ifname, mac);
	if (!err)
		err = shell("ip addr replace %s/32 dev %s", e->peer[0].text, ifname);
	if (!err) /* the /64: the peer answers the measured host on-link */
		err = shell("ip addr replace %s/64 dev %s nodad", e->peer[1].text, ifname);
	for (int f = 0; f < 2 && !err; f++) {
		e->listen_fd[f] = listen_on(&e->peer[f]);
		err = e->listen_fd[f] < 0 ? e->listen_fd[f] : 0;
	}
	if (!err) {
		err = bpf_xdp_attach(e->tx_ifindex, bpf_program__fd(e->skel->progs.bench_sink),
				     XDP_FLAGS_DRV_MODE, NULL);
		e->sink_attached = !err;
	}
	return err;
}

int egress_sock_open(const struct bench_opts *o, struct egress_sock **out)
{
	struct egress_sock *e = calloc(1, sizeof(*e));
	int sv[2], err = 0;
	uint8_t mac[6] = {0};
	char m[24];

	*out = NULL;
	if (!e)
		return -ENOMEM;
	e->o = o;
	e->cg_fd = e->ctl = e->link_fd = e->prog_fd = -1;
	e->listen_fd[0] = e->listen_fd[1] = -1;
	for (int f = 0; f < 2 && !err; f++) {
		err = addr_of(&e->sink[f], gen_host_with("IH", 2), f);
		if (!err)
			err = addr_of(&e->peer[f], gen_host_with("IH", 3), f);
	}
	e->cg_fd = open(o->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->cg_fd < 0)
		err = -errno;
	e->skel = err ? NULL : bench__open();
	if (!err && !e->skel)
		err = -errno;
	if (!err) {
		e->skel->rodata->sink4 = ((struct sockaddr_in *)&e->sink[0].sa)->sin_addr.s_addr;
		memcpy((void *)e->skel->rodata->sink6,
		       &((struct sockaddr_in6 *)&e->sink[1].sa)->sin6_addr, 16);
		err = bench__load(e->skel);
	}
	if (!err)
		err = bench_enter_netns(o->tx_netns);
	if (!err) {
		err = peer_setup(e, mac);
		if (bench_enter_netns(o->rx_netns) && !err)
			err = -EIO;
	}
	snprintf(m, sizeof(m), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	for (int f = 0; f < 2 && !err; f++) {
		err = shell("ip neigh replace %s lladdr %s dev %s nud permanent", e->sink[f].text,
			    m, o->rx_if);
		e->neigh_added[f] = !err;
	}
	if (!err && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		err = -errno;
	if (!err) {
		pid_t parent = getpid();

		e->child = fork();
		if (e->child == 0) {
			close(sv[0]);
			sender(e, parent, sv[1]);
			_exit(1);
		}
		if (e->child < 0)
			err = -errno;
		close(sv[1]);
		e->ctl = sv[0];
	}
	if (err) {
		bench_log("egress on real sockets: cannot set up: %s", strerror(-err));
		egress_sock_close(e);
		return err;
	}
	*out = e;
	return 0;
}

int egress_sock_attach(struct egress_sock *e, int prog_fd, enum egress_sock_kind kind, int family)
{
	int err;

	e->link_fd = bpf_link_create(prog_fd, e->cg_fd, BPF_CGROUP_INET_EGRESS, NULL);
	if (e->link_fd < 0)
		return -errno;
	e->prog_fd = prog_fd;
	e->connected = false;
	e->kind = kind;
	e->fam = fam_of(family);
	if (kind != ES_ESTABLISHED)
		return 0;
	err = ask(e, (struct es_cmd){.op = OP_OPEN, .fam = e->fam}, NULL);
	if (err) {
		bench_log("egress on real sockets: cannot connect to %s port %d: %s",
			  e->peer[e->fam].text, ES_PORT, strerror(-err));
		egress_sock_detach(e);
		return err;
	}
	e->connected = true;
	return 0;
}

int egress_sock_run(struct egress_sock *e, int count, double *mean, double *median,
		    uint64_t *runs)
{
	struct es_cmd cmd = {.op = e->kind == ES_ESTABLISHED ? OP_SEND : OP_SYN,
			     .fam = e->fam,
			     .count = count};
	uint64_t t0 = 0, t1 = 0, n0 = 0, n1 = 0;
	int stats, err;

	if (e->link_fd < 0)
		return -EINVAL;
	stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats < 0)
		return -errno;
	err = prog_runs(e->prog_fd, &t0, &n0, &cmd.prog_id);
	if (!err)
		err = ask(e, cmd, median);
	if (!err)
		err = prog_runs(e->prog_fd, &t1, &n1, NULL);
	close(stats);
	if (err)
		return err;
	*runs = n1 - n0;
	*mean = *runs ? (double)(t1 - t0) / (double)*runs : 0;
	return 0;
}

void egress_sock_detach(struct egress_sock *e)
{
	if (e->connected)
		ask(e, (struct es_cmd){.op = OP_CLOSE, .fam = e->fam}, NULL);
	e->connected = false;
	if (e->link_fd >= 0)
		close(e->link_fd);
	e->link_fd = e->prog_fd = -1;
}

void egress_sock_close(struct egress_sock *e)
{
	if (!e)
		return;
	egress_sock_detach(e);
	if (e->ctl >= 0)
		close(e->ctl); /* the sender's read ends: it exits */
	if (e->child > 0 && waitpid(e->child, NULL, 0) != e->child)
		kill(e->child, SIGKILL);
	for (int f = 0; f < 2; f++)
		if (e->neigh_added[f])
			shell("ip neigh del %s dev %s", e->sink[f].text, e->o->rx_if);
	for (int f = 0; f < 2; f++)
		if (e->listen_fd[f] >= 0)
			close(e->listen_fd[f]);
	/* The listeners' addresses stay on the peer's veth: its namespace takes them. */
	if (e->sink_attached && !bench_enter_netns(e->o->tx_netns)) {
		bpf_xdp_detach(e->tx_ifindex, XDP_FLAGS_DRV_MODE, NULL);
		bench_enter_netns(e->o->rx_netns);
	}
	if (e->cg_fd >= 0)
		close(e->cg_fd);
	bench__destroy(e->skel);
	free(e);
}
