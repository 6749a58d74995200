// SPDX-License-Identifier: GPL-2.0-only
#include "events.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <json-c/json.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "labels.h"
#include "loader.h"
#include "maps.h"

#define META_REFRESH_NS 1000000000ll /* rule ids are re-read at most once a second */

struct events_reader {
	struct spee_map_fds maps;
	struct ring_buffer *rb;
	bool json;
	FILE *out;
	int64_t mono_to_real_ns; /* event times are CLOCK_MONOTONIC */
	struct spee_rule_meta *meta;
	int64_t meta_read_ns;
	int printed;
};

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void refresh_meta(struct events_reader *r)
{
	int64_t now = clock_ns(CLOCK_MONOTONIC);

	if (now - r->meta_read_ns < META_REFRESH_NS)
		return;
	if (maps_read_rules(&r->maps, r->meta, NULL) == 0)
		r->meta_read_ns = now;
}

/* The rules that allow this direction, protocol and port to their peers: "a, b", or "". */
static void allowing_rules(const struct events_reader *r, const struct spee_event *e, char *buf,
			   size_t len)
{
	uint16_t port = ntohs(e->dport);
	size_t off = 0;

	buf[0] = '\0';
	if (e->reason != SPEE_REASON_NO_RULE || !e->proto)
		return;
	for (int i = 1; i < SPEE_MAX_RULES && off < len; i++) {
		const struct spee_rule_meta *m = &r->meta[i];

		if (!(m->dirs & (1u << e->dir)) || m->proto != e->proto || port < m->port_lo ||
		    port > m->port_hi)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%.*s", off ? ", " : "",
					(int)sizeof(m->id), m->id);
	}
}

