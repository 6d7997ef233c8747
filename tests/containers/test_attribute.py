"""The attribution chain: profile name, pid's cgroup under a proc root, pod statuses, and more."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aaprof.containers.attribute import (
    Attributor,
    ByPid,
    ByPodStatus,
    by_profile_name,
    load_pods,
)
from aaprof.errors import AaprofError
from aaprof.model.event import Container, Event

CID = "c" * 64
UID = "11111111-2222-3333-4444-555555555555"


def _proc(root: Path, pid: int = 42) -> Path:
    (root / str(pid)).mkdir(parents=True)
    (root / str(pid) / "cgroup").write_text(f"0::/kubepods/besteffort/pod{UID}/{CID}\n")
    return root


PODS = [
    {
        "metadata": {"name": "web-5d8f", "namespace": "shop", "uid": UID},
        "status": {"containerStatuses": [{"name": "nginx", "containerID": f"containerd://{CID}"}]},
    }
]


def test_the_profile_name_alone_names_the_container() -> None:
    event = Attributor.default()(Event("DENIED", profile="aaprof.shop.web.nginx//null-/x"))
    assert event.container == Container(namespace="shop", pod="web", name="nginx")


def test_pid_then_pod_status_fill_in_the_rest(tmp_path: Path) -> None:
    attribute = Attributor.default(_proc(tmp_path), PODS)
    event = attribute(Event("DENIED", profile="cri-containerd.apparmor.d", pid=42))
    assert event.container == Container(CID, "containerd", UID, "web-5d8f", "shop", "nginx")
    unknown = Event("DENIED", profile="cri-containerd.apparmor.d", pid=43)
    assert attribute(unknown) is unknown  # nothing known: the event as it was


def test_resolvers_compose(tmp_path: Path) -> None:
    def workload(event: Event, known: Container | None) -> Container | None:
        """A resolver another module could add: the pod's workload in place of the pod."""
        if known is None or known.pod != "web-5d8f":
            return known
        return Container(pod="web").merged(known)

    chain = Attributor([ByPid(_proc(tmp_path)), by_profile_name, ByPodStatus(PODS), workload])
    event = chain(Event("DENIED", profile="cri-containerd.apparmor.d", pid=42))
    assert event.container == Container(CID, "containerd", UID, "web", "shop", "nginx")


def test_a_bad_proc_root_or_pods_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(AaprofError, match="does not exist"):
        Attributor.default(tmp_path / "nope")
    bad = tmp_path / "pods.json"
    bad.write_text("[1, 2]")
    with pytest.raises(AaprofError, match=r"pods\.json: expected"):
        load_pods(bad)
    bad.write_text("{")
    with pytest.raises(AaprofError, match="not JSON"):
        load_pods(bad)
    bad.write_text(json.dumps(PODS[0]))
    assert load_pods(bad) == [PODS[0]]


def test_events_attributes_through_proc_root_and_pods(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from aaprof.cli.main import cli

    log = tmp_path / "kern.log"
    log.write_text(
        'audit: type=1400 audit(1700000000.001:1): apparmor="DENIED" operation="open" '
        'profile="cri-containerd.apparmor.d" name="/etc/x" pid=42 comm="sh" '
        'requested_mask="r" denied_mask="r" fsuid=0 ouid=0\n'
    )
    pods = tmp_path / "pods.json"
    pods.write_text(json.dumps({"items": PODS}))
    args = [
        "events",
        str(log),
        "--format",
        "jsonl",
        "-q",
        "--proc-root",
        str(_proc(tmp_path / "p")),
    ]
    result = CliRunner().invoke(cli, [*args, "--pods", str(pods)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["container"] == {
        "id": CID, "runtime": "containerd", "pod_uid": UID, "pod": "web-5d8f",
        "namespace": "shop", "name": "nginx",
    }  # fmt: skip
