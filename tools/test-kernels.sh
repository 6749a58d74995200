#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Proves that the BPF object speebpf embeds loads, attaches and passes the
# BPF_PROG_TEST_RUN tests on older stock Debian kernels: boots each kernel
# under QEMU with ../shared/tools/oldkernel-check.sh, which loads and
# attaches the object with bpftool, then runs the given test executables in
# the guest (they load the same object through the skeleton, with the map
# sizes and rodata the loader sets, and run their tables).
# Usage: tools/test-kernels.sh [-k PKG]... OBJ TEST...
#   -k PKG  a Debian linux-image package, or "default" for what linux-image-amd64
#           depends on (Debian 12: 6.1); repeatable (default: 6.1 and 6.12)
#   -H      no VM: the same checks on the running kernel (a quick try of this script)
# Env: OLDKERNEL_CHECK (default ../shared/tools/oldkernel-check.sh beside the repo)
set -u
cd "$(dirname "$0")/.." || exit 2
CHECK=${OLDKERNEL_CHECK:-../shared/tools/oldkernel-check.sh}
[ -f "$CHECK" ] || CHECK=/work/shared/tools/oldkernel-check.sh
[ -f "$CHECK" ] || { echo "test-kernels: no oldkernel-check.sh (set OLDKERNEL_CHECK)" >&2; exit 2; }

kernels=()
host=()
while getopts Hk: o; do
	case $o in
	k) kernels+=("$OPTARG") ;;
	H) host=(-H) kernels=("running") ;; # the same checks on this kernel, no VM
	*) echo "usage: $0 [-k PKG]... OBJ TEST..." >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || { echo "usage: $0 [-k PKG]... OBJ TEST..." >&2; exit 2; }
obj=$1
shift
# "" is the check's default: what linux-image-amd64 depends on (Debian 12: 6.1)
[ ${#kernels[@]} -gt 0 ] || kernels=("" "linux-image-6.12.117+deb12-amd64")

# The tests read their fixture configs by relative path: recreate them in the
# guest's working directory, then run each test; any failure fails the hook.
hook="rc=0"
for f in tests/fixtures/bpf/*.yaml; do
	hook="$hook
mkdir -p ${f%/*}
cat > $f <<'SPEE_FIXTURE_EOF'
$(cat "$f")
SPEE_FIXTURE_EOF"
done
xargs=()
for t in "$@"; do
	xargs+=(-x "$t")
	# the differential test runs fewer packets under emulation
	hook="$hook
echo '== $(basename "$t")'
SPEE_DIFF_N=${SPEE_DIFF_N_GUEST:-3000} $(basename "$t") || rc=1"
done
hook="$hook
exit \$rc"

status=0
for k in "${kernels[@]}"; do
	karg=()
	[ -n "$k" ] && [ "$k" != default ] && [ "$k" != running ] && karg=(-k "$k")
	work=$(mktemp -d /tmp/spee-kernels.XXXXXX)
	case ${k:-default} in
	default) echo "== kernel: Debian 12's stock kernel" ;;
	*) echo "== kernel: $k" ;;
	esac
	OLDKERNEL_WORK=$work bash "$CHECK" "${host[@]}" "${karg[@]}" "${xargs[@]}" -c "$hook" "$obj" 2>&1 |
		grep -v '^readelf: Warning'
	rc=${PIPESTATUS[0]}
	if [ -f "$work/hook.log" ]; then
		grep -E '^== |^diff: [0-9]|\[  (PASSED|FAILED|ERROR) |\[  FAILED  \] [a-z]' "$work/hook.log" |
			sed 's/^/   /'
	fi
	[ "$rc" = 0 ] || { status=1; echo "   logs: $work"; continue; }
	rm -rf "$work"
done
exit $status
