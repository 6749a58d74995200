#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Builds the Debian package (debian/) with dpkg-buildpackage in a copy of the
# source tree under build/deb/, so that the build's files (debian/speebpf/,
# debian/files...) never land in this tree. Prints the package's path.
# Usage: tools/build-deb.sh   (run by `make deb`)
set -eu
cd "$(dirname "$0")/.."

tools/install-deps.sh --build
version=$(dpkg-parsechangelog -S Version)
out=build/deb
src=$out/speebpf-$version
rm -rf "$out"
mkdir -p "$src"
# The sources as they are in this tree (committed or not), without what builds make.
tar -cf - --exclude=./build --exclude=./.git --exclude=node_modules . | tar -xf - -C "$src"
(cd "$src" && dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1) || {
	echo "make deb: dpkg-buildpackage failed; the last lines of $out/build.log:" >&2
	tail -n 30 "$out/build.log" >&2
	exit 1
}
rm -rf "$src"
deb=$(ls "$out"/speebpf_"$version"_*.deb)
echo "$deb"
