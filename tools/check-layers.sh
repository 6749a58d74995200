#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The layering of src/ (README, "Layout"): every file of src/LAYER/ includes
# headers of its own layer, of an earlier one, or of include/; and no two
# modules (a .c and its .h) include each other, directly or round about.
# The layers and their order are the Makefile's SRC_LAYERS. Run by tools/lint.sh.
# Usage: tools/check-layers.sh [ROOT]   (ROOT: a tree with Makefile, src/, include/)
set -u
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2
layers=$(sed -n 's/^SRC_LAYERS *:= *//p' Makefile)
[ -n "$layers" ] || { echo "check-layers: no SRC_LAYERS in $root/Makefile" >&2; exit 2; }
tmp=$(mktemp -d /tmp/check-layers.XXXXXX) || exit 2
trap 'rm -rf "$tmp"' EXIT

# headers: HEADER LAYER; includes: FILE LAYER HEADER
for layer in $layers; do
	for h in src/"$layer"/*.h; do [ -f "$h" ] && echo "${h##*/} $layer"; done
done >"$tmp/headers"
for h in include/*.h; do [ -f "$h" ] && echo "${h##*/} include"; done >>"$tmp/headers"
for layer in $layers; do
	for f in src/"$layer"/*.c src/"$layer"/*.h; do
		[ -f "$f" ] || continue
		sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
			while read -r h; do echo "$f $layer $h"; done
	done
done >"$tmp/includes"

status=0
awk -v layers="$layers" '
	BEGIN { n = split(layers, l, " "); for (i = 1; i <= n; i++) rank[l[i]] = i; rank["include"] = 0 }
	FNR == NR {
		if ($1 in where) { print "check-layers: two headers named " $1 " (" where[$1] ", " $2 ")"; bad = 1 }
		where[$1] = $2
		next
	}
	{
		file = $1; layer = $2; h = $3
		if (h ~ /\.skel\.h$/) hl = "kernel"	# the generated skeleton belongs to the loader
		else if (h in where) hl = where[h]
		else { print "check-layers: " file " includes \"" h "\", which is in no layer"; bad = 1; next }
		if (rank[hl] > rank[layer]) {
			allowed = ""
			for (i = 1; i <= rank[layer]; i++) allowed = allowed (i > 1 ? ", " : "") l[i]
			print "check-layers: " file " includes " hl "/" h ", but " layer \
			      "/ may include only " allowed " and include/"
			bad = 1
		}
	}
	END { exit bad }' "$tmp/headers" "$tmp/includes" || status=1

# Modules that include each other: drop the modules that include no module
# left, and those no module left includes, again and again; what remains are
# cycles. Each found is said, one of its includes set aside, and so on.
awk '
	function mod(path,   b) { b = path; sub(/.*\//, "", b); sub(/\.[ch]$/, "", b); return b }
	function drop_edge(a, b) { delete edge[a, b]; out[a]--; in_[b]-- }
	function prune(   n, k, p, removed) {
		do {
			removed = 0
			for (n in node) {
				if (out[n] && in_[n])
					continue
				for (k in edge) {
					split(k, p, SUBSEP)
					if (p[1] == n || p[2] == n)
						drop_edge(p[1], p[2])
				}
				delete node[n]
				removed = 1
			}
		} while (removed)
	}
	function one_edge_from(n,   k, p) {
		for (k in edge) { split(k, p, SUBSEP); if (p[1] == n) return p[2] }
		return ""
	}
	{
		m = mod($1); h = mod($3); node[m] = 1; node[h] = 1
		if (m != h && !((m, h) in edge)) { edge[m, h] = 1; out[m]++; in_[h]++ }
	}
	END {
		for (prune(); length(node); prune()) {
			for (n in node) break
			delete seen
			for (m = n; !(m in seen); m = one_edge_from(m)) seen[m] = 1
			text = m
			for (x = one_edge_from(m); x != m; x = one_edge_from(x)) text = text " -> " x
			print "check-layers: modules that include each other: " text " -> " m
			drop_edge(m, one_edge_from(m))
			bad = 1
		}
		exit bad
	}' "$tmp/includes" || status=1
exit $status
