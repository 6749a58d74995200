// SPDX-License-Identifier: GPL-2.0-only
/*
 * What `speebpf suggest` learns from, on the real kernel with
 * BPF_PROG_TEST_RUN: a connection into the host through an ANY rule is
 * noted, per rule, direction and address, when the ACK that completes its
 * handshake finds the kernel's half-open connection (a real listener
 * answered a real SYN); SYNs alone, however many and from whatever
 * address, note nothing. The host's own SYNs out through an ANY rule are
 * noted as they leave. Replies and packets of established connections add
 * nothing, nor do rules matched by an exact or prefix peer; a UDP ANY rule
 * counts new flows, not datagrams; the table stays within its bound under
 * more addresses than it holds. A slot given to a new rule id starts with
 * nothing seen. In audit mode, would-drops for want of a rule are tallied
 * by direction, address, protocol and port: a connection in once its
 * handshake completes, the host's SYNs out, UDP datagrams; in enforce mode
 * nothing is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bpfenv.h"
#include "config.h"
#include "loader.h"
#include "maps.h"
#include "pkt.h"
#include "policy.h"

#define HOST4 "198.18.0.11"
#define HOST6 "fd00:5e::11"
#define MGMT4 "198.18.0.10"
#define PEER_A "198.18.4.1"
#define PEER_B "198.18.4.2"
#define PEER_C "198.18.4.3"
#define PEER_D "198.18.4.4"
#define PEER_6 "fd00:5e::4:1"

#define VETH_HOST "spe-sga" /* holds HOST4: the listeners' side */
#define VETH_PEER "spe-sgb" /* where the peers' frames come from */

static struct loader l;
static int veth;
static int listeners[4]; /* open listening sockets, closed by close_listeners() */
static size_t n_listeners;

/* cas1 holds CAS and IH: cas-https (443 in from ANY), ih-ews (443 out to ANY), ih-internal (8472 in from MGMT). */
static const char fleet[] = "hosts:\n"
			    "  - {name: mgmt1, roles: [MGMT], addresses: [198.18.0.10]}\n"
			    "  - {name: cas1, roles: [CAS, IH], addresses: [198.18.0.11, \"fd00:5e::11\"]}\n"
			    "rules:\n"
			    "  - {id: discovery, proto: udp, port: 5353, from: [any], to: [CAS]}\n"
			    "mode: %s\n";

/* The same fleet with one more rule id, which takes a counter slot never used before. */
static const char fleet_more[] = "hosts:\n"
				 "  - {name: mgmt1, roles: [MGMT], addresses: [198.18.0.10]}\n"
				 "  - {name: cas1, roles: [CAS, IH], addresses: [198.18.0.11, \"fd00:5e::11\"]}\n"
				 "rules:\n"
				 "  - {id: discovery, proto: udp, port: 5353, from: [any], to: [CAS]}\n"
				 "  - {id: newcomer, proto: tcp, port: 9999, from: [any], to: [CAS]}\n"
				 "mode: %s\n";

static void apply_fleet(const char *fleet_fmt, const char *mode)
{
	struct maps_apply_opts opts = { 0 };
	struct maps_apply_result res;
	struct diags d = { 0 };
	struct config *cfg;
	struct policy *p;
	char yaml[512];

	snprintf(yaml, sizeof(yaml), fleet_fmt, mode);
	assert_int_equal(config_parse("suggest.yaml", yaml, strlen(yaml), &cfg, &d), 0);
	assert_int_equal(policy_compile(cfg, "cas1", NULL, &p, &d), 0);
	assert_int_equal(maps_apply(&l.maps, p, NULL, &opts, &res, &d), 0);
	policy_free(p);
	config_free(cfg);
	diags_free(&d);
}

static void apply(const char *mode)
{
	apply_fleet(fleet, mode);
}

