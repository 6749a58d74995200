#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Operating speebpf: a Prometheus scrape of a running agent returns the
# counters stats shows; /healthz follows attachment and the last apply; the
# agent tells systemd it is ready and pings the watchdog; the unit passes
# systemd-analyze verify, and its capabilities are enough and each one needed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_speebpf
lab_init operate
lab_spe_topology
lab_spe_listeners

CFG=$LAB_DIR/conf/fleet.yaml
mkdir -p "$LAB_DIR/conf"
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$CFG"
PIN=$(lab_pin_dir mgmt1)
UNIT=$LAB_REPO/deploy/speebpf.service

# scrape PATH: GET http://127.0.0.1:9600PATH inside mgmt1; prints the body, "HTTP n" last.
scrape() {
	lab_exec mgmt1 curl -s -m 5 -w '\nHTTP %{http_code}\n' "http://127.0.0.1:9600$1"
}

echo "# the agent with systemd's notification socket and a watchdog"
sock=$LAB_DIR/notify.sock
lab_spawn mgmt1 notify socat -u "UNIX-RECV:$sock" STDOUT
for ((i = 0; i < 50; i++)); do [[ -S $sock ]] && break; sleep 0.05; done
lab_spawn mgmt1 agent env -u WATCHDOG_PID NOTIFY_SOCKET="$sock" WATCHDOG_USEC=400000 \
	"$SPEEBPF" run -c "$CFG" --host mgmt1 --iface eth0 --cgroup "$(lab_cgroup mgmt1)" \
	--pin-dir "$PIN" --state-dir "$LAB_DIR/state" --metrics 127.0.0.1:9600 --drift-interval 0 --debounce-ms 100
lab_wait_log agent 'watching ' 15 || lab_die "the agent did not start: $(cat "$(lab_spawn_log agent)")"
sleep 1
expect_true "it told systemd READY=1 once the policy was enforced" grep -q 'READY=1' "$(lab_spawn_log notify)"
expect_true "  with a STATUS line" grep -q 'STATUS=policy generation 1 enforced' "$(lab_spawn_log notify)"
expect_true "  and pings the watchdog (WatchdogSec 0.4 s, ping every 0.2 s)" \
	test "$(grep -o 'WATCHDOG=1' "$(lab_spawn_log notify)" | wc -l)" -ge 3

