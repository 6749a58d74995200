// SPDX-License-Identifier: GPL-2.0-only
/*
 * flood.c - real traffic: a flood of refused SYNs from random sources over
 * the veth pair, into speebpf's XDP program (A) or into nftables with the
 * same rules on the netdev ingress hook (B), alternating A B A B, counting
 * what the receiver took in per second.
 *
 * The sender is BPF_PROG_TEST_RUN in live-frames mode running bench_tx
 * (bench.bpf.c) on the sender's veth: each frame gets a random source in
 * 198.19.160.0/19 and goes out with XDP_TX, which veth turns into a
 * transmit to its peer, the receiver. AF_PACKET senders are too slow to
 * tell the filters apart.
 *
 * The receiver's veth runs NAPI (GRO is switched on, which veth needs to
 * accept XDP frames without an XDP program of its own, as in the nftables
 * case). Two ways of running it:
 *  - threaded: the receiver's NAPI is a kernel thread pinned to one CPU and
 *    the sender runs on the other; what the receiver cannot take is dropped
 *    at its ring, so the count is the receiver's own capacity;
 *  - shared: the default softirq NAPI, which runs on the sender's CPU after
 *    each batch; the rate is then that of sender and receiver together.
 * The receiver's count is its veth's rx_packets (frames its NAPI took from
 * the ring); each filter's own count of refused SYNs is compared with it.
 */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_spee.h"
#include "flood.h"
#include "pkt.h"
#include "bench.skel.h"

#define NFT_TABLE "spb_bench"
#define CALIBRATE_FRAMES 500000ULL
#define MAX_FRAMES 40000000ULL

struct flood_env {
	const struct bench_opts *o;
	struct bench_spee sp;
	struct bench *skel;
	int rx_ifindex;
	int tx_ifindex;
	uint8_t frame[PKT_MAX];
	int len;
	int sender_cpu;
	bool nft_loaded;
	bool xdp_attached;
	int napi[8]; /* the receiver's NAPI threads, when threaded */
	int n_napi;
};

/* ---- the receiver's veth ---- */

static int ifreq_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (s < 0)
		return -errno;
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	if (ioctl(s, req, ifr))
		err = -errno;
	close(s);
	return err;
}

int flood_set_gro(const char *ifname)
{
	struct ethtool_value ev = {.cmd = ETHTOOL_SGRO, .data = 1};
	struct ifreq ifr = {.ifr_data = (char *)&ev};

	return ifreq_ioctl(ifname, SIOCETHTOOL, &ifr);
}

int flood_if_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = {};
	int err = ifreq_ioctl(ifname, SIOCGIFHWADDR, &ifr);

	if (!err)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return err;
}

/*
 * /sys/class/net/IF/threaded. The /sys of this mount namespace shows the
 * root namespace's devices, so a child process mounts a sysfs of the
 * receiver's network namespace in a private mount namespace of its own.
 */
int flood_set_threaded(const char *ifname, bool on)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char path[128];
		int fd;

		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("sysfs", "/sys", "sysfs", 0, NULL))
			_exit(1);
		snprintf(path, sizeof(path), "/sys/class/net/%s/threaded", ifname);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, on ? "1" : "0", 1) != 1)
			_exit(2);
		_exit(close(fd) ? 3 : 0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int flood_pin_napi(const char *ifname, int cpu, int *pids, int max, int *n_pids)
{
	char want[16], comm[32], path[300];
	struct dirent *de;
	int pinned = 0;
	cpu_set_t set;
	DIR *d;

	snprintf(want, sizeof(want), "napi/%s", ifname);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	d = opendir("/proc");
	if (!d)
		return -errno;
	*n_pids = 0;
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, want, strlen(want)) &&
		    !sched_setaffinity(atoi(de->d_name), sizeof(set), &set)) {
			pinned++;
			if (*n_pids < max)
				pids[(*n_pids)++] = atoi(de->d_name);
		}
		fclose(f);
	}
	closedir(d);
	return pinned;
}

