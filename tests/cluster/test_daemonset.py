"""The real DaemonSet controller makes the loader's and watch's pods from aaprof's manifests.

No kubelet runs: a bare Node object is registered (the controller makes pods only for nodes)
and the pods the controller created for it are read back: what a kubelet would be asked to run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from aaprof_cli import aaprof

from cluster.conftest import Cluster

ROOT = Path(__file__).resolve().parents[2]
NODE = "aaprof-bare-node"


@pytest.fixture(scope="module")
def node(cluster: Cluster) -> str:
    obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE,
            "labels": {"kubernetes.io/os": "linux", "kubernetes.io/hostname": NODE},
        },
    }
    cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(obj))
    return NODE


def _pods_on_node(cluster: Cluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    """The pods the DaemonSet controller made for NODE (it may take a while on a busy machine)."""
    deadline = time.monotonic() + 300
    while True:
        pods = cluster.get_json("pods", "-n", namespace, "-l", selector)["items"]
        mine = [p for p in pods if _node_of(p) == NODE]
        if mine:
            return mine
        if time.monotonic() > deadline:
            events = cluster.kubectl("get", "events", "-A", check=False).stdout
            raise AssertionError(f"no pod for {NODE} after 300 s; events:\n{events}")
        time.sleep(0.5)


def _node_of(pod: dict[str, Any]) -> str | None:
    """The node a DaemonSet pod is bound to: its required node affinity names it."""
    affinity = pod["spec"].get("affinity", {}).get("nodeAffinity", {})
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution", {})
    for term in required.get("nodeSelectorTerms", []):
        for field in term.get("matchFields", []):
            if field.get("key") == "metadata.name":
                return str(field["values"][0])
    node = pod["spec"].get("nodeName")
    return None if node is None else str(node)


def _volumes(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod["spec"].get("volumes", [])}


def test_loader_pods(cluster: Cluster, node: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    aaprof("generate", *sorted(str(p) for p in (ROOT / "sample-logs").glob("node-*")),
            "--out", str(out), "-q", check=True)  # fmt: skip
    built = cluster.kubectl("kustomize", str(out / "k8s")).stdout
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=built)
    (pod,) = _pods_on_node(cluster, "kube-system", "app.kubernetes.io/name=aaprof-loader")
    spec = pod["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert spec["hostPID"] is True
    assert spec["priorityClassName"] == "system-node-critical"
    assert {"operator": "Exists"} in spec["tolerations"]
    (container,) = spec["containers"]
    context = container["securityContext"]
    assert context["privileged"] is True
    assert context["appArmorProfile"] == {"type": "Unconfined"}
    volumes = _volumes(pod)
    assert volumes["securityfs"]["hostPath"] == {"path": "/sys/kernel/security",
                                                 "type": "Directory"}  # fmt: skip
    assert volumes["apparmor-d"]["hostPath"]["path"] == "/etc/apparmor.d"
    assert volumes["state"]["hostPath"]["path"] == "/var/lib/aaprof/node"
    # the ConfigMap projection: every profile of the bundle's ConfigMap is a file in /profiles
    configmap = cluster.get_json("configmap", "-n", "kube-system", "aaprof-loader-profiles")
    assert volumes["profiles"]["configMap"]["name"] == "aaprof-loader-profiles"
    assert set(configmap["data"]) == {p.name for p in (out / "profiles").iterdir()}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["profiles"] == {"name": "profiles", "mountPath": "/profiles", "readOnly": True}
    assert mounts["securityfs"]["mountPath"] == "/sys/kernel/security"
    assert "readOnly" not in mounts["securityfs"]  # it writes .replace and .remove there


def test_watch_pods(cluster: Cluster, installed_crds: list[str], node: str, tmp_path: Path) -> None:
    aaprof("watch", "--manifests", str(tmp_path / "watch"), check=True)
    built = cluster.kubectl("kustomize", str(tmp_path / "watch")).stdout
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=built)
    objects = [d for d in yaml.safe_load_all(built) if d]
    (ds,) = [o for o in objects if o["kind"] == "DaemonSet"]
    namespace = ds["metadata"]["namespace"]
    selector = ",".join(f"{k}={v}" for k, v in ds["spec"]["selector"]["matchLabels"].items())
    (pod,) = _pods_on_node(cluster, namespace, selector)
    spec = pod["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert {"operator": "Exists"} in spec["tolerations"]
    (container,) = spec["containers"]
    assert container["image"] == ds["spec"]["template"]["spec"]["containers"][0]["image"]
    # the node name reaches watch through the downward API, resolved per pod by the kubelet
    assert {"name": "NODE_NAME", "valueFrom": {"fieldRef": {
        "apiVersion": "v1", "fieldPath": "spec.nodeName"}}} in container["env"]  # fmt: skip
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"], "add": ["SYSLOG"]}
    volumes = _volumes(pod)
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    # every host path but watch's own state is mounted read-only
    for name, volume in volumes.items():
        if "hostPath" not in volume:
            continue
        assert name in mounts, f"host path {name} not mounted"
        assert mounts[name].get("readOnly", False) is (name != "state"), name
    assert volumes["kmsg"]["hostPath"] == {"path": "/dev/kmsg", "type": "CharDevice"}
    assert volumes["var-log"]["hostPath"]["path"] == "/var/log"