/* Runs one packet: ingress through XDP, egress through the cgroup program. Returns the verdict. */
static uint32_t run(bool egress, const char *src, const char *dst, uint8_t proto, uint16_t sport,
		    uint16_t dport, uint8_t flags)
{
	struct pkt_spec s = {
		.src = src, .dst = dst, .proto = proto, .sport = sport, .dport = dport,
		.tcp_flags = flags,
	};
	uint8_t frame[PKT_MAX];
	int len = pkt_build(&s, frame, sizeof(frame));
	uint32_t ret = 0;

	assert_true(len > 0);
	assert_int_equal(bpfenv_run(loader_prog_fd(&l, egress ? LOADER_PROG_EGRESS : LOADER_PROG_XDP),
				    egress ? BPFENV_EGRESS : BPFENV_XDP, frame, (size_t)len,
				    egress ? veth : 0, &ret),
			 0);
	return ret;
}

/* A TCP segment from src in to the host (of src's family), through XDP. */
static uint32_t tcp_in(const char *src, uint16_t sport, uint16_t dport, uint8_t flags)
{
	return run(false, src, strchr(src, ':') ? HOST6 : HOST4, IPPROTO_TCP, sport, dport, flags);
}

static uint32_t syn_in(const char *src, uint16_t sport, uint16_t dport)
{
	return tcp_in(src, sport, dport, PKT_SYN);
}

/* The counter slot the policy gave rule id. */
static uint16_t slot_of(const char *id)
{
	struct spee_rule_meta m;

	for (uint32_t s = 1; s < SPEE_MAX_RULES; s++) {
		assert_int_equal(bpf_map_lookup_elem(l.maps.fd[SPEE_MAP_RULES], &s, &m), 0);
		if (m.dirs && !strcmp(m.id, id))
			return (uint16_t)s;
	}
	fail_msg("rule %s has no slot", id);
	return 0;
}

static void addr_of(const char *text, uint8_t *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	*family = strchr(text, ':') ? SPEE_FAMILY_V6 : SPEE_FAMILY_V4;
	assert_int_equal(inet_pton(*family == SPEE_FAMILY_V6 ? AF_INET6 : AF_INET, text, addr), 1);
}

/* The count spee_seen holds for (rule, dir, address): 0 when there is no entry. */
static uint64_t seen(const char *id, uint8_t dir, const char *addr)
{
	struct spee_seen_key k = { .rule = slot_of(id), .dir = dir };
	struct spee_tally t;

	addr_of(addr, &k.family, k.addr);
	if (bpf_map_lookup_elem(l.maps.fd[SPEE_MAP_SEEN], &k, &t))
		return 0;
	assert_true(t.first_ns > 0 && t.first_ns <= t.last_ns);
	return t.count;
}

static uint64_t would(uint8_t dir, const char *addr, uint8_t proto, uint16_t port)
{
	struct spee_would_key k = { .dir = dir, .proto = proto, .port = htons(port) };
	struct spee_tally t;

	addr_of(addr, &k.family, k.addr);
	if (bpf_map_lookup_elem(l.maps.fd[SPEE_MAP_WOULD], &k, &t))
		return 0;
	assert_true(t.first_ns > 0 && t.first_ns <= t.last_ns);
	return t.count;
}

/* Entries in a hash map, and the sum of their counts. */
static size_t entries(int fd, size_t ksz, uint64_t *sum)
{
	uint8_t key[32], next[32];
	struct spee_tally t;
	size_t n = 0;
	void *prev = NULL;

	*sum = 0;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, ksz);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, &t))
			continue;
		*sum += t.count;
		n++;
	}
	return n;
}

/* Closes the listeners, and with them their half-open connections. */
static void close_listeners(void)
{
	while (n_listeners)
		assert_int_equal(close(listeners[--n_listeners]), 0);
}

/* A fresh start for a test: no listeners, no tallies, no flows. */
static void clear_tallies(void)
{
	close_listeners();
	assert_int_equal(bpfenv_clear_map(l.maps.fd[SPEE_MAP_SEEN], sizeof(struct spee_seen_key)), 0);
	assert_int_equal(bpfenv_clear_map(l.maps.fd[SPEE_MAP_WOULD], sizeof(struct spee_would_key)),
			 0);
	assert_int_equal(bpfenv_clear_map(l.maps.fd[SPEE_MAP_FLOWS], sizeof(struct spee_flow_key)),
			 0);
}

