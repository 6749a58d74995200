#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# tests/kernels/test_runner.sh - the kernel runner's own check: booted on
# 6.1 with an object the verifier rejects, a test that fails, and a good
# object and test beside them, tools/test-kernels.sh must fail, name both
# failures, and find nothing wrong with the good ones.
# Usage: tests/kernels/test_runner.sh GOOD.bpf.o BAD.bpf.o
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
[ $# = 2 ] || { echo "usage: $0 GOOD.bpf.o BAD.bpf.o" >&2; exit 2; }
good=$1 bad=$2
tmp=$(mktemp -d /tmp/spee-runner.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/sh\necho "this test fails on purpose"\nexit 1\n' > "$tmp/test_fails"
printf '#!/bin/sh\nexit 0\n' > "$tmp/test_passes"
chmod +x "$tmp/test_fails" "$tmp/test_passes"

tools/test-kernels.sh -k 6.1 "$good" "$bad" -- "$tmp/test_fails" "$tmp/test_passes" \
	> "$tmp/out" 2>&1
rc=$?
sed 's/^/  | /' "$tmp/out"
# a failing run keeps its logs for the reader; this one failed on purpose
kept=$(sed -n 's/^test-kernels: logs kept in //p' "$tmp/out")
[ -n "$kept" ] && rm -rf "$kept"
fail=0
expect() { grep -q -- "$1" "$tmp/out" || { echo "runner check: expected '$1' in its output"; fail=1; }; }
refuse() { ! grep -q -- "$1" "$tmp/out" || { echo "runner check: did not expect '$1'"; fail=1; }; }
if grep -q 'SKIPPED' "$tmp/out"; then
	echo "runner check: SKIPPED with the runner (see above)"
	exit 0
fi
[ $rc = 1 ] || { echo "runner check: exit $rc, expected 1"; fail=1; }
expect "FAIL load $(basename "$bad")"
expect "test test_fails did not pass"
refuse "$(basename "$good"): no load result"
refuse "$(basename "$good"): .* was not attached"
refuse "test test_passes did not pass"
[ $fail = 0 ] && echo "runner check: 1 passed, 0 failed" || echo "runner check: 0 passed, 1 failed"
exit $fail
