// SPDX-License-Identifier: GPL-2.0-only
/*
 * gateway.c - gateway mode's per-packet cost beside host mode's, with
 * BPF_PROG_TEST_RUN, in the data plane's interleaved rounds (xdp.c).
 *
 * One inventory (GW_HOSTS hosts) loaded three ways, each as speebpf loads
 * it: gateway mode (every host compiled, spee_gw_xdp), and host mode for
 * bench0 (spee_xdp, spee_egress) and for the IH peer (its spee_egress), so
 * that a packet between two inventory hosts can be priced both ways: once
 * at the gateway, which asks the sender's egress rules and the receiver's
 * ingress rules in one run, or at both hosts, the receiver's XDP plus the
 * sender's cgroup egress program. Every round runs every row through each
 * program it has and the empty programs of both hooks, in an order that
 * shifts from round to round; figures are net of the empty program of the
 * same hook and round, and the ratio gateway / host mode is taken per round.
 * Before timing, each row's verdict and the counters it must move are
 * checked on each program.
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
#include "bench.skel.h"

#define GW_HOSTS 1000
#define XDP_DROP_ 1
#define XDP_PASS_ 2
#define LOCAL_PORT 40000   /* bench0's end of its connection to the IH peer */
#define PARK_BASE 40	   /* bench_park_xdp indexes, apart from xdp.c's */

enum gw_prog { GWP_GATEWAY, GWP_HOST_IN, GWP_HOST_OUT, GWP_EMPTY_XDP, GWP_EMPTY_SKB, GWP_COUNT };

static const char *const gw_path_names[GW_PATH_COUNT] = {
    [GW_ANY] = "SYN from outside, ANY rule",
    [GW_REFUSED] = "SYN refused (no-rule)",
    [GW_REPLY] = "reply (flow hit)",
    [GW_EAST_WEST] = "east-west SYN, peer rule at both ends",
};

const char *const gw_path_ids[GW_PATH_COUNT] = {
    [GW_ANY] = "any", [GW_REFUSED] = "refused", [GW_REPLY] = "reply", [GW_EAST_WEST] = "east-west",
};

struct gw_row {
	enum gw_path path;
	int family;
	uint8_t frame[PKT_MAX];
	int len;
	uint32_t want_xdp;     /* the verdict of both XDP programs */
	const char *rule;  /* the rule it counts under (at both ends when east-west), or NULL */
	uint8_t reason;	   /* else this reason (ingress) */
	bool east_west;	   /* between two inventory hosts: host mode judges it at both */
};

struct gw_env {
	const struct bench_opts *o;
	struct bench_spee gw, host, peer; /* gateway; bench0 and the IH peer in host mode */
	struct bench *empty;
	int ifindex;
	struct gw_row rows[GW_MAX_ROWS];
	int n_rows;
	int parked[3];
};

static int add_row(struct gw_env *env, enum gw_path path, int family)
{
	struct gw_row *r = &env->rows[env->n_rows];
	char self[48], peer[48];
	struct pkt_spec s = {
	    .proto = IPPROTO_TCP,
	    .ttl = 64,
	    .tcp_flags = PKT_SYN,
	    .tcp_opt_len = 20,
	    .sport = 51234,
	};

	memset(r, 0, sizeof(*r));
	r->path = path;
	r->family = family;
	r->want_xdp = XDP_PASS_;
	gen_host_addr(0, family, self, sizeof(self));
	gen_host_addr(gen_host_with("IH", 1), family, peer, sizeof(peer));
	s.dst = self;
	switch (path) {
	case GW_ANY:
		s.src = family == 4 ? GEN_STRANGER4 : GEN_STRANGER6;
		s.dport = 443;
		r->rule = "cas-https";
		break;
	case GW_REFUSED:
		s.src = family == 4 ? GEN_STRANGER4 : GEN_STRANGER6;
		s.dport = 8471;
		r->reason = SPEE_REASON_NO_RULE;
		r->want_xdp = XDP_DROP_;
		break;
	case GW_REPLY:
		s.src = peer;
		s.sport = 8472;
		s.dport = LOCAL_PORT;
		s.tcp_flags = PKT_SYN | PKT_ACK;
		r->reason = SPEE_REASON_ESTABLISHED;
		break;
	case GW_EAST_WEST:
		s.src = peer;
		s.dport = 8471;
		r->rule = "mgmt-internal";
		r->east_west = true;
		break;
	default:
		return -EINVAL;
	}
	r->len = pkt_build(&s, r->frame, sizeof(r->frame));
	if (r->len < 0)
		return -EINVAL;
	env->n_rows++;
	return 0;
}

