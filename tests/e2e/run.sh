#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tests/e2e/run.sh - runs every tests/e2e/test_*.sh (or the ones named) and
# reports. Run by `make e2e-test`; usage: tests/e2e/run.sh [test_lab ...]
#
# A test exits 0 (pass), 77 (skipped; it says why) or anything else (fail).
# After each test, run.sh checks that none of the labs it made is left
# behind (lib.sh writes their run ids to $LAB_IDS_FILE): a leak fails it.
# Each test runs at most $E2E_TIMEOUT seconds (default 600); $E2E_JOBS at a time.
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

# Tests that change the machine itself (test_deb installs a package) run
# alone, after the others; the others run $E2E_JOBS at a time (default 3):
# most of their time is waiting for an agent or a peer, and each works in
# labs of its own run id, so two at once share nothing but the CPUs.
serial=(tests/e2e/test_deb.sh)
jobs=${E2E_JOBS:-3}
((jobs >= 1)) || jobs=1

work=$(mktemp -d /tmp/speebpf-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
# run_one TEST N: runs TEST with its output in $work/N.log and its verdict,
# PASS|SKIP|FAIL and the exit status, in $work/N.rc.
run_one() {
	local t=$1 n=$2 ids=$work/$2.ids start rc secs left id
	: >"$ids"
	start=$(date +%s%N)
	# --foreground: a Ctrl-C reaches the test, whose trap then cleans up.
	LAB_IDS_FILE=$ids timeout --foreground -k 20 "${E2E_TIMEOUT:-600}" bash "$t" \
		>"$work/$n.log" 2>&1 </dev/null
	rc=$?
	secs=$(awk -v ns=$(($(date +%s%N) - start)) 'BEGIN { printf "%.1f", ns / 1e9 }')
	left=""
	while read -r id; do
		left+=$(lab_leftovers "$id")
	done <"$ids"
	if [[ -n $left ]]; then
		{
			echo "e2e: $t left behind:"
			printf '    %s\n' "$left"
		} >>"$work/$n.log"
		((rc == 0 || rc == 77)) && rc=1
		while read -r id; do
			lab_reap "$id" >>"$work/$n.log" 2>&1 ||
				echo "e2e: could not remove all of lab $id" >>"$work/$n.log"
		done <"$ids"
	fi
	((rc == 124)) && echo "e2e: $t timed out after ${E2E_TIMEOUT:-600} s" >>"$work/$n.log"
	echo "$rc $secs" >"$work/$n.rc"
}

passed=() failed=() skipped=()
# report N TEST: prints a finished test's output and verdict, and counts it.
report() {
	local n=$1 t=$2 rc secs
	read -r rc secs <"$work/$n.rc"
	echo "== $t"
	cat "$work/$n.log"
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
		echo "-- FAIL $t (exit $rc, $secs s)"
		failed+=("$t")
		;;
	esac
}

# The longest first, so that the lanes end together (about 5.5 min on a quiet 2-core machine).
longest=(test_agent test_lab test_k8snode test_enforce test_nftables test_gateway test_stress)
ordered=()
for l in "${longest[@]}"; do
	[[ " ${tests[*]} " == *" tests/e2e/$l.sh "* ]] && ordered+=("tests/e2e/$l.sh")
done
for t in "${tests[@]}"; do
	[[ " ${ordered[*]} " == *" $t "* ]] || ordered+=("$t")
done
tests=("${ordered[@]}")

parallel=() alone=()
for t in "${tests[@]}"; do
	if [[ ! -f $t ]]; then
		echo "e2e: no test $t" >&2
		failed+=("$t")
	elif [[ " ${serial[*]} " == *" $t "* ]]; then
		alone+=("$t")
	else
		parallel+=("$t")
	fi
done

interrupted=0
trap 'interrupted=1' INT
declare -A running=() # pid -> index
n=0
for t in "${parallel[@]}" "${alone[@]}"; do
	((interrupted)) && break
	limit=$jobs
	[[ " ${alone[*]} " == *" $t "* ]] && limit=1
	# wait for a free lane; report each test as it ends
	while ((${#running[@]} >= limit)); do
		wait -n 2>/dev/null
		for pid in "${!running[@]}"; do
			if ! kill -0 "$pid" 2>/dev/null; then
				wait "$pid" 2>/dev/null
				i=${running[$pid]}
				unset "running[$pid]"
				report "$i" "${names[$i]}"
			fi
		done
	done
	names[n]=$t
	run_one "$t" "$n" &
	running[$!]=$n
	n=$((n + 1))
done
for pid in "${!running[@]}"; do
	wait "$pid" 2>/dev/null
	i=${running[$pid]}
	report "$i" "${names[$i]}"
done
((interrupted)) && echo "e2e: interrupted"

echo "e2e: ${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
for t in "${failed[@]}"; do echo "   FAIL $t"; done
((${#failed[@]} == 0))
