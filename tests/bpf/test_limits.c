// SPDX-License-Identifier: GPL-2.0-only
/*
 * Limits: an apply the maps cannot take is refused with a message that
 * says which limit, and changes nothing: the runtime record (active slot,
 * settings), every policy map entry of both slots, the rule table, the
 * instance record and every counter are byte for byte what they were, and
 * packets get the verdicts they got before.
 *
 * Two limits: more rules than the object has counter slots
 * (SPEE_MAX_RULES - 1, -ENOSPC), and a policy image larger than a map that
 * is already sized (a pinned instance keeps its sizes; -E2BIG). For the
 * second, the instance grows its maps behind its links (src/kernel/grow.c): the
 * growth itself, its undoing when it fails, and how a growth cut short
 * shows. The object is pinned as `apply` pins it, under a bpffs directory
 * of its own, and reached through an instance handle (instance.h); the
 * links are on a veth of the test's namespace.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "instance.h"
#include "bpfenv.h"
#include "drift.h"
#include "fixture.h"
#include "grow.h"
#include "ifaces.h"
#include "instance.h"
#include "links.h"
#include "loader.h"
#include "maps.h"
#include "pindir.h"
#include "pkt.h"

#define EXTRA_PEERS 64 /* exact peers added to vip-https by the policy that does not fit */

static char pin_dir[128];

/* Everything an apply could change, read back from the kernel. */
struct snapshot {
	struct spee_runtime rt;
	struct spee_rule_meta rules[SPEE_MAX_RULES];
	struct spee_instance inst;
	struct spee_port_info *ports; /* [SPEE_PORT_ENTRIES] */
	uint8_t *exact;		      /* sorted key+value records */
	size_t n_exact;
	uint8_t *prefix;
	size_t n_prefix;
	struct bpfenv_counters counters;
};

static int cmp_exact(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct spee_rule_key));
}

static int cmp_prefix(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct spee_prefix_key));
}

/* Every entry of a hash or trie map, as sorted key+value records. */
static uint8_t *dump(int fd, size_t ksz, size_t vsz, size_t *n,
		     int (*cmp)(const void *, const void *))
{
	size_t cap = 64, rec = ksz + vsz;
	uint8_t *out = malloc(cap * rec), key[64], next[64];
	int err;

	assert_non_null(out);
	*n = 0;
	err = bpf_map_get_next_key(fd, NULL, next);
	while (!err) {
		if (*n == cap) {
			cap *= 2;
			out = realloc(out, cap * rec);
			assert_non_null(out);
		}
		memcpy(out + *n * rec, next, ksz);
		assert_int_equal(bpf_map_lookup_elem(fd, next, out + *n * rec + ksz), 0);
		(*n)++;
		memcpy(key, next, ksz);
		err = bpf_map_get_next_key(fd, key, next);
		assert_true(*n < 1000000); /* bounded */
	}
	qsort(out, *n, rec, cmp);
	return out;
}

static void take(const struct spee_map_fds *m, struct snapshot *s)
{
	struct diags d = {};
	__u32 n = SPEE_PORT_ENTRIES, out_batch, zero = 0;
	__u32 *keys = calloc(SPEE_PORT_ENTRIES, sizeof(*keys));
	int err;

	memset(s, 0, sizeof(*s));
	assert_int_equal(maps_read_runtime(m, &s->rt, &d), 0);
	assert_int_equal(maps_read_rules(m, s->rules, &d), 0);
	assert_int_equal(bpf_map_lookup_elem(m->fd[SPEE_MAP_INST], &zero, &s->inst), 0);
	s->ports = calloc(SPEE_PORT_ENTRIES, sizeof(*s->ports));
	assert_non_null(s->ports);
	assert_non_null(keys);
	/* one batch when the kernel has it, else element by element */
	err =
	    bpf_map_lookup_batch(m->fd[SPEE_MAP_PORTS], NULL, &out_batch, keys, s->ports, &n, NULL);
	if (err || n != SPEE_PORT_ENTRIES)
		for (__u32 i = 0; i < SPEE_PORT_ENTRIES; i++)
			assert_int_equal(
			    bpf_map_lookup_elem(m->fd[SPEE_MAP_PORTS], &i, &s->ports[i]), 0);
	free(keys);
	s->exact = dump(m->fd[SPEE_MAP_EXACT], sizeof(struct spee_rule_key),
			sizeof(struct spee_verdict), &s->n_exact, cmp_exact);
	s->prefix = dump(m->fd[SPEE_MAP_PREFIX], sizeof(struct spee_prefix_key),
			 sizeof(struct spee_verdict), &s->n_prefix, cmp_prefix);
	assert_int_equal(bpfenv_read_counters(m, &s->counters), 0);
	diags_free(&d);
}

static void release(struct snapshot *s)
{
	free(s->ports);
	free(s->exact);
	free(s->prefix);
}