/* The program of a row, or -1 where it has none (host egress: east-west only). */
static int prog_of(const struct gw_env *env, const struct gw_row *r, int p)
{
	switch (p) {
	case GWP_GATEWAY:
		return bench_spee_prog(&env->gw, false);
	case GWP_HOST_IN:
		return bench_spee_prog(&env->host, false);
	case GWP_HOST_OUT:
		return r->east_west ? bench_spee_prog(&env->peer, true) : -1;
	case GWP_EMPTY_XDP:
		return bpf_program__fd(env->empty->progs.bench_empty);
	default:
		return r->east_west ? bpf_program__fd(env->empty->progs.bench_skb_empty) : -1;
	}
}

static bool is_skb(int p)
{
	return p == GWP_HOST_OUT || p == GWP_EMPTY_SKB;
}

static int run_once(const struct gw_env *env, const struct gw_row *r, int p, int repeat,
		    double ns[CLK_COUNT], uint32_t *rv)
{
	struct __sk_buff skb = {.ifindex = (__u32)env->ifindex};

	return bench_test_run(prog_of(env, r, p), r->frame, r->len, is_skb(p) ? &skb : NULL,
			      is_skb(p) ? (int)sizeof(skb) : 0, repeat, ns, rv);
}

/* What b counted under the row's rule (or reason) in dir so far. */
static int64_t counted(const struct bench_spee *b, const struct gw_row *r, unsigned dir)
{
	if (r->rule)
		return bench_spee_rule_count(b, r->rule, dir);
	return (int64_t)bench_spee_reason_count(b, r->reason, dir);
}

/*
 * Runs program p once on row r and checks its verdict and counters: the
 * gateway counts an east-west SYN under the rule at both ends.
 */
static int check_one(const struct gw_env *env, const struct gw_row *r, int p)
{
	const struct bench_spee *b = p == GWP_GATEWAY ? &env->gw :
				     p == GWP_HOST_IN ? &env->host : &env->peer;
	unsigned dir = p == GWP_HOST_OUT ? SPEE_DIR_EGRESS : SPEE_DIR_INGRESS;
	int64_t in0 = counted(b, r, dir), out0 = 0, in1, out1 = 0;
	bool both = p == GWP_GATEWAY && r->east_west;
	double ns[CLK_COUNT];
	uint32_t rv = 0, want = p == GWP_HOST_OUT ? 1 : r->want_xdp;
	int err;

	if (both)
		out0 = counted(b, r, SPEE_DIR_EGRESS);
	if (in0 < 0 || out0 < 0)
		return (int)(in0 < 0 ? in0 : out0);
	err = run_once(env, r, p, 1, ns, &rv);
	if (err)
		return err;
	in1 = counted(b, r, dir);
	if (both)
		out1 = counted(b, r, SPEE_DIR_EGRESS);
	if (rv != want || in1 != in0 + 1 || out1 != out0 + both)
		return -EPROTO;
	return 0;
}

/*
 * The flows the reply row answers: bench0:40000 -> IH:8472, opened at the
 * gateway by its SYN and, in host mode, by bench0's egress program.
 */
