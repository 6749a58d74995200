#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# tools/test-kernels.sh - proves that speebpf's BPF objects load (pass the
# verifier), attach and pass the BPF_PROG_TEST_RUN tests on Debian's stock
# kernels, by booting each under QEMU (software emulation, TCG: no KVM
# needed) with an initramfs of its own: busybox, bpftool, iproute2, the
# objects, the test executables with their libraries and the fixtures, and
# the kernel's veth/clsact/cls_bpf modules. The guest runs
# tools/kernels/init.sh and reports one line per check; see there.
#
# Everything comes from Debian's archive through apt: qemu-system-x86 is
# installed when missing; the kernel and busybox-static packages are
# downloaded and unpacked into a cache (never installed), so the host's own
# kernel and busybox are left alone.
#
# Usage: tools/test-kernels.sh [-k KERNEL]... OBJ... -- TEST...
#   -k KERNEL  6.1 (what Debian 12's linux-image-amd64 depends on), 6.12 (the
#              newest linux-image-6.12.*+deb12-amd64), or a package name;
#              repeatable (default: 6.1 and 6.12)
# Env: SPEE_KERNELS_CACHE (default /var/cache/speebpf-kernels),
#      SPEE_KERNELS_TIMEOUT (seconds a guest may take, default 900).
# Exit: 0 every kernel passed, or the run was skipped (it says so, with
# why: no x86_64 host, no root, or Debian's archive unreachable); 1 a check
# failed; 2 a usage error.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

CACHE=${SPEE_KERNELS_CACHE:-/var/cache/speebpf-kernels}
TIMEOUT=${SPEE_KERNELS_TIMEOUT:-900}
MODULES="veth sch_ingress cls_bpf inet_diag tcp_diag udp_diag bridge"

usage() {
	sed -n '/^# Usage:/,/^# Exit/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
say() { echo "test-kernels: $*"; }
skip() {
	say "SKIPPED: $*"
	say "the BPF objects were NOT tested on older kernels"
	exit 0
}

kernels=()
while getopts k:h o; do
	case $o in
	k) kernels+=("$OPTARG") ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
objs=() tests=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do objs+=("$1"); shift; done
[ $# -gt 0 ] && shift
tests=("$@")
[ ${#objs[@]} -gt 0 ] || usage
[ ${#kernels[@]} -gt 0 ] || kernels=(6.1 6.12)
for f in "${objs[@]}" "${tests[@]}"; do
	[ -f "$f" ] || { say "no such file: $f"; exit 2; }
done

[ "$(uname -m)" = x86_64 ] || skip "the guests are amd64 kernels and this host is $(uname -m)"
[ "$(id -u)" = 0 ] || skip "it needs root (apt-get, the cache in $CACHE)"

# ---- what the host needs ----

apt_updated=0
apt_update() {
	[ $apt_updated = 1 ] && return 0
	apt-get update -qq >/dev/null 2>&1 || return 1
	apt_updated=1
}
need() { # need COMMAND PACKAGE
	command -v "$1" >/dev/null && return 0
	say "installing $2"
	{ apt_update && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "$2" >/dev/null 2>&1; } ||
		skip "cannot install $2 from Debian's archive"
}
need qemu-system-x86_64 qemu-system-x86
need bpftool bpftool
need /usr/sbin/ip iproute2
need /usr/sbin/tc iproute2
need readelf binutils
need depmod kmod
need xz xz-utils
need cpio cpio

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9 # one runner fills the cache at a time

# fetch PACKAGE -> the directory it is unpacked in (cached by package and version)
fetch() {
	local pkg=$1 ver dir deb
	ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '/^Version:/ {print $2; exit}')
	if [ -z "$ver" ]; then
		apt_update || return 1
		ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '/^Version:/ {print $2; exit}')
	fi
	[ -n "$ver" ] || return 1
	dir=$CACHE/${pkg}_$ver
	if [ ! -f "$dir/.unpacked" ]; then
		rm -rf "$dir" "$CACHE/dl" && mkdir -p "$CACHE/dl" && chmod 777 "$CACHE/dl"
		(cd "$CACHE/dl" && apt-get download -qq "$pkg" >/dev/null 2>&1) || {
			apt_update && (cd "$CACHE/dl" && apt-get download -qq "$pkg" >/dev/null 2>&1)
		} || return 1
		deb=$(ls "$CACHE"/dl/*.deb 2>/dev/null | head -n 1)
		[ -n "$deb" ] && dpkg-deb -x "$deb" "$dir" || return 1
		rm -rf "$CACHE/dl"
		touch "$dir/.unpacked"
	fi
	echo "$dir"
}

# kernel_package 6.1|6.12|NAME -> the linux-image package
kernel_package() {
	case $1 in
	6.1)
		apt-cache depends linux-image-amd64 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}' ;;
	6.12)
		apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' 2>/dev/null |
			awk '{print $1}' | sort -V | tail -n 1 ;;
	*) echo "$1" ;;
	esac
}

# ---- the guest's files ----

# copy FILE into ROOT at its own path, with its shared libraries
copy_exe() {
	local root=$1 f=$2 dest=${3:-$2} lib
	mkdir -p "$root/$(dirname "$dest")"
	cp -L "$f" "$root/$dest"
	for lib in $(ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
		[ -e "$root/$lib" ] && continue
		mkdir -p "$root/$(dirname "$lib")"
		cp -L "$lib" "$root/$lib"
	done
}

# the programs of OBJ as "OBJNAME PROG SECTION": functions in executable sections but .text
manifest() {
	local obj=$1 name=$2
	readelf -SW "$obj" 2>/dev/null | awk '/^ *\[ *[0-9]+\]/ {
		sub(/^ *\[ */, ""); idx = $0; sub(/\].*/, "", idx); sub(/^[0-9]+\] */, "")
		if ($7 ~ /X/ && $1 != ".text") print idx, $1 }' > "$work/sections"
	readelf -sW "$obj" 2>/dev/null | awk '$4 == "FUNC" && $7 ~ /^[0-9]+$/ {print $7, $8}' |
		while read -r idx fn; do
			awk -v i="$idx" -v f="$fn" -v n="$name" '$1 == i {print n, f, $2}' "$work/sections"
		done
}

