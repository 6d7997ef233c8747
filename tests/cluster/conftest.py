"""The `cluster` fixture: one real control plane (tests/cluster/controlplane.py) per session.

A test that fails while using it gets a "cluster logs" section naming every component's log.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from cluster import controlplane, crds

_PLANES: list[controlplane.ControlPlane] = []


@dataclass
class Cluster:
    """A running control plane and a kubectl bound to it."""

    plane: controlplane.ControlPlane
    kubectl_path: Path

    @property
    def kubeconfig(self) -> Path:
        return self.plane.kubeconfig

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl with this cluster's kubeconfig; raise with its stderr if CHECK fails."""
        proc = subprocess.run(
            [str(self.kubectl_path), f"--kubeconfig={self.kubeconfig}", *args],
            input=input, capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
            )
        return proc

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)

    def apply(self, files: Sequence[Path], *extra: str) -> str:
        """Server-side apply of FILES (their output)."""
        args: list[str] = ["apply", "--server-side", "--force-conflicts"]
        for f in files:
            args += ["-f", str(f)]
        return self.kubectl(*args, *extra).stdout


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    try:
        kube = controlplane.bin_dir("kubernetes", build=False)
        controlplane.bin_dir("etcd", build=False)
    except controlplane.ClusterError as e:
        pytest.fail(f"{e}; `./dev.sh test` builds them before running the tests")
    directory = tmp_path_factory.mktemp("cluster")
    # Started by `controlplane.py up` in a process of its own, as `./dev.sh cluster up` does:
    # the components are then not children of pytest's process, whose other tests wait for
    # children of their own (tests/logs/test_halves.py).
    started = subprocess.run(
        [sys.executable, str(controlplane.HERE / "controlplane.py"), "up", "--dir", str(directory)],
        capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    if started.returncode != 0:
        pytest.fail(f"the control plane did not start:\n{started.stderr[-3000:]}")
    plane = controlplane.ControlPlane.load(directory)
    _PLANES.append(plane)
    try:
        yield Cluster(plane, kube / "kubectl")
    finally:
        _PLANES.remove(plane)
        controlplane.down(directory, keep_logs=True)


@pytest.fixture(scope="session")
def installed_crds(cluster: Cluster) -> list[str]:
    """The CRDs of crds.PINS installed and established; their names."""
    files = crds.files()
    cluster.apply(files)
    names = [
        str(d["metadata"]["name"])
        for f in files
        for d in yaml.safe_load_all(f.read_text())
        if isinstance(d, dict)
    ]
    for name in names:
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=300s", f"crd/{name}")
    return names


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and _PLANES and "cluster" in getattr(item, "fixturenames", ()):
        logs = "\n".join(str(p) for plane in _PLANES for p in plane.logs())
        report.sections.append(("cluster logs (one file per component)", logs))
