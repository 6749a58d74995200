// SPDX-License-Identifier: GPL-2.0-only
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "counters.h"
#include "links.h"
#include "stats.h"

#ifndef SPEEBPF_VERSION
#define SPEEBPF_VERSION "unknown"
#endif

struct metrics_server {
	struct MHD_Daemon *daemon;
	struct instance *inst;
	struct agent_state *st;
};

void agent_state_init(struct agent_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
}

void agent_state_destroy(struct agent_state *st)
{
	free(st->verify_metrics);
	names_free(&st->names);
	pthread_mutex_destroy(&st->lock);
}

int agent_state_set_names(struct agent_state *st, const struct name_table *t)
{
	struct name_table copy = { 0 };
	int err = names_copy(&copy, t);

	if (err) {
		names_free(&copy);
		return err;
	}
	pthread_mutex_lock(&st->lock);
	names_free(&st->names);
	st->names = copy;
	pthread_mutex_unlock(&st->lock);
	return 0;
}

/* Label values are DNS names: quote what the format requires. */
static void label(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', out);
		fputc(*v, out);
	}
}

static void counter(FILE *out, const char *name, const char *help, uint64_t v)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
		(unsigned long long)v);
}

/* A gauge with one value for each policy map. */
static void policy_map_gauge(FILE *out, const char *name, const char *help, uint64_t exact,
			     uint64_t prefix)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n%s{map=\"spee_exact\"} %llu\n"
		     "%s{map=\"spee_prefix\"} %llu\n",
		name, help, name, name, (unsigned long long)exact, name,
		(unsigned long long)prefix);
}

void agent_state_set_verify(struct agent_state *st, char *text)
{
	char *old;

	pthread_mutex_lock(&st->lock);
	old = st->verify_metrics;
	st->verify_metrics = text;
	pthread_mutex_unlock(&st->lock);
	free(old);
}

void agent_state_render(struct agent_state *st, FILE *out)
{
	pthread_mutex_lock(&st->lock);
	fprintf(out, "# HELP speebpf_last_apply_success 1 when the last apply succeeded.\n"
		     "# TYPE speebpf_last_apply_success gauge\nspeebpf_last_apply_success %d\n",
		st->last_apply_ok);
	fprintf(out, "# HELP speebpf_last_apply_timestamp_seconds When the last apply ran.\n"
		     "# TYPE speebpf_last_apply_timestamp_seconds gauge\n"
		     "speebpf_last_apply_timestamp_seconds %lld\n",
		(long long)st->last_apply_time);
	fprintf(out, "# HELP speebpf_applies_total Applies by result.\n"
		     "# TYPE speebpf_applies_total counter\n"
		     "speebpf_applies_total{result=\"ok\"} %llu\n"
		     "speebpf_applies_total{result=\"error\"} %llu\n",
		(unsigned long long)st->applies_ok, (unsigned long long)st->applies_failed);
	counter(out, "speebpf_config_errors_total",
		"Config loads that failed (the running policy stayed).", st->config_errors);
	counter(out, "speebpf_drift_total",
		"Times the kernel was found not enforcing the compiled policy (then repaired).",
		st->drift_found);
	counter(out, "speebpf_dns_changes_total", "DNS answers that changed a name's addresses.",
		st->dns_changes);
	counter(out, "speebpf_dns_failures_total", "DNS resolutions that failed.",
		st->dns_failures);
	counter(out, "speebpf_policy_map_growths_total",
		"Applies that outgrew the policy maps, which then grew without a gap.",
		st->map_growths);
	policy_map_gauge(out, "speebpf_policy_map_entries",
			 "Entries of a policy map (both policy slots) after the last good apply.",
			 st->exact_entries, st->prefix_entries);
	policy_map_gauge(out, "speebpf_policy_map_capacity",
			 "The entries a policy map holds; an apply that needs more grows it.",
			 st->exact_size, st->prefix_size);
	fprintf(out, "# HELP speebpf_dns_addresses Addresses a DNS name stands for now.\n"
		     "# TYPE speebpf_dns_addresses gauge\n");
	for (size_t i = 0; i < st->names.n; i++) {
		fprintf(out, "speebpf_dns_addresses{name=\"");
		label(out, st->names.v[i].name);
		fprintf(out, "\"} %zu\n", st->names.v[i].n_addrs);
	}
	fprintf(out, "# HELP speebpf_dns_last_success_timestamp_seconds When a DNS name last "
		     "resolved (0: never).\n"
		     "# TYPE speebpf_dns_last_success_timestamp_seconds gauge\n");
	for (size_t i = 0; i < st->names.n; i++) {
		fprintf(out, "speebpf_dns_last_success_timestamp_seconds{name=\"");
		label(out, st->names.v[i].name);
		fprintf(out, "\"} %lld\n", (long long)st->names.v[i].last_ok);
	}
	fprintf(out, "# HELP speebpf_dns_consecutive_failures Failures since a DNS name last "
		     "resolved.\n# TYPE speebpf_dns_consecutive_failures gauge\n");
	for (size_t i = 0; i < st->names.n; i++) {
		fprintf(out, "speebpf_dns_consecutive_failures{name=\"");
		label(out, st->names.v[i].name);
		fprintf(out, "\"} %u\n", st->names.v[i].failures);
	}
	if (st->verify_metrics)
		fputs(st->verify_metrics, out);
	pthread_mutex_unlock(&st->lock);
}