/* Notes (rule slot, ingress, address) in spee_seen, as the programs would. */
static void note_seen(uint16_t slot, const char *addr)
{
	struct spee_seen_key k = { .rule = slot, .dir = SPEE_DIR_INGRESS };
	struct spee_tally t = { .count = 1, .first_ns = 1, .last_ns = 1 };

	addr_of(addr, &k.family, k.addr);
	assert_int_equal(bpf_map_update_elem(l.maps.fd[SPEE_MAP_SEEN], &k, &t, BPF_ANY), 0);
}

/* The first slot that no rule id has held: the one a new id takes next. */
static uint16_t next_fresh_slot(void)
{
	struct spee_rule_meta m;

	for (uint32_t s = 1; s < SPEE_MAX_RULES; s++) {
		assert_int_equal(bpf_map_lookup_elem(l.maps.fd[SPEE_MAP_RULES], &s, &m), 0);
		if (!m.id[0])
			return (uint16_t)s;
	}
	fail_msg("no slot was ever left unused");
	return 0;
}

static uint64_t seen_in_slot(uint16_t slot, const char *addr)
{
	struct spee_seen_key k = { .rule = slot, .dir = SPEE_DIR_INGRESS };
	struct spee_tally t;

	addr_of(addr, &k.family, k.addr);
	return bpf_map_lookup_elem(l.maps.fd[SPEE_MAP_SEEN], &k, &t) ? 0 : t.count;
}

/*
 * A slot given to a new rule id starts with nothing seen (what an older
 * id of the slot saw is not the new rule's); the other rules keep theirs,
 * and an apply that gives no slot to a new id forgets nothing.
 */
static void a_new_rule_id_starts_with_nothing_seen(void **state)
{
	uint16_t fresh, https;

	(void)state;
	apply("enforce");
	clear_tallies();
	fresh = next_fresh_slot();
	https = slot_of("cas-https");
	note_seen(fresh, PEER_A);
	note_seen(https, PEER_B);
	apply_fleet(fleet_more, "enforce");
	assert_int_equal(slot_of("newcomer"), fresh);
	assert_int_equal(seen_in_slot(fresh, PEER_A), 0);
	assert_int_equal(seen("cas-https", SPEE_DIR_INGRESS, PEER_B), 1);
	/* the same policy again: no new id, nothing forgotten */
	note_seen(fresh, PEER_C);
	apply_fleet(fleet_more, "enforce");
	assert_int_equal(seen("newcomer", SPEE_DIR_INGRESS, PEER_C), 1);
	assert_int_equal(seen("cas-https", SPEE_DIR_INGRESS, PEER_B), 1);
	apply("enforce");
}

static int setup(void **state)
{
	struct loader_sizes sz;
	struct diags d = { 0 };

	(void)state;
	veth = bpfenv_netns(VETH_HOST, VETH_PEER, HOST4, NULL);
	/*
	 * The peers are routed out of the host's veth, to its other end,
	 * which answers no ARP: a listener's SYN-ACK to them goes nowhere,
	 * and the connection stays half-open.
	 */
	if (veth < 0 || bpfenv_ip("route", "add", "198.18.0.0/16", "dev", VETH_HOST, NULL))
		return -1;
	loader_sizes_default(&sz);
	if (loader_load(&l, &sz, NULL, &d)) {
		diags_print(stderr, &d);
		return -1;
	}
	diags_free(&d);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	while (n_listeners)
		close(listeners[--n_listeners]);
	loader_close(&l);
	return 0;
}

/* A listener on HOST4:port, as a service of the host, until close_listeners(). */
static void listen_on(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, HOST4, &a.sin_addr), 1);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_true(n_listeners < sizeof(listeners) / sizeof(listeners[0]));
	listeners[n_listeners++] = fd;
}

