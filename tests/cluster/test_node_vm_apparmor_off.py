"""The seed's last node case: a node whose kernel runs without AppArmor (`apparmor=0` on the
VM's kernel command line, a second boot) must not run a pod that asks for a profile. The 1.37
kubelet refuses such a pod at its own admission (phase Failed, reason `AppArmor`) before the
runtime sees it; an `Unconfined` pod, or one naming no profile, runs.

docs/kubernetes.md ("Tested on") has the behaviour each case showed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from cluster.conftest import Cluster
from cluster.nodepods import (
    PROFILE,
    WAIT,
    NodeCluster,
    create,
    node_cluster,
    on_node,
    pod,
    sandboxes,
    wait_pod,
)

pytestmark = pytest.mark.vm

REFUSED = "Cannot enforce AppArmor: AppArmor is not enabled on the host"


@pytest.fixture(scope="module")
def no_apparmor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeCluster]:
    with node_cluster(tmp_path_factory.mktemp("node-noaa"), kernel_args="apparmor=0") as nc:
        yield nc


def wait_failed(c: Cluster, name: str) -> dict[str, Any]:
    """The pod once its phase is Failed; fails the test with its status after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = c.get_json("pod", name).get("status", {})
        if status.get("phase") == "Failed":
            return status
        time.sleep(2)
    pytest.fail(f"pod {name} did not fail after {WAIT:.0f} s: {status}")


def test_kernel_says_disabled(no_apparmor: NodeCluster) -> None:
    out = no_apparmor.node.check("cat /sys/module/apparmor/parameters/enabled")
    assert out.strip() == "N"


def test_node_check_says_the_runtime_applies_nothing(no_apparmor: NodeCluster) -> None:
    """The kernel's finding and containerd's report side by side: containerd's configuration
    says AppArmor is on, the kernel has it off, so nothing applies a profile."""
    rc, out = no_apparmor.node.sh("aaprof node check")
    assert rc == 1, out
    assert "ok       cri: containerd v2.4.2 (CRI v1)" in out, out
    assert (
        "problem  runtime apparmor: disableApparmor: false, but the kernel has AppArmor off" in out
    ), out


@pytest.mark.parametrize(
    ("name", "profile", "annotation"),
    [
        ("localhost", {"type": "Localhost", "localhostProfile": PROFILE}, None),
        ("runtime-default", {"type": "RuntimeDefault"}, None),
        ("legacy-annotation", None, f"localhost/{PROFILE}"),
    ],
)
def test_pod_asking_for_a_profile_is_refused_by_the_kubelet(
    no_apparmor: NodeCluster, name: str, profile: dict[str, str] | None, annotation: str | None
) -> None:
    c = no_apparmor.cluster
    create(c, pod(name, profile, annotation=annotation))
    status = wait_failed(c, name)
    assert status.get("reason") == "AppArmor", status
    assert REFUSED in status.get("message", ""), status
    # refused before the runtime: no sandbox was made for it
    assert name not in sandboxes(no_apparmor)


@pytest.mark.parametrize(
    "profile", [{"type": "Unconfined"}, None], ids=["unconfined", "no-profile"]
)
def test_pod_asking_for_no_profile_runs(
    no_apparmor: NodeCluster, profile: dict[str, str] | None
) -> None:
    name = "unconfined" if profile else "no-profile"
    c = no_apparmor.cluster
    create(c, pod(name, profile))
    label, inspect = on_node(no_apparmor, wait_pod(c, name, "running"))
    assert "apparmorProfile" not in inspect["info"]["runtimeSpec"]["process"]
    # no LSM with a label of its own is active: the kernel answers `kernel`
    assert label == "kernel", label
