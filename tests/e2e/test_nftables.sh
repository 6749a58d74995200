#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The nftables export on real traffic: mgmt1, cas1 and ih1 each load their own
# `speebpf export --format nftables` with nft -f into their own network
# namespace (never this machine's), and the host-mode verdict table that the
# eBPF datapath passes (verdicts-host.table) must pass unchanged, counters
# included. Then what the ruleset promises besides: loading twice leaves one
# table and other tables alone, sessions open before loading keep flowing,
# forged and tiny-fragment packets are dropped, the DNS names' sets refresh
# without touching rules or counters, and audit mode drops nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/verdicts.sh"
lab_require_speebpf
command -v nft >/dev/null || lab_skip "no nft (tools/install-deps.sh installs nftables)"
lab_init nftables
lab_spe_topology
lab_spe_listeners

CFG=$LAB_DIR/fleet.yaml
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$CFG"
FLEET=(mgmt1 cas1 ih1)
# my.mailstore.com as the lab's hosts files have it (the datapath resolves it there)
PIN=(--resolve "my.mailstore.com=$SPE_MAILSTORE")

# nft_in HOST ARGS...: nft in HOST's network namespace, the only place this test runs it.
nft_in() {
	local host=$1
	shift
	nsenter --net="$(lab_netns_path "$host")" -- nft "$@"
}

# export_to HOST FORMAT FILE [ARGS...]: HOST's ruleset in FORMAT, from $CFG
# (a --resolve in ARGS overrides PIN's).
export_to() {
	local host=$1 format=$2 file=$3
	shift 3
	"$SPEEBPF" export -c "$CFG" --host "$host" --format "$format" "${PIN[@]}" "$@" >"$file"
}

# The packets of an nft counter of HOST.
nft_packets() {
	nft_in "$1" -j list counter inet speebpf "$2" | jq '.nftables[] | select(.counter) | .counter.packets'
}

running() {
	local n
	for n in "$@"; do
		kill -0 "$(lab_spawn_pid "$n")" 2>/dev/null || lab_die "$n ended early: $(cat "$(lab_spawn_log "$n")")"
	done
}

lab_listen mgmt1 syslog --udp :: 514
echo "# a table of someone else's on each host, with a chain on the same hook"
for h in "${FLEET[@]}"; do
	nft_in "$h" -f - <<-'EOF'
		table inet keep {
			counter seen { }
			chain input {
				type filter hook input priority 10; policy accept;
				counter name "seen"
			}
		}
	EOF
done

echo "# sessions open before the ruleset is loaded"
lab_spawn admpc ssh-session "$SPEEPROBE" stream "$(lab_ip mgmt1)" 22 --seconds 8 --rate-kbps 64
lab_spawn ih1 imap-fetch "$SPEEPROBE" stream 198.19.2.25 143 --seconds 8 --rate-kbps 64
lab_sleep 0.5
running ssh-session imap-fetch

echo "# export and load, twice"
for h in "${FLEET[@]}"; do
	expect_true "export of $h" export_to "$h" nftables "$LAB_DIR/$h.nft"
	expect_true "nft -f loads it on $h" nft_in "$h" -f "$LAB_DIR/$h.nft"
	expect_true "  and loads it again" nft_in "$h" -f "$LAB_DIR/$h.nft"
	expect_true "  which leaves one table inet speebpf beside the other table" \
		test "$(nft_in "$h" list tables | sort | paste -sd,)" = "table inet keep,table inet speebpf"
	expect_true "  and leaves the other table's chain in place" nft_in "$h" list chain inet keep input
done
# Conntrack picks the admin's session up mid-stream: by its first packet in,
# under the rule that allows it, or by its first packet out (the host's own
# TCP), after which the rest are its replies. The table's counter checks
# start once that happened (nothing else of mgmt1's sends TCP meanwhile).
picked_up() {
	(($(nft_packets mgmt1 rule.in.failsafe-ssh) + $(nft_packets mgmt1 reason.out.established) > 0))
}
for ((i = 0; i < 100; i++)); do
	picked_up && break
	lab_sleep 0.05
done
expect_true "the SSH session open before loading was picked up" picked_up

echo "# the verdict table (verdicts-host.table): every seed row, each direction, with its counters"
VT_FLEET=("${FLEET[@]}") # shellcheck disable=SC2034 # read by verdicts.sh
verdicts_run nftables "$LAB_SRC/verdicts-host.table"

echo "# every rule enforced on every host has counted traffic (each seed row, each direction)"
for h in "${FLEET[@]}"; do
	unused=$(nft_in "$h" -j list counters table inet speebpf |
		jq -r '[.nftables[] | select(.counter) | .counter | select((.name | startswith("rule.")) and .packets == 0) | .name] | join(" ")')
	expect_true "every rule of $h was used${unused:+ (unused: $unused)}" test -z "$unused"
done
expect_true "the other table's chain saw the same traffic" \
	test "$(nft_in mgmt1 -j list counter inet keep seen | jq '.nftables[] | select(.counter) | .counter.packets')" -gt 0

