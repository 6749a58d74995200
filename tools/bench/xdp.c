// SPDX-License-Identifier: GPL-2.0-only
/*
 * xdp.c - the data plane: the per-packet cost of speebpf's programs with
 * BPF_PROG_TEST_RUN, beside the references measured in the same rounds.
 *
 * For each inventory size the real skeleton is loaded through loader.c and
 * its maps filled through maps.c from the policy policy.c compiles out of a
 * generated config, exactly as `speebpf apply` does. Beside it, per size:
 * the reference filter (bench.bpf.c) holding the same {proto, port, source}
 * entries, and xdp-filter's deny-policy program holding the same sources and
 * the ANY rules' ports. Each round runs every packet row through every
 * program once, in an order that rotates from round to round, beside the
 * empty program of its hook, so that the ratios compare figures taken
 * seconds apart, each net of the hook's fixed cost of the same round.
 */
#include "bench.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_spee.h"
#include "labels.h"
#include "pkt.h"
#include "bench_abi.h"
#include "bench.skel.h"

#define XDP_DROP_ 1
#define XDP_PASS_ 2
#define LOCAL_PORT 40000 /* bench0's end of the outbound connection the reply row answers */

/* xdp-filter's map value flags (facts of its map format, not its code). */
#define XF_FLAG_SRC (1u << 0)
#define XF_FLAG_DST (1u << 1)
#define XF_FLAG_TCP (1u << 2)

/* One inventory, loaded three ways. */
struct inv {
	size_t n_hosts;
	struct bench_spee sp;
	struct bench *ref;
	struct bpf_object *xf;
	int xf_fd;
};

struct row {
	enum dp_path path;
	int family;
	bool socket; /* on real sockets (egress_sock.c): no frame */
	uint8_t frame[PKT_MAX];
	int len;
	uint32_t want_spee; /* return code */
	uint32_t want_ref;
	uint32_t want_xf;
	const char *rule; /* rule id the packet counts under, or NULL */
	uint8_t reason;	  /* else this reason */
};

struct dp_env {
	const struct bench_opts *o;
	struct inv inv[BENCH_SIZES];
	int n_sizes;
	int ifindex; /* the veth that egress rows leave through */
	int ncpu;
	struct row rows[DP_MAX_ROWS];
	int n_rows;
	int parked[DP_VARIANTS]; /* the veth each XDP program is parked on (bench_park_xdp) */
	struct egress_sock *es;	 /* the rows on real sockets */
};

static const char *const path_names[DP_PATH_COUNT] = {
    [DP_PEER] = "SYN, peer rule",
    [DP_ANY] = "SYN, ANY rule",
    [DP_CIDR] = "SYN, ADM (CIDR) rule",
    [DP_REFUSED] = "SYN refused (no-rule)",
    [DP_REPLY] = "reply (flow map hit)",
    [DP_VLAN] = "802.1Q-tagged SYN, peer rule",
    /* BPF_PROG_TEST_RUN's skb has a stand-in socket of no protocol: a raw socket's path */
    [DP_EGRESS_ALLOW] = "egress SYN allowed, test run (raw-socket path)",
    [DP_EGRESS_ESTAB] = "egress ACK, established, test run (raw-socket path)",
    [DP_EGRESS_REFUSE] = "egress SYN refused, test run",
    [DP_EGRESS_SOCK_SYN] = "egress SYN allowed (kernel socket)",
    [DP_EGRESS_SOCK_ESTAB] = "egress established packet (kernel socket)",
};

const char *const dp_path_ids[DP_PATH_COUNT] = {
    [DP_PEER] = "peer",		    [DP_ANY] = "any",
    [DP_CIDR] = "cidr",		    [DP_REFUSED] = "refused",
    [DP_REPLY] = "reply",	    [DP_VLAN] = "vlan",
    [DP_EGRESS_ALLOW] = "egress-syn", [DP_EGRESS_ESTAB] = "egress-ack",
    [DP_EGRESS_REFUSE] = "egress-refused",
    [DP_EGRESS_SOCK_SYN] = "egress-sk-syn", [DP_EGRESS_SOCK_ESTAB] = "egress-sk-est",
};

/* ---- inventories ---- */