uint64_t flood_cpu_ns(const int *pids, int n)
{
	uint64_t sum = 0;

	for (int i = 0; i < n; i++) {
		char path[64];
		unsigned long long v;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/schedstat", pids[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &v) == 1)
			sum += v;
		fclose(f);
	}
	return sum;
}

uint32_t flood_rx_packets(const char *ifname)
{
	struct ifaddrs *ifa, *i;
	uint32_t v = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET && i->ifa_data &&
		    !strcmp(i->ifa_name, ifname))
			v = ((struct rtnl_link_stats *)i->ifa_data)->rx_packets;
	freeifaddrs(ifa);
	return v;
}

/* ---- the filters ---- */

static void nft_element(FILE *f, bool *first, const struct prefix *a, uint16_t lo, uint16_t hi)
{
	char buf[ADDR_TEXT_LEN];

	if (prefix_is_host(a))
		addr_format(a, buf, sizeof(buf));
	else
		prefix_format(a, buf, sizeof(buf));
	fprintf(f, "%s\t\t\t%s . %u", *first ? "" : ",\n", buf, lo);
	if (hi != lo)
		fprintf(f, "-%u", hi);
	*first = false;
}

void flood_nft_sets(FILE *f, const struct policy *pol, size_t *elements)
{
	static const char *const set_names[4] = {"peers4", "peers6", "nets4", "nets6"};
	static const char *const set_types[4] = {
	    "ipv4_addr . inet_service", "ipv6_addr . inet_service", "ipv4_addr . inet_service",
	    "ipv6_addr . inet_service"};
	static bool any_port[65536];
	bool first_any = true;

	memset(any_port, 0, sizeof(any_port));
	*elements = 0;
	for (int s = 0; s < 4; s++) {
		bool first = true;

		fprintf(f, "\tset %s {\n\t\ttype %s;\n%s", set_names[s], set_types[s],
			s >= 2 ? "\t\tflags interval;\n" : "");
		for (size_t i = 0; i < pol->n_entries; i++) {
			const struct policy_entry *e = &pol->entries[i];
			bool v6 = e->prefix.family == AF_INET6;

			if (e->dir != SPEE_DIR_INGRESS || e->proto != IPPROTO_TCP ||
			    e->peer_kind != ENTRY_PEER_PREFIX || v6 != (s & 1))
				continue;
			if (e->prefix.len == 0) {
				for (uint32_t p = e->port_lo; p <= e->port_hi; p++)
					any_port[p] = true;
				continue;
			}
			if (prefix_is_host(&e->prefix) != (s < 2))
				continue;
			if (first)
				fprintf(f, "\t\telements = {\n");
			if (s < 2) {
				/* A plain set holds single ports. */
				for (uint32_t p = e->port_lo; p <= e->port_hi; p++)
					nft_element(f, &first, &e->prefix, (uint16_t)p,
						    (uint16_t)p);
			} else {
				nft_element(f, &first, &e->prefix, e->port_lo, e->port_hi);
			}
			(*elements)++;
		}
		fprintf(f, "%s\t}\n", first ? "" : "\n\t\t}\n");
	}
	fprintf(f, "\tset any_ports {\n\t\ttype inet_service;\n");
	for (uint32_t p = 0; p < 65536; p++) {
		if (!any_port[p])
			continue;
		fprintf(f, "%s%u", first_any ? "\t\telements = { " : ", ", p);
		first_any = false;
	}
	fprintf(f, "%s\t}\n", first_any ? "" : " }\n");
}

/* The refused flood's filter: the ingress rules on the netdev ingress hook, then drop SYNs. */
static int nft_ruleset(const struct flood_env *env, char **out, size_t *elements)
{
	size_t size = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return -ENOMEM;
	fprintf(f, "table netdev %s {\n", NFT_TABLE);
	flood_nft_sets(f, env->sp.pol, elements);
	fprintf(f,
		"\tcounter refused {\n\t}\n"
		"\tchain ingress {\n"
		"\t\ttype filter hook ingress device \"%s\" priority 0; policy accept;\n"
		"\t\ttcp dport @any_ports accept\n"
		"\t\tip saddr . tcp dport @peers4 accept\n"
		"\t\tip6 saddr . tcp dport @peers6 accept\n"
		"\t\tip saddr . tcp dport @nets4 accept\n"
		"\t\tip6 saddr . tcp dport @nets6 accept\n"
		"\t\ttcp flags & (syn | ack) == syn counter name refused drop\n"
		"\t}\n}\n",
		env->o->rx_if);
	if (fclose(f)) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	return 0;
}

