"""Stacked labels and policy namespaces: members as written, in the JSON beside the label."""

from __future__ import annotations

import json

import pytest

from aaprof.model.event import Event
from aaprof.model.labels import Member, confined_members, is_stacked, member, stack_members


@pytest.mark.parametrize(
    ("label", "members"),
    [
        ("a", ("a",)),
        ("a//b", ("a//b",)),  # a child profile is one member
        ("cri-containerd.apparmor.d//&unconfined", ("cri-containerd.apparmor.d", "unconfined")),
        ("crio-default//&unprivileged_userns", ("crio-default", "unprivileged_userns")),
        ("a//&:ns:b", ("a", ":ns:b")),
        ("a//child//&b//hat", ("a//child", "b//hat")),
        ("a//&b//&c", ("a", "b", "c")),
        (
            "lxd-u20_</var/snap/lxd/common/lxd>//&:lxd-u20_<var-snap-lxd-common-lxd>:unconfined",
            ("lxd-u20_</var/snap/lxd/common/lxd>", ":lxd-u20_<var-snap-lxd-common-lxd>:unconfined"),
        ),
        ("a//&", ("a", "")),  # cut short: kept, not invented
    ],
)
def test_members_as_written(label: str, members: tuple[str, ...]) -> None:
    assert stack_members(label) == members
    assert is_stacked(label) == (len(members) > 1)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("a", Member(None, "a")),
        (":ns:b", Member("ns", "b")),
        (":ns://b", Member("ns", "b")),
        (":ns:", Member("ns", "")),
        (":lxd-c1_<var-lib-lxd>:unconfined", Member("lxd-c1_<var-lib-lxd>", "unconfined")),
        (":nocolon", Member(None, ":nocolon")),
    ],
)
def test_member_namespace_and_name(text: str, parsed: Member) -> None:
    assert member(text) == parsed


def test_system_members_confine_no_workload() -> None:
    assert confined_members("cri-containerd.apparmor.d//&unconfined") == (
        "cri-containerd.apparmor.d",
    )
    assert confined_members("crio-default//&unprivileged_userns") == ("crio-default",)
    assert confined_members("a//&:ns:unconfined") == ("a",)
    assert confined_members("a//&:ns:") == ("a",)
    assert confined_members("a//&:ns:b") == ("a", ":ns:b")


def test_json_lists_the_members_beside_the_label() -> None:
    event = Event(
        "DENIED",
        operation="signal",
        profile="aaprof.shop.web.nginx//&:ns:b",
        peer="cri-containerd.apparmor.d//&unconfined",
    )
    doc = json.loads(json.dumps(event.to_dict()))
    assert doc["profile"] == "aaprof.shop.web.nginx//&:ns:b"
    assert doc["profile_stack"] == ["aaprof.shop.web.nginx", ":ns:b"]
    assert doc["peer_stack"] == ["cri-containerd.apparmor.d", "unconfined"]
    assert Event.from_dict(doc) == event  # derived: read back from the label, not the list


def test_json_of_a_label_that_is_no_stack_has_no_list() -> None:
    doc = Event("DENIED", profile=":ns:b", peer="unconfined").to_dict()
    assert "profile_stack" not in doc
    assert "peer_stack" not in doc
