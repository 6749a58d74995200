#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The command line's contract: exit status 0 success, 1 runtime failure,
# 2 usage or config error; errors name file:line:column; --json errors are JSON.
set -u
BIN=${SPEEBPF:-build/speebpf-san}
FIX=tests/fixtures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# expect STATUS DESCRIPTION -- COMMAND...: runs it, checks the exit status, keeps the output.
expect() {
	local want=$1 what=$2
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	if [ "$got" = "$want" ]; then
		echo "ok   $what (exit $got)"
	else
		echo "FAIL $what: exit $got, want $want"; sed 's/^/     | /' "$tmp/out" "$tmp/err" | head -20
		fails=$((fails + 1))
	fi
}

# contains FILE TEXT DESCRIPTION
contains() {
	if grep -qF -- "$2" "$tmp/$1"; then
		echo "ok   $3"
	else
		echo "FAIL $3: '$2' not in $1"; sed 's/^/     | /' "$tmp/$1" | head -20
		fails=$((fails + 1))
	fi
}

expect 2 "no command is a usage error" -- "$BIN"
expect 2 "an unknown command is a usage error" -- "$BIN" frobnicate
expect 0 "help succeeds" -- "$BIN" help
contains out "check" "help lists the commands"
expect 2 "an unknown option is a usage error" -- "$BIN" check --bogus
expect 2 "check without -c is a usage error" -- "$BIN" check
expect 2 "stats --count without --watch is a usage error" -- "$BIN" stats --count 2
expect 1 "detach of an instance that is not there fails" -- "$BIN" detach --pin-dir "$tmp/none"
contains err "no instance is pinned at $tmp/none" "  and says none is pinned there"
expect 1 "confirm of an instance that is not there fails" -- "$BIN" confirm --pin-dir "$tmp/none"
contains err "no instance is pinned at $tmp/none" "  and says none is pinned there"
expect 2 "stats --watch 1 --count 0 is a usage error" -- "$BIN" stats --watch 1 --count 0
contains err "--count 0" "  and names the option"
# gateway mode: every host, no one host nor cgroup, interfaces by name
expect 2 "apply --gateway with --host is a usage error" -- "$BIN" apply -c deploy/fleet.example.yaml --gateway --host mgmt1 --iface lo --pin-dir "$tmp/none"
expect 2 "apply --gateway with --cgroup is a usage error" -- "$BIN" apply -c deploy/fleet.example.yaml --gateway --cgroup "$tmp" --iface lo --pin-dir "$tmp/none"
expect 2 "apply --gateway without --iface is a usage error" -- "$BIN" apply -c deploy/fleet.example.yaml --gateway --pin-dir "$tmp/none"
expect 2 "apply --gateway --iface all is a usage error" -- "$BIN" apply -c deploy/fleet.example.yaml --gateway --iface all --pin-dir "$tmp/none"
contains err "needs the interfaces by name" "  and says why"
expect 2 "run --gateway --iface all is a usage error" -- "$BIN" run -c deploy/fleet.example.yaml --gateway --iface all --pin-dir "$tmp/none"
expect 2 "apply --gateway on an interface that does not exist" -- "$BIN" apply -c deploy/fleet.example.yaml --gateway --iface spe-none0 --pin-dir "$tmp/none"
contains err "no such interface: spe-none0" "  and names it"
expect 2 "apply --gateway --verify is a usage error" -- "$BIN" apply -c deploy/fleet.example.yaml --gateway --iface lo --confirm 5 --verify --pin-dir "$tmp/none"

expect 0 "check of a valid config" -- "$BIN" check -c deploy/fleet.example.yaml --all
contains out "host mgmt1" "check --all prints the MGMT host"
contains out "host cas1" "check --all prints the CAS host"
contains out "host ih1" "check --all prints the IH host"
expect 0 "check --json" -- "$BIN" check -c deploy/fleet.example.yaml --host mgmt1 --json
contains out '"valid": true' "check --json says valid"
contains out '"id": "mgmt-internal"' "check --json lists rule ids"

