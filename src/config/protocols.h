/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * protocols.h - the names of what a rule can match besides ports: ICMP and
 * ICMPv6 message types and IP protocol numbers, as the config, check,
 * explain and the exporters write them (nftables' spelling, which operators
 * know), and the one way to print a rule's match ("tcp/443",
 * "icmp/echo-request", "ip/vrrp").
 *
 * A rule's match is (proto, port_lo, port_hi), the IP protocol number as on
 * the wire: tcp and udp with a destination port range; icmp (1) and icmpv6
 * (58) with the message type in port_lo == port_hi; any other protocol
 * (`proto: ip`) with port_lo == port_hi == 0.
 */
#ifndef SPEE_PROTOCOLS_H
#define SPEE_PROTOCOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What an ICMP type is to the policy (the kernel's classes; bpf/decide.bpf.h). */
enum icmp_class {
	ICMP_CLASS_OTHER, /* echo and the rest: rules decide */
	ICMP_CLASS_ERROR, /* passes when it concerns a connection of the host */
	ICMP_CLASS_ND, /* IPv6 neighbour discovery and MLD: passes on the link */
};

/* The name of an ICMP (proto IPPROTO_ICMP) or ICMPv6 (IPPROTO_ICMPV6) type, or NULL. */
const char *icmp_type_name(uint8_t proto, unsigned type);

/* The type with this name for proto, or -1. */
int icmp_type_from_name(uint8_t proto, const char *name);

/* The class of a type: errors and neighbour discovery are never a rule's to allow. */
enum icmp_class icmp_type_class(uint8_t proto, unsigned type);

/* Every name of proto's types, ", "-separated, for messages. */
void icmp_type_names(uint8_t proto, char *buf, size_t len);

/* The closest name of proto's types to s (for "did you mean"), or NULL. */
const char *icmp_type_suggest(uint8_t proto, const char *s);

/* The name of an IP protocol number proto: ip knows ("vrrp"), or NULL. */
const char *ip_proto_name(unsigned proto);

/* The number of an IP protocol name, or -1. */
int ip_proto_from_name(const char *name);

/* The closest IP protocol name to s, or NULL. */
const char *ip_proto_suggest(const char *s);

/* Every IP protocol name proto: ip knows, ", "-separated, for messages. */
void ip_proto_names(char *buf, size_t len);

/*
 * Why proto: ip cannot name this protocol number, as the end of a sentence
 * ("is tcp: write proto: tcp with a port"), or NULL when it can.
 */
const char *ip_proto_refusal(unsigned proto);

/* True for the protocols whose rules have ports (tcp, udp). */
bool proto_has_ports(uint8_t proto);

/* True for icmp and icmpv6, whose rules name a message type. */
bool proto_is_icmp(uint8_t proto);

/* The address family (AF_INET, AF_INET6) a protocol is bound to, or 0 for both. */
int proto_family(uint8_t proto);

/* "tcp", "udp", "icmp", "icmpv6", or "ip" for every other protocol. */
const char *proto_kind_label(uint8_t proto);

/* "tcp/443", "udp/8000-8100", "icmp/echo-request", "icmpv6/135", "ip/vrrp", "ip/253". */
void proto_match_text(uint8_t proto, uint16_t lo, uint16_t hi, char *buf, size_t len);

#endif
