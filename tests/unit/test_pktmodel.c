// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet model on its own (no kernel): the contract's statements it
 * implements, one test each, on the fixture policy (tests/lib/fixture.h).
 * The differential test holds the kernel to this model; these hold the
 * model to the contract.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "pkt.h"
#include "pktmodel.h"

#define NOW (100ULL * 1000000000ULL)

struct t {
	struct policy *p;
	struct name_table names;
	struct pktmodel *m;
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->p = fixture_policy(FX_MAIN);
	t->m = calloc(1, sizeof(*t->m));
	if (!t->p || !t->m || fixture_names(&t->names))
		return -1;
	pktmodel_init(t->m, t->p, &t->names);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	names_free(&t->names);
	fixture_policy_free(t->p);
	free(t->m);
	free(t);
	return 0;
}

static struct pm_verdict judge(struct t *t, bool egress, const struct pkt_spec *s)
{
	uint8_t buf[PKT_MAX];
	int len = pkt_build(s, buf, sizeof(buf));
	struct pm_packet pk = {.dir = egress ? SPEE_DIR_EGRESS : SPEE_DIR_INGRESS, .now_ns = NOW};
	struct pm_verdict v;

	assert_true(len >= PKT_ETH_HLEN);
	pk.data = egress ? buf + PKT_ETH_HLEN : buf;
	pk.len = egress ? (size_t)len - PKT_ETH_HLEN : (size_t)len;
	pk.ethertype = (uint16_t)(buf[12] << 8 | buf[13]);
	pktmodel_decide(t->m, &pk, &v);
	return v;
}

#define SYN_TO(from, to, port)                                                                     \
	.src = from, .dst = to, .proto = IPPROTO_TCP, .sport = 40000, .dport = port,               \
	.tcp_flags = PKT_SYN

static void a_syn_from_adm_to_the_console_counts_as_its_rule(void **state)
{
	struct t *t = *state;
	struct pkt_spec s = {SYN_TO(FX_ADM4, FX_HOST4, 8470)};
	struct pm_verdict v = judge(t, false, &s);

	assert_true(v.pass);
	assert_int_equal(v.reason, SPEE_REASON_RULE);
	assert_string_equal(t->p->rules[v.rule].id, "mgmt-console");
}

static void non_ip_frames_pass(void **state)
{
	struct pkt_spec s = {.ethertype = 0x0806};
	struct pm_verdict v = judge(*state, false, &s);

	assert_true(v.pass);
	assert_int_equal(v.reason, SPEE_REASON_NON_IP);
}

static void an_unsolicited_ack_from_an_allowed_port_is_not_a_reply(void **state)
{
	struct pkt_spec s = {.src = FX_OUT4,
			     .dst = FX_HOST4,
			     .proto = IPPROTO_TCP,
			     .sport = 443,
			     .dport = 40001,
			     .tcp_flags = PKT_ACK};
	struct pm_verdict v = judge(*state, false, &s);

	assert_false(v.pass);
	assert_int_equal(v.reason, SPEE_REASON_NO_RULE);
}

static void the_reply_of_a_connection_the_host_opened_passes(void **state)
{
	struct t *t = *state;
	struct pkt_spec out = {SYN_TO(FX_HOST4, FX_OUT4, 80)};
	struct pkt_spec back = {.src = FX_OUT4,
				.dst = FX_HOST4,
				.proto = IPPROTO_TCP,
				.sport = 80,
				.dport = 40000,
				.tcp_flags = PKT_SYN | PKT_ACK};
	struct pm_verdict v = judge(t, true, &out);

	assert_int_equal(v.reason, SPEE_REASON_RULE);
	v = judge(t, false, &back);
	assert_true(v.pass);
	assert_int_equal(v.reason, SPEE_REASON_ESTABLISHED);
}