# modules KDIR RELEASE ROOT: the .ko files of $MODULES and their dependencies, in load order
modules() {
	local kdir=$1 rel=$2 root=$3 m f b
	mkdir -p "$root/spee/modules"
	: > "$root/spee/modules/order"
	[ -d "$kdir/lib/modules/$rel" ] || return 0
	depmod -b "$kdir" "$rel" 2>/dev/null || return 1
	for m in $MODULES; do
		modprobe -d "$kdir" -S "$rel" --show-depends "$m" 2>/dev/null |
			awk '$1 == "insmod" {print $2}' | while read -r f; do
				b=$(basename "$f"); b=${b%.xz}; b=${b%.zst}; b=${b%.gz}
				grep -qx "$b" "$root/spee/modules/order" && continue
				case $f in
				*.xz) xz -dc "$f" > "$root/spee/modules/$b" ;;
				*.zst) zstd -qdc "$f" > "$root/spee/modules/$b" ;;
				*) cp "$f" "$root/spee/modules/$b" ;;
				esac
				echo "$b" >> "$root/spee/modules/order"
			done
	done
}

# ---- one kernel ----

run_kernel() {
	local want=$1 pkg kdir rel root qrc line
	pkg=$(kernel_package "$want")
	if [ -z "$pkg" ]; then
		apt_update >/dev/null
		pkg=$(kernel_package "$want")
	fi
	[ -n "$pkg" ] || skip "Debian's archive knows no kernel package for $want"
	kdir=$(fetch "$pkg") || skip "cannot download $pkg from Debian's archive"
	rel=$(ls "$kdir/boot" | sed -n 's/^vmlinuz-//p' | head -n 1)
	[ -n "$rel" ] || { say "$pkg holds no /boot/vmlinuz-*"; return 1; }
	[ -d "$kdir/lib" ] || { [ -d "$kdir/usr/lib/modules" ] && ln -sfn usr/lib "$kdir/lib"; }

	root=$work/root-$want
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,spee/objs,spee/run,spee/tests,spee/bin}
	cp "$busybox" "$root/bin/busybox"
	for a in $("$busybox" --list); do [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"; done
	rm -f "$root/bin/ip" "$root/bin/tc" # iproute2's, not busybox's
	copy_exe "$root" "$(command -v bpftool)" /spee/bin/bpftool
	copy_exe "$root" /usr/sbin/ip
	copy_exe "$root" /usr/sbin/tc
	cp tools/kernels/init.sh "$root/init"
	chmod 755 "$root/init"
	echo 'root:x:0:0:root:/:/bin/sh' > "$root/etc/passwd"
	: > "$root/spee/objs/manifest"
	for o in "${objs[@]}"; do
		cp "$o" "$root/spee/objs/"
		manifest "$o" "$(basename "$o")" >> "$root/spee/objs/manifest"
	done
	for t in "${tests[@]}"; do copy_exe "$root" "$t" "/spee/run/$(basename "$t")"; done
	# the tests that run the command line find it where a checkout has it (working directory /spee)
	[ -x build/speebpf ] && copy_exe "$root" build/speebpf /spee/build/speebpf
	# the tests read tests/fixtures/... from their working directory, /spee
	cp -r tests/fixtures "$root/spee/tests/"
	modules "$kdir" "$rel" "$root" || { say "cannot resolve the modules of $rel"; return 1; }
	(cd "$root" && find . | cpio -o -H newc 2>/dev/null) | gzip -1 > "$work/initrd-$want.gz"

	say "$want: booting $rel ($pkg) under QEMU, software emulation"
	: > "$work/results-$want"
	timeout --foreground "$TIMEOUT" qemu-system-x86_64 -nodefaults -display none -no-reboot \
		-machine pc -accel tcg -cpu max -smp 2 -m 1536 \
		-kernel "$kdir/boot/vmlinuz-$rel" -initrd "$work/initrd-$want.gz" \
		-append "console=ttyS0 quiet loglevel=4 panic=-1 oops=panic" \
		-serial "file:$work/console-$want" -serial "file:$work/results-$want" \
		> "$work/qemu-$want" 2>&1
	qrc=$?
	tr -d '\r' < "$work/results-$want" > "$work/r" && mv "$work/r" "$work/results-$want"
	check_results "$want" "$rel" "$qrc"
}

