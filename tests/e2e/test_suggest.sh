#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# speebpf suggest in the SPE lab: cas1 enforces the example fleet in audit
# mode. Real connections from two peers to cas-https (443 from ANY) make
# suggest propose narrowing it to exactly those two, with their counts
# (spoofed SYNs from elsewhere, let in as well, are not connections);
# connections to a port no rule allows (8473, cas-internal's, MGMT only)
# make it propose a site rule from the peer that made them. --min-count
# leaves out the peer seen less often. The fragment, merged into the fleet,
# is accepted by check; applied in enforce mode, it lets the seen peers in
# and keeps out one that was never seen.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_speebpf
lab_init suggest
lab_spe_topology
lab_spe_listeners

CFG=$LAB_DIR/fleet.yaml
cp "$LAB_REPO/deploy/fleet.example.yaml" "$CFG"
client=$(lab_ip client) admpc=$(lab_ip admpc)

echo "# cas1 enforces the example fleet in audit mode"
expect_true "apply --audit" lab_speebpf cas1 apply -c "$CFG" --host cas1 --iface eth0 --audit
expect_true "nothing is noted yet: no narrow: and no rules:" \
	sh -c "$(printf '%q ' "$SPEEBPF") suggest --pin-dir $(lab_pin_dir cas1) | grep -Eq '^(narrow|rules):' && exit 1 || exit 0"

echo "# traffic: two peers through the ANY rule, one of them to a port no rule allows"
for _ in 1 2 3; do expect_connect client cas1 443; done
expect_connect admpc cas1 443
expect_connect client cas1 8473	# a would-drop: audit mode lets it through
expect_connect client cas1 8473

echo "# spoofed SYNs through the ANY rule, from addresses that never complete a handshake"
https_in() {
	lab_speebpf cas1 stats --json |
		jq '[.rules[] | select(.id == "cas-https" and .direction == "ingress") | .packets] | add'
}
before=$(https_in)
cas1=$(lab_ip cas1)
for i in $(seq 1 20); do
	tcp=$(seg_tcp "198.19.200.$i" "$cas1" $((42000 + i)) 443 1000 0 S)
	lab_exec client "$SPEEPROBE" send-frame eth0 \
		"$(frame_eth "$(lab_mac cas1)" "$(lab_mac client)" 0800 "$(pkt_ipv4 "198.19.200.$i" "$cas1" 6 "$tcp")")"
done
after=$(https_in)
expect_true "  cas-https let them in ($before -> $after packets)" test "$after" -ge $((before + 20))

OUT=$LAB_DIR/suggest.yaml
expect_true "suggest exits 0" sh -c "$(printf '%q ' "$SPEEBPF") suggest --pin-dir $(lab_pin_dir cas1) >$OUT"
cat "$OUT" >"$LAB_DIR/log/suggest.yaml"

# narrow_addrs RULE FILE: the addresses listed under "  RULE:" of narrow:
narrow_addrs() {
	awk -v key="  $1:" 'index($0, key) == 1 { on = 1; next }
		on && /^    - / { print $2; next } on { exit }' "$2" | sort | tr '\n' ' '
}
# rule_from ID FILE: the addresses of site rule ID's from:
rule_from() {
	awk -v id="  - id: $1" '$0 == id { on = 1; next } on && /^  - id:/ { exit }
		on && /^    from:/ { f = 1; next } on && f && /^      - / { print $2; next } f { exit }' "$2" |
		sort | tr '\n' ' '
}
# count INDENT ADDR WHAT FILE: the count of the comment after ADDR's entry ("3 connections"), or 0
count() {
	sed -n "s/^$1- $2  # \([0-9]*\) $3s\{0,1\}, first [0-9T:-]*Z, last [0-9T:-]*Z\$/\1/p" "$4" | head -1 |
		grep . || echo 0
}
want=$(printf '%s\n' "$admpc" "$client" | sort | tr '\n' ' ')
got=$(narrow_addrs cas-https "$OUT")
expect_true "narrow: cas-https proposes exactly the two peers, none of the spoofed ($got)" \
	test "$got" = "$want"
# a connection is noted when its handshake completes: once each
n_client=$(count '    ' "$client" connection "$OUT")
n_admpc=$(count '    ' "$admpc" connection "$OUT")
expect_true "  the client with its 3 connections ($n_client)" test "$n_client" -eq 3
expect_true "  admpc with its 1 ($n_admpc)" test "$n_admpc" -eq 1
got=$(rule_from suggest-cas1-in-tcp-8473 "$OUT")
expect_true "rules: suggest-cas1-in-tcp-8473 from the client alone ($got)" test "$got" = "$client "
n=$(count '      ' "$client" would-drop "$OUT")
expect_true "  its would-drops counted: its 2 connections ($n)" test "$n" -eq 2
expect_true "  to cas1's role" \
	sh -c "sed -n '/- id: suggest-cas1-in-tcp-8473/,/description/p' $OUT | grep -qx '    to: \[CAS\]'"
expect_false "no rule is proposed for the ANY rule's port" grep -q 'suggest-cas1-in-tcp-443' "$OUT"

MIN=$LAB_DIR/suggest-min.yaml
lab_speebpf cas1 suggest --min-count $((n_admpc + 1)) >"$MIN"
got=$(narrow_addrs cas-https "$MIN")
expect_true "--min-count $((n_admpc + 1)) keeps only the client ($got)" test "$got" = "$client "
expect_true "suggest --min-count 0 is a usage error" \
	sh -c "$(printf '%q ' "$SPEEBPF") suggest --min-count 0 --pin-dir $(lab_pin_dir cas1) 2>/dev/null; test \$? = 2"
expect_true "suggest without an instance fails (exit 1)" \
	sh -c "$(printf '%q ' "$SPEEBPF") suggest --pin-dir $(lab_pin_dir cas1)-none 2>/dev/null; test \$? = 1"

echo "# the fragment merged into the fleet: check accepts it, and enforcing it follows what was seen"
MERGED=$LAB_DIR/merged.yaml
# under the fleet's own narrow: and rules: (block style), after their entries
awk -v frag="$OUT" '
	function body(key,   l, on, out) {
		on = 0; out = ""
		while ((getline l < frag) > 0) {
			if (l == key ":") { on = 1; continue }
			if (on && l ~ /^[^ #]/) on = 0
			if (on) out = out l "\n"
		}
		close(frag)
		return out
	}
	BEGIN { n["narrow"] = body("narrow"); n["rules"] = body("rules") }
	/^[^ #]/ { if (pending != "") { printf "%s", n[pending]; pending = "" } }
	/^(narrow|rules):$/ { print; pending = substr($0, 1, length($0) - 1); next }
	{ print }
	END { if (pending != "") printf "%s", n[pending] }' "$CFG" >"$MERGED"
cp "$MERGED" "$LAB_DIR/log/merged.yaml"
expect_true "check accepts the merged fleet for cas1" lab_speebpf cas1 check -c "$MERGED" --host cas1
expect_true "  and for every other host" \
	sh -c "$(printf '%q ' "$SPEEBPF") check -c $MERGED --host mgmt1 >/dev/null && $(printf '%q ' "$SPEEBPF") check -c $MERGED --host ih1 >/dev/null"
expect_true "apply the merged fleet, enforcing" lab_speebpf cas1 apply -c "$MERGED" --host cas1 --iface eth0
expect_connect client cas1 443
expect_connect admpc cas1 443
expect_blocked ext cas1 443	# never seen: no longer let in by cas-https
expect_connect client cas1 8473	# the suggested site rule
expect_blocked admpc cas1 8473

lab_finish