/* Whether /proc/net/tcp lists HOST4:dport <- peer:sport in SYN_RECV (a half-open connection). */
static bool listed_half_open(const char *peer, uint16_t sport, uint16_t dport)
{
	struct in_addr local, remote;
	char want[64], line[256];
	bool found = false;
	FILE *f;

	assert_int_equal(inet_pton(AF_INET, HOST4, &local), 1);
	assert_int_equal(inet_pton(AF_INET, peer, &remote), 1);
	/* the kernel prints each address as its 32-bit word, in the machine's byte order */
	snprintf(want, sizeof(want), "%08X:%04X %08X:%04X 03 ", (unsigned)local.s_addr, dport,
		 (unsigned)remote.s_addr, sport);
	f = fopen("/proc/net/tcp", "r");
	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, want) != NULL;
	fclose(f);
	return found;
}

/*
 * A SYN from peer:sport to HOST4:dport, sent from the veth's other end to
 * the host's real stack, which answers it (the SYN-ACK goes nowhere) and
 * keeps the connection half-open, as the kernel holds it until the
 * handshake's ACK.
 */
static void half_open(const char *peer, uint16_t sport, uint16_t dport)
{
	struct pkt_spec syn = {
		.src = peer, .dst = HOST4, .proto = IPPROTO_TCP, .sport = sport, .dport = dport,
		.tcp_flags = PKT_SYN,
	};
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = ETH_ALEN };
	struct ifreq ifr = { 0 };
	uint8_t frame[PKT_MAX];
	int len = pkt_build(&syn, frame, sizeof(frame)), fd, i;

	assert_true(len > 0);
	assert_int_equal(pkt_tcp4_checksum(frame, (size_t)len), 0);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", VETH_HOST);
	assert_int_equal(ioctl(fd, SIOCGIFHWADDR, &ifr), 0);
	memcpy(frame, ifr.ifr_hwaddr.sa_data, ETH_ALEN); /* to the host's veth */
	memcpy(to.sll_addr, frame, ETH_ALEN);
	to.sll_ifindex = (int)if_nametoindex(VETH_PEER);
	assert_true(to.sll_ifindex > 0);
	assert_int_equal(sendto(fd, frame, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to)),
			 len);
	close(fd);
	/* the stack takes it in a softirq of its own: wait for it, 2 s at most */
	for (i = 0; i < 200 && !listed_half_open(peer, sport, dport); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	if (i == 200)
		fail_msg("%s:%u -> %s:%u did not become half-open", peer, sport, HOST4, dport);
}

/*
 * SYNs alone note nothing: their source addresses may be forged (a flood
 * of spoofed SYNs through cas-https, or to a port no rule allows in audit
 * mode, leaves both tables empty), though each is judged as before.
 */
static void syns_alone_note_nothing(void **state)
{
	char addr[INET_ADDRSTRLEN];
	uint64_t sum;

	(void)state;
	apply("enforce");
	clear_tallies();
	assert_int_equal(syn_in(PEER_A, 40000, 443), XDP_PASS);
	assert_int_equal(syn_in(PEER_6, 40020, 443), XDP_PASS);
	for (int i = 0; i < 256; i++) {
		snprintf(addr, sizeof(addr), "198.19.7.%d", i);
		assert_int_equal(syn_in(addr, (uint16_t)(40000 + i), 443), XDP_PASS);
		assert_int_equal(syn_in(addr, (uint16_t)(40000 + i), 9100), XDP_DROP);
	}
	assert_int_equal(entries(l.maps.fd[SPEE_MAP_SEEN], sizeof(struct spee_seen_key), &sum), 0);
	apply("audit");
	for (int i = 0; i < 256; i++) {
		snprintf(addr, sizeof(addr), "198.19.7.%d", i);
		assert_int_equal(syn_in(addr, (uint16_t)(40000 + i), 9100), XDP_PASS);
		assert_int_equal(syn_in(addr, (uint16_t)(40000 + i), 443), XDP_PASS);
	}
	assert_int_equal(entries(l.maps.fd[SPEE_MAP_SEEN], sizeof(struct spee_seen_key), &sum), 0);
	assert_int_equal(entries(l.maps.fd[SPEE_MAP_WOULD], sizeof(struct spee_would_key), &sum), 0);
}

/*
 * The ACK that finds a half-open connection notes its peer under the ANY
 * rule that lets its SYN in, once per handshake; a reset that ends one,
 * an ACK that finds only the listener (a SYN-cookie handshake, or a
 * forged ACK) and the established connection's packets note nothing.
 */
