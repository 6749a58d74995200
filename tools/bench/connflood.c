// SPDX-License-Identifier: GPL-2.0-only
/*
 * connflood.c - real traffic the policy allows: a flood of short TCP
 * connections (SYN, then data) from allowed peers to a server on the
 * measured host, through speebpf (A: XDP on the receiver's veth, the egress
 * program on the server's cgroup) or through nftables with conntrack (B:
 * the same ingress rules after "ct state established,related accept", on
 * the input hook of an inet table). Beside each, its baseline: the empty
 * XDP program alone (attaching any XDP program changes how veth receives:
 * it copies every frame into a page of its own), and no filter at all.
 * Every round measures the four in turn.
 *
 * The client runs in the sender's namespace on one CPU: a fixed number of
 * connections, a few at once, each from one of eight peer (IH) addresses to
 * bench0:8471 (mgmt-internal), writing its payload in several segments
 * (TCP_NODELAY) and closing after the server has. The server runs in the
 * measured host's namespace, in a child cgroup of the run's own, on the
 * other CPU, beside the receiver's NAPI thread (threaded NAPI on both veths,
 * so that neither side's receiving runs on the other's CPU). The figure is
 * the receiving CPU's time (the NAPI thread and the server) for each
 * connection: every connection is the same exchange, but how many frames
 * it takes varies with timing (delayed ACKs), so the time a connection,
 * not a frame, says what the filter adds to the stack's work, and how many
 * connections (of so many packets) a second one CPU can take in. The time
 * a frame is given beside it.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_spee.h"
#include "flood.h"
#include "bench.skel.h"

#define CONN_TABLE "spb_conn"
#define CONN_PORT 8471 /* mgmt-internal: CAS and IH to MGMT */
#define CONN_SOURCES 8
#define CONN_IN_FLIGHT 32
#define CONN_PAYLOAD 2048
#define CONN_SEGMENTS 4
#define CONN_MAX_SECONDS 20

struct conn_env {
	const struct bench_opts *o;
	struct bench_spee sp;
	struct bench *empty; /* bench_empty: the XDP hook's fixed cost */
	int rx_ifindex;
	int cg_fd;
	int link_fd; /* the egress program's link on the cgroup, while attached */
	bool xdp_attached;
	bool nft_loaded;
	char *nft_text;
	size_t nft_elements;
	struct sockaddr_in src[CONN_SOURCES];
	struct sockaddr_in dst;
	pid_t server;
	int server_ctl; /* closing it stops the server */
	int pids[10];	/* the receiving CPU's tasks: the server, then the NAPI threads */
	int n_pids;
	int tx_cpu;
};

/* ---- the server (a child process) ---- */

#define SERVER_FDS 65536

static void serve(const struct conn_env *env, int ready, int ctl)
{
	static int got[SERVER_FDS]; /* bytes read on each connection, by fd */
	struct epoll_event ev, evs[64];
	char buf[CONN_PAYLOAD], path[600];
	int lfd, ep, one = 1, fd;

	alarm(900); /* a bound, whatever the parent does */
	bench_pin_cpu(env->o->cpu);
	snprintf(path, sizeof(path), "%s/cgroup.procs", env->o->cgroup);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || dprintf(fd, "%d\n", (int)getpid()) < 0)
		_exit(3);
	close(fd);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || ep < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (const struct sockaddr *)&env->dst, sizeof(env->dst)) || listen(lfd, 4096))
		_exit(4);
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.fd = ctl;
	epoll_ctl(ep, EPOLL_CTL_ADD, ctl, &ev);
	if (write(ready, "r", 1) != 1)
		_exit(5);
	close(ready);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			int c = evs[i].data.fd;

			if (c == ctl)
				_exit(0);
			if (c == lfd) {
				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					if (fd >= SERVER_FDS)
						_exit(6);
					got[fd] = 0;
					ev.events = EPOLLIN;
					ev.data.fd = fd;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			/* Read what the client sends; close first once it has all come. */
			for (;;) {
				ssize_t r = read(c, buf, sizeof(buf));

				if (r > 0 && (got[c] += (int)r) < CONN_PAYLOAD)
					continue;
				if (r < 0 && errno == EAGAIN)
					break;
				close(c); /* all of it, EOF or an error */
				break;
			}
		}
	}
}

