#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# speebpf verify in the SPE lab: mgmt1, cas1 and ih1 enforce the lab fleet.
# On a correct fleet every host's verify passes, with open, blocked-here and
# blocked-path probes each where the config says, over IPv4 and IPv6. A
# peer's firewall that drops an allowed port shows as blocked-path, a rule
# missing from this host's own applied config as blocked-here, and both
# fail verify. A peer that refuses (RST) counts as open. Probes leave from
# the inventory address even where the route prefers another. Every probe ends
# with a result whatever the network does: dropped SYNs end at --timeout.
# apply --confirm --verify on cas1 keeps a config the fleet agrees with
# (confirmed by itself) and lets one revert that moves mgmt-internal to a port
# mgmt1 does not open yet.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_speebpf
command -v jq >/dev/null || lab_skip "needs jq"
command -v nft >/dev/null || lab_skip "needs nft (nftables)"
lab_init verify
lab_spe_topology
lab_spe_listeners

CFG=$LAB_DIR/fleet.yaml
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$CFG"
FLEET=(mgmt1 cas1 ih1)
T=400	# ms a probe waits for an answer; a dropped SYN is blocked-path after it

# verify_json HOST: verify --json in HOST against the lab fleet (or $VCFG); sets V and V_RC.
verify_json() {
	local host=$1
	V_RC=0
	V=$(lab_speebpf "$host" verify -c "${VCFG:-$CFG}" --host "$host" --json --timeout "$T") || V_RC=$?
	printf '%s\n' "$V" >"$LAB_DIR/log/verify-$host-$((LAB_PASS + LAB_FAIL)).json"
}

# probe ADDRESS PORT: "expected result ok rule" of that probe in $V ("none" if absent).
probe() {
	jq -r --arg a "$1" --argjson p "$2" \
		'[.probes[] | select(.address == $a and .port == $p) |
		  "\(.expected) \(.result) \(.ok) \(.rule // "-")"] | if length == 1 then .[0] else "none" end' <<<"$V"
}

# expect_probe DESC ADDRESS PORT "EXPECTED RESULT OK RULE"
expect_probe() {
	local got
	got=$(probe "$2" "$3")
	if [[ $got == "$4" ]]; then
		lab_ok "$1"
	else
		lab_fail "$1 (got: $got, want: $4)"
	fi
}

# The probe of the port no rule names, towards ADDRESS: "PORT expected result".
unlisted() {
	jq -r --arg a "$1" '[.probes[] | select(.address == $a and .unlisted) |
		"\(.port) \(.expected) \(.result)"] | join(",")' <<<"$V"
}

mgmt1=$(lab_ip mgmt1) mgmt1_6=$(lab_ip mgmt1 6) cas1=$(lab_ip cas1) ih1=$(lab_ip ih1)
ih1_6=$(lab_ip ih1 6)

echo "# enforcement"
for h in "${FLEET[@]}"; do
	expect_true "apply on $h" lab_speebpf "$h" apply -c "$CFG" --host "$h" --iface eth0
done

echo "# a correct fleet: every host's verify passes"
for h in "${FLEET[@]}"; do
	verify_json "$h"
	expect_true "verify on $h exits 0" test "$V_RC" = 0
	expect_true "  and says ok" jq -e '.ok == true and .failed == 0' <<<"$V"
	expect_true "  every probe ran and gave what it must" \
		jq -e '(.probes | length) > 0 and all(.probes[]; .ok and .result == .expected)' <<<"$V"
	expect_true "  it probed IPv4 and IPv6 peers" \
		jq -e 'any(.probes[]; .address | contains(":")) and any(.probes[]; .address | contains(":") | not)' <<<"$V"
	expect_true "  probes leave from $h's inventory addresses" \
		jq -e --arg a4 "$(lab_ip "$h")" --arg a6 "$(lab_ip "$h" 6)" \
		'all(.probes[]; .source == $a4 or .source == $a6) and (.sources | sort) == ([$a4, $a6] | sort)' <<<"$V"
	expect_true "  it probes no host outside the inventory, nor itself" \
		jq -e --arg self "$h" 'all(.probes[]; .peer == "mgmt1" or .peer == "cas1" or .peer == "ih1") and
			all(.probes[]; .peer != $self)' <<<"$V"
	expect_true "  one probe per peer address goes to a port no rule names, blocked here" \
		jq -e '[.probes[] | select(.unlisted)] | length == 4 and
			all(.[]; .expected == "blocked-here" and .result == "blocked-here" and .rule == null)' <<<"$V"
done

verify_json cas1
expect_probe "cas1 -> mgmt1:8471 is open (mgmt-internal)" "$mgmt1" 8471 "open open true mgmt-internal"
expect_probe "cas1 -> mgmt1/6:8471 is open" "$mgmt1_6" 8471 "open open true mgmt-internal"
expect_probe "cas1 -> mgmt1:8474 is open (mgmt-pairing)" "$mgmt1" 8474 "open open true mgmt-pairing"
expect_probe "cas1 -> ih1:8472 is open (ih-internal)" "$ih1" 8472 "open open true ih-internal"
expect_probe "cas1 -> ih1/6:8472 is open" "$ih1_6" 8472 "open open true ih-internal"
expect_probe "cas1 does not probe mgmt1:8470 (no egress rule of cas1 opens it)" "$mgmt1" 8470 none
expect_true "cas1's unlisted probe to mgmt1 is port 1 (no rule names 1)" \
	test "$(unlisted "$mgmt1")" = "1 blocked-here blocked-here"
