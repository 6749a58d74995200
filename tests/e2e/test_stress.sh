#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Concurrent commands on one instance for $STRESS_SECONDS (30) seconds
# (issue 12): applies of two configs in parallel, apply --confirm with a
# confirm now and then, stats, status and events, and applies killed with
# SIGKILL at random instants. Meanwhile a connection both configs allow
# carries a counted stream. Afterwards: no command crashed or hung, one
# apply repairs whatever a kill left, status exits 0, the record names the
# config last applied, the kernel's verdicts are that config's, and no
# link, pin or program is left over; the stream lost no byte.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_speebpf
lab_init stress
lab_spe_topology
lab_spe_listeners

: "${STRESS_SECONDS:=30}"
PIN=$(lab_pin_dir mgmt1)
A=$LAB_DIR/a.yaml
B=$LAB_DIR/b.yaml
RES=$LAB_DIR/results	# one line a command: WORKER COMMAND EXIT
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$A"
sed 's/^resolvers:/disable: [mgmt-internal]\nresolvers:/' "$A" >"$B"	# B: cas1 -> mgmt1:8471 refused
lab_on_cleanup lab_speebpf mgmt1 detach
APPLY=(--host mgmt1 --iface eth0 --cgroup "$(lab_cgroup mgmt1)" --pin-dir "$PIN"
	--resolve my.mailstore.com=198.19.2.100)

# run WORKER COMMAND ARGS...: speebpf in mgmt1, its exit status noted, its stderr kept.
run() {
	local who=$1 rc=0
	shift
	lab_exec mgmt1 "$SPEEBPF" "$@" >/dev/null 2>>"$LAB_DIR/log/$who.err" || rc=$?
	echo "$who $1 $rc" >>"$RES"
}
config() { if ((RANDOM % 2)); then echo "$A"; else echo "$B"; fi; }
pause() { sleep "0.$((RANDOM % 10))$((RANDOM % 10))"; }

run setup apply -c "$A" "${APPLY[@]}"
expect_true "the first apply" grep -qx 'setup apply 0' "$RES"
lab_spawn admpc stream "$SPEEPROBE" stream "$(lab_ip mgmt1)" 8470 --seconds $((STRESS_SECONDS + 25)) \
	--rate-kbps 256 --stall-ms 20000

end=$((SECONDS + STRESS_SECONDS))
worker_apply() { while ((SECONDS < end)); do run "apply-$1" apply -c "$2" "${APPLY[@]}"; done; }
worker_confirm() {
	while ((SECONDS < end)); do
		run confirmer apply -c "$(config)" "${APPLY[@]}" --confirm $((1 + RANDOM % 2))
		pause
		if ((RANDOM % 2)); then run confirmer confirm --pin-dir "$PIN"; fi
	done
}
worker_read() {
	while ((SECONDS < end)); do
		run reader stats --pin-dir "$PIN" --json
		run reader status --pin-dir "$PIN" --json
		run reader events --pin-dir "$PIN"
	done
}
# An apply killed at a random instant: its pid (the speebpf itself) from a file it writes first.
worker_kill() {
	local n=0 pidfile pid rc
	while ((SECONDS < end)); do
		pidfile=$LAB_DIR/kill-$((n++)).pid
		rm -f "$pidfile"
		lab_exec mgmt1 sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$SPEEBPF" apply \
			-c "$(config)" "${APPLY[@]}" $( ((RANDOM % 3)) || echo --confirm 1) \
			>/dev/null 2>>"$LAB_DIR/log/killer.err" &
		for ((i = 0; i < 100; i++)); do [[ -s $pidfile ]] && break; sleep 0.01; done
		sleep "0.$((RANDOM % 5))$((RANDOM % 10))"
		pid=$(cat "$pidfile" 2>/dev/null || true)
		if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi	# it may have ended first
		rc=0
		wait $! || rc=$?
		echo "killer apply $rc" >>"$RES"
	done
}

echo "# $STRESS_SECONDS s of concurrent commands"
workers=()
worker_apply a "$A" &
workers+=($!)
worker_apply b "$B" &
workers+=($!)
worker_confirm &
workers+=($!)
worker_read &
workers+=($!)
worker_kill &
workers+=($!)
wait "${workers[@]}"
echo "commands run: $(wc -l <"$RES")"
awk '{ n[$1 " " $2 " exit " $3]++ } END { for (k in n) printf "    %5d  %s\n", n[k], k }' "$RES" | sort -k2

