#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# tools/kernels/init.sh - /init of the guest tools/test-kernels.sh boots
# (busybox sh). For each BPF object under /spee/objs: load it with bpftool
# (the verifier of this kernel), attach each program where its section says
# (XDP generic and native on a veth, tc on clsact, cgroup hooks on a child
# cgroup), then run each test executable of /spee/run from /spee (the
# fixtures are in /spee/tests/fixtures, where the tests look). Every result
# is one line on the second serial port:
#   ok|FAIL load OBJ / ok|FAIL attach OBJ PROG MODE / ok|FAIL test NAME
# then "done N" (N: the lines written before). The host trusts nothing else.
export PATH=/spee/bin:/usr/sbin:/usr/bin:/sbin:/bin
# iproute2's, by path: Debian's static busybox runs its own applets (ip, tc)
# before anything on PATH, and its tc knows no clsact or bpf filter.
IP=/usr/sbin/ip
TC=/usr/sbin/tc
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run /sys/fs/bpf /cg2
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /cg2
out=/dev/ttyS1
[ -c $out ] || out=/dev/console
say() { echo "$*" > $out; }
log() { echo "$*" > /dev/console; }

log "spee: kernel $(uname -r)"
for m in $(cat /spee/modules/order 2>/dev/null); do
	insmod /spee/modules/"$m" || log "spee: insmod $m failed"
done
$IP link set lo up
$IP link add spee-a type veth peer name spee-b
$IP link set spee-a up
$IP link set spee-b up
$TC qdisc add dev spee-a clsact 2>/dev/null
mkdir -p /cg2/spee

# attach PIN SECTION: where a program of that section goes
attach() {
	pin=$1 sec=$2
	case $sec in
	xdp*)
		for mode in xdpgeneric xdpdrv; do
			if bpftool net attach $mode pinned "$pin" dev spee-a overwrite; then
				echo "ok $mode"
				bpftool net detach $mode dev spee-a
			else
				echo "FAIL $mode"
			fi
		done ;;
	tc* | classifier*)
		dir=ingress
		case $sec in *egress*) dir=egress ;; esac
		if $TC filter add dev spee-a $dir bpf direct-action object-pinned "$pin"; then
			echo "ok tc-$dir"
			$TC filter del dev spee-a $dir
		else
			echo "FAIL tc-$dir"
		fi ;;
	cgroup_skb/* | cgroup/*)
		hook=${sec#*/}
		case $hook in ingress | egress) ;; *) hook=${hook%%/*} ;; esac
		if bpftool cgroup attach /cg2/spee "$hook" pinned "$pin" multi; then
			echo "ok cgroup-$hook"
			bpftool cgroup detach /cg2/spee "$hook" pinned "$pin"
		else
			echo "FAIL cgroup-$hook"
		fi ;;
	*) echo "ok load-only" ;;
	esac
}

for obj in /spee/objs/*.o; do
	[ -e "$obj" ] || continue
	name=${obj##*/}
	pins=/sys/fs/bpf/${name%%.*}
	if bpftool prog loadall "$obj" "$pins" > /tmp/load.log 2>&1; then
		say "ok load $name"
	else
		say "FAIL load $name"
		tail -n 40 /tmp/load.log > /dev/console
		continue
	fi
	# the manifest (written by the host from the ELF): OBJ PROG SECTION
	grep "^$name " /spee/objs/manifest | while read -r _ prog sec; do
		if [ ! -e "$pins/$prog" ]; then
			say "FAIL attach $name $prog not-loaded"
			continue
		fi
		attach "$pins/$prog" "$sec" 2>/tmp/attach.log | while read -r res mode; do
			say "$res attach $name $prog $mode"
		done
		[ -s /tmp/attach.log ] && cat /tmp/attach.log > /dev/console
	done
	rm -rf "$pins"
done

cd /spee || exit 1
for t in /spee/run/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	log "spee: running ${t##*/}"
	if SPEE_DIFF_N=${SPEE_DIFF_N:-3000} "$t" > /dev/console 2>&1; then
		say "ok test ${t##*/}"
	else
		say "FAIL test ${t##*/}"
	fi
done
say done
sync
poweroff -f
