// SPDX-License-Identifier: GPL-2.0-only
/* bpfcase.c - the kernel-against-model tests' environment and named cases (see bpfcase.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bpfcase.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "labels.h"
#include "maps.h"

struct bpfcase_env bc;

uint64_t bpfcase_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * BPFCASE_NS + (uint64_t)ts.tv_nsec;
}

/* ---- the environment ---- */

static int sockaddr_of(int family, const char *addr, uint16_t port, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		*len = sizeof(*s);
		return inet_pton(AF_INET, addr, &s->sin_addr) == 1 ? 0 : -1;
	}
	{
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		*len = sizeof(*s);
		return inet_pton(AF_INET6, addr, &s->sin6_addr) == 1 ? 0 : -1;
	}
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
					      : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

static int keep_fd(int fd)
{
	if (fd >= 0 && bc.n_fds < 8)
		bc.fds[bc.n_fds++] = fd;
	return fd;
}

static void add_sock(int family, int state, const char *laddr, uint16_t lport, const char *raddr,
		     uint16_t rport)
{
	struct pm_sock *s = &bc.socks[bc.n_socks++];

	memset(s, 0, sizeof(*s));
	s->family = (uint8_t)family;
	s->state = (uint8_t)state;
	s->lport = lport;
	s->rport = rport;
	if (laddr)
		inet_pton(family, laddr, s->laddr);
	if (raddr)
		inet_pton(family, raddr, s->raddr);
}