expect 2 "a missing config file is a config error" -- "$BIN" check -c "$tmp/none.yaml"
contains err "none.yaml" "the missing file is named"
for f in "$FIX"/config/errors/*.yaml; do
	want=$(sed -n '1s/^# expect: //p' "$f")
	expect 2 "invalid config $(basename "$f") exits 2" -- "$BIN" check -c "$f" --all
	contains err "$f:$want" "  and reports $f:$want"
	break # one is enough here; test_config covers every fixture's message
done
expect 2 "an invalid config with --json exits 2" -- "$BIN" check -c "$FIX/config/errors/$(ls "$FIX/config/errors" | head -1)" --json
contains out '"errors"' "  and prints the errors as JSON"
contains out '"line"' "  with their line"
expect 2 "check of a host not in the inventory" -- "$BIN" check -c deploy/fleet.example.yaml --host nobody
contains err "'nobody' is not in the inventory" "  says so"

expect 0 "explain of an allowed connection" -- "$BIN" explain -c deploy/fleet.example.yaml --host mgmt1 --from 198.18.0.11 --to 198.18.0.10 --port 8471
contains out "pass, rule mgmt-internal" "  names the rule"
expect 0 "explain of a refused connection still succeeds" -- "$BIN" explain -c deploy/fleet.example.yaml --host mgmt1 --from 198.19.1.1 --to 198.18.0.10 --port 8471
contains out "drop, no-rule" "  and says why"
expect 0 "explain --json" -- "$BIN" explain -c deploy/fleet.example.yaml --host ih1 --from 198.18.0.21 --to 198.19.2.45 --port 443 --json
contains out '"rule": "ih-icewarp"' "  gives the rule as data"
expect 0 "explain of a packet between two other addresses" -- "$BIN" explain -c deploy/fleet.example.yaml --host mgmt1 --from 198.19.1.1 --to 198.19.1.2 --port 80
contains out "pass, transit: 198.19.1.2 is not an address of mgmt1" "  is transit: not the host's to judge (CONTRACT.md section 4)"
expect 0 "explain of a multicast packet to the host" -- "$BIN" explain -c $FIX/config/real-host.yaml --host cas1 --from 198.18.0.12 --to 224.0.0.18 --proto ip --ip-proto vrrp
contains out "ingress ip/vrrp 198.18.0.12 -> 224.0.0.18 on cas1: pass, rule vrrp" "  is ingress, judged by the ip rule"
expect 0 "explain of an icmp echo request" -- "$BIN" explain -c $FIX/config/real-host.yaml --host cas1 --from 198.18.9.5 --to 198.18.0.11 --proto icmp --icmp-type echo-request --json
contains out '"rule": "ping-from-adm"' "  names the icmp rule"
contains out '"icmp_type": 8' "  and the type as data"
expect 0 "explain of an icmp error" -- "$BIN" explain -c $FIX/config/real-host.yaml --host cas1 --from 198.19.1.1 --to 198.18.0.11 --proto icmp --icmp-type time-exceeded
contains out "pass, icmp: an error message" "  says errors pass by their own reason"
expect 0 "explain of an echo reply" -- "$BIN" explain -c $FIX/config/real-host.yaml --host cas1 --from 198.19.1.1 --to 198.18.0.11 --proto icmp --icmp-type 0
contains out "passes as the reply of an echo request" "  explains that replies are state"
expect 2 "explain --proto icmp without --icmp-type" -- "$BIN" explain -c $FIX/config/real-host.yaml --host cas1 --from 198.18.9.5 --to 198.18.0.11 --proto icmp --port 8
expect 2 "explain --proto icmpv6 with IPv4 addresses" -- "$BIN" explain -c $FIX/config/real-host.yaml --host cas1 --from 198.18.9.5 --to 198.18.0.11 --proto icmpv6 --icmp-type 128
expect 2 "explain --proto ip with --ip-proto tcp" -- "$BIN" explain -c $FIX/config/real-host.yaml --host cas1 --from 198.18.9.5 --to 198.18.0.11 --proto ip --ip-proto 6
expect 2 "explain --proto tcp without --port" -- "$BIN" explain -c $FIX/config/real-host.yaml --host cas1 --from 198.18.9.5 --to 198.18.0.11

expect 0 "check of a config with baselines, icmp and ip rules" -- "$BIN" check -c $FIX/config/real-host.yaml --host cas1
contains out "ping-from-adm    icmp/echo-request from ADM" "  shows the icmp rule by its type's name"
contains out "vrrp             ip/vrrp      from cas1, cas2: 198.18.0.11, 198.18.0.12" "  and the ip rule by its protocol's name"
contains out "base-kubelet     tcp/10250    from K8S_CONTROL: 198.18.8.0/24" "  and the baselines' rules"
expect 0 "check --json of a host with a warning" -- "$BIN" check -c $FIX/config/real-host.yaml --host cas1 --json
contains out '"origin": "baseline"' "  gives a baseline rule's origin"
contains out '"ip_proto": 112' "  and an ip rule's protocol"
printf 'hosts:\n  - {name: m, roles: [MGMT], addresses: [198.18.0.10]}\nfailsafe: []\nrules:\n  - {id: lost, port: 1, from: [ANY], to: [198.18.44.0/24]}\n' >"$tmp/nossh.yaml"
expect 0 "check of a config that cuts SSH off" -- "$BIN" check -c "$tmp/nossh.yaml" --host m
contains out "warning: failsafe: [] turns the SSH failsafe off" "  warns"
contains out "lost is enforced on no host" "  and notes a rule enforced nowhere"
if grep -q '^nameserver' /etc/resolv.conf 2>/dev/null; then
	contains out "to this machine's resolvers (the config names none)" "  and says whose resolvers it shows"
fi
# icmp and ip rules and the baselines are enforced now: apply goes on to the pin dir (no bpffs here)
expect 1 "apply of a config with baselines, icmp and ip rules gets past the policy checks" -- "$BIN" apply -c $FIX/config/real-host.yaml --host cas1 --pin-dir "$tmp/none" --iface spee-noif0 --cgroup "$tmp/nocg"
contains err "is not on a bpf filesystem" "  to the pin dir, which is not on bpffs here"
if grep -q "cannot be enforced" "$tmp/err"; then echo "FAIL apply refused a rule"; fails=$((fails + 1)); else echo "ok   and refuses no rule"; fi
expect 2 "explain with a port out of range" -- "$BIN" explain -c deploy/fleet.example.yaml --host mgmt1 --from 198.18.0.11 --to 198.18.0.10 --port 70000
expect 2 "explain with a bad protocol" -- "$BIN" explain -c deploy/fleet.example.yaml --host mgmt1 --from 198.18.0.11 --to 198.18.0.10 --port 1 --proto sctp
expect 2 "explain with a bad address" -- "$BIN" explain -c deploy/fleet.example.yaml --host mgmt1 --from 198.18.0.300 --to 198.18.0.10 --port 1
expect 0 "explain --exit-code of an allowed connection exits 0" -- "$BIN" explain -c deploy/fleet.example.yaml --host mgmt1 --from 198.18.0.11 --to 198.18.0.10 --port 8471 --exit-code
contains out "pass, rule mgmt-internal" "  and still prints the verdict"
expect 3 "explain --exit-code of a refused connection exits 3" -- "$BIN" explain -c deploy/fleet.example.yaml --host mgmt1 --from 198.19.1.1 --to 198.18.0.10 --port 8471 --exit-code
contains out "drop, no-rule" "  and still prints the verdict"
expect 3 "explain --exit-code --json of a refused connection exits 3" -- "$BIN" explain -c deploy/fleet.example.yaml --host mgmt1 --from 198.19.1.1 --to 198.18.0.10 --port 8471 --exit-code --json
contains out '"verdict": "drop"' "  and prints the verdict as JSON"
expect 0 "explain --exit-code in audit mode exits 0: a would-drop passes" -- "$BIN" explain -c tests/fixtures/policy/site.yaml --host mgmt1 --from 198.19.1.1 --to 198.18.0.10 --port 8470 --exit-code
contains out "audit mode: passed, and counted as a would-drop" "  and says it is a would-drop"
expect 2 "explain --exit-code with a bad port is still a usage error" -- "$BIN" explain -c deploy/fleet.example.yaml --host mgmt1 --from 198.18.0.11 --to 198.18.0.10 --port 0 --exit-code

expect 2 "verify without -c is a usage error" -- "$BIN" verify
expect 2 "verify --timeout 0 is a usage error" -- "$BIN" verify -c deploy/fleet.example.yaml --timeout 0
contains err "--timeout 0" "  and names the option"
expect 2 "verify --json --prometheus is a usage error" -- "$BIN" verify -c deploy/fleet.example.yaml --json --prometheus
expect 2 "verify of a host not in the inventory" -- "$BIN" verify -c deploy/fleet.example.yaml --host nobody
contains err "'nobody' is not in the inventory" "  says so"
expect 2 "verify of a host whose addresses this machine does not hold" -- "$BIN" verify -c deploy/fleet.example.yaml --host mgmt1
contains err "verify runs on the host it verifies" "  says it must run on that host"

if [ "$fails" -gt 0 ]; then
	echo "$fails CLI expectation(s) failed"
	exit 1
fi
echo "all CLI expectations met"