# What each command may end with: 0; 1 for a refusal it explains (a --confirm
# while another waits, a confirm too late or with nothing pending, status
# seeing a change halfway); 137 for the ones killed on purpose.
bad=$(awk '$3 == 0 { next }
	$3 == 1 && ($2 == "apply" || $2 == "confirm" || $2 == "status") { next }
	$1 == "killer" && $3 == 137 { next }
	{ print }' "$RES" | sort | uniq -c)
expect_true "no command crashed or hung${bad:+: $bad}" test -z "$bad"
expect_true "  and each kind ran" test "$(awk '{ print $1 }' "$RES" | sort -u | wc -l)" -ge 6
san=$(cat "$LAB_DIR"/log/*.err | grep -E 'AddressSanitizer|LeakSanitizer|runtime error' | head -3 || true)
expect_true "  and no sanitizer spoke${san:+: $san}" test -z "$san"

echo "# afterwards"
run final apply -c "$A" "${APPLY[@]}"
expect_true "one apply repairs whatever a kill left" grep -qx 'final apply 0' "$RES"
sleep 0.5	# a watcher of an earlier --confirm finds nothing pending (it looks every 100 ms)
expect_true "status exits 0" lab_speebpf mgmt1 status
expect_true "  the record names the config applied last" \
	test "$(lab_speebpf mgmt1 status --json | jq -r .config)" = "$(realpath "$A")"
expect_true "  nothing waits for a confirm" \
	test "$(lab_speebpf mgmt1 status --json | jq -r .confirm_pending)" = false
expect_connect cas1 mgmt1 8471
expect_blocked client mgmt1 8471
expect_connect admpc mgmt1 8470
maps=$(cd "$PIN/maps" && ls | sort | tr '\n' ' ')
want=$(printf '%s\n' spee_ev_bucket spee_ev_stats spee_events spee_exact spee_flows spee_frags \
	spee_gw_ctr spee_gw_flows spee_gw_hosts spee_gw_names spee_gw_syns spee_inst spee_local \
	spee_names spee_ports spee_prefix spee_reason_ctr spee_rt spee_rule_ctr spee_rules spee_seen \
	spee_would |
	sort | tr '\n' ' ')
expect_true "no map pin left over ($maps)" test "$maps" = "$want"
links=$(cd "$PIN/links" && ls | sort | tr '\n' ' ')
expect_true "no link pin left over ($links)" \
	test "$links" = "cgroup-connect4 cgroup-connect6 cgroup-egress cgroup-sendmsg4 cgroup-sendmsg6 xdp-eth0 "
expect_true "  and nothing else in the pin dir" test "$(ls "$PIN" | tr '\n' ' ')" = "links maps "
progs=$(bpftool cgroup show "$(lab_cgroup mgmt1)" | sed 1d | wc -l)
expect_true "5 programs on the cgroup ($progs)" test "$progs" = 5
xdp=$(lab_exec mgmt1 ip -d link show eth0 2>/dev/null | grep -c 'prog/xdp' || true)
expect_true "1 XDP program on eth0 ($xdp)" test "$xdp" = 1
tcf=$(lab_exec mgmt1 tc filter show dev eth0 egress 2>/dev/null | grep -c 'spee_tc_egress' || true)
expect_true "1 tc egress filter on eth0 ($tcf)" test "$tcf" = 1
expect_spawned_ok stream "the stream both configs allow lost no byte" 60
# what is left of this run's speebpf processes (a confirm watcher outlives its apply)
left_running() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		tr '\0' ' ' 2>/dev/null <"$f" | grep -q "^$SPEEBPF .*$PIN" && echo "$pid: $(tr '\0' ' ' <"$f")"
	done
	return 0
}
for ((i = 0; i < 30; i++)); do
	left=$(left_running)
	[[ -z $left ]] && break
	sleep 0.1
done
expect_true "no speebpf of this run is left running${left:+: $left}" test -z "$left"

lab_finish
