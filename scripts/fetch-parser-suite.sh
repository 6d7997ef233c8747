#!/usr/bin/env bash
# Fetch AppArmor's own parser test suite (parser/tst/simple_tests: .sd files marked
# `#=EXRESULT PASS|FAIL`) into .cache/apparmor-suite/, for tests/profiles/test_parser_suite.py.
#
# The suite is GPL-licensed and is never committed here: this script downloads Debian's source
# tarball of apparmor (the upstream release, byte for byte) from Debian's archive, checks its
# SHA-256 and extracts only parser/tst/simple_tests, to DEST/tst/simple_tests (some tests name
# includes relative to parser/tst, as ../tst/simple_tests/...). Cached: a second run does nothing.
#
#   scripts/fetch-parser-suite.sh [DEST]      DEST defaults to .cache/apparmor-suite
#
# Environment: AAPROF_DEBIAN_MIRROR (default https://deb.debian.org/debian).
# The version is pinned to the one in Debian 13 (trixie): AppArmor 4.1.0, which holds the
# AppArmor 4 syntax tests (priority=, all, userns, io_uring, mqueue, conditionals).
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.1.0
sha256=c4422381941a6f30b7a5c9ee1defb7bc4efe3adbee3f99d642aa6e9bb8bcffcf
mirror=${AAPROF_DEBIAN_MIRROR:-https://deb.debian.org/debian}
dest=${1:-.cache/apparmor-suite}
stamp="$dest/VERSION"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] && [ -d "$dest/tst/simple_tests" ]; then
    exit 0
fi
command -v curl >/dev/null || { echo "fetch-parser-suite: curl is needed (apt-get install curl)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tarball="apparmor_${version}.orig.tar.gz"
url="$mirror/pool/main/a/apparmor/$tarball"
echo "fetch-parser-suite: downloading $url" >&2
curl -fsSL --retry 3 -o "$tmp/$tarball" "$url"
echo "$sha256  $tmp/$tarball" | sha256sum -c --quiet -
tar -xzf "$tmp/$tarball" -C "$tmp" "apparmor-$version/parser/tst/simple_tests"
rm -rf "$dest"
mkdir -p "$dest"
mkdir -p "$dest/tst" && mv "$tmp/apparmor-$version/parser/tst/simple_tests" "$dest/tst/simple_tests"
echo "$version" >"$stamp"
echo "fetch-parser-suite: AppArmor $version parser suite in $dest/tst/simple_tests" >&2
