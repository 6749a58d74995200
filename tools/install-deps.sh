#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Installs the Debian packages that building, testing, the demo and the
# benchmarks need, and only when one of them is missing.
# Usage: tools/install-deps.sh [--check]   (--check: exit 1 if something is missing)
set -eu

PACKAGES="
make gcc clang llvm pkg-config libclang-rt-14-dev
libbpf-dev bpftool libelf-dev zlib1g-dev
libyaml-dev libjson-c-dev libc-ares-dev nettle-dev libmicrohttpd-dev libsystemd-dev
libcmocka-dev
iproute2 procps socat dnsmasq-base curl systemd jq valgrind strace
nftables xdp-tools
"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

[ -z "$missing" ] && exit 0
if [ "${1:-}" = "--check" ]; then
	echo "missing packages:$missing" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "missing packages:$missing; run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