/* The ingress host entries of the policy, as {proto, family, port, addr} keys. */
static int ingress_keys(const struct policy *p, struct bench_ref_key **out, size_t *n_out)
{
	struct bench_ref_key *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < p->n_entries; i++) {
		const struct policy_entry *e = &p->entries[i];

		if (e->dir != SPEE_DIR_INGRESS || e->reason != SPEE_REASON_RULE ||
		    e->peer_kind != ENTRY_PEER_PREFIX || !prefix_is_host(&e->prefix))
			continue;
		for (uint32_t port = e->port_lo; port <= e->port_hi; port++) {
			if (n == cap) {
				struct bench_ref_key *nv;

				cap = cap ? 2 * cap : 1024;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			memset(&v[n], 0, sizeof(v[n]));
			v[n].proto = e->proto;
			v[n].family = e->prefix.family == AF_INET ? 0 : 1;
			v[n].port = htons((uint16_t)port);
			memcpy(v[n].addr, e->prefix.addr, 16);
			n++;
		}
	}
	*out = v;
	*n_out = n;
	return 0;
}

static void key_of(struct bench_ref_key *k, int family, const char *addr, uint16_t port)
{
	struct prefix pf;

	memset(k, 0, sizeof(*k));
	addr_parse(addr, &pf);
	k->proto = IPPROTO_TCP;
	k->family = family == 4 ? 0 : 1;
	k->port = htons(port);
	memcpy(k->addr, pf.addr, 16);
}

/* Hash maps take batches; one syscall per 4096 entries keeps loading 100,000 hosts short. */
static int update_batch(int fd, const void *keys, const void *vals, size_t n, size_t ksz,
			size_t vsz)
{
	for (size_t i = 0; i < n; i += 4096) {
		__u32 count = (__u32)(n - i < 4096 ? n - i : 4096);
		int err = bpf_map_update_batch(fd, (const char *)keys + i * ksz,
					       (const char *)vals + i * vsz, &count, NULL);

		if (err)
			return err;
	}
	return 0;
}

static int inv_load_ref(struct inv *iv, size_t n_keys, const struct bench_ref_key *keys)
{
	struct bench_ref_key extra[6];
	char a[48];
	__u32 *one = NULL;
	int err;

	iv->ref = bench__open();
	if (!iv->ref)
		return -errno;
	iv->ref->rodata->flood_base = GEN_FLOOD4_BASE;
	iv->ref->rodata->flood_mask = GEN_FLOOD4_MASK;
	err = bpf_map__set_max_entries(iv->ref->maps.ref_allow,
				       (__u32)(n_keys + 64 > 1024 ? 2 * (n_keys + 64) : 1024));
	if (!err)
		err = bench__load(iv->ref);
	if (err)
		return err;
	one = malloc((n_keys ? n_keys : 1) * sizeof(*one));
	if (!one)
		return -ENOMEM;
	for (size_t i = 0; i < n_keys; i++)
		one[i] = 1;
	err = update_batch(bpf_map__fd(iv->ref->maps.ref_allow), keys, one, n_keys, sizeof(*keys),
			   sizeof(*one));
	free(one);
	if (err)
		return err;
	/*
	 * The rows that speebpf answers without an exact entry (ANY, ADM, the
	 * reply) get one here, so that every allowed row is a hit for the
	 * reference too: its one lookup is the floor of each path.
	 */
	gen_host_addr(gen_host_with("IH", 2), 4, a, sizeof(a));
	key_of(&extra[0], 4, GEN_STRANGER4, 443);
	key_of(&extra[1], 6, GEN_STRANGER6, 443);
	key_of(&extra[2], 4, GEN_ADM4, 8470);
	key_of(&extra[3], 6, GEN_ADM6, 8470);
	key_of(&extra[4], 4, a, LOCAL_PORT);
	gen_host_addr(gen_host_with("IH", 2), 6, a, sizeof(a));
	key_of(&extra[5], 6, a, LOCAL_PORT);
	for (size_t i = 0; i < 6 && !err; i++) {
		__u32 v = 1;

		err = bpf_map_update_elem(bpf_map__fd(iv->ref->maps.ref_allow), &extra[i], &v,
					  BPF_ANY);
	}
	return err;
}

static int xf_put(int fd, const void *key, __u64 flags, int ncpu)
{
	__u64 vals[256];

	if (ncpu > 256)
		return -E2BIG;
	for (int c = 0; c < ncpu; c++)
		vals[c] = flags;
	return bpf_map_update_elem(fd, key, vals, BPF_ANY);
}

/*
 * xdp-filter's deny-policy program, loaded as xdp-filter would load it but
 * without its pins (they would land in the shared /sys/fs/bpf): the ANY
 * rules' ports as destination-port rules and every peer address of the
 * ingress rules as a source-address rule. It has no prefixes, so the ADM
 * row's one source is added as an address.
 */
