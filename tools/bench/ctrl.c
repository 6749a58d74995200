// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctrl.c - the control plane: how long reading, compiling and applying an
 * inventory takes, how long a one-host change takes on an instance that
 * already holds 10,000 hosts, and how much memory the agent's state and the
 * maps take. Every step is the production code: config_load, policy_compile,
 * loader_load and maps_apply, on configs written to files as an operator
 * would write them.
 *
 * Applies go to unpinned objects (nothing is attached): the programs'
 * presence does not change what maps_apply does.
 */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "config.h"
#include "gen.h"
#include "loader.h"
#include "maps.h"
#include "names.h"
#include "policy.h"

/* A point in time on both clocks; span() gives the milliseconds since. */
struct mark {
	uint64_t wall;
	uint64_t cpu;
};

static struct mark mark_now(void)
{
	struct timespec ts;
	struct mark m;

	m.wall = bench_now_ns();
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	m.cpu = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	return m;
}

/* Milliseconds since m: [0] wall, [1] CPU. */
struct span {
	double ms[2];
};

static struct span span_since(struct mark m)
{
	struct mark now = mark_now();
	struct span s = {{(double)(now.wall - m.wall) / 1e6, (double)(now.cpu - m.cpu) / 1e6}};

	return s;
}

static struct span span_add(struct span a, struct span b)
{
	struct span s = {{a.ms[0] + b.ms[0], a.ms[1] + b.ms[1]}};

	return s;
}

static void timing_of(const struct span *v, int n, struct timing *t)
{
	double *col = calloc((size_t)n ? (size_t)n : 1, sizeof(*col));

	if (!col)
		return;
	for (int clock = 0; clock < 2; clock++) {
		for (int i = 0; i < n; i++)
			col[i] = v[i].ms[clock];
		stat3_of(col, n, clock ? &t->cpu : &t->wall);
	}
	free(col);
}

static int write_config(const struct bench_opts *o, const struct gen_spec *gs, const char *name,
			char *path, size_t path_len, size_t *bytes)
{
	size_t len;
	char *yaml = gen_yaml(gs, &len);
	int err;

	if (!yaml)
		return -ENOMEM;
	err = bench_write_file(o->tmp_dir, name, yaml, len, path, path_len);
	free(yaml);
	if (bytes)
		*bytes = len;
	return err;
}

static int fail(struct diags *d, int err, const char *what)
{
	diags_print(stderr, d);
	bench_log("%s: %s", what, strerror(-err));
	return err;
}

/* Reads and compiles path, timing each step. */
static int read_compile(const char *path, struct config **cfg, struct policy **pol,
			struct span *parse, struct span *compile, struct diags *d)
{
	struct mark t0 = mark_now();
	int err = config_load(path, cfg, d);

	*parse = span_since(t0);
	if (err)
		return err;
	t0 = mark_now();
	err = policy_compile(*cfg, GEN_HOST_NAME, NULL, pol, d);
	*compile = span_since(t0);
	return err;
}

/* ---- inventories of 1,000 to 100,000 hosts ---- */

/*
 * What the agent does once it has been idle for a second after a change
 * (src/agent/agent.c, IDLE_TRIM_MS): give the memory the change freed back.
 * Called, untimed, before each step that stands for a change of its own, so
 * that the step faults its pages in as the agent's next change would.
 */
static void idle_agent(void)
{
	malloc_trim(0);
}

/*
 * maps_apply as the agent runs it (the cache of both slots' images) or, with
 * read_back, as a fresh process runs it (`speebpf apply`): the target slot
 * is read back from the maps. Either way the cache is brought up to date,
 * so that the next cached apply can use it.
 */
static int timed_apply(struct loader *l, const struct policy *pol, struct maps_cache *cache,
		       bool read_back, struct span *t, struct maps_apply_result *ar,
		       struct diags *d)
{
	struct maps_apply_opts opts = {.cache = cache};
	struct name_table names = {};
	struct spee_runtime rt;
	struct mark t0;
	int err;

	if (read_back) {
		err = maps_read_runtime(&l->maps, &rt, d);
		if (err)
			return err;
		cache->slot[(rt.active & 1) ^ 1].valid = false;
	}
	t0 = mark_now();
	err = maps_apply(&l->maps, pol, &names, &opts, ar, d);
	*t = span_since(t0);
	return err;
}

