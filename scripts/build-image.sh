#!/bin/sh
# Build the aaprof loader image (docs/kubernetes.md#the-loader-image) from Debian packages and
# the aaprof wheel, with no container registry: mmdebstrap makes the root filesystem, umoci
# makes the OCI image. Run as root on Debian (apt-get install mmdebstrap umoci).
#
#   scripts/build-loader-image.sh [OUT]     (OUT defaults to ./loader-image)
#
# Writes OUT/oci (an OCI image layout, tag $TAG), OUT/aaprof-loader.oci.tar (the same as one
# archive: `ctr -n k8s.io images import --base-name localhost/aaprof-loader OUT/...oci.tar`, or
# `skopeo copy oci-archive:OUT/aaprof-loader.oci.tar docker://REGISTRY/aaprof-loader:TAG`) and
# OUT/bundle (the unpacked runtime bundle: rootfs + config.json, for runc).
# Environment: SUITE (default bookworm), MIRROR (default: apt's own), TAG (default: aaprof's
# version).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-loader-image}")
suite=${SUITE:-bookworm}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/pyproject.toml")
tag=${TAG:-$version}
# what the loader runs: python3 and click for aaprof, PyYAML for manifests, apparmor for
# apparmor_parser and the abi/tunables/abstractions files profiles include
packages=python3,python3-click,python3-yaml,python3-jinja2,apparmor,ca-certificates

for tool in mmdebstrap umoci python3; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "build-loader-image: $tool not found: apt-get install mmdebstrap umoci" >&2
        exit 1
    }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "build-loader-image: the aaprof wheel" >&2
"${PYTHON:-python3}" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work/dist" "$here"
wheel=$(ls "$work"/dist/aaprof-*.whl)
# the loader checks profiles with aaprof's own grammar, which needs pyparsing >= 3.1 (pyproject);
# Debian 12 ships 3.0.9, so its wheel comes from PyPI (pure Python)
echo "build-loader-image: the pyparsing wheel" >&2
"${PYTHON:-python3}" -m pip download --quiet --disable-pip-version-check --no-deps \
    --only-binary :all: -d "$work/deps" "pyparsing>=3.1"

echo "build-loader-image: the Debian $suite root filesystem" >&2
rm -rf "$out"
mkdir -p "$out"
umoci init --layout "$out/oci"
umoci new --image "$out/oci:$tag"
umoci unpack --image "$out/oci:$tag" "$work/bundle"
# shellcheck disable=SC2086
mmdebstrap --quiet --variant=minbase --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$suite" "$work/rootfs.tar" ${MIRROR:-}
tar -C "$work/bundle/rootfs" -xf "$work/rootfs.tar"
rm -rf "$work/bundle/rootfs/var/lib/apt/lists/"* "$work/bundle/rootfs/var/cache/apt/"*

echo "build-loader-image: aaprof $version" >&2
for dep in "$work"/deps/*.whl; do
    python3 "$here/scripts/unpack-wheel.py" "$dep" "$work/bundle/rootfs"
done
python3 "$here/scripts/unpack-wheel.py" "$wheel" "$work/bundle/rootfs"
chroot "$work/bundle/rootfs" /usr/local/bin/aaprof --version >&2
# every module the loader imports is there (a missing dependency fails here, not on a node)
chroot "$work/bundle/rootfs" python3 -c "import aaprof.cli.node, aaprof.node.load, aaprof.node.daemon"

echo "build-loader-image: the OCI image" >&2
umoci repack --image "$out/oci:$tag" "$work/bundle"
umoci config --image "$out/oci:$tag" \
    --config.entrypoint /usr/local/bin/aaprof \
    --config.cmd node --config.cmd load --config.cmd /profiles --config.cmd --watch \
    --config.cmd --prune \
    --config.label "org.opencontainers.image.title=aaprof-loader" \
    --config.label "org.opencontainers.image.version=$version"
umoci gc --layout "$out/oci"
umoci unpack --image "$out/oci:$tag" "$out/bundle"
tar -C "$out/oci" -cf "$out/aaprof-loader.oci.tar" .
echo "build-loader-image: wrote $out/oci (tag $tag), $out/aaprof-loader.oci.tar, $out/bundle" >&2
