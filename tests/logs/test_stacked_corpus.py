"""Stacked and namespaced labels as kernels write them: parsed exactly, attributed to the member
that names the workload (tests/logs/stacked: 6.17's exec labels as reported; the shared corpus:
LXD's namespaces and stacks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shared_corpus
from aaprof_cli import aaprof

from aaprof.containers.attribute import Attributor
from aaprof.engine.suggest import attributed_profile
from aaprof.logs.lines import parse_line
from aaprof.logs.select import Selection
from aaprof.model.event import Container, Event

REPO = Path(__file__).resolve().parents[2]
FIELD = REPO / "tests/logs/stacked/field-6.17.log"
WILD = shared_corpus.CORPUS / "wild/lines.txt"
LXD_NS = "lxd-u20_<var-snap-lxd-common-lxd>"


def _events(path: Path) -> list[Event]:
    out = []
    for line in path.read_bytes().splitlines():
        event = parse_line(line)
        assert isinstance(event, Event), (line, event)
        out.append(event)
    return out


def test_field_exec_labels_parse_exactly() -> None:
    containerd, crio = _events(FIELD)
    assert (containerd.profile, containerd.peer) == (
        "cri-containerd.apparmor.d",
        "cri-containerd.apparmor.d//&unconfined",
    )
    assert containerd.to_dict()["peer_stack"] == ["cri-containerd.apparmor.d", "unconfined"]
    assert (crio.profile, crio.peer) == ("crio-default", "crio-default//&unprivileged_userns")
    assert crio.to_dict()["peer_stack"] == ["crio-default", "unprivileged_userns"]


def test_profile_filter_matches_a_member() -> None:
    containerd = _events(FIELD)[0]
    stacked = containerd.replace(profile=containerd.peer)
    assert Selection.build(profile="unconfined").keeps(stacked)
    assert Selection.build(profile="cri-containerd.*").keeps(stacked)
    assert not Selection.build(profile="unconfined").keeps(containerd)
    assert not Selection.build(profile="cri-containerd.apparmor.d//&").keeps(stacked)


@pytest.mark.parametrize(
    ("label", "container"),
    [
        (
            "aaprof.shop.web.nginx//&unconfined",
            Container(namespace="shop", pod="web", name="nginx"),
        ),
        (
            "crio-default//&aaprof.shop.web.nginx",
            Container(namespace="shop", pod="web", name="nginx"),
        ),
        (
            "aaprof.shop.web.nginx//&:ns:aaprof.a.b.c",
            Container(namespace="shop", pod="web", name="nginx"),
        ),
        ("cri-containerd.apparmor.d//&unconfined", None),
        ("crio-default//&unprivileged_userns", None),
        ("aaprof.shop.web.nginx//&aaprof.shop.db.pg", None),  # two workloads: no guess
        (":ns:aaprof.shop.web.nginx", None),
    ],
)
def test_the_member_in_the_scheme_names_the_workload(
    label: str, container: Container | None
) -> None:
    assert Attributor.default()(Event("DENIED", profile=label)).container == container


def test_a_profile_in_a_child_namespace_names_no_workload() -> None:
    event = Event("DENIED", profile="aaprof.shop.web.nginx", namespace="root//lxd-c1")
    assert Attributor.default()(event).container is None
    root = Event("DENIED", profile="aaprof.shop.web.nginx", namespace="root")
    assert Attributor.default()(root).container == Container(
        namespace="shop", pod="web", name="nginx"
    )


@shared_corpus.needs(WILD)
def test_lxd_stacks_and_namespaces() -> None:
    lines = WILD.read_bytes().split(b"\n")
    load = parse_line(lines[52])
    assert isinstance(load, Event)
    assert load.profile == f"lxd-u20_</var/snap/lxd/common/lxd>//&:{LXD_NS}:unconfined"
    assert load.to_dict()["profile_stack"] == [
        "lxd-u20_</var/snap/lxd/common/lxd>",
        f":{LXD_NS}:unconfined",
    ]
    denied = parse_line(lines[53])
    assert isinstance(denied, Event)
    assert (denied.namespace, denied.profile) == (f"root//{LXD_NS}", "test")
    assert "profile_stack" not in denied.to_dict()
    assert Attributor.default()(load).container is None


KERNEL = REPO / "tests/logs/stacked/kernel-6.1.dmesg"


def test_the_real_kernels_records_parse_exactly() -> None:
    lines = [x for x in KERNEL.read_bytes().splitlines() if not x.startswith(b"#")]
    events = [e for line in lines if isinstance(e := parse_line(line), Event)]
    assert len(events) == len(lines) == 13
    got = [(e.mode, e.namespace, e.profile, e.name or e.peer) for e in events]
    assert got == [
        ("ALLOWED", None, "stk-a", "/tmp/stk/for-a"),  # the stack stk-a//&stk-b: each member
        ("ALLOWED", None, "stk-b", "/tmp/stk/for-b"),  # records what it lacks
        ("ALLOWED", "root//stk-ns", "stk-inner", "/tmp/stk/for-inner"),
        ("ALLOWED", None, "stk-recv", "stk-a//&stk-b"),  # a stacked peer, whole
        ("ALLOWED", None, "stk-recv2", "stk-a"),
        ("ALLOWED", None, "stk-app", "/etc/app.conf"),
        ("ALLOWED", None, "stk-app", "/data/"),
        ("ALLOWED", None, "stk-app", "/base-denied"),  # app (complain) ∩ baseline (enforce)
        ("DENIED", None, "stk-base", "/base-denied"),
        ("DENIED", None, "stk-a", "/tmp/stk/probe-a"),
        ("DENIED", "root//stk-ns", "stk-inner", "/tmp/stk/for-a"),
        ("DENIED", None, "stk-recv-bare", "stk-a//&stk-b"),
        ("DENIED", None, "stk-app", "/secret"),
    ]
    assert events[3].to_dict()["peer_stack"] == ["stk-a", "stk-b"]
    # what each record teaches: its own member; a child namespace's profile by its full name
    taught = [attributed_profile(e, foreign=frozenset({"stk-base"})) for e in events[:9]]
    assert taught == [
        *("stk-a", "stk-b", ":stk-ns:stk-inner", "stk-recv", "stk-recv2"),
        *("stk-app", "stk-app", "stk-app", None),
    ]
    assert all(Attributor.default()(e).container is None for e in events)


def test_the_summary_lists_a_stacks_members(tmp_path: Path) -> None:
    log = tmp_path / "stacked.log"
    line = (
        FIELD.read_bytes()
        .splitlines()[0]
        .replace(
            b'profile="cri-containerd.apparmor.d"', b'label="aaprof.shop.web.nginx//&unconfined"'
        )
    )
    log.write_bytes(line + b"\n")
    done = aaprof("events", "--summary", "--format", "json", str(log), check=True)
    (group,) = json.loads(done.stdout)["groups"]
    assert group["profile"] == "aaprof.shop.web.nginx//&unconfined"
    assert group["profile_stack"] == ["aaprof.shop.web.nginx", "unconfined"]