static int server_start(struct conn_env *env)
{
	int ready[2], ctl[2];
	char c;

	if (pipe2(ready, O_CLOEXEC) || pipe2(ctl, O_CLOEXEC))
		return -errno;
	env->server = fork();
	if (env->server < 0)
		return -errno;
	if (env->server == 0) {
		close(ready[0]);
		close(ctl[1]);
		serve(env, ready[1], ctl[0]);
		_exit(1);
	}
	close(ready[1]);
	close(ctl[0]);
	env->server_ctl = ctl[1];
	if (read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		return -EIO;
	}
	close(ready[0]);
	env->pids[0] = env->server;
	return 0;
}

static void server_stop(struct conn_env *env)
{
	if (env->server <= 0)
		return;
	close(env->server_ctl);
	if (waitpid(env->server, NULL, 0) != env->server)
		kill(env->server, SIGKILL);
	env->server = 0;
}

/* ---- the client ---- */

struct slot {
	int fd;
	bool connected;
};

static int client_open(const struct conn_env *env, int ep, struct slot *s, int n)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
	int one = 1;

	s->connected = false;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(s->fd, (const struct sockaddr *)&env->src[n % CONN_SOURCES], sizeof(env->src[0])) ||
	    (connect(s->fd, (const struct sockaddr *)&env->dst, sizeof(env->dst)) &&
	     errno != EINPROGRESS) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev)) {
		int err = -errno;

		close(s->fd);
		return err;
	}
	return 0;
}

/*
 * One connection's turn: connected, it writes the payload in segments and
 * waits for the server to close; closed, it is done (1). -1: it failed.
 */
static int client_step(int ep, struct slot *s)
{
	static const char payload[CONN_PAYLOAD];
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
	char buf[256];
	int err = 0;
	socklen_t len = sizeof(err);

	if (!s->connected) {
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
			return -1;
		for (int k = 0; k < CONN_SEGMENTS; k++)
			if (write(s->fd, payload, CONN_PAYLOAD / CONN_SEGMENTS) !=
			    CONN_PAYLOAD / CONN_SEGMENTS)
				return -1;
		s->connected = true;
		return epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev) ? -1 : 0;
	}
	for (;;) {
		ssize_t r = read(s->fd, buf, sizeof(buf));

		if (r == 0)
			return 1;
		if (r < 0)
			return errno == EAGAIN ? 0 : -1;
	}
}

/*
 * Runs total connections, CONN_IN_FLIGHT at once, from the sender's
 * namespace on the sender's CPU. The seconds it took, or a negative errno;
 * failed connections go to *failed.
 */
static double client_run(struct conn_env *env, int total, int *failed)
{
	struct slot slots[CONN_IN_FLIGHT];
	struct epoll_event evs[CONN_IN_FLIGHT];
	int started = 0, finished = 0, ep, err;
	uint64_t t0 = 0, deadline;

	*failed = 0;
	err = bench_enter_netns(env->o->tx_netns);
	if (err)
		return err;
	bench_pin_cpu(env->tx_cpu);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		err = -errno;
		goto out;
	}
	t0 = bench_now_ns();
	deadline = t0 + CONN_MAX_SECONDS * 1000000000ULL;
	for (int i = 0; i < CONN_IN_FLIGHT && started < total && !err; i++, started++)
		err = client_open(env, ep, &slots[i], started);
	while (finished < total && !err && bench_now_ns() < deadline) {
		int n = epoll_wait(ep, evs, CONN_IN_FLIGHT, 1000);

		for (int i = 0; i < n && !err; i++) {
			struct slot *s = evs[i].data.ptr;
			int r = client_step(ep, s);

			if (r == 0)
				continue;
			close(s->fd);
			finished++;
			if (r < 0)
				(*failed)++;
			if (started < total) {
				err = client_open(env, ep, s, started);
				started++;
			}
		}
	}
	if (!err && finished < total) {
		bench_log("allowed flood: %d of %d connections finished in %d s (%d failed)", finished,
			  total, CONN_MAX_SECONDS, *failed);
		err = -ETIMEDOUT;
	}
	t0 = bench_now_ns() - t0;
	close(ep);
out:
	bench_pin_cpu(-1);
	if (bench_enter_netns(env->o->rx_netns) && !err)
		err = -EIO;
	/* Slots still open (a timeout) close with the process's other fds: bounded by total. */
	return err ? err : (double)t0 / 1e9;
}

