#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# shellcheck source-path=SCRIPTDIR
#
# tests/e2e/verdicts.sh - runs a verdict table (verdicts-host.table) against a
# backend enforcing the lab fleet on the fleet's hosts: `ebpf` (speebpf apply
# in each host), `nftables` (the export loaded with nft -f in each host's
# namespace) or `gateway` (one speebpf apply --gateway in $VT_GATEWAY, the
# hypervisor in front of the hosts: lab_spe_gateway_topology). Sourced after lib.sh:
#
#	VT_FLEET=(mgmt1 cas1 ih1)	# the hosts that enforce
#	verdicts_run ebpf "$LAB_SRC/verdicts-host.table"
#
# Every row is one probe and its expectation, then a look at the counters of
# the enforcing hosts the probe touched: the rule the row names moved there
# (ingress on the target, egress on the source) and no other rule did, or
# for a refusal, no rule moved and no-rule did at the host that refused.
#
# The backends differ in two things only. A refusal by egress: the datapath
# refuses connect() at once with EPERM; nftables and the gateway drop the SYN,
# and the probe sees no answer. And how counters are read: `speebpf stats
# --json`, the entries of one host of the gateway's (those whose "host" is
# that host), or nft's named counters (rule.in.ID, reason.out.REASON);
# verdict_counters turns each into lines "rule.in.ID PACKETS",
# "reason.in.no-rule PACKETS".
# The table reads counters some 200 times, so each read is kept cheap: no
# lab_exec (it mounts), stats reads the host's pin dir from here with the
# build without sanitizers when no source is newer than it (the build under
# test runs every other command), nft runs in the host's network namespace.

VT_FLEET=()
VT_GATEWAY=""		# the gateway backend: the lab host running speebpf --gateway
_VT_GW_JSON=""		# the gateway's stats after a row's probe, read once for both ends
declare -gA _VT_LAST=()	# host -> its counters after the last row that read them
VT_STATS=${VT_STATS:-}

# _vt_stats_bin: sets VT_STATS, the speebpf that reads counters: the build
# without sanitizers when no source is newer than it (stats runs some 200
# times), else the build under test. verdicts_run calls it in the script's
# shell; verdict_counters runs in $(...), where a choice would not be kept.
_vt_stats_bin() {
	[[ -n $VT_STATS ]] && return 0
	VT_STATS=$SPEEBPF
	if [[ -x $LAB_REPO/build/speebpf && -z $(find "$LAB_REPO/src" "$LAB_REPO/include" \
		"$LAB_REPO/bpf" -newer "$LAB_REPO/build/speebpf" -print -quit) ]]; then
		VT_STATS=$LAB_REPO/build/speebpf
	fi
}

# verdict_counters BACKEND HOST: HOST's counters, one "NAME PACKETS" a line.
verdict_counters() {
	case $1 in
	ebpf)
		_vt_stats_bin
		"$VT_STATS" stats --json --pin-dir "$(lab_pin_dir "$2")" | jq -r '
			def d: if . == "ingress" then "in" else "out" end;
			[(.rules[] | {key: "rule.\(.direction | d).\(.id)", value: .packets}),
			 ((.drops + .passes)[] | {key: "reason.\(.direction | d).\(.reason)", value: .packets})]
			| group_by(.key)[] | "\(.[0].key) \(map(.value) | add)"'
		;;
	gateway)
		# Only what the gateway counted for HOST: its rules and its drops
		# (replies, established and transit are counted fleet-wide only).
		# One read of the gateway's stats serves both ends of a row ($_VT_GW_JSON).
		[[ -n $VT_GATEWAY ]] || lab_die "verdict_counters: VT_GATEWAY is not set"
		_vt_stats_bin
		if [[ -n ${_VT_GW_JSON:-} ]]; then
			printf '%s\n' "$_VT_GW_JSON"
		else
			"$VT_STATS" stats --json --pin-dir "$(lab_pin_dir "$VT_GATEWAY")"
		fi | jq -r --arg host "$2" '
			def d: if . == "ingress" then "in" else "out" end;
			[(.rules[] | select(.host == $host) | {key: "rule.\(.direction | d).\(.id)", value: .packets}),
			 ((.drops + .passes)[] | select(.host == $host) |
			  {key: "reason.\(.direction | d).\(.reason)", value: .packets})]
			| group_by(.key)[] | "\(.[0].key) \(map(.value) | add)"'
		;;
	nftables)
		nsenter --net="$(lab_netns_path "$2")" -- nft -j list counters table inet speebpf |
			jq -r '.nftables[] | select(.counter) | .counter | "\(.name) \(.packets)"'
		;;
	*) lab_die "verdict_counters: unknown backend '$1'" ;;
	esac
}

