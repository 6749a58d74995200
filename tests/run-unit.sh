#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Runs test executables one after the other; fails if any fails.
# Usage: tests/run-unit.sh [--bpffs] TEST...
#   --bpffs  run each test in a private mount namespace in which a BPF
#            filesystem is mounted at /sys/fs/bpf (a fresh machine may have
#            none; the tests pin there, and a private mount leaves nothing
#            behind on the machine's own).
set -u
bpffs=0
if [ "${1:-}" = --bpffs ]; then
	bpffs=1
	shift
fi
failed=""
for t in "$@"; do
	echo "== $t"
	if [ $bpffs = 1 ]; then
		unshare --mount --propagation private sh -c \
			'mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || exit 1; exec "$0"' "$t"
	else
		"$t"
	fi || failed="$failed $t"
done
if [ -n "$failed" ]; then
	echo "FAILED:$failed" >&2
	exit 1
fi
