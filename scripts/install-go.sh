#!/usr/bin/env bash
# Print the directory of a Go >= 1.26 toolchain's `go`, installing one when none is on PATH.
#
# The tests' real Kubernetes programs are built from Go modules that need Go 1.26 (tests/cluster,
# docs/cluster.md), which Debian 12 and Ubuntu 24.04 do not package. Go's own way of fetching a
# toolchain (GOTOOLCHAIN) takes it from the Go module proxy as the module golang.org/toolchain;
# this script does the same for the pinned version, checks the zip's SHA-256, and unpacks it
# into ${XDG_CACHE_HOME:-~/.cache}/aaprof/go-toolchain (outside the clone, kept across clones).
set -euo pipefail
version=1.26.8
sha256=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7  # linux-amd64
if command -v go >/dev/null; then
    have=$(go env GOVERSION)  # go1.26.8
    minor=${have#go1.}
    minor=${minor%%.*}
    if [ "${have#go1.}" != "$have" ] && [ "$minor" -ge 26 ] 2>/dev/null; then
        dirname "$(command -v go)"
        exit 0
    fi
fi
dest=${XDG_CACHE_HOME:-$HOME/.cache}/aaprof/go-toolchain/go$version
if [ -x "$dest/bin/go" ]; then
    echo "$dest/bin"
    exit 0
fi
if [ "$(uname -m)" != x86_64 ]; then
    echo "install-go.sh: install Go >= 1.26 for $(uname -m) and put it on PATH" >&2
    exit 1
fi
echo "install-go.sh: fetching Go $version from the Go module proxy into $dest" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -sSfL -o "$tmp/go.zip" \
    "${GOPROXY_URL:-https://proxy.golang.org}/golang.org/toolchain/@v/v0.0.1-go$version.linux-amd64.zip"
echo "$sha256  $tmp/go.zip" | sha256sum -c --quiet -
python3 - "$tmp/go.zip" "$tmp/unpacked" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        path = z.extract(info, sys.argv[2])
        mode = info.external_attr >> 16
        if mode:
            os.chmod(path, mode & 0o777)
PY
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$tmp/unpacked/golang.org/toolchain@v0.0.1-go$version.linux-amd64" "$dest"
"$dest/bin/go" version >&2
echo "$dest/bin"