/* What a refused apply must leave exactly as it was. */
static void expect_unchanged(const struct snapshot *a, const struct snapshot *b)
{
	assert_memory_equal(&a->rt, &b->rt, sizeof(a->rt));
	assert_memory_equal(a->rules, b->rules, sizeof(a->rules));
	assert_memory_equal(&a->inst, &b->inst, sizeof(a->inst));
	assert_memory_equal(a->ports, b->ports, SPEE_PORT_ENTRIES * sizeof(*a->ports));
	assert_int_equal(a->n_exact, b->n_exact);
	assert_memory_equal(a->exact, b->exact,
			    a->n_exact *
				(sizeof(struct spee_rule_key) + sizeof(struct spee_verdict)));
	assert_int_equal(a->n_prefix, b->n_prefix);
	assert_memory_equal(a->prefix, b->prefix,
			    a->n_prefix *
				(sizeof(struct spee_prefix_key) + sizeof(struct spee_verdict)));
	assert_memory_equal(&a->counters, &b->counters, sizeof(a->counters));
}

/* A SYN through the XDP program; returns its verdict. */
static uint32_t syn(int prog_fd, const char *src, uint16_t dport)
{
	struct pkt_spec s = {.src = src,
			     .dst = FX_HOST4,
			     .proto = IPPROTO_TCP,
			     .sport = 40000,
			     .dport = dport,
			     .tcp_flags = PKT_SYN};
	uint8_t buf[PKT_MAX];
	int len = pkt_build(&s, buf, sizeof(buf));
	uint32_t ret;

	assert_true(len > 0);
	assert_int_equal(bpfenv_run(prog_fd, BPFENV_XDP, buf, (size_t)len, 0, &ret), 0);
	return ret;
}

/*
 * A policy with FX_MAIN's rules and entries plus `extra_peers` more exact
 * peers of vip-https and `extra_rules` more rules (one entry each).
 */
static struct policy *bigger(const struct policy *base, size_t extra_peers, size_t extra_rules)
{
	struct policy *p = calloc(1, sizeof(*p));
	size_t ne = base->n_entries + extra_peers + extra_rules;
	int vip = policy_find_rule(base, "vip-https");

	assert_non_null(p);
	assert_true(vip >= 0);
	*p = *base;
	p->rules = calloc(base->n_rules + extra_rules, sizeof(*p->rules));
	p->entries = calloc(ne, sizeof(*p->entries));
	assert_non_null(p->rules);
	assert_non_null(p->entries);
	memcpy(p->rules, base->rules, base->n_rules * sizeof(*p->rules));
	memcpy(p->entries, base->entries, base->n_entries * sizeof(*p->entries));
	p->n_entries = base->n_entries;
	for (size_t i = 0; i < extra_peers; i++) {
		struct policy_entry *e = &p->entries[p->n_entries++];

		memset(e, 0, sizeof(*e));
		e->dir = SPEE_DIR_INGRESS;
		e->proto = IPPROTO_TCP;
		e->port_lo = e->port_hi = 443;
		e->peer_kind = ENTRY_PEER_PREFIX;
		e->prefix = (struct prefix){
		    .family = AF_INET, .len = 32, .addr = {198, 18, 3, (uint8_t)(100 + i)}};
		e->reason = SPEE_REASON_RULE;
		e->rule = (uint16_t)vip;
	}
	for (size_t i = 0; i < extra_rules; i++) {
		struct policy_rule *r = &p->rules[base->n_rules + i];
		struct policy_entry *e = &p->entries[p->n_entries++];

		memset(r, 0, sizeof(*r));
		snprintf(r->id, sizeof(r->id), "extra-%zu", i);
		r->origin = RULE_SITE;
		r->matrix_index = -1;
		r->proto = IPPROTO_TCP;
		r->port_lo = r->port_hi = (uint16_t)(20000 + i);
		r->dirs = 1u << SPEE_DIR_INGRESS;
		memset(e, 0, sizeof(*e));
		e->dir = SPEE_DIR_INGRESS;
		e->proto = IPPROTO_TCP;
		e->port_lo = e->port_hi = r->port_lo;
		e->peer_kind = ENTRY_PEER_PREFIX;
		e->prefix = (struct prefix){.family = AF_INET, .len = 24, .addr = {198, 18, 9, 0}};
		e->reason = SPEE_REASON_RULE;
		e->rule = (uint16_t)(base->n_rules + i);
	}
	p->n_rules = base->n_rules + extra_rules;
	return p;
}

static void bigger_free(struct policy *p)
{
	free(p->rules);
	free(p->entries);
	free(p);
}

struct bed {
	struct loader l;
	struct name_table t;
	struct policy *main_p;
	int xdp;
};

/* The instance at pin_dir, opened for writing as an apply opens it (released by the caller). */
static struct instance *open_inst(void)
{
	struct instance *inst;
	struct diags d = {};

	if (instance_open(pin_dir, INSTANCE_WRITE, &inst, &d)) {
		diags_print(stderr, &d);
		fail();
	}
	diags_free(&d);
	return inst;
}

/*
 * The object pinned under pin_dir with spee_exact sized for FX_MAIN but not
 * for EXTRA_PEERS more, FX_MAIN applied, and a few packets counted.
 */
