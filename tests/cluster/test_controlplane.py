"""`./dev.sh cluster up|down` and the control plane it starts."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from cluster import controlplane
from cluster.conftest import Cluster

ROOT = Path(__file__).resolve().parents[2]


def test_readyz_and_components(cluster: Cluster) -> None:
    assert cluster.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"].startswith("v1.37.2")
    assert version["clientVersion"]["gitVersion"].startswith("v1.37.2")
    # the controller manager and the scheduler hold their leases (leader election works)
    for lease in ("kube-controller-manager", "kube-scheduler"):
        holder = cluster.get_json("-n", "kube-system", "lease", lease)["spec"]["holderIdentity"]
        assert holder


def test_dev_sh_up_then_down_leaves_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "plane"
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    proc = subprocess.run(
        [str(ROOT / "dev.sh"), "cluster", "up", "--dir", str(directory)],
        capture_output=True, text=True, check=False, env=env, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last == f"export KUBECONFIG={directory / 'admin.kubeconfig'}"
    plane = controlplane.ControlPlane.load(directory)
    pids = dict(plane.pids)
    try:
        # the exported KUBECONFIG is all kubectl needs
        kubectl = controlplane.bin_dir("kubernetes", build=False) / "kubectl"
        env["KUBECONFIG"] = last.split("=", 1)[1]
        ready = subprocess.run(
            [str(kubectl), "get", "--raw", "/readyz"],
            capture_output=True, text=True, check=False, env=env, timeout=60,
        )  # fmt: skip
        assert ready.stdout.strip() == "ok", ready.stderr
        assert set(pids) == set(controlplane.COMPONENTS)
        assert all(controlplane._alive(pid) for pid in pids.values())
    finally:
        down = subprocess.run(
            [str(ROOT / "dev.sh"), "cluster", "down", "--dir", str(directory)],
            capture_output=True, text=True, check=False, env=env, timeout=300,
        )  # fmt: skip
    assert down.returncode == 0, down.stderr
    assert not directory.exists()
    assert not any(controlplane._alive(pid) for pid in pids.values())
