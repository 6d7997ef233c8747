#!/usr/bin/env bash
# Build one family of the Go programs the tests run, from its pinned module under
# tests/cluster/go/FAMILY, into a cache OUTSIDE the clone, and print the directory that holds its
# programs (the last line of stdout). Progress goes to stderr.
#
#   tests/cluster/build-go.sh kubernetes   kube-apiserver, kube-controller-manager, kube-scheduler,
#                                          kubelet, kubectl (one multi-call binary, five links)
#   tests/cluster/build-go.sh etcd         etcd
#   tests/cluster/build-go.sh containerd   containerd, ctr, containerd-shim-runc-v2 (upstream's
#                                          three mains, three binaries)
#   tests/cluster/build-go.sh cni          the CNI plugins the node runs: bridge, host-local, loopback
#   tests/cluster/build-go.sh crictl       crictl, the CRI's client
#   tests/cluster/build-go.sh kyverno      Kyverno's CLI (by hand only: docs/cluster.md)
#   tests/cluster/build-go.sh --where F    print the directory without building (exit 1 if unbuilt)
#
# The cache entry is keyed by what is built: the family's go.mod, go.sum and *.go, this script,
# the Go version and the target platform. A fresh clone on a machine that built the same family before reuses
# the build; a change to the pins builds anew beside the old one. The cache is
# $AAPROF_GO_CACHE, default ${XDG_CACHE_HOME:-~/.cache}/aaprof/go. Go's own module and build
# caches (GOMODCACHE, GOCACHE) are Go's defaults, also outside the clone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
where_only=0
if [ "${1:-}" = "--where" ]; then
    where_only=1
    shift
fi
family=${1:?usage: build-go.sh [--where] kubernetes|etcd|containerd|cni|crictl|kyverno}
src=$here/go/$family
[ -f "$src/go.mod" ] || { echo "build-go.sh: no module for $family in $src" >&2; exit 2; }
command -v go >/dev/null || {
    echo "build-go.sh: go is not on PATH: install Go >= 1.26 (the pinned modules need it)" >&2
    exit 1
}
goversion=$(go env GOVERSION)
key=$( (cd "$src" && cat go.mod go.sum ./*.go "$here/build-go.sh"
        echo "$goversion $(go env GOOS)/$(go env GOARCH)") | sha256sum | cut -c1-16)
cache=${AAPROF_GO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aaprof/go}
out=$cache/$family-$key
if [ -f "$out/.complete" ]; then
    echo "$out/bin"
    exit 0
fi
if [ "$where_only" -eq 1 ]; then
    echo "build-go.sh: $family is not built (tests/cluster/build-go.sh $family builds it)" >&2
    exit 1
fi
mkdir -p "$cache"
exec 9>"$cache/$family.lock"
flock 9  # another build of the same family (a second clone, a parallel shell) finishes first
if [ -f "$out/.complete" ]; then
    echo "$out/bin"
    exit 0
fi
tmp=$(mktemp -d "$cache/.$family-$key.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
start=$(date +%s)
echo "build-go.sh: building $family ($goversion, key $key) into $out; a cold build takes minutes" \
     "(docs/cluster.md)" >&2
case "$family" in
    kubernetes)
        # the version the programs report (`kubectl version`, /version), as Kubernetes' own
        # build stamps it; without it they say v0.0.0-master
        version=$(cd "$src" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
        minor=${version#v1.}
        minor=${minor%%.*}
        ldflags="-s -w"
        for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
            ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
            ldflags+=" -X $pkg.gitTreeState=clean"
        done
        (cd "$src" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags="$ldflags" -o "$tmp/bin/kube" .)
        for name in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
            ln -s kube "$tmp/bin/$name"
        done
        ;;
    etcd)
        (cd "$src" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags='-s -w' -o "$tmp/bin/etcd" .)
        ;;
    containerd)
        # upstream's mains, as its Makefile builds them: version stamped; without the snapshotters
        # and the tracing exporter no test uses (btrfs needs cgo anyway); the shim without gRPC
        version=$(cd "$src" && go list -m -f '{{.Version}}' github.com/containerd/containerd/v2)
        cmd=github.com/containerd/containerd/v2/cmd
        ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=$version"
        tags="urfave_cli_no_docs no_btrfs no_devmapper no_zfs no_tracing"
        (cd "$src" && CGO_ENABLED=0 go build -mod=readonly -trimpath -tags "$tags" -ldflags="$ldflags" \
            -o "$tmp/bin/" "$cmd/containerd" "$cmd/ctr")
        (cd "$src" && CGO_ENABLED=0 go build -mod=readonly -trimpath -tags "$tags no_grpc" -ldflags="$ldflags" \
            -o "$tmp/bin/containerd-shim-runc-v2" "$cmd/containerd-shim-runc-v2")
        ;;
    cni | crictl)  # upstream's own mains, named by the `tool` directives of the family's go.mod
        (cd "$src" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags='-s -w' -o "$tmp/bin/" tool)
        ;;
    kyverno)  # not built by ./dev.sh test: its cold build does not fit CI (docs/cluster.md)
        (cd "$src" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags='-s -w' -o "$tmp/bin/kyverno" .)
        ;;
    *)
        echo "build-go.sh: unknown family $family" >&2
        exit 2
        ;;
esac
echo "$(($(date +%s) - start))" > "$tmp/build-seconds"
touch "$tmp/.complete"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "build-go.sh: $family built in $(cat "$out/build-seconds") s" >&2
echo "$out/bin"
