#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Gateway mode on real traffic: the SPE hosts are "Windows VMs" (no speebpf in
# them) on the bridge of a hypervisor namespace, hv, which also routes to the
# ADM network, the internet's clients and the external servers
# (lab_spe_gateway_topology). One `speebpf apply --gateway` in hv enforces the
# lab fleet for all of them: tc on the bridge's ports, XDP on the routed
# uplinks. The host-mode verdict table (verdicts-host.table) must pass
# unchanged -- ingress at the destination VM, egress from the source VM,
# east-west between VMs -- with each host's counters read from hv's stats by
# "host". Then what a gateway promises besides: replies and a long-lived
# stream, counters per host, forged, tiny-fragment and VLAN-tagged frames,
# an update in place, audit mode, and detach.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/verdicts.sh"
lab_require_speebpf
_vt_stats_bin # which build reads counters, chosen once
lab_init gateway
lab_spe_gateway_topology
lab_spe_listeners
lab_listen mgmt1 syslog --udp :: 514

CFG=$LAB_DIR/fleet.yaml
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$CFG"
FLEET=(mgmt1 cas1 ih1)
GW=$SPE_GW
PORTS=() UPLINKS=()
for h in "${SPE_GW_VMS[@]}"; do PORTS+=("$(lab_switch_port "$h")"); done
for h in "${SPE_GW_UPLINKS[@]}"; do UPLINKS+=("$(lab_switch_port "$h")"); done
IFACES=()
for i in "${PORTS[@]}" "${UPLINKS[@]}"; do IFACES+=(--iface "$i"); done

# gw COMMAND ARGS...: the speebpf under test in hv, on hv's pin dir.
gw() {
	local cmd=$1
	shift
	lab_exec "$GW" "$SPEEBPF" "$cmd" "$@" --pin-dir "$(lab_pin_dir "$GW")"
}
gw_apply() { gw apply -c "$CFG" --gateway "${IFACES[@]}" "$@"; }
# hv's stats, read as verdicts.sh reads them (often: the build without sanitizers when fresh).
gw_stats() {
	_vt_stats_bin
	"$VT_STATS" stats --json --pin-dir "$(lab_pin_dir "$GW")"
}
in_hv() { nsenter --net="$(lab_netns_path "$GW")" -- "$@"; }

# host_rule HOST RULE DIR: the packets of HOST's entry of RULE in DIR (-1: no such entry).
host_rule() {
	gw_stats | jq -r --arg h "$1" --arg id "$2" --arg dir "$3" \
		'[.rules[] | select(.host == $h and .id == $id and .direction == $dir) | .packets] | add // -1'
}
# host_drops HOST REASON DIR: HOST's drops of REASON in DIR (0 before the first).
host_drops() {
	gw_stats | jq -r --arg h "$1" --arg r "$2" --arg dir "$3" \
		'[.drops[] | select(.host == $h and .reason == $r and .direction == $dir) | .packets] | add // 0'
}
# reason_all REASON DIR: the fleet-wide packets of REASON in DIR (drops and passes).
reason_all() {
	gw_stats | jq -r --arg r "$1" --arg dir "$2" \
		'[(.drops + .passes)[] | select(.reason == $r and .direction == $dir and (has("host") | not)) | .packets] | add // 0'
}
# The rule entries of hv's stats, "host/id/direction packets" a line.
host_rules() {
	gw_stats | jq -r '.rules[] | "\(.host)/\(.id)/\(.direction) \(.packets)"' | LC_ALL=C sort
}
# rules_moved BEFORE AFTER: "host/id/direction +n" for every entry that moved
# (an entry only AFTER has is new: it moved from 0).
rules_moved() {
	LC_ALL=C join -a 2 -e 0 -o 0,1.2,2.2 <(echo "$1") <(echo "$2") |
		awk '$3 != $2 { printf "%s +%d\n", $1, $3 - $2 }'
}
# What hooks hold hv's interfaces: "IF tc" / "IF xdp" / "IF -", one a line.
hooks() {
	local i k
	for i in "${PORTS[@]}" "${UPLINKS[@]}"; do
		k=-
		if in_hv tc filter show dev "$i" ingress 2>/dev/null | grep -q spee_gw_tc; then k=tc; fi
		if ip -n "$(lab_netns "$GW")" -d link show "$i" | grep -q 'prog/xdp'; then k=${k/-/}xdp; fi
		echo "$i $k"
	done
}
# The ids of the programs attached to hv's interfaces and of its links.
attachments() {
	local i
	for i in "${PORTS[@]}"; do
		in_hv tc filter show dev "$i" ingress | grep -o 'id [0-9]*' | sed "s/^/$i tc /"
	done
	gw status --json | jq -r '.links[] | "\(.pin) \(.prog_id) \(.link_id)"' | sort
}
running() {
	local n
	for n in "$@"; do
		kill -0 "$(lab_spawn_pid "$n")" 2>/dev/null || lab_die "$n ended early: $(cat "$(lab_spawn_log "$n")")"
	done
}