static void bed_up(struct bed *b)
{
	struct loader_sizes sz;
	struct maps_apply_result res;
	struct diags d = {};
	struct spee_instance inst = {.generation = 7, .last_result_ok = 1};
	size_t n_exact, n_prefix;
	char path[256];

	memset(b, 0, sizeof(*b));
	b->main_p = fixture_policy(FX_MAIN);
	assert_non_null(b->main_p);
	assert_int_equal(fixture_names(&b->t), 0);
	maps_count_entries(b->main_p, &b->t, &n_exact, &n_prefix);
	loader_sizes_default(&sz);
	/* room for FX_MAIN in both slots, not for EXTRA_PEERS more in one of them */
	sz.max_entries[SPEE_MAP_EXACT] = (uint32_t)(2 * n_exact + EXTRA_PEERS / 2);
	assert_int_equal(loader_load(&b->l, &sz, NULL, &d), 0);
	assert_int_equal(maps_apply(&b->l.maps, b->main_p, &b->t, NULL, &res, &d), 0);
	snprintf(inst.host, sizeof(inst.host), "mgmt1");
	assert_int_equal(maps_write_instance(&b->l.maps, &inst, &d), 0);
	/* pinned where apply pins them */
	assert_int_equal(pindir_maps_dir(path, sizeof(path), pin_dir), 0);
	assert_int_equal(pindir_mkdir(path), 0);
	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		assert_int_equal(pindir_map(path, sizeof(path), pin_dir, (enum spee_map_id)i), 0);
		assert_int_equal(bpf_obj_pin(b->l.maps.fd[i], path), 0);
	}
	b->xdp = loader_prog_fd(&b->l, LOADER_PROG_XDP);
	assert_int_equal(syn(b->xdp, FX_ADM4, 8470), XDP_PASS);	      /* mgmt-console */
	assert_int_equal(syn(b->xdp, "198.18.3.120", 443), XDP_PASS); /* lab-https */
	assert_int_equal(syn(b->xdp, FX_OUT4, 25), XDP_DROP);	      /* no-rule */
	diags_free(&d);
}

static void bed_down(struct bed *b)
{
	struct diags d = {};

	loader_close(&b->l);
	pindir_unpin_maps(pin_dir, &d);
	diags_free(&d);
	names_free(&b->t);
	fixture_policy_free(b->main_p);
}

static struct loader_sizes sizes_of(const struct spee_map_fds *m)
{
	struct loader_sizes sz = {};
	struct bpf_map_info info;

	assert_int_equal(loader_map_info(m->fd[SPEE_MAP_EXACT], &info), 0);
	sz.max_entries[SPEE_MAP_EXACT] = info.max_entries;
	assert_int_equal(loader_map_info(m->fd[SPEE_MAP_PREFIX], &info), 0);
	sz.max_entries[SPEE_MAP_PREFIX] = info.max_entries;
	return sz;
}

/*
 * What most tests share: the bed, two snapshots, diagnostics and, with_link,
 * an XDP link of the bed's program (as it was, in was). linked_down undoes it.
 */
struct linked_bed {
	struct bed b;
	struct link_state was;
	struct snapshot *before, *after;
	struct diags d;
};

static void linked_up(struct linked_bed *lb, bool with_link);
static void linked_down(struct linked_bed *lb);

/* The ingress counter of mgmt-console, whose slot the snapshot's rule table gives. */
static uint32_t console_counter(const struct snapshot *s)
{
	uint16_t slot = maps_find_rule_slot(s->rules, "mgmt-console");

	assert_true(slot > 0);
	return spee_rule_ctr_index(slot, SPEE_DIR_INGRESS);
}

static void a_policy_larger_than_a_sized_map_is_refused_and_changes_nothing(void **state)
{
	struct instance *inst;
	struct maps_apply_result res;
	struct policy *big;
	struct linked_bed lb;

	(void)state;
	linked_up(&lb, false);
	/* a new rule as well: its id must not stay in the rule table */
	big = bigger(lb.b.main_p, EXTRA_PEERS, 1);
	/* the next apply comes from another process: the pinned maps, opened by path */
	inst = open_inst();
	take(&inst->maps, lb.before);
	assert_int_equal(maps_apply(&inst->maps, big, &lb.b.t, NULL, &res, &lb.d), -E2BIG);
	take(&inst->maps, lb.after);
	expect_unchanged(lb.before, lb.after);
	/* the message names the map and says what to do */
	assert_true(lb.d.n >= 1);
	assert_non_null(strstr(lb.d.v[lb.d.n - 1].msg, "spee_exact"));
	assert_non_null(strstr(lb.d.v[lb.d.n - 1].msg, "holds at most"));
	/* and says what both maps would need, for the instance to grow them */
	assert_true(res.stats.exact_needed > (size_t)sizes_of(&inst->maps).max_entries[SPEE_MAP_EXACT]);
	assert_true(res.stats.prefix_needed > 0);
	/* and the old policy still judges: lab-https, not the refused vip-https peers */
	assert_int_equal(syn(lb.b.xdp, "198.18.3.120", 443), XDP_PASS);
	assert_int_equal(syn(lb.b.xdp, FX_OUT4, 8470), XDP_DROP);
	instance_close(inst);
	bigger_free(big);
	linked_down(&lb);
}

/* ---- growing the maps behind the links (src/kernel/grow.c) ---- */

#define GROW_IF "spe-gra"

static uint32_t map_id_of(int fd)
{
	struct bpf_map_info info;

	assert_int_equal(loader_map_info(fd, &info), 0);
	return info.id;
}

