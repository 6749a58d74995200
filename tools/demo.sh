#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make demo: the SPE lab of tests/e2e/lab.sh (three SPE hosts, an admin PC,
# an internet client and the internet's servers, each in its own network
# namespace), the example fleet deploy/fleet.example.yaml enforced by one
# speebpf instance per SPE host, allowed and refused connections, and each
# host's counters. Everything is removed at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) != 0 ]]; then
	echo "make demo needs root: it creates network namespaces and attaches BPF programs there" >&2
	exit 1
fi
SPEEBPF=$PWD/build/speebpf
source tests/e2e/lib.sh
CONFIG=deploy/fleet.example.yaml
FLEET=(mgmt1 cas1 ih1)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

lab_init demo
lab_spe_topology
lab_spe_listeners

say "The fleet: $CONFIG, checked"
"$SPEEBPF" check -c "$CONFIG" --all | grep -E '^(host|[a-z].*valid)'

say "Enforcing: one instance per SPE host, on its own eth0 (XDP) and cgroup (egress)"
for h in "${FLEET[@]}"; do
	lab_speebpf "$h" apply -c "$CONFIG" --host "$h" --iface eth0
done

say "What the matrix allows"
expect_connect admpc mgmt1 8470		# mgmt-console, from the ADM network
expect_connect cas1 mgmt1 8471		# mgmt-internal
expect_connect ih1 mgmt1/6 8471		# over IPv6
expect_connect mgmt1 ih1 8472		# ih-internal
expect_connect mgmt1 cas1 8473		# cas-internal
expect_connect client cas1 443		# cas-https, from anywhere
expect_connect client cas1 993		# cas-imaps
expect_connect mgmt1 my.mailstore.com 443	# mgmt-license, by DNS name
expect_connect ih1 mail 993		# ih-imaps
expect_connect ih1 exchange 443		# ih-ews
expect_connect ih1 icewarp 443		# ih-icewarp (narrowed to the IceWarp server)
expect_connect ih1 ca 80		# ca-revocation
expect_connect admpc ih1 22		# the failsafe: SSH from ADM

say "What it refuses (dropped in XDP, or EPERM at connect() for egress)"
expect_refused client mgmt1 8470	# the console, from the internet
expect_refused client ih1 8472		# internal ports, from the internet
expect_refused cas1 ih1 22		# SSH, from anything but ADM
expect_refused mgmt1 mail 993		# IMAP fetching is the IH's job
expect_refused cas1 exchange 443
expect_refused ih1 mgmt1 8470		# the console, from an Instance Host

say "speebpf events on mgmt1 and ih1: each refused packet or connect(), and why"
lab_speebpf mgmt1 events
lab_speebpf ih1 events

say "What the reference model says about one of them"
"$SPEEBPF" explain -c "$CONFIG" --host mgmt1 --from 198.19.1.1 --to 198.18.0.10 --port 8470

for h in "${FLEET[@]}"; do
	say "speebpf stats on $h"
	lab_speebpf "$h" stats
done

say "speebpf status on mgmt1"
lab_speebpf mgmt1 status

say "Removing the lab"
for h in "${FLEET[@]}"; do
	lab_speebpf "$h" detach
done
lab_finish
