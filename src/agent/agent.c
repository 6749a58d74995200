// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's loop. One thread, one select(): the signal fd, the config
 * watch, c-ares' sockets, and deadlines (debounced reload, each name's next
 * resolution, the next drift check, the next verify). Work that follows from
 * events is done after the select, in a fixed order: reload, resolve,
 * re-apply, drift, verify. A verify run blocks the loop for at most about
 * its probe timeout (the probes run in parallel), like a drift check.
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "confirm.h"
#include "config.h"
#include "drift.h"
#include "gateway.h"
#include "host.h"
#include "instance.h"
#include "log.h"
#include "metrics.h"
#include "namestore.h"
#include "netwatch.h"
#include "policy.h"
#include "resolve.h"
#include "verify_fleet.h"
#include "verify_metrics.h"
#include "watch.h"

#define NEVER INT64_MAX
#define DNS_RETRY_MAX_S 30 /* a failed name is asked again at most this late */
#define NEW_NAME_WAIT_MS 2000 /* how long a reload waits for names it has never seen */
#define RESCOPE_DEBOUNCE_MS 100 /* quiet time after a link or address change */
#define IDLE_WAKE_MS 5000 /* the loop turns at least this often (/livez) */
/*
 * How long the agent waits after a reload or an apply before it gives the
 * memory they freed back to the system: a burst of changes reuses the
 * same pages instead of faulting them in again for each one.
 */
#define IDLE_TRIM_MS 1000
#define LAST_GOOD_NAME "last-good.yaml"

struct name_timer {
	char *name;
	int64_t due_ms;
	bool in_flight;
	struct prefix *prev; /* addresses when the query was sent */
	size_t n_prev;
};

struct agent {
	const struct agent_settings *s;
	struct instance *inst; /* kept for the agent's life; locked while it is changed */
	struct config *cfg; /* of the running policy */
	struct policy *policy; /* the running policy, NULL before the first good apply */
	struct name_table names;
	struct resolver *res;
	struct config_watch *watch;
	int sigfd;
	uint8_t applied_sha[32];
	struct name_timer *timers;
	size_t n_timers;
	int64_t reload_at;
	bool reload_forced;
	int64_t drift_at;
	int64_t verify_at;
	bool names_changed;
	bool stop;
	char config_error[SPEE_TEXT_LEN]; /* the config file's last problem, "" when it loaded */
	struct agent_state state; /* what /metrics and /healthz report */
	struct maps_cache cache; /* what this agent wrote into each policy slot */
	struct metrics_server *metrics;
	uint64_t watchdog_usec; /* systemd's WatchdogSec, 0 when off */
	int64_t watchdog_at;
	bool ready_sent;
	struct prefix *sys_resolvers;
	size_t n_sys_resolvers;
	int nlfd; /* rtnetlink: links and addresses (netwatch.h), -1 with --iface */
	int64_t rescope_at; /* when to read the interfaces and addresses afresh */
	int64_t trim_at; /* when to give freed memory back (IDLE_TRIM_MS after the last apply) */
	char *scope_sig; /* the interfaces and addresses the running policy was applied for */
	bool applying_change; /* the apply under way is a change of the config (--confirm guards it) */
	/* run --confirm: the generation waiting for `speebpf confirm`, and what it replaced */
	uint32_t confirm_gen;
	int64_t confirm_check_at;
	struct policy *prev_policy;
	struct config *prev_cfg;
	uint8_t prev_sha[32];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct json_object *fields_generation(uint32_t gen, size_t added, size_t removed)
{
	struct json_object *f = json_object_new_object();

	json_object_object_add(f, "generation", json_object_new_int64(gen));
	json_object_object_add(f, "added", json_object_new_uint64(added));
	json_object_object_add(f, "removed", json_object_new_uint64(removed));
	return f;
}

static void log_diags(const struct diags *d, const char *event)
{
	char text[1024];

	for (size_t i = 0; i < d->n; i++) {
		diag_format(&d->v[i], text, sizeof(text));
		log_event(LOG_ERROR, event, diag_place_json(&d->v[i]), "%s", text);
	}
}

/* ---- memory ---------------------------------------------------------- */

/* Resident memory in KiB, or -1 when /proc cannot tell. */
static long resident_kib(void)
{
	long size, pages = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &pages) != 2)
		pages = -1;
	fclose(f);
	return pages < 0 ? -1 : pages * (sysconf(_SC_PAGESIZE) / 1024);
}

static void trim_later(struct agent *a)
{
	a->trim_at = now_ms() + IDLE_TRIM_MS;
}

/*
 * A reload parses the config, compiles and writes the maps: megabytes at
 * 10,000 hosts, which glibc keeps once freed. Given back once the agent is
 * idle rather than at the end of each apply, so that an apply's time is
 * not spent on it, nor the next one's on faulting the pages in again.
 */
static void give_back_memory(struct agent *a)
{
	long before = resident_kib(), after, released;
	struct json_object *f;

	a->trim_at = NEVER;
	malloc_trim(0);
	after = resident_kib();
	if (before < 0 || after < 0)
		return;
	released = before > after ? before - after : 0;
	f = json_object_new_object();
	json_object_object_add(f, "resident_kib", json_object_new_int64(after));
	json_object_object_add(f, "released_kib", json_object_new_int64(released));
	log_event(LOG_DEBUG, "memory", f,
		  "gave back %ld KiB freed by the last change; %ld KiB resident", released, after);
}

/* ---- DNS ------------------------------------------------------------- */

static uint32_t clamp_ttl(const struct agent *a, uint32_t ttl)
{
	uint32_t lo = a->cfg->dns_min_ttl, hi = a->cfg->dns_max_ttl;

	return ttl < lo ? lo : ttl > hi ? hi : ttl;
}