echo "# the lab with nothing enforcing: what the table refuses flows through hv"
verdicts_flow "$LAB_SRC/verdicts-host.table" refusals

echo "# gateway mode: one apply in hv, nothing in the VMs"
want_hooks=$(for i in "${PORTS[@]}"; do echo "$i tc"; done; for i in "${UPLINKS[@]}"; do echo "$i xdp"; done)
gw_detach() { if [[ -e $(lab_pin_dir "$GW") ]]; then gw detach; fi; }
lab_on_cleanup gw_detach
expect_true "apply --gateway in hv on its ${#PORTS[@]} bridge ports and ${#UPLINKS[@]} uplinks" gw_apply
expect_true "status says it is a gateway for 3 hosts, enforcing" \
	test "$(gw status --json | jq -r '"\(.kind) \(.gateway.hosts) \(.mode)"')" = "gateway 3 enforce"
expect_true "  and names the hook of each interface" \
	test "$(gw status --json | jq -r '.gateway.interfaces[] | "\(.interface) \(.hook | sub("tc-ingress"; "tc"))"' | sort)" \
	= "$(echo "$want_hooks" | sort)"
expect_true "tc on each bridge port, XDP on each uplink, nothing else" test "$(hooks)" = "$want_hooks"
expect_false "nothing on hv's bridge br0" sh -c "ip -n $(lab_netns "$GW") -d link show br0 | grep -q prog/xdp"
for h in "${SPE_GW_VMS[@]}"; do
	expect_false "  no program in VM $h" sh -c "ip -n $(lab_netns "$h") -d link show eth0 | grep -q prog/xdp ||
		nsenter --net=$(lab_netns_path "$h") tc filter show dev eth0 ingress | grep -q . ||
		nsenter --net=$(lab_netns_path "$h") tc filter show dev eth0 egress | grep -q ."
done
expect_true "no program on any lab cgroup" test -z "$(bpftool cgroup tree "$LAB_CGROUP" | sed 1,2d)"
expect_true "every fleet host has its rules in stats, by host" \
	test "$(gw_stats | jq -r '[.rules[].host] | unique | join(" ")')" = "cas1 ih1 mgmt1"

echo "# the verdict table (verdicts-host.table): every seed row, each direction, counted per host"
VT_FLEET=("${FLEET[@]}") # shellcheck disable=SC2034 # read by verdicts.sh
VT_GATEWAY=$GW           # shellcheck disable=SC2034
verdicts_run gateway "$LAB_SRC/verdicts-host.table"

echo "# every rule of every host counted traffic (each seed row, each direction)"
for h in "${FLEET[@]}"; do
	unused=$(gw_stats | jq -r --arg h "$h" \
		'[.rules[] | select(.host == $h and .packets == 0) | "\(.id)/\(.direction)"] | join(" ")')
	expect_true "every rule of $h was used${unused:+ (unused: $unused)}" test -z "$unused"
	count=$(gw_stats | jq --arg h "$h" '[.rules[] | select(.host == $h)] | length')
	expect_true "  $h has its rules in stats ($count entries)" test "$count" -ge 4