/* The one link of the bed: XDP on a veth of a namespace of the test's own. */
static struct link_state xdp_link(void)
{
	struct instance *inst = open_inst();
	struct links_assessment a;
	struct link_state ls;

	assert_int_equal(links_assess(inst, NULL, &a), 0);
	assert_int_equal(a.n, 1);
	ls = a.v[0];
	links_assessment_free(&a);
	instance_close(inst);
	assert_true(ls.alive);
	return ls;
}

/* Every link pinned under pin_dir, detached and unpinned, and the links directory. */
static void link_down(void)
{
	char path[256];
	struct instance *inst;
	struct diags d = {};

	if (!instance_open(pin_dir, INSTANCE_WRITE, &inst, &d)) {
		links_remove_all(inst);
		instance_close(inst);
	}
	diags_free(&d);
	assert_int_equal(pindir_links_dir(path, sizeof(path), pin_dir), 0);
	rmdir(path);
}

static void link_up(struct bed *b)
{
	char path[256];
	bool generic;

	link_down(); /* what a failed test before left */
	assert_true(bpfenv_netns(GROW_IF, "spe-grb", NULL, NULL) > 0);
	/* Down: no neighbour discovery of their own to move the counters the tests compare. */
	assert_int_equal(bpfenv_ip("link", "set", "spe-grb", "down", NULL), 0);
	assert_int_equal(bpfenv_ip("link", "set", GROW_IF, "down", NULL), 0);
	assert_int_equal(pindir_links_dir(path, sizeof(path), pin_dir), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	/* the interface as apply attaches it: its tc egress filter, then XDP */
	assert_int_equal(ifaces_tc_attach(if_nametoindex(GROW_IF),
					  loader_prog_fd(&b->l, SPEE_PROG_TC_EGRESS)),
			 0);
	assert_int_equal(pindir_link(path, sizeof(path), pin_dir, SPEE_PROG_XDP, GROW_IF), 0);
	assert_int_equal(attach_iface(b->xdp, loader_attach_type(SPEE_PROG_XDP), GROW_IF, path,
				      false, &generic),
			 0);
}

/* The program a link runs now, opened by its id. */
static int link_prog(const struct link_state *ls)
{
	int fd = bpf_prog_get_fd_by_id(ls->prog_id);

	assert_true(fd >= 0);
	return fd;
}

/* The program of the tc egress filter of GROW_IF, opened by its id. */
static int tc_prog(void)
{
	uint32_t id = 0;
	int fd;

	assert_int_equal(ifaces_tc_query(if_nametoindex(GROW_IF), &id), 0);
	assert_int_not_equal(id, 0);
	fd = bpf_prog_get_fd_by_id(id);
	assert_true(fd >= 0);
	return fd;
}

/* True when the program uses the map fd refers to. */
static bool prog_uses(int prog_fd, int map_fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info), ids[32], want = map_id_of(map_fd);

	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 32;
	info.map_ids = (__u64)(uintptr_t)ids;
	assert_int_equal(bpf_obj_get_info_by_fd(prog_fd, &info, &len), 0);
	for (__u32 i = 0; i < info.nr_map_ids && i < 32; i++)
		if (ids[i] == want)
			return true;
	return false;
}

static void linked_up(struct linked_bed *lb, bool with_link)
{
	memset(lb, 0, sizeof(*lb));
	lb->before = calloc(1, sizeof(*lb->before));
	lb->after = calloc(1, sizeof(*lb->after));
	assert_non_null(lb->before);
	assert_non_null(lb->after);
	bed_up(&lb->b);
	if (!with_link)
		return;
	link_up(&lb->b);
	lb->was = xdp_link();
}

static void linked_down(struct linked_bed *lb)
{
	link_down();
	release(lb->before);
	release(lb->after);
	free(lb->before);
	free(lb->after);
	diags_free(&lb->d);
	bed_down(&lb->b);
}