static struct name_timer *timer_of(struct agent *a, const char *name)
{
	for (size_t i = 0; i < a->n_timers; i++)
		if (!strcmp(a->timers[i].name, name))
			return &a->timers[i];
	return NULL;
}

/* One timer per name of the running policy; names it no longer uses lose theirs. */
static int sync_timers(struct agent *a)
{
	struct name_timer *v;
	size_t kept = 0;

	for (size_t i = 0; i < a->n_timers; i++) {
		bool used = false;

		for (size_t k = 0; k < a->policy->n_names && !used; k++)
			used = !strcmp(a->policy->names[k], a->timers[i].name);
		if (used) {
			a->timers[kept++] = a->timers[i];
		} else {
			free(a->timers[i].name);
			free(a->timers[i].prev);
		}
	}
	a->n_timers = kept;
	for (size_t k = 0; k < a->policy->n_names; k++) {
		const struct name_addrs *na = names_find(&a->names, a->policy->names[k]);
		int64_t due;

		/* Names pinned with --resolve are never asked. */
		if (timer_of(a, a->policy->names[k]) || names_find(a->s->pinned, a->policy->names[k]))
			continue;
		v = realloc(a->timers, (a->n_timers + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->timers = v;
		/* A known answer is good until its TTL runs out; otherwise ask now. */
		due = na && na->n_addrs && na->last_ok ?
			      now_ms() + (int64_t)clamp_ttl(a, na->ttl) * 1000 -
				      ((int64_t)time(NULL) - na->last_ok) * 1000 :
			      now_ms();
		memset(&a->timers[a->n_timers], 0, sizeof(a->timers[0]));
		a->timers[a->n_timers].name = strdup(a->policy->names[k]);
		if (!a->timers[a->n_timers].name)
			return -ENOMEM;
		a->timers[a->n_timers++].due_ms = due;
	}
	return 0;
}

static bool same_addrs(const struct prefix *a, size_t na, const struct prefix *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (prefix_cmp(&a[i], &b[i]))
			return false;
	return true;
}

static void addrs_text(const struct prefix *v, size_t n, char *buf, size_t len)
{
	size_t off = 0;
	char one[ADDR_TEXT_LEN];

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		prefix_format(&v[i], one, sizeof(one));
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", one);
	}
	if (!n)
		snprintf(buf, len, "none");
}

static void on_dns_done(void *arg, const char *name, bool ok)
{
	struct agent *a = arg;
	struct name_timer *t = timer_of(a, name);
	const struct name_addrs *na = names_find(&a->names, name);
	char before[512], after[512];

	if (!t || !na)
		return;
	t->in_flight = false;
	if (ok) {
		t->due_ms = now_ms() + (int64_t)clamp_ttl(a, na->ttl) * 1000;
		if (!same_addrs(t->prev, t->n_prev, na->addrs, na->n_addrs)) {
			addrs_text(t->prev, t->n_prev, before, sizeof(before));
			addrs_text(na->addrs, na->n_addrs, after, sizeof(after));
			log_event(LOG_INFO, "dns-change", NULL, "%s: %s -> %s (TTL %u s)", name,
				  before, after, na->ttl);
			a->names_changed = true;
			pthread_mutex_lock(&a->state.lock);
			a->state.dns_changes++;
			pthread_mutex_unlock(&a->state.lock);
		}
	} else {
		uint32_t retry = a->cfg->dns_min_ttl < DNS_RETRY_MAX_S ? a->cfg->dns_min_ttl :
									DNS_RETRY_MAX_S;

		t->due_ms = now_ms() + (int64_t)retry * 1000;
		pthread_mutex_lock(&a->state.lock);
		a->state.dns_failures++;
		pthread_mutex_unlock(&a->state.lock);
		addrs_text(na->addrs, na->n_addrs, after, sizeof(after));
		log_event(LOG_WARN, "dns-failure", NULL,
			  "%s: %s (failure %u); %s: %s; asking again in %u s", name,
			  na->last_error ? na->last_error : "no answer", na->failures,
			  na->n_addrs ? "keeping the last known addresses" : "never resolved, "
									     "its rules allow nothing",
			  after, retry);
	}
	free(t->prev);
	t->prev = NULL;
	t->n_prev = 0;
	agent_state_set_names(&a->state, &a->names);
	/* status reads the names' state (failures included) from the instance */
	if (instance_relock(a->inst, NULL) == 0) {
		namestore_save(a->inst, &a->names);
		instance_release(a->inst);
	}
}

static void query_due_names(struct agent *a)
{
	int64_t now = now_ms();

	for (size_t i = 0; i < a->n_timers; i++) {
		struct name_timer *t = &a->timers[i];
		const struct name_addrs *na = names_find(&a->names, t->name);

		if (t->in_flight || t->due_ms > now)
			continue;
		free(t->prev);
		t->prev = NULL;
		t->n_prev = 0;
		if (na && na->n_addrs) {
			t->prev = malloc(na->n_addrs * sizeof(*t->prev));
			if (!t->prev)
				continue;
			memcpy(t->prev, na->addrs, na->n_addrs * sizeof(*t->prev));
			t->n_prev = na->n_addrs;
		}
		if (resolver_query(a->res, &a->names, t->name) == 0)
			t->in_flight = true;
	}
}

/* Names the policy uses that were never seen: asked now, waited for briefly. */
static void resolve_new_names(struct agent *a, const struct policy *p)
{
	char **todo = calloc(p->n_names ? p->n_names : 1, sizeof(*todo));
	size_t n = 0;

	if (!todo)
		return;
	for (size_t i = 0; i < p->n_names; i++) {
		const struct name_addrs *pin = names_find(a->s->pinned, p->names[i]);

		if (pin)
			names_set(&a->names, pin->name, pin->addrs, pin->n_addrs, UINT32_MAX / 2);
		else if (!names_find(&a->names, p->names[i]))
			todo[n++] = p->names[i];
	}
	if (n) {
		struct resolver *r;

		/* A separate resolver: the agent's own may have queries in flight. */
		if (resolver_open(&r, NEW_NAME_WAIT_MS) == 0) {
			resolver_resolve_all(r, &a->names, todo, n);
			resolver_close(r);
		}
	}
	free(todo);
}

/* ---- applying -------------------------------------------------------- */

/* Notes an apply's result (out: a good one's, else NULL) for /metrics, /healthz and systemd. */
static void note_apply(struct agent *a, const struct apply_outcome *out)
{
	pthread_mutex_lock(&a->state.lock);
	a->state.last_apply_ok = out != NULL;
	a->state.last_apply_time = (int64_t)time(NULL);
	if (out) {
		a->state.applies_ok++;
		a->state.applied = true;
		a->state.map_growths += out->grown;
		a->state.exact_entries = out->exact_entries;
		a->state.prefix_entries = out->prefix_entries;
		a->state.exact_size = out->exact_size;
		a->state.prefix_size = out->prefix_size;
	} else {
		a->state.applies_failed++;
	}
	pthread_mutex_unlock(&a->state.lock);
	agent_state_set_names(&a->state, &a->names);
	if (out) {
		sd_notifyf(0, "%sSTATUS=policy generation %u enforced", a->ready_sent ? "" : "READY=1\n",
			   out->generation);
		a->ready_sent = true;
	}
}

/* Notes a problem of the config file in the instance record, for status. */
static void record_error(struct agent *a, bool ok, const char *text)
{
	if (instance_relock(a->inst, NULL))
		return;
	if (a->inst->exists)
		instance_note_result(a->inst, NULL, 0, false, ok, text, NULL);
	instance_release(a->inst);
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * What the interfaces and addresses are now, as far as the scope goes: the
 * interfaces holding the host's addresses (none with --iface) and every
 * address the machine takes as its own. A change re-applies.
 */
static char *scope_signature(const struct agent *a, const struct cfg_host *host)
{
	char **ifaces = NULL, *buf = NULL, one[ADDR_TEXT_LEN];
	size_t n_ifaces = 0, n_recv = 0, len = 0;
	struct prefix *recv = NULL;
	FILE *out = open_memstream(&buf, &len);

	if (!out)
		return NULL;
	if (!a->s->n_ifaces && apply_scope_ifaces(host, &ifaces, &n_ifaces) == 0)
		for (size_t i = 0; i < n_ifaces; i++)
			fprintf(out, "%s ", ifaces[i]);
	fprintf(out, "|");
	if (host_receive_addresses(&recv, &n_recv) == 0)
		for (size_t i = 0; i < n_recv; i++) {
			prefix_format(&recv[i], one, sizeof(one));
			fprintf(out, " %s", one);
		}
	fclose(out);
	free(recv);
	free_names(ifaces, n_ifaces);
	return buf;
}

/* Takes back what a guarded change replaced: the policy that runs again after a revert. */
static void keep_previous(struct agent *a, struct policy *p, struct config *cfg)
{
	gateway_or_policy_free(a->prev_policy);
	if (a->prev_cfg != a->cfg)
		config_free(a->prev_cfg);
	a->prev_policy = a->policy;
	a->prev_cfg = a->cfg;
	memcpy(a->prev_sha, a->applied_sha, sizeof(a->prev_sha));
	a->policy = p;
	a->cfg = cfg;
}

/* Applies p, the instance locked. */
static int apply_locked(struct agent *a, struct policy *p, struct config *cfg)
{
	struct apply_request req = {
		.policy = p,
		.gateway = gateway_of(p),
		.names = &a->names,
		.ifaces = a->s->ifaces,
		.n_ifaces = a->s->n_ifaces,
		.cgroup = a->s->cgroup,
		.audit = a->s->audit,
		.cache = &a->cache,
	};
	struct confirm_snapshot snap = { 0 };
	bool guard = a->applying_change && a->s->confirm_s;
	char **scope = NULL;
	size_t n_scope = 0;
	struct apply_outcome out;
	struct diags d = { 0 };
	char sha[65], what[96];
	int err;

	trim_later(a);

	if (req.gateway)
		snprintf(what, sizeof(what), "as a gateway for %zu hosts", req.gateway->n_hosts);
	else
		snprintf(what, sizeof(what), "for host %s", p->host->name);
	/* Without --iface: the interfaces that hold the host's addresses now. */
	if (!a->s->n_ifaces && !req.gateway &&
	    apply_scope_ifaces(p->host, &scope, &n_scope) == 0) {
		req.ifaces = scope;
		req.n_ifaces = n_scope;
		if (!n_scope && a->inst->exists)
			log_event(LOG_WARN, "scope", NULL,
				  "no interface holds an address of host %s; XDP stays where it is",
				  p->host->name);
	}
	if (guard) {
		err = confirm_prepare(a->inst, &snap, &d);
		if (err) {
			/* -EBUSY: another change waits for its confirmation; this one waits for it */
			if (err != -EBUSY)
				log_diags(&d, "apply-failed");
			diags_free(&d);
			confirm_snapshot_free(&snap);
			free_names(scope, n_scope);
			return err;
		}
	}
	err = apply_policy(a->inst, &req, &out, &d);
	if (!err && guard) {
		err = confirm_arm(a->inst, &snap, out.generation, a->s->confirm_s, &d);
		if (!err) {
			a->confirm_gen = out.generation;
			a->confirm_check_at = now_ms() + (int64_t)a->s->confirm_s * 1000 + 300;
			log_event(LOG_INFO, "confirm-pending", NULL,
				  "generation %u reverts in %u s unless `speebpf confirm --pin-dir %s` "
				  "runs",
				  out.generation, a->s->confirm_s, a->s->pin_dir);
		}
	}
	confirm_snapshot_free(&snap);
	free_names(scope, n_scope);
	if (err) {
		log_diags(&d, "apply-failed");
		log_event(LOG_ERROR, "apply-failed", NULL,
			  "the policy was not applied; the running one stays in force");
		if (d.n && a->inst->exists) {
			char text[1024];

			diag_format(&d.v[0], text, sizeof(text));
			instance_note_result(a->inst, p, 0, a->s->audit, false, text, NULL);
		}
		diags_free(&d);
		note_apply(a, NULL);
		return err;
	}
	diags_free(&d);
	note_apply(a, &out);
	for (size_t i = 0; i < 32; i++)
		sprintf(sha + 2 * i, "%02x", cfg->sha256[i]);
	log_event(LOG_INFO, "applied", fields_generation(out.generation, out.added, out.removed),
		  "applied generation %u %s: +%zu/-%zu entries%s%s%s (config %s, sha256 "
		  "%.12s)",
		  out.generation, what, out.added, out.removed,
		  out.created ? ", new instance" : "",
		  out.replaced ? ", programs replaced" : "",
		  out.grown ? ", policy maps grown" : out.migrated ? ", maps of another layout replaced" : "",
		  cfg->path, sha);
	/* A repair or a DNS update re-applies the running policy; the file may still be broken. */
	if (a->policy == p && a->config_error[0])
		instance_note_result(a->inst, NULL, 0, false, false, a->config_error, NULL);
	if (a->policy != p && guard) {
		keep_previous(a, p, cfg);
	} else if (a->policy != p) {
		gateway_or_policy_free(a->policy);
		if (a->cfg != cfg)
			config_free(a->cfg);
		a->policy = p;
		a->cfg = cfg;
	}
	memcpy(a->applied_sha, cfg->sha256, sizeof(a->applied_sha));
	free(a->scope_sig);
	a->scope_sig = req.gateway ? NULL : scope_signature(a, p->host);
	return sync_timers(a);
}

static int apply_policy_now(struct agent *a, struct policy *p, struct config *cfg)
{
	struct diags d = { 0 };
	int err = instance_relock(a->inst, &d);

	if (err) {
		log_diags(&d, "apply-failed");
		diags_free(&d);
		note_apply(a, NULL);
		return err;
	}
	err = apply_locked(a, p, cfg);
	instance_release(a->inst);
	return err;
}

/* reload's results besides 0 and a negative errno */
#define RELOAD_BAD_CONFIG AGENT_EUSAGE /* the file does not load or compile */
#define RELOAD_NOT_MINE 2 /* the config does not name this machine */
#define RELOAD_NO_IFACE 3 /* no interface holds the host's addresses, and no --iface */

/* Compiles cfg for this machine (its addresses as they are now). */
static int compile_for_here(struct agent *a, struct config *cfg, struct policy **p,
			    struct diags *d)
{
	struct policy_env env = { .resolvers = a->sys_resolvers, .n_resolvers = a->n_sys_resolvers };
	struct prefix *local = NULL, *receive = NULL;
	const struct cfg_host *host;
	struct gateway_policy *g;
	int err;

	if (a->s->gateway) {
		/* every host of the inventory, none of them this machine */
		err = gateway_compile(cfg, &env, &g, d);
		*p = err ? NULL : &g->fleet;
		return err;
	}
	err = host_select(cfg, a->s->host, &host, d);
	if (err)
		return err;
	/* the host's addresses configured here (as this reload finds them) are itself */
	if (host_local_addresses(&local, &env.n_local_addrs) == 0) {
		env.local_addrs = local;
		env.local_known = true;
	}
	if (host_receive_addresses(&receive, &env.n_receive_addrs) == 0) {
		env.receive_addrs = receive;
		env.receive_known = true;
	}
	err = policy_compile(cfg, host->name, &env, p, d);
	free(local);
	free(receive);
	return err;
}

static void last_good_path(const struct agent *a, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", a->s->state_dir, LAST_GOOD_NAME);
}

/* Keeps the bytes of a config that applied, for a start with a config that cannot (atomically). */
static void save_last_good(struct agent *a, const char *text, size_t len)
{
	char path[4096], tmp[4200];
	FILE *f;

	if (!a->s->state_dir || !text)
		return;
	if (mkdir(a->s->state_dir, 0700) && errno != EEXIST) {
		log_event(LOG_WARN, "state", NULL, "cannot create %s: %s", a->s->state_dir,
			  strerror(errno));
		return;
	}
	last_good_path(a, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f || fwrite(text, 1, len, f) != len || fflush(f) || fsync(fileno(f))) {
		log_event(LOG_WARN, "state", NULL, "cannot write %s: %s", tmp, strerror(errno));
		if (f)
			fclose(f);
		unlink(tmp);
		return;
	}
	fclose(f);
	if (rename(tmp, path))
		log_event(LOG_WARN, "state", NULL, "cannot write %s: %s", path, strerror(errno));
}

/* Notes the config file's problem: logged, in status, and why the agent is not ready. */
static void note_config_error(struct agent *a, struct diags *d, const char *unready)
{
	char text[1024] = "";

	log_diags(d, "config-error");
	pthread_mutex_lock(&a->state.lock);
	a->state.config_errors++;
	a->state.last_apply_ok = false;
	a->state.last_apply_time = (int64_t)time(NULL);
	pthread_mutex_unlock(&a->state.lock);
	log_event(LOG_ERROR, "config-error", NULL,
		  "%s was not applied; the running policy stays in force%s", a->s->config,
		  a->policy ? "" : " (there is none yet)");
	if (d->n)
		diag_format(&d->v[0], text, sizeof(text));
	snprintf(a->config_error, sizeof(a->config_error), "%s", unready ? unready : text);
	agent_state_set_unready(&a->state, a->config_error);
	record_error(a, false, a->config_error);
}

/* Reads, validates and compiles the config; on any error the running policy stays. */
static int reload(struct agent *a, bool forced)
{
	struct diags d = { 0 };
	struct config *cfg = NULL;
	struct policy *p = NULL;
	char *text = NULL;
	size_t len = 0;
	int err;

	err = config_read_file(a->s->config, &text, &len, &d);
	if (!err)
		err = config_parse(a->s->config, text, len, &cfg, &d);
	if (!err && a->policy && !forced &&
	    !memcmp(cfg->sha256, a->applied_sha, sizeof(a->applied_sha))) {
		/* The bytes that run already (e.g. a broken edit undone): nothing to apply. */
		config_free(cfg);
		free(text);
		if (a->config_error[0]) {
			a->config_error[0] = '\0';
			pthread_mutex_lock(&a->state.lock);
			a->state.last_apply_ok = true;
			pthread_mutex_unlock(&a->state.lock);
			agent_state_set_unready(&a->state, NULL);
			record_error(a, true, NULL);
			log_event(LOG_INFO, "config-ok", NULL,
				  "%s is valid again and is what runs already", a->s->config);
		}
		return 0;
	}
	if (!err)
		err = compile_for_here(a, cfg, &p, &d);
	if (err) {
		int ret = RELOAD_BAD_CONFIG;
		char why[300] = "";

		if (err == -ENOENT && cfg && !a->s->gateway) {
			/* Not this machine's config (yet): idle and unready until it names it. */
			char name[256] = "";

			if (!a->s->host && gethostname(name, sizeof(name)))
				name[0] = '\0';
			name[sizeof(name) - 1] = '\0';
			snprintf(why, sizeof(why), "host %s is not in the inventory",
				 a->s->host ? a->s->host : name);
			ret = RELOAD_NOT_MINE;
		}
		note_config_error(a, &d, why[0] ? why : NULL);
		diags_free(&d);
		config_free(cfg);
		free(text);
		return ret;
	}
	diags_free(&d);
	a->config_error[0] = '\0';
	resolve_new_names(a, p);
	err = apply_policy_now(a, p, cfg);
	if (err) {
		gateway_or_policy_free(p);
		config_free(cfg);
		free(text);
		if (err == -EBUSY) {
			/* a change waits for its confirmation: this edit is applied, guarded, after it */
			log_event(LOG_INFO, "confirm-pending", NULL,
				  "%s changed while generation %u waits for `speebpf confirm`; "
				  "applying it once that is settled",
				  a->s->config, a->confirm_gen);
			a->reload_at = a->confirm_check_at + 100;
			a->reload_forced = forced;
			return 0;
		}
		if (err == -EADDRNOTAVAIL) {
			char why[300];

			snprintf(why, sizeof(why), "no interface holds an address of this host; "
						   "give --iface");
			agent_state_set_unready(&a->state, why);
			return RELOAD_NO_IFACE;
		}
		agent_state_set_unready(&a->state, "the last apply failed");
		return err;
	}
	agent_state_set_unready(&a->state, NULL);
	save_last_good(a, text, len);
	free(text);
	return 0;
}

/*
 * Started with a config it cannot apply and no pinned instance (a reboot):
 * the last config that applied, kept in the state dir. 0 when it runs.
 */
static int apply_last_good(struct agent *a)
{
	char path[4096], why[1024];
	struct config *cfg = NULL;
	struct policy *p = NULL;
	struct diags d = { 0 };
	int err;

	if (!a->s->state_dir)
		return -ENOENT;
	last_good_path(a, path, sizeof(path));
	if (access(path, R_OK))
		return -ENOENT;
	err = config_load(path, &cfg, &d);
	if (!err)
		err = compile_for_here(a, cfg, &p, &d);
	if (!err) {
		resolve_new_names(a, p);
		err = apply_policy_now(a, p, cfg);
		if (err) {
			gateway_or_policy_free(p);
			config_free(cfg);
			cfg = NULL;
		}
	} else {
		log_diags(&d, "last-good-failed");
		config_free(cfg);
	}
	diags_free(&d);
	if (err)
		return err;
	snprintf(why, sizeof(why), "running the last good config %.300s: %.300s has errors: %.255s",
		 path, a->s->config, a->config_error);
	log_event(LOG_WARN, "last-good", NULL, "%s", why);
	/* the agent runs it, but not the current config: unready, and status says so */
	snprintf(a->config_error, sizeof(a->config_error), "%.255s", why);
	agent_state_set_unready(&a->state, why);
	record_error(a, false, a->config_error);
	return 0;
}

/* run --confirm: after the deadline, was the change confirmed or reverted? */
static void settle_confirm(struct agent *a)
{
	struct diags d = { 0 };
	uint32_t gen = a->confirm_gen;

	if (instance_relock(a->inst, &d)) {
		diags_free(&d);
		a->confirm_check_at = now_ms() + 500;
		return;
	}
	if (a->inst->rec.confirm_deadline && a->inst->rec.confirm_generation == gen) {
		/* the watcher has not acted yet */
		instance_release(a->inst);
		a->confirm_check_at = now_ms() + 200;
		return;
	}
	if (a->inst->rec.reverted_generation == gen) {
		char why[SPEE_TEXT_LEN];

		log_event(LOG_WARN, "confirm-reverted", NULL,
			  "generation %u was not confirmed and was reverted; %s is applied again "
			  "when it changes, or on SIGHUP",
			  gen, a->s->config);
		gateway_or_policy_free(a->policy);
		if (a->cfg != a->prev_cfg)
			config_free(a->cfg);
		a->policy = a->prev_policy;
		a->cfg = a->prev_cfg;
		memcpy(a->applied_sha, a->prev_sha, sizeof(a->applied_sha));
		/* the slots are not what this agent last wrote: read them back */
		maps_cache_free(&a->cache);
		snprintf(why, sizeof(why),
			 "the change to %s was not confirmed in time and was reverted", a->s->config);
		agent_state_set_unready(&a->state, why);
		if (a->policy)
			sync_timers(a);
	} else {
		log_event(LOG_INFO, "confirmed", NULL, "generation %u is confirmed", gen);
		gateway_or_policy_free(a->prev_policy);
		if (a->prev_cfg != a->cfg)
			config_free(a->prev_cfg);
	}
	a->prev_policy = NULL;
	a->prev_cfg = NULL;
	a->confirm_gen = 0;
	instance_release(a->inst);
}

/* Links or addresses changed: re-applies the running policy when its scope moved. */
static void rescope(struct agent *a)
{
	struct diags d = { 0 };
	struct policy *p = NULL;
	char *sig;

	if (!a->policy)
		return;
	sig = scope_signature(a, a->policy->host);
	if (sig && a->scope_sig && !strcmp(sig, a->scope_sig)) {
		free(sig);
		return;
	}
	free(sig);
	if (compile_for_here(a, a->cfg, &p, &d)) {
		log_diags(&d, "scope");
		diags_free(&d);
		return;
	}
	diags_free(&d);
	log_event(LOG_INFO, "scope", NULL,
		  "the interfaces or addresses of this machine changed: re-applying");
	if (apply_policy_now(a, p, a->cfg))
		gateway_or_policy_free(p);
}

static void check_drift(struct agent *a)
{
	struct drift_report r;
	struct diags d = { 0 };
	char what[512];
	int err;

	if (!a->policy)
		return;
	err = instance_relock(a->inst, &d);
	/* A policy waiting for `speebpf confirm` is not drift (CONTRACT.md section 4). */
	if (!err && a->inst->rec.confirm_deadline)
		goto out;
	if (!err && !a->inst->exists) {
		/* Detached: that is the operator's to undo, not drift. */
		diag_add(&d, NULL, 0, 0, "no instance is pinned at %s", a->s->pin_dir);
		err = -ENOENT;
	}
	if (!err)
		err = gateway_of(a->policy) ?
			      drift_check_gateway(a->inst, gateway_of(a->policy), &a->names,
						  a->s->audit, &r, &d) :
			      drift_check(a->inst, a->policy, &a->names, a->s->audit, &r, &d);
	if (err) {
		log_diags(&d, "drift-check-failed");
		goto out;
	}
	if (!drift_found(&r))
		goto out;
	drift_describe(&r, what, sizeof(what));
	pthread_mutex_lock(&a->state.lock);
	a->state.drift_found++;
	pthread_mutex_unlock(&a->state.lock);
	log_event(LOG_WARN, "drift", NULL, "the kernel is not enforcing the compiled policy: %s; "
					   "restoring it",
		  what);
	/* The slots are not what this agent wrote: read them back from now on. */
	maps_cache_free(&a->cache);
	if (apply_locked(a, a->policy, a->cfg) == 0)
		log_event(LOG_INFO, "restored", NULL, "drift repaired");
out:
	diags_free(&d);
	instance_release(a->inst);
}

/* ---- the loop -------------------------------------------------------- */

/*
 * Probes the fleet from this host with the running policy's config
 * (verify_fleet.h) and puts the results in /metrics. A run that cannot start
 * (no policy yet, this host's addresses not on the machine) is logged and
 * leaves the last results in place.
 */
static void run_verify(struct agent *a)
{
	struct policy_env env = { .resolvers = a->sys_resolvers, .n_resolvers = a->n_sys_resolvers };
	struct verify_fleet_opts opts = {
		.host = a->policy && a->policy->host ? a->policy->host->name : NULL,
		.env = &env,
		.pinned = &a->names, /* the agent's names: --resolve and what it resolved */
		.timeout_ms = a->s->verify_timeout_ms,
	};
	struct prefix *local = NULL;
	struct verify_fleet v = { 0 };
	struct diags d = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int err;

	if (!a->policy || !a->cfg)
		return; /* nothing applied yet: nothing of ours to verify */
	/* this host compiled as reload compiles it: its addresses configured here are itself */
	if (host_local_addresses(&local, &env.n_local_addrs) == 0) {
		env.local_addrs = local;
		env.local_known = true;
	}
	err = verify_fleet_run(a->cfg, &opts, &v, &d);
	for (size_t i = 0; i < v.warnings.n; i++)
		log_event(LOG_WARN, "verify", NULL, "%s", v.warnings.v[i].msg);
	if (err) {
		log_diags(&d, "verify-failed");
		goto out;
	}
	out = open_memstream(&text, &len);
	if (out) {
		verify_render_prometheus(out, &v.plan);
		if (fclose(out)) {
			free(text);
			text = NULL;
		}
	}
	if (text)
		agent_state_set_verify(&a->state, text);
	if (verify_passed(&v.plan))
		log_event(LOG_INFO, "verify", NULL, "verify passed: %zu probes gave what the "
						    "config says",
			  v.plan.n_probes);
	else
		log_event(LOG_WARN, "verify", NULL,
			  "verify failed: %zu of %zu probes did not give what the config says",
			  verify_failures(&v.plan), v.plan.n_probes);
out:
	verify_fleet_free(&v);
	free(local);
	diags_free(&d);
}

static int setup_signals(struct agent *a)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	a->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return a->sigfd < 0 ? -errno : 0;
}

static void read_signals(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_event(LOG_INFO, "reload", NULL, "SIGHUP: reloading %s", a->s->config);
			a->reload_at = now_ms();
			a->reload_forced = true;
		} else {
			a->stop = true;
		}
	}
}

