"""The pods the real-node tests (test_node_vm*.py) run, and how they read what the kubelet
and the runtime did: the pod's status through the API server, the container's
/proc/PID/attr/current and `crictl inspect` on the node."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cluster import controlplane
from cluster import node as vmnode
from cluster.conftest import Cluster

PROFILE = "aaprof-node-test"
UNLOADED = "aaprof-node-missing"
# a profile that runs busybox but denies reading /etc/passwd: an enforce-mode denial the
# container's own output shows
PROFILE_TEXT = f"""abi <abi/3.0>,
profile {PROFILE} flags=(attach_disconnected,mediate_deleted) {{
  file,
  network,
  capability,
  signal,
  unix,
  deny /etc/passwd r,
}}
"""
# the container says who it is, tries what PROFILE denies, then waits
COMMAND = [
    "sh", "-c",
    "echo label=$(cat /proc/self/attr/current); cat /etc/passwd > /dev/null 2>&1; "
    "echo passwd=$?; exec sleep 100000",
]  # fmt: skip
WAIT = 600.0  # seconds a pod may take to start on the emulated node beside busy CPUs


@dataclass
class NodeCluster:
    cluster: Cluster
    node: vmnode.Node


@contextmanager
def node_cluster(directory: Path, kernel_args: str = "") -> Iterator[NodeCluster]:
    """A control plane and the VM node in DIRECTORY, started as `./dev.sh cluster up --node`
    starts them (KERNEL_ARGS: `--node-kernel-args`); stopped at the end, logs kept."""
    try:
        kube = controlplane.bin_dir("kubernetes", build=False)
        for family in ("etcd", "containerd", "cni", "crictl"):
            controlplane.bin_dir(family, build=False)
    except controlplane.ClusterError as e:
        pytest.fail(f"{e}; `./dev.sh test` builds them before running the tests")
    started = subprocess.run(
        [sys.executable, str(controlplane.HERE / "controlplane.py"), "up", "--node",
         f"--node-kernel-args={kernel_args}", "--dir", str(directory)],
        capture_output=True, text=True, check=False, timeout=3600,
    )  # fmt: skip
    if started.returncode != 0:
        controlplane.down(directory, keep_logs=True)
        pytest.fail(f"the control plane with its node did not start:\n{started.stderr[-5000:]}")
    plane = controlplane.ControlPlane.load(directory)
    try:
        yield NodeCluster(Cluster(plane, kube / "kubectl"), vmnode.attach(plane))
    finally:
        controlplane.down(directory, keep_logs=True)


def pod(
    name: str,
    profile: dict[str, str] | None,
    annotation: str | None = None,
    namespace: str = "default",
) -> dict[str, Any]:
    """A busybox Pod on the node running COMMAND; PROFILE is its container's appArmorProfile."""
    container: dict[str, Any] = {
        "name": "c", "image": vmnode.TEST_IMAGE, "imagePullPolicy": "Never", "command": COMMAND,
    }  # fmt: skip
    if profile is not None:
        container["securityContext"] = {"appArmorProfile": profile}
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotation is not None:
        metadata["annotations"] = {"container.apparmor.security.beta.kubernetes.io/c": annotation}
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": metadata,
        "spec": {
            "nodeName": vmnode.NAME, "automountServiceAccountToken": False,
            "dnsPolicy": "Default",  # no cluster DNS
            "terminationGracePeriodSeconds": 0, "containers": [container],
        },
    }  # fmt: skip


def create(c: Cluster, manifest: dict[str, Any]) -> None:
    c.kubectl("create", "-f", "-", input=json.dumps(manifest))


def wait_pod(c: Cluster, name: str, want: str, namespace: str = "default") -> dict[str, Any]:
    """The pod once its container is running (WANT "running") or waiting with a reason other
    than ContainerCreating (WANT "waiting"); fails with the pod's status after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        obj: dict[str, Any] = c.get_json("pod", name, "-n", namespace)
        status = obj.get("status", {})
        for cs in status.get("containerStatuses", []):
            state = cs.get("state", {})
            if want == "running" and "running" in state:
                return obj
            waiting = state.get("waiting", {})
            if want == "waiting" and waiting.get("reason") not in (None, "ContainerCreating"):
                return obj
        time.sleep(2)
    pytest.fail(f"pod {name} not {want} after {WAIT:.0f} s: {json.dumps(status)}")


def on_node(nc: NodeCluster, obj: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The container's AppArmor label from /proc/PID/attr/current on the node (`unreadable:
    ERROR` when the kernel refuses to say), and `crictl inspect`'s JSON of it."""
    cid = obj["status"]["containerStatuses"][0]["containerID"].removeprefix("containerd://")
    inspect = json.loads(nc.node.check(f"crictl inspect {cid}"))
    pid = inspect["info"]["pid"]
    rc, out = nc.node.sh(f"cat /proc/{pid}/attr/current")
    label = out.strip().strip("\0") if rc == 0 else f"unreadable: {out.strip()}"
    return label, inspect


def sandboxes(nc: NodeCluster) -> set[str]:
    """The names of the pods the runtime has a sandbox for (`crictl pods`), in any state."""
    listed = json.loads(nc.node.check("crictl pods -o json"))
    return {str(s["metadata"]["name"]) for s in listed["items"]}


def logs(c: Cluster, name: str) -> str:
    """The container's output, through the API server and the kubelet (the forwarded port)."""
    deadline = time.monotonic() + WAIT
    out = ""
    while time.monotonic() < deadline:
        out = c.kubectl("logs", name, check=False).stdout
        if "passwd=" in out:
            return out
        time.sleep(2)
    return out