echo "# a Prometheus scrape returns the counters stats shows"
expect_connect cas1 mgmt1 8471
expect_connect admpc mgmt1 8470
expect_blocked client mgmt1 8474
body=$(scrape /metrics)
expect_true "/metrics answers 200" test "${body##*$'\n'}" = "HTTP 200"
stats=$(lab_speebpf mgmt1 stats --json)
mismatch=""
while read -r id dir proto port packets; do
	line=$(grep -E "^speebpf_rule_packets_total\{rule=\"$id\",direction=\"$dir\",proto=\"$proto\",port=\"$port\"\} " <<<"$body" || true)
	[[ ${line##* } == "$packets" ]] || mismatch+=" $id/$dir(stats $packets, scrape ${line##* })"
done < <(jq -r '.rules[] | "\(.id) \(.direction) \(.proto) \(.port) \(.packets)"' <<<"$stats")
expect_true "every rule's packets match${mismatch:+:$mismatch}" test -z "$mismatch"
expect_true "  and they are not all zero" test "$(jq '[.rules[].packets] | add' <<<"$stats")" -ge 2
drops=$(jq '[.drops[] | select(.reason == "no-rule" and .direction == "ingress") | .packets] | add' <<<"$stats")
expect_true "the ingress no-rule drops match ($drops)" \
	grep -qx "speebpf_drop_packets_total{direction=\"ingress\",reason=\"no-rule\"} $drops" <<<"$body"
expect_true "the policy generation is exported" grep -qx 'speebpf_policy_generation 1' <<<"$body"
expect_true "the last apply is exported" grep -qx 'speebpf_last_apply_success 1' <<<"$body"
expect_true "DNS names are exported" grep -q 'speebpf_dns_addresses{name="my.mailstore.com"} 1' <<<"$body"
for map in spee_exact spee_prefix; do
	held=$(bpftool -j map dump pinned "$PIN/maps/$map" | jq length)
	room=$(bpftool map show pinned "$PIN/maps/$map" | sed -n 's/.*max_entries \([0-9]*\).*/\1/p')
	expect_true "$map: its $held entries are exported" \
		grep -qx "speebpf_policy_map_entries{map=\"$map\"} $held" <<<"$body"
	expect_true "  and its capacity, $room" \
		grep -qx "speebpf_policy_map_capacity{map=\"$map\"} $room" <<<"$body"
done
# --count ends it: a signal at exit can hang LeakSanitizer's stop-the-world in the san build
RC=0
out=$(lab_exec mgmt1 timeout 10 "$SPEEBPF" stats --pin-dir "$PIN" --watch 1 --count 2 2>&1) || RC=$?
expect_true "stats --watch --count 2 ends by itself (exit $RC)" test "$RC" = 0
expect_true "  after refreshing twice, with rates" test "$(grep -c 'PKT/S' <<<"$out")" = 2
expect_true "stats --prometheus uses the same names" \
	sh -c "$(printf '%q ' "$SPEEBPF") stats --pin-dir $PIN --prometheus | grep -q '^speebpf_rule_packets_total{rule=\"mgmt-internal\",direction=\"ingress\"'"

echo "# /healthz"
expect_true "answers 200 while attached and applied" test "$(scrape /healthz | tail -1)" = "HTTP 200"
printf 'hosts: [\n' >"$CFG.next"
mv "$CFG.next" "$CFG"
sleep 0.5
expect_true "answers 503 after a failed apply" test "$(scrape /healthz | tail -1)" = "HTTP 503"
body=$(scrape /metrics)
expect_true "  and /metrics counts the config error" grep -qx 'speebpf_config_errors_total 1' <<<"$body"
expect_true "  and the failed apply" grep -qx 'speebpf_last_apply_success 0' <<<"$body"
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$CFG.next"
mv "$CFG.next" "$CFG"
sleep 0.5
expect_true "answers 200 again once the config is good" test "$(scrape /healthz | tail -1)" = "HTTP 200"
rm "$PIN/links/cgroup-egress"	# the pin was the link's last reference: it is gone
body=$(scrape /healthz)
expect_true "answers 503 when a hook is no longer attached" test "${body##*$'\n'}" = "HTTP 503"
expect_true "  and says why" grep -q 'not attached' <<<"$body"
lab_stop agent 5
expect_true "it told systemd it is stopping" grep -q 'STOPPING=1' "$(lab_spawn_log notify)"
lab_speebpf mgmt1 detach >/dev/null

echo "# the systemd unit"
mkdir -p "$LAB_DIR/unit"
sed "s|/usr/sbin/speebpf|$SPEEBPF|" "$UNIT" >"$LAB_DIR/unit/speebpf.service"
out=$(systemd-analyze verify "$LAB_DIR/unit/speebpf.service" 2>&1) && rc=0 || rc=$?
expect_true "systemd-analyze verify passes, with no warning (exit $rc: $out)" test "$rc" = 0 -a -z "$out"
expect_true "it is Type=notify with a watchdog and SIGHUP for reload" \
	sh -c "grep -qx 'Type=notify' '$UNIT' && grep -q '^WatchdogSec=' '$UNIT' && grep -q '^ExecReload=.*-HUP' '$UNIT'"

echo "# the unit's capabilities are enough, and each one is needed"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
bounding=-all
for c in $caps; do c=${c#CAP_}; bounding+=",+${c,,}"; done
with_caps() {
	lab_exec mgmt1 setpriv --inh-caps=-all --ambient-caps=-all --bounding-set="$1" -- \
		"$SPEEBPF" apply -c "$LAB_REPO/tests/e2e/fleet-lab.yaml" --host mgmt1 --iface eth0 \
		--cgroup "$(lab_cgroup mgmt1)" --pin-dir "$PIN" --resolve my.mailstore.com=198.19.2.100
}
expect_true "apply works with exactly $caps" with_caps "$bounding"
expect_connect cas1 mgmt1 8471
expect_blocked client mgmt1 8471
lab_speebpf mgmt1 detach >/dev/null
for c in $caps; do
	c=${c#CAP_}
	expect_false "apply fails without CAP_$c" with_caps "${bounding/,+${c,,}/}"
	expect_false "  and leaves no pin dir" test -e "$PIN"
done

echo "# drop events"
EVCFG=$LAB_DIR/events.yaml
sed 's/^resolvers:/events: {rate: 10, burst: 20}\nresolvers:/' "$LAB_REPO/tests/e2e/fleet-lab.yaml" >"$EVCFG"
expect_true "apply with events at 10/s, burst 20" \
	lab_speebpf mgmt1 apply -c "$EVCFG" --host mgmt1 --iface eth0 --resolve my.mailstore.com=198.19.2.100
lab_spawn mgmt1 events "$SPEEBPF" events --pin-dir "$PIN" --follow --json
lab_sleep 0.5
expect_blocked client mgmt1 8471
expect_blocked mgmt1 mail 110
lab_sleep 0.5
lab_stop events 5 || true
evlog=$(lab_spawn_log events)
expect_true "events --follow shows the refused SYN from the internet, with the rule open to others" \
	jq -e -s 'map(select(.direction == "ingress" and .src == "198.19.1.1" and .dport == 8471
		and .reason == "no-rule" and .would_allow == "mgmt-internal" and .interface == "eth0"))
		| length >= 1' "$evlog"
expect_true "  and the refused connect() to mail:110" \
	jq -e -s 'map(select(.connect and .direction == "egress" and .dst == "198.19.2.25"
		and .dport == 110)) | length == 1' "$evlog"
lab_speebpf mgmt1 events >/dev/null 2>&1 || true	# empty the ring
before=$(lab_speebpf mgmt1 stats --json | jq -c .events)
syn=$(seg_tcp "$(lab_ip client)" "$(lab_ip mgmt1)" 40100 8471 1000 0 S)
frame=$(frame_eth "$(lab_mac mgmt1)" "$(lab_mac client)" 0800 "$(pkt_ipv4 "$(lab_ip client)" "$(lab_ip mgmt1)" 6 "$syn")")
t0=$(date +%s%N)
lab_exec client "$SPEEPROBE" send-frame eth0 "$frame" --count 2000 >/dev/null
secs=$((($(date +%s%N) - t0) / 1000000000 + 1))
after=$(lab_speebpf mgmt1 stats --json | jq -c .events)
sent=$(($(jq .sent <<<"$after") - $(jq .sent <<<"$before")))
supp=$(($(jq .suppressed <<<"$after") - $(jq .suppressed <<<"$before")))
cpus=$(nproc)
expect_true "a flood of 2,000 refused SYNs sends at most burst + rate x time a CPU ($sent sent in ~${secs}s)" \
	test "$sent" -le $(((20 + 10 * secs) * cpus))
expect_true "  and counts the rest as held back ($supp)" test $((sent + supp)) -eq 2000
printed=$(lab_speebpf mgmt1 events 2>/dev/null | wc -l)
expect_true "  and events prints exactly what was sent ($printed lines)" test "$printed" -eq "$sent"
body=$(lab_exec mgmt1 "$SPEEBPF" stats --pin-dir "$PIN" --prometheus)
expect_true "  and the metrics count them" \
	grep -q "^speebpf_drop_events_total{result=\"suppressed\"} [1-9]" <<<"$body"
lab_speebpf mgmt1 detach >/dev/null

lab_finish