static int64_t next_deadline(const struct agent *a)
{
	int64_t next = a->reload_at;

	if (a->drift_at < next)
		next = a->drift_at;
	if (a->verify_at < next)
		next = a->verify_at;
	if (a->watchdog_usec && a->watchdog_at < next)
		next = a->watchdog_at;
	if (a->rescope_at < next)
		next = a->rescope_at;
	if (a->confirm_gen && a->confirm_check_at < next)
		next = a->confirm_check_at;
	if (a->trim_at < next)
		next = a->trim_at;
	for (size_t i = 0; i < a->n_timers; i++)
		if (!a->timers[i].in_flight && a->timers[i].due_ms < next)
			next = a->timers[i].due_ms;
	return next;
}

static void loop(struct agent *a)
{
	while (!a->stop) {
		int64_t deadline = next_deadline(a), wait_ms;
		int maxfd = a->sigfd > watch_fd(a->watch) ? a->sigfd : watch_fd(a->watch), dns_ms;
		fd_set rd, wr;
		struct timeval tv;

		pthread_mutex_lock(&a->state.lock);
		a->state.loop_at = now_ms() / 1000;
		pthread_mutex_unlock(&a->state.lock);
		FD_ZERO(&rd);
		FD_ZERO(&wr);
		FD_SET(a->sigfd, &rd);
		FD_SET(watch_fd(a->watch), &rd);
		if (a->nlfd >= 0) {
			FD_SET(a->nlfd, &rd);
			if (a->nlfd > maxfd)
				maxfd = a->nlfd;
		}
		dns_ms = resolver_fds(a->res, &rd, &wr, &maxfd);
		wait_ms = deadline == NEVER ? IDLE_WAKE_MS : deadline - now_ms();
		if (wait_ms > IDLE_WAKE_MS)
			wait_ms = IDLE_WAKE_MS;
		if (dns_ms >= 0 && dns_ms < wait_ms)
			wait_ms = dns_ms;
		if (wait_ms < 0)
			wait_ms = 0;
		tv.tv_sec = wait_ms / 1000;
		tv.tv_usec = (wait_ms % 1000) * 1000;
		if (select(maxfd + 1, &rd, &wr, NULL, &tv) < 0) {
			if (errno == EINTR)
				continue;
			log_event(LOG_ERROR, "internal", NULL, "select: %s", strerror(errno));
			break;
		}
		if (FD_ISSET(a->sigfd, &rd))
			read_signals(a);
		if (a->stop)
			break;
		if (FD_ISSET(watch_fd(a->watch), &rd) && watch_process(a->watch) > 0 &&
		    a->reload_at == NEVER)
			a->reload_at = now_ms() + a->s->debounce_ms;
		if (a->nlfd >= 0 && FD_ISSET(a->nlfd, &rd) && netwatch_drain(a->nlfd) &&
		    a->rescope_at == NEVER)
			a->rescope_at = now_ms() + RESCOPE_DEBOUNCE_MS;
		resolver_process(a->res, &rd, &wr);
		if (a->confirm_gen && now_ms() >= a->confirm_check_at)
			settle_confirm(a);
		if (now_ms() >= a->reload_at) {
			bool forced = a->reload_forced;

			a->reload_at = NEVER;
			a->reload_forced = false;
			/* a change of the config: with --confirm, guarded */
			a->applying_change = true;
			reload(a, forced);
			a->applying_change = false;
			trim_later(a);
		}
		query_due_names(a);
		/* while a change waits for its confirmation, nothing else is applied over it */
		if (a->names_changed && a->policy && !a->confirm_gen) {
			a->names_changed = false;
			apply_policy_now(a, a->policy, a->cfg);
		}
		if (now_ms() >= a->rescope_at) {
			if (a->confirm_gen) {
				a->rescope_at = a->confirm_check_at + 100;
			} else {
				a->rescope_at = NEVER;
				rescope(a);
			}
		}
		if (now_ms() >= a->drift_at) {
			check_drift(a);
			a->drift_at = now_ms() + (int64_t)a->s->drift_interval_s * 1000;
		}
		if (now_ms() >= a->verify_at) {
			run_verify(a);
			a->verify_at = now_ms() + (int64_t)a->s->verify_interval_s * 1000;
		}
		if (now_ms() >= a->trim_at)
			give_back_memory(a);
		if (a->watchdog_usec && now_ms() >= a->watchdog_at) {
			/* The loop turned: tell systemd we are alive (it restarts us otherwise). */
			sd_notify(0, "WATCHDOG=1");
			a->watchdog_at = now_ms() + (int64_t)(a->watchdog_usec / 2000);
		}
	}
}

