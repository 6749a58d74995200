#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The attacks of issue 11, for real, against mgmt1 enforcing the lab fleet:
# a tun device, source routes, ICMP as a covert channel, a packet socket,
# an inventory address held by another machine, non-IP frames, fragments
# out of order and their counts, and what explain says of the addresses the
# connect hook maps. Each expectation failed with the speebpf before the fix.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_speebpf
lab_init attacks
lab_spe_topology
lab_spe_listeners
command -v jq >/dev/null || lab_skip "needs jq"

# mgmt1's inventory also lists 198.18.0.99: a VIP cas1 holds, not mgmt1.
lab_addr cas1 198.18.0.99 vip
CFG=$LAB_DIR/fleet.yaml
sed 's/addresses: \[198.18.0.10, "fd00:5e::10"\]/addresses: [198.18.0.10, "fd00:5e::10", 198.18.0.99]/' \
	"$LAB_REPO/tests/e2e/fleet-lab.yaml" >"$CFG"
# the resolver on both families, so that each source route's first hop is an allowed one
sed -i 's/^resolvers: \[198.19.2.53\]/resolvers: [198.19.2.53, "fd00:5e::2:53"]/' "$CFG"
printf 'ethertypes: [lldp]\n' >>"$CFG"
grep -q 198.18.0.99 "$CFG" || lab_die "the fleet config did not get the VIP"
grep -q 'fd00:5e::2:53' "$CFG" || lab_die "the fleet config did not get the IPv6 resolver"

# A tun device on mgmt1, and sources routed through it: 198.18.200.0/24
# (nobody the policy knows) and 198.18.9.77 (an ADM address).
lab_exec mgmt1 ip tuntap add dev tun0 mode tun
lab_exec mgmt1 ip link set tun0 up
lab_exec mgmt1 ip route add 198.18.200.0/24 dev tun0
lab_exec mgmt1 ip route add 198.18.9.77/32 dev tun0

echo "# apply on eth0 alone, then on eth0 and the tun device"
# The first apply loads the programs of Ethernet frames only (tests/bpf/test_maps.c
# checks what a load holds); the second must load the tun device's (IP frames).
RC=0
OUT=$(lab_speebpf mgmt1 apply -c "$CFG" --host mgmt1 --iface eth0 2>&1) || RC=$?
expect_true "apply on eth0 succeeds ($(tail -c 300 <<<"$OUT" | tr '\n' ' '))" test "$RC" = 0
lab_on_cleanup lab_speebpf mgmt1 detach
RC=0
OUT=$(lab_speebpf mgmt1 apply -c "$CFG" --host mgmt1 --iface eth0 --iface tun0 2>&1) || RC=$?
expect_true "apply succeeds ($(tail -c 300 <<<"$OUT" | tr '\n' ' '))" test "$RC" = 0
expect_true "  and warns that 198.18.0.99 is not on this machine" \
	grep -q "198.18.0.99, an address of host mgmt1 in the inventory, is not configured" <<<"$OUT"
STATUS=$(lab_speebpf mgmt1 status --json)
expect_true "status: tun0's frames start at the IP header" \
	test "$(jq -r '.links[] | select(.interface == "tun0") | .frames' <<<"$STATUS")" = ip
expect_true "  in generic mode, which sees every packet of a tun device" \
	test "$(jq -r '.links[] | select(.interface == "tun0") | .xdp_mode' <<<"$STATUS")" = generic
expect_true "  each interface with its tc egress filter" \
	test "$(jq '[.links[] | select(.kind == "xdp") | .tc_egress_prog_id | select(. != null)] | length' <<<"$STATUS")" = 2
expect_true "  and the sendmsg hooks" \
	test "$(jq '[.links[] | select(.kind | startswith("cgroup-sendmsg"))] | length' <<<"$STATUS")" = 2
expect_true "  and no problem" lab_speebpf mgmt1 status

