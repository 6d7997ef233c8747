"""Watch's line of the node's pods: written first, then only when the pod directories change;
never where there is no kubelet; a directory whose name is not a pod's is left out."""

from __future__ import annotations

import json
from pathlib import Path

from aaprof.watch.pods import PodsReport

UID = "00000001-0000-4000-8000-000000000000"
UID2 = "00000002-0000-4000-8000-000000000000"


def _pods(line: bytes | None) -> list[str]:
    assert line is not None and line.endswith(b"\n") and line.count(b"\n") == 1
    doc = json.loads(line)
    assert doc["kind"] == "pods" and doc["node"] == "node-a"
    return [p["pod"] for p in doc["pods"]]


def test_the_pods_line_is_written_when_the_pods_change(tmp_path: Path) -> None:
    pods = tmp_path / "pods"
    pods.mkdir()
    (pods / f"shop_web-7d4b9c6f8d-x2x9k_{UID}").mkdir()
    (pods / "not-a-pod-directory").mkdir()
    (pods / f"shop_Bad-Name_{UID2}").mkdir()
    report = PodsReport(tmp_path, "node-a", every=10.0)
    assert _pods(report.line(100.0)) == ["web-7d4b9c6f8d-x2x9k"]
    assert report.line(200.0) is None  # no change
    (pods / f"shop_web-7d4b9c6f8d-m7n8p_{UID2}").mkdir()
    assert report.line(205.0) is None  # listed less than `every` ago
    assert _pods(report.line(210.0)) == ["web-7d4b9c6f8d-m7n8p", "web-7d4b9c6f8d-x2x9k"]
    for child in pods.iterdir():
        child.rmdir()
    assert _pods(report.line(300.0)) == []  # a kubelet with no pods says so


def test_no_kubelet_no_line(tmp_path: Path) -> None:
    assert PodsReport(tmp_path, "node-a").line(100.0) is None