enum {
	S_PARSE,
	S_COMPILE,
	S_LOAD,
	S_APPLY,
	S_APPLY_RB,
	S_SAME,
	S_SAME_RB,
	S_TOTAL,
	S_TOTAL_RB,
	S_COUNT
};

/* What the verifier said of each program: instructions it walked, and the programs' sizes. */
static void prog_info(const struct loader *l, struct cp_results *cp)
{
	for (int i = 0; i < SPEE_PROG_COUNT && cp->n_prog < CP_PROGS; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		struct cp_prog *p = &cp->prog[cp->n_prog];
		int fd = loader_prog_fd(l, (enum spee_prog_id)i);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		snprintf(p->name, sizeof(p->name), "%s",
			 bpf_program__name(loader_prog(l, (enum spee_prog_id)i)));
		p->verified_insns = info.verified_insns;
		p->xlated_bytes = info.xlated_prog_len;
		p->jited_bytes = info.jited_prog_len;
		cp->n_prog++;
	}
}

static int measure_size(const struct bench_opts *o, size_t n, int family,
			struct cp_size_result *res, struct cp_results *cp)
{
	struct gen_spec gs = {.n_hosts = n, .v4 = family == 4, .v6 = family == 6};
	int reps = n >= 100000 && o->cp_reps > 3 ? 3 : o->cp_reps, err = 0;
	struct span *v = calloc((size_t)reps * S_COUNT, sizeof(*v)), *col = NULL;
	struct name_table names = {};
	char path[512], name[64];
	struct diags d = {};

	memset(res, 0, sizeof(*res));
	res->n_hosts = n;
	res->family = family;
	res->reps = reps;
	col = calloc((size_t)reps, sizeof(*col));
	if (!v || !col) {
		err = -ENOMEM;
		goto out;
	}
	snprintf(name, sizeof(name), "cp-%zu-v%d.yaml", n, family);
	err = write_config(o, &gs, name, path, sizeof(path), &res->yaml_bytes);
	if (err)
		goto out;
	for (int r = 0; r < reps && !err; r++) {
		struct span *s = &v[r * S_COUNT];
		struct maps_apply_result ar;
		struct maps_cache cache = {};
		struct loader_sizes sz;
		struct config *cfg = NULL;
		struct policy *pol = NULL;
		struct loader l;
		bool loaded = false;
		struct mark t0;

		idle_agent();
		err = read_compile(path, &cfg, &pol, &s[S_PARSE], &s[S_COMPILE], &d);
		if (err) {
			fail(&d, err, path);
			goto next;
		}
		t0 = mark_now();
		loader_sizes_for(pol, &names, &sz);
		/* as apply does for a host whose interfaces are Ethernet devices */
		err = loader_load_frames(&l, &sz, NULL, LOADER_PROGS_HOST, LOADER_FRAMES_ETHERNET, &d);
		s[S_LOAD] = span_since(t0);
		if (err) {
			fail(&d, err, "loading the BPF object");
			goto next;
		}
		loaded = true;
		if (!cp->n_prog)
			prog_info(&l, cp);
		/*
		 * The object is new, so both slots are empty: the first apply fills
		 * one with the cache, the second the other by reading it back, then
		 * the same policy again both ways.
		 */
		maps_cache_assume_empty(&cache);
		err = timed_apply(&l, pol, &cache, false, &s[S_APPLY], &ar, &d);
		/* each apply after the first stands for a later change */
		if (!err) {
			idle_agent();
			err = timed_apply(&l, pol, &cache, true, &s[S_APPLY_RB], &ar, &d);
		}
		if (!err) {
			idle_agent();
			err = timed_apply(&l, pol, &cache, false, &s[S_SAME], &ar, &d);
		}
		if (!err) {
			idle_agent();
			err = timed_apply(&l, pol, &cache, true, &s[S_SAME_RB], &ar, &d);
		}
		if (err) {
			fail(&d, err, "maps_apply");
			goto next;
		}
		s[S_TOTAL] = span_add(span_add(s[S_PARSE], s[S_COMPILE]), s[S_APPLY]);
		s[S_TOTAL_RB] = span_add(span_add(s[S_PARSE], s[S_COMPILE]), s[S_APPLY_RB]);
		if (!r) {
			size_t np;

			maps_count_entries(pol, &names, &res->exact_entries, &np);
		}
	next:
		maps_cache_free(&cache);
		if (loaded)
			loader_close(&l);
		policy_free(pol);
		config_free(cfg);
	}
	if (!err) {
		struct timing *dst[S_COUNT] = {&res->parse,   &res->compile,  &res->load,
					       &res->apply,   &res->apply_rb, &res->same,
					       &res->same_rb, &res->total,    &res->total_rb};

		for (int k = 0; k < S_COUNT; k++) {
			for (int r = 0; r < reps; r++)
				col[r] = v[r * S_COUNT + k];
			timing_of(col, reps, dst[k]);
		}
		bench_log("control plane: %zu hosts IPv%d: parse %.1f, compile %.1f, load %.1f, "
			  "apply %.1f (read back %.1f), same again %.2f (read back %.1f) ms "
			  "(medians, wall)",
			  n, family, res->parse.wall.med, res->compile.wall.med, res->load.wall.med,
			  res->apply.wall.med, res->apply_rb.wall.med, res->same.wall.med,
			  res->same_rb.wall.med);
	}
	unlink(path);
out:
	diags_free(&d);
	free(v);
	free(col);
	return err;
}