done

echo "# counters per host: an east-west SYN counts on the source's egress and the target's ingress, once"
before=$(host_rules)
expect_connect cas1 mgmt1 8471
expect_true "only cas1/mgmt-internal/egress and mgmt1/mgmt-internal/ingress moved, by 1" \
	test "$(rules_moved "$before" "$(host_rules)" | paste -sd,)" \
	= "cas1/mgmt-internal/egress +1,mgmt1/mgmt-internal/ingress +1"
before=$(host_rules)
expect_connect client cas1 443
expect_true "from the internet: only cas1/cas-https/ingress moved, by 1" \
	test "$(rules_moved "$before" "$(host_rules)" | paste -sd,)" = "cas1/cas-https/ingress +1"

# the whole output first: grep -q would leave stats writing into a closed pipe (SIGPIPE)
prometheus_hosts() {
	local out
	out=$(gw stats --prometheus) && grep -q 'speebpf_rule_packets_total{.*host="mgmt1"' <<<"$out"
}
expect_true "Prometheus: the rule counters carry a host label" prometheus_hosts

echo "# replies: data both ways, counted as established, not under a rule"
est=$(reason_all established ingress)
before=$(host_rules)
expect_true "admpc -> mgmt1:8470 echoes 64 KiB back" \
	lab_exec admpc "$SPEEPROBE" connect "$(lab_ip mgmt1)" 8470 --send 65536 --expect-echo --timeout-ms 5000
expect_true "ih1 -> mail:993 (IPv6) echoes 64 KiB back" \
	lab_exec ih1 "$SPEEPROBE" connect "$(lab_ip mail 6)" 993 --send 65536 --expect-echo --timeout-ms 5000
expect_true "  each counted once under its rule, on its host" \
	test "$(rules_moved "$before" "$(host_rules)" | paste -sd,)" = "ih1/ih-imaps/egress +1,mgmt1/mgmt-console/ingress +1"
expect_true "  and their other packets as established" test "$(reason_all established ingress)" -gt "$((est + 20))"