# expect_denied HOST TARGET PORT: the connect() fails at once with EPERM (the
# datapath's egress refusal, a cgroup/connect hook).
expect_denied() {
	local host=$1 port=$3 out rc=0
	_lab_target "$2"
	out=$(lab_exec "$host" "$SPEEPROBE" connect "$_T_ADDR" "$port" --timeout-ms 5000 2>&1) || rc=$?
	# "At once" is the probe's own measure of the connect(), not the time it
	# took to start the probe in the host, which a busy machine stretches.
	if ((rc == 3)) && [[ $out =~ EPERM\ after\ ([0-9]+)\ ms ]] && ((BASH_REMATCH[1] < 1000)); then
		lab_ok "$host -> $_T_LABEL:$port is denied at connect() with EPERM"
	else
		lab_fail "$host -> $_T_LABEL:$port is denied at connect() with EPERM (exit $rc: $out)"
	fi
}

# The lab host a target of a row lives on ("" for the internet's names); a
# loopback address is the source host itself.
_vt_owner() {
	local t=${1%/[46]} src=$2
	case $t in
	127.* | ::1) echo "$src" ;;
	*)
		if [[ -n ${LAB_OWNER[$t]:-} ]]; then
			echo "${LAB_OWNER[$t]}"
		elif [[ -n ${LAB_LABEL[$t]:-} ]]; then
			echo "${LAB_OWNER[${LAB_LABEL[$t]}]:-}"
		fi
		;;
	esac
}

_vt_enforces() {
	local h
	for h in "${VT_FLEET[@]}"; do [[ $h == "$1" ]] && return 0; done
	return 1
}

# The counters that grew from BEFORE to AFTER, one "NAME" a line (in bash:
# a row runs this up to twice, and forks are what a busy machine makes slow).
_vt_moved() {
	local -A was=()
	local name n
	while read -r name n; do
		[[ -n $name ]] && was[$name]=$n
	done <<<"$1"
	while read -r name n; do
		if [[ -n $name ]] && ((n > ${was[$name]:-0})); then echo "$name"; fi
	done <<<"$2"
}

# _vt_judge HOST MOVED WANT_RULE WANT_REASON: "" when HOST's moved counters are
# as wanted (exactly WANT_RULE among the rules, or none when it is empty;
# WANT_REASON among the reasons when set), else what is wrong.
_vt_judge() {
	local host=$1 moved=$2 want_rule=$3 want_reason=$4 rules="" name
	while read -r name; do
		if [[ $name == rule.* ]]; then rules+="${rules:+ }$name"; fi
	done <<<"$moved"
	if [[ $rules != "$want_rule" ]]; then
		echo "$host: rules moved: '${rules}', want '${want_rule}'; "
	elif [[ -n $want_reason && $'\n'$moved$'\n' != *$'\n'$want_reason$'\n'* ]]; then
		echo "$host: $want_reason did not move; "
	fi
}

