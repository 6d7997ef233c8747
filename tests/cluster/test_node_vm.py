"""The seed's kubelet cases for AppArmor on a real node: the kubelet (k8s.io/kubernetes v1.37.2)
and containerd v2.4.2 with Debian's runc, in the qemu AppArmor VM, registered with a control
plane on the host (`./dev.sh cluster up --node`: tests/cluster/node.py). One boot serves the
module; each case is a pod, and what the runtime did is read on the node itself: the
container's /proc/PID/attr/current and `crictl inspect`.

docs/kubernetes.md ("Tested on") has the behaviour each case showed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from aaprof_cli import aaprof

from cluster import controlplane
from cluster import node as vmnode
from cluster.conftest import Cluster
from cluster.test_admission import wait_until_in_effect

pytestmark = pytest.mark.vm

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


@pytest.fixture(scope="module")
def real_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeCluster]:
    """A control plane and the VM node, started as `./dev.sh cluster up --node` starts them."""
    try:
        kube = controlplane.bin_dir("kubernetes", build=False)
        for family in ("etcd", "containerd", "cni", "crictl"):
            controlplane.bin_dir(family, build=False)
    except controlplane.ClusterError as e:
        pytest.fail(f"{e}; `./dev.sh test` builds them before running the tests")
    directory = tmp_path_factory.mktemp("node-cluster")
    started = subprocess.run(
        [sys.executable, str(controlplane.HERE / "controlplane.py"), "up", "--node",
         "--dir", str(directory)],
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
    """The container's AppArmor label from /proc/PID/attr/current on the node, and `crictl
    inspect`'s JSON of it."""
    cid = obj["status"]["containerStatuses"][0]["containerID"].removeprefix("containerd://")
    inspect = json.loads(nc.node.check(f"crictl inspect {cid}"))
    pid = inspect["info"]["pid"]
    label = nc.node.check(f"cat /proc/{pid}/attr/current").strip()
    return label, inspect


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


@pytest.fixture(scope="module")
def loaded(real_node: NodeCluster) -> NodeCluster:
    """PROFILE loaded in enforce mode on the node."""
    real_node.node.check(f"cat > /tmp/{PROFILE} <<'END'\n{PROFILE_TEXT}END\n"
                         f"apparmor_parser -r -W /tmp/{PROFILE}")  # fmt: skip
    return real_node


def test_node_is_ready_and_reachable(real_node: NodeCluster) -> None:
    c = real_node.cluster
    node = c.get_json("node", vmnode.NAME)
    ready = [x for x in node["status"]["conditions"] if x["type"] == "Ready"]
    assert ready[0]["status"] == "True"
    info = node["status"]["nodeInfo"]
    assert info["kubeletVersion"] == "v1.37.2"
    assert info["containerRuntimeVersion"] == "containerd://2.4.2"


def test_localhost_profile_loaded_confines_in_enforce(loaded: NodeCluster) -> None:
    c = loaded.cluster
    create(c, pod("localhost-loaded", {"type": "Localhost", "localhostProfile": PROFILE}))
    obj = wait_pod(c, "localhost-loaded", "running")
    label, inspect = on_node(loaded, obj)
    assert label == f"{PROFILE} (enforce)"
    assert inspect["info"]["runtimeSpec"]["process"]["apparmorProfile"] == PROFILE
    out = logs(c, "localhost-loaded")  # the API server reached the kubelet
    assert f"label={PROFILE} (enforce)" in out
    assert "passwd=1" in out  # denied
    exec_out = c.kubectl("exec", "localhost-loaded", "--", "cat", "/proc/self/attr/current")
    assert exec_out.stdout.strip() == f"{PROFILE} (enforce)"


def test_localhost_profile_not_loaded_never_starts(real_node: NodeCluster) -> None:
    c, node = real_node.cluster, real_node.node
    manifest = pod("localhost-unloaded", {"type": "Localhost", "localhostProfile": UNLOADED})
    # aaprof node check on the node, before the pod exists, predicts it
    rc, out = node.sh(
        f"cat > /tmp/unloaded.yaml <<'END'\n{yaml.safe_dump(manifest)}END\n"
        "aaprof node check --pod /tmp/unloaded.yaml"
    )
    assert rc == 1, out
    assert f"profile '{UNLOADED}' is not loaded on this node" in out
    create(c, manifest)
    obj = wait_pod(c, "localhost-unloaded", "waiting")
    waiting = obj["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerError", waiting
    assert f"apparmor profile not found {UNLOADED}" in waiting["message"], waiting
    events = c.get_json("events", "--field-selector", "involvedObject.name=localhost-unloaded")
    messages = [e["message"] for e in events["items"] if e["reason"] == "Failed"]
    assert any(f"apparmor profile not found {UNLOADED}" in m for m in messages), messages
    # no process of it ran: the runtime has no running container for it
    listed = json.loads(node.check("crictl ps -a -o json --name '^c$' --label "
                                   "io.kubernetes.pod.name=localhost-unloaded"))  # fmt: skip
    assert listed["containers"] == []


def test_runtime_default(real_node: NodeCluster) -> None:
    c = real_node.cluster
    create(c, pod("runtime-default", {"type": "RuntimeDefault"}))
    label, inspect = on_node(real_node, wait_pod(c, "runtime-default", "running"))
    assert label == "cri-containerd.apparmor.d (enforce)"
    assert inspect["info"]["runtimeSpec"]["process"]["apparmorProfile"] == (
        "cri-containerd.apparmor.d"
    )


def test_unconfined(real_node: NodeCluster) -> None:
    c = real_node.cluster
    create(c, pod("unconfined", {"type": "Unconfined"}))
    label, inspect = on_node(real_node, wait_pod(c, "unconfined", "running"))
    assert label == "unconfined"
    assert "apparmorProfile" not in inspect["info"]["runtimeSpec"]["process"]


@pytest.mark.parametrize("with_field", [False, True], ids=["annotation-only", "with-field"])
def test_legacy_annotation(loaded: NodeCluster, with_field: bool) -> None:
    c = loaded.cluster
    name = f"legacy-{'field' if with_field else 'alone'}"
    field = {"type": "Localhost", "localhostProfile": PROFILE} if with_field else None
    create(c, pod(name, field, annotation=f"localhost/{PROFILE}"))
    obj = wait_pod(c, name, "running")
    # the API server copied the annotation into the field (1.30+): the kubelet reads the field
    assert obj["spec"]["containers"][0]["securityContext"]["appArmorProfile"] == {
        "type": "Localhost", "localhostProfile": PROFILE,
    }  # fmt: skip
    label, _ = on_node(loaded, obj)
    assert label == f"{PROFILE} (enforce)"


def test_admission_on_the_node(real_node: NodeCluster, tmp_path: Path) -> None:
    """With `aaprof policy`'s policies installed, a pod naming a profile outside the allowed
    list is refused by the API server and never reaches the kubelet; a pod naming none gets the
    default, and the runtime applies it. Runs last: the policies stay (they bind only `shop`)."""
    c, node = real_node.cluster, real_node.node
    aaprof(
        "policy", "--allowed", PROFILE, "--allowed", "RuntimeDefault",
        "--default", "RuntimeDefault", "--namespace-label", "team=shop", "--out", str(tmp_path),
        check=True,
    )  # fmt: skip
    ns = {"apiVersion": "v1", "kind": "Namespace",
          "metadata": {"name": "shop", "labels": {"team": "shop"}}}  # fmt: skip
    c.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(ns))
    c.apply([tmp_path / "validating-admission-policy.yaml",
             tmp_path / "mutating-admission-policy.yaml"])  # fmt: skip
    wait_until_in_effect(c, "shop")
    other = pod("other-profile", {"type": "Localhost", "localhostProfile": UNLOADED},
                namespace="shop")  # fmt: skip
    refused = c.kubectl("create", "-f", "-", input=json.dumps(other), check=False)
    assert refused.returncode != 0
    assert "ValidatingAdmissionPolicy 'aaprof-apparmor'" in refused.stderr, refused.stderr
    assert c.kubectl("get", "pod", "-n", "shop", "other-profile", check=False).returncode != 0
    create(c, pod("no-profile", None, namespace="shop"))
    obj = wait_pod(c, "no-profile", "running", namespace="shop")
    spec = obj["spec"]
    profiles = [spec.get("securityContext", {}).get("appArmorProfile")] + [
        x.get("securityContext", {}).get("appArmorProfile") for x in spec["containers"]
    ]
    assert {"type": "RuntimeDefault"} in profiles, profiles
    label, _ = on_node(real_node, obj)
    assert label == "cri-containerd.apparmor.d (enforce)"
    # the kubelet never saw the refused pod: the runtime made no sandbox for it
    sandboxes = json.loads(node.check("crictl pods -o json --namespace shop"))["items"]
    names = {s["metadata"]["name"] for s in sandboxes}
    assert names == {"no-profile"}, names
