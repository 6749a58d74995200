#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# icmp, icmpv6 and ip rules on real traffic (CONTRACT.md section 4), and the
# shipped linux-host baseline proven to apply and work:
#  - mgmt1 enforces the fleet of deploy/kubernetes/20-configmap.yaml as it
#    ships (baseline: [linux-host, kubernetes-node]): a real ping from ADM
#    gets its answers, one from outside ADM does not; mgmt1 pings out to ANY
#    (IPv4 and IPv6) and its replies come back as icmp-reply; an unsolicited
#    echo reply is dropped;
#  - cas1 enforces the lab fleet with the baseline and two ip rules (VRRP
#    with cas2's address, cas2 not being in the inventory; ESP in from ADM):
#    raw VRRP and ESP packets pass from the named peers only, in and out (a
#    raw IP socket, judged at the cgroup hook; a packet socket's frame,
#    judged at tc);
#  - ih1 enforces the lab fleet without a baseline: no ping in or out.
# Verdicts are read from the counters and from ping's own answer, never from
# timing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_speebpf
command -v ping >/dev/null || lab_skip "no ping (iputils-ping: tools/install-deps.sh)"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3) || lab_skip "no python3"
lab_init icmp
lab_spe_topology

# The shipped ConfigMap's fleet.yaml, as the DaemonSet's agent reads it.
SHIPPED=$LAB_DIR/shipped.yaml
sed -n '/^  fleet.yaml: |$/,$p' "$LAB_REPO/deploy/kubernetes/20-configmap.yaml" | tail -n +2 |
	sed 's/^    //' >"$SHIPPED"
grep -q '^baseline: \[linux-host' "$SHIPPED" || lab_die "no linux-host baseline in the shipped fleet"
expect_true "the shipped fleet passes check for mgmt1" "$SPEEBPF" check -c "$SHIPPED" --host mgmt1

SITE=$LAB_DIR/site.yaml
# the lab fleet, its rules followed by two ip rules, and the baseline
sed '/^resolvers:/i\
  - {id: vrrp, proto: ip, ip-proto: vrrp, from: [cas1, 198.18.0.12], to: [cas1, 198.18.0.12]}\
  - {id: esp-adm, proto: ip, ip-proto: esp, from: [ADM], to: [cas1]}\
baseline: [linux-host]' "$LAB_REPO/tests/e2e/fleet-lab.yaml" >"$SITE"
grep -q '^  - {id: vrrp' "$SITE" || lab_die "cannot write $SITE"
NOBASE=$LAB_DIR/nobase.yaml
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$NOBASE"

expect_true "apply of the shipped fleet on mgmt1" \
	lab_speebpf mgmt1 apply -c "$SHIPPED" --host mgmt1 --iface eth0
expect_true "apply of the site fleet (ip rules) on cas1" \
	lab_speebpf cas1 apply -c "$SITE" --host cas1 --iface eth0
expect_true "apply of the fleet without a baseline on ih1" \
	lab_speebpf ih1 apply -c "$NOBASE" --host ih1 --iface eth0

# What the maps hold reads back as what was applied: no drift, and the same again writes nothing.
expect_true "status of mgmt1 is whole (the icmp rules' entries read back)" lab_speebpf mgmt1 status
expect_true "status of cas1 is whole (the ip rules' entries read back)" lab_speebpf cas1 status
# (the policy is double-buffered: the first re-apply fills the other slot, the second finds both whole)
reapply_writes_nothing() {
	local out
	lab_speebpf cas1 apply -c "$SITE" --host cas1 --iface eth0 >/dev/null &&
		out=$(lab_speebpf cas1 apply -c "$SITE" --host cas1 --iface eth0) || return 1
	grep -q -- '(+0/-0 entries' <<<"$out" || { echo "$out"; return 1; }
}
expect_true "applying cas1's fleet twice again writes no entry the second time" reapply_writes_nothing

# rule_packets HOST ID DIR / reason_packets HOST REASON DIR: counters, packets.
rule_packets() {
	lab_speebpf "$1" stats --json | jq -r --arg id "$2" --arg dir "$3" \
		'[.rules[] | select(.id == $id and .direction == $dir) | .packets] | add // 0'
}
reason_packets() {
	lab_speebpf "$1" stats --json | jq -r --arg r "$2" --arg dir "$3" \
		'[(.drops + .passes)[] | select(.reason == $r and .direction == $dir) | .packets] | add // 0'
}
# grew BEFORE AFTER N: AFTER is BEFORE + N exactly
grew() { test "$2" -eq "$(($1 + $3))"; }

# ping HOST TARGET [-6]: 2 echo requests, bounded (each answer waited for up to 2 s).
pings() { lab_exec "$1" ping -n -q -c 2 -i 0.2 -W 2 "${@:3}" "$2"; }
# one request, for the blocked cases
ping1() { lab_exec "$1" ping -n -q -c 1 -W 1 "${@:3}" "$2"; }