static void agent_free(struct agent *a)
{
	metrics_stop(a->metrics);
	instance_close(a->inst);
	maps_cache_free(&a->cache);
	agent_state_destroy(&a->state);
	for (size_t i = 0; i < a->n_timers; i++) {
		free(a->timers[i].name);
		free(a->timers[i].prev);
	}
	free(a->timers);
	if (a->res)
		resolver_close(a->res);
	watch_close(a->watch);
	if (a->sigfd >= 0)
		close(a->sigfd);
	if (a->nlfd >= 0)
		close(a->nlfd);
	free(a->scope_sig);
	names_free(&a->names);
	if (a->prev_policy != a->policy)
		gateway_or_policy_free(a->prev_policy);
	if (a->prev_cfg != a->cfg && a->prev_cfg != NULL)
		config_free(a->prev_cfg);
	gateway_or_policy_free(a->policy);
	config_free(a->cfg);
	free(a->sys_resolvers);
}

int agent_run(const struct agent_settings *s)
{
	struct agent a = {
		.s = s,
		.sigfd = -1,
		.nlfd = -1,
		.reload_at = NEVER,
		.drift_at = NEVER,
		.verify_at = NEVER,
		.rescope_at = NEVER,
		.trim_at = NEVER,
	};
	bool adopting;
	int err;

	agent_state_init(&a.state);
	err = setup_signals(&a);
	if (!err)
		err = watch_open(s->config, &a.watch);
	if (!err)
		err = resolver_open(&a.res, 2000);
	if (err) {
		log_event(LOG_ERROR, "internal", NULL, "cannot start: %s", strerror(-err));
		goto out;
	}
	/* Without --iface, the interfaces holding the host's addresses are followed. */
	if (!s->n_ifaces) {
		a.nlfd = netwatch_open();
		if (a.nlfd < 0) {
			err = a.nlfd;
			log_event(LOG_ERROR, "internal", NULL, "cannot follow the interfaces: %s",
				  strerror(-err));
			goto out;
		}
	}
	resolver_on_done(a.res, on_dns_done, &a);
	if (resolver_servers(a.res, &a.sys_resolvers, &a.n_sys_resolvers))
		log_event(LOG_WARN, "dns", NULL, "cannot read the system's resolvers");
	{
		struct diags d = { 0 };

		err = instance_open(s->pin_dir, INSTANCE_CREATE, &a.inst, &d);
		log_diags(&d, "internal");
		diags_free(&d);
		if (err)
			goto out;
	}
	adopting = a.inst->exists;
	if (adopting) {
		/* Restart or upgrade: the pinned policy stays in force until a new one is applied. */
		namestore_load(a.inst, &a.names);
		log_event(LOG_INFO, "adopt", NULL,
			  "adopting the instance pinned at %s: enforcement continues, counters "
			  "carry on",
			  s->pin_dir);
	}
	instance_release(a.inst);
	if (s->metrics) {
		err = metrics_start(s->metrics, a.inst, &a.state, &a.metrics);
		if (err) {
			log_event(LOG_ERROR, "internal", NULL, "cannot serve metrics on %s: %s",
				  s->metrics, err == -EINVAL ? "expected ADDR:PORT" : strerror(-err));
			err = err == -EINVAL ? AGENT_EUSAGE : err;
			goto out;
		}
		log_event(LOG_INFO, "metrics", NULL, "serving /metrics and /healthz on %s",
			  s->metrics);
	}
	err = reload(&a, true);
	trim_later(&a);
	if (err == RELOAD_BAD_CONFIG && !adopting && apply_last_good(&a) == 0)
		err = 0;
	if (err == RELOAD_NO_IFACE && !adopting) {
		/* CONTRACT.md section 4: nothing to enforce on, and no --iface: a usage error */
		log_event(LOG_ERROR, "scope", NULL,
			  "no interface holds an address of this host: give --iface IF (or --iface all)");
		err = AGENT_EUSAGE;
		goto out;
	}
	if (err < 0 && !adopting) {
		/* Nothing runs and nothing could be applied: there is nothing to keep. */
		goto out;
	}
	/* a config error or a machine the config does not name: up, unready, watching */
	err = 0;

	if (adopting && !a.ready_sent) {
		/* The pinned policy is enforced even though this config could not replace it. */
		pthread_mutex_lock(&a.state.lock);
		a.state.applied = true;
		pthread_mutex_unlock(&a.state.lock);
		sd_notify(0, "READY=1\nSTATUS=adopted the pinned policy; the config has errors");
		a.ready_sent = true;
	}
	if (!a.ready_sent) {
		/* up, idle or not: systemd's start is done (readiness is /readyz's business) */
		sd_notify(0, a.policy ? "READY=1\nSTATUS=running; the config has errors" :
					"READY=1\nSTATUS=idle: no policy applies here");
		a.ready_sent = true;
	}
	if (sd_watchdog_enabled(0, &a.watchdog_usec) <= 0)
		a.watchdog_usec = 0;
	a.watchdog_at = now_ms();
	if (s->drift_interval_s)
		a.drift_at = now_ms() + (int64_t)s->drift_interval_s * 1000;
	if (s->verify_interval_s)
		a.verify_at = now_ms(); /* the first run at once: the matrix is known from the start */
	log_event(LOG_INFO, "running", NULL, "watching %s; SIGHUP reloads, SIGTERM stops (the "
					     "policy stays enforced)",
		  s->config);
	loop(&a);
	sd_notify(0, "STOPPING=1");
	log_event(LOG_INFO, "stopped", NULL,
		  "stopped; the policy stays enforced (speebpf detach removes it)");
out:
	agent_free(&a);
	return err;
}
