"""`aaprof node check` over fixture host trees: prerequisites, modes, pods' profiles."""

from __future__ import annotations

import json
from pathlib import Path

from aaprof_cli import aaprof

from aaprof.node.host import Host, profiles_of_label
from aaprof.node.pods import profile_refs, read_manifests
from node.fakehost import make_root

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    container.apparmor.security.beta.kubernetes.io/side: localhost/k8s-legacy
spec:
  securityContext:
    appArmorProfile: {type: Localhost, localhostProfile: k8s-pod}
  initContainers:
  - name: init
    image: x
    securityContext:
      appArmorProfile: {type: RuntimeDefault}
  containers:
  - name: app
    image: x
    securityContext:
      appArmorProfile: {type: Localhost, localhostProfile: k8s-app}
  - name: side
    image: x
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: job
            image: x
            securityContext:
              appArmorProfile: {type: Localhost, localhostProfile: k8s-job}
"""


def test_healthy_node_reports_profiles_and_modes(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", {"k8s-a": "enforce", "k8s-b (x)": "complain"})
    done = aaprof("node", "check", "--root", str(root), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert report["profiles"] == [
        {"name": "k8s-a", "mode": "enforce"},
        {"name": "k8s-b (x)", "mode": "complain"},
    ]
    levels = {f["check"]: f["level"] for f in report["findings"]}
    assert levels["kernel"] == levels["securityfs"] == "ok"
    details = {f["check"]: f["detail"] for f in report["findings"]}
    assert details["securityfs"] == "mounted at /sys/kernel/security"
    assert details["features"] == "domain file"


def test_disabled_kernel_and_missing_securityfs_are_problems(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", enabled="N", securityfs=False)
    done = aaprof("node", "check", "--root", str(root))
    assert done.returncode == 1
    assert "problem  kernel: AppArmor disabled" in done.stdout
    assert "problem  securityfs: not mounted" in done.stdout
    none = make_root(tmp_path / "none", enabled=None)
    assert "not built into this kernel" in aaprof("node", "check", "--root", str(none)).stdout


def test_pod_profiles_not_loaded_are_flagged(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", {"k8s-app": "enforce", "k8s-pod": "complain"})
    pod = tmp_path / "pod.yaml"
    pod.write_text(POD)
    done = aaprof("node", "check", "--root", str(root), "--pod", str(pod), "--format", "json")
    assert done.returncode == 1
    found = {
        f["detail"] for f in json.loads(done.stdout)["findings"] if f["check"].startswith("pod")
    }
    assert "profile 'k8s-app' loaded (enforce)" in found
    assert "profile 'k8s-pod' loaded (complain)" in found
    assert "profile 'k8s-legacy' is not loaded on this node" in found
    assert "profile 'k8s-job' is not loaded on this node" in found
    assert "RuntimeDefault: the runtime's own profile" in found


def test_profile_refs_cover_every_place() -> None:
    refs = [r.where for obj in read_manifests_text(POD) for r in profile_refs(obj)]
    assert refs == [
        "Pod/web (pod)",
        "Pod/web container app",
        "Pod/web container init",
        "Pod/web container side (annotation)",
        "CronJob/nightly container job",
    ]


def read_manifests_text(text: str) -> list[dict[str, object]]:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(text)
        f.flush()
        return list(read_manifests(Path(f.name)))


def test_bad_manifest_is_one_line_error(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [\n")
    done = aaprof("node", "check", "--root", str(root), "--pod", str(bad))
    assert done.returncode == 1
    assert done.stderr.startswith(f"aaprof: {bad}: not YAML")
    assert len(done.stderr.splitlines()) == 1


def test_labels_and_their_profiles(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", labels={7: "k8s-a//child (enforce)", 8: "unconfined"})
    assert Host(root).labels() == {7: "k8s-a//child (enforce)", 8: "unconfined"}
    assert profiles_of_label("k8s-a//child (enforce)") == ("k8s-a", "k8s-a//child")
    assert profiles_of_label("unconfined") == ()
    assert profiles_of_label("a//&:ns:b (enforce)") == ("a", "ns:b")