static int open_flows(struct gw_env *env)
{
	char self[48], peer[48];
	uint8_t frame[PKT_MAX];
	struct __sk_buff skb = {.ifindex = (__u32)env->ifindex};
	double ns[CLK_COUNT];
	uint32_t rv;
	int len, err;

	for (int family = 4; family <= 6; family += 2) {
		struct pkt_spec s = {
		    .proto = IPPROTO_TCP, .ttl = 64, .tcp_flags = PKT_SYN, .tcp_opt_len = 20,
		    .sport = LOCAL_PORT, .dport = 8472,
		};

		gen_host_addr(0, family, self, sizeof(self));
		gen_host_addr(gen_host_with("IH", 1), family, peer, sizeof(peer));
		s.src = self;
		s.dst = peer;
		len = pkt_build(&s, frame, sizeof(frame));
		if (len < 0)
			return -EINVAL;
		err = bench_test_run(bench_spee_prog(&env->gw, false), frame, len, NULL, 0, 1, ns,
				     &rv);
		if (!err && rv != XDP_PASS_)
			err = -EPROTO;
		if (!err)
			err = bench_test_run(bench_spee_prog(&env->host, true), frame, len, &skb,
					     (int)sizeof(skb), 1, ns, &rv);
		if (!err && rv != 1)
			err = -EPROTO;
		if (err)
			return err;
	}
	return 0;
}

/* t[row][prog][clock][round], ns per packet */
#define T(row, p, c, r) BENCH_CELL(t, GWP_COUNT, rounds, row, p, c, r)
#define ROUNDS_STAT(out, expr)                                                                     \
	do {                                                                                       \
		for (int r = 0; r < rounds; r++)                                                   \
			col[r] = (expr);                                                           \
		stat3_of(col, rounds, &(out));                                                     \
	} while (0)

static void summarize(const struct gw_env *env, const double *t, int rounds,
		      struct gw_results *res)
{
	double *col = calloc((size_t)rounds, sizeof(*col));

	if (!col)
		return;
	for (int i = 0; i < env->n_rows; i++) {
		const struct gw_row *w = &env->rows[i];
		struct gw_row_result *o = &res->row[i];
		bool ew = w->east_west;

		snprintf(o->id, sizeof(o->id), "%s%d", gw_path_ids[w->path], w->family);
		snprintf(o->name, sizeof(o->name), "IPv%d %s", w->family, gw_path_names[w->path]);
		o->east_west = ew;
		for (int c = 0; c < CLK_COUNT; c++) {
#define NET(p) (T(i, p, c, r) - T(i, is_skb(p) ? GWP_EMPTY_SKB : GWP_EMPTY_XDP, c, r))
#define HOST_NET (NET(GWP_HOST_IN) + (ew ? NET(GWP_HOST_OUT) : 0))
			stat3_of(&T(i, GWP_EMPTY_XDP, c, 0), rounds, &o->empty.c[c]);
			ROUNDS_STAT(o->gateway.c[c], NET(GWP_GATEWAY));
			ROUNDS_STAT(o->host_in.c[c], NET(GWP_HOST_IN));
			if (ew)
				ROUNDS_STAT(o->host_out.c[c], NET(GWP_HOST_OUT));
			ROUNDS_STAT(o->host.c[c], HOST_NET);
			ROUNDS_STAT(o->vs_host.c[c], NET(GWP_GATEWAY) / HOST_NET);
#undef HOST_NET
#undef NET
		}
	}
	free(col);
}

/* bench_rounds' bench_time_fn: program p on row i. */
static int time_program(void *ctx, int i, int p, double ns[CLK_COUNT])
{
	const struct gw_env *env = ctx;
	uint32_t rv;

	if (prog_of(env, &env->rows[i], p) < 0)
		return 1;
	return run_once(env, &env->rows[i], p, env->o->repeat, ns, &rv);
}

static int measure(struct gw_env *env, struct gw_results *res)
{
	int rounds = env->o->rounds, err;
	double *t = calloc((size_t)env->n_rows * GWP_COUNT * CLK_COUNT * (size_t)rounds,
			   sizeof(*t));

	if (!t)
		return -ENOMEM;
	err = bench_rounds(t, env->n_rows, GWP_COUNT, rounds, time_program, env, "gateway");
	if (!err)
		summarize(env, t, rounds, res);
	free(t);
	return err;
}
#undef T