# verdicts_run BACKEND TABLE: every row of TABLE, against BACKEND.
verdicts_run() {
	local backend=$1 table=$2 kind from to port rule opts line n=0
	[[ -r $table ]] || lab_die "verdicts_run: no table $table"
	((${#VT_FLEET[@]})) || lab_die "verdicts_run: VT_FLEET is empty"
	_VT_LAST=()
	_vt_stats_bin
	while read -r line; do
		[[ -z $line || $line == \#* ]] && continue
		read -r kind from to port rule opts <<<"$line"
		# shellcheck disable=SC2086 # opts are the probe's words
		_vt_row "$backend" "$kind" "$from" "$to" "$port" "${rule:--}" $opts
		n=$((n + 1))
	done < <(sed 's/[[:space:]]*$//' "$table")
	((n > 0)) || lab_fail "verdict table $table has no row"
}

# verdicts_flow TABLE [refusals]: with nothing enforcing, the traffic of every
# row of TABLE flows (a TCP row connects or, for a refusal, gets at least a
# RST; a UDP row is answered): the lab carries what the table asks of it, so
# that a refusal later is the firewall's doing. With "refusals", only the rows
# the table expects refused (the others prove the lab when they pass enforced).
verdicts_flow() {
	local table=$1 only=${2:-} kind from to port rule opts line n=0
	[[ -r $table ]] || lab_die "verdicts_flow: no table $table"
	while read -r line; do
		[[ -z $line || $line == \#* ]] && continue
		read -r kind from to port rule opts <<<"$line"
		[[ $only == refusals && ($kind == connect || $kind == udp-reply) ]] && continue
		case $kind in
		# shellcheck disable=SC2086 # opts are the probe's words
		connect) expect_connect "$from" "$to" "$port" $opts ;;
		# (a refusal's target may have nothing listening: its RST is an answer)
		# shellcheck disable=SC2086
		blocked | denied) expect answered "$from" "$to" "$port" $opts ;;
		# shellcheck disable=SC2086
		udp-reply | udp-blocked) expect_udp_reply "$from" "$to" "$port" $opts ;;
		*) lab_die "verdict table: unknown kind '$kind'" ;;
		esac
		n=$((n + 1))
	done < <(sed 's/[[:space:]]*$//' "$table")
	((n > 0)) || lab_fail "verdict table $table has no row"
}

_vt_row() {
	local backend=$1 kind=$2 from=$3 to=$4 port=$5 rule=$6 src dst before_src before_dst
	local moved problems="" counted=""
	shift 6
	src=$from dst=$(_vt_owner "$to" "$from")
	_vt_enforces "$src" || src=""
	_vt_enforces "$dst" || dst=""
	# Rule counters move only with the rows' probes, so the counters a host had
	# after the last row that read them are its counters before this one.
	if [[ -n $src ]]; then
		before_src=${_VT_LAST[$src]:-$(verdict_counters "$backend" "$src")}
	fi
	if [[ -n $dst && $dst != "$src" ]]; then
		before_dst=${_VT_LAST[$dst]:-$(verdict_counters "$backend" "$dst")}
	fi
	case $kind in
	connect) expect_connect "$from" "$to" "$port" "$@" ;;
	blocked) expect_blocked "$from" "$to" "$port" "$@" ;;
	denied)
		if [[ $backend == ebpf ]]; then
			expect_denied "$from" "$to" "$port"
		else
			expect_blocked "$from" "$to" "$port" "$@"
		fi
		;;
	udp-reply) expect_udp_reply "$from" "$to" "$port" "$@" ;;
	udp-blocked) expect_udp_blocked "$from" "$to" "$port" "$@" ;;
	*) lab_die "verdict table: unknown kind '$kind'" ;;
	esac

	# The counters of each enforcing end the probe touched (both read again,
	# so that the next row starts from where this one left them).
	local want_in="" want_out="" reason_in="" reason_out="" after_src="" after_dst=""
	case $kind in
	connect | udp-reply)
		if [[ $rule != - ]]; then want_in=rule.in.$rule want_out=rule.out.$rule; fi
		;;
	blocked | udp-blocked) reason_in=reason.in.no-rule ;;
	denied) reason_out=reason.out.no-rule ;;
	esac
	_VT_GW_JSON=""
	if [[ $backend == gateway && -n $src$dst ]]; then
		_VT_GW_JSON=$("$VT_STATS" stats --json --pin-dir "$(lab_pin_dir "$VT_GATEWAY")")
	fi
	if [[ -n $src ]]; then
		after_src=$(verdict_counters "$backend" "$src")
		_VT_LAST[$src]=$after_src
	fi
	if [[ -n $dst && $dst != "$src" ]]; then
		after_dst=$(verdict_counters "$backend" "$dst")
		_VT_LAST[$dst]=$after_dst
	fi
	_VT_GW_JSON=""
	if [[ -n $src && $src == "$dst" ]]; then
		# to itself (loopback): no rule counts it, in either direction
		moved=$(_vt_moved "$before_src" "$after_src")
		problems+=$(_vt_judge "$src" "$moved" "" "")
		counted+=", $src: no rule"
	else
		# (what the target dropped may still have counted at the source's egress)
		if [[ -n $src && $kind != blocked && $kind != udp-blocked ]]; then
			moved=$(_vt_moved "$before_src" "$after_src")
			problems+=$(_vt_judge "$src" "$moved" "$want_out" "$reason_out")
			counted+=", $src: ${want_out:-${reason_out:-no rule}}"
		fi
		# (what the source's egress refused never reached the target)
		if [[ -n $dst ]]; then
			moved=$(_vt_moved "$before_dst" "$after_dst")
			problems+=$(_vt_judge "$dst" "$moved" "$want_in" "$reason_in")
			counted+=", $dst: ${want_in:-${reason_in:-no rule}}"
		fi
	fi
	[[ -z $counted ]] && return 0
	if [[ -z $problems ]]; then
		lab_ok "  counted by ${counted#, }"
	else
		lab_fail "  counted by ${counted#, } (${problems%; })"
	fi
}