/* ---- one-host change on a populated 10,000-host instance ---- */

/*
 * spee_seen as on a host that has been running a while: full, each entry an
 * address an ANY rule let in. An apply that gives a slot to a new id forgets
 * that slot's entries; one that does not must not pay for the table.
 */
static int fill_seen(const struct loader *l)
{
	struct spee_tally t = {.count = 1};
	int err = 0;

	for (uint32_t i = 0; i < SPEE_SEEN_ENTRIES && !err; i++) {
		struct spee_seen_key k = {.rule = 1, .dir = SPEE_DIR_INGRESS,
					  .family = SPEE_FAMILY_V4};

		k.addr[0] = 198;
		k.addr[1] = 19;
		k.addr[2] = (uint8_t)(i >> 8);
		k.addr[3] = (uint8_t)i;
		if (bpf_map_update_elem(l->maps.fd[SPEE_MAP_SEEN], &k, &t, BPF_ANY))
			err = -errno;
	}
	return err;
}

static int measure_change(const struct bench_opts *o, size_t n, int family,
			  struct cp_change_result *res)
{
	/*
	 * Steps alternate: reading back, then with the cache; as many of each,
	 * the last with the cache (its slot is checked at the end).
	 */
	int half = o->cp_reps < 3 ? 3 : o->cp_reps, steps = 2 * half, err = 0;
	struct gen_spec gs = {.n_hosts = n, .v4 = family == 4, .v6 = family == 6};
	struct span *v = calloc((size_t)steps * 5, sizeof(*v));
	struct span *pc = v, *ap = v + steps, *rb = v + steps + half, *tot = v + 2 * steps;
	struct span *totrb = v + 2 * steps + half;
	double *wr = calloc((size_t)steps, sizeof(*wr));
	struct name_table names = {};
	struct maps_cache cache = {};
	struct config *cfg = NULL;
	struct policy *pol = NULL;
	struct maps_apply_result ar;
	struct span p_t, c_t, a_t;
	struct loader_sizes sz;
	struct diags d = {};
	char path[512] = "";
	struct loader l;
	bool loaded = false;

