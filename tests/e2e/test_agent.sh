#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The agent (speebpf run) keeps the policy current: config changes (renamed
# files, ConfigMap ..data swaps, SIGHUP) apply within a second; a stream
# survives 100 updates, and memory they freed goes back once the agent is
# idle; DNS names follow their answers and keep the last ones
# when the resolver is gone; kill -9 changes nothing for traffic and a new
# agent adopts the instance and its counters; a broken config leaves
# enforcement alone; apply --confirm reverts unless confirmed; the failsafe
# keeps SSH from ADM; an entry deleted behind the agent's back is drift and
# is restored.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_speebpf
lab_init agent
lab_spe_topology
lab_spe_listeners

BASE=$LAB_REPO/tests/e2e/fleet-lab.yaml
CONF=$LAB_DIR/conf
mkdir -p "$CONF"
CFG=$CONF/fleet.yaml
cp "$BASE" "$CFG"

# with_cas2 FILE: the lab fleet plus cas2.
with_cas2() {
	sed 's/^networks:/  - name: cas2\n    roles: [CAS]\n    addresses: [198.18.0.12, "fd00:5e::12"]\nnetworks:/' "$BASE" >"$1"
}

# replace FILE CONTENT-FILE: how editors save: a new file renamed over the old one.
replace() {
	cp "$2" "$1.tmp.$$"
	mv "$1.tmp.$$" "$1"
}

# applied_within HOST MS DESC CMD...: runs CMD (a config write or a signal) and
# expects HOST's policy generation to move: typically within MS milliseconds,
# which is reported, not asserted (a busy machine delays the agent; how fast it
# reacts is for a benchmark); the test fails when it has not moved after 15 s.
applied_within() {
	local host=$1 ms=$2 desc=$3 g0 t0 elapsed
	shift 3
	g0=$(gen "$host")
	t0=$(date +%s%N)
	"$@"
	while :; do
		elapsed=$((($(date +%s%N) - t0) / 1000000))
		[[ $(gen "$host") -gt $g0 ]] && break
		((elapsed > 15000)) && break
		sleep 0.02
	done
	if [[ $(gen "$host") -gt $g0 ]]; then
		lab_ok "$desc: applied in $elapsed ms (typically within $ms)"
	else
		lab_fail "$desc: not applied (generation $g0 -> $(gen "$host") after $elapsed ms)"
	fi
}

gen() { "$SPEEBPF" status --pin-dir "$(lab_pin_dir "$1")" --json 2>/dev/null | jq -r .generation; }

# wait_gen HOST N: the instance reaches policy generation N (given 15 s at most).
wait_gen() {
	local i
	for ((i = 0; i < 150; i++)); do
		[[ $(gen "$1") -ge $2 ]] && return 0
		sleep 0.1
	done
	return 1
}

rule_packets() {
	lab_speebpf "$1" stats --json | jq -r --arg id "$2" --arg dir "$3" \
		'[.rules[] | select(.id == $id and .direction == $dir) | .packets] | add // "missing"'
}

agent_of() { # HOST NAME CONFIG [ARGS...]: start an agent
	local host=$1 name=$2 cfg=$3
	shift 3
	lab_spawn "$host" "$name" "$SPEEBPF" run -c "$cfg" --host "$host" --iface eth0 \
		--cgroup "$(lab_cgroup "$host")" --pin-dir "$(lab_pin_dir "$host")" \
		--debounce-ms 100 --drift-interval 1 --state-dir "$LAB_DIR/state-$name" "$@"
	lab_wait_log "$name" 'watching ' 15 || lab_die "agent $name did not start: $(cat "$(lab_spawn_log "$name")")"
}

echo "# the agent applies and follows its config"
agent_of mgmt1 agent-mgmt1 "$CFG" --log-format json
expect_true "its log lines are JSON with an event" \
	sh -c "grep '\"event\": *\"applied\"' '$(lab_spawn_log agent-mgmt1)' | head -1 | jq -e .generation"
expect_blocked cas2 mgmt1 8471
with_cas2 "$LAB_DIR/cas2.yaml"
applied_within mgmt1 1000 "adding cas2 to the watched config" replace "$CFG" "$LAB_DIR/cas2.yaml"
expect_connect cas2 mgmt1 8471
applied_within mgmt1 1000 "removing cas2 again" replace "$CFG" "$BASE"
expect_blocked cas2 mgmt1 8471