static void a_policy_larger_than_the_maps_grows_them_behind_the_links(void **state)
{
	struct link_state now;
	struct instance *inst;
	struct maps_apply_result res;
	struct spee_counter console0, console1;
	struct loader_sizes small, grown;
	struct policy *big;
	struct linked_bed lb;
	int prog;

	(void)state;
	linked_up(&lb, true);
	big = bigger(lb.b.main_p, EXTRA_PEERS, 0);
	inst = open_inst();
	small = sizes_of(&inst->maps);
	assert_int_equal(maps_apply(&inst->maps, big, &lb.b.t, NULL, &res, &lb.d), -E2BIG);
	take(&inst->maps, lb.before);
	assert_int_equal(
		bpfenv_read_counter(&inst->maps, true, console_counter(lb.before), &console0), 0);

	if (grow_policy_maps(inst, res.stats.exact_needed, res.stats.prefix_needed, &lb.d)) {
		diags_print(stderr, &lb.d);
		fail();
	}
	/* the handle holds the new maps: what a reopening finds */
	instance_release(inst);
	assert_int_equal(instance_relock(inst, &lb.d), 0);
	instance_release(inst);

	/* the same link, now running a program of its own around the new maps */
	now = xdp_link();
	assert_int_equal(now.link_id, lb.was.link_id);
	assert_int_not_equal(now.prog_id, lb.was.prog_id);
	grown = sizes_of(&inst->maps);
	assert_true(grown.max_entries[SPEE_MAP_EXACT] >= res.stats.exact_needed);
	assert_true(grown.max_entries[SPEE_MAP_EXACT] > small.max_entries[SPEE_MAP_EXACT]);
	assert_true(grown.max_entries[SPEE_MAP_PREFIX] >= small.max_entries[SPEE_MAP_PREFIX]);
	prog = link_prog(&now);
	assert_true(prog_uses(prog, inst->maps.fd[SPEE_MAP_EXACT]));
	assert_true(prog_uses(prog, inst->maps.fd[SPEE_MAP_PREFIX]));
	assert_true(prog_uses(prog, inst->maps.fd[SPEE_MAP_RULE_CTR])); /* the pinned one, shared */
	/* the interface's tc egress filter was switched with it */
	close(prog);
	prog = tc_prog();
	assert_true(prog_uses(prog, inst->maps.fd[SPEE_MAP_EXACT]));
	close(prog);
	prog = link_prog(&now);
	/* both slots copied; counters, rules, runtime and the instance record untouched */
	take(&inst->maps, lb.after);
	expect_unchanged(lb.before, lb.after);

	/* the policy that did not fit applies now, and the new program judges by it */
	assert_int_equal(maps_apply(&inst->maps, big, &lb.b.t, NULL, &res, &lb.d), 0);
	assert_int_equal(syn(prog, "198.18.3.100", 443), XDP_PASS); /* a vip-https peer */
	assert_int_equal(syn(prog, FX_OUT4, 8470), XDP_DROP);
	assert_int_equal(syn(prog, FX_ADM4, 8470), XDP_PASS); /* mgmt-console, counted on */
	assert_int_equal(
		bpfenv_read_counter(&inst->maps, true, console_counter(lb.before), &console1), 0);
	assert_int_equal(console1.packets, console0.packets + 1);

	close(prog);
	instance_close(inst);
	linked_down(&lb);
	bigger_free(big);
}

/* When the new maps cannot be pinned, the links get their programs back and nothing changed. */
static void a_failed_growth_puts_the_old_programs_back(void **state)
{
	struct link_state now;
	struct instance *inst;
	struct maps_apply_result res;
	uint32_t exact_id;
	char blocker[256];
	struct policy *big;
	struct linked_bed lb;

	(void)state;
	linked_up(&lb, true);
	big = bigger(lb.b.main_p, EXTRA_PEERS, 0);
	inst = open_inst();
	assert_int_equal(maps_apply(&inst->maps, big, &lb.b.t, NULL, &res, &lb.d), -E2BIG);
	take(&inst->maps, lb.before);
	exact_id = map_id_of(inst->maps.fd[SPEE_MAP_EXACT]);
	/* a directory where the new spee_exact would be pinned first */
	snprintf(blocker, sizeof(blocker), "%s/maps/spee_exact-new", pin_dir);
	assert_int_equal(mkdir(blocker, 0700), 0);

	assert_true(grow_policy_maps(inst, res.stats.exact_needed, res.stats.prefix_needed,
				     &lb.d) < 0);
	assert_non_null(strstr(lb.d.v[lb.d.n - 1].msg, "cannot pin the new maps"));
	instance_close(inst);
	now = xdp_link();
	assert_int_equal(now.link_id, lb.was.link_id);
	assert_int_equal(now.prog_id, lb.was.prog_id);
	assert_int_equal(now.tc_prog_id, lb.was.tc_prog_id); /* its tc filter's, put back too */
	inst = open_inst();
	assert_int_equal(map_id_of(inst->maps.fd[SPEE_MAP_EXACT]), exact_id);
	take(&inst->maps, lb.after);
	expect_unchanged(lb.before, lb.after);

	assert_int_equal(rmdir(blocker), 0);
	instance_close(inst);
	linked_down(&lb);
	bigger_free(big);
}

/* Pins, in place of map i, one made with other flags or value size, holding i's entries when it can. */
static void pin_other_layout(const struct spee_map_fds *m, enum spee_map_id i, __u32 flags,
			     __u32 value_size)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
	struct bpf_map_info info;
	char path[256];
	int fd;

	assert_int_equal(loader_map_info(m->fd[i], &info), 0);
	fd = bpf_map_create(info.type, spee_map_names[i], info.key_size,
			    value_size ? value_size : info.value_size, info.max_entries, &opts);
	assert_true(fd >= 0);
	if (!value_size && info.type != BPF_MAP_TYPE_PERCPU_ARRAY)
		assert_int_equal(maps_copy_entries(m->fd[i], fd, info.key_size, info.value_size), 0);
	snprintf(path, sizeof(path), "%s/maps/%s", pin_dir, spee_map_names[i]);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	close(fd);
}

/*
 * What an older build pinned: spee_exact allocated on update, spee_ports
 * not mmapable, spee_ev_bucket of 16 bytes. This build's maps take their
 * places behind the links, with the entries of the first two.
 */
