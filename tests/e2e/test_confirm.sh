#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# apply --confirm against other applies (issue 12): a plain apply inside the
# window ends the wait (the new policy replaced the one waiting), so the
# next --confirm is accepted and nothing reverts later; and an apply that
# gets the lock between another's start and its lock does not make that
# one's snapshot stale: the snapshot, the apply and the arming happen under
# one lock, so a revert restores what the apply replaced, and what the
# record names is what the kernel enforces.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_speebpf
lab_init confirm
lab_spe_topology
lab_spe_listeners

PIN=$(lab_pin_dir mgmt1)
A=$LAB_DIR/a.yaml
B=$LAB_DIR/b.yaml
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$A"
# B: mgmt-internal (cas1 -> mgmt1:8471) switched off
sed 's/^resolvers:/disable: [mgmt-internal]\nresolvers:/' "$A" >"$B"
apply() { lab_speebpf mgmt1 apply --host mgmt1 --iface eth0 --resolve my.mailstore.com=198.19.2.100 "$@"; }
field() { lab_speebpf mgmt1 status --json | jq -r "$1"; }
lab_on_cleanup lab_speebpf mgmt1 detach

# wait_for JQ SECS: until status --json says JQ is true (bounded).
wait_for() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[[ $(field "$1" 2>/dev/null) == true ]] && return 0
		sleep 0.1
	done
	return 1
}

echo "# a plain apply inside the window ends the wait"
expect_true "apply A" apply -c "$A"
expect_connect cas1 mgmt1 8471
# a window long enough for the checks below on a busy machine; waited out after
t0=$(date +%s)
expect_true "apply B --confirm 15" apply -c "$B" --confirm 15
expect_blocked cas1 mgmt1 8471
expect_true "  status shows the confirmation pending" test "$(field .confirm_pending)" = true
expect_true "apply A, plainly, inside the window" apply -c "$A"
expect_true "  ends the wait: nothing is pending" test "$(field .confirm_pending)" = false
expect_connect cas1 mgmt1 8471
expect_false "  confirm says there is nothing to confirm" lab_speebpf mgmt1 confirm
gen=$(field .generation)
left=$((t0 + 16 - $(date +%s)))
((left > 0)) && lab_sleep "$left" # past B's deadline: its watcher had nothing to revert
expect_true "  past the deadline A still runs, generation $gen" test "$(field .generation)" = "$gen"
expect_connect cas1 mgmt1 8471
expect_true "  and status exits 0" lab_speebpf mgmt1 status
expect_true "a later apply --confirm is accepted" apply -c "$B" --confirm 30
expect_true "  and confirm keeps it" lab_speebpf mgmt1 confirm
expect_blocked cas1 mgmt1 8471
expect_true "apply A" apply -c "$A"

echo "# an apply that takes the lock between another's start and its lock"
lab_speebpf mgmt1 detach >/dev/null
expect_true "apply A to a new instance" apply -c "$A"
gen=$(field .generation)
ino=$(stat -c %i "$PIN")
# a holder of the instance's lock (a sleep that inherited the locked fd), so
# that the --confirm apply waits for it
(
	exec 9<"$PIN"
	flock -x 9
	exec sleep 120
) &
holder=$!
release() { kill "$holder" 2>/dev/null || true; }
lab_on_cleanup release	# first thing at cleanup, before the detach that would wait for it
# /proc/locks: "N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE ..." for a holder, "N: -> FLOCK ..." for a waiter
held() { awk -v ino=":$ino\$" '$2 == "FLOCK" && $6 ~ ino { found = 1 } END { exit !found }' /proc/locks; }
waiting() { awk -v ino=":$ino\$" '$2 == "->" && $7 ~ ino { print $6; exit }' /proc/locks; }
for ((i = 0; i < 600; i++)); do held && break; sleep 0.05; done
expect_true "the lock is held" held
held || lab_finish
lab_spawn mgmt1 late "$SPEEBPF" apply -c "$B" --confirm 10 --host mgmt1 --iface eth0 \
	--pin-dir "$PIN" --resolve my.mailstore.com=198.19.2.100
waiter=""
for ((i = 0; i < 600; i++)); do
	waiter=$(waiting)
	# the apply itself, not some other process
	[[ -n $waiter ]] && tr '\0' ' ' <"/proc/$waiter/cmdline" 2>/dev/null | grep -q ' apply ' && break
	waiter=""
	sleep 0.05
done
expect_true "the --confirm apply waits for the lock" test -n "$waiter"
[[ -n $waiter ]] || lab_finish
# Stopped, it leaves the queue: the next apply gets the lock before it.
kill -STOP "$waiter"
# Only once it has stopped is it out of the queue: released before, the lock
# could go to it on its way to stopping, and it would stop holding it.
stopped() { [[ $(awk '{ print $3 }' "/proc/$waiter/stat" 2>/dev/null) == T ]]; }
for ((i = 0; i < 600; i++)); do stopped && break; sleep 0.05; done
expect_true "  the waiting apply is stopped" stopped
release
wait "$holder" 2>/dev/null || true
expect_true "another apply of A gets the lock first" apply -c "$A"
kill -CONT "$waiter"
expect_spawned_ok late "the --confirm apply of B goes on" 60
expect_true "  and names the generation it reverts to: the one it replaced ($((gen + 1)))" \
	grep -q "reverts to generation $((gen + 1))\$" "$(lab_spawn_log late)"
expect_blocked cas1 mgmt1 8471
expect_true "unconfirmed, it reverts" wait_for '.reverted_generation == '"$((gen + 2))" 30
expect_connect cas1 mgmt1 8471
expect_true "  the record names A" test "$(field .config)" = "$(realpath "$A")"
expect_true "  generation $((gen + 1)), A's, runs" test "$(field .generation)" = $((gen + 1))
expect_true "  and status, which compares the kernel with A, exits 0" lab_speebpf mgmt1 status

lab_finish