static void a_completed_handshake_notes_its_peer(void **state)
{
	uint64_t sum;

	(void)state;
	apply("enforce");
	clear_tallies();
	listen_on(443);
	half_open(PEER_A, 40000, 443);
	half_open(PEER_B, 40001, 443);
	half_open(PEER_B, 40002, 443);
	half_open(PEER_C, 40003, 443);
	assert_int_equal(entries(l.maps.fd[SPEE_MAP_SEEN], sizeof(struct spee_seen_key), &sum), 0);

	assert_int_equal(tcp_in(PEER_C, 40003, 443, PKT_RST | PKT_ACK), XDP_PASS);
	assert_int_equal(tcp_in(PEER_A, 40000, 443, PKT_ACK), XDP_PASS);
	assert_int_equal(tcp_in(PEER_B, 40001, 443, PKT_ACK), XDP_PASS);
	assert_int_equal(tcp_in(PEER_B, 40002, 443, PKT_ACK), XDP_PASS);
	assert_int_equal(tcp_in(PEER_D, 40004, 443, PKT_ACK), XDP_PASS); /* the listener only */
	assert_int_equal(seen("cas-https", SPEE_DIR_INGRESS, PEER_A), 1);
	assert_int_equal(seen("cas-https", SPEE_DIR_INGRESS, PEER_B), 2);
	assert_int_equal(seen("cas-https", SPEE_DIR_INGRESS, PEER_C), 0);
	assert_int_equal(seen("cas-https", SPEE_DIR_INGRESS, PEER_D), 0);
	assert_int_equal(entries(l.maps.fd[SPEE_MAP_SEEN], sizeof(struct spee_seen_key), &sum), 2);
	assert_int_equal(sum, 3);
	/* ih-internal (8472 in from MGMT) names its peers: no ANY rule's */
	close_listeners();
	listen_on(8472);
	half_open(MGMT4, 40005, 8472);
	assert_int_equal(tcp_in(MGMT4, 40005, 8472, PKT_ACK), XDP_PASS);
	assert_int_equal(entries(l.maps.fd[SPEE_MAP_SEEN], sizeof(struct spee_seen_key), &sum), 2);
	close_listeners();
}

/* The handshake mark of the flow HOST4:lport <- peer:rport, or -1 when there is no such flow. */
static int64_t flow_handshake(const char *peer, uint16_t rport, uint16_t lport)
{
	struct spee_flow_key k = { .family = SPEE_FAMILY_V4, .proto = IPPROTO_TCP,
				   .lport = htons(lport), .rport = htons(rport) };
	struct spee_flow_state st;

	assert_int_equal(inet_pton(AF_INET, HOST4, k.laddr), 1);
	assert_int_equal(inet_pton(AF_INET, peer, k.raddr), 1);
	if (bpf_map_lookup_elem(l.maps.fd[SPEE_MAP_FLOWS], &k, &st))
		return -1;
	return st.handshake;
}

/*
 * Where the host's egress program lets the SYN-ACK out, its flow carries
 * the handshake: the first ACK, found in the flow table (where the socket
 * table is no longer asked), notes the connection once and clears the
 * mark; later packets of the connection note nothing.
 */
static void the_syn_acks_flow_carries_the_handshake(void **state)
{
	uint64_t sum;

	(void)state;
	apply("enforce");
	clear_tallies();
	listen_on(443);
	half_open(PEER_A, 40010, 443);
	/* the SYN-ACK, as the request socket sends it (no full socket: the flow table's way) */
	assert_int_equal(run(true, HOST4, PEER_A, IPPROTO_TCP, 443, 40010, PKT_SYN | PKT_ACK), 1);
	assert_int_equal(flow_handshake(PEER_A, 40010, 443), 1);
	assert_int_equal(tcp_in(PEER_A, 40010, 443, PKT_RST | PKT_ACK), XDP_PASS);
	assert_int_equal(seen("cas-https", SPEE_DIR_INGRESS, PEER_A), 0);
	assert_int_equal(flow_handshake(PEER_A, 40010, 443), 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tcp_in(PEER_A, 40010, 443, PKT_ACK), XDP_PASS);
	assert_int_equal(flow_handshake(PEER_A, 40010, 443), 0);
	assert_int_equal(seen("cas-https", SPEE_DIR_INGRESS, PEER_A), 1);
	assert_int_equal(entries(l.maps.fd[SPEE_MAP_SEEN], sizeof(struct spee_seen_key), &sum), 1);
	close_listeners();
}

