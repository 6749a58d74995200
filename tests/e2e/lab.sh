#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tests/e2e/lab.sh - the SPE lab that the e2e suite and the demo share.
#
# Sourced by lib.sh. lab_spe_topology builds the hosts of the seed's
# multi-server layout on one segment; lab_spe_listeners starts listeners on
# every port of the SPE matrix, when a test wants them (a test of "closed"
# ports may want none). The fleet config of this lab is written elsewhere.
#
#   host    roles / what            IPv4            IPv6
#   mgmt1   MGMT                    198.18.0.10     fd00:5e::10
#   cas1    CAS                     198.18.0.11     fd00:5e::11
#   cas2    CAS                     198.18.0.12     fd00:5e::12
#   ih1     IH                      198.18.0.21     fd00:5e::21
#   admpc   an ADM computer         198.18.9.50     fd00:5e::950   (ADM: 198.18.9.0/24, fd00:5e::900/120)
#   client  an internet user        198.19.1.1      fd00:5e::1:1
#   ext     the internet's servers: its own address 198.19.2.1 / fd00:5e::2:1, and
#           mail 198.19.2.25, ldap .89, exchange .44, icewarp .45, kerio .46, ca .80,
#           mailstore .100, dns .53; v6 fd00:5e::2:25, ::2:89, ::2:44, ::2:80,
#           ::2:100, ::2:53 for mail, ldap, exchange, ca, mailstore and dns.
#
# Names: every host knows every host by name, the ext services as
# <label>.example.com (exchange.example.com...), and my.mailstore.com is
# 198.19.2.100 in the hosts file of each SPE host (mgmt1, cas1, cas2, ih1).
# Every host's resolver is dns (198.19.2.53); nothing answers there until a
# test calls lab_dns_start ext 198.19.2.53.

# For the tests that use this lab (and the fleet config written for it).
# shellcheck disable=SC2034
SPE_HOSTS=(mgmt1 cas1 cas2 ih1)
# shellcheck disable=SC2034
SPE_ADM_V4=198.18.9.0/24
# shellcheck disable=SC2034
SPE_ADM_V6=fd00:5e::900/120
SPE_DNS=198.19.2.53
SPE_MAILSTORE=198.19.2.100
# The listening ports: the matrix's ports of each role (and SSH, the failsafe),
# and on ext every port the matrix opens towards ANY, CA and my.mailstore.com.
SPE_PORTS_MGMT=8470,8471,8474,22
SPE_PORTS_CAS=143,443,993,8473,22
SPE_PORTS_IH=8472,22
SPE_PORTS_EXT=80,110,143,389,443,587,636,993,995,4040

# name IPv4 [IPv6] of the ext services
_SPE_EXT_SERVICES=(
	"mail 198.19.2.25 fd00:5e::2:25"
	"ldap 198.19.2.89 fd00:5e::2:89"
	"exchange 198.19.2.44 fd00:5e::2:44"
	"icewarp 198.19.2.45"
	"kerio 198.19.2.46"
	"ca 198.19.2.80 fd00:5e::2:80"
	"mailstore 198.19.2.100 fd00:5e::2:100"
	"dns 198.19.2.53 fd00:5e::2:53"
)

# lab_spe_topology: the hosts above, their names and resolvers.
lab_spe_topology() {
	local h s name v4 v6
	lab_host mgmt1 198.18.0.10 fd00:5e::10
	lab_host cas1 198.18.0.11 fd00:5e::11
	lab_host cas2 198.18.0.12 fd00:5e::12
	lab_host ih1 198.18.0.21 fd00:5e::21
	lab_host admpc 198.18.9.50 fd00:5e::950
	lab_host client 198.19.1.1 fd00:5e::1:1
	lab_host ext 198.19.2.1 fd00:5e::2:1
	for s in "${_SPE_EXT_SERVICES[@]}"; do
		read -r name v4 v6 <<<"$s"
		lab_addr ext "$v4" "$name"
		[[ -n $v6 ]] && lab_addr ext "$v6" "$name"
		for h in "${LAB_HOSTS[@]}"; do
			lab_add_hosts_entry "$h" "$name.example.com" "$v4"
			[[ -n $v6 ]] && lab_add_hosts_entry "$h" "$name.example.com" "$v6"
		done
	done
	for h in "${SPE_HOSTS[@]}"; do
		lab_add_hosts_entry "$h" my.mailstore.com "$SPE_MAILSTORE"
	done
	for h in "${LAB_HOSTS[@]}"; do
		lab_set_resolver "$h" "$SPE_DNS"
	done
}

# lab_spe_role HOST: the SPE role of a lab host (MGMT, CAS, IH), or nothing.
lab_spe_role() {
	case $1 in
	mgmt*) echo MGMT ;;
	cas*) echo CAS ;;
	ih*) echo IH ;;
	esac
}

