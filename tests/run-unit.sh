#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Runs test executables one after the other; fails if any fails.
set -u
failed=""
for t in "$@"; do
	echo "== $t"
	if ! "$t"; then
		failed="$failed $t"
	fi
done
if [ -n "$failed" ]; then
	echo "FAILED:$failed" >&2
	exit 1
fi
