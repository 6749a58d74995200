#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# tools/check-layers.sh fails on an include against the layers' direction,
# on modules that include each other, and on a header in no layer; it
# passes on a tree that keeps to them, and on this repository.
set -u
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d /tmp/speebpf-layers.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0

# tree NAME FILE:INCLUDE...: a tree with layers low and high; each FILE includes INCLUDE ("-": none)
tree() {
	d=$tmp/$1
	shift
	mkdir -p "$d/src/low" "$d/src/high" "$d/include"
	echo "SRC_LAYERS := low high" >"$d/Makefile"
	: >"$d/include/abi.h"
	for spec in "$@"; do
		f=${spec%%:*} inc=${spec#*:}
		[ "$inc" = - ] && { touch "$d/src/$f"; continue; }
		echo "#include \"$inc\"" >>"$d/src/$f"
	done
}

# expect STATUS DESCRIPTION NAME [TEXT]: the check's status on tree NAME, and TEXT in its output
expect() {
	out=$(tools/check-layers.sh "$tmp/$3" 2>&1)
	got=$?
	if [ "$got" = "$1" ] && { [ -z "${4:-}" ] || printf '%s' "$out" | grep -qF -- "$4"; }; then
		echo "ok   $2"
	else
		echo "FAIL $2: exit $got, want $1${4:+ and '$4'}"
		printf '%s\n' "$out" | sed 's/^/     | /'
		fails=$((fails + 1))
	fi
}

tree good low/a.h:abi.h low/a.c:a.h high/b.h:a.h high/b.c:b.h
expect 0 "a tree whose includes go one way passes" good
tree upward low/a.h:- low/a.c:b.h high/b.h:- high/b.c:a.h
expect 1 "a low file including a high header fails" upward "src/low/a.c includes high/b.h"
tree cycle high/p.h:- high/p.c:q.h high/q.h:- high/q.c:p.h
expect 1 "two modules including each other fail" cycle "modules that include each other"
tree round low/a.h:- low/a.c:b.h low/b.h:- low/b.c:c.h low/c.h:- low/c.c:a.h
expect 1 "three modules in a ring fail" round "-> a"
tree stray low/a.c:nowhere.h
expect 1 "a header in no layer fails" stray "which is in no layer"
ln -s "$(pwd)" "$tmp/repo"
expect 0 "this repository keeps to its layers" repo

if [ "$fails" -gt 0 ]; then
	echo "$fails layer expectation(s) failed"
	exit 1
fi
echo "all layer expectations met"