	memset(res, 0, sizeof(*res));
	res->n_hosts = n;
	res->family = family;
	res->steps = half;
	if (!v || !wr) {
		err = -ENOMEM;
		goto out;
	}
	err = write_config(o, &gs, "change-0.yaml", path, sizeof(path), NULL);
	if (!err)
		err = read_compile(path, &cfg, &pol, &p_t, &c_t, &d);
	if (err) {
		fail(&d, err, path);
		goto out;
	}
	loader_sizes_for(pol, &names, &sz);
	/* as apply does for a host whose interfaces are Ethernet devices */
	err = loader_load_frames(&l, &sz, NULL, LOADER_PROGS_HOST, LOADER_FRAMES_ETHERNET, &d);
	if (err) {
		fail(&d, err, "loading the BPF object");
		goto out;
	}
	loaded = true;
	/* Both slots hold the inventory, as on an agent that has applied it before. */
	maps_cache_assume_empty(&cache);
	for (int a = 0; a < 2 && !err; a++)
		err = timed_apply(&l, pol, &cache, false, &a_t, &ar, &d);
	policy_free(pol);
	config_free(cfg);
	pol = NULL;
	cfg = NULL;
	if (err) {
		fail(&d, err, "maps_apply");
		goto out;
	}
	err = fill_seen(&l);
	if (err) {
		fail(&d, err, "filling spee_seen");
		goto out;
	}
	/* Step k moves one host to spare address k: each config differs from the last by one host.
	 */
	gs.moved = true;
	gs.moved_host = gen_host_with("IH", n / 2);
	res->consistent = true;
	for (int k = 0; k < steps && !err; k++) {
		bool read_back = !(k % 2);
		int i = k / 2;

		unlink(path);
		idle_agent();
		gs.moved_gen = (unsigned)k + 1;
		err = write_config(o, &gs, "change.yaml", path, sizeof(path), NULL);
		if (err)
			break;
		err = read_compile(path, &cfg, &pol, &p_t, &c_t, &d);
		if (err) {
			fail(&d, err, path);
			break;
		}
		err = timed_apply(&l, pol, &cache, read_back, &a_t, &ar, &d);
		if (err)
			fail(&d, err, "maps_apply");
		pc[k] = span_add(p_t, c_t);
		(read_back ? rb : ap)[i] = a_t;
		(read_back ? totrb : tot)[i] = span_add(pc[k], a_t);
		wr[k] = (double)(ar.stats.added + ar.stats.removed);
		if (k && wr[k] != wr[0])
			res->consistent = false;
		/* The last policy stays, to check the maps against it below. */
		if (k + 1 < steps) {
			policy_free(pol);
			config_free(cfg);
			pol = NULL;
			cfg = NULL;
		}
	}
	if (!err) {
		struct stat3 sw;

		/*
		 * Check what the cached applies wrote: applied twice more reading
		 * back, the last policy fills the older slot (one change) and then
		 * finds the slot of the last step exactly as it should be.
		 */
		err = timed_apply(&l, pol, &cache, true, &a_t, &ar, &d);
		if (!err)
			err = timed_apply(&l, pol, &cache, true, &a_t, &ar, &d);
		res->verified =
		    !err && !ar.stats.added && !ar.stats.removed && !ar.stats.ports_changed;
		timing_of(pc, steps, &res->parse_compile);
		timing_of(ap, half, &res->apply);
		timing_of(rb, half, &res->apply_rb);
		timing_of(tot, half, &res->total);
		timing_of(totrb, half, &res->total_rb);
		stat3_of(wr, steps, &sw);
		res->changed = (size_t)sw.med;
		bench_log("control plane: one-host change at %zu hosts IPv%d: parse+compile %.1f, "
			  "apply %.2f (read back %.1f) ms (medians, wall); %zu entries written or "
			  "removed a step%s; %s",
			  n, family, res->parse_compile.wall.med, res->apply.wall.med,
			  res->apply_rb.wall.med, res->changed,
			  res->consistent ? "" : " (NOT the same at every step)",
			  res->verified ? "maps verified" : "maps NOT as expected");
	}
out:
	if (path[0])
		unlink(path);
	maps_cache_free(&cache);
	if (loaded)
		loader_close(&l);
	policy_free(pol);
	config_free(cfg);
	diags_free(&d);
	free(v);
	free(wr);
	return err;
}

/* ---- memory ---- */

static long status_kb(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			v = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

/* The kernel's charge for a map: "memlock:" in its fd's fdinfo, in bytes. */
static long memlock_kb(int fd)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "memlock:", 8))
			v = strtol(line + 8, NULL, 10) / 1024;
	fclose(f);
	return v;
}

int cp_mem_probe(const char *config_path, FILE *out)
{
	long start = status_kb("VmRSS"), maps = 0, busy;
	struct name_table names = {};
	struct maps_cache cache = {};
	struct maps_apply_opts opts = {.cache = &cache};
	struct maps_apply_result ar;
	struct loader_sizes sz;
	struct config *cfg = NULL;
	struct policy *pol = NULL;
	struct mallinfo2 mi;
	struct diags d = {};
	struct loader l;
	int err;

	loader_set_verbose(false);
	err = config_load(config_path, &cfg, &d);
	if (!err)
		err = policy_compile(cfg, GEN_HOST_NAME, NULL, &pol, &d);
	if (err)
		return fail(&d, err, config_path);
	loader_sizes_for(pol, &names, &sz);
	/* as apply does for a host whose interfaces are Ethernet devices */
	err = loader_load_frames(&l, &sz, NULL, LOADER_PROGS_HOST, LOADER_FRAMES_ETHERNET, &d);
	if (err)
		return fail(&d, err, "loading the BPF object");
	/* Twice: both slots hold the policy and the cache holds both images, as on an agent. */
	maps_cache_assume_empty(&cache);
	for (int a = 0; a < 2 && !err; a++)
		err = maps_apply(&l.maps, pol, &names, &opts, &ar, &d);
	if (err)
		return fail(&d, err, "maps_apply");
	/* The agent's steady state: what it holds once idle, after the change. */
	busy = status_kb("VmRSS");
	idle_agent();
	mi = mallinfo2();
	fprintf(out, "rss_start_kb %ld\nrss_busy_kb %ld\nrss_kb %ld\nhwm_kb %ld\nheap_kb %ld\n",
		start, busy, status_kb("VmRSS"), status_kb("VmHWM"), (long)(mi.uordblks / 1024));
	for (int i = 0; i < SPEE_MAP_COUNT; i++) {
		long kb = memlock_kb(l.maps.fd[i]);

		fprintf(out, "memlock_kb %s %ld\n", spee_map_names[i], kb);
		maps += kb > 0 ? kb : 0;
	}
	fprintf(out, "maps_kb %ld\n", maps);
	/* The process exits here; its state is what was measured. */
	return 0;
}

