// SPDX-License-Identifier: GPL-2.0-only
/*
 * Drop events, on the real kernel with BPF_PROG_TEST_RUN: a dropped packet
 * is reported with its addresses, ports, reason and interface; an allowed
 * one is not; a flood gets no more events than the per-CPU token bucket
 * allows and the rest are counted as suppressed; a quiet time refills the
 * bucket; audit mode reports would-drops; a rate of 0 reports nothing.
 * The bucket is per CPU, so the test keeps to one CPU.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpfenv.h"
#include "config.h"
#include "loader.h"
#include "maps.h"
#include "pkt.h"
#include "policy.h"

#define HOST4 "198.18.0.10"
#define CAS4 "198.18.0.11"
#define OUT4 "198.18.4.1"

static struct loader l;
static int veth;

static const char fleet[] = "hosts:\n"
			    "  - {name: mgmt1, roles: [MGMT], addresses: [198.18.0.10]}\n"
			    "  - {name: cas1, roles: [CAS], addresses: [198.18.0.11]}\n"
			    "events: {rate: %u, burst: %u}\n"
			    "mode: %s\n";

/* Applies the fleet for mgmt1 with this event rate, burst and mode. */
static void apply(unsigned rate, unsigned burst, const char *mode)
{
	char yaml[512];
	struct config *cfg;
	struct policy *p;
	struct diags d = { 0 };
	struct maps_apply_opts opts = { 0 };
	struct maps_apply_result res;

	snprintf(yaml, sizeof(yaml), fleet, rate, burst, mode);
	assert_int_equal(config_parse("events.yaml", yaml, strlen(yaml), &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, "mgmt1", NULL, &p, &d), 0);
	assert_int_equal(maps_apply(&l.maps, p, NULL, &opts, &res, &d), 0);
	policy_free(p);
	config_free(cfg);
	diags_free(&d);
}

static uint32_t run_syn(const char *src, uint16_t dport)
{
	struct pkt_spec s = {
		.src = src, .dst = HOST4, .proto = IPPROTO_TCP, .sport = 40000, .dport = dport,
		.tcp_flags = PKT_SYN,
	};
	uint8_t frame[PKT_MAX];
	int len = pkt_build(&s, frame, sizeof(frame));
	uint32_t ret = 0;

	assert_true(len > 0);
	assert_int_equal(bpfenv_run(loader_prog_fd(&l, LOADER_PROG_XDP), BPFENV_XDP, frame,
				    (size_t)len, 0, &ret),
			 0);
	return ret;
}

struct collected {
	struct spee_event ev[64];
	size_t n;
};

static int collect(void *ctx, void *data, size_t size)
{
	struct collected *c = ctx;

	assert_int_equal(size, sizeof(struct spee_event));
	if (c->n < 64)
		memcpy(&c->ev[c->n++], data, sizeof(struct spee_event));
	return 0;
}

/* Everything waiting in the ring. */
static void drain(struct collected *c)
{
	struct ring_buffer *rb = ring_buffer__new(l.maps.fd[SPEE_MAP_EVENTS], collect, c, NULL);

	assert_non_null(rb);
	c->n = 0;
	assert_true(ring_buffer__consume(rb) >= 0);
	ring_buffer__free(rb);
}

static uint64_t ev_stat(uint32_t which)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v = calloc((size_t)ncpu, sizeof(*v)), sum = 0;

	assert_non_null(v);
	assert_int_equal(bpf_map_lookup_elem(l.maps.fd[SPEE_MAP_EV_STATS], &which, v), 0);
	for (int c = 0; c < ncpu; c++)
		sum += v[c];
	free(v);
	return sum;
}

/*
 * Zeroes every CPU's rate-limit bucket: the next drop refills it to the
 * burst, whatever the test before left in it (the bucket refills once a
 * tick, so a test run within the tick that emptied it would find none).
 */
static void full_bucket(void)
{
	int ncpu = libbpf_num_possible_cpus();
	struct spee_ev_bucket *v = calloc((size_t)ncpu, sizeof(*v));
	uint32_t zero = 0;

	assert_non_null(v);
	assert_int_equal(bpf_map_update_elem(l.maps.fd[SPEE_MAP_EV_BUCKET], &zero, v, BPF_ANY), 0);
	free(v);
}

static int setup(void **state)
{
	struct loader_sizes sz;
	struct diags d = { 0 };

	cpu_set_t one;

	(void)state;
	/* Every run on one CPU's bucket: a migration would meet a full one. */
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return -1;
	veth = bpfenv_netns("spe-eva", "spe-evb", NULL, NULL);
	if (veth < 0)
		return -1;
	loader_sizes_default(&sz);
	if (loader_load(&l, &sz, NULL, &d)) {
		diags_print(stderr, &d);
		return -1;
	}
	diags_free(&d);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	loader_close(&l);
	return 0;
}

