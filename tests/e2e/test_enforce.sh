#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Kernel enforcement on real traffic: mgmt1, cas1 and ih1 each run their own
# instance (their own veth, cgroup and pin dir) of the lab fleet. Every seed
# row is exercised in each direction it is enforced: an allowed peer connects
# and a refused one does not; the counters of the rules used move and no
# other; forged and evasive packets are not let in; connections that existed
# before enforcement and long-lived ones across an update keep flowing; and
# detach leaves nothing behind.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/verdicts.sh"
lab_require_speebpf
lab_init enforce
lab_spe_topology
lab_spe_listeners

CFG=$LAB_DIR/fleet.yaml
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$CFG"
FLEET=(mgmt1 cas1 ih1)

# running NAME...: the spawned streams are still going (they report only at their end).
running() {
	local n
	for n in "$@"; do
		kill -0 "$(lab_spawn_pid "$n")" 2>/dev/null || lab_die "$n ended early: $(cat "$(lab_spawn_log "$n")")"
	done
}

# flows_to HOST PORT: how many TCP flows HOST's flow table holds to remote PORT.
flows_to() {
	local hex
	hex=$(printf '0x%02x 0x%02x' $(($2 >> 8)) $(($2 & 255)))
	bpftool map dump pinned "$(lab_pin_dir "$1")/maps/spee_flows" -j |
		jq --arg p "$hex" '[.[] | select(.key | join(" ") | test("^0x.. 0x06 0x.. 0x.. " + $p + " "))] | length'
}
has_flow_to() { test "$(flows_to "$1" "$2")" -ge 1; }
no_flow_to() { test "$(flows_to "$1" "$2")" -eq 0; }

# The rule counter of RULE in DIR on HOST (packets).
rule_packets() {
	lab_speebpf "$1" stats --json | jq -r --arg id "$2" --arg dir "$3" \
		'[.rules[] | select(.id == $id and .direction == $dir) | .packets] | add // "missing"'
}

reason_packets() {
	lab_speebpf "$1" stats --json | jq -r --arg r "$2" --arg dir "$3" \
		'[(.drops + .passes)[] | select(.reason == $r and .direction == $dir) | .packets] | add'
}

lab_listen mgmt1 syslog --udp :: 514
echo "# sessions open before enforcement starts"
lab_spawn admpc ssh-session "$SPEEPROBE" stream "$(lab_ip mgmt1)" 22 --seconds 8 --rate-kbps 64
lab_spawn ih1 imap-fetch "$SPEEPROBE" stream 198.19.2.25 143 --seconds 8 --rate-kbps 64
lab_sleep 0.5
running ssh-session imap-fetch

echo "# enforcement"
for h in "${FLEET[@]}"; do
	expect_true "apply on $h" lab_speebpf "$h" apply -c "$CFG" --host "$h" --iface eth0
done
expect_true "status of mgmt1 is whole" lab_speebpf mgmt1 status

echo "# the verdict table (verdicts-host.table): every seed row, each direction, with its counters"
VT_FLEET=("${FLEET[@]}")
verdicts_run ebpf "$LAB_SRC/verdicts-host.table"

echo "# counters: the rule used moves by one SYN on each side, no other rule moves"
m_before=$(lab_speebpf mgmt1 stats --json)
c_before=$(lab_speebpf cas1 stats --json)
expect_connect cas1 mgmt1 8471
m_after=$(lab_speebpf mgmt1 stats --json)
c_after=$(lab_speebpf cas1 stats --json)
# DELTA BEFORE AFTER: "id/direction +n" for every rule whose packet count changed
delta() {
	jq -nr --argjson a "$1" --argjson b "$2" '
		[$a.rules[] | {key: "\(.id)/\(.direction)", value: .packets}] | from_entries as $before |
		$b.rules[] | select(.packets != $before["\(.id)/\(.direction)"]) |
		"\(.id)/\(.direction) +\(.packets - $before["\(.id)/\(.direction)"])"'
}
expect_true "on mgmt1 only mgmt-internal/ingress moved, by 1" \
	test "$(delta "$m_before" "$m_after")" = "mgmt-internal/ingress +1"
expect_true "on cas1 only mgmt-internal/egress moved, by 1" \
	test "$(delta "$c_before" "$c_after")" = "mgmt-internal/egress +1"

echo "# every rule enforced on every host has counted traffic (each seed row, each direction)"
for h in "${FLEET[@]}"; do
	unused=$(lab_speebpf "$h" stats --json | jq -r '[.rules[] | select(.packets == 0) | "\(.id)/\(.direction)"] | join(" ")')
	expect_true "every rule of $h was used${unused:+ (unused: $unused)}" test -z "$unused"
	count=$(lab_speebpf "$h" stats --json | jq '.rules | length')
	expect_true "$h enforces rules in stats ($count)" test "$count" -ge 4
done