int flood_nft_load(const char *dir, const char *text)
{
	char path[512], cmd[600];
	int err = bench_write_file(dir, "ruleset.nft", text, strlen(text), path, sizeof(path));

	if (err)
		return err;
	snprintf(cmd, sizeof(cmd), "nft -f '%s'", path);
	err = system(cmd) ? -EIO : 0;
	unlink(path);
	return err;
}

static int nft_load(struct flood_env *env, struct flood_results *res)
{
	char *text = NULL;
	int err;

	err = nft_ruleset(env, &text, &res->nft_elements);
	if (!err)
		err = flood_nft_load(env->o->tmp_dir, text);
	free(text);
	if (!err)
		env->nft_loaded = true;
	return err;
}

uint64_t flood_nft_counter(const char *table, const char *counter)
{
	char cmd[256], line[256];
	unsigned long long v = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nft list counter %s %s", table, counter);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	while (fgets(line, sizeof(line), p)) {
		const char *s = strstr(line, "packets ");

		if (s)
			v = strtoull(s + 8, NULL, 10);
	}
	pclose(p);
	return v;
}

static uint64_t nft_refused(void)
{
	return flood_nft_counter("netdev " NFT_TABLE, "refused");
}

static uint64_t spee_refused(const struct flood_env *env)
{
	return bench_spee_reason_count(&env->sp, SPEE_REASON_NO_RULE, SPEE_DIR_INGRESS);
}

static int xdp_attach(struct flood_env *env, bool on)
{
	int err;

	if (on)
		err = bpf_xdp_attach(env->rx_ifindex, bench_spee_prog(&env->sp, false),
				     XDP_FLAGS_DRV_MODE, NULL);
	else
		err = bpf_xdp_detach(env->rx_ifindex, XDP_FLAGS_DRV_MODE, NULL);
	if (!err)
		env->xdp_attached = on;
	return err;
}

/* ---- the sender ---- */

/* Sends frames from the sender's namespace; the seconds it took, or a negative errno. */
static double send_frames(struct flood_env *env, uint64_t frames)
{
	struct xdp_md ctx = {.ingress_ifindex = (__u32)env->tx_ifindex,
			     .data_end = (__u32)env->len};
	uint64_t t0, t1;
	int err;

	err = bench_enter_netns(env->o->tx_netns);
	if (err)
		return err;
	bench_pin_cpu(env->sender_cpu);
	t0 = bench_now_ns();
	while (frames && !err) {
		/* repeat is an int: send in chunks */
		int n = frames > 1000000000ULL ? 1000000000 : (int)frames;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = env->frame,
			    .data_size_in = (__u32)env->len, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = n,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

		err = bpf_prog_test_run_opts(bpf_program__fd(env->skel->progs.bench_tx), &o);
		frames -= (uint64_t)n;
	}
	t1 = bench_now_ns();
	bench_pin_cpu(-1);
	if (!err)
		err = bench_enter_netns(env->o->rx_netns);
	if (err)
		return err;
	return (double)(t1 - t0) / 1e9;
}

struct sample {
	double rx_kpps;
	double offered_kpps;
	double cpu_ns; /* the receiver's CPU per packet (threaded), else 0 */
	uint64_t mismatch;
};

/* One measurement with the filter in place: speebpf when spee, else nftables. */
static int measure_one(struct flood_env *env, bool spee, bool threaded, uint64_t frames,
		       struct sample *s)
{
	uint64_t f0, f1, n0 = 0, n1 = 0;
	uint32_t c0, c1;
	double secs;
	int err = 0;

