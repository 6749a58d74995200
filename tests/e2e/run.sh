#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tests/e2e/run.sh - runs every tests/e2e/test_*.sh (or the ones named) and
# reports. Run by `make e2e-test`; usage: tests/e2e/run.sh [test_lab ...]
#
# A test exits 0 (pass), 77 (skipped; it says why) or anything else (fail).
# After each test, run.sh checks that none of the labs it made is left
# behind (lib.sh writes their run ids to $LAB_IDS_FILE): a leak fails it.
# Each test runs at most $E2E_TIMEOUT seconds (default 600).
set -u
cd "$(dirname "$0")/../.." || exit 1

if [[ $(id -u) != 0 ]]; then
	echo "SKIPPED: needs root (network namespaces, cgroups, BPF)"
	exit 0
fi

# `make e2e-test` builds the probe; run alone, this builds it when it is stale.
if [[ ! -x build/tools/speeprobe || tests/tools/speeprobe.c -nt build/tools/speeprobe ]]; then
	make --no-print-directory build/tools/speeprobe >/dev/null ||
		{
			echo "e2e: cannot build build/tools/speeprobe" >&2
			exit 1
		}
fi
# shellcheck source=tests/e2e/lib.sh
. tests/e2e/lib.sh	# for lab_leftovers; it does nothing until lab_init

tests=()
if (($#)); then
	for t in "$@"; do
		t=tests/e2e/${t##*/}
		tests+=("${t%.sh}.sh")
	done
else
	tests=(tests/e2e/test_*.sh)
fi

ids=$(mktemp /tmp/speebpf-e2e-ids.XXXXXX)
trap 'rm -f "$ids"' EXIT
passed=() failed=() skipped=()
for t in "${tests[@]}"; do
	if [[ ! -f $t ]]; then
		echo "e2e: no test $t" >&2
		failed+=("$t")
		continue
	fi
	echo "== $t"
	: >"$ids"
	start=$(date +%s%N)
	# --foreground: a Ctrl-C reaches the test, whose trap then cleans up.
	LAB_IDS_FILE=$ids timeout --foreground -k 20 "${E2E_TIMEOUT:-600}" bash "$t"
	rc=$?
	secs=$(awk -v ns=$(($(date +%s%N) - start)) 'BEGIN { printf "%.1f", ns / 1e9 }')
	left=""
	while read -r id; do
		left+=$(lab_leftovers "$id")
	done <"$ids"
	if [[ -n $left ]]; then
		echo "e2e: $t left behind:"
		printf '    %s\n' "$left"
		((rc == 0 || rc == 77)) && rc=1
		while read -r id; do
			lab_reap "$id" || echo "e2e: could not remove all of lab $id"
		done <"$ids"
	fi
	case $rc in
	0)
		echo "-- PASS $t ($secs s)"
		passed+=("$t")
		;;
	77)
		echo "-- SKIP $t ($secs s)"
		skipped+=("$t")
		;;
	*)
		((rc == 124)) && echo "e2e: $t timed out after ${E2E_TIMEOUT:-600} s"
		echo "-- FAIL $t (exit $rc, $secs s)"
		failed+=("$t")
		;;
	esac
	if ((rc == 130)); then
		echo "e2e: interrupted"
		break
	fi
done

echo "e2e: ${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
for t in "${failed[@]}"; do echo "   FAIL $t"; done
((${#failed[@]} == 0))
