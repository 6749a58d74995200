// SPDX-License-Identifier: GPL-2.0-only
/*
 * plan's enforced side (kernel/plan_sides.c) on a real, loaded object: what
 * is read back from the active policy slot is exactly the side built for
 * the policy that was applied, before and after a switch to another one,
 * with its settings and generation; and against the other policy it names
 * just what differs. So plan compares the kernel's state, not a file.
 * And the live connections (kernel/conns.c) as the kernel has them: the
 * socket table of a network namespace of the test's own, and the flow
 * state of the loaded object, in which only UDP flows younger than the
 * udp-timeout count and a TCP flow adds nothing beyond its socket.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "fixture.h"
#include "instance.h"
#include "conns.h"
#include "loader.h"
#include "maps.h"
#include "plan.h"
#include "plan_sides.h"

/* A handle over a loaded object's maps, as instance_open would give one for its pins. */
static void handle_of(struct instance *inst, const struct loader *l)
{
	memset(inst, 0, sizeof(*inst));
	snprintf(inst->pin_dir, sizeof(inst->pin_dir), "(the test's object)");
	inst->maps = l->maps;
	inst->lock_fd = -1;
	inst->names_fd = -1; /* no DNS answers kept: plan reads none */
}

/* The entries of two sides are the same, entry for entry. */
static void assert_same_entries(const struct plan_side *a, const struct plan_side *b)
{
	assert_int_equal(a->n_entries, b->n_entries);
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct plan_entry *x = &a->entries[i], *y = &b->entries[i];

		assert_int_equal(x->dir, y->dir);
		assert_int_equal(x->proto, y->proto);
		assert_int_equal(x->reason, y->reason);
		assert_int_equal(x->port_lo, y->port_lo);
		assert_int_equal(x->port_hi, y->port_hi);
		assert_int_equal(prefix_cmp(&x->peer, &y->peer), 0);
		assert_string_equal(x->rule, y->rule);
	}
}

static void built(enum fixture_id id, const struct name_table *t, struct plan_side *s)
{
	struct policy *p = fixture_policy(id);
	struct diags d = {};

	assert_non_null(p);
	assert_int_equal(plan_side_build(p, t, false, s, &d), 0);
	fixture_policy_free(p);
}

static void the_active_slot_reads_back_as_the_side_built_for_its_policy(void **state)
{
	struct policy *main_p = fixture_policy(FX_MAIN), *sw = fixture_policy(FX_SWITCHED);
	struct plan_side read, want_main, want_sw;
	struct name_table t = {};
	struct maps_apply_result res;
	struct loader_sizes sz;
	struct instance inst;
	struct plan_diff diff;
	struct loader l;
	struct diags d = {};
	size_t by_rule = 0;

	(void)state;
	assert_non_null(main_p);
	assert_non_null(sw);
	assert_int_equal(fixture_names(&t), 0);
	loader_sizes_default(&sz);
	assert_int_equal(loader_load(&l, &sz, NULL, &d), 0);
	handle_of(&inst, &l);
	built(FX_MAIN, &t, &want_main);
	built(FX_SWITCHED, &t, &want_sw);

	assert_int_equal(maps_apply(&l.maps, main_p, &t, NULL, &res, &d), 0);
	assert_int_equal(plan_side_read(&inst, &read, &d), 0);
	assert_true(read.enforced);
	assert_int_equal(read.generation, res.generation);
	assert_int_equal(read.mode, SPEE_MODE_ENFORCE);
	assert_same_entries(&read, &want_main);
	for (size_t i = 0; i < read.n_entries; i++)
		by_rule += read.entries[i].reason == SPEE_REASON_RULE && read.entries[i].rule[0];
	assert_true(by_rule > 10); /* the rules' ids came back from spee_rules */
	plan_side_free(&read);

	/* switched: the other slot is active now, with counter slots reused and freed */
	assert_int_equal(maps_apply(&l.maps, sw, &t, NULL, &res, &d), 0);
	assert_int_equal(plan_side_read(&inst, &read, &d), 0);
	assert_int_equal(read.generation, res.generation);
	assert_same_entries(&read, &want_sw);
	assert_int_equal(plan_diff(&read, &want_main, &diff), 0);
	assert_int_equal(diff.n_groups, 2); /* metrics and ntp-out */
	assert_false(diff.mode_changed);
	plan_diff_free(&diff);
	plan_side_free(&read);

	/* and back, in audit mode */
	assert_int_equal(maps_apply(&l.maps, main_p, &t, &(struct maps_apply_opts){ .audit = true },
				    &res, &d),
			 0);
	assert_int_equal(plan_side_read(&inst, &read, &d), 0);
	assert_int_equal(read.mode, SPEE_MODE_AUDIT);
	assert_same_entries(&read, &want_main);
	plan_side_free(&read);

	plan_side_free(&want_main);
	plan_side_free(&want_sw);
	diags_free(&d);
	loader_close(&l);
	names_free(&t);
	fixture_policy_free(main_p);
	fixture_policy_free(sw);
}

