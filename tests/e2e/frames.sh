#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tests/e2e/frames.sh - raw frames as hex, for `speeprobe send-frame`.
#
# Sourced by lib.sh. The probe sends what it is given; the frames are built
# here, in the scripts, so that a test shows exactly which bytes it sends
# (a spoofed ACK, a tiny first fragment, a truncated header...). Every
# function prints lowercase hex without separators; checksums are computed,
# lengths filled in. Composition, e.g. a SYN from cas1 to mgmt1:8471:
#
#	tcp=$(seg_tcp 198.18.0.11 198.18.0.10 40000 8471 1000 0 S)
#	ip=$(pkt_ipv4 198.18.0.11 198.18.0.10 6 "$tcp")
#	frame=$(frame_eth "$(lab_mac mgmt1)" "$(lab_mac cas1)" 0800 "$ip")
#	lab_exec cas1 "$SPEEPROBE" send-frame eth0 "$frame"
#
# Fragments: pkt_ipv4's FRAG argument is the raw flags+offset field (0x2000
# is "more fragments", the offset counts 8-byte units), so the first 8 bytes
# of a TCP header alone are ${tcp:0:16} with FRAG 0x2000, the rest
# ${tcp:16} with FRAG 1. IPv6 fragments: hdr_ipv6_frag before the payload,
# with next header 44 in pkt_ipv6.
#
# IPv6 addresses are written in the usual forms (with ::), but without an
# embedded IPv4 part.

