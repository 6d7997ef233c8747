"""container_from_cgroup over real-shaped /proc/<pid>/cgroup files (reference §4.5)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aaprof.containers.cgroup import container_from_cgroup, container_from_path
from aaprof.model.event import Container


def _id(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


CID = _id("workload")  # the container the process belongs to
OTHER = _id("outer")  # an enclosing container (docker-in-docker) or conmon's container
UID = "0b2a4c1e-9f3d-4a7b-8c21-5e6f7a8b9c0d"
UID_ = UID.replace("-", "_")  # the systemd driver's spelling
STATIC_UID = hashlib.md5(b"static pod").hexdigest()  # kubelet's static pod UID: 32 hex, no dashes

V1_CONTROLLERS = (
    "12:hugetlb",
    "11:pids",
    "10:memory",
    "9:devices",
    "8:cpu,cpuacct",
    "7:net_cls,net_prio",
    "6:freezer",
    "5:perf_event",
    "4:blkio",
    "3:cpuset",
    "2:rdma",
    "1:name=systemd",
)


def v1(path: str, unified: str | None = None) -> str:
    """A cgroup v1 file: one line per hierarchy, all at `path` (plus a hybrid `0::` line)."""
    lines = [f"{controllers}:{path}" for controllers in V1_CONTROLLERS]
    if unified is not None:
        lines.append(f"0::{unified}")
    return "\n".join(lines) + "\n"


def v2(path: str) -> str:
    return f"0::{path}\n"


SYSTEMD_BURSTABLE = f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice"
SYSTEMD_BESTEFFORT = (
    f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice"
)

CASES: list[tuple[str, str, Container | None]] = [
    (
        "v2 systemd containerd burstable",
        v2(f"{SYSTEMD_BURSTABLE}/cri-containerd-{CID}.scope"),
        Container(id=CID, runtime="containerd", pod_uid=UID),
    ),
    (
        "v2 systemd CRI-O besteffort (runc)",
        v2(f"{SYSTEMD_BESTEFFORT}/crio-{CID}.scope"),
        Container(id=CID, runtime="cri-o", pod_uid=UID),
    ),
    (
        "v2 systemd CRI-O with crun's container child",
        v2(f"{SYSTEMD_BESTEFFORT}/crio-{CID}.scope/container"),
        Container(id=CID, runtime="cri-o", pod_uid=UID),
    ),
    (
        "v2 systemd CRI-O exec child (kubectl exec)",
        v2(f"{SYSTEMD_BESTEFFORT}/crio-{CID}.scope/exec"),
        Container(id=CID, runtime="cri-o", pod_uid=UID),
    ),
    (
        "v2 systemd guaranteed pod (no QoS slice)",
        v2(f"/kubepods.slice/kubepods-pod{UID_}.slice/cri-containerd-{CID}.scope"),
        Container(id=CID, runtime="containerd", pod_uid=UID),
    ),
    (
        "v2 cgroupfs containerd (k3s): runtime unknown",
        v2(f"/kubepods/burstable/pod{UID}/{CID}"),
        Container(id=CID, runtime=None, pod_uid=UID),
    ),
    (
        "v2 cgroupfs guaranteed pod",
        v2(f"/kubepods/pod{UID}/{CID}"),
        Container(id=CID, runtime=None, pod_uid=UID),
    ),
    (
        "v1 cgroupfs containerd/docker",
        v1(f"/kubepods/burstable/pod{UID}/{CID}"),
        Container(id=CID, runtime=None, pod_uid=UID),
    ),
    (
        "v1 cgroupfs CRI-O",
        v1(f"/kubepods/besteffort/pod{UID}/crio-{CID}"),
        Container(id=CID, runtime="cri-o", pod_uid=UID),
    ),
    (
        "v1 systemd docker, guaranteed",
        v1(f"/kubepods.slice/kubepods-pod{UID_}.slice/docker-{CID}.scope"),
        Container(id=CID, runtime="docker", pod_uid=UID),
    ),
    (
        "hybrid: v1 controllers plus the unified 0:: line",
        v1(
            f"{SYSTEMD_BURSTABLE}/cri-containerd-{CID}.scope",
            unified=f"{SYSTEMD_BURSTABLE}/cri-containerd-{CID}.scope",
        ),
        Container(id=CID, runtime="containerd", pod_uid=UID),
    ),
    (
        "conmon in system.slice is not the workload",
        v2(f"/system.slice/crio-conmon-{CID}.scope"),
        None,
    ),
    (
        "conmon in the pod slice is not the workload",
        v2(f"{SYSTEMD_BESTEFFORT}/crio-conmon-{CID}.scope"),
        None,
    ),
    (
        "cgroup namespace: another pod seen from inside a container",
        v2(
            "/../../../kubepods-burstable.slice/"
            f"kubepods-burstable-pod{UID_}.slice/cri-containerd-{CID}.scope"
        ),
        Container(id=CID, runtime="containerd", pod_uid=UID),
    ),
    (
        "cgroup namespace: a sibling container, pod level cut off",
        v2(f"/../cri-containerd-{CID}.scope"),
        Container(id=CID, runtime="containerd", pod_uid=None),
    ),
    (
        "docker-in-docker: the last (innermost) id wins",
        v1(f"/docker/{OTHER}/docker/{CID}"),
        Container(id=CID, runtime="docker", pod_uid=None),
    ),
    (
        "docker-in-docker inside a pod",
        v2(f"/kubepods/besteffort/pod{UID}/{OTHER}/docker/{CID}"),
        Container(id=CID, runtime="docker", pod_uid=UID),
    ),
    (
        "standalone Docker, systemd driver",
        v2(f"/system.slice/docker-{CID}.scope"),
        Container(id=CID, runtime="docker"),
    ),
    (
        "kind node: kubelet's cgroup root nests the slices",
        v2(
            "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
            f"kubelet-kubepods-besteffort-pod{UID_}.slice/cri-containerd-{CID}.scope"
        ),
        Container(id=CID, runtime="containerd", pod_uid=UID),
    ),
    (
        "static pod: 32-hex UID",
        v2(f"/kubepods.slice/kubepods-pod{STATIC_UID}.slice/cri-containerd-{CID}.scope"),
        Container(id=CID, runtime="containerd", pod_uid=STATIC_UID),
    ),
    (
        "containerised systemd's own cgroups below the container",
        v2(f"{SYSTEMD_BURSTABLE}/cri-containerd-{CID}.scope/system.slice/nginx.service"),
        Container(id=CID, runtime="containerd", pod_uid=UID),
    ),
    ("host: v2 system service", v2("/system.slice/ssh.service"), None),
    ("host: v2 user session", v2("/user.slice/user-1000.slice/session-3.scope"), None),
    ("host: v2 init", v2("/init.scope"), None),
    ("host: v2 root", v2("/"), None),
    ("host: containerd itself", v2("/system.slice/containerd.service"), None),
    ("host: v1 service", v1("/system.slice/kubelet.service"), None),
    ("host: pod slice without a container", v2(SYSTEMD_BURSTABLE), None),
    ("empty file (process gone mid-read)", "", None),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_container_from_cgroup(text: str, expected: Container | None) -> None:
    assert container_from_cgroup(text) == expected


def test_last_line_naming_a_container_wins() -> None:
    # A v1 hierarchy left behind (e.g. a stale name=systemd path) must not beat the 0:: line.
    text = f"1:name=systemd:/docker/{OTHER}\n0::{SYSTEMD_BURSTABLE}/cri-containerd-{CID}.scope\n"
    found = container_from_cgroup(text)
    assert found is not None
    assert (found.id, found.runtime) == (CID, "containerd")


def test_line_without_container_does_not_erase_earlier_match() -> None:
    found = container_from_cgroup(v1(f"/kubepods/burstable/pod{UID}/{CID}", unified="/"))
    assert found is not None
    assert found.id == CID


def test_pod_uid_is_only_taken_above_the_container() -> None:
    # A `pod…` component below the container is the workload's own business, not the pod level.
    found = container_from_path(f"/system.slice/docker-{CID}.scope/pod{UID}")
    assert found == Container(id=CID, runtime="docker", pod_uid=None)


def test_uppercase_or_short_ids_are_not_containers() -> None:
    assert container_from_path(f"/kubepods/pod{UID}/{CID.upper()}") is None
    assert container_from_path(f"/kubepods/pod{UID}/{CID[:63]}") is None
    assert container_from_path(f"/kubepods/pod{UID}/{CID}0") is None


def test_malformed_lines_are_skipped() -> None:
    text = f"garbage\n\n7:cpu\n0::{SYSTEMD_BESTEFFORT}/crio-{CID}.scope\n"
    assert container_from_cgroup(text) == Container(id=CID, runtime="cri-o", pod_uid=UID)


@given(st.text())
def test_never_invents_an_id(text: str) -> None:
    found = container_from_cgroup(text)
    if found is not None:
        assert found.id is not None
        assert found.id in text
        assert found.pod_uid is None or found.pod_uid.replace("-", "_") in text.replace("-", "_")


@given(
    st.lists(st.sampled_from(["..", "kubepods", "burstable", f"pod{UID}", "x.slice"]), max_size=6),
    st.sampled_from(["", "cri-containerd-", "crio-", "docker-"]),
    st.sampled_from(["", ".scope"]),
    st.lists(st.sampled_from(["container", "exec", "init.scope"]), max_size=2),
)
def test_id_found_whatever_surrounds_it(
    above: list[str], prefix: str, suffix: str, below: list[str]
) -> None:
    path = "/".join(["", *above, f"{prefix}{CID}{suffix}", *below])
    found = container_from_cgroup(v2(path))
    assert found is not None
    assert found.id == CID
    assert found.pod_uid == (UID if f"pod{UID}" in above else None)