/* ---- the filters ---- */

static int nft_ruleset(struct conn_env *env)
{
	size_t size = 0;
	FILE *f = open_memstream(&env->nft_text, &size);

	if (!f)
		return -ENOMEM;
	fprintf(f, "table inet %s {\n", CONN_TABLE);
	flood_nft_sets(f, env->sp.pol, &env->nft_elements);
	fprintf(f, "\tcounter refused {\n\t}\n"
		   "\tchain input {\n"
		   "\t\ttype filter hook input priority 0; policy accept;\n"
		   "\t\tct state established,related accept\n"
		   "\t\tct state invalid counter name refused drop\n"
		   "\t\ttcp dport @any_ports accept\n"
		   "\t\tip saddr . tcp dport @peers4 accept\n"
		   "\t\tip6 saddr . tcp dport @peers6 accept\n"
		   "\t\tip saddr . tcp dport @nets4 accept\n"
		   "\t\tip6 saddr . tcp dport @nets6 accept\n"
		   "\t\tmeta l4proto tcp counter name refused drop\n"
		   "\t}\n"
		   "\tchain output {\n"
		   "\t\ttype filter hook output priority 0; policy accept;\n"
		   "\t\tct state established,related accept\n"
		   "\t}\n}\n");
	return fclose(f) ? -ENOMEM : 0;
}

static int nft_set(struct conn_env *env, bool on)
{
	int err;

	if (!on) {
		env->nft_loaded = false;
		return system("nft delete table inet " CONN_TABLE) ? -EIO : 0;
	}
	err = flood_nft_load(env->o->tmp_dir, env->nft_text);
	env->nft_loaded = !err;
	return err;
}

/* speebpf (XDP and the egress program) when spee, else the empty XDP program alone. */
static int xdp_set(struct conn_env *env, bool on, bool spee)
{
	int err = 0;

	if (on) {
		err = bpf_xdp_attach(env->rx_ifindex,
				     spee ? bench_spee_prog(&env->sp, false)
					  : bpf_program__fd(env->empty->progs.bench_empty),
				     XDP_FLAGS_DRV_MODE, NULL);
		if (err || !spee)
			return err;
		env->xdp_attached = true;
		env->link_fd = bpf_link_create(bench_spee_prog(&env->sp, true), env->cg_fd,
					       BPF_CGROUP_INET_EGRESS, NULL);
		return env->link_fd < 0 ? -errno : 0;
	}
	if (env->link_fd >= 0)
		close(env->link_fd);
	env->link_fd = -1;
	err = bpf_xdp_detach(env->rx_ifindex, XDP_FLAGS_DRV_MODE, NULL);
	env->xdp_attached = false;
	return err;
}

/* A, its baseline, B, its baseline: what each measurement runs through. */
enum conn_filter { CF_SPEE, CF_EMPTY_XDP, CF_NFT, CF_NONE, CF_COUNT };

static int filter_set(struct conn_env *env, enum conn_filter f, bool on)
{
	switch (f) {
	case CF_SPEE:
	case CF_EMPTY_XDP:
		return xdp_set(env, on, f == CF_SPEE);
	case CF_NFT:
		return nft_set(env, on);
	default:
		return 0;
	}
}

static uint64_t refused(const struct conn_env *env, enum conn_filter f)
{
	if (f == CF_SPEE)
		return bench_spee_reason_count(&env->sp, SPEE_REASON_NO_RULE, SPEE_DIR_INGRESS);
	return f == CF_NFT ? flood_nft_counter("inet " CONN_TABLE, "refused") : 0;
}

/* ---- measuring ---- */

struct conn_sample {
	double conns_per_s;
	double rx_per_conn;
	double cpu_ns_per_pkt;
	double cpu_us_per_conn;
	uint64_t refused;
};

static int measure_one(struct conn_env *env, enum conn_filter f, int total,
		       struct conn_sample *s)
{
	uint64_t cpu0, cpu1, ref0, ref1;
	uint32_t rx0, rx1;
	int failed = 0, err;
	double secs;

	static const char *const names[CF_COUNT] = {"speebpf", "the empty XDP program",
						     "nftables", "no filter"};