ip_mgmt1=$(lab_ip mgmt1) ip6_mgmt1=$(lab_ip mgmt1 6)
ip_cas1=$(lab_ip cas1) ip_cas2=$(lab_ip cas2) ip_client=$(lab_ip client) ip_admpc=$(lab_ip admpc)
mac_mgmt1=$(lab_mac mgmt1) mac_cas1=$(lab_mac cas1) mac_cas2=$(lab_mac cas2)
mac_client=$(lab_mac client) mac_admpc=$(lab_mac admpc)

echo "# ping in: from ADM (base-echo-in), not from elsewhere"
in0=$(rule_packets mgmt1 base-echo-in ingress)
nr0=$(reason_packets mgmt1 no-rule egress)
expect_true "admpc pings mgmt1 and gets its answers" pings admpc "$ip_mgmt1"
in1=$(rule_packets mgmt1 base-echo-in ingress)
expect_true "  base-echo-in counted the 2 requests ($in0 -> $in1)" grew "$in0" "$in1" 2
# The kernel answers from its own ICMP socket, which belongs to the root cgroup:
# the cgroup hook of a child cgroup never sees the reply, and the tc filter
# leaves inet sockets' packets to that hook. On a host enforcing at the root
# cgroup the reply is judged, as the echo exchange's icmp-reply (test_icmp.c).
expect_true "  and the replies were refused nowhere (egress no-rule stays $nr0)" \
	test "$(reason_packets mgmt1 no-rule egress)" -eq "$nr0"
echo "  (mgmt1 counted $(reason_packets mgmt1 icmp-reply egress) echo replies out as icmp-reply)"
in6_0=$(rule_packets mgmt1 base-echo6-in ingress)
expect_true "admpc pings mgmt1 over IPv6 and gets its answers" pings admpc "$ip6_mgmt1" -6
expect_true "  base-echo6-in counted the 2 requests" \
	grew "$in6_0" "$(rule_packets mgmt1 base-echo6-in ingress)" 2
nr_in=$(reason_packets mgmt1 no-rule ingress)
expect_false "client (outside ADM) pings mgmt1: no answer" ping1 client "$ip_mgmt1"
expect_true "  and mgmt1 dropped the request as no-rule" \
	test "$(reason_packets mgmt1 no-rule ingress)" -gt "$nr_in"

echo "# ping out: to ANY (base-echo-out), the replies as icmp-reply"
out0=$(rule_packets mgmt1 base-echo-out egress) rep0=$(reason_packets mgmt1 icmp-reply ingress)
expect_true "mgmt1 pings ext and gets its answers" pings mgmt1 198.19.2.1
expect_true "  base-echo-out counted the 2 requests" \
	grew "$out0" "$(rule_packets mgmt1 base-echo-out egress)" 2
rep1=$(reason_packets mgmt1 icmp-reply ingress)
expect_true "  and the replies came in as icmp-reply ($rep0 -> $rep1)" test "$rep1" -gt "$rep0"
out6=$(rule_packets mgmt1 base-echo6-out egress) rep6=$(reason_packets mgmt1 icmp-reply ingress)
expect_true "mgmt1 pings ext over IPv6 and gets its answers" pings mgmt1 fd00:5e::2:1 -6
expect_true "  base-echo6-out counted the 2 requests" \
	grew "$out6" "$(rule_packets mgmt1 base-echo6-out egress)" 2
expect_true "  and the replies came in as icmp-reply" \
	test "$(reason_packets mgmt1 icmp-reply ingress)" -gt "$rep6"

echo "# an echo reply nobody asked for"
# type 0, code 0, checksum, identifier 0x5e5e, sequence 1, 8 bytes of data
icmp=$(printf '00000000%s%s%s' 5e5e 0001 0102030405060708)
icmp=${icmp:0:4}$(hex_csum16 "$icmp")${icmp:8}
nr_in=$(reason_packets mgmt1 no-rule ingress) rep=$(reason_packets mgmt1 icmp-reply ingress)
lab_exec client "$SPEEPROBE" send-frame eth0 \
	"$(frame_eth "$mac_mgmt1" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_mgmt1" 1 "$icmp")")" >/dev/null
expect_true "an unsolicited echo reply to mgmt1 is dropped as no-rule" \
	grew "$nr_in" "$(reason_packets mgmt1 no-rule ingress)" 1
expect_true "  and is no icmp-reply" test "$(reason_packets mgmt1 icmp-reply ingress)" -eq "$rep"

echo "# no baseline, no ping (ih1)"
expect_false "admpc pings ih1: no answer" ping1 admpc "$(lab_ip ih1)"
nr_out=$(reason_packets ih1 no-rule egress)
expect_false "ih1 pings ext: refused" ping1 ih1 198.19.2.1
expect_true "  and ih1 counted the request as no-rule" \
	test "$(reason_packets ih1 no-rule egress)" -gt "$nr_out"