/* A network namespace of the test's own with lo up: its socket table holds only the test's. */
static void own_network_namespace(void)
{
	struct ifreq ifr = { 0 };
	int fd;

	assert_int_equal(unshare(CLONE_NEWNET), 0);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	assert_int_equal(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
	close(fd);
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A flow state entry 127.0.0.1:lport <-> 127.0.0.1:rport last seen age_s ago. */
/* Records a flow last seen age_s ago; false when the machine has not been up that long. */
static bool put_flow(int fd, uint8_t proto, uint16_t lport, uint16_t rport, uint64_t age_s)
{
	struct spee_flow_key k = { .family = SPEE_FAMILY_V4, .proto = proto };
	struct spee_flow_state st = { 0 };
	uint64_t now = monotonic_ns(), age = age_s * 1000000000ULL;
	uint32_t lo = htonl(INADDR_LOOPBACK);

	st.last_seen_ns = now > age ? now - age : 1; /* a machine up for less: as old as it can be */

	k.lport = htons(lport);
	k.rport = htons(rport);
	memcpy(k.laddr, &lo, 4);
	memcpy(k.raddr, &lo, 4);
	assert_int_equal(bpf_map_update_elem(fd, &k, &st, BPF_ANY), 0);
	return now > age;
}

static const struct plan_conn *find_conn(const struct plan_conn *v, size_t n, uint8_t proto,
					 uint16_t lport, uint16_t rport)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].proto == proto && v[i].lport == lport && v[i].rport == rport)
			return &v[i];
	return NULL;
}

static uint16_t port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static void the_socket_table_and_the_flow_state_are_the_live_connections(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct policy *p = fixture_policy(FX_MAIN);
	const struct plan_conn *c;
	struct name_table t = {};
	struct maps_apply_result res;
	struct loader_sizes sz;
	struct spee_runtime rt;
	struct instance inst;
	struct plan_conn *v;
	uint64_t timeout_s;
	bool expired;
	struct loader l;
	struct diags d = {};
	uint16_t lport, cport;
	int lfd, cfd, afd, ffd;
	size_t n;

	(void)state;
	own_network_namespace();
	assert_non_null(p);
	assert_int_equal(fixture_names(&t), 0);
	loader_sizes_default(&sz);
	assert_int_equal(loader_load(&l, &sz, NULL, &d), 0);
	handle_of(&inst, &l);
	assert_int_equal(maps_apply(&l.maps, p, &t, NULL, &res, &d), 0);

	/* one TCP connection over lo: both of its ends are sockets of this namespace */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	lport = port_of(lfd);
	a.sin_port = htons(lport);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(cfd >= 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&a, sizeof(a)), 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	cport = port_of(cfd);

	/* the flow state: a fresh and an expired UDP flow, and the TCP connection's entry */
	ffd = inst.maps.fd[SPEE_MAP_FLOWS];
	assert_true(ffd >= 0);
	put_flow(ffd, IPPROTO_UDP, 40001, 514, 0);
	assert_int_equal(maps_read_runtime(&inst.maps, &rt, &d), 0);
	timeout_s = rt.slot[rt.active & 1].udp_timeout_ns / 1000000000ULL;
	assert_true(timeout_s > 0);
	/* a guest booted seconds ago (make test-kernels) cannot hold a flow that old */
	expired = put_flow(ffd, IPPROTO_UDP, 40002, 514, timeout_s + 5);
	put_flow(ffd, IPPROTO_TCP, cport, lport, 0);
	put_flow(ffd, IPPROTO_TCP, 40003, 443, 0); /* no socket behind it: history */

	assert_int_equal(conns_list(&inst, &v, &n, &d), 0);
	/* the connection's two ends and the fresh UDP flow (and the other, if it could not expire) */
	assert_int_equal(n, expired ? 3 : 4);

	c = find_conn(v, n, IPPROTO_TCP, cport, lport);
	assert_non_null(c);
	assert_int_equal(c->tcp_state, TCP_ESTABLISHED);
	assert_int_equal(c->opened, PLAN_CONN_OUT);
	assert_int_equal(c->seen, PLAN_SEEN_SOCKET | PLAN_SEEN_FLOW);
	c = find_conn(v, n, IPPROTO_TCP, lport, cport);
	assert_non_null(c);
	assert_int_equal(c->opened, PLAN_CONN_IN); /* its local port listens */
	assert_int_equal(c->seen, PLAN_SEEN_SOCKET);
	c = find_conn(v, n, IPPROTO_UDP, 40001, 514);
	assert_non_null(c);
	assert_int_equal(c->seen, PLAN_SEEN_FLOW);
	assert_int_equal(c->opened, PLAN_CONN_UNKNOWN);
	if (expired)
		assert_null(find_conn(v, n, IPPROTO_UDP, 40002, 514));
	assert_null(find_conn(v, n, IPPROTO_TCP, 40003, 443));
	free(v);

	/* without an instance: the socket table alone */
	assert_int_equal(conns_list(NULL, &v, &n, &d), 0);
	assert_int_equal(n, 2);
	free(v);

	close(afd);
	close(cfd);
	close(lfd);
	diags_free(&d);
	loader_close(&l);
	names_free(&t);
	fixture_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_active_slot_reads_back_as_the_side_built_for_its_policy),
		/* last: it moves the process into a network namespace of its own */
		cmocka_unit_test(the_socket_table_and_the_flow_state_are_the_live_connections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
