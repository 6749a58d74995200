#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Each command opens each pinned map once (issue 12): BPF_OBJ_GET calls
# counted with strace, per map pin, in the command's own process. A
# confirm watcher opens none while it waits, and an agent opens each once
# for its whole life, however often it applies and is scraped.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_speebpf
command -v strace >/dev/null || lab_skip "needs strace (tools/install-deps.sh installs it)"
lab_init objget
lab_host mgmt1 198.18.0.10 fd00:5e::10
lab_host cas1 198.18.0.11 fd00:5e::11

CFG=$LAB_REPO/tests/e2e/fleet-lab.yaml
PIN=$(lab_pin_dir mgmt1)
TRACE=$LAB_DIR/trace
detach_if_there() { lab_speebpf mgmt1 detach >/dev/null 2>&1 || true; }
lab_on_cleanup detach_if_there	# the test detaches; this is for a test cut short
APPLY=(-c "$CFG" --host mgmt1 --iface eth0 --cgroup "$(lab_cgroup mgmt1)" --pin-dir "$PIN"
	--resolve my.mailstore.com=198.19.2.100)

# The BPF_OBJ_GETs of map pins in the trace, as "COUNT PATH", for the traced
# process itself (the trace's first pid) or, with "others", for the rest.
opens() {
	local first
	first=$(awk '{ print $1; exit }' "$TRACE")
	awk -v first="$first" -v who="${1:-self}" '
		/BPF_OBJ_GET, / && match($0, /pathname="[^"]*\/maps\/[^"]*"/) {
			if ((who == "self") == ($1 == first))
				n[substr($0, RSTART + 10, RLENGTH - 11)]++
		}
		END { for (p in n) print n[p], p }' "$TRACE"
}

# traced NAME ARGS...: speebpf ARGS under strace in mgmt1; checks that no map pin
# was opened twice, and that WANT pins were opened (all of them, or none).
traced() {
	local what=$1 want=$2 total twice
	shift 2
	lab_exec mgmt1 strace -f -qq -e trace=bpf -o "$TRACE" "$SPEEBPF" "$@" >/dev/null 2>&1 || true
	total=$(opens | wc -l)
	twice=$(opens | awk '$1 > 1 { printf " %s x%d", $2, $1 }')
	expect_true "$what opens each map pin once${twice:+ (opened again:$twice)}" test -z "$twice"
	expect_true "  ($total pins opened, $want expected)" test "$total" = "$want"
}

traced "apply (a new instance)" 0 apply "${APPLY[@]}"
pins=$(ls "$PIN/maps" | wc -l)	# the object's maps and spee_names
expect_true "it pinned the object's maps and spee_names ($pins)" test "$pins" -ge 14
traced "apply (an update)" "$pins" apply "${APPLY[@]}"
traced "apply --confirm" "$pins" apply "${APPLY[@]}" --confirm 1
lab_sleep 2
expect_true "  its watcher opened none while it waited, nor when it reverted" \
	test -z "$(opens others)"
traced "stats" "$pins" stats --pin-dir "$PIN"
traced "stats --json" "$pins" stats --pin-dir "$PIN" --json
traced "status" "$pins" status --pin-dir "$PIN"
traced "events" "$pins" events --pin-dir "$PIN"
traced "apply --confirm" "$pins" apply "${APPLY[@]}" --confirm 30
traced "confirm" "$pins" confirm --pin-dir "$PIN"

echo "# an agent keeps its maps open: three applies and three scrapes"
lab_spawn mgmt1 agent strace -f -qq -e trace=bpf -o "$TRACE" "$SPEEBPF" run "${APPLY[@]}" \
	--state-dir "$LAB_DIR/state" --metrics 127.0.0.1:9602 --drift-interval 1 --debounce-ms 50
lab_wait_log agent 'watching ' 20 || lab_die "the agent did not start"
agent=$(awk '{ print $1; exit }' "$TRACE")	# the traced speebpf: the trace's first pid
for i in 1 2 3; do
	kill -HUP "$agent"
	lab_exec mgmt1 curl -s -m 5 -o /dev/null http://127.0.0.1:9602/metrics || true
	lab_sleep 1.2	# a drift check a second
done
kill -TERM "$agent"
lab_wait agent 10 || true
expect_true "the agent applied again (SIGHUP)" grep -q 'SIGHUP: reloading' "$(lab_spawn_log agent)"
twice=$(opens | awk '$1 > 1 { printf " %s x%d", $2, $1 }')
expect_true "it opened each map pin once in all${twice:+ (again:$twice)}" test -z "$twice"
expect_true "  ($(opens | wc -l) pins opened)" test "$(opens | wc -l)" = "$pins"

traced "detach" "$pins" detach --pin-dir "$PIN"

lab_finish
