#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tools/bench/run.sh - `make bench`: the sandbox for build/bench/speebpf-bench
# (two network namespaces joined by a veth pair, a child cgroup, a temporary
# directory), then the report. The run's JSON is compared with the previous
# run's and kept: tools/bench/runs/latest.json, the one before it
# previous.json; BENCHMARKS.md and the summary on stdout are rendered from it
# (tools/bench/render.py). A --quick or --only run keeps its JSON and report
# in build/bench/ instead, leaving the recorded runs alone.
#
# Everything made here carries this run's id (spb-<id>-...) and goes on exit,
# failure or signal: the namespaces take their veths, XDP programs and
# nftables tables with them, the cgroup is removed once empty. Nothing is
# attached outside them; no namespace has a route out (each has only the
# veth's on-link prefix, in 198.18.0.0/15 and fd00:5e::/64).
#
# Usage: tools/bench/run.sh [speebpf-bench options, e.g. --quick]
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN=build/bench/speebpf-bench
: "${BENCH_TIMEOUT:=900}"	# seconds: a bound on the whole run
RUNS=tools/bench/runs
# Debian's python3, which python3-jinja2 goes with, before any other on PATH
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || PYTHON=python3
MD=BENCHMARKS.md
case " $* " in
*" --quick "* | *" --only "*) RUNS=build/bench/runs MD=build/bench/BENCHMARKS.md ;;
esac
: "${BENCH_RUNS:=$RUNS}"
: "${BENCH_MD:=$MD}"

die() {
	echo "bench: $*" >&2
	exit 1
}

[[ $(id -u) == 0 ]] || die "needs root (network namespaces, BPF, nftables)"
[[ -x $BIN ]] || die "no $BIN; run: make build/bench/speebpf-bench"
for c in ip nft nsenter timeout od; do
	command -v "$c" >/dev/null || die "needs $c (tools/install-deps.sh)"
done

id=""
for _ in 1 2 3 4 5 6 7 8; do
	id=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
	[[ -e /run/netns/spb-$id-rx || -e /run/netns/spb-$id-tx ]] || break
	id=""
done
[[ -n $id ]] || die "no free run id"
"$PYTHON" -c "import jinja2" 2>/dev/null || die "needs python3-jinja2 (tools/install-deps.sh)"
cg2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
[[ -n $cg2 ]] || die "no cgroup2 mount in /proc/mounts"
RX=spb-$id-rx		# the measured host
TX=spb-$id-tx		# the flood's sender
RX_IF=spb-$id-r		# at most 10 characters: NAPI threads are named napi/<if>-<n>
TX_IF=spb-$id-t
CG=$cg2/spb-$id		# the allowed flood's server, and the egress rows' sender, run here
TMP=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	ip netns del "$RX" 2>/dev/null || true
	ip netns del "$TX" 2>/dev/null || true
	# the server is gone with the bench; a cgroup is removable once empty
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[[ -d $CG ]] || break
		rmdir "$CG" 2>/dev/null || sleep 0.3
	done
	[[ -d $CG ]] && echo "bench: could not remove $CG" >&2
	[[ -n $TMP ]] && rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d /tmp/speebpf-bench.XXXXXX)
mkdir "$CG"
ip netns add "$RX"
ip netns add "$TX"
ip link add "$RX_IF" netns "$RX" type veth peer name "$TX_IF" netns "$TX"
in_rx() { nsenter --net="/run/netns/$RX" "$@"; }
in_tx() { nsenter --net="/run/netns/$TX" "$@"; }
in_rx ip link set lo up
in_tx ip link set lo up
in_rx ip link set "$RX_IF" up
in_tx ip link set "$TX_IF" up
in_rx ip addr add 198.18.0.1/15 dev "$RX_IF"
in_rx ip addr add fd00:5e::1/64 dev "$RX_IF" nodad
in_tx ip addr add 198.19.254.1/15 dev "$TX_IF"

mkdir -p "$BENCH_RUNS"
prev=()
[[ -f $BENCH_RUNS/latest.json ]] && prev=(--previous "$BENCH_RUNS/latest.json")
label=$(git describe --always --dirty 2>/dev/null || echo unknown)
timeout --foreground -k 10 "$BENCH_TIMEOUT" "$BIN" \
	--rx-netns "/run/netns/$RX" --tx-netns "/run/netns/$TX" \
	--rx-if "$RX_IF" --tx-if "$TX_IF" --tmp "$TMP" --cgroup "$CG" \
	--json "$TMP/run.json" --label "$label" "${prev[@]}" "$@"

[[ -f $BENCH_RUNS/latest.json ]] && mv "$BENCH_RUNS/latest.json" "$BENCH_RUNS/previous.json"
cp "$TMP/run.json" "$BENCH_RUNS/latest.json"
"$PYTHON" tools/bench/render.py "$BENCH_RUNS/latest.json" BENCHMARKS.md.j2 "$BENCH_MD"
"$PYTHON" tools/bench/render.py "$BENCH_RUNS/latest.json" summary.txt.j2
echo "bench: wrote $BENCH_RUNS/latest.json and $BENCH_MD"