echo "# a stream across 100 consecutive updates"
lab_spawn cas1 stream-100 "$SPEEPROBE" stream "$(lab_ip mgmt1)" 8471 --seconds 30 --rate-kbps 256
lab_sleep 0.3
start=$(gen mgmt1)
pid=$(lab_spawn_pid agent-mgmt1)
applied=0
for ((i = 1; i <= 100; i++)); do
	if ((i % 2)); then cp "$LAB_DIR/cas2.yaml" "$CFG.next"; else cp "$BASE" "$CFG.next"; fi
	mv "$CFG.next" "$CFG"
	kill -HUP "$pid"
	wait_gen mgmt1 $((start + i)) && applied=$((applied + 1))
done
expect_true "100 updates were applied (generation $start -> $(gen mgmt1))" test "$applied" = 100
lab_kill stream-100 2>/dev/null || true
expect_true "the stream lost no byte across them" \
	grep -q '^stream ok' "$(lab_spawn_log stream-100)"
expect_false "and the drift check (every second) never found the maps differing from the policy" \
	grep -q '"event": *"drift"' "$(lab_spawn_log agent-mgmt1)"
# maps_apply keeps what it freed for the next change; the agent gives it back once
# idle (how much is the benchmark's business: this build's AddressSanitizer keeps it)
expect_true "once idle after them, the agent gave the memory they freed back (a memory event)" \
	lab_until 15 sh -c "grep '\"event\": *\"memory\"' '$(lab_spawn_log agent-mgmt1)' | tail -1 | jq -e '.resident_kib > 0 and (.released_kib | type == \"number\")'"

echo "# a broken config changes nothing"
before=$(gen mgmt1)
printf 'hosts:\n  - name: mgmt1\n    roles: [MGNT]\n' >"$CFG.next"
mv "$CFG.next" "$CFG"
expect_true "the error is logged with file:line:column" \
	lab_until 15 grep -q "fleet.yaml:3:13: unknown role 'MGNT'" "$(lab_spawn_log agent-mgmt1)"
expect_true "the generation is unchanged" test "$(gen mgmt1)" = "$before"
expect_true "status shows the error with its place" \
	sh -c "$(printf '%q ' "$SPEEBPF") status --pin-dir $(lab_pin_dir mgmt1) --json | jq -e '.last_apply_ok == false and (.last_error | test(\"fleet.yaml:2:5\"))'"
expect_connect cas1 mgmt1 8471
expect_blocked client mgmt1 8471
applied_within mgmt1 1000 "the next good write" replace "$CFG" "$LAB_DIR/cas2.yaml"
expect_true "and status is ok again" \
	sh -c "$(printf '%q ' "$SPEEBPF") status --pin-dir $(lab_pin_dir mgmt1) --json | jq -e '.last_apply_ok and .last_error == null'"
applied_within mgmt1 1000 "back to the base config" replace "$CFG" "$BASE"

echo "# drift: an entry deleted behind the agent's back is restored"
PIN=$(lab_pin_dir mgmt1)
act=$(lab_speebpf mgmt1 status --json | jq .active_slot)
# the key of cas1's mgmt-internal entry: slot, ingress, tcp, v4, port 8471, 198.18.0.11
key=$(printf '0x%02x 0x00 0x06 0x00 0x21 0x17 0x00 0x00 0xc6 0x12 0x00 0x0b' "$act")
key+=" $(printf '0x00 %.0s' {1..12})"
expect_true "the entry is there" bpftool map lookup pinned "$PIN/maps/spee_exact" key hex $key
bpftool map delete pinned "$PIN/maps/spee_exact" key hex $key
# the drift interval is 1 s; a busy machine may take longer
expect_true "the agent reported the drift" \
	lab_until 15 grep -q '"event": *"drift"' "$(lab_spawn_log agent-mgmt1)"
