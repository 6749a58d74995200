#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# speebpf plan in the SPE lab. mgmt1 enforces config A, and has live
# connections: TCP streams from cas1 over IPv4 and IPv6 (mgmt-internal),
# one of its own to a mail server (mgmt-smtp to ANY), and a UDP flow from
# an admin computer (syslog, known only to the flow state). Config B
# disables mgmt-internal, moves mgmt-console, narrows mgmt-smtp, drops
# syslog and adds a site rule. plan -c B names exactly those rules, ports
# and peers, and those four connections, each with its 5-tuple as the
# socket table has it and the rule that allows it today; plan -c A finds
# nothing. On cas1, which enforces nothing, plan compares with an empty
# policy. Applying B then refuses what plan said it would.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_speebpf
command -v jq >/dev/null || lab_skip "needs jq"
command -v ss >/dev/null || lab_skip "needs ss (iproute2)"
lab_init plan
lab_spe_topology
lab_spe_listeners
lab_listen mgmt1 syslog-mgmt1 --udp :: 514

A=$LAB_DIR/a.yaml
B=$LAB_DIR/b.yaml
{ cat "$LAB_REPO/tests/e2e/fleet-lab.yaml"; echo "udp-timeout: 600"; } >"$A"
cat >"$B" <<'EOF'
hosts:
  - {name: mgmt1, roles: [MGMT], addresses: [198.18.0.10, "fd00:5e::10"]}
  - {name: cas1, roles: [CAS], addresses: [198.18.0.11, "fd00:5e::11"]}
  - {name: ih1, roles: [IH], addresses: [198.18.0.21, "fd00:5e::21"]}
networks:
  ADM: [198.18.9.0/24, "fd00:5e::900/120"]
  CA: [198.19.2.80, "fd00:5e::2:80"]
ports:
  mgmt-console: 9470
disable: [mgmt-internal]
narrow:
  ih-icewarp: [198.19.2.45]
  mgmt-smtp: [198.19.2.26]
rules:
  - {id: backup, port: 10000, from: [MGMT], to: [198.19.2.1]}
resolvers: [198.19.2.53]
udp-timeout: 600
EOF
RES=(--resolve my.mailstore.com=198.19.2.100)
lab_on_cleanup lab_speebpf mgmt1 detach

# plan_json HOST CONFIG [ARGS]: plan --json; sets P and P_RC.
plan_json() {
	local host=$1 cfg=$2
	shift 2
	P_RC=0
	P=$(lab_speebpf "$host" plan -c "$cfg" --host "$host" --pin-dir "$(lab_pin_dir "$host")" \
		"${RES[@]}" --json --exit-code "$@") || P_RC=$?
	printf '%s\n' "$P" >"$LAB_DIR/log/plan-$host-$((LAB_PASS + LAB_FAIL)).json"
}
# expect_jq DESC [jq args] FILTER: the filter is true of $P.
expect_jq() {
	local desc=$1
	shift
	expect_true "$desc" jq -e "$@" <<<"$P"
}
# rule_change RULE DIRECTION: "change ports_removed>ports_added peers_removed>peers_added"
rule_change() {
	jq -r --arg r "$1" --arg d "$2" '[.rules[] | select(.rule == $r and .direction == $d) |
		"\(.change) \(.ports_removed | join(","))>\(.ports_added | join(",")) \(.peers_removed | join(","))>\(.peers_added | join(","))"] |
		if length == 1 then .[0] else "none" end' <<<"$P"
}
expect_rule() { # DESC RULE DIRECTION WANT
	local got
	got=$(rule_change "$2" "$3")
	if [[ $got == "$4" ]]; then lab_ok "$1"; else lab_fail "$1 (got: $got, want: $4)"; fi
}
# peer_port HOST LOCALPORT PEER: the peer's port of HOST's established TCP connection (ss).
peer_port() {
	lab_exec "$1" ss -Htn state established "( sport = :$2 )" |
		awk -v p="$3" '{ a = $NF; sub(/:[0-9]+$/, "", a); gsub(/[][]/, "", a); sub(/^::ffff:/, "", a)
			if (a == p) { n = split($NF, x, ":"); print x[n] } }'
}

