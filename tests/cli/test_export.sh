#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# speebpf export, without a kernel to enforce with (tests/e2e/test_nftables.sh
# runs the nftables export on real traffic):
#  - usage and config errors exit 2 and print no ruleset;
#  - the golden files (tests/golden/export/) show each example host's whole
#    Windows script and nftables ruleset, and the exports still equal them;
#  - every Windows script parses (tests/tools/ps1scan: there is no PowerShell
#    here), uses only cmdlets Windows Server 2019/2022 has or functions it
#    defines, and holds, rule for rule, what `check --json` says of the same
#    host: direction, protocol, port after ports:, peers (narrowed rules, site
#    rules, DNS names as dynamic keywords), plus DNS to the resolvers, ICMP,
#    the default actions, and the keyword data that windows-keywords prints;
#  - every nftables export loads twice into a network namespace of its own
#    and leaves one table (as root; skipped otherwise).
#
# Usage: tests/cli/test_export.sh [--update-golden]
#   --update-golden  rewrites the golden files from the current exports;
#                    review `git diff tests/golden` before committing them.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${SPEEBPF:-build/speebpf-san}
SCAN=${PS1SCAN:-build/tools/ps1scan}
GOLDEN=tests/golden/export
EXAMPLE=deploy/fleet.example.yaml
FIXTURE=tests/fixtures/export/fleet.yaml
# CONTRACT.md section 4: baselines, host name targets, icmp, icmpv6 and ip rules.
REAL_HOST=tests/fixtures/config/real-host.yaml
# Every DNS name of both configs, pinned: the exports must not depend on this machine's DNS.
PINS=(--resolve "my.mailstore.com=198.19.2.100,fd00:5e::2:100"
	--resolve "exchange.example.com=198.19.2.44,fd00:5e::2:44" --resolve "ca.example.com=198.19.2.81")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

for tool in "$BIN" "$SCAN"; do
	[[ -x $tool ]] || { echo "test_export: no $tool (make test-build)"; exit 1; }
done
command -v jq >/dev/null || { echo "test_export: needs jq (tools/install-deps.sh)"; exit 1; }

ok() { echo "ok   $*"; }
fail() {
	echo "FAIL $*"
	fails=$((fails + 1))
}

# check DESC CMD...: CMD succeeds.
check() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$what"; else fail "$what"; fi
}

# expect STATUS DESC -- CMD...: CMD exits STATUS; its stdout in $tmp/out, stderr in $tmp/err.
expect() {
	local want=$1 what=$2 got=0
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err" || got=$?
	if [[ $got == "$want" ]]; then
		ok "$what (exit $got)"
	else
		fail "$what: exit $got, want $want"
		sed 's/^/     | /' "$tmp/out" "$tmp/err" | head -20
	fi
}

export_to() { # CONFIG HOST FORMAT FILE
	"$BIN" export -c "$1" --host "$2" --format "$3" "${PINS[@]}" >"$4" 2>"$tmp/export.err"
}

hosts_of() { "$BIN" check -c "$1" --all --json | jq -r '.hosts[].name'; }

echo "# usage and errors: exit 2, nothing on stdout"
expect 2 "export without --format" -- "$BIN" export -c "$EXAMPLE" --host mgmt1
expect 2 "export without --host" -- "$BIN" export -c "$EXAMPLE" --format nftables
expect 2 "export with an unknown format" -- "$BIN" export -c "$EXAMPLE" --host mgmt1 --format pf
check "  which lists the formats" grep -q "windows-keywords" "$tmp/err"
expect 2 "export of a host not in the inventory" -- "$BIN" export -c "$EXAMPLE" --host nobody --format nftables
check "  says so" grep -q "'nobody' is not in the inventory" "$tmp/err"
check "  and prints no ruleset" test ! -s "$tmp/out"
expect 2 "export with a bad --resolve" -- "$BIN" export -c "$EXAMPLE" --host mgmt1 --format nftables --resolve my.mailstore.com
expect 2 "export of an invalid config" -- "$BIN" export -c tests/fixtures/config/errors/bad-mode.yaml --host mgmt1 --format nftables
expect 0 "export --help" -- "$BIN" export --help
expect 0 "export of a name left unresolved (--no-resolve)" -- "$BIN" export -c "$EXAMPLE" --host mgmt1 --format nftables --no-resolve
check "  notes it on stderr" grep -q "my.mailstore.com has no addresses" "$tmp/err"
check "  and in the ruleset" grep -q "not resolved when exported" "$tmp/out"
EVERY_KEY=tests/fixtures/config/every-key.yaml
check "$EVERY_KEY names ethertypes" grep -q '^ethertypes:' "$EVERY_KEY"
for format in nftables windows-firewall; do
	expect 0 "export --format $format of a config with ethertypes (an inet table sees no such frame)" \
		-- "$BIN" export -c "$EVERY_KEY" --host mgmt1 --format "$format" --no-resolve