echo "# 1. a SYN through a tun device to a port only ADM may reach"
syn_via_tun() {	# SRC [MS]: a SYN from SRC to mgmt1:8470; succeeds when a SYN-ACK comes back
	local tcp
	tcp=$(seg_tcp "$1" 198.18.0.10 40123 8470 1000 0 S)
	lab_exec mgmt1 "$SPEEPROBE" tun tun0 --send "$(pkt_ipv4 "$1" 198.18.0.10 6 "$tcp")" \
		--expect 2116@20 --expect 12@33 --timeout-ms "${2:-1500}"
}
expect_false "from 198.18.200.5: no SYN-ACK comes back" syn_via_tun 198.18.200.5
expect_true "from ADM's 198.18.9.77: the SYN-ACK comes back" syn_via_tun 198.18.9.77 8000
RC=0
OUT=$(lab_speebpf mgmt1 apply -c "$CFG" --host mgmt1 --iface lo --pin-dir "$(lab_pin_dir mgmt1)-lo" 2>&1) || RC=$?
expect_true "a device speebpf cannot judge (lo) is refused, not attached" test "$RC" != 0
expect_true "  saying why" grep -q "refusing to enforce lo: it is the loopback device" <<<"$OUT"
expect_false "  and nothing is left of that instance" test -e "$(lab_pin_dir mgmt1)-lo"

echo "# 2. source routes: the resolver first, a destination no rule allows last"
udp_rc() {	# udp ARGS...: the probe's exit status
	local rc=0
	lab_exec mgmt1 "$SPEEPROBE" udp "$@" --timeout-ms 500 >/dev/null 2>&1 || rc=$?
	echo "$rc"
}
expect_true "IPv6 segment routing header, sendto(): EPERM" \
	test "$(udp_rc fd00:5e::2:25 53 --unconnected --via fd00:5e::2:53)" = 3
expect_true "  the same on a connected socket: EPERM" \
	test "$(udp_rc fd00:5e::2:25 53 --via fd00:5e::2:53)" = 3
expect_true "IPv4 loose source route, sendto(): EPERM" \
	test "$(udp_rc 198.19.2.25 53 --unconnected --via 198.19.2.53)" = 3
expect_true "  the same on a connected socket: EPERM" \
	test "$(udp_rc 198.19.2.25 53 --via 198.19.2.53)" = 3
expect_true "DNS to the resolver itself goes out" \
	test "$(udp_rc 198.19.2.53 53 --unconnected)" = 2
expect_true "  and on a connected socket, its port unreachable comes back (no DNS server)" \
	test "$(udp_rc 198.19.2.53 53)" = 1
expect_true "  over IPv6 too" test "$(udp_rc fd00:5e::2:53 53)" = 1

echo "# 3. ICMP as a covert channel"
DATA=$(printf 'the secret%.0s' 1 2 3 4 5 6 | od -An -v -tx1 | tr -d ' \n')
icmp_rc() {
	local rc=0
	lab_exec mgmt1 "$SPEEPROBE" icmp "$@" --data-hex "$DATA" >/dev/null 2>&1 || rc=$?
	echo "$rc"
}
expect_true "a raw ICMP unreachable carrying data: EPERM" \
	test "$(icmp_rc 198.19.1.1 --type 3 --code 1)" = 3
expect_true "a raw ICMP time exceeded carrying data: EPERM" \
	test "$(icmp_rc 198.19.1.1 --type 11)" = 3
expect_true "a raw ICMPv6 packet too big carrying data: EPERM" \
	test "$(icmp_rc fd00:5e::1:1 --type 2)" = 3
expect_true "a raw neighbour solicitation with a routable hop limit: EPERM" \
	test "$(icmp_rc fd00:5e::1:1 --type 135 --hop-limit 64)" = 3
expect_true "a raw MLD report to a unicast address beyond the link's hop limit: EPERM" \
	test "$(icmp_rc fd00:5e::1:1 --type 131 --hop-limit 64)" = 3
