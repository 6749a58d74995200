#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The Grafana dashboard and the Prometheus alert rules (deploy/grafana,
# deploy/prometheus) against what real agents export: an enforcing agent on
# mgmt1 (with a DNS name that never resolves) and an auditing one on cas1,
# with traffic allowed and refused, both verifying the matrix periodically
# (which fails: ih1 enforces nothing and cas1 only audits, so mgmt1's
# mail to them - mgmt-smtp, to ANY - is open where the config says their
# ingress refuses it), are scraped. Then:
#  - the scrapes pass `promtool check metrics`;
#  - every metric and label the dashboard's queries, the alert rules and the
#    alert tests' series name is exported (tests/deploy/monitoring.js check);
#  - on the real series, in `promtool test rules`: every dashboard query
#    returns data, the never-resolved name alerts, a drift the agent really
#    found (an entry deleted behind its back) alerts, the failing verify
#    alerts on both, and nothing else does.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_speebpf
command -v promtool >/dev/null || lab_skip "no promtool (tools/install-deps.sh installs prometheus)"
command -v node >/dev/null || lab_skip "no node (tools/install-deps.sh)"
CHECKS=$LAB_REPO/tests/deploy
[[ -d $CHECKS/node_modules ]] || lab_skip "no $CHECKS/node_modules (tools/install-deps.sh)"
DASHBOARD=$LAB_REPO/deploy/grafana/speebpf.json
ALERTS=$LAB_REPO/deploy/prometheus/speebpf-alerts.yml
ALERT_TESTS=$CHECKS/speebpf-alerts.test.yml

lab_init monitoring
lab_spe_topology
lab_spe_listeners

# The lab fleet, and a site rule to a name no resolver knows (mgmt1's egress).
CFG=$LAB_DIR/fleet.yaml
sed 's/^rules:/rules:\n  - {id: backup, port: 10000, from: [MGMT], to: [unresolvable.example.com]}/' \
	"$LAB_REPO/tests/e2e/fleet-lab.yaml" >"$CFG"

agent() { # HOST [ARGS...]: an agent serving /metrics on the host's 127.0.0.1:9600
	local host=$1
	shift
	lab_spawn "$host" "agent-$host" "$SPEEBPF" run -c "$CFG" --host "$host" --iface eth0 \
		--cgroup "$(lab_cgroup "$host")" --pin-dir "$(lab_pin_dir "$host")" \
		--metrics 127.0.0.1:9600 --drift-interval 1 --verify-interval 3600 --timeout 500 \
		--state-dir "$LAB_DIR/state-$host" "$@"
	lab_wait_log "agent-$host" 'watching ' 20 || lab_die "the agent of $host did not start"
}
verified() { # HOST: its agent's first verify run is over
	lab_wait_log "agent-$1" 'verify (passed|failed)' 20 || lab_die "the agent of $1 did not verify"
}
scrape() { # HOST FILE
	lab_exec "$1" curl -sf --max-time 5 http://127.0.0.1:9600/metrics >"$2"
}

echo "# an enforcing agent on mgmt1, an auditing one on cas1, and traffic"
agent mgmt1
agent cas1 --audit
expect_connect cas1 mgmt1 8471		# a rule's counter
expect_blocked client mgmt1 8471	# a drop
expect_connect client cas1 8473		# a would-drop (audit mode lets it through)
expect_connect ih1 cas1 443		# cas-https
verified mgmt1
verified cas1

S=$LAB_DIR/scrape
mkdir -p "$S"
scrape mgmt1 "$S/mgmt1-1.prom"
scrape cas1 "$S/cas1-1.prom"
expect_true "the scrapes pass promtool check metrics" \
	sh -c "promtool check metrics <'$S/mgmt1-1.prom' && promtool check metrics <'$S/cas1-1.prom'"
expect_true "mgmt1's scrape shows the never-resolved name" \
	grep -q '^speebpf_dns_last_success_timestamp_seconds{name="unresolvable.example.com"} 0$' "$S/mgmt1-1.prom"
