"""A tiny OCI image writer: busybox-static as a one-layer image, as an OCI archive for `ctr
images import`. The node (tests/cluster/node.py) has no registry: its pause image and its test
workloads' image are made here, byte for byte the same on every run (fixed times, sorted
entries), from the host's Debian busybox-static.

The archive's index names the image with containerd's `io.containerd.image.name` annotation,
so `ctr -n k8s.io images import FILE` stores it under that name; pods use it with
`imagePullPolicy: Never`.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"


def _tar(entries: Sequence[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            info.mtime = 0
            info.uid = info.gid = 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _dir(name: str, mode: int = 0o755) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    return info, None


def busybox_layer() -> bytes:
    """/bin/busybox, a link per applet in /bin, /etc/passwd and /tmp: an uncompressed tar."""
    data = BUSYBOX.read_bytes()
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = [
        _dir("bin"), _dir("etc"), _dir("tmp", 0o1777), _dir("proc"), _dir("sys"), _dir("dev"),
    ]  # fmt: skip
    info = tarfile.TarInfo("bin/busybox")
    info.size, info.mode = len(data), 0o755
    entries.append((info, data))
    for applet in sorted(set(applets) - {"busybox"}):
        link = tarfile.TarInfo(f"bin/{applet}")
        link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
        entries.append((link, None))
    passwd = b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"
    info = tarfile.TarInfo("etc/passwd")
    info.size, info.mode = len(passwd), 0o644
    entries.append((info, passwd))
    return _tar(entries)


def _blob(data: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def oci_archive(name: str, layer: bytes, entrypoint: Sequence[str], cmd: Sequence[str]) -> bytes:
    """An OCI image layout as one tar: one linux/amd64 image called NAME (`host/repo:tag`)."""
    layer_digest, _ = _blob(layer)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": list(entrypoint) or None, "Cmd": list(cmd) or None,
                   "Env": ["PATH=/bin"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "tests/cluster/ociimage.py (busybox-static)"}],
    }, sort_keys=True).encode()  # fmt: skip
    config_digest, _ = _blob(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": MEDIA_LAYER, "digest": layer_digest, "size": len(layer)}],
    }, sort_keys=True).encode()  # fmt: skip
    manifest_digest, _ = _blob(manifest)
    tag = name.rsplit(":", 1)[1]
    index = json.dumps({
        "schemaVersion": 2, "mediaType": MEDIA_INDEX,
        "manifests": [{
            "mediaType": MEDIA_MANIFEST, "digest": manifest_digest, "size": len(manifest),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": name,
                            "org.opencontainers.image.ref.name": tag},
        }],
    }, sort_keys=True).encode()  # fmt: skip
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = [_dir("blobs"), _dir("blobs/sha256")]
    for data in (layer, config, manifest):
        digest, _ = _blob(data)
        info = tarfile.TarInfo(f"blobs/sha256/{digest.removeprefix('sha256:')}")
        info.size, info.mode = len(data), 0o644
        entries.append((info, data))
    for path, data in (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)):
        info = tarfile.TarInfo(path)
        info.size, info.mode = len(data), 0o644
        entries.append((info, data))
    return _tar(entries)