echo "# forged and evasive packets"
mac_ext=$(lab_mac ext) mac_client=$(lab_mac client) mac_cas1=$(lab_mac cas1) mac_mgmt1=$(lab_mac mgmt1)
mac_ih1=$(lab_mac ih1)
up_ext=$(ip -n "$(lab_netns "$GW")" -o link show "$(lab_switch_port ext)" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
up_client=$(ip -n "$(lab_netns "$GW")" -o link show "$(lab_switch_port client)" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
ip_ih1=$(lab_ip ih1) ip_client=$(lab_ip client) ip_cas1=$(lab_ip cas1) ip_mgmt1=$(lab_ip mgmt1)
# Watched where it would arrive: the VM's RST to it would not pass the gateway either.
# ih1 may connect to mail:143; an ACK "from" there with no connection is no reply (XDP on ext's uplink).
ack=$(seg_tcp 198.19.2.25 "$ip_ih1" 143 45678 5000 77777 A)
drops=$(host_drops ih1 no-rule ingress)
expect_frame silence ih1 "an unsolicited ACK from mail:143 to ih1:45678 does not reach ih1" ext \
	"$(frame_eth "$up_ext" "$mac_ext" 0800 "$(pkt_ipv4 198.19.2.25 "$ip_ih1" 6 "$ack")")" \
	"$(hex_ip4 "$ip_ih1")@30" "$(hex_u16 143)$(hex_u16 45678)@34"
expect_true "  and counted as ih1's no-rule drop at ingress" test "$(host_drops ih1 no-rule ingress)" -gt "$drops"
acked_event() { gw events | grep 198.19.2.25 | grep 45678 | grep -q no-rule; }
expect_true "  and reported as a drop event" acked_event
# Between VMs (tc on cas1's port): an ACK "from" cas1's port 40404 to mgmt1:8471, no SYN before.
ack=$(seg_tcp "$ip_cas1" "$ip_mgmt1" 40404 8471 5000 77777 A)
drops=$(host_drops mgmt1 no-rule ingress)
expect_frame silence mgmt1 "an unsolicited ACK from cas1 to mgmt1:8471 does not reach mgmt1" cas1 \
	"$(frame_eth "$mac_mgmt1" "$mac_cas1" 0800 "$(pkt_ipv4 "$ip_cas1" "$ip_mgmt1" 6 "$ack")")" \
	"$(hex_ip4 "$ip_mgmt1")@30" "$(hex_u16 40404)$(hex_u16 8471)@34"
expect_true "  and counted as mgmt1's no-rule drop at ingress" test "$(host_drops mgmt1 no-rule ingress)" -gt "$drops"

# cas-https is open to ANY, yet a SYN whose TCP header is split over two fragments is not.
syn=$(seg_tcp "$ip_client" "$ip_cas1" 40004 443 1000 0 S)
frags=$(host_drops cas1 fragment ingress)
frag1=$(frame_eth "$up_client" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_cas1" 6 "${syn:0:16}" 0x2000 777)")
frag2=$(frame_eth "$up_client" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_cas1" 6 "${syn:16}" 1 777)")
lab_spawn cas1 frag-watch "$SPEEPROBE" watch eth0 --timeout-ms 1500 --count 1 --inbound \
	--match "$(hex_u16 777)@18" --match "$(hex_ip4 "$ip_client")@26"
lab_wait_log frag-watch '^watching '
lab_exec client "$SPEEPROBE" send-frame eth0 "$frag1" >/dev/null
lab_exec client "$SPEEPROBE" send-frame eth0 "$frag2" >/dev/null
rc=0
lab_wait frag-watch 5 || rc=$?
expect_true "a SYN in a tiny first fragment to cas1:443: neither fragment reaches cas1" test "$rc" = 1
expect_true "  and cas1 counted both fragments as fragment" \
	test "$(host_drops cas1 fragment ingress)" -ge "$((frags + 2))"
syn=$(seg_tcp "$ip_client" "$ip_cas1" 40005 443 1000 0 S)
expect_frame answer client "  (control: the same SYN unfragmented gets a SYN-ACK)" client \
	"$(frame_eth "$up_client" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_cas1" 6 "$syn")")" \
	"$(hex_u16 443)$(hex_u16 40005)@34" 12@47

# Tagged frames are judged as untagged ones (no VLAN device behind the hooks
# takes them further: counters tell). On an uplink XDP sees the tag in the
# frame; on a bridge port the kernel has moved it into the skb before tc.
syn=$(seg_tcp "$ip_client" "$ip_cas1" 40006 443 1000 0 S)
before=$(host_rules)
lab_exec client "$SPEEPROBE" send-frame eth0 \
	"$(frame_vlan "$up_client" "$mac_client" 7 0800 "$(pkt_ipv4 "$ip_client" "$ip_cas1" 6 "$syn")")" >/dev/null
expect_true "a VLAN-tagged SYN client -> cas1:443 (uplink) counts under cas-https on cas1" \
	test "$(rules_moved "$before" "$(host_rules)" | paste -sd,)" = "cas1/cas-https/ingress +1"
syn=$(seg_tcp "$ip_client" "$ip_mgmt1" 40008 8471 1000 0 S)
drops=$(host_drops mgmt1 no-rule ingress)
lab_exec client "$SPEEPROBE" send-frame eth0 \
	"$(frame_vlan "$up_client" "$mac_client" 7 0800 "$(pkt_ipv4 "$ip_client" "$ip_mgmt1" 6 "$syn")")" >/dev/null
expect_true "a VLAN-tagged SYN client -> mgmt1:8471 (uplink) is mgmt1's no-rule drop" \
	test "$(host_drops mgmt1 no-rule ingress)" -eq "$((drops + 1))"
syn=$(seg_tcp "$ip_ih1" "$ip_cas1" 40007 8473 1000 0 S)
drops=$(host_drops ih1 no-rule egress)
lab_exec ih1 "$SPEEPROBE" send-frame eth0 \
	"$(frame_vlan "$mac_cas1" "$mac_ih1" 7 0800 "$(pkt_ipv4 "$ip_ih1" "$ip_cas1" 6 "$syn")")" >/dev/null
expect_true "a VLAN-tagged SYN ih1 -> cas1:8473 is ih1's no-rule drop at egress" \
	test "$(host_drops ih1 no-rule egress)" -eq "$((drops + 1))"

echo "# an update in place: a peer added while a long-lived stream flows"
lab_spawn cas1 long-8471 "$SPEEPROBE" stream "$ip_mgmt1" 8471 --seconds 6 --rate-kbps 256
lab_spawn admpc long-ssh "$SPEEPROBE" stream "$(lab_ip mgmt1 6)" 22 --seconds 6 --rate-kbps 256
lab_sleep 0.5
running long-8471 long-ssh
expect_blocked cas2 mgmt1 8471
links_before=$(attachments)
sed 's/^networks:/  - name: cas2\n    roles: [CAS]\n    addresses: [198.18.0.12, "fd00:5e::12"]\nnetworks:/' \
	"$LAB_REPO/tests/e2e/fleet-lab.yaml" >"$CFG"
expect_true "apply with cas2 (in place)" gw_apply
hits=$(host_rule mgmt1 mgmt-internal ingress)
expect_connect cas2 mgmt1 8471
expect_true "  counted on cas2's new mgmt-internal egress entry" test "$(host_rule cas2 mgmt-internal egress)" = 1
expect_true "  and on mgmt1's mgmt-internal ingress entry, from where it was" \
	test "$(host_rule mgmt1 mgmt-internal ingress)" = "$((hits + 1))"
expect_blocked client cas2 8473
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$CFG"
expect_true "apply without cas2 (in place)" gw_apply
expect_blocked cas2 mgmt1 8471
expect_connect cas1 mgmt1 8471
expect_true "no program or link was replaced by the updates" test "$(attachments)" = "$links_before"
expect_spawned_ok long-8471 "the long-lived cas1 -> mgmt1:8471 stream lost no byte across both updates" 15
expect_spawned_ok long-ssh "the admin's IPv6 SSH stream to mgmt1 lost no byte across both updates" 15
expect_true "status is at policy generation 3" test "$(gw status --json | jq .generation)" = 3

echo "# audit mode: everything passes, what would be dropped is counted"
expect_true "apply --audit (in place)" gw_apply --audit
drops=$(host_drops cas1 no-rule ingress)
expect_connect client cas1 8473
expect_true "  cas1 counted it as a would-drop (no-rule, ingress)" \
	test "$(host_drops cas1 no-rule ingress)" -gt "$drops"
drops=$(host_drops cas1 no-rule egress)
expect_connect cas1 mail 587
expect_true "  an egress refusal passes too, counted on cas1 (no-rule, egress)" \
	test "$(host_drops cas1 no-rule egress)" -gt "$drops"
hits=$(host_rule cas1 cas-https ingress)
expect_connect client cas1 443
expect_true "  an allowed one counts under its rule" test "$(host_rule cas1 cas-https ingress)" -eq "$((hits + 1))"

echo "# detach leaves nothing behind"
expect_true "detach in hv" gw detach
expect_false "  no pin dir is left" test -e "$(lab_pin_dir "$GW")"
expect_true "  no hook on any of hv's interfaces" \
	test -z "$(hooks | awk '$2 != "-"')"
expect_connect client ih1 8472	# nothing enforces any more

lab_finish