	if (spee)
		err = xdp_attach(env, true);
	if (err)
		return err;
	/* Attaching may bring up a new NAPI instance; pin whatever is there now. */
	if (threaded) {
		flood_pin_napi(env->o->rx_if, env->o->cpu, env->napi, 8, &env->n_napi);
		n0 = flood_cpu_ns(env->napi, env->n_napi);
	}
	c0 = flood_rx_packets(env->o->rx_if);
	f0 = spee ? spee_refused(env) : nft_refused();
	secs = send_frames(env, frames);
	usleep(50000); /* the ring holds at most a few hundred frames: let them through */
	c1 = flood_rx_packets(env->o->rx_if);
	if (threaded)
		n1 = flood_cpu_ns(env->napi, env->n_napi);
	f1 = spee ? spee_refused(env) : nft_refused();
	if (spee)
		err = xdp_attach(env, false);
	if (secs < 0)
		return (int)secs;
	s->rx_kpps = (double)(uint32_t)(c1 - c0) / secs / 1e3;
	s->offered_kpps = (double)frames / secs / 1e3;
	s->cpu_ns = threaded && c1 != c0 ? (double)(n1 - n0) / (uint32_t)(c1 - c0) : 0;
	s->mismatch = f1 - f0 > (uint32_t)(c1 - c0) ? f1 - f0 - (uint32_t)(c1 - c0)
						    : (uint32_t)(c1 - c0) - (f1 - f0);
	return err;
}

static int run_mode(struct flood_env *env, bool threaded, struct flood_mode_result *m)
{
	int rounds = env->o->flood_rounds, err;
	double *v = calloc((size_t)rounds * 8, sizeof(*v));
	struct sample cal;

	memset(m, 0, sizeof(*m));
	m->threaded = threaded;
	if (!v)
		return -ENOMEM;
	err = flood_set_threaded(env->o->rx_if, threaded);
	if (err) {
		bench_log("flood: cannot switch %s to %s NAPI", env->o->rx_if,
			  threaded ? "threaded" : "softirq");
		goto out;
	}
	if (threaded && flood_pin_napi(env->o->rx_if, env->o->cpu, env->napi, 8, &env->n_napi) <= 0) {
		bench_log("flood: no NAPI thread of %s to pin", env->o->rx_if);
		err = -ESRCH;
		goto out;
	}
	/* As many frames as keep the slower filter busy for flood_seconds. */
	err = measure_one(env, false, threaded, CALIBRATE_FRAMES, &cal);
	if (err)
		goto out;
	m->frames = (uint64_t)(env->o->flood_seconds * cal.offered_kpps * 1e3);
	if (m->frames < CALIBRATE_FRAMES)
		m->frames = CALIBRATE_FRAMES;
	if (m->frames > MAX_FRAMES)
		m->frames = MAX_FRAMES;
	for (int r = 0; r < rounds && !err; r++) {
		struct sample a, b;

		err = measure_one(env, true, threaded, m->frames, &a);
		if (!err)
			err = measure_one(env, false, threaded, m->frames, &b);
		if (err)
			break;
		v[r] = a.rx_kpps;
		v[rounds + r] = b.rx_kpps;
		v[2 * rounds + r] = a.rx_kpps / b.rx_kpps;
		v[3 * rounds + r] = a.offered_kpps;
		v[4 * rounds + r] = b.offered_kpps;
		v[5 * rounds + r] = a.cpu_ns;
		v[6 * rounds + r] = b.cpu_ns;
		v[7 * rounds + r] = a.cpu_ns > 0 ? b.cpu_ns / a.cpu_ns : 0;
		if (a.mismatch > m->max_mismatch)
			m->max_mismatch = a.mismatch;
		if (b.mismatch > m->max_mismatch)
			m->max_mismatch = b.mismatch;
		bench_log("flood (%s): round %d: speebpf %.0f kpps (%.0f ns of CPU a packet), "
			  "nftables %.0f kpps (%.0f ns)",
			  threaded ? "threaded receiver" : "shared CPU", r + 1, a.rx_kpps, a.cpu_ns,
			  b.rx_kpps, b.cpu_ns);
	}
	if (!err) {
		stat3_of(v, rounds, &m->spee_kpps);
		stat3_of(v + rounds, rounds, &m->nft_kpps);
		stat3_of(v + 2 * rounds, rounds, &m->ratio);
		stat3_of(v + 3 * rounds, rounds, &m->spee_offered_kpps);
		stat3_of(v + 4 * rounds, rounds, &m->nft_offered_kpps);
		stat3_of(v + 5 * rounds, rounds, &m->spee_cpu_ns);
		stat3_of(v + 6 * rounds, rounds, &m->nft_cpu_ns);
		stat3_of(v + 7 * rounds, rounds, &m->cpu_ratio);
		m->done = true;
	}
out:
	free(v);
	return err;
}