static int inv_load_xf(struct inv *iv, const char *path, size_t n_keys,
		       const struct bench_ref_key *keys, int ncpu, char *note, size_t note_len)
{
	static const uint16_t any_ports[] = {143, 443, 993};
	struct bpf_program *prog;
	struct bpf_map *map;
	struct prefix pf;
	int err, fd4, fd6, fdp;

	iv->xf = bpf_object__open_file(path, NULL);
	if (!iv->xf) {
		err = -errno;
		snprintf(note, note_len, "cannot open %s: %s", path, strerror(-err));
		return err;
	}
	bpf_object__for_each_map(map, iv->xf)
	{
		bpf_map__set_pin_path(map, NULL);
		if (!strcmp(bpf_map__name(map), "filter_ipv4") ||
		    !strcmp(bpf_map__name(map), "filter_ipv6"))
			bpf_map__set_max_entries(map, (__u32)(n_keys + 1024));
	}
	err = bpf_object__load(iv->xf);
	if (err) {
		snprintf(note, note_len, "cannot load %s: %s", path, strerror(-err));
		return err;
	}
	prog = bpf_object__find_program_by_name(iv->xf, "xdpfilt_dny_all");
	fd4 = bpf_object__find_map_fd_by_name(iv->xf, "filter_ipv4");
	fd6 = bpf_object__find_map_fd_by_name(iv->xf, "filter_ipv6");
	fdp = bpf_object__find_map_fd_by_name(iv->xf, "filter_ports");
	if (!prog || fd4 < 0 || fd6 < 0 || fdp < 0) {
		snprintf(note, note_len, "%s is not the xdp-filter deny program expected", path);
		return -ENOENT;
	}
	iv->xf_fd = bpf_program__fd(prog);
	for (size_t i = 0; i < sizeof(any_ports) / sizeof(any_ports[0]) && !err; i++) {
		__u32 k = htons(any_ports[i]);

		err = xf_put(fdp, &k, XF_FLAG_DST | XF_FLAG_TCP, ncpu);
	}
	for (size_t i = 0; i < n_keys && !err; i++)
		err = xf_put(keys[i].family ? fd6 : fd4, keys[i].addr, XF_FLAG_SRC, ncpu);
	addr_parse(GEN_ADM4, &pf);
	if (!err)
		err = xf_put(fd4, pf.addr, XF_FLAG_SRC, ncpu);
	addr_parse(GEN_ADM6, &pf);
	if (!err)
		err = xf_put(fd6, pf.addr, XF_FLAG_SRC, ncpu);
	if (err)
		snprintf(note, note_len, "cannot fill xdp-filter's maps: %s", strerror(-err));
	return err;
}

static void inv_free(struct inv *iv)
{
	bench_spee_free(&iv->sp);
	bench__destroy(iv->ref);
	bpf_object__close(iv->xf);
	memset(iv, 0, sizeof(*iv));
}

/* ---- packet rows ---- */