# and IPv6 between the lab's hosts keeps working: neighbour discovery both ways
expect_connect mgmt1 cas1/6 8473
expect_connect cas1 mgmt1/6 8471
expect_connect admpc mgmt1/6 8470

echo "# 4. a packet socket (CAP_NET_RAW) sends past the cgroup hook"
frame_from_mgmt1() {	# DST PORT: a SYN from mgmt1, as a frame to DST's MAC
	local tcp
	tcp=$(seg_tcp 198.18.0.10 "$(lab_ip "$1")" 40321 "$2" 1000 0 S)
	frame_eth "$(lab_mac "$1")" "$(lab_mac mgmt1)" 0800 \
		"$(pkt_ipv4 198.18.0.10 "$(lab_ip "$1")" 6 "$tcp")"
}
seen_at() {	# HOST PORT [MS]: starts a watch on HOST for a SYN from mgmt1 to PORT
	lab_spawn "$1" "watch-$2" "$SPEEPROBE" watch eth0 --timeout-ms "${3:-2500}" --inbound \
		--match "c612000a@26" --match "$(hex_u16 "$2")@36"
	lab_wait_log "watch-$2" '^watching '
}
seen_at client 25
lab_exec mgmt1 "$SPEEPROBE" send-frame eth0 "$(frame_from_mgmt1 client 25)" || true
RC=0
lab_wait watch-25 10 || RC=$?	# (here: wait works on this shell's children only)
expect_true "a SYN to client:25 (no rule) never reaches the wire (watch exit $RC)" test "$RC" = 1
seen_at ext 587 15000	# ends when it sees the frame: long only for a busy machine
lab_exec mgmt1 "$SPEEPROBE" send-frame eth0 "$(frame_from_mgmt1 ext 587)"
RC=0
lab_wait watch-587 20 || RC=$?
expect_true "a SYN to ext:587 (mgmt-smtp) does (watch exit $RC)" test "$RC" = 0

echo "# 5. an inventory address another machine holds is not the host itself"
expect_blocked mgmt1 198.18.0.99 443
OUT=$(lab_speebpf mgmt1 check -c "$CFG" 2>&1 || true)
expect_true "check of this machine's host warns about it" \
	grep -q "198.18.0.99, an address of host mgmt1" <<<"$OUT"
OUT=$(lab_speebpf cas1 check -c "$CFG" --host mgmt1 2>&1 || true)
expect_false "  check of it on another machine does not (it cannot know)" \
	grep -q "is not configured on this machine" <<<"$OUT"

echo "# 6. non-IP frames: ARP and what the config lists pass, the rest is dropped"
stat_of() {	# JQ: a number from stats --json
	lab_speebpf mgmt1 stats --json | jq "$1"
}
drops_before=$(stat_of '[.drops[] | select(.direction == "ingress" and .reason == "ethertype") | .packets] | add // -1')
for et in 8847 8864 9100; do
	lab_exec client "$SPEEPROBE" send-frame eth0 \
		"$(frame_eth "$(lab_mac mgmt1)" "$(lab_mac client)" "$et" 000102030405060708090a0b)"
done
lab_exec client "$SPEEPROBE" send-frame eth0 \
	"$(frame_eth "$(lab_mac mgmt1)" "$(lab_mac client)" 88cc 0207040000000000)"
drops_after=$(stat_of '[.drops[] | select(.direction == "ingress" and .reason == "ethertype") | .packets] | add // -1')
expect_true "MPLS, PPPoE and a 0x9100 tag are dropped as ethertype ($drops_before -> $drops_after)" \
	test "$drops_before" -ge 0 -a "$drops_after" -eq $((drops_before + 3))