echo "# forged and evasive packets"
mac_ext=$(lab_mac ext) mac_ih1=$(lab_mac ih1) mac_client=$(lab_mac client) mac_mgmt1=$(lab_mac mgmt1)
mac_cas1=$(lab_mac cas1) mac_admpc=$(lab_mac admpc)
ip_ih1=$(lab_ip ih1) ip_client=$(lab_ip client) ip_mgmt1=$(lab_ip mgmt1) ip_cas1=$(lab_ip cas1)
ip_admpc=$(lab_ip admpc)
# ih1 may connect to mail:143; an ACK "from" there to a port with no connection must not get in.
ack=$(seg_tcp 198.19.2.25 "$ip_ih1" 143 45678 5000 77777 A)
drops=$(reason_packets ih1 no-rule ingress)
expect_frame silence ext "a spoofed ACK from mail:143 to ih1:45678 is not answered" ext \
	"$(frame_eth "$mac_ih1" "$mac_ext" 0800 "$(pkt_ipv4 198.19.2.25 "$ip_ih1" 6 "$ack")")" \
	"$(hex_ip4 "$ip_ih1")@26" "$(hex_u16 45678)$(hex_u16 143)@34"
expect_true "  and ih1 counted it as no-rule" test "$(reason_packets ih1 no-rule ingress)" -gt "$drops"
ip_cas2=$(lab_ip cas2)
ack=$(seg_tcp 198.19.2.25 "$ip_cas2" 143 45679 5000 77777 A)
expect_frame answer ext "  (control: the same ACK to cas2, which enforces nothing, gets a RST)" ext \
	"$(frame_eth "$(lab_mac cas2)" "$mac_ext" 0800 "$(pkt_ipv4 198.19.2.25 "$ip_cas2" 6 "$ack")")" \
	"$(hex_ip4 "$ip_cas2")@26" "$(hex_u16 45679)$(hex_u16 143)@34" 04@47

# cas-https is open to ANY, yet a SYN whose TCP header is split over two fragments is not.
syn=$(seg_tcp "$ip_client" "$ip_cas1" 40004 443 1000 0 S)
frags=$(reason_packets cas1 fragment ingress)
frag1=$(frame_eth "$mac_cas1" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_cas1" 6 "${syn:0:16}" 0x2000 777)")
frag2=$(frame_eth "$mac_cas1" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_cas1" 6 "${syn:16}" 1 777)")
lab_exec client "$SPEEPROBE" send-frame eth0 "$frag1" >/dev/null
expect_frame silence client "a SYN in a tiny first fragment to cas1:443 is not answered" client "$frag2" \
	"$(hex_u16 443)$(hex_u16 40004)@34"
expect_true "  and cas1 counted both fragments as fragment" \
	test "$(reason_packets cas1 fragment ingress)" -ge "$((frags + 2))"
syn=$(seg_tcp "$ip_client" "$ip_cas1" 40005 443 1000 0 S)
expect_frame answer client "  (control: the same SYN unfragmented gets a SYN-ACK)" client \
	"$(frame_eth "$mac_cas1" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_cas1" 6 "$syn")")" \
	"$(hex_u16 443)$(hex_u16 40005)@34" 12@47

# double_tagged DSTMAC SRCMAC IPV4PACKET: 802.1ad outer tag (VID 5), 802.1Q inner tag (VID 7).
double_tagged() {
	frame_eth "$1" "$2" 88a8 "$(hex_u16 5)8100$(hex_u16 7)0800$3"
}

# Tagged frames are judged like untagged ones: the refused one is counted as
# no-rule, the allowed one under its rule (the kernel then discards both: no VLAN device).
syn=$(seg_tcp "$ip_client" "$ip_mgmt1" 40006 8471 1000 0 S)
drops=$(reason_packets mgmt1 no-rule ingress)
lab_exec client "$SPEEPROBE" send-frame eth0 \
	"$(frame_vlan "$mac_mgmt1" "$mac_client" 7 0800 "$(pkt_ipv4 "$ip_client" "$ip_mgmt1" 6 "$syn")")" >/dev/null
expect_true "a VLAN-tagged refused SYN is dropped as no-rule on mgmt1" \
	test "$(reason_packets mgmt1 no-rule ingress)" -eq "$((drops + 1))"
syn=$(seg_tcp "$ip_cas1" "$ip_mgmt1" 40007 8471 1000 0 S)
hits=$(rule_packets mgmt1 mgmt-internal ingress)
lab_exec client "$SPEEPROBE" send-frame eth0 "$(double_tagged "$mac_mgmt1" "$mac_client" \
	"$(pkt_ipv4 "$ip_cas1" "$ip_mgmt1" 6 "$syn")")" >/dev/null
expect_true "a double-tagged (802.1ad + 802.1Q) allowed SYN counts under mgmt-internal" \
	test "$(rule_packets mgmt1 mgmt-internal ingress)" -eq "$((hits + 1))"
