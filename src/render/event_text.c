// SPDX-License-Identifier: GPL-2.0-only
/* event_text.c - a drop event as a line or a JSON object (event_text.h). */
#include "event_text.h"

#include <arpa/inet.h>
#include <json-c/json.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "labels.h"

/* The rules that allow this direction, protocol and port to their peers: "a, b", or "". */
static void allowing_rules(const struct spee_rule_meta *rules, const struct spee_event *e,
			   char *buf, size_t len)
{
	uint16_t port = ntohs(e->dport);
	size_t off = 0;

	buf[0] = '\0';
	if (e->reason != SPEE_REASON_NO_RULE || !e->proto)
		return;
	for (int i = 1; i < SPEE_MAX_RULES && off < len; i++) {
		const struct spee_rule_meta *m = &rules[i];

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

void event_print(FILE *out, bool json, const struct spee_event *e,
		 const struct spee_rule_meta *rules, int64_t mono_to_real_ns)
{
	char when[48], src[INET6_ADDRSTRLEN] = "-", dst[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE] = "-";
	char allow[256], flags[9];
	int64_t real = (int64_t)e->time_ns + mono_to_real_ns;
	time_t secs = (time_t)(real / 1000000000ll);
	const char *proto = e->proto == IPPROTO_TCP ? "tcp" : e->proto == IPPROTO_UDP ? "udp" :
			    e->proto == IPPROTO_ICMP ? "icmp" : e->proto == IPPROTO_ICMPV6 ? "icmpv6" :
			    "ip";
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", gmtime_r(&secs, &tm));
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03lldZ",
		 (long long)(real % 1000000000ll) / 1000000);
	if (!e->connect)
		addr_text(e, e->saddr, src, sizeof(src));
	addr_text(e, e->daddr, dst, sizeof(dst));
	if (e->ifindex && !if_indextoname(e->ifindex, ifname))
		snprintf(ifname, sizeof(ifname), "if%u", e->ifindex);
	allowing_rules(rules, e, allow, sizeof(allow));
	flags_text(e->proto == IPPROTO_TCP ? e->tcp_flags : 0, flags);
	if (json) {
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
		json_object_object_add(o, "would_allow", allow[0] ?
				       json_object_new_string(allow) : NULL);
		json_object_object_add(o, "audit", json_object_new_boolean(e->audit));
		json_object_object_add(o, "connect",
				       json_object_new_boolean(e->connect == SPEE_EV_CONNECT));
		json_object_object_add(o, "sendmsg",
				       json_object_new_boolean(e->connect == SPEE_EV_SENDMSG));
		json_object_object_add(o, "bytes", json_object_new_int64(e->len));
		fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
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
		fprintf(out, "%s %s %s %s %s%s%s%s%s %s%s%s%s\n", when, dir_label(e->dir),
			e->connect == SPEE_EV_CONNECT   ? "connect()" :
			e->connect == SPEE_EV_SENDMSG ? "sendmsg()" :
							ifname,
			proto, from, to, flags[0] ? " [" : "", flags, flags[0] ? "]" : "", reason_label(e->reason),
			e->audit ? " (audit: passed)" : "",
			allow[0] ? "; the port is open to the peers of " : "", allow);
	}
}