/* A listener (any address) and one connection to it, both kept open for the whole run. */
static int make_sockets(int family, const char *addr, uint16_t listen_port)
{
	struct sockaddr_storage ss, cs;
	socklen_t len, clen;
	int one = 1, lis, cli;

	lis = keep_fd(socket(family, SOCK_STREAM, 0));
	cli = keep_fd(socket(family, SOCK_STREAM, 0));
	if (lis < 0 || cli < 0)
		return -1;
	setsockopt(lis, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(lis, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (sockaddr_of(family, family == AF_INET ? "0.0.0.0" : "::", listen_port, &ss, &len) ||
	    bind(lis, (struct sockaddr *)&ss, len) || listen(lis, 4))
		return -1;
	if (sockaddr_of(family, addr, listen_port, &ss, &len) ||
	    connect(cli, (struct sockaddr *)&ss, len))
		return -1;
	if (keep_fd(accept(lis, NULL, NULL)) < 0)
		return -1;
	clen = sizeof(cs);
	if (getsockname(cli, (struct sockaddr *)&cs, &clen))
		return -1;
	add_sock(family, PM_SOCK_LISTEN, NULL, listen_port, NULL, 0);
	add_sock(family, PM_SOCK_ESTABLISHED, addr, port_of(&cs), addr, listen_port);
	add_sock(family, PM_SOCK_ESTABLISHED, addr, listen_port, addr, port_of(&cs));
	return 0;
}

int bpfcase_setup(const char *veth_a, const char *veth_b)
{
	struct loader_sizes sz;
	struct diags d = {};
	struct policy *cp = NULL;

	bc.veth = bpfenv_netns(veth_a, veth_b, BPFCASE_SOCK4, BPFCASE_SOCK6);
	if (bc.veth < 0)
		return -1;
	if (make_sockets(AF_INET, BPFCASE_SOCK4, BPFCASE_LISTEN4_PORT) ||
	    make_sockets(AF_INET6, BPFCASE_SOCK6, BPFCASE_LISTEN6_PORT)) {
		fprintf(stderr, "cannot make the test sockets: %s\n", strerror(errno));
		return -1;
	}
	loader_set_verbose(getenv("SPEE_VERBOSE") != NULL);
	loader_sizes_default(&sz);
	if (loader_load(&bc.l, &sz, NULL, &d) || fixture_names(&bc.names))
		goto fail;
	bc.prog[BPFCASE_XDP] = loader_prog_fd(&bc.l, LOADER_PROG_XDP);
	bc.prog[BPFCASE_EGRESS] = loader_prog_fd(&bc.l, LOADER_PROG_EGRESS);
	bc.prog[BPFCASE_XDP_IP] = loader_prog_fd(&bc.l, LOADER_PROG_XDP_L3);
	bc.pol[POL_MAIN] = fixture_policy(FX_MAIN);
	bc.pol[POL_AUDIT] = fixture_policy(FX_AUDIT);
	bc.pol[POL_DEFPASS] = fixture_policy(FX_DEFPASS);
	if (config_load(BPFCASE_CONFIG, &bc.cfg, &d) ||
	    policy_compile(bc.cfg, "mgmt1", NULL, &cp, &d))
		goto fail;
	bc.pol[POL_CONFIG] = cp;
	if (policy_compile(bc.cfg, "cas1", NULL, &bc.pol[POL_CONFIG_CAS], &d) ||
	    policy_compile(bc.cfg, "ih2", NULL, &bc.pol[POL_CONFIG_IH], &d))
		goto fail;
	if (config_load(BPFCASE_HOST_CONFIG, &bc.host_cfg, &d) ||
	    policy_compile(bc.host_cfg, "node1", NULL, &bc.pol[POL_HOST], &d))
		goto fail;
	for (int i = 0; i < POL_COUNT; i++)
		if (!bc.pol[i])
			goto fail;
	diags_free(&d);
	return 0;
fail:
	diags_print(stderr, &d);
	diags_free(&d);
	return -1;
}

int bpfcase_teardown(void **state)
{
	(void)state;
	loader_close(&bc.l);
	names_free(&bc.names);
	for (int i = 0; i < POL_CONFIG; i++)
		fixture_policy_free(bc.pol[i]);
	for (int i = POL_CONFIG; i < POL_COUNT; i++)
		policy_free(bc.pol[i]);
	config_free(bc.cfg);
	config_free(bc.host_cfg);
	for (size_t i = 0; i < bc.n_fds; i++)
		close(bc.fds[i]);
	return 0;
}

int bpfcase_apply(int pol, struct bpfcase_slots *s)
{
	struct spee_rule_meta table[SPEE_MAX_RULES];
	struct maps_apply_result res;
	const struct policy *p = bc.pol[pol];
	struct diags d = {};
	int err;

	err = maps_apply(&bc.l.maps, p, &bc.names, NULL, &res, &d);
	if (!err)
		err = maps_read_rules(&bc.l.maps, table, &d);
	if (err)
		diags_print(stderr, &d);
	diags_free(&d);
	if (err)
		return err;
	for (int i = 0; i < SPEE_MAX_RULES; i++)
		s->rule_of_slot[i] = -1;
	for (size_t r = 0; r < p->n_rules; r++) {
		s->of_rule[r] = p->rules[r].dirs ? maps_find_rule_slot(table, p->rules[r].id) : 0;
		if (s->of_rule[r])
			s->rule_of_slot[s->of_rule[r]] = (int)r;
	}
	return 0;
}

void bpfcase_clear_state(void)
{
	assert_int_equal(
	    bpfenv_clear_map(bc.l.maps.fd[SPEE_MAP_FLOWS], sizeof(struct spee_flow_key)), 0);
	assert_int_equal(
	    bpfenv_clear_map(bc.l.maps.fd[SPEE_MAP_FRAGS], sizeof(struct spee_frag_key)), 0);
}

void bpfcase_fresh_model(struct pktmodel *m, const struct policy *p)
{
	bpfcase_clear_state();
	pktmodel_init(m, p, &bc.names);
	pktmodel_set_socks(m, bc.socks, bc.n_socks);
}

void bpfcase_describe(const struct policy *p, bool pass, uint8_t reason, int rule, char *out,
		      size_t len)
{
	snprintf(out, len, "%s, %s%s%s", pass ? "pass" : "drop", reason_label(reason),
		 rule >= 0 ? " " : "", rule >= 0 ? p->rules[rule].id : "");
}

void bpfcase_kernel_answer(const struct bpfenv_counters *t, const struct bpfcase_slots *s,
			   const struct policy *p, bool pass, char *out, size_t len)
{
	struct bpfenv_counters *now = calloc(1, sizeof(*now));
	int found = 0;

	out[0] = '\0';
	if (!now || bpfenv_read_counters(&bc.l.maps, now)) {
		snprintf(out, len, "%s, (counters unreadable)", pass ? "pass" : "drop");
		free(now);
		return;
	}
	/* a fragment of a counted datagram moves bytes only */
	for (uint32_t i = 0; i < BPFENV_RULE_CTRS && found < 2; i++)
		if (now->rule[i].packets != t->rule[i].packets || now->rule[i].bytes != t->rule[i].bytes) {
			int r = s->rule_of_slot[i / SPEE_DIR_MAX];

			bpfcase_describe(p, pass, SPEE_REASON_RULE, r, out, len);
			found++;
		}
	for (uint32_t i = 0; i < BPFENV_REASON_CTRS && found < 2; i++)
		if (now->reason[i].packets != t->reason[i].packets ||
		    now->reason[i].bytes != t->reason[i].bytes) {
			bpfcase_describe(p, pass, (uint8_t)(i / SPEE_DIR_MAX), -1, out, len);
			found++;
		}
	if (!found)
		snprintf(out, len, "%s, (no counter moved)", pass ? "pass" : "drop");
	free(now);
}

/* Runs one packet through both; the kernel's answer is its return code and the counter moved. */
static void both(const struct bpfcase *f, const struct pkt_spec *spec, struct pktmodel *m,
		 const struct bpfcase_slots *s, struct pm_verdict *v, bool *k_pass, char *k_desc,
		 size_t k_len)
{
	const struct policy *p = bc.pol[f->pol];
	struct bpfenv_counters *t = calloc(1, sizeof(*t));
	struct pm_packet pk = {};
	uint8_t buf[PKT_MAX];
	int len = pkt_build(spec, buf, sizeof(buf));
	bool egress = f->prog == BPFCASE_EGRESS, bare = f->prog != BPFCASE_XDP;
	uint32_t ret;

	assert_non_null(t);
	assert_true(len >= PKT_ETH_HLEN);
	assert_int_equal(bpfenv_read_counters(&bc.l.maps, t), 0);
	pk.dir = egress ? SPEE_DIR_EGRESS : SPEE_DIR_INGRESS;
	pk.at = f->prog == BPFCASE_XDP_IP ? PM_AT_XDP_IP : PM_AT_DEFAULT;
	pk.data = bare ? buf + PKT_ETH_HLEN : buf;
	pk.len = bare ? (size_t)len - PKT_ETH_HLEN : (size_t)len;
	pk.ethertype = (uint16_t)(buf[12] << 8 | buf[13]);
	pk.now_ns = bpfcase_now_ns();
	if (f->prog == BPFCASE_XDP_IP)
		assert_int_equal(bpfenv_run(bc.prog[f->prog], BPFENV_XDP, pk.data, pk.len, bc.veth,
					    &ret),
				 0);
	else
		assert_int_equal(bpfenv_run(bc.prog[f->prog], egress ? BPFENV_EGRESS : BPFENV_XDP,
					    buf, (size_t)len, bc.veth, &ret),
				 0);
	pktmodel_decide(m, &pk, v);
	*k_pass = egress ? ret == 1 : ret == XDP_PASS;
	bpfcase_kernel_answer(t, s, p, *k_pass, k_desc, k_len);
	free(t);
}

void bpfcase_run(void **state)
{
	const struct bpfcase *f = *state;
	struct pktmodel *m = calloc(1, sizeof(*m));
	const struct policy *p = bc.pol[f->pol];
	struct pm_verdict v;
	struct bpfcase_slots s;
	char want[128], model[128], kernel[128];
	bool k_pass;

	assert_non_null(m);
	assert_int_equal(bpfcase_apply(f->pol, &s), 0);
	bpfcase_fresh_model(m, p);
	if (f->before.src)
		both(f, &f->before, m, &s, &v, &k_pass, kernel, sizeof(kernel));
	both(f, &f->pkt, m, &s, &v, &k_pass, kernel, sizeof(kernel));
	bpfcase_describe(p, f->pass, f->reason, f->rule ? policy_find_rule(p, f->rule) : -1, want,
			 sizeof(want));
	bpfcase_describe(p, v.pass, v.reason, v.rule, model, sizeof(model));
	if (strcmp(want, model))
		fail_msg("%s: expected %s; the model says %s (%s)", f->name, want, model, v.why);
	if (strcmp(want, kernel))
		fail_msg("%s: expected %s; the kernel says %s", f->name, want, kernel);
	free(m);
}

void bpfcase_step(const char *what, int prog, int pol, struct pktmodel *m,
		  const struct bpfcase_slots *s, const struct pkt_spec *spec, bool pass,
		  uint8_t reason, const char *rule, uint64_t packets)
{
	const struct bpfcase f = { .name = what, .prog = prog, .pol = pol };
	const struct policy *p = bc.pol[pol];
	struct bpfenv_counters *before = calloc(1, sizeof(*before)), *after = calloc(1, sizeof(*after));
	struct spee_counter *k0, *k1;
	char want[128], model[128], kernel[128];
	struct pm_verdict v;
	uint32_t idx;
	bool k_pass;
	int r = rule ? policy_find_rule(p, rule) : -1;

	assert_non_null(before);
	assert_non_null(after);
	assert_int_equal(bpfenv_read_counters(&bc.l.maps, before), 0);
	both(&f, spec, m, s, &v, &k_pass, kernel, sizeof(kernel));
	assert_int_equal(bpfenv_read_counters(&bc.l.maps, after), 0);
	bpfcase_describe(p, pass, reason, r, want, sizeof(want));
	bpfcase_describe(p, v.pass, v.reason, v.rule, model, sizeof(model));
	if (strcmp(want, model))
		fail_msg("%s: expected %s; the model says %s (%s)", what, want, model, v.why);
	if (strcmp(want, kernel))
		fail_msg("%s: expected %s; the kernel says %s", what, want, kernel);
	if (reason == SPEE_REASON_RULE) {
		idx = spee_rule_ctr_index(s->of_rule[r], f.prog == BPFCASE_EGRESS);
		k0 = &before->rule[idx];
		k1 = &after->rule[idx];
	} else {
		idx = spee_reason_ctr_index(reason, f.prog == BPFCASE_EGRESS);
		k0 = &before->reason[idx];
		k1 = &after->reason[idx];
	}
	if (k1->packets - k0->packets != packets || v.packets != packets)
		fail_msg("%s: counted %llu packets (the model %llu), expected %llu", what,
			 (unsigned long long)(k1->packets - k0->packets),
			 (unsigned long long)v.packets, (unsigned long long)packets);
	if (k1->bytes - k0->bytes != v.bytes)
		fail_msg("%s: counted %llu bytes, the model %llu", what,
			 (unsigned long long)(k1->bytes - k0->bytes), (unsigned long long)v.bytes);
	free(before);
	free(after);
}