expect_true "and restored the entry" lab_until 15 bpftool map lookup pinned "$PIN/maps/spee_exact" \
	key hex $(printf '0x%02x ' "$((1 - act))") ${key#* }
expect_connect cas1 mgmt1 8471
expect_true "and status finds no drift now" lab_speebpf mgmt1 status

echo "# drift: a program replaced behind the agent's back is put back"
SWAP=$LAB_REPO/build/tools/speeswap
expect_true "a foreign pass-all program replaces mgmt1's XDP program" \
	"$SWAP" "$PIN/links/xdp-eth0" xdp
expect_true "the agent reported the foreign program" \
	lab_until 15 grep -q 'links run a foreign program' "$(lab_spawn_log agent-mgmt1)"
expect_true "and put its own back" lab_until 15 lab_speebpf mgmt1 status
expect_blocked client mgmt1 8471	# enforcing again
expect_true "and status finds no drift now" lab_speebpf mgmt1 status

echo "# kill -9 during traffic: nothing changes; a new agent adopts the instance"
lab_spawn cas1 stream-kill "$SPEEPROBE" stream "$(lab_ip mgmt1)" 8471 --seconds 4 --rate-kbps 256
lab_sleep 0.5
hits=$(rule_packets mgmt1 mgmt-internal ingress)
gen_before=$(gen mgmt1)
kill -9 "$(lab_spawn_pid agent-mgmt1)"
lab_wait agent-mgmt1 5 || true
expect_connect cas1 mgmt1 8471
expect_blocked client mgmt1 8471
expect_spawned_ok stream-kill "the stream lost no byte while the agent was dead" 10
agent_of mgmt1 agent-mgmt1b "$CFG"
expect_true "the new agent adopted the instance" grep -q adopting "$(lab_spawn_log agent-mgmt1b)"
expect_true "counters continued (mgmt-internal: $hits before)" \
	test "$(rule_packets mgmt1 mgmt-internal ingress)" -gt "$hits"
expect_true "the generation continued ($gen_before before)" test "$(gen mgmt1)" -gt "$gen_before"
lab_stop agent-mgmt1b 5
expect_true "SIGTERM left the policy enforced" lab_speebpf mgmt1 status
expect_blocked client mgmt1 8471

echo "# a Kubernetes ConfigMap volume: files behind a ..data symlink swapped atomically"
K8S=$LAB_DIR/configmap
mkdir -p "$K8S/..2026_a" "$K8S/..2026_b"
cp "$BASE" "$K8S/..2026_a/fleet.yaml"
ln -s ..2026_a "$K8S/..data"
ln -s ..data/fleet.yaml "$K8S/fleet.yaml"
agent_of cas1 agent-cas1 "$K8S/fleet.yaml"
with_cas2 "$K8S/..2026_b/fleet.yaml"
ln -s ..2026_b "$K8S/..data_tmp"
applied_within cas1 1000 "the kubelet's ..data swap" mv -T "$K8S/..data_tmp" "$K8S/..data"
new_sha=$(sha256sum "$K8S/..2026_b/fleet.yaml" | cut -d' ' -f1)
expect_true "status names the swapped-in config" \
	test "$("$SPEEBPF" status --pin-dir "$(lab_pin_dir cas1)" --json | jq -r .config_sha256)" = "$new_sha"
lab_stop agent-cas1 5

echo "# DNS: a rule follows its name; the last answer stays when the resolver is gone"
lab_dns_start ext 198.19.2.53
lab_dns_set ews.dyn.example 198.19.2.44
sed 's/^narrow:/narrow:\n  ih-ews: [ews.dyn.example]/; s/^resolvers:/dns: {min-ttl: 1, max-ttl: 2}\nresolvers:/' "$BASE" >"$LAB_DIR/dns.yaml"
agent_of ih1 agent-ih1 "$LAB_DIR/dns.yaml"
expect_connect ih1 198.19.2.44 443
expect_blocked ih1 198.19.2.25 443
lab_dns_set ews.dyn.example 198.19.2.25
# TTL 1 s, clamped to min-ttl 1, plus the re-apply
expect_true "the change was logged" \
	lab_until 20 grep -q 'ews.dyn.example: 198.19.2.44 -> 198.19.2.25' "$(lab_spawn_log agent-ih1)"
expect_connect ih1 198.19.2.25 443
expect_blocked ih1 198.19.2.44 443
lab_kill dns
expect_true "the failure was logged" \
	lab_until 20 grep -q 'ews.dyn.example: .*keeping the last known addresses' "$(lab_spawn_log agent-ih1)"
expect_true "status shows the name, its last answer and the failures since" \
	sh -c "$(printf '%q ' "$SPEEBPF") status --pin-dir $(lab_pin_dir ih1) | grep -q 'dns ews.dyn.example: 198.19.2.25 (resolved .*failures since'"
expect_connect ih1 198.19.2.25 443
lab_stop agent-ih1 5
agent_of ih1 agent-ih1b "$LAB_DIR/dns.yaml"
expect_true "a restarted agent starts from the stored answer" grep -q adopting "$(lab_spawn_log agent-ih1b)"
sleep 2
expect_connect ih1 198.19.2.25 443	# DNS is still down: the last answer holds
lab_stop agent-ih1b 5
sed 's/ews.dyn.example/never.dyn.example/' "$LAB_DIR/dns.yaml" >"$LAB_DIR/never.yaml"
expect_true "apply with a name that does not resolve" \
	lab_speebpf ih1 apply -c "$LAB_DIR/never.yaml" --host ih1
expect_true "status says the name never resolved and allows nothing" \
	sh -c "$(printf '%q ' "$SPEEBPF") status --pin-dir $(lab_pin_dir ih1) | grep -q 'dns never.dyn.example: never resolved .*allow nothing'"
expect_true "  and so does status --json" \
	sh -c "$(printf '%q ' "$SPEEBPF") status --pin-dir $(lab_pin_dir ih1) --json | jq -e '.dns[] | select(.name == \"never.dyn.example\") | .resolved == false'"

echo "# apply --confirm: unconfirmed reverts, confirmed stays"
NOSSH=$LAB_DIR/nossh.yaml
sed 's/^resolvers:/failsafe: []\nresolvers:/' "$BASE" >"$NOSSH"
lab_speebpf cas1 detach >/dev/null
expect_true "apply on cas1" lab_speebpf cas1 apply -c "$CFG" --host cas1 --iface eth0
expect_connect admpc cas1 22
# windows long enough for the checks inside them on a busy machine
reverted() { lab_speebpf cas1 status | grep -q 'not confirmed'; }
expect_true "apply --confirm 10 of a policy without SSH" lab_speebpf cas1 apply -c "$NOSSH" --host cas1 --confirm 10
expect_blocked admpc cas1 22
for ((i = 0; i < 300; i++)); do reverted && break; sleep 0.1; done
expect_true "status says it was reverted" reverted
expect_connect admpc cas1 22
t0=$(date +%s)
expect_true "apply --confirm 10 again" lab_speebpf cas1 apply -c "$NOSSH" --host cas1 --confirm 10
expect_true "confirm" lab_speebpf cas1 confirm
left=$((t0 + 11 - $(date +%s)))
((left > 0)) && sleep "$left" # past the deadline
expect_blocked admpc cas1 22
expect_false "confirm with nothing pending fails" lab_speebpf cas1 confirm

echo "# the failsafe: SSH from ADM survives a config that forgets it"
expect_true "the lab fleet has no rule for port 22" sh -c "! grep -q '22' '$BASE'"
expect_connect admpc mgmt1 22
expect_connect admpc mgmt1/6 22
expect_blocked client mgmt1 22

echo "# status reports drift when nothing repairs it"
# (a rule's entry: the host's own addresses, proto 0, are what status reads the machine's from)
lab_speebpf cas1 apply -c "$CFG" --host cas1 >/dev/null
PIN=$(lab_pin_dir cas1)
act=$(lab_speebpf cas1 status --json | jq .active_slot)
key=$(bpftool map dump pinned "$PIN/maps/spee_exact" -j |
	jq -r --arg s "$(printf '0x%02x' "$act")" '[.[] | select(.key[0] == $s and .key[2] != "0x00")][0].key | join(" ")')
bpftool map delete pinned "$PIN/maps/spee_exact" key hex $key
expect_false "status exits 1 on drift" lab_speebpf cas1 status
expect_true "  and says what drifted" \
	sh -c "$(printf '%q ' "$SPEEBPF") status --pin-dir $PIN | grep -q '1 entries missing'"
expect_true "apply repairs it" lab_speebpf cas1 apply -c "$CFG" --host cas1
expect_true "  and status is clean again" lab_speebpf cas1 status
"$LAB_REPO/build/tools/speeswap" "$PIN/links/cgroup-egress" cgroup-skb >/dev/null
expect_false "status exits 1 when a hook runs a foreign program" lab_speebpf cas1 status
expect_true "  and says so" \
	sh -c "$(printf '%q ' "$SPEEBPF") status --pin-dir $PIN | grep -q '1 links run a foreign program'"
expect_true "apply puts this build's program back" lab_speebpf cas1 apply -c "$CFG" --host cas1
expect_true "  and status is clean again" lab_speebpf cas1 status

for h in mgmt1 cas1 ih1; do lab_speebpf "$h" detach >/dev/null; done
lab_finish