void agent_state_set_unready(struct agent_state *st, const char *text)
{
	pthread_mutex_lock(&st->lock);
	snprintf(st->unready, sizeof(st->unready), "%s", text ? text : "");
	pthread_mutex_unlock(&st->lock);
}

/* True when every hook of the instance is attached. */
static bool attached(struct instance *inst)
{
	struct links_assessment a;
	bool whole;

	if (links_assess(inst, NULL, &a))
		return false;
	whole = links_whole(&a);
	links_assessment_free(&a);
	return whole;
}

/* The agent's loop turns at least this often (it wakes every few seconds when idle). */
#define LIVE_WITHIN_S 60

/* /readyz: the current config's policy is enforced. why: "ok" or the reason, a line. */
static bool ready(struct metrics_server *srv, char *why, size_t len)
{
	bool whole = attached(srv->inst), ok;

	pthread_mutex_lock(&srv->st->lock);
	ok = whole && srv->st->applied && srv->st->last_apply_ok && !srv->st->unready[0];
	snprintf(why, len, "%s\n",
		 srv->st->unready[0] ? srv->st->unready :
		 !srv->st->applied ? "no policy applied yet" :
		 !whole ? "not attached" :
		 !srv->st->last_apply_ok ? "the last apply failed" : "ok");
	pthread_mutex_unlock(&srv->st->lock);
	return ok;
}

/* /metrics: the kernel's counters under the names of stats --prometheus, and the agent's state. */
static int render_metrics(struct metrics_server *srv, char **buf, size_t *len)
{
	struct counter_snapshot *snap = malloc(sizeof(*snap));
	FILE *out;
	int err;

	if (!snap)
		return -ENOMEM;
	out = open_memstream(buf, len);
	if (!out) {
		free(snap);
		return -errno;
	}
	err = counters_read(srv->inst, snap);
	if (!err)
		stats_render_prometheus(out, snap);
	counters_release(snap);
	agent_state_render(srv->st, out);
	fprintf(out, "# HELP speebpf_attached 1 while every hook of the instance is attached.\n"
		     "# TYPE speebpf_attached gauge\nspeebpf_attached %d\n",
		attached(srv->inst));
	{
		char why[600];

		fprintf(out, "# HELP speebpf_ready 1 while the current config's policy is enforced "
			     "(/readyz).\n# TYPE speebpf_ready gauge\nspeebpf_ready %d\n",
			ready(srv, why, sizeof(why)));
	}
	fprintf(out, "# HELP speebpf_info The agent's version.\n# TYPE speebpf_info gauge\n"
		     "speebpf_info{version=\"%s\"} 1\n",
		SPEEBPF_VERSION);
	fclose(out);
	free(snap);
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct metrics_server *srv = cls;
	char *body = NULL;
	size_t len = 0;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", strdup("GET only\n"), 9);
	if (!strcmp(url, "/metrics")) {
		if (render_metrics(srv, &body, &len))
			return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
				     strdup("cannot read the counters\n"), 25);
		return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
	}
	if (!strcmp(url, "/readyz") || !strcmp(url, "/healthz")) {
		char why[600];
		bool ok = ready(srv, why, sizeof(why));

		return reply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
			     strdup(why), strlen(why));
	}
	if (!strcmp(url, "/livez")) {
		struct timespec ts;
		bool ok;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		pthread_mutex_lock(&srv->st->lock);
		ok = ts.tv_sec - srv->st->loop_at <= LIVE_WITHIN_S;
		pthread_mutex_unlock(&srv->st->lock);
		return reply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
			     strdup(ok ? "ok\n" : "the agent's loop is stuck\n"),
			     ok ? 3 : 26);
	}
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain",
		     strdup("/metrics, /livez, /readyz or /healthz\n"), 38);
}

/* "ADDR:PORT", "[V6]:PORT" or ":PORT" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *flags)
{
	char host[INET6_ADDRSTRLEN + 2] = "";
	const char *colon = strrchr(s, ':');
	unsigned long port;
	char *end;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || !port || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		size_t n = strlen(host);

		if (n < 3 || host[n - 1] != ']')
			return -EINVAL;
		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*flags |= MHD_USE_IPv6;
	} else if (!host[0]) {
		/* Every address, both families. */
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons((uint16_t)port);
		*flags |= MHD_USE_DUAL_STACK;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	}
	return 0;
}

int metrics_start(const char *listen, struct instance *inst, struct agent_state *st,
		  struct metrics_server **out)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
	struct sockaddr_storage ss;
	struct metrics_server *srv;
	int err;

	*out = NULL;
	err = parse_listen(listen, &ss, &flags);
	if (err)
		return err;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->inst = inst;
	srv->st = st;
	errno = 0;
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, srv, MHD_OPTION_SOCK_ADDR,
				       (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
				       (unsigned)10, MHD_OPTION_END);
	if (!srv->daemon) {
		err = errno ? -errno : -EADDRINUSE;
		free(srv);
		return err;
	}
	*out = srv;
	return 0;
}

void metrics_stop(struct metrics_server *srv)
{
	if (!srv)
		return;
	MHD_stop_daemon(srv->daemon);
	free(srv);
}