static int add_row(struct dp_env *env, enum dp_path path, int family)
{
	struct row *r = &env->rows[env->n_rows];
	char self[48], peer[48], remote[48];
	struct pkt_spec s = {
	    .proto = IPPROTO_TCP,
	    .ttl = 64,
	    .tcp_flags = PKT_SYN,
	    .tcp_opt_len = 20, /* MSS, SACK, timestamps, window scale: a real SYN's size */
	    .sport = 51234,
	};

	memset(r, 0, sizeof(*r));
	r->path = path;
	r->family = family;
	gen_host_addr(0, family, self, sizeof(self));
	gen_host_addr(gen_host_with("IH", 1), family, peer, sizeof(peer));
	gen_host_addr(gen_host_with("IH", 2), family, remote, sizeof(remote));
	s.dst = self;
	r->want_spee = r->want_ref = r->want_xf = XDP_PASS_;
	switch (path) {
	case DP_PEER:
	case DP_VLAN:
		s.src = peer;
		s.dport = 8471;
		s.n_vlan = path == DP_VLAN;
		r->rule = "mgmt-internal";
		break;
	case DP_ANY:
		s.src = family == 4 ? GEN_STRANGER4 : GEN_STRANGER6;
		s.dport = 443;
		r->rule = "cas-https";
		break;
	case DP_CIDR:
		s.src = family == 4 ? GEN_ADM4 : GEN_ADM6;
		s.dport = 8470;
		r->rule = "mgmt-console";
		break;
	case DP_REFUSED:
		s.src = family == 4 ? GEN_STRANGER4 : GEN_STRANGER6;
		s.dport = 8471;
		r->reason = SPEE_REASON_NO_RULE;
		r->want_spee = r->want_ref = r->want_xf = XDP_DROP_;
		break;
	case DP_REPLY:
		s.src = remote;
		s.sport = 8472;
		s.dport = LOCAL_PORT;
		s.tcp_flags = PKT_SYN | PKT_ACK;
		r->reason = SPEE_REASON_ESTABLISHED;
		break;
	case DP_EGRESS_ALLOW:
	case DP_EGRESS_REFUSE:
		s.src = self;
		s.dst = path == DP_EGRESS_ALLOW ? remote
						: (family == 4 ? GEN_STRANGER4 : GEN_STRANGER6);
		s.sport = LOCAL_PORT;
		s.dport = 8472;
		r->want_spee = path == DP_EGRESS_ALLOW;
		r->rule = path == DP_EGRESS_ALLOW ? "ih-internal" : NULL;
		r->reason = SPEE_REASON_NO_RULE;
		break;
	case DP_EGRESS_ESTAB:
		/*
		 * The connection the allowed SYN opened. BPF_PROG_TEST_RUN's skb
		 * carries no TCP socket, so the program finds the connection in
		 * the flow map, as for a raw socket's packet; a real socket's
		 * packet is answered before that lookup.
		 */
		s.src = self;
		s.dst = remote;
		s.sport = LOCAL_PORT;
		s.dport = 8472;
		s.tcp_flags = PKT_ACK;
		s.tcp_opt_len = 12; /* timestamps */
		r->want_spee = 1;
		r->reason = SPEE_REASON_ESTABLISHED;
		break;
	case DP_EGRESS_SOCK_SYN: /* to the same peer and port as the test-run SYN (egress_sock.c) */
		r->socket = true;
		r->rule = "ih-internal";
		env->n_rows++;
		return 0;
	case DP_EGRESS_SOCK_ESTAB:
		r->socket = true;
		r->reason = SPEE_REASON_ESTABLISHED;
		env->n_rows++;
		return 0;
	default:
		return -EINVAL;
	}
	r->len = pkt_build(&s, r->frame, sizeof(r->frame));
	if (r->len < 0)
		return -EINVAL;
	env->n_rows++;
	return 0;
}

static bool is_egress(const struct row *r)
{
	return r->path >= DP_EGRESS_ALLOW;
}

/* ---- running ---- */

static int prog_of(const struct dp_env *env, const struct row *r, int v)
{
	const struct inv *iv;

	if (v == DPV_EMPTY)
		return bpf_program__fd(is_egress(r) ? env->inv[0].ref->progs.bench_skb_empty
						    : env->inv[0].ref->progs.bench_empty);
	iv = &env->inv[v % BENCH_SIZES];
	switch (v / BENCH_SIZES) {
	case DPP_SPEE:
		return bench_spee_prog(&iv->sp, is_egress(r));
	case DPP_REF:
		return is_egress(r) ? -1 : bpf_program__fd(iv->ref->progs.bench_ref);
	default:
		return is_egress(r) || !iv->xf ? -1 : iv->xf_fd;
	}
}

/* Every program runs at every inventory measured, beside the empty one. */
static bool variant_used(const struct dp_env *env, int v)
{
	return v == DPV_EMPTY || v % BENCH_SIZES < env->n_sizes;
}

/*
 * Runs the row `repeat` times: ns per packet on both clocks in ns[]. The
 * thread's CPU time counts what the program costs inside the syscall
 * without what other tasks took the CPU for; the kernel's duration is the
 * second clock (see bench.h).
 */
static int run_row(const struct dp_env *env, const struct row *r, int fd, int repeat,
		   double ns[CLK_COUNT], uint32_t *retval)
{
	struct __sk_buff skb = {.ifindex = (__u32)env->ifindex};

	return bench_test_run(fd, r->frame, r->len, is_egress(r) ? &skb : NULL,
			      is_egress(r) ? (int)sizeof(skb) : 0, repeat, ns, retval);
}

/* What speebpf counted under the row's rule or reason so far. */
static int64_t spee_count(const struct inv *iv, const struct row *r)
{
	unsigned dir = is_egress(r) ? SPEE_DIR_EGRESS : SPEE_DIR_INGRESS;

	if (r->rule)
		return bench_spee_rule_count(&iv->sp, r->rule, dir);
	return (int64_t)bench_spee_reason_count(&iv->sp, r->reason, dir);
}

