#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# shellcheck source-path=SCRIPTDIR
#
# tests/e2e/lib.sh - the sandbox library of the end-to-end tests and the demo.
#
# Sourced (never run) by tests/e2e/test_*.sh and tools/demo.sh:
#
#	. "$(dirname "$0")/lib.sh"	# or tests/e2e/lib.sh from the demo
#	lab_init mytest
#	lab_spe_topology		# or lab_host NAME V4 [V6] ... (lab.sh)
#	lab_spe_listeners
#	expect_connect cas1 mgmt1 8471
#	expect_refused client mgmt1 8471
#	lab_finish
#
# A lab is one Ethernet segment: a "switch" namespace holding a Linux bridge,
# and one namespace per host whose eth0 is a veth port of that bridge. Every
# host is on-link with every other (198.18.0.0/15, fd00:5e::/64) and no
# namespace has a route out. Each host also has a cgroup (for speebpf's egress
# programs) and its own /etc/hosts and /etc/resolv.conf.
#
# Everything created carries the run id ($LAB_ID) in its name, so cleanup
# finds it by name even when it was created in a subshell, and the trap on
# EXIT/INT/TERM removes it: processes first, then namespaces (their veths go
# with them), then cgroups leaf-first, then BPF pins, then what was mounted.
# Constructors (lab_init, lab_host, lab_addr, lab_spawn...) record state in
# shell variables: call them from the script's top-level shell, not from $(...).
#
# Every wait is bounded: probes carry their own timeouts, lab_exec runs under
# `timeout` ($LAB_EXEC_TIMEOUT), and readiness polls give up after a limit.
#
# The API (details at each function):
#   lab_init NAME               run id, temp dir $LAB_DIR, parent cgroup, traps
#   lab_host HOST V4 [V6]       a host on the segment (namespace, eth0, cgroup, /etc files)
#   lab_hypervisor NAME         the segment's bridge in a host one can enter (before lab_host)
#   lab_addr HOST ADDR [NAME]   one more address on HOST, optionally named
#   lab_exec HOST CMD...        run CMD in HOST (netns, cgroup, /etc/hosts, resolv.conf)
#   lab_speebpf HOST CMD ARGS...  run $SPEEBPF in HOST, on HOST's cgroup and pin dir
#   lab_spawn HOST NAME CMD...  the same in the background; lab_spawn_pid/_log NAME
#   lab_wait_log NAME REGEX [S] wait for a line of its output
#   lab_wait NAME [S]           wait for its exit, return its status
#   lab_stop NAME [S]           SIGTERM, then lab_wait;  lab_kill NAME: stop, no status
#   lab_listen HOST NAME [--udp] ADDR PORTS [opts]   a speeprobe listener, ready
#   lab_dns_start HOST ADDR...; lab_dns_set NAME ADDR...   the lab DNS (dnsmasq)
#   lab_add_hosts_entry / lab_del_hosts_entry HOST NAME [ADDR]; lab_set_resolver HOST ADDR...
#   lab_netns, lab_netns_path, lab_cgroup, lab_iface, lab_mac, lab_etc, lab_pin_dir HOST
#   lab_ip NAME [4|6]; lab_switch_port HOST; lab_switch_exec CMD...
#   lab_on_cleanup CMD...       run at cleanup first (e.g. a speebpf detach)
#   lab_sleep S                 a sleep that signals interrupt
#   expect OUTCOME HOST TARGET PORT [opts]   OUTCOME: connects refused blocked closed answered
#                               udp-answers udp-closed udp-blocked (the table _LAB_OUTCOMES);
#                               expect_connect, expect_refused... are the same by older names
#   expect_true / expect_false DESC CMD...;  lab_ok / lab_fail DESC
#   lab_finish                  summary and exit status;  lab_skip REASON (exit 77)
#   lab_require_speebpf         skip unless $SPEEBPF is built
#   lab_leftovers [ID]; lab_reap ID   what a run left behind; remove it
# A TARGET is a lab name (mgmt1, mail; NAME/6 for IPv6), an address, or a DNS
# name resolved inside HOST. Frame builders: frames.sh. The SPE lab: lab.sh.

[[ -n "${_LAB_LIB_LOADED:-}" ]] && return 0
_LAB_LIB_LOADED=1

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_REPO=$(cd "$LAB_SRC/../.." && pwd)
: "${SPEEPROBE:=$LAB_REPO/build/tools/speeprobe}"
# The e2e suite runs the sanitizer build (the Makefile's e2e-test builds it).
if [[ -z "${SPEEBPF:-}" ]]; then
	if [[ -x $LAB_REPO/build/speebpf-san ]]; then
		SPEEBPF=$LAB_REPO/build/speebpf-san
	else
		SPEEBPF=$LAB_REPO/build/speebpf
	fi
fi
: "${LAB_EXEC_TIMEOUT:=60}"		# seconds, for every synchronous lab_exec
: "${LAB_MAX_SECONDS:=900}"		# lifetime bound of every lab listener
: "${LAB_CONNECT_TIMEOUT_MS:=2000}"	# expect_connect: an on-link connect takes < 10 ms
: "${LAB_BLOCK_TIMEOUT_MS:=1000}"	# expect_refused/blocked: a dropped SYN shows in 1 s
: "${LAB_READY_SECONDS:=5}"		# how long lab_wait_log polls for a ready line

