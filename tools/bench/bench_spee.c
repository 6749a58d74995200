// SPDX-License-Identifier: GPL-2.0-only
/* bench_spee.c - speebpf loaded as `speebpf apply` loads it (see bench_spee.h). */
#include "bench_spee.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps_gateway.h"

/* host: the host compiled for, or NULL for gateway mode (every host). */
static int compile(struct bench_spee *b, const struct gen_spec *gs, const char *name,
		   const char *host)
{
	struct diags d = {};
	size_t len;
	char *yaml = gen_yaml(gs, &len);
	int err;

	memset(b, 0, sizeof(*b));
	if (!yaml)
		return -ENOMEM;
	err = config_parse(name, yaml, len, &b->cfg, &d);
	free(yaml);
	if (!err && host)
		err = policy_compile(b->cfg, host, NULL, &b->pol, &d);
	else if (!err)
		err = gateway_compile(b->cfg, NULL, &b->gw, &d);
	if (err)
		diags_print(stderr, &d);
	diags_free(&d);
	return err;
}

int bench_spee_compile(struct bench_spee *b, const struct gen_spec *gs, const char *name)
{
	return compile(b, gs, name, GEN_HOST_NAME);
}

int bench_spee_compile_host(struct bench_spee *b, const struct gen_spec *gs, const char *name,
			    const char *host)
{
	return compile(b, gs, name, host);
}

int bench_spee_compile_gateway(struct bench_spee *b, const struct gen_spec *gs, const char *name)
{
	return compile(b, gs, name, NULL);
}

int bench_spee_load(struct bench_spee *b)
{
	struct maps_apply_result res;
	struct loader_sizes sz;
	struct diags d = {};
	int err;

	loader_set_test_run(true); /* the data plane's rows run the programs by BPF_PROG_TEST_RUN */
	if (b->gw) {
		loader_sizes_for_gateway(b->gw, &b->names, &sz);
		err = loader_load_mode(&b->l, &sz, NULL, LOADER_PROGS_GATEWAY, &d);
	} else {
		loader_sizes_for(b->pol, &b->names, &sz);
		err = loader_load(&b->l, &sz, NULL, &d);
	}
	loader_set_test_run(false);
	b->loaded = !err;
	if (!err && b->gw)
		err = maps_apply_gateway(&b->l.maps, b->gw, &b->names, NULL, &res, &d);
	else if (!err)
		err = maps_apply(&b->l.maps, b->pol, &b->names, NULL, &res, &d);
	if (err)
		diags_print(stderr, &d);
	diags_free(&d);
	return err;
}

int bench_spee_prog(const struct bench_spee *b, bool egress)
{
	if (b->gw)
		return loader_prog_fd(&b->l, SPEE_PROG_GW_XDP);
	return loader_prog_fd(&b->l, egress ? LOADER_PROG_EGRESS : LOADER_PROG_XDP);
}

static uint64_t packets(int fd, uint32_t idx)
{
	int ncpu = libbpf_num_possible_cpus();
	struct spee_counter v[256];
	uint64_t sum = 0;

	if (ncpu <= 0 || ncpu > 256 || bpf_map_lookup_elem(fd, &idx, v))
		return 0;
	for (int c = 0; c < ncpu; c++)
		sum += v[c].packets;
	return sum;
}

uint64_t bench_spee_reason_count(const struct bench_spee *b, unsigned reason, unsigned dir)
{
	return packets(b->l.maps.fd[SPEE_MAP_REASON_CTR], spee_reason_ctr_index(reason, dir));
}

int64_t bench_spee_rule_count(const struct bench_spee *b, const char *rule, unsigned dir)
{
	struct spee_rule_meta table[SPEE_MAX_RULES];
	struct diags d = {};
	uint16_t slot;
	int err = maps_read_rules(&b->l.maps, table, &d);

	diags_free(&d);
	if (err)
		return err;
	slot = maps_find_rule_slot(table, rule);
	if (!slot)
		return -ENOENT;
	return (int64_t)packets(b->l.maps.fd[SPEE_MAP_RULE_CTR], spee_rule_ctr_index(slot, dir));
}

void bench_spee_free(struct bench_spee *b)
{
	if (b->loaded)
		loader_close(&b->l);
	policy_free(b->pol);
	gateway_free(b->gw);
	config_free(b->cfg);
	names_free(&b->names);
	memset(b, 0, sizeof(*b));
}