hex_u8() { printf '%02x' "$(($1 & 0xff))"; }
hex_u16() { printf '%04x' "$(($1 & 0xffff))"; }
hex_u32() { printf '%08x' "$(($1 & 0xffffffff))"; }
hex_len() { echo $((${#1} / 2)); }		# bytes in a hex string
hex_mac() { local m=${1//:/}; echo "${m,,}"; }	# aa:bb:... -> aabb...
hex_str() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }	# text -> hex

hex_ip4() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	printf '%02x%02x%02x%02x' "$a" "$b" "$c" "$d"
}

hex_ip6() {
	local a=${1,,} g out="" n=0 i
	local -a front=() back=()
	if [[ $a == *::* ]]; then
		[[ -n ${a%%::*} ]] && IFS=: read -ra front <<<"${a%%::*}"
		[[ -n ${a#*::} ]] && IFS=: read -ra back <<<"${a#*::}"
		n=$((8 - ${#front[@]} - ${#back[@]}))
	else
		IFS=: read -ra front <<<"$a"
	fi
	for g in "${front[@]}"; do printf -v g '%04x' "0x$g" && out+=$g; done
	for ((i = 0; i < n; i++)); do out+=0000; done
	for g in "${back[@]}"; do printf -v g '%04x' "0x$g" && out+=$g; done
	echo "$out"
}

hex_ip() { if [[ $1 == *:* ]]; then hex_ip6 "$1"; else hex_ip4 "$1"; fi; }

# hex_csum16 HEX: the Internet checksum (RFC 1071) of HEX, as 4 hex digits.
hex_csum16() {
	local h=$1 sum=0 i
	((${#h} % 4)) && h+=00
	for ((i = 0; i < ${#h}; i += 4)); do sum=$((sum + 0x${h:i:4})); done
	while ((sum >> 16)); do sum=$(((sum & 0xffff) + (sum >> 16))); done
	printf '%04x' $((~sum & 0xffff))
}

# The pseudo-header of TCP/UDP/ICMPv6 checksums, v4 or v6 by the address form.
_pseudo_hdr() {	# SRC DST PROTO LEN
	if [[ $1 == *:* ]]; then
		echo "$(hex_ip6 "$1")$(hex_ip6 "$2")$(hex_u32 "$4")000000$(hex_u8 "$3")"
	else
		echo "$(hex_ip4 "$1")$(hex_ip4 "$2")00$(hex_u8 "$3")$(hex_u16 "$4")"
	fi
}

# frame_eth DSTMAC SRCMAC ETHERTYPE PAYLOAD: an Ethernet frame, padded to 60 bytes.
frame_eth() {
	local f
	f=$(hex_mac "$1")$(hex_mac "$2")${3}${4}
	while ((${#f} < 120)); do f+=00; done
	echo "$f"
}

# frame_vlan DSTMAC SRCMAC VID ETHERTYPE PAYLOAD: an 802.1Q-tagged frame (PCP 0).
frame_vlan() {
	frame_eth "$1" "$2" 8100 "$(hex_u16 "$3")$4$5"
}

# frame_arp_request SRCMAC SRCIP TARGETIP: a broadcast "who has TARGETIP".
frame_arp_request() {
	frame_eth ff:ff:ff:ff:ff:ff "$1" 0806 \
		"0001080006040001$(hex_mac "$1")$(hex_ip4 "$2")000000000000$(hex_ip4 "$3")"
}

# pkt_ipv4 SRC DST PROTO PAYLOAD [FRAG] [ID] [TTL]: an IPv4 packet (no options).
pkt_ipv4() {
	local src=$1 dst=$2 proto=$3 payload=$4 frag=${5:-0} id=${6:-4242} ttl=${7:-64} h
	h=4500$(hex_u16 $((20 + ${#payload} / 2)))$(hex_u16 "$id")$(hex_u16 "$frag")
	h+=$(hex_u8 "$ttl")$(hex_u8 "$proto")0000$(hex_ip4 "$src")$(hex_ip4 "$dst")
	echo "${h:0:20}$(hex_csum16 "$h")${h:24}$payload"
}

# pkt_ipv6 SRC DST NEXTHDR PAYLOAD [HOPLIMIT]: an IPv6 packet.
pkt_ipv6() {
	local src=$1 dst=$2 next=$3 payload=$4 hop=${5:-64}
	echo "60000000$(hex_u16 $((${#payload} / 2)))$(hex_u8 "$next")$(hex_u8 "$hop")$(hex_ip6 "$src")$(hex_ip6 "$dst")$payload"
}

# hdr_ipv6_frag NEXTHDR OFFSET8 MF ID: an IPv6 fragment header (8 bytes).
hdr_ipv6_frag() {
	echo "$(hex_u8 "$1")00$(hex_u16 $((($2 << 3) | ($3 ? 1 : 0))))$(hex_u32 "$4")"
}

# seg_tcp SRC DST SPORT DPORT SEQ ACK FLAGS [WINDOW] [DATA]: a TCP segment
# (20-byte header) with its checksum; FLAGS are letters of FSRPAU ("S", "SA",
# "A", "R", "FA"...).
seg_tcp() {
	local src=$1 dst=$2 sport=$3 dport=$4 seq=$5 ack=$6 fl=$7 win=${8:-65535} data=${9:-}
	local bits=0 h len
	[[ $fl == *F* ]] && bits=$((bits | 0x01))
	[[ $fl == *S* ]] && bits=$((bits | 0x02))
	[[ $fl == *R* ]] && bits=$((bits | 0x04))
	[[ $fl == *P* ]] && bits=$((bits | 0x08))
	[[ $fl == *A* ]] && bits=$((bits | 0x10))
	[[ $fl == *U* ]] && bits=$((bits | 0x20))
	h=$(hex_u16 "$sport")$(hex_u16 "$dport")$(hex_u32 "$seq")$(hex_u32 "$ack")50$(hex_u8 "$bits")
	h+=$(hex_u16 "$win")00000000$data
	len=$((${#h} / 2))
	echo "${h:0:32}$(hex_csum16 "$(_pseudo_hdr "$src" "$dst" 6 "$len")$h")${h:36}"
}

# seg_udp SRC DST SPORT DPORT DATA: a UDP datagram with its checksum.
seg_udp() {
	local src=$1 dst=$2 h len c
	len=$((8 + ${#5} / 2))
	h=$(hex_u16 "$3")$(hex_u16 "$4")$(hex_u16 "$len")0000$5
	c=$(hex_csum16 "$(_pseudo_hdr "$src" "$dst" 17 "$len")$h")
	[[ $c == 0000 ]] && c=ffff
	echo "${h:0:12}$c${h:16}"
}

# pkt_icmp4_echo ID SEQ [DATA]: an ICMP echo request (the IPv4 payload).
pkt_icmp4_echo() {
	local h
	h=08000000$(hex_u16 "$1")$(hex_u16 "$2")${3:-}
	echo "${h:0:4}$(hex_csum16 "$h")${h:8}"
}

# pkt_icmp6_echo SRC DST ID SEQ [DATA]: an ICMPv6 echo request (the IPv6 payload).
pkt_icmp6_echo() {
	local h
	h=80000000$(hex_u16 "$3")$(hex_u16 "$4")${5:-}
	echo "${h:0:4}$(hex_csum16 "$(_pseudo_hdr "$1" "$2" 58 $((${#h} / 2)))$h")${h:8}"
}