static void addr_text(const struct spee_event *e, const uint8_t *a, char *buf, size_t len)
{
	if (!inet_ntop(e->family == SPEE_FAMILY_V4 ? AF_INET : AF_INET6, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static void flags_text(uint8_t f, char *buf)
{
	static const char names[] = "FSRPAUEC";
	size_t n = 0;

	for (int i = 0; i < 8; i++)
		if (f & (1u << i))
			buf[n++] = names[i];
	buf[n] = '\0';
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct events_reader *r = ctx;
	const struct spee_event *e = data;
	char when[48], src[INET6_ADDRSTRLEN] = "-", dst[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE] = "-";
	char rules[256], flags[9];
	int64_t real = e->time_ns + r->mono_to_real_ns;
	time_t secs = (time_t)(real / 1000000000ll);
	const char *proto = e->proto == IPPROTO_TCP ? "tcp" : e->proto == IPPROTO_UDP ? "udp" :
			    e->proto == IPPROTO_ICMP ? "icmp" : e->proto == IPPROTO_ICMPV6 ? "icmpv6" :
			    "ip";
	struct tm tm;

	if (size < sizeof(*e))
		return 0;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", gmtime_r(&secs, &tm));
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03lldZ",
		 (long long)(real % 1000000000ll) / 1000000);
	if (!e->connect)
		addr_text(e, e->saddr, src, sizeof(src));
	addr_text(e, e->daddr, dst, sizeof(dst));
	if (e->ifindex && !if_indextoname(e->ifindex, ifname))
		snprintf(ifname, sizeof(ifname), "if%u", e->ifindex);
	refresh_meta(r);
	allowing_rules(r, e, rules, sizeof(rules));
	flags_text(e->proto == IPPROTO_TCP ? e->tcp_flags : 0, flags);
	if (r->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "time", json_object_new_string(when));
		json_object_object_add(o, "direction", json_object_new_string(dir_label(e->dir)));
		json_object_object_add(o, "interface", e->ifindex ?
				       json_object_new_string(ifname) : NULL);
		json_object_object_add(o, "proto", json_object_new_string(proto));
		json_object_object_add(o, "src", e->connect ? NULL : json_object_new_string(src));
		json_object_object_add(o, "sport", json_object_new_int(ntohs(e->sport)));
		json_object_object_add(o, "dst", json_object_new_string(dst));
		json_object_object_add(o, "dport", json_object_new_int(ntohs(e->dport)));
		json_object_object_add(o, "tcp_flags", json_object_new_string(flags));
		json_object_object_add(o, "reason", json_object_new_string(reason_label(e->reason)));
		json_object_object_add(o, "would_allow", rules[0] ?
				       json_object_new_string(rules) : NULL);
		json_object_object_add(o, "audit", json_object_new_boolean(e->audit));
		json_object_object_add(o, "connect",
				       json_object_new_boolean(e->connect == SPEE_EV_CONNECT));
		json_object_object_add(o, "sendmsg",
				       json_object_new_boolean(e->connect == SPEE_EV_SENDMSG));
		json_object_object_add(o, "bytes", json_object_new_int64(e->len));
		fprintf(r->out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		char from[INET6_ADDRSTRLEN + 16] = "", to[INET6_ADDRSTRLEN + 16];
		bool v6 = e->family == SPEE_FAMILY_V6;

		if (!e->connect)
			snprintf(from, sizeof(from), "%s%s%s:%u -> ", v6 ? "[" : "", src,
				 v6 ? "]" : "", ntohs(e->sport));
		snprintf(to, sizeof(to), "%s%s%s:%u", v6 ? "[" : "", dst, v6 ? "]" : "",
			 ntohs(e->dport));
		fprintf(r->out, "%s %s %s %s %s%s%s%s%s %s%s%s%s\n", when, dir_label(e->dir),
			e->connect == SPEE_EV_CONNECT   ? "connect()" :
			e->connect == SPEE_EV_SENDMSG ? "sendmsg()" :
							ifname,
			proto, from, to, flags[0] ? " [" : "",
			flags, flags[0] ? "]" : "", reason_label(e->reason),
			e->audit ? " (audit: passed)" : "",
			rules[0] ? "; the port is open to the peers of " : "", rules);
	}
	r->printed++;
	return 0;
}

int events_open(const char *pin_dir, bool json, FILE *out, struct events_reader **out_r,
		struct diags *d)
{
	struct events_reader *r = calloc(1, sizeof(*r));
	int err;

	*out_r = NULL;
	if (!r)
		return -ENOMEM;
	r->meta = calloc(SPEE_MAX_RULES, sizeof(*r->meta));
	if (!r->meta) {
		free(r);
		return -ENOMEM;
	}
	r->json = json;
	r->out = out;
	r->mono_to_real_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	err = loader_open_pinned(&r->maps, pin_dir, d);
	if (err) {
		free(r->meta);
		free(r);
		return err;
	}
	r->rb = ring_buffer__new(r->maps.fd[SPEE_MAP_EVENTS], on_event, r, NULL);
	if (!r->rb) {
		err = -errno;
		diag_add(d, NULL, 0, 0, "cannot read the events of %s: %s", pin_dir, strerror(-err));
		events_close(r);
		return err;
	}
	*out_r = r;
	return 0;
}

int events_poll(struct events_reader *r, int timeout_ms)
{
	int before = r->printed, err;

	err = timeout_ms ? ring_buffer__poll(r->rb, timeout_ms) : ring_buffer__consume(r->rb);
	fflush(r->out);
	if (err < 0 && err != -EINTR)
		return err;
	return r->printed - before;
}

int events_stats(struct events_reader *r, uint64_t out[SPEE_EV_STAT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	if (ncpu <= 0)
		return -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t s = 0; s < SPEE_EV_STAT_MAX; s++) {
		out[s] = 0;
		if (bpf_map_lookup_elem(r->maps.fd[SPEE_MAP_EV_STATS], &s, v) == 0)
			for (int c = 0; c < ncpu; c++)
				out[s] += v[c];
	}
	free(v);
	return 0;
}

void events_close(struct events_reader *r)
{
	if (!r)
		return;
	ring_buffer__free(r->rb);
	loader_close_pinned(&r->maps);
	free(r->meta);
	free(r);
}