echo "# mgmt1 enforces A, with live connections"
expect_true "apply A on mgmt1" lab_speebpf mgmt1 apply -c "$A" --host mgmt1 --iface eth0 "${RES[@]}"
lab_spawn cas1 stream4 "$SPEEPROBE" stream "$(lab_ip mgmt1)" 8471 --seconds 300 --rate-kbps 8
lab_spawn cas1 stream6 "$SPEEPROBE" stream "$(lab_ip mgmt1 6)" 8471 --seconds 300 --rate-kbps 8 -6
lab_spawn mgmt1 smtp "$SPEEPROBE" stream 198.19.2.25 587 --seconds 300 --rate-kbps 8
expect udp-answers admpc mgmt1 514	# syslog: a UDP flow in mgmt1's flow state
for _ in $(seq 200); do	# at most 10 s
	p4=$(peer_port mgmt1 8471 "$(lab_ip cas1)") p6=$(peer_port mgmt1 8471 "$(lab_ip cas1 6)")
	smtp=$(lab_exec mgmt1 ss -Htn state established '( dport = :587 )' | awk '{ n = split($(NF-1), x, ":"); print x[n] }')
	[[ -n $p4 && -n $p6 && -n $smtp ]] && break
	sleep 0.05
done
expect_true "the three TCP connections are established (ss: $p4, $p6, $smtp)" \
	test -n "$p4" -a -n "$p6" -a -n "$smtp"

echo "# plan -c A: what runs already"
plan_json mgmt1 "$A"
expect_true "plan of the applied config exits 0 with --exit-code" test "$P_RC" = 0
expect_jq "  it differs in nothing" '.differs == false and (.rules | length) == 0'
expect_jq "  and cuts nothing of the connections it judged" \
	'.connections.cut == [] and .connections.judged >= 4 and .connections.error == null'
expect_jq "  against the generation the instance enforces, from A" \
	--arg a "$(realpath "$A")" '.enforced.config == $a and .enforced.generation >= 1'
out=$(lab_speebpf mgmt1 plan -c "$A" --host mgmt1 "${RES[@]}" --pin-dir "$(lab_pin_dir mgmt1)") || true
expect_true "  the text says so" grep -q "^no difference: $A compiles to what is enforced" <<<"$out"

echo "# plan -c B: the rules, ports and peers that differ"
plan_json mgmt1 "$B"
expect_true "plan of B exits 3 with --exit-code" test "$P_RC" = 3
expect_jq "  it differs" '.differs == true and .host == "mgmt1"'
expect_rule "  mgmt-internal is removed, with its peers" mgmt-internal ingress \
	"removed 8471> 198.18.0.11,198.18.0.21,fd00:5e::11,fd00:5e::21>"
expect_rule "  mgmt-console moved from 8470 to 9470, its peers kept" mgmt-console ingress \
	"changed 8470>9470 >"
expect_rule "  mgmt-smtp is narrowed from ANY to 198.19.2.26" mgmt-smtp egress \
	"changed > 0.0.0.0/0,::/0>198.19.2.26"
expect_rule "  syslog (udp) is removed" syslog ingress "removed 514> 198.18.9.0/24,fd00:5e::900/120>"
expect_rule "  backup is added" backup egress "added >10000 >198.19.2.1"
expect_jq "  and nothing else differs" '[.rules[].rule] | sort == ["backup", "mgmt-console", "mgmt-internal", "mgmt-smtp", "syslog"]'
expect_jq "  my.mailstore.com has the address it has now" \
	'.names == [{"name": "my.mailstore.com", "change": "same", "before": ["198.19.2.100"], "after": ["198.19.2.100"], "resolved": true}]'