/*
 * A row on real sockets: count packets through variant v (its program fd)
 * attached to the cgroup, ns a packet on the kernel's clock to ns[]. Checks
 * that the program ran once a packet and, on speebpf, that the row's
 * counter moved by as many.
 */
static int sock_row(const struct dp_env *env, const struct row *r, int v, int fd, int count,
		    double ns[CLK_COUNT])
{
	const struct inv *iv = v == DPV_EMPTY ? NULL : &env->inv[v % BENCH_SIZES];
	enum egress_sock_kind kind = r->path == DP_EGRESS_SOCK_SYN ? ES_SYN : ES_ESTABLISHED;
	int64_t before = 0, after = 0;
	uint64_t runs = 0;
	int err;

	err = egress_sock_attach(env->es, fd, kind, r->family);
	if (err)
		return err;
	if (iv)
		before = spee_count(iv, r);
	err = before < 0 ? (int)before
			 : egress_sock_run(env->es, count, &ns[CLK_KERNEL], &ns[CLK_SOCK_MEDIAN],
					   &runs);
	if (!err && iv)
		after = spee_count(iv, r);
	egress_sock_detach(env->es);
	if (err) {
		bench_log("row '%s' (IPv%d): %s", path_names[r->path], r->family, strerror(-err));
		return err;
	}
	if (runs != (uint64_t)count || (iv && after - before != count)) {
		bench_log("row '%s' (IPv%d) on %s: %d packets sent, the program ran %llu times%s",
			  path_names[r->path], r->family,
			  iv ? "speebpf" : "the empty program", count, (unsigned long long)runs,
			  iv && after - before != count ? ", and its counter moved otherwise" : "");
		return -EPROTO;
	}
	return 0;
}

/* One measurement of a row through variant v (fd), ns a packet to ns[]. */
static int time_row(const struct dp_env *env, const struct row *r, int v, int fd,
		    double ns[CLK_COUNT])
{
	uint32_t rv;

	if (r->socket)
		return sock_row(env, r, v, fd, env->o->sock_packets, ns);
	return run_row(env, r, fd, env->o->repeat, ns, &rv);
}

/* Runs a row once on speebpf and checks the verdict and the one counter it must move. */
static int check_spee(const struct dp_env *env, const struct inv *iv, const struct row *r)
{
	int64_t before = spee_count(iv, r), after;
	double ns[CLK_COUNT];
	uint32_t rv = 0;
	int err;

	if (before < 0)
		return (int)before;
	err = run_row(env, r, bench_spee_prog(&iv->sp, is_egress(r)), 1, ns, &rv);
	after = spee_count(iv, r);
	if (err)
		return err;
	if (rv != r->want_spee || after != before + 1)
		return -EPROTO;
	return 0;
}

static int check_all(struct dp_env *env, struct dp_results *res)
{
	for (int i = 0; i < env->n_rows; i++) {
		const struct row *r = &env->rows[i];

		for (int v = 0; v < DP_VARIANTS; v++) {
			uint32_t want, rv = 0;
			double ns[CLK_COUNT];
			int fd, err;

			if (!variant_used(env, v) || (fd = prog_of(env, r, v)) < 0)
				continue;
			if (r->socket) {
				err = sock_row(env, r, v, fd, 16, ns);
				if (err)
					return err;
				continue;
			}
			if (v / BENCH_SIZES == DPP_SPEE) {
				err = check_spee(env, &env->inv[v], r);
				if (err) {
					bench_log(
					    "row '%s' (IPv%d) on speebpf with %zu hosts: not the "
					    "expected verdict (%s)",
					    path_names[r->path], r->family, bench_sizes[v % BENCH_SIZES],
					    strerror(-err));
					return err;
				}
				continue;
			}
			want = v == DPV_EMPTY		       ? (is_egress(r) ? 1 : XDP_PASS_)
			       : v / BENCH_SIZES == DPP_REF ? r->want_ref
							    : r->want_xf;
			err = run_row(env, r, fd, 1, ns, &rv);
			if (err || rv != want) {
				bench_log(
				    "row '%s' (IPv%d), variant %d: return code %u, expected %u",
				    path_names[r->path], r->family, v, rv, want);
				return -EPROTO;
			}
		}
		snprintf(res->row[i].expect, sizeof(res->row[i].expect), "%s",
			 r->rule ? r->rule : reason_label(r->reason));
	}
	return 0;
}

