"""Pod name -> workload, and the kubelet's log names -> pods (no API access)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aaprof.containers.kubelet import KubeletLogIndex, PodRef, parse_container_log_name
from aaprof.containers.workload import workload_of_pod

ID = "a" * 64


@pytest.mark.parametrize(
    ("pod", "workload"),
    [
        ("shop-7d9f8c6b5d-x2x4z", "shop"),  # Deployment
        ("backup-28459340-k7mzq", "backup"),  # CronJob
        ("fluentd-x8kfq", "fluentd"),  # DaemonSet / Job / ReplicaSet
        ("db-0", "db"),  # StatefulSet
        ("db-12", "db"),
        ("kube-apiserver-node1", "kube-apiserver-node1"),  # static pod: no generated suffix
        ("web", "web"),
        ("api-v2", "api-v2"),  # "v2" has a vowel... and is too short: not a suffix
        ("my-app-aeiou", "my-app-aeiou"),  # vowels are never generated
    ],
)
def test_workload_of_pod(pod: str, workload: str) -> None:
    assert workload_of_pod(pod) == workload


def test_container_log_names() -> None:
    assert parse_container_log_name(f"shop-7d9f8c6b5d-x2x4z_web_nginx-{ID}.log") == (
        ID,
        PodRef("web", "shop-7d9f8c6b5d-x2x4z", "nginx"),
    )
    assert parse_container_log_name(f"a_b_c-{ID}.log.gz") is None
    assert parse_container_log_name("weird\n_x_y-z.log") is None


def test_index_reads_links_and_pod_dirs_and_rereads_for_new_ids(tmp_path: Path) -> None:
    (tmp_path / "containers").mkdir()
    (tmp_path / "pods").mkdir()
    uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    (tmp_path / "pods" / f"web_shop-1_{uid}").mkdir()
    now = [0.0]
    index = KubeletLogIndex(tmp_path, refresh=1.0, clock=lambda: now[0])
    assert index.by_container_id(ID) is None
    (tmp_path / "containers" / f"shop-1_web_nginx-{ID}.log").symlink_to(tmp_path / "x")
    assert index.by_container_id(ID) is None  # read less than `refresh` ago
    now[0] = 5.0
    assert index.by_container_id(ID) == PodRef("web", "shop-1", "nginx")
    assert index.by_pod_uid(uid) == PodRef("web", "shop-1")