# check_results KERNEL RELEASE QEMU_RC: every object, program and test has an "ok" line
check_results() {
	local want=$1 rel=$2 qrc=$3 r=$work/results-$want bad=0 o p t
	if ! grep -qx done "$r"; then
		say "$want: FAIL: the guest did not finish (qemu exit $qrc); its console ends:"
		tail -n 30 "$work/console-$want" | tr -d '\r' | sed 's/^/    /'
		return 1
	fi
	grep '^FAIL ' "$r" | sed "s/^/    $want: /"
	grep -q '^FAIL ' "$r" && bad=1
	for o in "${objs[@]}"; do
		o=$(basename "$o")
		grep -qx "ok load $o" "$r" || { say "$want: $o: no load result"; bad=1; }
		while read -r _ p _; do
			grep -q "^ok attach $o $p " "$r" || { say "$want: $o: $p was not attached"; bad=1; }
		done < <(grep "^$o " "$work/root-$want/spee/objs/manifest")
	done
	for t in "${tests[@]}"; do
		t=$(basename "$t")
		grep -qx "ok test $t" "$r" || { say "$want: test $t did not pass"; bad=1; }
	done
	if [ $bad = 1 ]; then
		say "$want: FAIL on $rel; the guest's console: $work/console-$want"
		tr -d '\r' < "$work/console-$want" | grep -E '\[  FAILED|FAIL|error|Error' | head -n 20 |
			sed 's/^/    /'
		keep=1
		return 1
	fi
	say "$want: PASS on $rel: $(grep -c '^ok load' "$r") objects loaded, $(grep -c '^ok attach' "$r") attachments, $(grep -c '^ok test' "$r") tests ($(tr -d '\r' < "$work/console-$want" | grep -c '^\[       OK \]') cases)"
}

work=$(mktemp -d /tmp/spee-kernels.XXXXXX)
keep=0
trap '[ $keep = 1 ] || rm -rf "$work"' EXIT
bbdir=$(fetch busybox-static) || skip "cannot download busybox-static from Debian's archive"
busybox=$bbdir/bin/busybox
[ -x "$busybox" ] || { say "busybox-static holds no bin/busybox"; exit 1; }

status=0
for k in "${kernels[@]}"; do
	run_kernel "$k" || status=1
done
[ $status = 0 ] || say "logs kept in $work"
exit $status