for class in mpls pppoe vlan-tag; do
	expect_true "  counted under their class $class" \
		test "$(stat_of "[.non_ip[] | select(.direction == \"ingress\" and .class == \"$class\" and (.passed | not)) | .packets] | add")" -ge 1
done
expect_true "  LLDP, which the config lists, passes" \
	test "$(stat_of '[.non_ip[] | select(.direction == "ingress" and .class == "lldp" and .passed) | .packets] | add')" -ge 1

echo "# 7. fragments out of order, and 8. what they count"
lab_listen mgmt1 syslog --udp 198.18.0.10 514
datagrams() { grep -c '^datagram ' "$(lab_spawn_log syslog)" || true; }
syslog_count() {
	stat_of '[.rules[] | select(.id == "syslog" and .direction == "ingress") | .packets] | add'
}
# a datagram of 64 bytes of data to mgmt1:514, in two fragments
fragments() {	# SRC ID: sets FIRST and SECOND, the two frames of one datagram from SRC
	local udp ip
	udp=$(seg_udp "$1" 198.18.0.10 5514 514 "$DATA$DATA")
	FIRST=$(frame_eth "$(lab_mac mgmt1)" "$(lab_mac "$3")" 0800 \
		"$(pkt_ipv4 "$1" 198.18.0.10 17 "${udp:0:64}" 0x2000 "$2")")
	SECOND=$(frame_eth "$(lab_mac mgmt1)" "$(lab_mac "$3")" 0800 \
		"$(pkt_ipv4 "$1" 198.18.0.10 17 "${udp:64}" 4 "$2")")
}
wait_datagrams() {	# N: up to 2 s for the listener to have N datagrams
	for _ in $(seq 20); do
		(($(datagrams) >= $1)) && return 0
		lab_sleep 0.1
	done
	return 1
}
n0=$(datagrams)
count0=$(syslog_count)
fragments 198.18.9.50 4401 admpc
lab_exec admpc "$SPEEPROBE" send-frame eth0 "$SECOND"
lab_exec admpc "$SPEEPROBE" send-frame eth0 "$FIRST"
expect_true "a datagram from ADM in reverse order arrives" wait_datagrams $((n0 + 1))
fragments 198.18.9.50 4402 admpc
lab_exec admpc "$SPEEPROBE" send-frame eth0 "$FIRST"
lab_exec admpc "$SPEEPROBE" send-frame eth0 "$SECOND"
expect_true "  and one in order" wait_datagrams $((n0 + 2))
expect_true "  each counted once on syslog ($count0 -> $(syslog_count))" \
	test "$(syslog_count)" = $((count0 + 2))
n1=$(datagrams)
fragments 198.19.1.1 4403 client
lab_exec client "$SPEEPROBE" send-frame eth0 "$SECOND"
lab_exec client "$SPEEPROBE" send-frame eth0 "$FIRST"
fragments 198.18.9.50 4404 admpc
lab_exec admpc "$SPEEPROBE" send-frame eth0 "$SECOND"
expect_false "later fragments without an allowed first deliver nothing" wait_datagrams $((n1 + 1))

echo "# 10. explain maps the addresses the connect hook maps"
explain_json() { lab_speebpf mgmt1 explain -c "$CFG" --host mgmt1 --from 198.18.0.10 --json "$@"; }
expect_true "::ffff:198.19.2.100 port 443 is mgmt-license, as its IPv4 address" \
	test "$(explain_json --to ::ffff:198.19.2.100 --port 443 | jq -r .rule)" = mgmt-license
expect_connect mgmt1 ::ffff:198.19.2.100 443 -6
expect_true "0.0.0.0 is the host itself" \
	test "$(explain_json --to 0.0.0.0 --port 25 | jq -r '.verdict + " " + .reason')" = "pass loopback"
expect_true ":: too" test "$(explain_json --to :: --port 25 | jq -r .reason)" = loopback
expect_true "::ffff:198.19.1.1 port 443 has no rule, as the kernel says" \
	test "$(explain_json --to ::ffff:198.19.1.1 --port 443 | jq -r .reason)" = no-rule
expect_blocked mgmt1 ::ffff:198.19.1.1 443 -6

lab_finish