syn=$(seg_tcp "$ip_client" "$ip_mgmt1" 40008 8471 1000 0 S)
drops=$(reason_packets mgmt1 no-rule ingress)
lab_exec client "$SPEEPROBE" send-frame eth0 "$(double_tagged "$mac_mgmt1" "$mac_client" \
	"$(pkt_ipv4 "$ip_client" "$ip_mgmt1" 6 "$syn")")" >/dev/null
expect_true "a double-tagged refused SYN is dropped as no-rule" \
	test "$(reason_packets mgmt1 no-rule ingress)" -eq "$((drops + 1))"

echo "# sessions that were open before enforcement kept flowing"
expect_spawned_ok ssh-session "the admin's SSH session to mgmt1 lost no byte" 15
expect_spawned_ok imap-fetch "ih1's IMAP fetch from mail lost no byte" 15

echo "# an update adds and removes a CAS while a long-lived connection flows"
lab_spawn cas1 long-8471 "$SPEEPROBE" stream "$ip_mgmt1" 8471 --seconds 6 --rate-kbps 256
lab_sleep 0.5
running long-8471
# cas1's XDP caches the connection once it is established; the segments cas1
# sends in it leave without a parse, its FIN (or RST) must still end the flow.
expect_true "cas1 caches the established connection to mgmt1:8471" \
	lab_until 5 has_flow_to cas1 8471
expect_blocked cas2 mgmt1 8471
sed 's/^networks:/  - name: cas2\n    roles: [CAS]\n    addresses: [198.18.0.12, "fd00:5e::12"]\nnetworks:/' \
	"$LAB_REPO/tests/e2e/fleet-lab.yaml" >"$CFG"
hits=$(rule_packets mgmt1 mgmt-internal ingress)
for h in "${FLEET[@]}"; do
	expect_true "apply with cas2 on $h (in place)" lab_speebpf "$h" apply -c "$CFG" --host "$h"
done
expect_connect cas2 mgmt1 8471
expect_true "mgmt-internal's counter continued across the update" \
	test "$(rule_packets mgmt1 mgmt-internal ingress)" -gt "$hits"
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$CFG"
for h in "${FLEET[@]}"; do
	expect_true "apply without cas2 on $h" lab_speebpf "$h" apply -c "$CFG" --host "$h"
done
expect_blocked cas2 mgmt1 8471
expect_connect cas1 mgmt1 8471
expect_spawned_ok long-8471 "the long-lived cas1 -> mgmt1:8471 stream lost no byte across both updates" 15
expect_true "its flow ended with the connection (the expect_connect's too)" \
	lab_until 5 no_flow_to cas1 8471
expect_true "mgmt1 is at policy generation 3" \
	test "$(lab_speebpf mgmt1 status --json | jq .generation)" = 3

echo "# a kernel TCP socket's SYN makes no flow: cas1's XDP finds the socket of its reply"
# mgmt1 drops what comes to 8474 after its XDP let it in, so cas1's SYN goes unanswered
# (an answered one would take its flow with it when the connection ends).
drop_8474_off() { lab_exec mgmt1 nft delete table inet spee_enforce_test 2>/dev/null || true; }
lab_exec mgmt1 nft add table inet spee_enforce_test
lab_on_cleanup drop_8474_off
lab_exec mgmt1 nft add chain inet spee_enforce_test input '{ type filter hook input priority 0; }'
lab_exec mgmt1 nft add rule inet spee_enforce_test input tcp dport 8474 drop
pairing=$(rule_packets cas1 mgmt-pairing egress)
egress_counted() { test "$(rule_packets cas1 mgmt-pairing egress)" -gt "$pairing"; }
lab_spawn cas1 syn-8474 "$SPEEPROBE" connect "$ip_mgmt1" 8474 --timeout-ms 3000
expect_true "cas1's SYN to mgmt1:8474 passes its egress rule mgmt-pairing" lab_until 3 egress_counted
running syn-8474
expect_true "  and leaves no flow while the connection waits for an answer" no_flow_to cas1 8474
lab_kill syn-8474
drop_8474_off

echo "# detach leaves nothing behind"
for h in "${FLEET[@]}"; do
	progs=$(lab_speebpf "$h" status --json | jq -r '.links[].prog_id' | sort -u)
	expect_true "detach on $h" lab_speebpf "$h" detach
	expect_false "  no pin dir of $h is left" test -e "$(lab_pin_dir "$h")"
	expect_false "  no XDP program on $h's eth0" sh -c "ip -n $(lab_netns "$h") -d link show eth0 | grep -q xdp"
	expect_true "  no program on $h's cgroup" test -z "$(bpftool cgroup show "$(lab_cgroup "$h")" 2>/dev/null | sed 1d)"
	for id in $progs; do
		expect_false "  program $id of $h is gone" bpftool prog show id "$id"
	done
done
expect_connect client ih1 22	# nothing enforces any more

lab_finish
