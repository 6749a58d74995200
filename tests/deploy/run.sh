#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tests/deploy/run.sh - checks of deploy/ that need no lab (run by `make
# deploy-test`, part of `make test`):
#  - the Kubernetes manifests against the Kubernetes API schema, strictly,
#    namespace first (validate-manifests.js), and that broken ones fail;
#  - the systemd unit: systemd-analyze verify, its ordering before the
#    network, and `systemd-analyze security` (the exposure threshold and the
#    exact list of settings it may still lack, each for a reason);
#  - the alert rules: promtool check rules and promtool test rules;
#  - the dashboard: JSON, unique panel ids, its variables, the verify row and its panels;
#  - `make install` into a DESTDIR: the example config is an example only; the
#    generated man page and completion are installed.
# (The package: tests/package/test_deb.sh; dashboard and rules against a real
# agent: tests/e2e/test_monitoring.sh.)
set -u
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   $*"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL $*"
}
# expect DESC CMD...: CMD succeeds;  expect_not DESC CMD...: CMD fails.
expect() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$desc"; else bad "$desc: $(tail -n 5 <<<"$out" | tr '\n' ' ')"; fi
}
expect_not() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then bad "$desc (it succeeded: $(tail -n 2 <<<"$out" | tr '\n' ' '))"; else ok "$desc"; fi
}
T=$(mktemp -d /tmp/speebpf-deploy-test.XXXXXX)
trap 'rm -rf "$T"' EXIT

echo "# Kubernetes manifests"
if [[ -d tests/deploy/node_modules ]] && command -v node >/dev/null; then
	expect "deploy/kubernetes is valid against the Kubernetes API schema, namespace first" \
		node tests/deploy/validate-manifests.js deploy/kubernetes
	# A misspelled field, a wrong type, a namespace applied last: each fails, by name.
	broken() { # NAME SED-SCRIPT [FILE]
		rm -rf "$T/$1"
		cp -r deploy/kubernetes "$T/$1"
		sed -i "$2" "$T/$1/${3:-30-daemonset.yaml}"
	}
	broken typo 's/readinessProbe:/readinessProb:/'
	expect "a misspelled field fails, by name" \
		grep -q "readinessProb\"' does not exist in type 'IContainer'" \
		<(node tests/deploy/validate-manifests.js "$T/typo" 2>&1)
	expect_not "... and the check exits non-zero" node tests/deploy/validate-manifests.js "$T/typo"
	broken type 's/hostNetwork: true/hostNetwork: "yes"/'
	expect_not "a field of the wrong type fails" node tests/deploy/validate-manifests.js "$T/type"
	broken nsorder 's/^/# /' 00-namespace.yaml
	printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: speebpf\n' >"$T/nsorder/99-namespace.yaml"
	expect_not "a namespace applied after what lives in it fails" \
		node tests/deploy/validate-manifests.js "$T/nsorder"
else
	bad "no node or no tests/deploy/node_modules: run tools/install-deps.sh"
fi

echo "# the systemd unit"
UNIT=deploy/speebpf.service
key() { sed -n "s/^$1=//p" "$UNIT"; }
expect "it is ordered before the network, as nftables.service is" \
	sh -c "[ '$(key Before)' = 'network-pre.target shutdown.target' ] &&
		[ '$(key Wants)' = network-pre.target ] && [ '$(key DefaultDependencies)' = no ]"
expect "it does not start without the administrator's config" \
	test "$(key ConditionPathExists)" = /etc/speebpf/fleet.yaml
expect_not "its ExecStart names no interface (the scope follows the inventory addresses)" \
	grep -q -- --iface <<<"$(key ExecStart)"
expect "it keeps a state directory (the last good config)" test "$(key StateDirectory)" = speebpf
if [[ -x build/speebpf ]]; then
	sed "s|/usr/sbin/speebpf|$REPO/build/speebpf|" "$UNIT" >"$T/speebpf.service"
	expect "systemd-analyze verify finds nothing to say" \
		sh -c "out=\$(systemd-analyze verify '$T/speebpf.service' 2>&1); [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
else
	bad "no build/speebpf for systemd-analyze verify (make build/speebpf)"