static void a_udp_reply_after_the_timeout_is_dropped(void **state)
{
	struct t *t = *state;
	struct pm_flow f = {.c = {.family = AF_INET,
				  .proto = IPPROTO_UDP,
				  .lport = 40020,
				  .rport = 123,
				  .laddr = {198, 18, 0, 10},
				  .raddr = {198, 18, 4, 1}},
			    .reason = SPEE_REASON_UDP_REPLY,
			    .last_seen_ns = NOW - 61ULL * 1000000000ULL};
	struct pkt_spec s = {
	    .src = FX_OUT4, .dst = FX_HOST4, .proto = IPPROTO_UDP, .sport = 123, .dport = 40020};
	struct pm_verdict v;

	assert_int_equal(pktmodel_add_flow(t->m, &f), 0);
	v = judge(t, false, &s);
	assert_int_equal(v.reason, SPEE_REASON_NO_RULE);
	f.last_seen_ns = NOW - 59ULL * 1000000000ULL;
	assert_int_equal(pktmodel_add_flow(t->m, &f), 0); /* replaces */
	v = judge(t, false, &s);
	assert_int_equal(v.reason, SPEE_REASON_UDP_REPLY);
}

static void a_later_fragment_follows_its_first_unless_it_overlaps_the_ports(void **state)
{
	struct t *t = *state;
	struct pkt_spec first = {.src = FX_ADM6,
				 .dst = FX_HOST6,
				 .proto = IPPROTO_UDP,
				 .sport = 5000,
				 .dport = 514,
				 .ext = {44, 60},
				 .n_ext = 2,
				 .frag = true,
				 .more_frags = true,
				 .frag_id = 9,
				 .payload = 64};
	struct pkt_spec later = {.src = FX_ADM6,
				 .dst = FX_HOST6,
				 .proto = IPPROTO_UDP,
				 .ext = {44, 60},
				 .n_ext = 2,
				 .frag = true,
				 .frag_id = 9,
				 .frag_offset = 80,
				 .payload = 16};
	struct pm_verdict v = judge(t, false, &first);

	assert_int_equal(v.reason, SPEE_REASON_RULE);
	v = judge(t, false, &later);
	assert_int_equal(v.reason, SPEE_REASON_RULE);
	assert_string_equal(t->p->rules[v.rule].id, "syslog");
	later.frag_offset = 8; /* inside the 8 option bytes + 8 UDP bytes */
	v = judge(t, false, &later);
	assert_int_equal(v.reason, SPEE_REASON_FRAGMENT);
}

static void traffic_to_the_host_itself_passes_unless_malformed(void **state)
{
	struct t *t = *state;
	struct pkt_spec s = {SYN_TO(FX_HOST4, FX_HOST4, 25)};
	struct pm_verdict v = judge(t, true, &s);

	assert_int_equal(v.reason, SPEE_REASON_LOOPBACK);
	s.doff = 4; /* the addresses are read, the transport header is not a header */
	v = judge(t, true, &s);
	assert_int_equal(v.reason, SPEE_REASON_MALFORMED);
}

static void every_verdict_counts_the_bytes_its_program_sees(void **state)
{
	struct t *t = *state;
	struct pkt_spec s = {SYN_TO(FX_ADM4, FX_HOST4, 8470), .payload = 10};

	assert_int_equal(judge(t, false, &s).bytes, 14 + 20 + 20 + 10);
	assert_int_equal(judge(t, true, &s).bytes, 20 + 20 + 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(a_syn_from_adm_to_the_console_counts_as_its_rule, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(non_ip_frames_pass, setup, teardown),
	    cmocka_unit_test_setup_teardown(an_unsolicited_ack_from_an_allowed_port_is_not_a_reply,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(the_reply_of_a_connection_the_host_opened_passes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(a_udp_reply_after_the_timeout_is_dropped, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		a_later_fragment_follows_its_first_unless_it_overlaps_the_ports, setup, teardown),
	    cmocka_unit_test_setup_teardown(traffic_to_the_host_itself_passes_unless_malformed,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(every_verdict_counts_the_bytes_its_program_sees, setup,
					    teardown),
	};

	return cmocka_run_group_tests_name("pktmodel", tests, NULL, NULL);
}