echo "# plan -c B: the connections B would no longer allow"
expect_jq "  four of them" '.connections.cut | length == 4'
expect_jq "  cas1's IPv4 stream: its 5-tuple as ss has it, ingress, mgmt-internal today" \
	--argjson p "$p4" '.connections.cut | any(.proto == "tcp" and .direction == "ingress" and
		.remote == "198.18.0.11" and .remote_port == $p and .local == "198.18.0.10" and
		.local_port == 8471 and .state == "established" and .socket and
		.before.rule == "mgmt-internal" and .after.verdict == "drop" and .after.reason == "no-rule")'
expect_jq "  cas1's IPv6 stream likewise" \
	--argjson p "$p6" '.connections.cut | any(.remote == "fd00:5e::11" and .remote_port == $p and
		.local == "fd00:5e::10" and .local_port == 8471 and .before.rule == "mgmt-internal")'
expect_jq "  mgmt1's own connection to the mail server: egress, mgmt-smtp today" \
	--argjson p "$smtp" '.connections.cut | any(.direction == "egress" and .remote == "198.19.2.25" and
		.remote_port == 587 and .local_port == $p and .before.rule == "mgmt-smtp")'
expect_jq "  the syslog flow, from the flow state only: ingress, syslog today" \
	'.connections.cut | any(.proto == "udp" and .direction == "ingress" and .remote == "198.18.9.50" and
		.local_port == 514 and .flow and (.socket | not) and .before.rule == "syslog" and .state == null)'
out=$(lab_speebpf mgmt1 plan -c "$B" --host mgmt1 "${RES[@]}" --pin-dir "$(lab_pin_dir mgmt1)") || true
printf '%s\n' "$out" >"$LAB_DIR/log/plan-b.txt"
expect_true "  the text lists the IPv4 stream with the rule of today" grep -qE \
	"^  tcp 198\.18\.0\.11:$p4 -> 198\.18\.0\.10:8471 ingress established: today rule mgmt-internal; then no rule: dropped" <<<"$out"
expect_true "  and mgmt-console's move" grep -qE '^~ mgmt-console +ingress tcp +ports 8470 -> 9470$' <<<"$out"
expect_true "  and mgmt-internal's removal" grep -qE '^- mgmt-internal +ingress tcp +8471 removed, was for 198\.18\.0\.11' <<<"$out"

echo "# plan changes nothing"
expect_true "A is still enforced: cas1 reaches mgmt1:8471" lab_exec cas1 "$SPEEPROBE" connect "$(lab_ip mgmt1)" 8471 --timeout-ms 2000
P=$(lab_speebpf mgmt1 status --json) || true
expect_jq "  status: the instance still runs A" --arg a "$(realpath "$A")" '.config == $a'

echo "# on cas1, which enforces nothing: an empty policy"
plan_json cas1 "$A"
expect_jq "plan on cas1 compares with no instance" '.enforced == null and .differs == true and .settings.mode.before == null'
expect_jq "  every rule is added" '(.rules | length) > 5 and all(.rules[]; .change == "added")'
expect_jq "  its stream to mgmt1 is allowed by A (mgmt-internal): not cut" \
	'all(.connections.cut[]; .remote_port != 8471)'
plan_json cas1 "$B"
expect_jq "  B (no mgmt-internal) would cut both streams, which pass today as nothing is enforced" \
	'[.connections.cut[] | select(.remote_port == 8471 and .direction == "egress" and
		(.before.enforced | not) and .before.verdict == "pass" and .after.verdict == "drop")] | length == 2'

echo "# applying B refuses what plan said"
lab_kill stream4
lab_kill stream6
lab_kill smtp
expect_true "apply B on mgmt1" lab_speebpf mgmt1 apply -c "$B" --host mgmt1 "${RES[@]}"
expect blocked cas1 mgmt1 8471
expect blocked cas1 mgmt1/6 8471
expect blocked mgmt1 198.19.2.25 587
expect udp-blocked admpc mgmt1 514 --sport 40999
plan_json mgmt1 "$B"
expect_true "plan of B against B exits 0" test "$P_RC" = 0

lab_finish