# lab_spe_ports HOST: the TCP ports HOST listens on in the SPE lab.
lab_spe_ports() {
	case $(lab_spe_role "$1") in
	MGMT) echo "$SPE_PORTS_MGMT" ;;
	CAS) echo "$SPE_PORTS_CAS" ;;
	IH) echo "$SPE_PORTS_IH" ;;
	*) [[ $1 == ext ]] && echo "$SPE_PORTS_EXT" ;;
	esac
}

# lab_spe_listeners: echo listeners (v4 and v6) on every SPE host's matrix
# ports and on ext's; spawned as listen-HOST (lab_kill listen-mgmt1 stops one).
lab_spe_listeners() {
	local h
	for h in "${SPE_HOSTS[@]}" ext; do
		lab_spawn "$h" "listen-$h" "$SPEEPROBE" listen :: "$(lab_spe_ports "$h")" --echo \
			--max-seconds "$LAB_MAX_SECONDS"
	done
	# Started together, waited for together: every socket bound, or a failure.
	for h in "${SPE_HOSTS[@]}" ext; do
		lab_wait_log "listen-$h" '^listening ' || lab_die "the listener of $h did not start"
	done
}

# ---- the gateway lab ----------------------------------------------------------
#
# lab_spe_gateway_topology: the same hosts, names and addresses, but routed
# through a hypervisor namespace `hv` instead of one segment, for gateway mode:
#
#   mgmt1 cas1 cas2 ih1  the "Windows VMs": ports of hv's bridge br0, on
#                        198.18.0.0/24 and fd00:5e::/120; hv is .1 and ::1
#   admpc                a routed uplink of hv: 198.18.9.0/24 (hv .1) and
#                        fd00:5e::900/120 (hv ::901)
#   client               198.19.1.0/24 (hv .254), fd00:5e::1:0/112 (hv ::1:fe)
#   ext                  198.19.2.0/24 (hv .254), fd00:5e::2:0/112 (hv ::2:fe)
#
# Every host routes the lab's ranges (198.18.0.0/15, fd00:5e::/64) through hv
# and nothing else (no default route); hv routes only what is connected to it.
# The uplinks are hv's ports of the same name as in the one-segment lab
# ($(lab_switch_port HOST)), taken off the bridge.
# shellcheck disable=SC2034
SPE_GW=hv
SPE_GW_VMS=(mgmt1 cas1 cas2 ih1)
SPE_GW_UPLINKS=(admpc client ext)
# host -> "its IPv4 prefix length, IPv6 prefix length, hv's IPv4, hv's IPv6" on its link
declare -gA _SPE_GW_NET=(
	[admpc]="24 120 198.18.9.1 fd00:5e::901"
	[client]="24 112 198.19.1.254 fd00:5e::1:fe"
	[ext]="24 112 198.19.2.254 fd00:5e::2:fe"
)
SPE_GW_BRIDGE4=198.18.0.1
SPE_GW_BRIDGE6=fd00:5e::1

lab_spe_gateway_topology() {
	local h ns a len4 len6 gw4 gw6 port
	lab_hypervisor "$SPE_GW"
	lab_spe_topology
	# The gateway resolves the fleet's DNS names itself, as the hosts do.
	lab_add_hosts_entry "$SPE_GW" my.mailstore.com "$SPE_MAILSTORE"
	lab_set_resolver "$SPE_GW" "$SPE_DNS"
	ip -n "$LAB_SWITCH" addr add "$SPE_GW_BRIDGE4/24" dev br0
	ip -n "$LAB_SWITCH" -6 addr add "$SPE_GW_BRIDGE6/120" dev br0 nodad
	for h in "${SPE_GW_UPLINKS[@]}"; do
		read -r len4 len6 gw4 gw6 <<<"${_SPE_GW_NET[$h]}"
		port=$(lab_switch_port "$h")
		ip -n "$LAB_SWITCH" link set "$port" nomaster
		ip -n "$LAB_SWITCH" addr add "$gw4/$len4" dev "$port"
		ip -n "$LAB_SWITCH" -6 addr add "$gw6/$len6" dev "$port" nodad
	done
	for h in "${SPE_GW_VMS[@]}"; do _SPE_GW_NET[$h]="24 120 $SPE_GW_BRIDGE4 $SPE_GW_BRIDGE6"; done
	# Each host's addresses again, on its own link's prefix, and its routes through hv.
	for h in "${SPE_GW_VMS[@]}" "${SPE_GW_UPLINKS[@]}"; do
		read -r len4 len6 gw4 gw6 <<<"${_SPE_GW_NET[$h]}"
		ns=$(lab_netns "$h")
		ip -n "$ns" addr flush dev eth0 scope global
		for a in "${!LAB_LABEL[@]}"; do
			[[ ${LAB_OWNER[${LAB_LABEL[$a]}]} == "$h" ]] || continue
			if [[ $a == *:* ]]; then
				ip -n "$ns" -6 addr add "$a/$len6" dev eth0 nodad
			else
				ip -n "$ns" addr add "$a/$len4" dev eth0
			fi
		done
		ip -n "$ns" route add 198.18.0.0/15 via "$gw4"
		ip -n "$ns" -6 route add fd00:5e::/64 via "$gw6"
	done
}
