#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Runs the libFuzzer targets: first every saved regression input (a crash
# found once stays a test), then fuzzing for SECS seconds each from the seed
# corpus (copied to build/fuzz/corpus/, so that new inputs never land in the
# tree). Prints one line per target: runs, seconds, corpus size, findings.
# Usage: tests/fuzz/run.sh SECS BIN...     (BIN: build/fuzz/fuzz_<target>)
set -u
cd "$(dirname "$0")/../.." || exit 2
secs=$1
shift
status=0
for bin in "$@"; do
	t=$(basename "$bin" | sed 's/^fuzz_//')
	corpus=build/fuzz/corpus/$t
	artifacts=build/fuzz/artifacts/$t/
	mkdir -p "$corpus" "$artifacts"
	case $t in
	config | policy) seeds="tests/fixtures/config tests/fixtures/config/errors tests/fixtures/bpf" ;;
	*) seeds=tests/fuzz/seeds/$t ;;
	esac
	dict=""
	[ "$t" = config ] || [ "$t" = policy ] && dict=-dict=tests/fuzz/config.dict
	# the regressions: each file runs once; a crash fails the suite
	regress=$(ls tests/fuzz/regress/"$t"/* 2>/dev/null)
	if [ -n "$regress" ]; then
		# shellcheck disable=SC2086
		if ! "$bin" $regress >build/fuzz/$t.regress.log 2>&1; then
			echo "fuzz $t: a regression input fails again (build/fuzz/$t.regress.log)" >&2
			status=1
			continue
		fi
	fi
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$artifacts" $dict "$corpus" $seeds >build/fuzz/$t.log 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' build/fuzz/$t.log)
	found=$(ls "$artifacts" 2>/dev/null | wc -l)
	echo "fuzz $t: ${runs:-?} runs in ${secs}s, corpus $(ls "$corpus" | wc -l), \
$(echo "$regress" | grep -c .) regression inputs, $found findings (exit $rc)"
	if [ $rc != 0 ] || [ "$found" != 0 ]; then
		echo "fuzz $t: see build/fuzz/$t.log and $artifacts; copy the input to" \
			"tests/fuzz/regress/$t/ once fixed" >&2
		status=1
	fi
done
exit $status