expect_true "cas1 made 10 probes (3 to each mgmt1 address, 2 to each ih1 address)" \
	jq -e '.probes | length == 10' <<<"$V"

verify_json ih1
expect_probe "ih1 -> mgmt1:8471 is open (mgmt-internal)" "$mgmt1" 8471 "open open true mgmt-internal"
expect_probe "ih1 -> cas1:443 is open (ih-ews to ANY, cas-https on cas1)" "$cas1" 443 "open open true ih-ews"
expect_probe "ih1 -> mgmt1:443 is blocked on the path (ih-ews to ANY; mgmt1 takes no 443)" \
	"$mgmt1" 443 "blocked-path blocked-path true ih-ews"
expect_true "  and it ended at the timeout" \
	jq -e --argjson t "$T" --arg a "$mgmt1" '.probes[] | select(.address == $a and .port == 443) |
		.timed_out and .detail == "no answer within \($t) ms"' <<<"$V"
expect_true "ih1's verify had blocked-path probes, every one ended at its timeout" \
	jq -e '[.probes[] | select(.result == "blocked-path")] | length > 10 and all(.[]; .timed_out)' <<<"$V"

verify_json mgmt1
expect_probe "mgmt1 -> cas1:8473 is open (cas-internal)" "$cas1" 8473 "open open true cas-internal"
expect_probe "mgmt1 -> ih1:8472 is open (ih-internal)" "$ih1" 8472 "open open true ih-internal"
expect_probe "mgmt1 -> cas1:587 is blocked on the path (mgmt-smtp to ANY)" "$cas1" 587 \
	"blocked-path blocked-path true mgmt-smtp"

echo "# the table, the metrics, and the host found by address"
out=$(lab_speebpf cas1 verify -c "$CFG" --timeout "$T") || true
expect_true "without --host, verify finds cas1 by its addresses" grep -q '^verify cas1: 10 probes' <<<"$out"
expect_true "  and prints a table that ends ok" grep -q '^ok: every probe gave what the policy says' <<<"$out"
expect_true "  the table has mgmt1:8471 open as expected" \
	grep -Eq '^mgmt1 +198\.18\.0\.10 +8471 +mgmt-internal +open +open +ok +connected' <<<"$out"
prom=$(lab_speebpf cas1 verify -c "$CFG" --host cas1 --timeout "$T" --prometheus) || true
expect_true "verify --prometheus says speebpf_verify_ok 1" grep -qx 'speebpf_verify_ok 1' <<<"$prom"
expect_true "  and a series per probe" grep -qxF \
	'speebpf_verify_probe{peer="mgmt1",address="198.18.0.10",port="8471",rule="mgmt-internal",expected="open",result="open"} 1' <<<"$prom"
expect_true "  and no failed probe" grep -qx 'speebpf_verify_failed_probes 0' <<<"$prom"

echo "# probes leave from the inventory address, whatever source the route prefers"
lab_exec cas1 ip addr add 198.18.0.99/15 dev eth0
lab_exec cas1 ip route change 198.18.0.0/15 dev eth0 proto kernel scope link src 198.18.0.99
expect_blocked cas1 mgmt1 8471		# control: unbound, it leaves from .99, which is no CAS
verify_json cas1
expect_true "verify on cas1 still exits 0" test "$V_RC" = 0
expect_true "  its IPv4 probes were bound to 198.18.0.11" \
	jq -e 'all(.probes[] | select(.address | contains(":") | not); .source == "198.18.0.11")' <<<"$V"
expect_probe "  cas1 -> mgmt1:8471 is open" "$mgmt1" 8471 "open open true mgmt-internal"
lab_exec cas1 ip route change 198.18.0.0/15 dev eth0 proto kernel scope link src "$cas1"
lab_exec cas1 ip addr del 198.18.0.99/15 dev eth0

echo "# a peer's firewall drops an allowed port: blocked-path"
lab_exec mgmt1 nft add table inet spvt
lab_exec mgmt1 nft add chain inet spvt input '{ type filter hook input priority 0; }'
lab_exec mgmt1 nft add rule inet spvt input tcp dport 8471 drop
verify_json cas1
expect_true "verify on cas1 exits 1" test "$V_RC" = 1
expect_true "  and says two probes failed" jq -e '.ok == false and .failed == 2' <<<"$V"
expect_probe "  cas1 -> mgmt1:8471 is blocked-path, not open" "$mgmt1" 8471 "open blocked-path false mgmt-internal"
expect_probe "  cas1 -> mgmt1/6:8471 is blocked-path, not open" "$mgmt1_6" 8471 "open blocked-path false mgmt-internal"
expect_probe "  cas1 -> mgmt1:8474 is still open" "$mgmt1" 8474 "open open true mgmt-pairing"
expect_true "  every probe has a result: the dropped ones ended at the timeout" \
	jq -e 'all(.probes[]; .result != "not-run") and
		all(.probes[] | select(.result == "blocked-path"); .timed_out)' <<<"$V"