static int load(struct gw_env *env, struct gw_results *res)
{
	struct gen_spec gs = {.n_hosts = GW_HOSTS, .v4 = true, .v6 = true};
	char peer[32];
	int err;

	snprintf(peer, sizeof(peer), "h%zu", gen_host_with("IH", 1));
	err = bench_spee_compile_gateway(&env->gw, &gs, "inventory-gateway.yaml");
	if (!err)
		err = bench_spee_load(&env->gw);
	if (!err)
		err = bench_spee_compile(&env->host, &gs, "inventory-bench0.yaml");
	if (!err)
		err = bench_spee_load(&env->host);
	if (!err)
		err = bench_spee_compile_host(&env->peer, &gs, "inventory-peer.yaml", peer);
	if (!err)
		err = bench_spee_load(&env->peer);
	if (err)
		return err;
	res->hosts = GW_HOSTS;
	res->policies = env->gw.gw->n_policies;
	env->empty = bench__open_and_load();
	return env->empty ? 0 : -errno;
}

int gw_run(const struct bench_opts *o, struct gw_results *res)
{
	static const enum gw_path paths[] = {GW_ANY, GW_REFUSED, GW_REPLY, GW_EAST_WEST};
	struct gw_env *env = calloc(1, sizeof(*env));
	int err = 0;

	if (!env)
		return -ENOMEM;
	memset(res, 0, sizeof(*res));
	env->o = o;
	for (int i = 0; i < 3; i++)
		env->parked[i] = -1;
	res->rounds = o->rounds;
	res->repeat = o->repeat;
	res->cpu = o->cpu;
	env->ifindex = (int)if_nametoindex(o->rx_if);
	if (env->ifindex <= 0) {
		bench_log("no interface %s in this namespace", o->rx_if);
		err = -ENODEV;
		goto out;
	}
	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]) && !err; p++)
		for (int fam = 4; fam <= 6 && !err; fam += 2)
			err = add_row(env, paths[p], fam);
	res->n_rows = env->n_rows;
	if (!err)
		err = load(env, res);
	if (err) {
		bench_log("gateway: cannot load the inventory: %s", strerror(-err));
		goto out;
	}
	/* Measured as the data plane measures: every XDP program attached somewhere. */
	env->parked[0] = bench_park_xdp(o->rx_if, PARK_BASE, bench_spee_prog(&env->gw, false));
	env->parked[1] = bench_park_xdp(o->rx_if, PARK_BASE + 1, bench_spee_prog(&env->host, false));
	env->parked[2] = bench_park_xdp(o->rx_if, PARK_BASE + 2,
					bpf_program__fd(env->empty->progs.bench_empty));
	for (int i = 0; i < 3 && !err; i++)
		err = env->parked[i] < 0 ? env->parked[i] : 0;
	if (!err)
		err = open_flows(env);
	for (int i = 0; i < env->n_rows && !err; i++) {
		for (int p = GWP_GATEWAY; p <= GWP_HOST_OUT && !err; p++) {
			const struct gw_row *r = &env->rows[i];

			if (prog_of(env, r, p) < 0)
				continue;
			err = check_one(env, r, p);
			if (err)
				bench_log("gateway: row '%s' (IPv%d), program %d: not the expected "
					  "verdict or counters (%s)",
					  gw_path_names[r->path], r->family, p, strerror(-err));
		}
		snprintf(res->row[i].expect, sizeof(res->row[i].expect), "%s",
			 env->rows[i].rule ? env->rows[i].rule : reason_label(env->rows[i].reason));
	}
	if (!err) {
		bench_pin_cpu(o->cpu);
		err = measure(env, res);
		bench_pin_cpu(-1);
	}
out:
	for (int i = 0; i < 3; i++)
		bench_unpark_xdp(env->parked[i]);
	bench_spee_free(&env->gw);
	bench_spee_free(&env->host);
	bench_spee_free(&env->peer);
	bench__destroy(env->empty);
	free(env);
	return err;
}
