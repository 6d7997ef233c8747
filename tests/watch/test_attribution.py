"""watch attributes a record as `events --proc-root --log-root` does: through the core's one
chain (containers.attribute), live; the labels and the reasons for none are watch's own."""

from __future__ import annotations

from pathlib import Path

from aaprof.containers.attribute import Attributor as Chain
from aaprof.model.event import Container, Event
from aaprof.watch.attribution import (
    NO_PID,
    NOT_A_CONTAINER,
    PROCESS_GONE,
    UNATTRIBUTED,
    Attribution,
    Attributor,
)

CID = "c" * 64
UID = "11111111-2222-3333-4444-555555555555"


def _node(root: Path) -> tuple[Path, Path]:
    """A proc tree (pid 42 in a container, pid 7 on the host) and the kubelet's log links."""
    proc, logs = root / "proc", root / "log"
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "cgroup").write_text(f"0::/kubepods/besteffort/pod{UID}/{CID}\n")
    (proc / "7").mkdir()
    (proc / "7" / "cgroup").write_text("0::/system.slice/cron.service\n")
    (logs / "containers").mkdir(parents=True)
    (logs / "containers" / f"web-7d9f8c6b5d-x2x4z_shop_nginx-{CID}.log").symlink_to(root / "x")
    return proc, logs


EVENTS = [
    Event("DENIED", profile="cri-containerd.apparmor.d", pid=42),  # the pid's cgroup + kubelet
    Event("DENIED", profile="aaprof.shop.web.nginx", pid=42),  # ... and a profile name's pod
    Event("DENIED", profile="aaprof.shop.web.nginx", pid=99),  # the profile name alone
    Event("DENIED", profile="k8s-nginx", pid=7),  # a host process
    Event("DENIED", profile="k8s-nginx", pid=99),  # gone
    Event("DENIED", profile="k8s-nginx"),  # no pid
]


def test_watch_and_events_give_a_record_the_same_container(tmp_path: Path) -> None:
    proc, logs = _node(tmp_path)
    chain = Chain.default(proc_root=proc, log_root=logs)
    watch = Attributor(proc, logs)
    watch.new_batch()
    for event in EVENTS:
        assert watch.attribute(event)[0] == chain(event).container, event


def test_labels_and_reasons(tmp_path: Path) -> None:
    proc, logs = _node(tmp_path)
    watch = Attributor(proc, logs)
    watch.new_batch()
    got = [watch.attribute(event)[1] for event in EVENTS]
    assert got == [
        Attribution("shop", "web", "nginx"),
        Attribution("shop", "web", "nginx"),
        Attribution("shop", "web", "nginx"),
        Attribution("", "", "", NOT_A_CONTAINER),
        Attribution(UNATTRIBUTED, UNATTRIBUTED, UNATTRIBUTED, PROCESS_GONE),
        Attribution("", "", "", NO_PID),
    ]
    container = watch.attribute(EVENTS[0])[0]
    assert container == Container(CID, None, UID, "web-7d9f8c6b5d-x2x4z", "shop", "nginx")