/* The egress program records bench0:40000 -> IH:8472, so the reply row hits the flow map. */
static int seed_flows(struct dp_env *env)
{
	for (int s = 0; s < env->n_sizes; s++) {
		for (int i = 0; i < env->n_rows; i++) {
			const struct row *r = &env->rows[i];
			double ns[CLK_COUNT];
			uint32_t rv = 0;

			if (r->path != DP_EGRESS_ALLOW)
				continue;
			if (run_row(env, r, bench_spee_prog(&env->inv[s].sp, true),
				    1, ns, &rv) ||
			    rv != 1)
				return -EPROTO;
		}
	}
	return 0;
}

/* t[row][variant][clock][round], ns per packet */
#define T(row, v, c, r) BENCH_CELL(t, DP_VARIANTS, rounds, row, v, c, r)

/* stat of f(round) over the rounds, into out */
#define ROUNDS_STAT(out, expr)                                                                     \
	do {                                                                                       \
		for (int r = 0; r < rounds; r++)                                                   \
			col[r] = (expr);                                                           \
		stat3_of(col, rounds, &(out));                                                     \
	} while (0)

static void summarize(const struct dp_env *env, const double *t, int rounds,
		      struct dp_results *res)
{
	double *col = calloc((size_t)rounds, sizeof(*col));
	int last = env->n_sizes - 1;

	if (!col)
		return;
	for (int i = 0; i < env->n_rows; i++) {
		const struct row *rw = &env->rows[i];
		struct dp_row_result *o = &res->row[i];

		snprintf(o->id, sizeof(o->id), "%s%d", dp_path_ids[rw->path], rw->family);
		snprintf(o->name, sizeof(o->name), "IPv%d %s", rw->family, path_names[rw->path]);
		o->path = rw->path;
		o->family = rw->family;
		o->egress = is_egress(rw);
		o->socket = rw->socket;
		for (int v = 0; v < DP_VARIANTS; v++) {
			if (!variant_used(env, v) || prog_of(env, rw, v) < 0)
				continue;
			o->has[v] = true;
			for (int c = 0; c < CLK_COUNT; c++) {
				stat3_of(&T(i, v, c, 0), rounds, &o->ns[v].c[c]);
				ROUNDS_STAT(o->net[v].c[c], T(i, v, c, r) - T(i, DPV_EMPTY, c, r));
			}
		}
		for (int s = 0; s < env->n_sizes; s++) {
			int sp = DPV(DPP_SPEE, s), rf = DPV(DPP_REF, s), xf = DPV(DPP_XF, s);

			for (int c = 0; c < CLK_COUNT; c++) {
#define NET(v) (T(i, v, c, r) - T(i, DPV_EMPTY, c, r))
				if (o->has[rf])
					ROUNDS_STAT(o->vs_ref_net[s].c[c], NET(sp) / NET(rf));
				if (o->has[xf])
					ROUNDS_STAT(o->vs_xf_net[s].c[c], NET(sp) / NET(xf));
				ROUNDS_STAT(o->vs_empty[s].c[c],
					    T(i, sp, c, r) / T(i, DPV_EMPTY, c, r));
				if (s == last)
					ROUNDS_STAT(o->flat.c[c],
						    NET(DPV(DPP_SPEE, last)) / NET(DPV(DPP_SPEE, 0)));
#undef NET
			}
		}
	}
	free(col);
}

/* bench_rounds' bench_time_fn: variant v (a program) on row i. */
static int time_variant(void *ctx, int i, int v, double ns[CLK_COUNT])
{
	const struct dp_env *env = ctx;
	const struct row *rw = &env->rows[i];
	int fd;

	if (!variant_used(env, v) || (fd = prog_of(env, rw, v)) < 0)
		return 1;
	return time_row(env, rw, v, fd, ns);
}

static int measure(struct dp_env *env, struct dp_results *res)
{
	int rounds = env->o->rounds, err;
	double *t = calloc((size_t)env->n_rows * DP_VARIANTS * CLK_COUNT * (size_t)rounds,
			   sizeof(*t));

	if (!t)
		return -ENOMEM;
	err = bench_rounds(t, env->n_rows, DP_VARIANTS, rounds, time_variant, env, "data plane");
	if (!err)
		summarize(env, t, rounds, res);
	free(t);
	return err;
}
#undef T

/* ---- the cost of drop events ---- */

static int ev_nothing(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

/* Sets the active slot's event rate and burst directly: only this measurement does that. */
static int ev_set(const struct inv *iv, uint32_t rate, uint32_t burst)
{
	struct spee_runtime rt;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(iv->sp.l.maps.fd[SPEE_MAP_RT], &zero, &rt))
		return -errno;
	rt.slot[rt.active & 1].events_rate = rate;
	rt.slot[rt.active & 1].events_burst = burst;
	return bpf_map_update_elem(iv->sp.l.maps.fd[SPEE_MAP_RT], &zero, &rt, BPF_ANY) ? -errno
										       : 0;
}