static void replies_and_established_packets_add_nothing(void **state)
{
	uint64_t sum;

	(void)state;
	apply("enforce");
	clear_tallies();
	/* The host opens a connection through ih-ews (443 out to ANY): one SYN, one entry. */
	assert_int_equal(run(true, HOST4, PEER_A, IPPROTO_TCP, 50000, 443, PKT_SYN), 1);
	assert_int_equal(seen("ih-ews", SPEE_DIR_EGRESS, PEER_A), 1);
	/* Its replies in, its packets out: established by the flow table, tallied nowhere. */
	assert_int_equal(run(false, PEER_A, HOST4, IPPROTO_TCP, 443, 50000, PKT_SYN | PKT_ACK),
			 XDP_PASS);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(run(false, PEER_A, HOST4, IPPROTO_TCP, 443, 50000, PKT_ACK),
				 XDP_PASS);
		assert_int_equal(run(true, HOST4, PEER_A, IPPROTO_TCP, 50000, 443, PKT_ACK), 1);
	}
	/* A SYN through a rule of exact peers (ih-internal from MGMT) is no ANY rule's. */
	assert_int_equal(syn_in(MGMT4, 40000, 8472), XDP_PASS);
	/* An ACK nobody holds is dropped, and tallied nowhere (enforce mode). */
	assert_int_equal(run(false, PEER_B, HOST4, IPPROTO_TCP, 40000, 443, PKT_ACK), XDP_DROP);
	assert_int_equal(seen("ih-ews", SPEE_DIR_EGRESS, PEER_A), 1);
	assert_int_equal(entries(l.maps.fd[SPEE_MAP_SEEN], sizeof(struct spee_seen_key), &sum), 1);
	assert_int_equal(sum, 1);
	assert_int_equal(entries(l.maps.fd[SPEE_MAP_WOULD], sizeof(struct spee_would_key), &sum), 0);
}

static void a_udp_any_rule_counts_new_flows_not_datagrams(void **state)
{
	(void)state;
	apply("enforce");
	clear_tallies();
	for (int i = 0; i < 4; i++)
		assert_int_equal(run(false, PEER_A, HOST4, IPPROTO_UDP, 5353, 5353, 0), XDP_PASS);
	assert_int_equal(seen("discovery", SPEE_DIR_INGRESS, PEER_A), 1);
	/* another source port: another flow */
	assert_int_equal(run(false, PEER_A, HOST4, IPPROTO_UDP, 5354, 5353, 0), XDP_PASS);
	assert_int_equal(seen("discovery", SPEE_DIR_INGRESS, PEER_A), 2);
}

static void the_table_stays_within_its_bound(void **state)
{
	struct bpf_map_info info;
	uint64_t sum;
	size_t n;
	char addr[INET_ADDRSTRLEN];
	int i, total = SPEE_SEEN_ENTRIES + SPEE_SEEN_ENTRIES / 4;

	(void)state;
	apply("enforce");
	clear_tallies();
	assert_int_equal(loader_map_info(l.maps.fd[SPEE_MAP_SEEN], &info), 0);
	assert_int_equal(info.max_entries, SPEE_SEEN_ENTRIES);
	assert_int_equal(info.type, BPF_MAP_TYPE_LRU_HASH);
	/* new flows through discovery (5353 in from ANY) from more addresses than it holds */
	for (i = 0; i < total; i++) {
		snprintf(addr, sizeof(addr), "198.19.%d.%d", (i >> 8) & 0xff, i & 0xff);
		assert_int_equal(run(false, addr, HOST4, IPPROTO_UDP, 5353, 5353, 0), XDP_PASS);
	}
	n = entries(l.maps.fd[SPEE_MAP_SEEN], sizeof(struct spee_seen_key), &sum);
	assert_true(n <= SPEE_SEEN_ENTRIES);
	assert_true(n >= SPEE_SEEN_ENTRIES / 2); /* LRU evicts, it does not empty */
	assert_int_equal(sum, n); /* one flow each */
	/* the newest is kept */
	snprintf(addr, sizeof(addr), "198.19.%d.%d", ((total - 1) >> 8) & 0xff, (total - 1) & 0xff);
	assert_int_equal(seen("discovery", SPEE_DIR_INGRESS, addr), 1);
}