expect_true "cas1's scrape shows audit mode" grep -q '^speebpf_audit_mode 1$' "$S/cas1-1.prom"
expect_true "mgmt1's scrape shows verify failing" grep -q '^speebpf_verify_ok 0$' "$S/mgmt1-1.prom"
expect_true "... on its probe of ih1's port 587 (mgmt-smtp), open as ih1 enforces nothing" \
	grep -q '^speebpf_verify_probe{peer="ih1",address="198.18.0.21",port="587",rule="mgmt-smtp",expected="blocked-path",result="open"} 0$' \
	"$S/mgmt1-1.prom"
expect_true "... while its probes of ih1's ports a rule opens are open, as they must be" \
	grep -Eq '^speebpf_verify_probe\{peer="ih1",address="198.18.0.21",port="[0-9]+",rule="[a-z0-9-]+",expected="open",result="open"\} 1$' \
	"$S/mgmt1-1.prom"

echo "# drift: an entry deleted behind mgmt1's agent's back"
PIN=$(lab_pin_dir mgmt1)
act=$(lab_speebpf mgmt1 status --json | jq .active_slot)
# cas1's mgmt-internal entry: slot, ingress, tcp, v4, port 8471, 198.18.0.11
key=$(printf '0x%02x 0x00 0x06 0x00 0x21 0x17 0x00 0x00 0xc6 0x12 0x00 0x0b' "$act")
key+=" $(printf '0x00 %.0s' {1..12})"
bpftool map delete pinned "$PIN/maps/spee_exact" key hex $key
for _ in $(seq 50); do	# the drift interval is 1 s; at most 5 s
	grep -q '^speebpf_drift_total 1$' <(lab_exec mgmt1 curl -sf http://127.0.0.1:9600/metrics) && break
	sleep 0.1
done
scrape mgmt1 "$S/mgmt1-2.prom"
scrape cas1 "$S/cas1-2.prom"
expect_true "the agent counted the drift" grep -q '^speebpf_drift_total 1$' "$S/mgmt1-2.prom"

echo "# the dashboard and the alert rules name what the agent exports"
SCRAPES=(--scrape "mgmt1:9600=$S/mgmt1-1.prom,$S/mgmt1-2.prom" --scrape "cas1:9600=$S/cas1-1.prom,$S/cas1-2.prom")
expect_true "every metric and label of the dashboard, the rules and the rule tests is exported" \
	node "$CHECKS/monitoring.js" check "${SCRAPES[@]}" --dashboard "$DASHBOARD" --rules "$ALERTS" \
	--tests "$ALERT_TESTS"
# The check itself fails on a query that names what the agent does not export.
jq '.panels[1].targets[0].expr = "speebpf_attachd"' "$DASHBOARD" >"$LAB_DIR/bad-name.json"
sed 's/reason="no-rule"/reason="no_rule"/' "$ALERT_TESTS" >"$LAB_DIR/bad-value.test.yml"
expect_false "a dashboard query naming a metric the agent does not export fails the check" \
	node "$CHECKS/monitoring.js" check "${SCRAPES[@]}" --dashboard "$LAB_DIR/bad-name.json"
expect_false "an alert test series with a reason the agent does not export fails the check" \
	node "$CHECKS/monitoring.js" check "${SCRAPES[@]}" --tests "$LAB_DIR/bad-value.test.yml"

echo "# on the real series: the dashboard's queries return data, the right alerts fire"
# Scrape 1 holds from 0 to 30 m, scrape 2 (after the drift) from 30 to 60 m.
expect_true "promtool check rules and test rules pass (the alert rules' own tests)" \
	sh -c "promtool check rules '$ALERTS' && promtool test rules '$ALERT_TESTS'"
expect_true "the real series make a promtool test" \
	node "$CHECKS/monitoring.js" emit-test "${SCRAPES[@]}" --dashboard "$DASHBOARD" \
	--rules "$ALERTS" --out "$LAB_DIR/real" --step 30 --eval 45 \
	--expect 'SpeebpfDnsNameNeverResolved{job="speebpf",instance="mgmt1:9600",name="unresolvable.example.com"}' \
	--expect 'SpeebpfDrift{job="speebpf",instance="mgmt1:9600"}' \
	--expect 'SpeebpfVerifyFailing{job="speebpf",instance="mgmt1:9600"}' \
	--expect 'SpeebpfVerifyFailing{job="speebpf",instance="cas1:9600"}'
expect_true "every dashboard query has data; only the never-resolved name, drift and verify alerts" \
	promtool test rules "$LAB_DIR/real/test.yml"

lab_finish
