// SPDX-License-Identifier: GPL-2.0-only
/*
 * check.c - the machine and its check. Before anything else (and again at
 * the end) the run times two fixed programs whose cost on a quiet machine of
 * this kind is known: the empty XDP program (the hook's fixed cost) and the
 * reference filter on a one-entry table. A run whose check, or whose data
 * plane's own empty program, is above the limits in bench.h, whose rounds
 * spread too far, or beside which another task took half a CPU, is marked
 * disturbed: the report shows its figures but judges no target on them.
 */
#include "bench.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "gen.h"
#include "pkt.h"
#include "bench_abi.h"
#include "bench.skel.h"

#define CHECK_ROUNDS 7

void machine_load(double out[3])
{
	FILE *f = fopen("/proc/loadavg", "r");

	out[0] = out[1] = out[2] = -1;
	if (!f)
		return;
	if (fscanf(f, "%lf %lf %lf", &out[0], &out[1], &out[2]) != 3)
		out[0] = out[1] = out[2] = -1;
	fclose(f);
}

void machine_read(struct machine *m)
{
	struct utsname u;
	char line[256];
	FILE *f;

	memset(m, 0, sizeof(*m));
	if (!uname(&u)) {
		snprintf(m->release, sizeof(m->release), "%s", u.release);
		snprintf(m->build, sizeof(m->build), "%s", u.version);
		snprintf(m->arch, sizeof(m->arch), "%s", u.machine);
	}
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c && !m->cpu[0]) {
			snprintf(m->cpu, sizeof(m->cpu), "%s", c + 2);
			m->cpu[strcspn(m->cpu, "\n")] = 0;
		}
	}
	if (f)
		fclose(f);
	m->cores = sysconf(_SC_NPROCESSORS_ONLN);
	m->mem_mib = sysconf(_SC_PHYS_PAGES) / 1024 * sysconf(_SC_PAGESIZE) / 1024;
	snprintf(m->libbpf, sizeof(m->libbpf), "%u.%u", libbpf_major_version(),
		 libbpf_minor_version());
}

int check_run(const struct bench_opts *o, struct check_sample *s)
{
	double t[2][CLK_COUNT][CHECK_ROUNDS];
	struct bench_ref_key k = {.proto = IPPROTO_TCP, .family = 0};
	char self[48], peer[48];
	uint8_t frame[PKT_MAX];
	struct pkt_spec ps = {
	    .src = peer,
	    .dst = self,
	    .proto = IPPROTO_TCP,
	    .ttl = 64,
	    .tcp_flags = PKT_SYN,
	    .tcp_opt_len = 20,
	    .sport = 51234,
	    .dport = 8471,
	};
	struct bench *skel;
	__u32 one = 1;
	int len, err, fds[2], parked[2] = {-1, -1};

	gen_host_addr(0, 4, self, sizeof(self));
	gen_host_addr(1, 4, peer, sizeof(peer));
	len = pkt_build(&ps, frame, sizeof(frame));
	if (len < 0)
		return -EINVAL;
	skel = bench__open_and_load();
	if (!skel)
		return -errno;
	/* The one entry the packet hits: {tcp, 8471, peer}. */
	k.port = htons(8471);
	memcpy(k.addr, frame + 14 + 12, 4);
	err = bpf_map__update_elem(skel->maps.ref_allow, &k, sizeof(k), &one, sizeof(one), BPF_ANY);
	if (err)
		goto out;
	fds[0] = bpf_program__fd(skel->progs.bench_empty);
	fds[1] = bpf_program__fd(skel->progs.bench_ref);
	for (int p = 0; p < 2 && !err; p++) {
		parked[p] = bench_park_xdp(o->rx_if, 90 + p, fds[p]);
		err = parked[p] < 0 ? parked[p] : 0;
	}
	if (err)
		goto out;
	bench_pin_cpu(o->cpu);
	for (int r = 0; r < CHECK_ROUNDS && !err; r++) {
		for (int k2 = 0; k2 < 2 && !err; k2++) {
			int p = (k2 + r) % 2; /* the order alternates */
			double ns[CLK_COUNT];
			uint32_t rv;

			err = bench_test_run(fds[p], frame, len, NULL, 0, o->repeat, ns, &rv);
			if (!err && rv != 2 /* XDP_PASS */)
				err = -EPROTO;
			for (int c = 0; c < CLK_COUNT && !err; c++)
				t[p][c][r] = ns[c];
		}
	}
	bench_pin_cpu(-1);
	if (err)
		goto out;
	for (int c = 0; c < CLK_COUNT; c++) {
		stat3_of(t[0][c], CHECK_ROUNDS, &s->empty.c[c]);
		stat3_of(t[1][c], CHECK_ROUNDS, &s->reference.c[c]);
	}
	s->empty_spread = s->empty.c[CLK_CPU].max / s->empty.c[CLK_CPU].min;
	s->reference_spread = s->reference.c[CLK_CPU].max / s->reference.c[CLK_CPU].min;
	bench_log("machine check: empty XDP program %.1f ns (kernel %.0f), reference %.1f ns "
		  "(kernel %.0f)",
		  s->empty.c[CLK_CPU].med, s->empty.c[CLK_KERNEL].med, s->reference.c[CLK_CPU].med,
		  s->reference.c[CLK_KERNEL].med);
out:
	bench_unpark_xdp(parked[0]);
	bench_unpark_xdp(parked[1]);
	bench__destroy(skel);
	return err;
}