	err = filter_set(env, f, true);
	if (err)
		return err;
	/* Attaching may bring up new NAPI instances: pin what is there now. */
	flood_pin_napi(env->o->rx_if, env->o->cpu, env->pids + 1, 9, &env->n_pids);
	env->n_pids++;
	ref0 = refused(env, f);
	rx0 = flood_rx_packets(env->o->rx_if);
	cpu0 = flood_cpu_ns(env->pids, env->n_pids);
	secs = client_run(env, total, &failed);
	usleep(50000);
	rx1 = flood_rx_packets(env->o->rx_if);
	cpu1 = flood_cpu_ns(env->pids, env->n_pids);
	ref1 = refused(env, f);
	err = filter_set(env, f, false);
	if (secs < 0)
		return (int)secs;
	if (failed) {
		bench_log("allowed flood: %d of %d connections failed through %s", failed, total,
			  names[f]);
		return -EPROTO;
	}
	if (rx1 == rx0)
		return -EIO;
	s->conns_per_s = total / secs;
	s->rx_per_conn = (double)(uint32_t)(rx1 - rx0) / total;
	s->cpu_ns_per_pkt = (double)(cpu1 - cpu0) / (uint32_t)(rx1 - rx0);
	s->cpu_us_per_conn = (double)(cpu1 - cpu0) / total / 1e3;
	s->refused = ref1 - ref0;
	return err;
}

