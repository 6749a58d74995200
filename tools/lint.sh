#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The few project conventions a grep can check. Run by `make test`.
set -u
cd "$(dirname "$0")/.." || exit 1
status=0
fail() { echo "lint: $*" >&2; status=1; }

files=$(git ls-files -co --exclude-standard -- '*.c' '*.h' '*.sh' Makefile '.ci/*' \
	| grep -v '^vmlinux/' | while read -r f; do [ -f "$f" ] && echo "$f"; done)

for f in $files; do
	head -n 3 "$f" | grep -q 'SPDX-License-Identifier' || fail "$f: no SPDX line in its first 3 lines"
done

# The cgroup v2 mount is found in /proc/mounts, never assumed. A line that
# names the path as data (e.g. a manifest's hostPath) says so: "lint: data".
for f in $files; do
	case "$f" in tools/lint.sh) continue ;; esac
	grep -n '/sys/fs/cgroup[/"]' "$f" | grep -v 'unified' | grep -v 'lint: data' >/dev/null && \
		fail "$f: hard-codes /sys/fs/cgroup; find the cgroup2 mount in /proc/mounts"
	grep -n '"/sys/fs/cgroup/unified' "$f" >/dev/null && \
		fail "$f: hard-codes the cgroup2 mount; find it in /proc/mounts"
done

# BPF: no debug printing left in, map names fit the kernel's 15 characters.
for f in bpf/*.c bpf/*.h; do
	[ -f "$f" ] || continue
	grep -n 'bpf_printk\|bpf_trace_printk' "$f" && fail "$f: debug printing left in"
	awk '/SEC\("\.maps"\)/ { for (i = 1; i <= NF; i++) if ($i ~ /SEC\("\.maps"\)/) { name = $(i-1); if (length(name) > 15) print FILENAME ": map name " name " is longer than 15 characters" } }' "$f" | \
		while read -r line; do echo "lint: $line" >&2; echo x; done | grep -q x && status=1
done

# src/ is layered, and its modules do not include each other (README, "Layout").
tools/check-layers.sh || status=1

# Headers have include guards.
for f in $(echo "$files" | grep '\.h$'); do
	grep -q '^#ifndef [A-Z_]*_H$' "$f" || fail "$f: no include guard"
done

exit $status