LAB_ID=""
LAB_NAME=""
LAB_DIR=""
LAB_CGROUP=""		# the lab's parent cgroup; each host has a child
LAB_CG2=""		# where cgroup v2 is mounted
LAB_SWITCH=""		# the switch namespace
LAB_HOSTS=()		# host names, in creation order
LAB_PASS=0
LAB_FAIL=0
LAB_FAILED=()
LAB_HOOKS=()
_LAB_MOUNTED=()		# mount points lab_init mounted (bpffs, cgroup2)
_LAB_CLEANED=""
declare -gA LAB_ADDR4=()	# name -> IPv4 address (hosts and extra labels)
declare -gA LAB_ADDR6=()	# name -> IPv6 address
declare -gA LAB_LABEL=()	# address -> name
declare -gA LAB_OWNER=()	# name -> the host whose namespace holds it
declare -gA LAB_PID=()		# lab_spawn name -> pid
declare -gA LAB_LOG=()		# lab_spawn name -> log file

# ---- messages ---------------------------------------------------------------

lab_log() { printf '%s\n' "$*" >&2; }
lab_die() {
	printf 'lab: %s\n' "$*" >&2
	exit 1
}

# ---- init and cleanup -------------------------------------------------------

# lab_init NAME: start a lab run: run id, temp dir, parent cgroup, traps.
lab_init() {
	local name=${1:?lab_init NAME}
	local i id=""
	[[ $name =~ ^[a-z0-9][a-z0-9_-]{0,23}$ ]] || lab_die "lab_init: bad name '$name'"
	[[ -z $LAB_ID ]] || lab_die "lab_init: already initialised ($LAB_ID)"
	[[ $(id -u) == 0 ]] || lab_die "needs root (network namespaces, cgroups, BPF)"
	for i in ip nsenter unshare timeout mount; do
		command -v "$i" >/dev/null || lab_die "needs $i"
	done
	[[ -x $SPEEPROBE ]] || lab_die "no $SPEEPROBE; run: make build/tools/speeprobe"

	# A short id: it goes into interface names, which hold 15 characters.
	for i in 1 2 3 4 5 6 7 8; do
		id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
		compgen -G "/run/netns/spl-$id-*" >/dev/null || break
		id=""
	done
	[[ -n $id ]] || lab_die "lab_init: no free run id"
	LAB_ID=$id
	LAB_NAME=$name
	# run.sh names a file here to check, after the script, that nothing is left.
	if [[ -n ${LAB_IDS_FILE:-} ]]; then echo "$id" >>"$LAB_IDS_FILE"; fi
	# The traps come first, so that a failure below still cleans up.
	trap _lab_cleanup EXIT
	trap '_lab_on_signal 130 INT' INT
	trap '_lab_on_signal 143 TERM' TERM
	trap '_lab_on_err $? "$BASH_COMMAND" "$LINENO"' ERR

	LAB_DIR=$(mktemp -d "/tmp/speebpf-lab-$name-$id.XXXXXX")
	chmod 755 "$LAB_DIR"	# dnsmasq reads from here after dropping root
	mkdir -p "$LAB_DIR/log" "$LAB_DIR/stage"

	if ! mountpoint -q /sys/fs/bpf; then
		mount -t bpf bpf /sys/fs/bpf || lab_die "cannot mount bpffs on /sys/fs/bpf"
		_LAB_MOUNTED+=(/sys/fs/bpf)
	fi
	LAB_CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	if [[ -z $LAB_CG2 ]]; then
		mkdir -p "$LAB_DIR/cgroup2"
		mount -t cgroup2 none "$LAB_DIR/cgroup2" || lab_die "no cgroup2 mount and cannot make one"
		_LAB_MOUNTED+=("$LAB_DIR/cgroup2")
		LAB_CG2=$LAB_DIR/cgroup2
	fi
	LAB_CGROUP=$LAB_CG2/speebpf-$name-$id
	mkdir "$LAB_CGROUP" || lab_die "cannot create cgroup $LAB_CGROUP"

	# The segment: a bridge alone in its namespace, with no link anywhere else.
	LAB_SWITCH=spl-$id-switch
	ip netns add "$LAB_SWITCH" || lab_die "cannot create namespace $LAB_SWITCH"
	_lab_sysctl "$LAB_SWITCH" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$LAB_SWITCH" link set lo up
	ip -n "$LAB_SWITCH" link add br0 type bridge mcast_snooping 0 || lab_die "cannot create bridge"
	ip -n "$LAB_SWITCH" link set br0 up
	lab_log "lab $name: id $id, dir $LAB_DIR, cgroup $LAB_CGROUP"
}

# Under set -e a failing command ends the script; say which one.
_lab_on_err() {
	# Once: bash may report the command and then the compound holding it.
	if [[ $- == *e* && -z $_LAB_CLEANED && -z ${_LAB_ERR_SHOWN:-} ]]; then
		lab_log "lab: '$2' failed with status $1 (line $3)"
		_LAB_ERR_SHOWN=1
	fi
	return 0
}

_lab_on_signal() {
	lab_log "lab: $2, cleaning up"
	exit "$1"
}

# lab_on_cleanup CMD...: run CMD (e.g. lab_speebpf mgmt1 detach) first thing at
# cleanup, newest first, with the lab still standing; each gets 20 s.
lab_on_cleanup() { LAB_HOOKS+=("$(printf '%q ' "$@")"); }

_lab_run_hook() {
	local pid i rc=0
	(eval "$1") </dev/null &
	pid=$!
	for ((i = 0; i < 400; i++)); do
		_lab_alive "$pid" || break
		sleep 0.05
	done
	if _lab_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		lab_log "lab: cleanup hook timed out: $1"
	fi
	wait "$pid" || rc=$?
	((rc == 0)) || lab_log "lab: cleanup hook failed ($rc): $1"
}

# Runs sysctls inside a namespace; /proc/sys/net shows the opener's namespace.
_lab_sysctl() {
	local ns=$1 kv key
	shift
	for kv in "$@"; do
		key=${kv%%=*}
		echo "${kv#*=}" | nsenter --net="/run/netns/$ns" -- \
			tee "/proc/sys/${key//.//}" >/dev/null 2>&1 || true
	done
}