static int setup(struct conn_env *env, struct conn_results *res)
{
	struct gen_spec gs = {.n_hosts = FLOOD_HOSTS, .v4 = true, .v6 = true};
	char cmd[512], a[48];
	int err, n;

	env->link_fd = -1;
	env->rx_ifindex = (int)if_nametoindex(env->o->rx_if);
	env->tx_cpu = env->o->cpu ? 0 : 1;
	env->cg_fd = open(env->o->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (env->rx_ifindex <= 0 || env->cg_fd < 0)
		return -ENODEV;
	env->empty = bench__open_and_load();
	if (!env->empty)
		return -errno;
	err = bench_spee_compile(&env->sp, &gs, "conn.yaml");
	if (!err)
		err = bench_spee_load(&env->sp);
	if (!err)
		err = nft_ruleset(env);
	if (err)
		return err;
	res->n_hosts = FLOOD_HOSTS;
	env->dst.sin_family = AF_INET;
	env->dst.sin_port = htons(CONN_PORT);
	gen_host_addr(0, 4, a, sizeof(a));
	inet_pton(AF_INET, a, &env->dst.sin_addr);

	/* The sender holds eight IH addresses; the receiver's time-wait sockets fit. */
	err = bench_enter_netns(env->o->tx_netns);
	if (err)
		return err;
	for (int i = 0, h = 1; i < CONN_SOURCES && !err; i++, h++) {
		h = (int)gen_host_with("IH", (size_t)h);
		gen_host_addr((size_t)h, 4, a, sizeof(a));
		env->src[i].sin_family = AF_INET;
		inet_pton(AF_INET, a, &env->src[i].sin_addr);
		snprintf(cmd, sizeof(cmd), "ip addr add %s/32 dev %s", a, env->o->tx_if);
		err = system(cmd) ? -EIO : 0;
	}
	if (!err)
		err = system("sysctl -qw net.ipv4.ip_local_port_range='1024 65000'") ? -EIO : 0;
	if (!err)
		err = flood_set_gro(env->o->tx_if);
	if (!err)
		err = flood_set_threaded(env->o->tx_if, true);
	if (!err)
		flood_pin_napi(env->o->tx_if, env->tx_cpu, env->pids, 0, &n);
	if (bench_enter_netns(env->o->rx_netns) && !err)
		err = -EIO;
	if (!err)
		err = system("sysctl -qw net.ipv4.tcp_max_tw_buckets=1048576") ? -EIO : 0;
	if (!err)
		err = flood_set_gro(env->o->rx_if);
	if (!err)
		err = flood_set_threaded(env->o->rx_if, true);
	if (err) {
		bench_log("allowed flood: cannot set up the namespaces: %s", strerror(-err));
		return err;
	}
	return server_start(env);
}

int conn_run(const struct bench_opts *o, struct conn_results *res)
{
	struct conn_env env = {.o = o, .cg_fd = -1, .link_fd = -1};
	int rounds = o->flood_rounds, err;
	/* v[filter][figure][round] */
	enum { F_RATE, F_FRAMES, F_NS_FRAME, F_US_CONN, F_CONN_CPU, F_COUNT };
	double *v = calloc((size_t)rounds * CF_COUNT * F_COUNT + 3 * (size_t)rounds, sizeof(*v));
	double *ratio, *own_spee, *own_nft;
	struct conn_sample warm;

	memset(res, 0, sizeof(*res));
	res->rounds = rounds;
	res->conns = o->conn_count;
	res->in_flight = CONN_IN_FLIGHT;
	res->payload = CONN_PAYLOAD;
	res->segments = CONN_SEGMENTS;
	if (!v)
		return -ENOMEM;
	ratio = v + (size_t)rounds * CF_COUNT * F_COUNT;
	own_spee = ratio + rounds;
	own_nft = own_spee + rounds;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		snprintf(res->skipped, sizeof(res->skipped), "it needs two CPUs");
		free(v);
		return 0;
	}
	err = setup(&env, res);
	/* One short measurement of each first: the first connections warm the caches. */
	for (int f = 0; f < CF_COUNT && !err; f++)
		err = measure_one(&env, (enum conn_filter)f, o->conn_count / 10 + 1, &warm);
	for (int r = 0; r < rounds && !err; r++) {
		struct conn_sample x[CF_COUNT];

		for (int f = 0; f < CF_COUNT && !err; f++)
			err = measure_one(&env, (enum conn_filter)f, o->conn_count, &x[f]);
		if (err)
			break;
#define V(f, k) v[((size_t)(f)*F_COUNT + (k)) * rounds + r]
		for (int f = 0; f < CF_COUNT; f++) {
			V(f, F_RATE) = x[f].conns_per_s;
			V(f, F_FRAMES) = x[f].rx_per_conn;
			V(f, F_NS_FRAME) = x[f].cpu_ns_per_pkt;
			V(f, F_US_CONN) = x[f].cpu_us_per_conn;
			V(f, F_CONN_CPU) = 1e6 / x[f].cpu_us_per_conn;
		}
#undef V
		ratio[r] = x[CF_NFT].cpu_us_per_conn / x[CF_SPEE].cpu_us_per_conn;
		own_spee[r] = x[CF_SPEE].cpu_us_per_conn - x[CF_EMPTY_XDP].cpu_us_per_conn;
		own_nft[r] = x[CF_NFT].cpu_us_per_conn - x[CF_NONE].cpu_us_per_conn;
		res->spee_refused += x[CF_SPEE].refused;
		res->nft_refused += x[CF_NFT].refused;
		bench_log("allowed flood: round %d: receiving CPU a connection: speebpf %.1f us "
			  "(empty XDP %.1f), nftables %.1f us (no filter %.1f)",
			  r + 1, x[CF_SPEE].cpu_us_per_conn, x[CF_EMPTY_XDP].cpu_us_per_conn,
			  x[CF_NFT].cpu_us_per_conn, x[CF_NONE].cpu_us_per_conn);
	}
	if (!err) {
		for (int f = 0; f < CF_COUNT; f++) {
			struct conn_side *d = &res->side[f];
			const double *w = v + (size_t)f * F_COUNT * rounds;

			stat3_of(w + F_RATE * rounds, rounds, &d->conns_per_s);
			stat3_of(w + F_FRAMES * rounds, rounds, &d->rx_pkts_per_conn);
			stat3_of(w + F_NS_FRAME * rounds, rounds, &d->cpu_ns_per_pkt);
			stat3_of(w + F_US_CONN * rounds, rounds, &d->cpu_us_per_conn);
			stat3_of(w + F_CONN_CPU * rounds, rounds, &d->conns_per_cpu_s);
		}
		stat3_of(ratio, rounds, &res->cpu_ratio);
		stat3_of(own_spee, rounds, &res->spee_own_us);
		stat3_of(own_nft, rounds, &res->nft_own_us);
		res->run = true;
	}
	server_stop(&env);
	xdp_set(&env, false, true);
	if (env.nft_loaded)
		nft_set(&env, false);
	flood_set_threaded(o->rx_if, false);
	if (env.cg_fd >= 0)
		close(env.cg_fd);
	free(env.nft_text);
	bench__destroy(env.empty);
	bench_spee_free(&env.sp);
	free(v);
	return err;
}
