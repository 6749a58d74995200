#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Installs the Debian packages that building, packaging, testing, the demo
# and the benchmarks need, and only when one of them is missing; then the npm
# packages of the deploy checks (tests/deploy, pinned by its package-lock.json),
# so that no test downloads anything.
# Usage: tools/install-deps.sh [--check | --build]
#   --check  exit 1 if something is missing
#   --build  only what `make` and `make deb` need (the Containerfile's build stage)
set -eu
cd "$(dirname "$0")/.."

BUILD_PACKAGES="
make gcc clang llvm pkg-config
libbpf-dev bpftool libelf-dev zlib1g-dev linux-libc-dev
libyaml-dev libjson-c-dev libc-ares-dev nettle-dev libmicrohttpd-dev libsystemd-dev libmnl-dev
debhelper dpkg-dev
"
# lintian checks the package; prometheus brings promtool (the alert rules);
# strace records the agent's system calls (the unit's SystemCallFilter).
# bash-completion and groff-base run the generated completion and man page (test_docs.sh);
# iputils-ping is the real ping of the ICMP end-to-end test.
TEST_PACKAGES="
libclang-rt-14-dev libcmocka-dev
iproute2 procps socat dnsmasq-base curl systemd jq valgrind iputils-ping
nftables xdp-tools python3 python3-jinja2
lintian prometheus strace bash-completion groff-base
"

mode=${1:-}
packages=$BUILD_PACKAGES
[ "$mode" = --build ] || packages="$packages $TEST_PACKAGES"
# Node.js runs the deploy checks; a machine may have it from elsewhere than Debian.
if [ "$mode" != --build ] && ! command -v npm >/dev/null; then
	packages="$packages nodejs npm"
fi

missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

# The npm packages are current when npm installed them after the lock changed.
npm_current() {
	[ tests/deploy/node_modules/.package-lock.json -nt tests/deploy/package-lock.json ]
}

if [ "$mode" = --check ]; then
	status=0
	[ -z "$missing" ] || { echo "missing packages:$missing" >&2; status=1; }
	npm_current || { echo "missing: the npm packages of tests/deploy (npm ci)" >&2; status=1; }
	exit $status
fi

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "missing packages:$missing; run as root, or: sudo apt-get install$missing" >&2
		exit 1
	fi
	echo "installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ "$mode" != --build ] && ! npm_current; then
	echo "installing: the npm packages of tests/deploy" >&2
	npm ci --prefix tests/deploy --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
fi