_lab_alive() {	# a pid that has not exited (zombies count as gone)
	local st
	[[ -n $1 ]] && read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }	# the state follows the command name, which may hold spaces
	[[ ${st%% *} != Z ]]
}

# Every pid of the lab: recorded spawns, members of its cgroups, and anything
# inside its namespaces (a process someone entered with plain nsenter).
_lab_all_pids() {
	local f ns p
	for p in "${LAB_PID[@]}"; do echo "$p"; done
	if [[ -n $LAB_CGROUP && -d $LAB_CGROUP ]]; then
		find "$LAB_CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null
	fi
	if [[ -n $LAB_ID ]]; then
		for f in /run/netns/spl-"$LAB_ID"-*; do
			[[ -e $f ]] || continue
			ns=${f##*/}
			ip netns pids "$ns" 2>/dev/null
		done
	fi
}

# Rounds of: find every pid of the lab (and the script's own background jobs,
# which may be on their way into a lab cgroup), signal the living, wait up to
# 2 s. TERM first, then KILL; a later round catches late joiners.
_lab_kill_all() {
	local round pids p i f live=()
	for round in 1 2 3 4; do
		mapfile -t pids < <({ _lab_all_pids; jobs -p; } | sort -un)
		live=()
		for p in "${pids[@]}"; do
			[[ $p == "$$" || $p == "$BASHPID" ]] && continue	# never ourselves
			_lab_alive "$p" && live+=("$p")
		done
		((${#live[@]})) || break
		if ((round == 1)); then
			kill -TERM "${live[@]}" 2>/dev/null
		else
			kill -KILL "${live[@]}" 2>/dev/null
			find "$LAB_CGROUP" -name cgroup.kill 2>/dev/null | while read -r f; do
				echo 1 >"$f" 2>/dev/null
			done
		fi
		for ((i = 0; i < 40; i++)); do
			for p in "${live[@]}"; do _lab_alive "$p" && break; done
			_lab_alive "$p" || break
			sleep 0.05
		done
	done
	# Reap our own children, so that no zombie outlives the lab.
	for p in "${LAB_PID[@]}" $(jobs -p); do
		_lab_alive "$p" || wait "$p" 2>/dev/null
	done
	return 0
}

_lab_rm_cgroups() {
	local i d
	[[ -n $LAB_CGROUP && -d $LAB_CGROUP ]] || return 0
	for i in $(seq 1 50); do	# rmdir is EBUSY until the last task has exited
		find "$LAB_CGROUP" -depth -type d 2>/dev/null | while read -r d; do
			rmdir "$d" 2>/dev/null
		done
		[[ -d $LAB_CGROUP ]] || return 0
		sleep 0.05
	done
	return 1
}

# What of this run is still there; empty when cleanup was complete.
lab_leftovers() {
	local id=${1:-$LAB_ID} f cg2
	[[ -n $id ]] || return 0
	cg2=${LAB_CG2:-$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)}
	for f in /run/netns/spl-"$id"-*; do [[ -e $f ]] && echo "namespace ${f##*/}"; done
	for f in "${cg2:-/nonexistent}"/speebpf-*-"$id"; do [[ -e $f ]] && echo "cgroup $f"; done
	# Processes still in one of its cgroups (a zombie, not yet reaped by its
	# parent, shows the removed cgroup too, but holds nothing: not counted).
	grep -lE -- "-$id(/|$)" /proc/[0-9]*/cgroup 2>/dev/null | while read -r f; do
		f=${f#/proc/}
		f=${f%/cgroup}
		if _lab_alive "$f"; then echo "process $f: $(tr '\0' ' ' <"/proc/$f/cmdline" 2>/dev/null)"; fi
	done

	for f in /sys/fs/bpf/speebpf-*-"$id"-*; do [[ -e $f ]] && echo "pin $f"; done
	ip -o link show 2>/dev/null | awk -F': ' -v id="$id" 'index($2, id) { print "link " $2 }'
	for f in /tmp/speebpf-lab-*-"$id".*; do [[ -e $f ]] && echo "dir $f"; done
	return 0
}

# lab_reap ID: remove what is left of run ID, whose script could not clean up
# (SIGKILL). Returns 0 when nothing is left.
lab_reap() {
	local id=${1:?lab_reap ID} cg2 f i pids
	[[ $id =~ ^[0-9a-f]{6}$ ]] || return 1
	cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	for i in 1 2 3; do
		mapfile -t pids < <({
			find "$cg2"/speebpf-*-"$id" -name cgroup.procs -exec cat {} + 2>/dev/null
			for f in /run/netns/spl-"$id"-*; do [[ -e $f ]] && ip netns pids "${f##*/}"; done
		} | sort -un)
		((${#pids[@]})) || break
		kill -KILL "${pids[@]}" 2>/dev/null
		sleep 0.2
	done
	for f in /run/netns/spl-"$id"-*; do [[ -e $f ]] && ip netns del "${f##*/}"; done
	for i in $(seq 1 20); do
		for f in "$cg2"/speebpf-*-"$id"; do
			[[ -d $f ]] && find "$f" -depth -type d -exec rmdir {} + 2>/dev/null
		done
		compgen -G "$cg2/speebpf-*-$id" >/dev/null || break
		sleep 0.1
	done
	rm -rf /sys/fs/bpf/speebpf-*-"$id"-* /tmp/speebpf-lab-*-"$id".*
	[[ -z $(lab_leftovers "$id") ]]
}

_lab_cleanup() {
	local rc=$? i f left
	set +e
	trap - EXIT INT TERM
	[[ -n $_LAB_CLEANED || -z $LAB_ID ]] && exit "$rc"
	_LAB_CLEANED=1
	for ((i = ${#LAB_HOOKS[@]} - 1; i >= 0; i--)); do
		_lab_run_hook "${LAB_HOOKS[i]}"
	done
	[[ -n ${_LAB_SLEEP_PID:-} ]] && kill "$_LAB_SLEEP_PID" 2>/dev/null
	_lab_kill_all
	for f in /run/netns/spl-"$LAB_ID"-*; do
		[[ -e $f ]] && ip netns del "${f##*/}"
	done
	_lab_rm_cgroups || lab_log "lab: cgroup $LAB_CGROUP is still busy"
	for f in /sys/fs/bpf/speebpf-*-"$LAB_ID"-*; do
		[[ -e $f ]] && rm -rf "$f"
	done
	for ((i = ${#_LAB_MOUNTED[@]} - 1; i >= 0; i--)); do
		f=${_LAB_MOUNTED[i]}
		# Someone else may have started using a bpffs we mounted: leave it then.
		if [[ $f == /sys/fs/bpf && -n $(ls -A /sys/fs/bpf 2>/dev/null) ]]; then
			lab_log "lab: leaving /sys/fs/bpf mounted: it is in use"
			continue
		fi
		umount "$f" || umount -l "$f"
	done
	if [[ -n ${LAB_KEEP_DIR:-} ]]; then lab_log "lab: kept $LAB_DIR"; else rm -rf "$LAB_DIR"; fi
	left=$(lab_leftovers "$LAB_ID" | grep -v "^dir $LAB_DIR" || true)
	if [[ -n $left ]]; then
		lab_log "lab: cleanup left behind:" "$left"
		((rc)) || rc=1
	fi
	exit "$rc"
}

# ---- hosts ------------------------------------------------------------------

# lab_host HOST V4 [V6]: a namespace spl-<id>-HOST on the segment, eth0 with
# V4/15 (and V6/64), a cgroup, and its own hosts and resolv.conf.
lab_host() {
	local host=${1:?lab_host HOST V4 [V6]} v4=${2:?lab_host HOST V4 [V6]} v6=${3:-}
	local ns port h
	[[ -n $LAB_ID ]] || lab_die "lab_host before lab_init"
	# Host names end up in interface names (<id>-<host>, at most 15 characters).
	[[ $host =~ ^[a-z][a-z0-9]{0,7}$ && $host != switch ]] ||
		lab_die "lab_host: bad host name '$host' (a-z0-9, at most 8, not 'switch')"
	[[ -z ${LAB_OWNER[$host]:-} ]] || lab_die "lab_host: $host exists"
	ns=spl-$LAB_ID-$host
	port=$LAB_ID-$host
	ip netns add "$ns" || lab_die "cannot create namespace $ns"
	LAB_HOSTS+=("$host")
	# Quiet and immediate IPv6: no router solicitations, no duplicate address
	# detection (a tentative address would make the first probes fail).
	_lab_sysctl "$ns" net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.accept_ra=0 \
		net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.accept_dad=0
	# Created inside the namespaces: the root namespace never holds either end.
	ip -n "$LAB_SWITCH" link add "$port" type veth peer name eth0 netns "$ns" ||
		lab_die "cannot create veth for $host"
	ip -n "$LAB_SWITCH" link set "$port" master br0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$v4/15" dev eth0
	[[ -n $v6 ]] && ip -n "$ns" -6 addr add "$v6/64" dev eth0 nodad
	ip -n "$ns" link set eth0 up
	mkdir -p "$LAB_CGROUP/$host" "$LAB_DIR/etc/$host"

	# hosts: localhost, then every host of the lab; every other host learns this one.
	{
		printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
		for h in "${LAB_HOSTS[@]}"; do
			if [[ -n ${LAB_ADDR4[$h]:-} ]]; then printf '%s\t%s\n' "${LAB_ADDR4[$h]}" "$h"; fi
			if [[ -n ${LAB_ADDR6[$h]:-} ]]; then printf '%s\t%s\n' "${LAB_ADDR6[$h]}" "$h"; fi
		done
		printf '%s\t%s\n' "$v4" "$host"
		if [[ -n $v6 ]]; then printf '%s\t%s\n' "$v6" "$host"; fi
	} >"$LAB_DIR/etc/$host/hosts"
	for h in "${LAB_HOSTS[@]}"; do
		[[ $h == "$host" ]] && continue
		lab_add_hosts_entry "$h" "$host" "$v4"
		[[ -n $v6 ]] && lab_add_hosts_entry "$h" "$host" "$v6"
	done
	printf '# speebpf lab %s: no resolver set (lab_set_resolver)\noptions timeout:1 attempts:1\n' \
		"$LAB_ID" >"$LAB_DIR/etc/$host/resolv.conf"

	LAB_OWNER[$host]=$host
	LAB_ADDR4[$host]=$v4
	LAB_LABEL[$v4]=$host
	if [[ -n $v6 ]]; then
		LAB_ADDR6[$host]=$v6
		LAB_LABEL[$v6]=$host
	fi
}

# lab_hypervisor NAME: the segment's bridge moves into a namespace that is a
# host one can enter (lab_exec, lab_speebpf NAME), the machine in front of the
# hosts: IPv6 on, forwarding on (its namespace only), a cgroup and /etc files,
# no eth0 and no address until the caller gives br0 or a port one. Call it
# after lab_init and before the first lab_host: the hosts' ports then land on
# its bridge. NAME is not in LAB_HOSTS (it is no host of the hosts files).
lab_hypervisor() {
	local name=${1:?lab_hypervisor NAME} ns
	[[ -n $LAB_ID ]] || lab_die "lab_hypervisor before lab_init"
	((${#LAB_HOSTS[@]} == 0)) || lab_die "lab_hypervisor after lab_host"
	[[ $name =~ ^[a-z][a-z0-9]{0,7}$ && $name != switch ]] || lab_die "lab_hypervisor: bad name '$name'"
	ns=spl-$LAB_ID-$name
	ip netns add "$ns" || lab_die "cannot create namespace $ns"
	ip netns del "$LAB_SWITCH"	# the empty segment lab_init made
	LAB_SWITCH=$ns
	_lab_sysctl "$ns" net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.accept_ra=0 \
		net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.router_solicitations=0 \
		net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ip -n "$ns" link set lo up
	ip -n "$ns" link add br0 type bridge mcast_snooping 0 || lab_die "cannot create bridge"
	ip -n "$ns" link set br0 up
	mkdir -p "$LAB_CGROUP/$name" "$LAB_DIR/etc/$name"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$LAB_DIR/etc/$name/hosts"
	printf 'options timeout:1 attempts:1\n' >"$LAB_DIR/etc/$name/resolv.conf"
	LAB_OWNER[$name]=$name
}

# lab_addr HOST ADDR [NAME]: one more address on HOST's eth0; NAME labels it in
# expectations and can stand for it there (NAME/6 for its IPv6 address).
lab_addr() {
	local host=${1:?lab_addr HOST ADDR [NAME]} addr=${2:?lab_addr HOST ADDR [NAME]} name=${3:-}
	_lab_need_host "$host"
	if [[ $addr == *:* ]]; then
		ip -n "$(lab_netns "$host")" -6 addr add "$addr/64" dev eth0 nodad
	else
		ip -n "$(lab_netns "$host")" addr add "$addr/15" dev eth0
	fi || lab_die "lab_addr: cannot add $addr to $host"
	if [[ -n $name ]]; then
		[[ -z ${LAB_OWNER[$name]:-} || ${LAB_OWNER[$name]} == "$host" ]] ||
			lab_die "lab_addr: name $name belongs to ${LAB_OWNER[$name]}"
		LAB_OWNER[$name]=$host
		if [[ $addr == *:* ]]; then LAB_ADDR6[$name]=$addr; else LAB_ADDR4[$name]=$addr; fi
		LAB_LABEL[$addr]=$name
	fi
}

_lab_need_host() {
	[[ -n ${LAB_OWNER[$1]:-} && -e /run/netns/spl-$LAB_ID-$1 ]] || lab_die "no lab host '$1'"
}

lab_netns() { echo "spl-$LAB_ID-$1"; }			# lab_netns HOST: its namespace name
lab_netns_path() { echo "/run/netns/spl-$LAB_ID-$1"; }	# for nsenter --net=
lab_cgroup() { echo "$LAB_CGROUP/$1"; }			# lab_cgroup HOST: its cgroup directory
lab_iface() { echo eth0; }				# lab_iface HOST: its interface, in its namespace
lab_switch_port() { echo "$LAB_ID-$1"; }		# the bridge port of HOST, in $LAB_SWITCH
lab_pin_dir() { echo "/sys/fs/bpf/speebpf-$LAB_NAME-$LAB_ID-$1"; } # a pin dir for HOST, removed at exit
lab_etc() { echo "$LAB_DIR/etc/$1"; }			# the dir holding HOST's hosts and resolv.conf
lab_mac() {						# lab_mac HOST: the MAC address of its eth0
	ip -n "spl-$LAB_ID-$1" -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}

# lab_ip NAME [4|6]: the address of a host or a labelled address.
lab_ip() {
	local name=$1 fam=${2:-4} a
	if [[ $fam == 6 ]]; then a=${LAB_ADDR6[$name]:-}; else a=${LAB_ADDR4[$name]:-}; fi
	[[ -n $a ]] || {
		lab_log "lab: no IPv$fam address for '$name'"
		return 1
	}
	echo "$a"
}

# lab_add_hosts_entry HOST NAME ADDR: NAME resolves to ADDR on HOST (and, with
# more calls, to several). The file is changed in place, so the bind mount of
# a running process sees it.
lab_add_hosts_entry() {
	local host=${1:?} name=${2:?} addr=${3:?}
	printf '%s\t%s\n' "$addr" "$name" >>"$LAB_DIR/etc/$host/hosts"
}

# lab_del_hosts_entry HOST NAME: NAME no longer resolves through HOST's hosts file.
lab_del_hosts_entry() {
	local host=${1:?} name=${2:?} f kept
	f=$LAB_DIR/etc/$host/hosts
	kept=$(awk -v n="$name" '{ for (i = 2; i <= NF; i++) if ($i == n) next; print }' "$f")
	printf '%s\n' "$kept" >"$f"	# truncate and rewrite: the same inode
}

# lab_set_resolver HOST ADDR...: the nameservers of HOST's resolv.conf.
lab_set_resolver() {
	local host=${1:?} a
	shift
	{
		for a in "$@"; do printf 'nameserver %s\n' "$a"; done
		printf 'options timeout:1 attempts:1\n'
	} >"$LAB_DIR/etc/$host/resolv.conf"
}

# ---- running things in a host -----------------------------------------------

# Inside: a private mount namespace, already in the host's network namespace.
# The lab's hosts and resolv.conf cover /etc's; /sys is remounted so that it
# shows this namespace's interfaces (as `ip netns exec` does), and /sys/fs --
# bpffs and the cgroup2 mount -- is carried over from outside.
# shellcheck disable=SC2016
_LAB_ENTER='
hosts=$1 resolv=$2 stage=$3 limit=$4
shift 4
mount --bind "$hosts" /etc/hosts &&
mount --bind "$resolv" /etc/resolv.conf &&
mount --rbind /sys/fs "$stage" &&
mount -t sysfs sysfs /sys &&
mount --rbind "$stage" /sys/fs &&
umount -l "$stage" || { echo "lab: cannot set up the mounts of $0" >&2; exit 125; }
[ "$limit" -gt 0 ] && exec timeout --foreground -k 2 "$limit" "$@"
exec "$@"
'

# Becomes the command (exec), after joining HOST's cgroup; run in a subshell.
_lab_enter() {
	local host=$1 limit=$2
	shift 2
	echo "$BASHPID" >"$LAB_CGROUP/$host/cgroup.procs" || exit 125
	exec nsenter --net="/run/netns/spl-$LAB_ID-$host" -- \
		unshare --mount --propagation private -- \
		/bin/sh -c "$_LAB_ENTER" "lab-$host" "$LAB_DIR/etc/$host/hosts" \
		"$LAB_DIR/etc/$host/resolv.conf" "$LAB_DIR/stage" "$limit" "$@"
}

# lab_exec HOST CMD...: run CMD in HOST (network namespace, cgroup, /etc files),
# at most $LAB_EXEC_TIMEOUT seconds; returns CMD's status.
lab_exec() {
	local host=${1:?lab_exec HOST CMD...}
	shift
	_lab_need_host "$host"
	(_lab_enter "$host" "$LAB_EXEC_TIMEOUT" "$@")
}

# lab_speebpf HOST COMMAND ARGS...: run the speebpf under test ($SPEEBPF) in
# HOST. Unless given, --pin-dir is $(lab_pin_dir HOST) and, for apply and run,
# --cgroup is $(lab_cgroup HOST): speebpf's own default is the root of the
# cgroup2 hierarchy, the one place a lab must never attach to.
lab_speebpf() {
	local host=${1:?lab_speebpf HOST COMMAND ARGS...} cmd=${2:-} extra=()
	shift
	case $cmd in
	apply | run)
		[[ " $* " == *" --cgroup "* ]] || extra+=(--cgroup "$(lab_cgroup "$host")")
		[[ " $* " == *" --pin-dir "* ]] || extra+=(--pin-dir "$(lab_pin_dir "$host")")
		;;
	confirm | stats | status | events | suggest | detach)
		[[ " $* " == *" --pin-dir "* ]] || extra+=(--pin-dir "$(lab_pin_dir "$host")")
		;;
	esac
	lab_exec "$host" "$SPEEBPF" "$@" "${extra[@]}"
}

# lab_spawn HOST NAME CMD...: run CMD in HOST in the background, output to
# $(lab_spawn_log NAME); it is killed at cleanup, or by lab_kill NAME.
lab_spawn() {
	local host=${1:?lab_spawn HOST NAME CMD...} name=${2:?lab_spawn HOST NAME CMD...}
	shift 2
	_lab_need_host "$host"
	[[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || lab_die "lab_spawn: bad name '$name'"
	[[ -z ${LAB_PID[$name]:-} ]] || lab_die "lab_spawn: $name is running"
	LAB_LOG[$name]=$LAB_DIR/log/$name.log
	_lab_enter "$host" 0 "$@" </dev/null >"${LAB_LOG[$name]}" 2>&1 &
	LAB_PID[$name]=$!
}

lab_spawn_pid() { echo "${LAB_PID[$1]:-}"; }	# the pid of a spawned NAME
lab_spawn_log() { echo "${LAB_LOG[$1]:-}"; }	# the output file of a spawned NAME

# lab_wait_log NAME REGEX [SECONDS]: wait until NAME's output matches (an
# extended regex); fails, showing the output, when NAME exits or time runs out.
lab_wait_log() {
	local name=$1 re=$2 secs=${3:-$LAB_READY_SECONDS} i n
	local log=${LAB_LOG[$name]:?no spawned $name}
	n=$((secs * 50))
	for ((i = 0; i < n; i++)); do
		grep -Eq -- "$re" "$log" 2>/dev/null && return 0
		_lab_alive "${LAB_PID[$name]:-}" || break
		sleep 0.02
	done
	grep -Eq -- "$re" "$log" 2>/dev/null && return 0
	lab_log "lab: $name did not print /$re/ within $secs s; its output:"
	sed 's/^/    /' "$log" >&2
	return 1
}

# lab_until SECONDS CMD...: run CMD every 0.1 s until it succeeds, for at most
# SECONDS; returns its last status. For what a busy machine may delay (an
# agent's next drift check, a re-resolution), never to measure how long it took.
lab_until() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	"$@" >/dev/null 2>&1
}

# lab_wait NAME [SECONDS]: wait for NAME to exit and return its status; after
# SECONDS (default 30) it is killed and the status is 124.
lab_wait() {
	local name=$1 secs=${2:-30} pid i rc
	pid=${LAB_PID[$name]:?no spawned $name}
	for ((i = 0; i < secs * 50; i++)); do
		_lab_alive "$pid" || break
		sleep 0.02
	done
	if _lab_alive "$pid"; then
		lab_kill "$name"
		return 124
	fi
	rc=0
	wait "$pid" || rc=$?
	unset "LAB_PID[$name]"
	return "$rc"
}

# lab_kill NAME: stop a spawned process (TERM, then KILL after 2 s).
lab_kill() {
	local name=$1 pid i
	pid=${LAB_PID[$name]:-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		_lab_alive "$pid" || break
		sleep 0.02
	done
	if _lab_alive "$pid"; then kill -KILL "$pid" 2>/dev/null; fi
	wait "$pid" 2>/dev/null || true
	unset "LAB_PID[$name]"
	return 0
}

# lab_stop NAME [SECONDS]: ask a spawned process to finish (SIGTERM; a
# `speeprobe stream` then drains and reports) and return its exit status.
lab_stop() {
	local pid=${LAB_PID[${1:?lab_stop NAME}]:-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	lab_wait "$1" "${2:-10}"
}

# lab_switch_exec CMD...: run CMD in the switch namespace (the bridge br0 and
# the ports $(lab_switch_port HOST)), e.g. to watch what leaves a host.
lab_switch_exec() {
	(exec nsenter --net="/run/netns/$LAB_SWITCH" -- timeout --foreground -k 2 "$LAB_EXEC_TIMEOUT" "$@")
}

# lab_sleep SECONDS: a sleep that a signal interrupts at once (the traps run
# only between commands, and a foreground sleep would hold them back).
lab_sleep() {
	sleep "$1" &
	_LAB_SLEEP_PID=$!	# a signal's trap exits from the wait: cleanup ends it
	wait "$_LAB_SLEEP_PID" 2>/dev/null
	_LAB_SLEEP_PID=""
}

# lab_listen HOST NAME [--udp] ADDR PORTS [speeprobe listen options]: start a
# speeprobe listener and wait until every port is bound.
lab_listen() {
	local host=${1:?} name=${2:?}
	shift 2
	lab_spawn "$host" "$name" "$SPEEPROBE" listen "$@" --max-seconds "$LAB_MAX_SECONDS"
	lab_wait_log "$name" '^listening ' || lab_die "listener $name on $host did not start"
}

# lab_dns_start HOST ADDR...: a DNS server (dnsmasq) in HOST on ADDR, port 53,
# answering from $LAB_DIR/dns.hosts (lab_dns_set) with a TTL of LAB_DNS_TTL.
lab_dns_start() {
	local host=${1:?} a args=()
	shift
	command -v dnsmasq >/dev/null || lab_die "lab_dns_start: needs dnsmasq (dnsmasq-base)"
	: >"$LAB_DIR/dns.hosts"
	chmod 644 "$LAB_DIR/dns.hosts"
	for a in "$@"; do args+=("--listen-address=$a"); done
	lab_spawn "$host" dns "$(command -v dnsmasq)" --keep-in-foreground --conf-file=/dev/null \
		--no-resolv --no-hosts --addn-hosts="$LAB_DIR/dns.hosts" --bind-interfaces \
		--except-interface=lo --local-ttl="${LAB_DNS_TTL:-1}" --pid-file="$LAB_DIR/dns.pid" \
		--log-facility=- --log-queries "${args[@]}"
	lab_wait_log dns 'started, version' || lab_die "dnsmasq did not start"
}

# lab_dns_set NAME ADDR...: what the lab DNS answers for NAME from now on
# (no ADDR: NAME no longer resolves).
lab_dns_set() {
	local name=${1:?} a f=$LAB_DIR/dns.hosts kept
	shift
	kept=$(awk -v n="$name" '$2 != n' "$f")
	{
		[[ -n $kept ]] && printf '%s\n' "$kept"
		for a in "$@"; do printf '%s\t%s\n' "$a" "$name"; done
	} >"$f"
	[[ -n ${LAB_PID[dns]:-} ]] && kill -HUP "${LAB_PID[dns]}"
	return 0
}

# ---- expectations -----------------------------------------------------------

lab_ok() {
	LAB_PASS=$((LAB_PASS + 1))
	printf 'ok   %s\n' "$*"
}

lab_fail() {
	LAB_FAIL=$((LAB_FAIL + 1))
	LAB_FAILED+=("$*")
	printf 'FAIL %s\n' "$*"
}

# A target of an expectation: a lab name (NAME, NAME/4, NAME/6), a literal
# address, or a DNS name resolved inside the host. Sets _T_ADDR, _T_LABEL.
_lab_target() {
	local t=$1 name fam
	if [[ $t =~ ^([a-z][a-z0-9.-]*)/([46])$ ]]; then
		name=${BASH_REMATCH[1]} fam=${BASH_REMATCH[2]}
	else
		name=$t fam=4
	fi
	if [[ $fam == 6 && -n ${LAB_ADDR6[$name]:-} ]]; then
		_T_ADDR=${LAB_ADDR6[$name]} _T_LABEL=$name/6
	elif [[ $fam == 4 && -n ${LAB_ADDR4[$name]:-} ]]; then
		_T_ADDR=${LAB_ADDR4[$name]} _T_LABEL=$t
	elif [[ -n ${LAB_LABEL[$t]:-} ]]; then
		_T_ADDR=$t _T_LABEL=${LAB_LABEL[$t]}
		if [[ $t == *:* ]]; then _T_LABEL+=/6; fi
	else
		_T_ADDR=$t _T_LABEL=$t
		if [[ $t == *:* ]]; then _T_LABEL="[$t]"; fi
	fi
}

# Runs a speeprobe command in HOST; sets _P_RC and _P_OUT (its output, one line).
_lab_probe() {
	local host=$1
	shift
	_P_RC=0
	_P_OUT=$(lab_exec "$host" "$SPEEPROBE" "$@" 2>&1) || _P_RC=$?
	_P_OUT=${_P_OUT//$'\n'/; }
}

_lab_refusal() {	# a word for the way a probe was refused
	case $1 in
	0) echo connected ;;
	1) echo "RST/unreachable" ;;
	2) echo dropped ;;
	3) echo EPERM ;;
	*) echo "?" ;;
	esac
}

# What an expectation of traffic can name, one row an outcome:
#   probe (speeprobe connect|udp); its timeout (connect: $LAB_CONNECT_TIMEOUT_MS,
#   block: $LAB_BLOCK_TIMEOUT_MS); the results that meet it, as EXIT:FIRST-WORD of
#   the probe's output (the probe's exit code and the verdict it printed must
#   agree); what the line says (%r: how it was refused; a failure drops the
#   parenthesis).
declare -gA _LAB_OUTCOMES=(
	[connects]="connect;connect;0:connected;connects"
	[refused]="connect;block;1:refused 2:timeout 3:denied;refused (%r)"
	[blocked]="connect;block;2:timeout 3:denied;blocked (%r)"
	[closed]="connect;block;1:refused;is closed (RST)"
	[answered]="connect;connect;0:connected 1:refused;is answered (%r)"
	[udp-answers]="udp;connect;0:reply;answers"
	[udp-closed]="udp;block;1:refused;is closed (ICMP)"
	[udp-blocked]="udp;block;2:timeout 3:denied;blocked (%r)"
)

# expect OUTCOME HOST TARGET PORT [probe options]: HOST's probe to TARGET:PORT
# meets OUTCOME (a row of _LAB_OUTCOMES). A probe that cannot run meets none:
# it proves nothing.
expect() {
	local outcome=$1 host=$2 port=$4 spec probe tmo accepted said a ok="" udp=""
	spec=${_LAB_OUTCOMES[$outcome]:-}
	[[ -n $spec ]] || lab_die "expect: no outcome '$outcome' (${!_LAB_OUTCOMES[*]})"
	IFS=';' read -r probe tmo accepted said <<<"$spec"
	_lab_target "$3"
	shift 4
	if [[ $tmo == connect ]]; then tmo=$LAB_CONNECT_TIMEOUT_MS; else tmo=$LAB_BLOCK_TIMEOUT_MS; fi
	[[ $probe == udp ]] && udp=/udp
	_lab_probe "$host" "$probe" "$_T_ADDR" "$port" --timeout-ms "$tmo" "$@"
	for a in $accepted; do
		[[ $_P_RC:${_P_OUT%% *} == "$a" ]] && ok=1
	done
	if [[ -n $ok ]]; then
		lab_ok "$host -> $_T_LABEL:$port$udp ${said//%r/$(_lab_refusal "$_P_RC")}"
	else
		lab_fail "$host -> $_T_LABEL:$port$udp ${said% (*} (got: $_P_OUT)"
	fi
}

# The outcomes by their older names: HOST TARGET PORT [probe options].
expect_connect() { expect connects "$@"; }	# the connection is made
# no connection: a RST, a drop (no answer in $LAB_BLOCK_TIMEOUT_MS) or EPERM
expect_refused() { expect refused "$@"; }
expect_blocked() { expect blocked "$@"; }	# dropped or EPERM, not a RST: the firewall stopped it
expect_closed() { expect closed "$@"; }		# the peer answers with a RST (nothing listens)
expect_udp_reply() { expect udp-answers "$@"; }	# a datagram is answered
expect_udp_closed() { expect udp-closed "$@"; }	# an ICMP port unreachable
expect_udp_blocked() { expect udp-blocked "$@"; } # no answer, or EPERM

# expect_frame answer|silence HOST DESC SENDER FRAME MATCH...: SENDER sends the
# hex FRAME out of its eth0; with "answer", HOST must see an inbound frame
# matching every MATCH (HEX@OFFSET) within 2 s; with "silence", none in 1 s.
expect_frame() {
	local want=$1 host=$2 desc=$3 sender=$4 frame=$5 m args=() rc=0 ms=2000
	shift 5
	for m in "$@"; do args+=(--match "$m"); done
	[[ $want == silence ]] && ms=1000
	lab_spawn "$host" watch "$SPEEPROBE" watch eth0 --timeout-ms "$ms" --count 1 --inbound "${args[@]}"
	lab_wait_log watch '^watching ' || true
	lab_exec "$sender" "$SPEEPROBE" send-frame eth0 "$frame" >/dev/null
	lab_wait watch 5 || rc=$?
	if [[ $want:$rc == answer:0 || $want:$rc == silence:1 ]]; then
		lab_ok "$desc"
	else
		lab_fail "$desc (watch exit $rc: $(tail -n 2 "$(lab_spawn_log watch)" | tr '\n' ' '))"
	fi
	mv "$(lab_spawn_log watch)" "$LAB_DIR/log/watch-$((LAB_PASS + LAB_FAIL)).log"
}

# expect_spawned_ok NAME DESC [SECS]: the spawned NAME ends within SECS (default
# 30) with status 0. (lab_wait must run in this shell, not in expect_true's
# subshell: only the shell that spawned a process can wait for it.)
expect_spawned_ok() {
	local name=$1 desc=$2 rc=0 log
	log=$(lab_spawn_log "$name")
	lab_wait "$name" "${3:-30}" || rc=$?
	if ((rc == 0)); then
		lab_ok "$desc"
	else
		lab_fail "$desc (exit $rc: $(tail -n 2 "$log" | tr '\n' ' '))"
	fi
}

# expect_true DESC CMD...: CMD succeeds (runs where the script runs; use lab_exec inside).
expect_true() {
	local desc=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if ((rc == 0)); then
		lab_ok "$desc"
	else
		lab_fail "$desc (exit $rc: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' '))"
	fi
}

# expect_false DESC CMD...: CMD fails.
expect_false() {
	local desc=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if ((rc != 0)); then
		lab_ok "$desc"
	else
		lab_fail "$desc (succeeded: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' '))"
	fi
}

# lab_skip REASON: end the script as skipped (exit 77; run.sh reports SKIP).
lab_skip() {
	echo "SKIPPED: $*"
	exit 77
}

# lab_require_speebpf: skip unless the speebpf binary ($SPEEBPF) is built.
lab_require_speebpf() {
	[[ -x $SPEEBPF ]] || lab_skip "no $SPEEBPF (make build/speebpf-san)"
}

# lab_finish: the summary, and the script's exit status (cleanup follows).
lab_finish() {
	local f
	echo "-- $LAB_NAME: $((LAB_PASS + LAB_FAIL)) expectations, $LAB_PASS ok, $LAB_FAIL failed"
	for f in "${LAB_FAILED[@]}"; do echo "   FAIL $f"; done
	((LAB_FAIL == 0 && LAB_PASS > 0)) && exit 0
	((LAB_PASS == 0 && LAB_FAIL == 0)) && echo "   (no expectation was checked)"
	exit 1
}

. "$LAB_SRC/frames.sh"
. "$LAB_SRC/lab.sh"