done

echo "# golden files: each example host's whole script and ruleset; those of $REAL_HOST"
for cfg in "$EXAMPLE" "$REAL_HOST"; do
for host in $(hosts_of "$cfg"); do
	for f in windows-firewall:ps1 nftables:nft; do
		format=${f%%:*} golden=$GOLDEN/$host.${f##*:}
		[[ $cfg == "$REAL_HOST" ]] && golden=$GOLDEN/real-host/$host.${f##*:}
		export_to "$cfg" "$host" "$format" "$tmp/golden.new"
		if [[ ${1:-} == --update-golden ]]; then
			mkdir -p "$(dirname "$golden")"
			cp "$tmp/golden.new" "$golden"
			ok "wrote $golden"
		elif cmp -s "$golden" "$tmp/golden.new"; then
			ok "$format of $host equals $golden"
		else
			fail "$format of $host differs from $golden (after review: tests/cli/test_export.sh --update-golden)"
			diff -u "$golden" "$tmp/golden.new" | head -30 | sed 's/^/     | /'
		fi
	done
done
done

# The cmdlets the scripts may call: Windows Server 2019/2022's NetSecurity,
# ScheduledTasks, NetTCPIP and Microsoft.PowerShell.* modules.
CMDLETS='["Add-Content","Copy-Item","Disable-NetFirewallRule","ForEach-Object","Get-Command",
"Get-Date","Get-ItemProperty","Get-NetFirewallDynamicKeywordAddress","Get-NetFirewallProfile",
"Get-NetFirewallRule","Get-NetTCPConnection","Get-ScheduledTask","Import-PowerShellDataFile",
"Invoke-WebRequest","Join-Path","Move-Item","New-Item","New-NetFirewallDynamicKeywordAddress",
"New-NetFirewallRule","New-Object","New-ScheduledTaskAction","New-ScheduledTaskPrincipal",
"New-ScheduledTaskSettingsSet","New-ScheduledTaskTrigger","New-TimeSpan","Out-Null",
"Register-ScheduledTask","Remove-NetFirewallDynamicKeywordAddress","Remove-NetFirewallRule",
"Set-Content","Set-NetFirewallProfile","Set-NetFirewallRule","Set-StrictMode","Sort-Object",
"Unregister-ScheduledTask","Update-NetFirewallDynamicKeywordAddress","Where-Object","Write-Host",
"Write-Warning"]'

# What check --json says a host's Windows rules must be, and what the script's are, alike.
# shellcheck disable=SC2016
JQ_DEFS='
def canon: (index("0.0.0.0/0") != null) as $a4 | (index("::/0") != null) as $a6
	| [.[] | select(. == "0.0.0.0/0" or . == "::/0" or
		(contains(":") and ($a6 | not)) or ((contains(":") | not) and ($a4 | not)))] | unique;
def windows_addresses: [.[] | if . == "Any" then "0.0.0.0/0", "::/0"
	elif . == "0.0.0.0-255.255.255.255" then "0.0.0.0/0"
	elif . == "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" then "::/0" else . end] | canon;
def word: if . == "ingress" then "Inbound" else "Outbound" end;
def tag: if . == "ingress" then "in" else "out" end;
def porttext: if .icmp_type then "\(.icmp_type)" elif .ip_proto then null
	elif .port_end then "\(.port)-\(.port_end)" else "\(.port)" end;
def winproto: if .proto == "icmp" then "ICMPv4" elif .proto == "icmpv6" then "ICMPv6"
	elif .proto == "ip" then "\(.ip_proto)" else .proto | ascii_upcase end;
def action($dir): if .mode == "audit" or .default[$dir] == "pass" then "Allow" else "Block" end;
'
# shellcheck disable=SC2016
JQ_EXPECTED=$JQ_DEFS'
.hosts[0] as $h | [("ingress", "egress") as $dir | $h[$dir][] | select(.entries | length > 0)
	| ([.entries[] | .prefix // empty] | canon) as $addresses
	| ([.entries[] | .name // empty] | unique) as $names
	| {rule: .id, dir: ($dir | word), protocol: winproto, port: porttext,
	   description: (.description // ""), wrongport: false}
	| (if ($addresses | length) > 0 then
		. + {list: "Rules", name: "speebpf.rule.\(.rule).\($dir | tag)", addresses: $addresses}
	   else empty end),
	  (if ($names | length) > 0 then
		. + {list: "NameRules", names: $names,
		     name: "speebpf.rule.\(.rule).\($dir | tag)\(if ($addresses | length) > 0 then ".dns" else "" end)"}
	   else empty end)] | sort'
# shellcheck disable=SC2016
JQ_ACTUAL=$JQ_DEFS'
def entry($list): {list: $list, rule: .Rule, dir: .Direction, protocol: .Protocol, name: .Name,
	port: (if has("IcmpType") then .IcmpType elif .Direction == "Inbound" then .LocalPort
		else .RemotePort end),
	wrongport: (if .Direction == "Inbound" then has("RemotePort") else has("LocalPort") end
		or (has("IcmpType") and (has("LocalPort") or has("RemotePort")))),
	description: (.Description | sub(" ?\\(speebpf .*\\)$"; ""))};
[(.[0].variables.Rules[] | select(.Rule) | entry("Rules") + {addresses: (.RemoteAddress | windows_addresses)}),
 (.[1].variables.NameRules[] | entry("NameRules") + {names: (.Names | unique)})] | sort'

# check_windows CONFIG HOST: the script of HOST against check --json of HOST.
check_windows() {
	local cfg=$1 host=$2 s=$tmp/win what
	what="windows-firewall of $host ($(basename "$cfg"))"
	export_to "$cfg" "$host" windows-firewall "$s.ps1" || { fail "$what: export failed: $(cat "$tmp/export.err")"; return; }
	export_to "$cfg" "$host" windows-keywords "$s.keywords.psd1" || { fail "$what: windows-keywords failed"; return; }
	"$BIN" check -c "$cfg" --host "$host" --json >"$s.check.json" || { fail "$what: check failed"; return; }
	if ! "$SCAN" "$s.ps1" >"$s.scan.json" 2>"$s.scan.err"; then
		fail "$what does not parse: $(cat "$s.scan.err")"
		return
	fi
	jq -r '.variables.Engine' "$s.scan.json" >"$s.engine.ps1"
	jq -r '.variables.KeywordsData' "$s.scan.json" >"$s.data.psd1"
	if ! "$SCAN" "$s.engine.ps1" >"$s.engine.json" 2>"$s.scan.err" ||
		! "$SCAN" --data "$s.data.psd1" >"$s.data.json" 2>>"$s.scan.err" ||
		! "$SCAN" --data "$s.keywords.psd1" >"$s.keywords.json" 2>>"$s.scan.err"; then
		fail "$what: its engine or keyword data do not parse: $(cat "$s.scan.err")"
		return
	fi
	check "$what parses (BOM, #Requires)" jq -e \
		'.bom and (.requires | index("-RunAsAdministrator")) and (.requires | index("-Version 5.1"))' \
		"$s.scan.json"

	local unknown
	unknown=$(jq -rs --argjson known "$CMDLETS" \
		'(.[0].functions + .[1].functions + $known) as $ok | (.[0].commands + .[1].commands) - $ok | unique | join(" ")' \
		"$s.scan.json" "$s.engine.json")
	check "  calls only known cmdlets and its own functions${unknown:+ (not: $unknown)}" test -z "$unknown"

	jq -S "$JQ_EXPECTED" "$s.check.json" >"$s.expected"
	jq -sS "$JQ_ACTUAL" "$s.scan.json" "$s.engine.json" >"$s.actual"
	if diff -u "$s.expected" "$s.actual" >"$s.diff"; then
		ok "  every rule and direction equals check --json ($(jq length "$s.expected") firewall rules)"
	else
		fail "  its rules differ from check --json (- check, + script)"
		sed 's/^/     | /' "$s.diff" | head -40
	fi

	# The DNS names: one keyword each, with a stable GUID, and the data windows-keywords prints.
	if jq -se '
		([.[0].hosts[0] | (.ingress + .egress)[] | .entries[] | .name // empty] | unique) as $names
		| .[1].variables.Keywords as $k
		| ([$k[] | .Name] | sort) == $names
		and ([$k[] | .Keyword] | sort) == [$names[] | "speebpf \(.)"]
		and all($k[]; .Id | test("^\\{[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\\}$"))
		and ([$k[] | .Id] | unique | length) == ($k | length)
		and ([.[2].Names[] | .Name] | sort) == $names
		and .[2] == .[3]
		and .[2].Host == .[0].hosts[0].name and .[2].Sha256 == .[0].sha256' \
		"$s.check.json" "$s.engine.json" "$s.data.json" "$s.keywords.json" >/dev/null; then
		ok "  one dynamic keyword per DNS name; its data equals --format windows-keywords"
	else
		fail "  its keywords or keyword data do not match the policy's DNS names"
	fi

	# What every host needs, the default actions and the lock-out check's ports.
	if jq -se "$JQ_DEFS"'
		.[0].hosts[0] as $h | .[1].variables as $v | [$v.Rules[] | select(.Base)] as $base
		| ($h.implicit.dns_resolvers | canon) as $res
		| ([$base[] | select(.Base == "dns") | [.Protocol, .RemotePort, .Direction, (.RemoteAddress | windows_addresses)]]
		   | sort) == (if ($res | length) > 0 then [["TCP", "53", "Outbound", $res], ["UDP", "53", "Outbound", $res]] else [] end)
		and ([$base[] | select(.Base != "dns") | [.Direction, .Protocol, (.IcmpType | join(","))]] | sort)
		    == ([("Inbound", "Outbound") as $d | [$d, "ICMPv4", "3,11,12"], [$d, "ICMPv6", "1,2,3,4"],
		         [$d, "ICMPv6", "130,131,132,133,134,135,136,137,143"]] | sort)
		and $v.Policy.Host == $h.name and $v.Policy.Mode == $h.mode and $v.Policy.Sha256 == .[0].sha256
		and $v.Policy.DefaultInboundAction == ($h | action("ingress"))
		and $v.Policy.DefaultOutboundAction == ($h | action("egress"))
		and ([$v.ManagementPorts[] | [.Port, .Rule]]
		     == [(22, 3389, 5985, 5986) as $p | [$p, ([$h.ingress[] | select(.proto == "tcp" and .port <= $p
		          and (.port_end // .port) >= $p and (.entries | length) > 0) | .id] | first // "")]])' \
		"$s.check.json" "$s.scan.json" >/dev/null; then
		ok "  DNS, ICMP and ND rules, default actions and management ports as the policy says"
	else
		fail "  its DNS/ICMP rules, default actions or management ports are not the policy's"
	fi
}

echo "# every Windows script: parsed, and compared with check --json of the same host"
sed 's/^hosts:/mode: audit\nhosts:/' "$FIXTURE" >"$tmp/audit.yaml"
for cfg in "$EXAMPLE" "$FIXTURE" "$tmp/audit.yaml" "$REAL_HOST"; do
	for host in $(hosts_of "$cfg"); do
		check_windows "$cfg" "$host"
	done
done

echo "# every nftables export loads, twice, in a network namespace of its own"
if [[ $(id -u) != 0 ]] || ! command -v nft >/dev/null || ! unshare --net true 2>/dev/null; then
	echo "skip (needs root, nft and unshare --net)"
else
	for cfg in "$EXAMPLE" "$FIXTURE" "$tmp/audit.yaml" "$REAL_HOST"; do
		for host in $(hosts_of "$cfg"); do
			export_to "$cfg" "$host" nftables "$tmp/rules.nft"
			export_to "$cfg" "$host" nftables-names "$tmp/names.nft"
			# shellcheck disable=SC2016
			if tables=$(unshare --net sh -c 'nft -f "$1" && nft -f "$1" && nft -f "$2" && nft list tables' _ \
				"$tmp/rules.nft" "$tmp/names.nft" 2>&1) && [[ $tables == "table inet speebpf" ]]; then
				ok "nftables of $host ($(basename "$cfg")) loads twice, and its names refresh, into one table"
			else
				fail "nftables of $host ($(basename "$cfg")): $tables"
			fi
		done
	done
fi

if ((fails > 0)); then
	echo "$fails export expectation(s) failed"
	exit 1
fi
echo "all export expectations met"