static int setup(struct flood_env *env, struct flood_results *res)
{
	struct gen_spec gs = {.n_hosts = FLOOD_HOSTS, .v4 = true, .v6 = true};
	char self[48];
	uint8_t mac[6], smac[6];
	struct pkt_spec s = {
	    .src = GEN_STRANGER4, /* bench_tx replaces it */
	    .dst = self,
	    .proto = IPPROTO_TCP,
	    .ttl = 64,
	    .tcp_flags = PKT_SYN,
	    .tcp_opt_len = 20,
	    .sport = 51234,
	    .dport = 8471,
	};
	int err;

	env->rx_ifindex = (int)if_nametoindex(env->o->rx_if);
	if (env->rx_ifindex <= 0)
		return -ENODEV;
	err = bench_spee_compile(&env->sp, &gs, "flood.yaml");
	if (!err)
		err = bench_spee_load(&env->sp);
	if (err)
		return err;
	env->skel = bench__open();
	if (!env->skel)
		return -errno;
	env->skel->rodata->flood_base = GEN_FLOOD4_BASE;
	env->skel->rodata->flood_mask = GEN_FLOOD4_MASK;
	err = bench__load(env->skel);
	if (err)
		return err;

	gen_host_addr(0, 4, self, sizeof(self));
	env->len = pkt_build(&s, env->frame, sizeof(env->frame));
	if (env->len < 0)
		return -EINVAL;
	err = flood_if_mac(env->o->rx_if, mac);
	if (!err)
		err = flood_set_gro(env->o->rx_if);
	if (err) {
		bench_log("flood: cannot set up %s: %s", env->o->rx_if, strerror(-err));
		return err;
	}
	err = bench_enter_netns(env->o->tx_netns);
	if (err)
		return err;
	env->tx_ifindex = (int)if_nametoindex(env->o->tx_if);
	err = flood_if_mac(env->o->tx_if, smac);
	bench_enter_netns(env->o->rx_netns);
	if (env->tx_ifindex <= 0 || err)
		return -ENODEV;
	memcpy(env->frame, mac, 6);
	memcpy(env->frame + 6, smac, 6);
	env->sender_cpu = env->o->cpu ? 0 : 1;
	if (env->sender_cpu >= sysconf(_SC_NPROCESSORS_ONLN))
		env->sender_cpu = 0;
	err = nft_load(env, res);
	if (err)
		bench_log("flood: nft could not load the ruleset");
	return err;
}

int flood_run(const struct bench_opts *o, struct flood_results *res)
{
	struct flood_env env = {.o = o};
	int err;

	memset(res, 0, sizeof(*res));
	res->run = true;
	res->rounds = o->flood_rounds;
	res->n_hosts = FLOOD_HOSTS;
	err = setup(&env, res);
	if (!err && sysconf(_SC_NPROCESSORS_ONLN) >= 2)
		err = run_mode(&env, true, &res->mode[0]);
	else if (!err)
		snprintf(res->skipped, sizeof(res->skipped),
			 "the threaded measurement needs two CPUs");
	if (!err)
		err = run_mode(&env, false, &res->mode[1]);
	if (env.xdp_attached)
		xdp_attach(&env, false);
	if (env.nft_loaded && system("nft delete table netdev " NFT_TABLE))
		bench_log("flood: could not delete the nft table (the namespace goes anyway)");
	flood_set_threaded(o->rx_if, false);
	bench__destroy(env.skel);
	bench_spee_free(&env.sp);
	return err;
}