echo "# ip rules: VRRP (112) with cas2, ESP (50) in from ADM, on cas1"
# A VRRPv3 advertisement's 8 bytes (version 3, type 1, VRID 7, priority 100) and ESP's SPI and sequence.
vrrp=3107640000640000
esp=0000100100000001deadbeefdeadbeef
send_in() { # SENDER SENDER_IP SENDER_MAC PROTO PAYLOAD
	lab_exec "$1" "$SPEEPROBE" send-frame eth0 \
		"$(frame_eth "$mac_cas1" "$3" 0800 "$(pkt_ipv4 "$2" "$ip_cas1" "$4" "$5" 0 4242 255)")" >/dev/null
}
v0=$(rule_packets cas1 vrrp ingress)
send_in cas2 "$ip_cas2" "$mac_cas2" 112 "$vrrp"
expect_true "VRRP from cas2 passes by rule vrrp" grew "$v0" "$(rule_packets cas1 vrrp ingress)" 1
nr_in=$(reason_packets cas1 no-rule ingress)
send_in client "$ip_client" "$mac_client" 112 "$vrrp"
expect_true "VRRP from client is dropped as no-rule" \
	grew "$nr_in" "$(reason_packets cas1 no-rule ingress)" 1
e0=$(rule_packets cas1 esp-adm ingress)
send_in admpc "$ip_admpc" "$mac_admpc" 50 "$esp"
expect_true "ESP from admpc (ADM) passes by rule esp-adm" \
	grew "$e0" "$(rule_packets cas1 esp-adm ingress)" 1
nr_in=$(reason_packets cas1 no-rule ingress)
send_in client "$ip_client" "$mac_client" 50 "$esp"
expect_true "ESP from client is dropped as no-rule" \
	grew "$nr_in" "$(reason_packets cas1 no-rule ingress)" 1
gre0=$(reason_packets cas1 no-rule ingress)
send_in cas2 "$ip_cas2" "$mac_cas2" 47 "$vrrp"
expect_true "GRE from cas2 (no rule names it) is dropped as no-rule" \
	grew "$gre0" "$(reason_packets cas1 no-rule ingress)" 1

# raw_send HOST DST PROTO: one packet from a raw IP socket (an inet socket: the cgroup hook).
raw_send() {
	lab_exec "$1" "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, int(sys.argv[2]))
try:
    s.sendto(bytes.fromhex(sys.argv[3]), (sys.argv[1], 0))
except PermissionError:
    sys.exit(3)
' "$2" "$3" "$vrrp"
}
v0=$(rule_packets cas1 vrrp egress)
expect_true "cas1 sends VRRP to cas2 from a raw socket" raw_send cas1 "$ip_cas2" 112
expect_true "  counted by rule vrrp, egress" grew "$v0" "$(rule_packets cas1 vrrp egress)" 1
nr_out=$(reason_packets cas1 no-rule egress)
raw_refused() { local rc=0; raw_send "$@" || rc=$?; test "$rc" -eq 3; }
expect_true "cas1 sends VRRP to client from a raw socket: refused (EPERM)" \
	raw_refused cas1 "$ip_client" 112
expect_true "  counted as no-rule, egress" \
	grew "$nr_out" "$(reason_packets cas1 no-rule egress)" 1
# A packet socket's frame passes the cgroup hook by; tc egress judges it.
v0=$(rule_packets cas1 vrrp egress)
lab_exec cas1 "$SPEEPROBE" send-frame eth0 \
	"$(frame_eth "$mac_cas2" "$mac_cas1" 0800 "$(pkt_ipv4 "$ip_cas1" "$ip_cas2" 112 "$vrrp" 0 4242 255)")" >/dev/null
expect_true "a packet socket's VRRP frame to cas2 passes tc by rule vrrp" \
	grew "$v0" "$(rule_packets cas1 vrrp egress)" 1
nr_out=$(reason_packets cas1 no-rule egress)
lab_exec cas1 "$SPEEPROBE" send-frame eth0 \
	"$(frame_eth "$mac_client" "$mac_cas1" 0800 "$(pkt_ipv4 "$ip_cas1" "$ip_client" 112 "$vrrp" 0 4242 255)")" >/dev/null || true
expect_true "a packet socket's VRRP frame to client is dropped at tc as no-rule" \
	grew "$nr_out" "$(reason_packets cas1 no-rule egress)" 1

echo "# stats name the new rules and reasons"
expect_true "stats of cas1 list vrrp in both directions" \
	test "$(lab_speebpf cas1 stats --json | jq '[.rules[] | select(.id == "vrrp")] | length')" -eq 2
stats_show() { # whole first: grep -q would close the pipe on stats (SIGPIPE under pipefail)
	local out
	out=$(lab_speebpf "$1" stats) && grep -q -- "$2" <<<"$out"
}
expect_true "stats of mgmt1 show the icmp-reply passes" stats_show mgmt1 icmp-reply
lab_finish