static void reason(struct check_result *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reason(struct check_result *c, const char *fmt, ...)
{
	va_list ap;

	c->disturbed = true;
	if (c->n_reasons == CHECK_REASONS)
		return;
	va_start(ap, fmt);
	vsnprintf(c->reasons[c->n_reasons++], sizeof(c->reasons[0]), fmt, ap);
	va_end(ap);
}

static void judge_sample(struct check_result *c, const struct check_sample *s, const char *when)
{
	if (s->empty.c[CLK_CPU].med > CHECK_EMPTY_MAX_NS)
		reason(c, "%s: the empty XDP program took %.1f ns (a quiet machine: <= %.0f)", when,
		       s->empty.c[CLK_CPU].med, CHECK_EMPTY_MAX_NS);
	if (s->reference.c[CLK_CPU].med > CHECK_REFERENCE_MAX_NS)
		reason(c, "%s: the fixed reference took %.1f ns (a quiet machine: <= %.0f)", when,
		       s->reference.c[CLK_CPU].med, CHECK_REFERENCE_MAX_NS);
	if (s->empty_spread > CHECK_SPREAD_MAX || s->reference_spread > CHECK_SPREAD_MAX)
		reason(c, "%s: the rounds spread %.2fx and %.2fx (slowest over fastest; <= %.2f)",
		       when, s->empty_spread, s->reference_spread, CHECK_SPREAD_MAX);
}

void check_judge(struct check_result *c, const struct dp_results *dp, const struct machine *m)
{
	c->disturbed = false;
	c->n_reasons = 0;
	judge_sample(c, &c->start, "at the start");
	if (c->have_end)
		judge_sample(c, &c->end, "at the end");
	for (int i = 0; dp && i < dp->n_rows; i++) {
		const struct stat3 *e = &dp->row[i].ns[DPV_EMPTY].c[CLK_CPU];

		if (!dp->row[i].egress && dp->row[i].has[DPV_EMPTY] && e->med > CHECK_EMPTY_MAX_NS) {
			reason(c, "data plane: the empty XDP program took %.1f ns beside '%s'",
			       e->med, dp->row[i].name);
			break;
		}
	}
	if (m->others_samples && m->others_running > CHECK_OTHERS_MAX)
		reason(c, "%.1f other tasks were runnable beside the data and control planes, on "
			  "average",
		       m->others_running);
	if (m->tenants_total > CHECK_TENANT_MAX)
		reason(c, "other tasks took %.0f%% of a CPU during the run", 100 * m->tenants_total);
}