out=$(lab_speebpf cas1 verify -c "$CFG" --host cas1 --timeout "$T") || true
expect_true "  the table marks it FAIL" \
	grep -Eq '^mgmt1 +198\.18\.0\.10 +8471 +mgmt-internal +open +blocked-path +FAIL +no answer within' <<<"$out"
expect_true "  and ends FAILED" grep -q '^FAILED: 2 of 10 probes' <<<"$out"
lab_exec mgmt1 nft delete table inet spvt
verify_json cas1
expect_true "without the drop, verify on cas1 passes again" test "$V_RC" = 0

echo "# this host's own applied config misses a rule: blocked-here"
MISSING=$LAB_DIR/fleet-no-mgmt-internal.yaml
{ cat "$CFG"; echo "disable: [mgmt-internal]"; } >"$MISSING"
expect_true "apply on cas1 a config without mgmt-internal" \
	lab_speebpf cas1 apply -c "$MISSING" --host cas1
verify_json cas1
expect_true "verify (of the whole fleet config) on cas1 exits 1" test "$V_RC" = 1
expect_probe "  cas1 -> mgmt1:8471 is blocked-here, not open" "$mgmt1" 8471 "open blocked-here false mgmt-internal"
expect_probe "  cas1 -> mgmt1/6:8471 is blocked-here, not open" "$mgmt1_6" 8471 "open blocked-here false mgmt-internal"
expect_true "  refused at connect() by this host's policy" \
	jq -e --arg a "$mgmt1" '.probes[] | select(.address == $a and .port == 8471) |
		(.timed_out | not) and (.error | test("not permitted"))' <<<"$V"
VCFG=$MISSING verify_json cas1
expect_true "verify of the config cas1 enforces passes (it probes no 8471 then)" test "$V_RC" = 0
expect_probe "  and cas1 -> mgmt1:8471 is no probe of it" "$mgmt1" 8471 none
expect_true "apply the whole config on cas1 again" lab_speebpf cas1 apply -c "$CFG" --host cas1

echo "# a peer that refuses (RST) is open: the port's path is"
lab_kill listen-ih1
expect_closed cas1 ih1 8472
verify_json cas1
expect_true "verify on cas1 exits 0 with nothing listening on ih1" test "$V_RC" = 0
expect_true "  cas1 -> ih1:8472 is open, refused by the peer" \
	jq -e --arg a "$ih1" '.probes[] | select(.address == $a and .port == 8472) |
		.result == "open" and .detail == "refused by the peer"' <<<"$V"

echo "# apply --confirm --verify: a good policy stays, a bad one reverts"
field() { lab_speebpf cas1 status --json | jq -r "$1"; }
out=$(lab_speebpf cas1 apply -c "$CFG" --host cas1 --confirm 30 --verify --timeout "$T" 2>&1) && rc=0 || rc=$?
printf '%s\n' "$out" >"$LAB_DIR/log/apply-verify-good.txt"
expect_true "apply --confirm 30 --verify of the fleet config exits 0" test "$rc" = 0
expect_true "  it printed verify's table, every probe ok" \
	grep -Eq '^mgmt1 +198\.18\.0\.10 +8471 +mgmt-internal +open +open +ok' <<<"$out"
expect_true "  and confirmed by itself" grep -q '^verify passed: confirmed, generation [0-9]* stays$' <<<"$out"
expect_true "  nothing waits for a confirmation" test "$(field .confirm_pending)" = false
good=$(field .generation)
MOVED=$LAB_DIR/fleet-moved.yaml
sed 's/^resolvers:/ports:\n  mgmt-internal: 9471\nresolvers:/' "$CFG" >"$MOVED"
out=$(lab_speebpf cas1 apply -c "$MOVED" --host cas1 --confirm 5 --verify --timeout "$T" 2>&1) && rc=0 || rc=$?
printf '%s\n' "$out" >"$LAB_DIR/log/apply-verify-bad.txt"
expect_true "apply --confirm 5 --verify of a config moving mgmt-internal to 9471 exits 1" test "$rc" = 1
expect_true "  mgmt1 (which still runs the fleet config) drops 9471: blocked-path" \
	grep -Eq '^mgmt1 +198\.18\.0\.10 +9471 +mgmt-internal +open +blocked-path +FAIL' <<<"$out"
expect_true "  it says so and does not confirm" \
	grep -q "verify failed; not confirmed: generation $good comes back within 5 s" <<<"$out"
expect_true "  the moved policy waits for a confirmation" test "$(field .confirm_pending)" = true
for _ in $(seq 100); do	# the deadline is 5 s away; at most 10 s
	[[ $(field .confirm_pending) == false ]] && break
	sleep 0.1
done
expect_true "  past the deadline it reverted: generation $good runs again" \
	test "$(field .generation)" = "$good"
expect_connect cas1 mgmt1 8471

lab_finish
