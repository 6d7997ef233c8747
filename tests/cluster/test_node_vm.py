"""The seed's kubelet cases for AppArmor on a real node: the kubelet (k8s.io/kubernetes v1.37.2)
and containerd v2.4.2 with Debian's runc, in the qemu AppArmor VM, registered with a control
plane on the host (`./dev.sh cluster up --node`: tests/cluster/node.py). One boot serves the
module; each case is a pod, and what the runtime did is read on the node itself: the
container's /proc/PID/attr/current and `crictl inspect`.

docs/kubernetes.md ("Tested on") has the behaviour each case showed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from aaprof_cli import aaprof

from cluster import node as vmnode
from cluster.nodepods import (
    PROFILE,
    PROFILE_TEXT,
    UNLOADED,
    NodeCluster,
    create,
    logs,
    node_cluster,
    on_node,
    pod,
    sandboxes,
    wait_pod,
)
from cluster.test_admission import wait_until_in_effect

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def real_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeCluster]:
    with node_cluster(tmp_path_factory.mktemp("node-cluster")) as nc:
        yield nc


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


def test_node_check_shows_the_runtimes_report_beside_the_kernels(real_node: NodeCluster) -> None:
    """`aaprof node check` on the node: the kernel's facts and containerd's own report over
    the CRI (its name and version, its conditions, disableApparmor), one finding each."""
    rc, out = real_node.node.sh("aaprof node check --format json")
    assert rc == 0, out
    report = json.loads(out)
    levels = {f["check"]: (f["level"], f["detail"]) for f in report["findings"]}
    assert levels["kernel"] == ("ok", "AppArmor enabled"), levels
    assert levels["cri"][0] == "ok", levels
    assert "containerd v2.4.2 (CRI v1) at /run/containerd/containerd.sock" in levels["cri"][1]
    assert "RuntimeReady, NetworkReady" in levels["cri"][1]  # the CNI bridge is configured
    assert levels["runtime apparmor"][0] == "ok", levels
    runtime = report["runtime"]
    assert runtime["name"] == "containerd" and runtime["version"] == "v2.4.2"
    assert runtime["apparmor"] == {
        "disable_apparmor": False, "default_profile": "cri-containerd.apparmor.d",
    }  # fmt: skip
    text = real_node.node.check("aaprof node check")
    kernel = text.index("ok       kernel: AppArmor enabled")
    cri = text.index("ok       cri: containerd v2.4.2 (CRI v1)")
    assert kernel < cri, text


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
    c = real_node.cluster
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
    assert "other-profile" not in sandboxes(real_node)
    assert "no-profile" in sandboxes(real_node)