fi
# The exposure: 2.1 measured. What remains is what a host firewall agent is:
# it must live in the host's network (PrivateNetwork, AF_INET/INET6 for
# /metrics and DNS, AF_NETLINK for interfaces, AF_UNIX for journal and
# sd_notify), hold CAP_BPF and CAP_NET_ADMIN (ambient: it runs the programs
# itself) in the init user namespace (PrivateUsers), call bpf(2) (in
# @privileged); it runs as root for the root-owned bpffs and the pins it
# shares with the speebpf command; it reads /proc/mounts and /proc/sys
# (ProcSubset); it talks to site-specific resolvers and scrapers
# (IPAddressDeny); ProtectClock's own rtc allowance (DeviceAllow). Any other
# setting that goes missing fails here, even within the threshold.
ALLOWED_EXPOSURE="PrivateNetwork= RestrictAddressFamilies=~AF_(INET|INET6) RestrictAddressFamilies=~AF_NETLINK
RestrictAddressFamilies=~AF_UNIX CapabilityBoundingSet=~CAP_NET_ADMIN CapabilityBoundingSet=~CAP_BPF
AmbientCapabilities= PrivateUsers= SystemCallFilter=~@privileged User=/DynamicUser= ProcSubset=
IPAddressDeny= DeviceAllow="
# lacking UNIT: the settings systemd-analyze finds missing, beyond the allowed ones.
lacking() {
	systemd-analyze security --offline=true --json=short "$1" |
		jq -r '.[] | select(.set == false and (.exposure // 0) > 0) | .name' |
		grep -vxF -f <(tr ' ' '\n' <<<"$ALLOWED_EXPOSURE")
}
expect "systemd-analyze security: the exposure is at most 2.2" \
	systemd-analyze security --offline=true --threshold=22 "$UNIT"
expect "... and it lacks no setting but the ones the agent's job needs" \
	test -z "$(lacking "$UNIT")"
sed '/^ProtectKernelTunables=/d' "$UNIT" >"$T/weaker.service"
expect "a unit without ProtectKernelTunables fails that check" \
	test "$(lacking "$T/weaker.service")" = ProtectKernelTunables=

echo "# the alert rules"
if command -v promtool >/dev/null; then
	expect "promtool check rules" promtool check rules deploy/prometheus/speebpf-alerts.yml
	expect "promtool test rules (each alert fires when it should, and only then)" \
		promtool test rules tests/deploy/speebpf-alerts.test.yml
else
	bad "no promtool: run tools/install-deps.sh"
fi

echo "# the dashboard"
D=deploy/grafana/speebpf.json
expect "it is JSON with a uid, a title and unique panel ids" \
	jq -e '(.uid | length > 0) and (.title | length > 0) and
		([.. | objects | select(has("gridPos")) | .id] | length == (unique | length))' "$D"
expect "every query uses the data source, job and instance variables" \
	jq -e '[.. | objects | select(has("expr"))] | length > 0 and
		all(.datasource.uid == "${datasource}" and (.expr | test("job=~\"\\$job\"")) and
		    (.expr | test("instance=~\"\\$instance\"")))' "$D"
expect "it keeps a row for the verify results" \
	jq -e '[.panels[] | select(.type == "row" and .title == "Verify results")] | length == 1' "$D"
expect "... whose panels query the verify results: the verdict, failures, each probe" \
	jq -e '[.panels[] | select(.type == "row" and .title == "Verify results") | .panels[].targets[].expr] as $q |
		(["speebpf_verify_ok", "speebpf_verify_failed_probes", "speebpf_verify_probes",
		  "speebpf_verify_probe{", "speebpf_verify_last_run_timestamp_seconds"] |
		 all(. as $m | $q | any(contains($m))))' "$D"

echo "# make install"
if [[ -x build/speebpf ]]; then
	expect "make install DESTDIR=... succeeds" make --no-print-directory -s install DESTDIR="$T/root"
	expect "the example config is installed as an example, not as the live config" \
		sh -c "[ ! -e '$T/root/etc/speebpf/fleet.yaml' ] && [ -d '$T/root/etc/speebpf' ] &&
			cmp -s deploy/fleet.example.yaml '$T/root/usr/local/share/doc/speebpf/examples/fleet.example.yaml'"
	expect "the unit runs the installed binary" \
		grep -q '^ExecStart=/usr/local/sbin/speebpf run ' "$T/root/etc/systemd/system/speebpf.service"
	expect "the dashboard, the alert rules and /etc/default/speebpf are installed" \
		sh -c "cmp -s deploy/grafana/speebpf.json '$T/root/usr/local/share/speebpf/grafana/speebpf.json' &&
			cmp -s deploy/prometheus/speebpf-alerts.yml '$T/root/usr/local/share/speebpf/prometheus/speebpf-alerts.yml' &&
			cmp -s deploy/speebpf.default '$T/root/etc/default/speebpf'"
	expect "the generated man page and bash completion are installed" \
		sh -c "cmp -s build/speebpf.8 '$T/root/usr/local/share/man/man8/speebpf.8' &&
			cmp -s build/speebpf.bash-completion '$T/root/usr/local/share/bash-completion/completions/speebpf'"
	echo 'SPEEBPF_ARGS="--audit"' >"$T/root/etc/default/speebpf"
	make --no-print-directory -s install DESTDIR="$T/root" >/dev/null 2>&1
	expect "an existing /etc/default/speebpf is kept" grep -qx 'SPEEBPF_ARGS="--audit"' "$T/root/etc/default/speebpf"
else
	bad "no build/speebpf for make install (make build/speebpf)"
fi

echo "deploy: $passed passed, $failed failed"
((failed == 0))
