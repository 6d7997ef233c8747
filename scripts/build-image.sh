#!/bin/sh
# Build the aaprof image (docs/kubernetes.md#the-aaprof-image): the one image both the loader
# DaemonSet (`aaprof node load`) and the watch DaemonSet (`aaprof watch`) run. Made from Debian
# packages and the aaprof wheel with no container registry: mmdebstrap makes the root
# filesystem, umoci makes the OCI image. Run by `./dev.sh image [OUT]` (as root, on Debian).
#
# Writes OUT (default ./aaprof-image):
#   OUT/oci            an OCI image layout, tagged with the tag of the image name aaprof's
#                      manifests use (aaprof.k8s.image.DEFAULT_IMAGE, localhost/aaprof:VERSION)
#   OUT/aaprof.oci.tar the same as one archive, for
#                      `ctr -n k8s.io images import --base-name localhost/aaprof OUT/aaprof.oci.tar`
#                      or `skopeo copy oci-archive:OUT/aaprof.oci.tar docker://REGISTRY/aaprof:TAG`
#   OUT/bundle         the unpacked runtime bundle (rootfs + config.json), for runc
#   OUT/image-name     that name, one line
# Environment: SUITE (default bookworm), MIRROR (default: apt's own), PYTHON (the Python that
# builds the wheel, default /usr/bin/python3: Debian 12's, whose C accelerator the image's
# python3 loads; with another, aaprof in the image uses its pure-Python searches).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-aaprof-image}")
suite=${SUITE:-bookworm}
python=${PYTHON:-/usr/bin/python3}
# python3 and click for aaprof, PyYAML and Jinja2 for manifests, apparmor for apparmor_parser and
# the abi/tunables/abstractions files profiles include (the loader); python3-systemd for the
# journal (watch)
packages=python3,python3-click,python3-yaml,python3-jinja2,python3-systemd,apparmor,ca-certificates
# pure-Python wheels from PyPI where Debian 12's package is older than pyproject.toml asks:
# pyparsing >= 3.1 (aaprof's grammar; Debian has 3.0.9), prometheus-client >= 0.17 (watch's
# /metrics; Debian has 0.16)
wheels="pyparsing>=3.1 prometheus-client>=0.17"
say() { echo "build-image: $*" >&2; }

for tool in mmdebstrap umoci chroot; do
    command -v "$tool" >/dev/null 2>&1 || {
        say "$tool not found: apt-get install mmdebstrap umoci"
        exit 1
    }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say "the aaprof wheel"
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work/dist" "$here"
wheel=$(ls "$work"/dist/aaprof-*.whl)
say "the wheels of $wheels"
# shellcheck disable=SC2086
"$python" -m pip download --quiet --disable-pip-version-check --no-deps \
    --only-binary :all: -d "$work/deps" $wheels

say "the Debian $suite root filesystem"
rm -rf "$out"
mkdir -p "$out"
# tagged "build" until the image's own aaprof says its name
umoci init --layout "$out/oci"
umoci new --image "$out/oci:build"
umoci unpack --image "$out/oci:build" "$work/bundle"
# shellcheck disable=SC2086
mmdebstrap --quiet --variant=minbase --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$suite" "$work/rootfs.tar" ${MIRROR:-}
tar -C "$work/bundle/rootfs" -xf "$work/rootfs.tar"
rm -rf "$work/bundle/rootfs/var/lib/apt/lists/"* "$work/bundle/rootfs/var/cache/apt/"*

say "aaprof"
for dep in "$work"/deps/*.whl; do
    "$python" "$here/scripts/unpack-wheel.py" "$dep" "$work/bundle/rootfs"
done
"$python" "$here/scripts/unpack-wheel.py" "$wheel" "$work/bundle/rootfs"
run() { chroot "$work/bundle/rootfs" "$@"; }
run /usr/local/bin/aaprof --version >&2
# Every module `aaprof node load` and `aaprof watch` import, including those they import only
# when they run (the journal, /metrics): a missing dependency fails here, not on a node.
run python3 -c "
import importlib, pkgutil, aaprof
for package in ('node', 'watch', 'logs', 'containers', 'profiles', 'model', 'k8s'):
    module = importlib.import_module('aaprof.' + package)
    for info in pkgutil.walk_packages(module.__path__, module.__name__ + '.'):
        importlib.import_module(info.name)
import aaprof.cli.node, aaprof.cli.watch, prometheus_client, systemd.journal
"
run /usr/local/bin/aaprof node load --help >/dev/null
run /usr/local/bin/aaprof watch --help >/dev/null
name=$(run python3 -c "from aaprof.k8s.image import DEFAULT_IMAGE; print(DEFAULT_IMAGE)")
tag=${name##*:}
version=$(run /usr/local/bin/aaprof --version | sed 's/.* //')

say "the OCI image $name"
umoci repack --image "$out/oci:build" "$work/bundle"
umoci tag --image "$out/oci:build" "$tag"
umoci rm --image "$out/oci:build"
# the loader's command by default; the watch DaemonSet's `args: [watch, ...]` replaces it
umoci config --image "$out/oci:$tag" \
    --config.entrypoint /usr/local/bin/aaprof \
    --config.cmd node --config.cmd load --config.cmd /profiles --config.cmd --watch \
    --config.cmd --prune \
    --config.label "org.opencontainers.image.title=aaprof" \
    --config.label "org.opencontainers.image.version=$version"
umoci gc --layout "$out/oci"
umoci unpack --image "$out/oci:$tag" "$out/bundle"
tar -C "$out/oci" -cf "$out/aaprof.oci.tar" .
echo "$name" >"$out/image-name"
say "wrote $out/oci (tag $tag), $out/aaprof.oci.tar, $out/bundle"
say "on a node: ctr -n k8s.io images import --base-name ${name%:*} $out/aaprof.oci.tar"
say "to a registry: skopeo copy oci-archive:$out/aaprof.oci.tar docker://REGISTRY/aaprof:$tag"
say "  (then --image REGISTRY/aaprof:$tag on aaprof generate and aaprof watch --manifests)"
