#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tools/bench/run.sh - the sandbox of `make bench`: two network namespaces
# joined by a veth pair and a temporary directory, for build/bench/speebpf-bench,
# which measures, prints a table and writes BENCHMARKS.md. Everything made
# here carries this run's id (spb-<id>-...) and goes on exit, failure or
# signal: the namespaces take their veths, XDP programs and nftables tables
# with them. Nothing is attached outside them; no namespace has a route out
# (each has only the veth's on-link prefix, in 198.18.0.0/15 and fd00:5e::/64).
#
# Usage: tools/bench/run.sh [speebpf-bench options, e.g. --quick]
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN=build/bench/speebpf-bench
: "${BENCH_TIMEOUT:=600}"	# seconds: a bound on the whole run
: "${BENCH_MD:=BENCHMARKS.md}"

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
RX=spb-$id-rx		# the measured host
TX=spb-$id-tx		# the flood's sender
RX_IF=spb-$id-r		# at most 10 characters: NAPI threads are named napi/<if>-<n>
TX_IF=spb-$id-t
TMP=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	ip netns del "$RX" 2>/dev/null || true
	ip netns del "$TX" 2>/dev/null || true
	[[ -n $TMP ]] && rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d /tmp/speebpf-bench.XXXXXX)
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

timeout --foreground -k 10 "$BENCH_TIMEOUT" "$BIN" \
	--rx-netns "/run/netns/$RX" --tx-netns "/run/netns/$TX" \
	--rx-if "$RX_IF" --tx-if "$TX_IF" --tmp "$TMP" --md "$BENCH_MD" "$@"