static void an_older_layout_is_taken_over_without_a_gap(void **state)
{
	const uint32_t older = (1u << SPEE_MAP_EXACT) | (1u << SPEE_MAP_PORTS) |
			       (1u << SPEE_MAP_EV_BUCKET);
	struct link_state now;
	struct loader_sizes sz;
	struct instance *inst;
	struct linked_bed lb;
	int prog;

	(void)state;
	linked_up(&lb, true);
	pin_other_layout(&lb.b.l.maps, SPEE_MAP_EXACT, BPF_F_NO_PREALLOC, 0);
	pin_other_layout(&lb.b.l.maps, SPEE_MAP_PORTS, 0, 0);
	pin_other_layout(&lb.b.l.maps, SPEE_MAP_EV_BUCKET, 0, 16);
	/* a reader refuses them; a writer opens them whatever their layout, and says which */
	assert_int_equal(instance_open(pin_dir, INSTANCE_READ, &inst, &lb.d), -EPROTO);
	inst = open_inst();
	assert_int_equal(inst->other_layout, older);
	assert_int_equal(inst->missing, 0);
	take(&inst->maps, lb.before);

	loader_sizes_default(&sz);
	if (grow_replace_maps(inst, &sz, inst->other_layout, &lb.d)) {
		diags_print(stderr, &lb.d);
		fail();
	}
	assert_int_equal(inst->other_layout, 0);
	instance_close(inst);
	inst = open_inst();
	assert_int_equal(inst->other_layout, 0);
	instance_release(inst); /* xdp_link() opens the instance of its own */
	now = xdp_link();
	assert_int_equal(now.link_id, lb.was.link_id);
	assert_int_not_equal(now.prog_id, lb.was.prog_id);
	prog = link_prog(&now);
	assert_true(prog_uses(prog, inst->maps.fd[SPEE_MAP_EXACT]));
	assert_true(prog_uses(prog, inst->maps.fd[SPEE_MAP_PORTS]));
	assert_true(prog_uses(prog, inst->maps.fd[SPEE_MAP_EV_BUCKET]));
	/* the policy, the rules, the instance record and the counters, as they were */
	take(&inst->maps, lb.after);
	expect_unchanged(lb.before, lb.after);
	assert_int_equal(syn(prog, FX_ADM4, 8470), XDP_PASS); /* mgmt-console */
	assert_int_equal(syn(prog, FX_OUT4, 8470), XDP_DROP);

	close(prog);
	instance_close(inst);
	linked_down(&lb);
}

/* A map of this build that the pin dir lacks (an older build had none) starts empty, if it may. */
static void a_map_an_older_build_lacked_is_added_without_a_gap(void **state)
{
	char path[256];
	struct link_state now;
	struct loader_sizes sz;
	struct instance *inst;
	struct linked_bed lb;

	(void)state;
	linked_up(&lb, true);
	assert_int_equal(pindir_map(path, sizeof(path), pin_dir, SPEE_MAP_EV_STATS), 0);
	assert_int_equal(unlink(path), 0);
	inst = open_inst();
	assert_int_equal(inst->missing, 1u << SPEE_MAP_EV_STATS);
	loader_sizes_default(&sz);
	if (grow_replace_maps(inst, &sz, inst->missing, &lb.d)) {
		diags_print(stderr, &lb.d);
		fail();
	}
	assert_int_equal(inst->missing, 0);
	assert_int_equal(access(path, F_OK), 0);
	instance_release(inst);
	now = xdp_link();
	assert_int_equal(now.link_id, lb.was.link_id);
	assert_int_equal(syn(lb.b.xdp, FX_ADM4, 8470), XDP_PASS);
	instance_close(inst);
	linked_down(&lb);
}

/*
 * Pins, in place of map i, an older build's: value_size bytes of each value
 * (a record that grew since) and max_entries entries (counters of fewer
 * reasons), holding what fits of i's entries.
 */
static void pin_older(const struct spee_map_fds *m, enum spee_map_id i, __u32 value_size,
		      __u32 max_entries)
{
	struct bpf_map_info info;
	uint8_t *v;
	char path[256];
	int ncpu = libbpf_num_possible_cpus(), fd;
	size_t per;

	assert_int_equal(loader_map_info(m->fd[i], &info), 0);
	fd = bpf_map_create(info.type, spee_map_names[i], info.key_size, value_size, max_entries,
			    NULL);
	assert_true(fd >= 0);
	per = info.type == BPF_MAP_TYPE_PERCPU_ARRAY ? (size_t)ncpu : 1;
	v = calloc(per, ((info.value_size + 7) & ~7u));
	assert_non_null(v);
	for (__u32 k = 0; k < max_entries; k++) {
		assert_int_equal(bpf_map_lookup_elem(m->fd[i], &k, v), 0);
		if (per > 1) /* the same value size: only the entries are fewer */
			assert_int_equal(value_size, info.value_size);
		assert_int_equal(bpf_map_update_elem(fd, &k, v, 0), 0);
	}
	free(v);
	snprintf(path, sizeof(path), "%s/maps/%s", pin_dir, spee_map_names[i]);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	close(fd);
}

/*
 * What the build before the reasons source-route, ethertype and reassembly
 * and the programs added with them pinned (main before issue 11): an
 * instance record that ends before prog_tag_more, and counters of 11
 * reasons. Both are taken over behind the link, their entries carried
 * over, the new fields and counters zero; a reader refuses them until then.
 */
