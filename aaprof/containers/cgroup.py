"""Reading a container's id, runtime and pod UID out of a `/proc/<pid>/cgroup` file."""

from __future__ import annotations

import re

from aaprof.model.event import Container

# One path component that names a container: `cri-containerd-<id>.scope` (containerd, systemd
# driver), `crio-<id>.scope` / `crio-<id>` (CRI-O), `docker-<id>.scope` (Docker, cri-dockerd),
# `libpod-<id>.scope` (Podman) or a bare `<id>` (cgroupfs driver, also `/docker/<id>`).
_CONTAINER = re.compile(r"(?:(?P<prefix>[a-z][a-z0-9-]*)-)?(?P<id>[0-9a-f]{64})(?:\.scope)?")

# The runtime each scope prefix belongs to, spelt as in a pod status's `containerID` scheme.
_RUNTIMES = {
    "cri-containerd": "containerd",
    "crio": "cri-o",
    "docker": "docker",
    "libpod": "podman",
}

# A bare `<id>` leaf whose parent is one of these names tells the runtime on its own.
_PARENT_RUNTIMES = {"docker": "docker"}

# The pod level: cgroupfs `pod<uid>`, systemd `kubepods-burstable-pod<uid_>.slice` (and kind's
# `kubelet-kubepods-…`). UIDs are UUIDs (`-`, or `_` under systemd) or, for static pods, 32 hex.
_UUID = r"[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}"
_POD = re.compile(rf"(?:[a-z0-9_-]*-)?pod(?P<uid>{_UUID}|[0-9a-f]{{32}})(?:\.slice)?")


def container_from_cgroup(text: str) -> Container | None:
    """The container a process runs in, from the content of its `/proc/<pid>/cgroup` file.

    Handles cgroup v1 (one `hierarchy:controllers:path` line per hierarchy), v2 (`0::path`) and
    hybrid files; the systemd and cgroupfs drivers; containerd, CRI-O and Docker. Where lines
    disagree the last line naming a container wins (v2's `0::` line comes last), and within a
    path the last container component wins (docker-in-docker). Components after the container
    (crun's `container`, CRI-O's `exec`, a containerised systemd's own cgroups) and cgroup
    namespace `..` prefixes are allowed. conmon's `crio-conmon-<id>.scope` is not a container.

    Args:
        text: The file's content.

    Returns:
        The container's `id`, `runtime` (`containerd`, `cri-o`, `docker`, `podman`, or None when
        a cgroupfs leaf does not say) and `pod_uid` (dashed form) when under a pod, or None for
        a host process or text that names no container.
    """
    found: Container | None = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and (container := container_from_path(parts[2].strip())):
            found = container
    return found


def container_from_path(path: str) -> Container | None:
    """The container named by one cgroup path, as `container_from_cgroup` reads it.

    Args:
        path: A cgroup path, e.g. `/kubepods/burstable/pod<uid>/<id>`, possibly `/../`-prefixed.

    Returns:
        The container, or None when no component of the path names one.
    """
    components = [c for c in path.split("/") if c and c != ".."]
    for index in range(len(components) - 1, -1, -1):
        match = _CONTAINER.fullmatch(components[index])
        if match is None or _is_conmon(match["prefix"]):
            continue
        return Container(
            id=match["id"],
            runtime=_runtime(match["prefix"], components[index - 1] if index else None),
            pod_uid=_pod_uid(components[:index]),
        )
    return None


def _is_conmon(prefix: str | None) -> bool:
    # CRI-O's `crio-conmon-<id>.scope` (and Podman's `libpod-conmon-…`) hold the monitor process.
    return prefix is not None and prefix.endswith("conmon")


def _runtime(prefix: str | None, parent: str | None) -> str | None:
    if prefix is not None:
        return _RUNTIMES.get(prefix)
    return _PARENT_RUNTIMES.get(parent or "")


def _pod_uid(ancestors: list[str]) -> str | None:
    for component in reversed(ancestors):
        if match := _POD.fullmatch(component):
            return match["uid"].replace("_", "-")
    return None