/*
 * A run that writes events must stay within the ring, so every state is
 * timed the same way: EV_BATCHES runs of EV_RUN packets, the ring emptied
 * before each run of the "sent" state only. The per-run cost of the
 * syscall is then the same in every state and cancels in the differences.
 */
#define EV_RUN 2000
#define EV_BATCHES 50

static double ev_time(const struct dp_env *env, const struct row *rw, int fd,
		      struct ring_buffer *rb, bool drain, uint32_t *rv)
{
	double sum = 0, ns[CLK_COUNT];
	int err;

	for (int b = 0; b < EV_BATCHES; b++) {
		if (drain)
			ring_buffer__consume(rb);
		err = run_row(env, rw, fd, EV_RUN, ns, rv);
		if (err || *rv != XDP_DROP)
			return err ? err : -EPROTO;
		sum += ns[CLK_CPU];
	}
	return sum / EV_BATCHES;
}

/*
 * Each state is prepared, then timed, in rounds whose order shifts: off
 * (rate 0), sent (a large bucket), suppressed (an empty bucket), lost (a
 * full ring). The refused SYN's verdict is checked every run.
 */
static int measure_events(struct dp_env *env, struct dp_results *res)
{
	const struct row *rw = NULL;
	struct inv *iv = NULL;
	struct ring_buffer *rb = NULL;
	int rounds = env->o->rounds, err = 0, fd;
	double t[DPE_COUNT][16] = { { 0 } };

	for (int s = 0; s < env->n_sizes; s++)
		if (bench_sizes[s] == 1000)
			iv = &env->inv[s];
	for (int i = 0; i < env->n_rows; i++)
		if (env->rows[i].path == DP_REFUSED && env->rows[i].family == 4)
			rw = &env->rows[i];
	if (!iv || !rw || rounds > 16)
		return 0; /* --quick leaves out 1,000 hosts */
	fd = bench_spee_prog(&iv->sp, false);
	rb = ring_buffer__new(iv->sp.l.maps.fd[SPEE_MAP_EVENTS], ev_nothing, NULL, NULL);
	if (!rb)
		return -errno;
	for (int r = 0; r < rounds && !err; r++) {
		for (int k = 0; k < DPE_COUNT && !err; k++) {
			int state = (k + r) % DPE_COUNT;
			double ns, scratch[CLK_COUNT];
			uint32_t rv;

			ring_buffer__consume(rb);
			switch (state) {
			case DPE_OFF:
				err = ev_set(iv, 0, 0);
				break;
			case DPE_SENT:
				err = ev_set(iv, 1000000, 1000000);
				break;
			case DPE_SUPPRESSED:
				err = ev_set(iv, 1, 1);
				if (!err) /* empty the bucket */
					run_row(env, rw, fd, 8, scratch, &rv);
				break;
			case DPE_LOST:
				err = ev_set(iv, 1000000, 1000000);
				if (!err) /* fill the ring: 4,096 records of 64 bytes */
					run_row(env, rw, fd, SPEE_EVENTS_BYTES / 64 + 64,
						scratch, &rv);
				break;
			}
			if (err)
				break;
			ns = ev_time(env, rw, fd, rb, state == DPE_SENT, &rv);
			if (ns < 0) {
				err = (int)ns;
				break;
			}
			t[state][r] = ns;
		}
	}
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	ev_set(iv, iv->sp.cfg->events_rate, iv->sp.cfg->events_burst);
	if (err)
		return err;
	for (int st = 0; st < DPE_COUNT; st++) {
		double extra[16];

		stat3_of(t[st], rounds, &res->events_ns[st]);
		for (int r = 0; r < rounds; r++)
			extra[r] = t[st][r] - t[DPE_OFF][r];
		stat3_of(extra, rounds, &res->events_extra[st]);
	}
	res->events_measured = true;
	res->events_repeat = EV_RUN;
	res->events_batches = EV_BATCHES;
	return 0;
}