static void an_older_record_and_fewer_counters_are_taken_over(void **state)
{
	const uint32_t older = (1u << SPEE_MAP_INST) | (1u << SPEE_MAP_REASON_CTR);
	struct link_state now;
	struct loader_sizes sz;
	struct instance *inst;
	struct linked_bed lb;
	int prog;

	(void)state;
	linked_up(&lb, true);
	assert_int_equal(syn(lb.b.xdp, FX_OUT4, 8470), XDP_DROP); /* a no-rule to carry over */
	inst = open_inst();
	/* (the tags and counters this build adds are zero: what the older maps stand for) */
	take(&inst->maps, lb.before);
	assert_string_equal(lb.before->inst.host, "mgmt1");
	pin_older(&inst->maps, SPEE_MAP_INST, offsetof(struct spee_instance, prog_tag_more), 1);
	pin_older(&inst->maps, SPEE_MAP_REASON_CTR, sizeof(struct spee_counter),
		  (SPEE_REASON_RULE + 1) * SPEE_DIR_MAX);
	instance_close(inst);
	assert_int_equal(instance_open(pin_dir, INSTANCE_READ, &inst, &lb.d), -EPROTO);
	assert_non_null(strstr(lb.d.v[lb.d.n - 1].msg, "an apply with this build takes it over"));
	inst = open_inst();
	assert_int_equal(inst->other_layout, older);

	loader_sizes_default(&sz);
	if (grow_replace_maps(inst, &sz, inst->other_layout, &lb.d)) {
		diags_print(stderr, &lb.d);
		fail();
	}
	assert_int_equal(inst->other_layout, 0);
	assert_string_equal(inst->rec.host, "mgmt1"); /* the record, read again */
	instance_close(inst);
	inst = open_inst();
	assert_int_equal(inst->other_layout, 0);
	take(&inst->maps, lb.after);
	expect_unchanged(lb.before, lb.after);
	instance_release(inst); /* xdp_link() opens the instance of its own */
	now = xdp_link();
	assert_int_equal(now.link_id, lb.was.link_id);
	prog = link_prog(&now);
	assert_true(prog_uses(prog, inst->maps.fd[SPEE_MAP_REASON_CTR]));
	/* a reason the older counters had no room for counts now: a PPPoE frame */
	{
		struct pkt_spec f = { .ethertype = 0x8863, .payload = 40 };
		uint32_t idx = spee_reason_ctr_index(SPEE_REASON_ETHERTYPE, SPEE_DIR_INGRESS);
		struct spee_counter c0, c1;
		uint8_t buf[PKT_MAX];
		uint32_t ret;
		int len = pkt_build(&f, buf, sizeof(buf));

		assert_true(len > 0);
		assert_true(idx >= (SPEE_REASON_RULE + 1) * SPEE_DIR_MAX);
		assert_int_equal(bpfenv_read_counter(&inst->maps, false, idx, &c0), 0);
		assert_int_equal(bpfenv_run(prog, BPFENV_XDP, buf, (size_t)len, 0, &ret), 0);
		assert_int_equal(ret, XDP_DROP);
		assert_int_equal(bpfenv_read_counter(&inst->maps, false, idx, &c1), 0);
		assert_int_equal(c1.packets, c0.packets + 1);
	}

	close(prog);
	instance_close(inst);
	linked_down(&lb);
}

/* A map holding the policy in another layout cannot be carried over: refused, nothing changed. */
static void a_policy_map_of_another_layout_is_refused(void **state)
{
	struct link_state now;
	struct loader_sizes sz;
	struct instance *inst;
	struct linked_bed lb;

	(void)state;
	linked_up(&lb, true);
	pin_other_layout(&lb.b.l.maps, SPEE_MAP_RULES, 0, sizeof(struct spee_rule_meta) + 8);
	inst = open_inst();
	assert_int_equal(inst->other_layout, 1u << SPEE_MAP_RULES);
	loader_sizes_default(&sz);
	assert_int_equal(grow_replace_maps(inst, &sz, inst->other_layout, &lb.d), -EPROTO);
	assert_non_null(strstr(lb.d.v[lb.d.n - 1].msg, "spee_rules keeps its entries otherwise"));
	instance_close(inst);
	now = xdp_link();
	assert_int_equal(now.prog_id, lb.was.prog_id);
	linked_down(&lb);
}

/*
 * A growth cut short between switching the links and pinning the new maps
 * leaves programs of the right build around maps that are not the pinned
 * ones: status calls them foreign, so that the next apply puts them right.
 */
