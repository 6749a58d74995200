// SPDX-License-Identifier: GPL-2.0-only
/*
 * The baselines (baseline.h). Row order is tie order among them; they come
 * after every other rule, so that a site rule on the same port and peer
 * counts the traffic.
 *
 * What the rows allow, and why so:
 *  - NTP: the host's clock asks its time servers; the answers are replies.
 *  - DHCP: a client asks from port 68 (from 0.0.0.0 to the broadcast address
 *    before it has an address, unicast to its server when it renews) and the
 *    servers answer from port 67 to the broadcast address or to the address
 *    they offer: no reply of the flow the request opened, so the answers
 *    need a rule of their own (udp/68 in from any IPv4 address). DHCPv6
 *    asks All_DHCP_Relay_Agents_and_Servers (ff02::1:2) and is answered from
 *    a link-local address to the client's link-local address.
 *  - ICMP echo: requests in from ADM and out to ANY. Their echo replies pass
 *    as the replies of the requests the rules allowed (state, as for any
 *    connection): no rule allows an unsolicited echo reply.
 *  - kubernetes-node: the control plane calls the kubelet (tcp/10250); the
 *    node calls the API server (tcp/6443); the nodes carry the pod network
 *    between them (VXLAN on its IANA port and on the Linux kernel's default
 *    8472, Geneve) and exchange routes (BGP); MONITORING scrapes the agent.
 */
#include "baseline.h"

#include <netinet/in.h>
#include <string.h>

#include "config_yaml.h"

#define H BASELINE_EVERY_HOST

const struct baseline_rule baseline_rules[] = {
	{ "base-ntp", BASELINE_LINUX_HOST, IPPROTO_UDP, 123, { H }, { "NTP" },
	  "NTP: the host's clock (chrony, ntpd, systemd-timesyncd) asks its time servers" },
	{ "base-dhcp", BASELINE_LINUX_HOST, IPPROTO_UDP, 67, { H }, { "0.0.0.0/0" },
	  "DHCP client: discover and request, broadcast from 0.0.0.0 before the host has an "
	  "address, then unicast renewals to the server" },
	{ "base-dhcp-reply", BASELINE_LINUX_HOST, IPPROTO_UDP, 68, { "0.0.0.0/0" }, { H },
	  "DHCP client: the servers' offers and acks (from port 67, to the broadcast address or "
	  "the offered one: no reply of the request's flow)" },
	{ "base-dhcpv6", BASELINE_LINUX_HOST, IPPROTO_UDP, 547, { H }, { "ff02::1:2" },
	  "DHCPv6 client: solicit, request and renew to All_DHCP_Relay_Agents_and_Servers" },
	{ "base-dhcpv6-reply", BASELINE_LINUX_HOST, IPPROTO_UDP, 546, { "fe80::/10" }, { H },
	  "DHCPv6 client: advertise and reply, from a server's or relay's link-local address" },
	{ "base-echo-in", BASELINE_LINUX_HOST, IPPROTO_ICMP, 8, { "ADM" }, { H },
	  "ping from the administrators (the echo replies pass as replies)" },
	{ "base-echo6-in", BASELINE_LINUX_HOST, IPPROTO_ICMPV6, 128, { "ADM" }, { H },
	  "ping over IPv6 from the administrators (the echo replies pass as replies)" },
	{ "base-echo-out", BASELINE_LINUX_HOST, IPPROTO_ICMP, 8, { H }, { "ANY" },
	  "ping from the host (the echo replies pass as replies)" },
	{ "base-echo6-out", BASELINE_LINUX_HOST, IPPROTO_ICMPV6, 128, { H }, { "ANY" },
	  "ping over IPv6 from the host (the echo replies pass as replies)" },
	{ "base-kubelet", BASELINE_KUBERNETES_NODE, IPPROTO_TCP, 10250, { "K8S_CONTROL" }, { H },
	  "the kubelet's API, called by the control plane (logs, exec, metrics)" },
	{ "base-apiserver", BASELINE_KUBERNETES_NODE, IPPROTO_TCP, 6443, { H }, { "K8S_CONTROL" },
	  "the Kubernetes API server, called by the kubelet and the node's agents" },
	{ "base-vxlan", BASELINE_KUBERNETES_NODE, IPPROTO_UDP, 4789, { H }, { H },
	  "the pod network's VXLAN overlay between the nodes (IANA port: Calico, Cilium)" },
	{ "base-vxlan-linux", BASELINE_KUBERNETES_NODE, IPPROTO_UDP, 8472, { H }, { H },
	  "the pod network's VXLAN overlay on the Linux kernel's default port (flannel, Cilium)" },
	{ "base-geneve", BASELINE_KUBERNETES_NODE, IPPROTO_UDP, 6081, { H }, { H },
	  "the pod network's Geneve overlay between the nodes (Cilium, OVN-Kubernetes, Antrea)" },
	{ "base-bgp", BASELINE_KUBERNETES_NODE, IPPROTO_TCP, 179, { H }, { H },
	  "BGP between the nodes (Calico, kube-router, MetalLB)" },
	{ "base-agent-metrics", BASELINE_KUBERNETES_NODE, IPPROTO_TCP, BASELINE_PORT_METRICS,
	  { "MONITORING" }, { H },
	  "the speebpf agent's /metrics and /readyz (run --metrics; the config's metrics-port)" },
};

const size_t baseline_rule_count = sizeof(baseline_rules) / sizeof(baseline_rules[0]);

static const struct {
	const char *name;
	unsigned bit;
} sets[BASELINE_SET_COUNT] = {
	{ "linux-host", BASELINE_LINUX_HOST },
	{ "kubernetes-node", BASELINE_KUBERNETES_NODE },
};

unsigned baseline_parse(const char *name)
{
	for (size_t i = 0; i < BASELINE_SET_COUNT; i++)
		if (!strcmp(name, sets[i].name))
			return sets[i].bit;
	return 0;
}

const char *baseline_name(unsigned set)
{
	for (size_t i = 0; i < BASELINE_SET_COUNT; i++)
		if (set == sets[i].bit)
			return sets[i].name;
	return "?";
}

const char *baseline_suggest(const char *s)
{
	const char *best = NULL;
	size_t best_d = Y_TYPO_MAX + 1;

	for (size_t i = 0; i < BASELINE_SET_COUNT; i++) {
		size_t d = y_edit_distance(s, sets[i].name);

		if (d < best_d) {
			best_d = d;
			best = sets[i].name;
		}
	}
	return best;
}