echo "# forged and evasive packets"
mac_ext=$(lab_mac ext) mac_ih1=$(lab_mac ih1) mac_client=$(lab_mac client) mac_cas1=$(lab_mac cas1)
ip_ih1=$(lab_ip ih1) ip_client=$(lab_ip client) ip_cas1=$(lab_ip cas1)
# ih1 may connect to mail:143; an ACK "from" there to a port with no connection is not a reply.
ack=$(seg_tcp 198.19.2.25 "$ip_ih1" 143 45678 5000 77777 A)
drops=$(nft_packets ih1 reason.in.no-rule)
expect_frame silence ext "a spoofed ACK from mail:143 to ih1:45678 is not answered" ext \
	"$(frame_eth "$mac_ih1" "$mac_ext" 0800 "$(pkt_ipv4 198.19.2.25 "$ip_ih1" 6 "$ack")")" \
	"$(hex_ip4 "$ip_ih1")@26" "$(hex_u16 45678)$(hex_u16 143)@34"
expect_true "  and ih1 counted it as no-rule" test "$(nft_packets ih1 reason.in.no-rule)" -gt "$drops"

# cas-https is open to ANY, yet a SYN whose TCP header is split over two fragments is not.
syn=$(seg_tcp "$ip_client" "$ip_cas1" 40004 443 1000 0 S)
frags=$(nft_packets cas1 reason.in.fragment)
frag1=$(frame_eth "$mac_cas1" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_cas1" 6 "${syn:0:16}" 0x2000 777)")
frag2=$(frame_eth "$mac_cas1" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_cas1" 6 "${syn:16}" 1 777)")
lab_exec client "$SPEEPROBE" send-frame eth0 "$frag1" >/dev/null
expect_frame silence client "a SYN in a tiny first fragment to cas1:443 is not answered" client "$frag2" \
	"$(hex_u16 443)$(hex_u16 40004)@34"
expect_true "  and cas1 counted the first fragment as fragment" \
	test "$(nft_packets cas1 reason.in.fragment)" -gt "$frags"
syn=$(seg_tcp "$ip_client" "$ip_cas1" 40005 443 1000 0 S)
expect_frame answer client "  (control: the same SYN unfragmented gets a SYN-ACK)" client \
	"$(frame_eth "$mac_cas1" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_cas1" 6 "$syn")")" \
	"$(hex_u16 443)$(hex_u16 40005)@34" 12@47
# Fragments whose first holds the whole header are reassembled and judged as
# one datagram (a SYN with 8 bytes of data: 24 bytes, then 4).
syn=$(seg_tcp "$ip_client" "$ip_cas1" 40006 443 1000 0 S 65535 0102030405060708)
frag1=$(frame_eth "$mac_cas1" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_cas1" 6 "${syn:0:48}" 0x2000 778)")
frag2=$(frame_eth "$mac_cas1" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_cas1" 6 "${syn:48}" 3 778)")
lab_exec client "$SPEEPROBE" send-frame eth0 "$frag1" >/dev/null
expect_frame answer client "  (control: a SYN fragmented after its header is reassembled and answered)" client \
	"$frag2" "$(hex_u16 443)$(hex_u16 40006)@34" 12@47

echo "# sessions that were open before loading kept flowing"
expect_spawned_ok ssh-session "the admin's SSH session to mgmt1 lost no byte" 15
expect_spawned_ok imap-fetch "ih1's IMAP fetch from mail lost no byte" 15

echo "# the DNS names' sets refresh alone: rules and counters stay"
hits=$(nft_packets mgmt1 rule.out.mgmt-license)
expect_true "export of mgmt1's DNS names, with my.mailstore.com moved to mail's address" \
	export_to mgmt1 nftables-names "$LAB_DIR/names.nft" --resolve "my.mailstore.com=$(lab_ip mail)"
expect_true "nft -f loads the refresh on mgmt1" nft_in mgmt1 -f "$LAB_DIR/names.nft"
expect_connect mgmt1 mail 443
expect_blocked mgmt1 "$SPE_MAILSTORE" 443
expect_true "mgmt-license counted on from where it was" \
	test "$(nft_packets mgmt1 rule.out.mgmt-license)" -eq "$((hits + 1))"
expect_true "the other rules kept their counts" test "$(nft_packets mgmt1 rule.in.mgmt-console)" -gt 0

echo "# audit mode: nothing is dropped, what would be is counted"
sed 's/^hosts:/mode: audit\nhosts:/' "$LAB_REPO/tests/e2e/fleet-lab.yaml" >"$CFG"
expect_true "export of cas1 in audit mode" export_to cas1 nftables "$LAB_DIR/cas1-audit.nft"
expect_true "nft -f loads it on cas1" nft_in cas1 -f "$LAB_DIR/cas1-audit.nft"
expect_connect client cas1 8473
expect_true "  and counted it as a would-drop (no-rule)" test "$(nft_packets cas1 reason.in.no-rule)" -ge 1
expect_connect client cas1 443
expect_true "  an allowed one counts under its rule" test "$(nft_packets cas1 rule.in.cas-https)" -eq 1

echo "# deleting the table stops enforcement and leaves the other table"
expect_true "nft delete table inet speebpf on ih1" nft_in ih1 delete table inet speebpf
expect_connect client ih1 8472
expect_true "table inet keep is still on ih1" nft_in ih1 list table inet keep

lab_finish