static void a_program_around_unpinned_maps_is_foreign(void **state)
{
	struct loader_sizes sz;
	struct drift_report r;
	struct instance *inst;
	struct links_assessment a;
	struct link_state ls;
	struct loader other;
	struct linked_bed lb;

	(void)state;
	linked_up(&lb, true);
	/* the instance record names this build's programs of an interface, as apply writes it */
	inst = open_inst();
	assert_int_equal(loader_prog_tag(&lb.b.l, SPEE_PROG_XDP,
					 spee_instance_prog_tag(&inst->rec, SPEE_PROG_XDP)),
			 0);
	assert_int_equal(loader_prog_tag(&lb.b.l, SPEE_PROG_TC_EGRESS,
					 spee_instance_prog_tag(&inst->rec, SPEE_PROG_TC_EGRESS)),
			 0);
	assert_int_equal(instance_save_record(inst, &lb.d), 0);
	assert_int_equal(links_assess(inst, NULL, &a), 0);
	assert_int_equal(a.n, 1);
	assert_true(a.v[0].ours);
	assert_true(a.v[0].tc_ours); /* the tc egress filter beside it */
	assert_int_equal(a.foreign, 0);
	assert_int_not_equal(a.v[0].tc_prog_id, 0); /* not missing; the bed links no cgroup hook */
	ls = a.v[0];
	links_assessment_free(&a);
	assert_int_equal(drift_check(inst, lb.b.main_p, &lb.b.t, false, &r, &lb.d), 0);
	assert_int_equal(r.programs_foreign, 0);

	/* the same build loaded again, unpinned: the same tag, other maps */
	loader_sizes_default(&sz);
	assert_int_equal(loader_load(&other, &sz, NULL, &lb.d), 0);
	assert_int_equal(attach_update(ls.pin, loader_prog_fd(&other, LOADER_PROG_XDP)), 0);
	assert_int_equal(links_assess(inst, NULL, &a), 0);
	assert_false(a.v[0].ours);
	assert_int_equal(a.foreign, 1);
	links_assessment_free(&a);
	assert_int_equal(drift_check(inst, lb.b.main_p, &lb.b.t, false, &r, &lb.d), 0);
	assert_int_equal(r.programs_foreign, 1);

	loader_close(&other);
	instance_close(inst);
	linked_down(&lb);
}

static void more_rules_than_counter_slots_are_refused_and_change_nothing(void **state)
{
	struct instance *inst;
	struct maps_apply_result res;
	struct policy *big;
	struct linked_bed lb;

	(void)state;
	linked_up(&lb, false);
	/* with FX_MAIN's own rules, this is more than SPEE_MAX_RULES - 1 */
	big = bigger(lb.b.main_p, 0, SPEE_MAX_RULES);
	inst = open_inst();
	take(&inst->maps, lb.before);
	assert_int_equal(maps_apply(&inst->maps, big, &lb.b.t, NULL, &res, &lb.d), -ENOSPC);
	take(&inst->maps, lb.after);
	expect_unchanged(lb.before, lb.after);
	assert_true(lb.d.n >= 1);
	assert_non_null(strstr(lb.d.v[lb.d.n - 1].msg, "too many rules"));
	assert_int_equal(syn(lb.b.xdp, FX_ADM4, 8470), XDP_PASS);
	instance_close(inst);
	bigger_free(big);
	linked_down(&lb);
}

/* A policy that fits after a refused one applies as usual: the refusal left no debris. */
static void a_policy_that_fits_applies_after_a_refusal(void **state)
{
	struct maps_apply_result res;
	struct diags d = {};
	struct policy *big, *sw = fixture_policy(FX_SWITCHED);
	struct bed b;

	(void)state;
	assert_non_null(sw);
	bed_up(&b);
	big = bigger(b.main_p, EXTRA_PEERS, 0);
	assert_int_equal(maps_apply(&b.l.maps, big, &b.t, NULL, &res, &d), -E2BIG);
	assert_int_equal(maps_apply(&b.l.maps, sw, &b.t, NULL, &res, &d), 0);
	assert_int_equal(syn(b.xdp, FX_ADM4, 9100), XDP_PASS); /* metrics, new in FX_SWITCHED */
	bigger_free(big);
	fixture_policy_free(sw);
	diags_free(&d);
	bed_down(&b);
}

static int group_setup(void **state)
{
	struct stat st;

	(void)state;
	if (stat("/sys/fs/bpf", &st)) {
		fprintf(stderr, "no bpffs at /sys/fs/bpf\n");
		return -1;
	}
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/sph-limits-%d", getpid());
	loader_set_verbose(getenv("SPEE_VERBOSE") != NULL);
	return 0;
}

static int group_teardown(void **state)
{
	struct diags d = {};

	(void)state;
	link_down(); /* what a failed growth test left */
	pindir_unpin_maps(pin_dir, &d);
	pindir_remove(pin_dir, &d);
	diags_free(&d);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_policy_larger_than_a_sized_map_is_refused_and_changes_nothing),
	    cmocka_unit_test(more_rules_than_counter_slots_are_refused_and_change_nothing),
	    cmocka_unit_test(a_policy_that_fits_applies_after_a_refusal),
	    cmocka_unit_test(a_policy_larger_than_the_maps_grows_them_behind_the_links),
	    cmocka_unit_test(a_failed_growth_puts_the_old_programs_back),
	    cmocka_unit_test(a_program_around_unpinned_maps_is_foreign),
	    cmocka_unit_test(an_older_layout_is_taken_over_without_a_gap),
	    cmocka_unit_test(a_map_an_older_build_lacked_is_added_without_a_gap),
	    cmocka_unit_test(an_older_record_and_fewer_counters_are_taken_over),
	    cmocka_unit_test(a_policy_map_of_another_layout_is_refused),
	};

	return cmocka_run_group_tests_name("limits", tests, group_setup, group_teardown);
}