static int measure_mem(const struct bench_opts *o, size_t n, bool v6, struct mem_result *res)
{
	struct gen_spec gs = {.n_hosts = n, .v4 = true, .v6 = v6};
	char path[512], cmd[1200], line[256], key[64];
	FILE *p;
	long v;
	int err, status;

	memset(res, 0, sizeof(*res));
	res->n_hosts = n;
	res->v4 = true;
	res->v6 = v6;
	err = write_config(o, &gs, "mem.yaml", path, sizeof(path), NULL);
	if (err)
		return err;
	snprintf(cmd, sizeof(cmd), "'%s' --mem-probe '%s'", o->self, path);
	p = popen(cmd, "r");
	if (!p) {
		err = -errno;
		goto out;
	}
	while (fgets(line, sizeof(line), p)) {
		char map[32];

		if (sscanf(line, "memlock_kb %31s %ld", map, &v) == 2) {
			if (!strcmp(map, "spee_exact"))
				res->exact_kb = v;
			else if (!strcmp(map, "spee_ports"))
				res->ports_kb = v;
			else if (!strcmp(map, "spee_flows"))
				res->flows_kb = v;
			else if (!strcmp(map, "spee_prefix"))
				res->prefix_kb = v;
			continue;
		}
		if (sscanf(line, "%63s %ld", key, &v) != 2)
			continue;
		if (!strcmp(key, "rss_start_kb"))
			res->rss_start_kb = v;
		else if (!strcmp(key, "rss_busy_kb"))
			res->rss_busy_kb = v;
		else if (!strcmp(key, "rss_kb"))
			res->rss_kb = v;
		else if (!strcmp(key, "hwm_kb"))
			res->hwm_kb = v;
		else if (!strcmp(key, "heap_kb"))
			res->heap_kb = v;
		else if (!strcmp(key, "maps_kb"))
			res->maps_kb = v;
	}
	status = pclose(p);
	if (status != 0 || !res->rss_kb)
		err = -EIO;
	bench_log("memory: %zu hosts (IPv4%s): RSS %ld KiB once idle (%ld right after the "
		  "applies, peak %ld), maps %ld KiB",
		  n, v6 ? " and IPv6" : " only", res->rss_kb, res->rss_busy_kb, res->hwm_kb,
		  res->maps_kb);
out:
	unlink(path);
	return err;
}

int cp_run(const struct bench_opts *o, struct cp_results *r)
{
	int err = 0;

	memset(r, 0, sizeof(*r));
	bench_pin_cpu(o->cpu); /* away from the other CPU's tenants, as the data plane */
	for (int s = 1; s < o->n_sizes && !err; s++)
		for (int fam = 4; fam <= 6 && !err; fam += 2)
			err = measure_size(o, bench_sizes[s], fam, &r->size[r->n_size++], r);
	for (int fam = 4; fam <= 6 && !err; fam += 2)
		err = measure_change(o, o->n_sizes > 2 ? 10000 : 1000, fam,
				     &r->change[r->n_change++]);
	for (int s = 1; s < o->n_sizes && !err; s++) {
		if (bench_sizes[s] == 10000)
			err = measure_mem(o, bench_sizes[s], false, &r->mem[r->n_mem++]);
		if (!err)
			err = measure_mem(o, bench_sizes[s], true, &r->mem[r->n_mem++]);
	}
	bench_pin_cpu(-1);
	return err;
}