static void audit_mode_tallies_would_drops_by_address_and_port(void **state)
{
	uint64_t sum;

	(void)state;
	apply("audit");
	clear_tallies();
	/* connections in to a port no rule allows, through to a listener (audit mode) */
	listen_on(9100);
	for (int i = 0; i < 3; i++)
		half_open(PEER_A, (uint16_t)(41000 + i), 9100);
	half_open(PEER_B, 41000, 9100);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(syn_in(PEER_A, (uint16_t)(41000 + i), 9100), XDP_PASS);
		assert_int_equal(tcp_in(PEER_A, (uint16_t)(41000 + i), 9100, PKT_ACK), XDP_PASS);
	}
	assert_int_equal(tcp_in(PEER_B, 41000, 9100, PKT_ACK), XDP_PASS);
	/* an ACK no connection holds: a would-drop, but no connection */
	assert_int_equal(tcp_in(PEER_A, 41003, 9100, PKT_ACK), XDP_PASS);
	close_listeners();
	/* UDP datagrams: each one */
	for (int i = 0; i < 2; i++)
		assert_int_equal(run(false, PEER_C, HOST4, IPPROTO_UDP, 1234, 514, 0), XDP_PASS);
	/* out of the host, to a port no rule allows: its SYN */
	assert_int_equal(run(true, HOST4, PEER_B, IPPROTO_TCP, 50000, 25, PKT_SYN), 1);
	/* what a rule allows is no would-drop */
	assert_int_equal(syn_in(PEER_A, 41000, 443), XDP_PASS);

	assert_int_equal(would(SPEE_DIR_INGRESS, PEER_A, IPPROTO_TCP, 9100), 3);
	assert_int_equal(would(SPEE_DIR_INGRESS, PEER_B, IPPROTO_TCP, 9100), 1);
	assert_int_equal(would(SPEE_DIR_INGRESS, PEER_C, IPPROTO_UDP, 514), 2);
	assert_int_equal(would(SPEE_DIR_EGRESS, PEER_B, IPPROTO_TCP, 25), 1);
	assert_int_equal(entries(l.maps.fd[SPEE_MAP_WOULD], sizeof(struct spee_would_key), &sum), 4);
	assert_int_equal(sum, 7);
}

static void enforce_mode_tallies_no_drops(void **state)
{
	uint64_t sum;

	(void)state;
	apply("enforce");
	clear_tallies();
	assert_int_equal(syn_in(PEER_A, 41000, 9100), XDP_DROP);
	assert_int_equal(run(false, PEER_C, HOST4, IPPROTO_UDP, 1234, 514, 0), XDP_DROP);
	assert_int_equal(entries(l.maps.fd[SPEE_MAP_WOULD], sizeof(struct spee_would_key), &sum), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(syns_alone_note_nothing),
	    cmocka_unit_test(a_completed_handshake_notes_its_peer),
	    cmocka_unit_test(the_syn_acks_flow_carries_the_handshake),
	    cmocka_unit_test(replies_and_established_packets_add_nothing),
	    cmocka_unit_test(a_udp_any_rule_counts_new_flows_not_datagrams),
	    cmocka_unit_test(the_table_stays_within_its_bound),
	    cmocka_unit_test(audit_mode_tallies_would_drops_by_address_and_port),
	    cmocka_unit_test(enforce_mode_tallies_no_drops),
	    cmocka_unit_test(a_new_rule_id_starts_with_nothing_seen),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