static void a_dropped_syn_is_reported_with_its_flow(void **state)
{
	struct collected c;

	(void)state;
	apply(1000, 1000, "enforce");
	full_bucket();
	drain(&c);
	assert_int_equal(run_syn(OUT4, 8471), XDP_DROP);
	drain(&c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.ev[0].dir, SPEE_DIR_INGRESS);
	assert_int_equal(c.ev[0].reason, SPEE_REASON_NO_RULE);
	assert_int_equal(c.ev[0].family, SPEE_FAMILY_V4);
	assert_int_equal(c.ev[0].proto, IPPROTO_TCP);
	assert_int_equal(c.ev[0].tcp_flags, PKT_SYN);
	assert_int_equal(ntohs(c.ev[0].sport), 40000);
	assert_int_equal(ntohs(c.ev[0].dport), 8471);
	{
		struct in_addr src, dst;

		inet_pton(AF_INET, OUT4, &src);
		inet_pton(AF_INET, HOST4, &dst);
		assert_memory_equal(c.ev[0].saddr, &src, 4);
		assert_memory_equal(c.ev[0].daddr, &dst, 4);
	}
	assert_int_equal(c.ev[0].audit, 0);
	assert_int_equal(c.ev[0].connect, 0);
	assert_true(c.ev[0].len >= 54);
	assert_true(c.ev[0].time_ns > 0);
}

static void an_allowed_syn_is_not_reported(void **state)
{
	struct collected c;

	(void)state;
	apply(1000, 1000, "enforce");
	drain(&c);
	assert_int_equal(run_syn(CAS4, 8471), XDP_PASS); /* mgmt-internal */
	drain(&c);
	assert_int_equal(c.n, 0);
}

static void a_flood_is_held_to_the_burst_and_the_rest_counted(void **state)
{
	uint64_t sent0, supp0;
	struct collected c;

	(void)state;
	/* 1 a second, a burst of 5: twenty drops in a few microseconds give five events. */
	apply(1, 5, "enforce");
	drain(&c);
	/* Empty the bucket first, whatever a quiet time put in it. */
	for (int i = 0; i < 20; i++)
		run_syn(OUT4, 8471);
	drain(&c);
	sent0 = ev_stat(SPEE_EV_SENT);
	supp0 = ev_stat(SPEE_EV_SUPPRESSED);
	for (int i = 0; i < 20; i++)
		assert_int_equal(run_syn(OUT4, 8471), XDP_DROP);
	drain(&c);
	assert_true(c.n <= 1); /* at most what a second's refill gave back */
	assert_int_equal(ev_stat(SPEE_EV_SENT) - sent0, c.n);
	assert_int_equal(ev_stat(SPEE_EV_SUPPRESSED) - supp0, 20 - c.n);
}

static void a_quiet_time_refills_the_bucket_up_to_the_burst(void **state)
{
	struct timespec quiet = { .tv_nsec = 50 * 1000 * 1000 };
	uint64_t sent0, supp0;
	struct collected c;

	(void)state;
	/* 100 a second, a burst of 3: 50 ms of quiet earn 5 events, the burst keeps 3. */
	apply(100, 3, "enforce");
	for (int i = 0; i < 20; i++)
		run_syn(OUT4, 8471);
	drain(&c);
	assert_int_equal(nanosleep(&quiet, NULL), 0);
	sent0 = ev_stat(SPEE_EV_SENT);
	supp0 = ev_stat(SPEE_EV_SUPPRESSED);
	for (int i = 0; i < 10; i++)
		assert_int_equal(run_syn(OUT4, 8471), XDP_DROP);
	drain(&c);
	assert_int_equal(c.n, 3);
	assert_int_equal(ev_stat(SPEE_EV_SENT) - sent0, 3);
	assert_int_equal(ev_stat(SPEE_EV_SUPPRESSED) - supp0, 7);
}

static void audit_mode_reports_would_drops(void **state)
{
	struct collected c;

	(void)state;
	apply(1000, 1000, "audit");
	full_bucket();
	drain(&c);
	assert_int_equal(run_syn(OUT4, 8471), XDP_PASS);
	drain(&c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.ev[0].audit, 1);
	assert_int_equal(c.ev[0].reason, SPEE_REASON_NO_RULE);
}

static void a_rate_of_zero_reports_nothing(void **state)
{
	uint64_t supp0;
	struct collected c;

	(void)state;
	apply(0, 0, "enforce");
	drain(&c);
	supp0 = ev_stat(SPEE_EV_SUPPRESSED);
	assert_int_equal(run_syn(OUT4, 8471), XDP_DROP);
	drain(&c);
	assert_int_equal(c.n, 0);
	assert_int_equal(ev_stat(SPEE_EV_SUPPRESSED), supp0); /* off is not suppression */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_dropped_syn_is_reported_with_its_flow),
		cmocka_unit_test(an_allowed_syn_is_not_reported),
		cmocka_unit_test(a_flood_is_held_to_the_burst_and_the_rest_counted),
		cmocka_unit_test(a_quiet_time_refills_the_bucket_up_to_the_burst),
		cmocka_unit_test(audit_mode_reports_would_drops),
		cmocka_unit_test(a_rate_of_zero_reports_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