int dp_run(const struct bench_opts *o, struct dp_results *res)
{
	static const enum dp_path paths[] = {
	    DP_PEER,	      DP_ANY,	       DP_CIDR,		 DP_REFUSED,	     DP_REPLY,
	    DP_VLAN,	      DP_EGRESS_ALLOW, DP_EGRESS_ESTAB, DP_EGRESS_REFUSE, DP_EGRESS_SOCK_SYN,
	    DP_EGRESS_SOCK_ESTAB};
	struct dp_env *env = calloc(1, sizeof(*env));
	int err = 0;

	if (!env)
		return -ENOMEM;
	memset(res, 0, sizeof(*res));
	env->o = o;
	for (int v = 0; v < DP_VARIANTS; v++)
		env->parked[v] = -1;
	env->n_sizes = o->n_sizes;
	env->ncpu = libbpf_num_possible_cpus();
	env->ifindex = (int)if_nametoindex(o->rx_if);
	res->rounds = o->rounds;
	res->repeat = o->repeat;
	res->sock_packets = o->sock_packets;
	res->n_sizes = o->n_sizes;
	res->cpu = o->cpu;
	snprintf(res->xf_obj, sizeof(res->xf_obj), "%s", o->xdpfilter_obj);
	if (env->ifindex <= 0 || env->ncpu <= 0) {
		bench_log("no interface %s in this namespace", o->rx_if);
		err = -ENODEV;
		goto out;
	}
	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]) && !err; p++)
		for (int fam = 4; fam <= 6 && !err; fam += 2)
			err = add_row(env, paths[p], fam);
	if (err)
		goto out;
	res->n_rows = env->n_rows;

	res->xf_loaded = true;
	for (int s = 0; s < env->n_sizes && !err; s++) {
		struct inv *iv = &env->inv[s];
		struct bench_ref_key *keys = NULL;
		size_t n_keys = 0;
		uint64_t t0 = bench_now_ns();
		double ms;

		struct gen_spec gs = {.n_hosts = bench_sizes[s], .v4 = true, .v6 = true};
		char name[64];

		iv->n_hosts = bench_sizes[s];
		snprintf(name, sizeof(name), "inventory-%zu.yaml", bench_sizes[s]);
		err = bench_spee_compile(&iv->sp, &gs, name);
		if (!err)
			err = bench_spee_load(&iv->sp);
		ms = (double)(bench_now_ns() - t0) / 1e6;
		if (err)
			break;
		{
			size_t nx, np;

			maps_count_entries(iv->sp.pol, &iv->sp.names, &nx, &np);
			res->exact_entries[s] = nx;
		}
		err = ingress_keys(iv->sp.pol, &keys, &n_keys);
		if (!err)
			err = inv_load_ref(iv, n_keys, keys);
		if (err) {
			free(keys);
			bench_log("cannot load the reference filter: %s", strerror(-err));
			break;
		}
		if (res->xf_loaded &&
		    inv_load_xf(iv, o->xdpfilter_obj, n_keys, keys, env->ncpu, res->xf_note,
				sizeof(res->xf_note))) {
			/* The peer is a comparison, not a requirement: go on without it. */
			res->xf_loaded = false;
			bpf_object__close(iv->xf);
			iv->xf = NULL;
			for (int k = 0; k < s; k++) {
				bpf_object__close(env->inv[k].xf);
				env->inv[k].xf = NULL;
			}
			bench_log("xdp-filter left out: %s", res->xf_note);
		}
		free(keys);
		bench_log("data plane: %zu hosts loaded (%zu exact entries a slot) in %.0f ms",
			  bench_sizes[s], res->exact_entries[s], ms);
	}
	if (err)
		goto out;
	/* Every XDP program measured stays in the dispatcher (see bench_park_xdp). */
	for (int v = 0; v < DP_VARIANTS && !err; v++) {
		int fd = variant_used(env, v) ? prog_of(env, &env->rows[0], v) : -1;

		if (fd >= 0) {
			env->parked[v] = bench_park_xdp(o->rx_if, v, fd);
			err = env->parked[v] < 0 ? env->parked[v] : 0;
		}
	}
	if (err)
		bench_log("data plane: cannot park the XDP programs: %s", strerror(-err));
	if (!err)
		err = egress_sock_open(o, &env->es);
	if (!err)
		err = seed_flows(env);
	if (!err)
		err = check_all(env, res);
	if (!err) {
		bench_pin_cpu(o->cpu);
		err = measure(env, res);
		if (!err)
			err = measure_events(env, res);
		bench_pin_cpu(-1);
	}
out:
	egress_sock_close(env->es);
	for (int v = 0; v < DP_VARIANTS; v++)
		bench_unpark_xdp(env->parked[v]);
	for (int s = 0; s < BENCH_SIZES; s++)
		inv_free(&env->inv[s]);
	free(env);
	return err;
}
