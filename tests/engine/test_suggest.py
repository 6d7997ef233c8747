"""suggest → apply → assemble on built Events: merging, existing profiles, noise."""

from __future__ import annotations

import pytest

from aaprof.engine import apply, assemble, suggest
from aaprof.engine.generalise import volatile
from aaprof.engine.suggest import attributed_profile
from aaprof.model import profile as m
from aaprof.model.event import Container, Event
from aaprof.profiles.build import parse_policy
from aaprof.profiles.render import render_policy, render_rule


def _open(name: str, mask: str = "r", profile: str = "p", **kw: object) -> Event:
    fields: dict[str, object] = {
        "operation": "open",
        "class_": "file",
        "profile": profile,
        "name": name,
        "requested": mask,
        "denied": mask,
        "fsuid": 1000,
        "ouid": 0,
    }
    fields.update(kw)
    return Event("ALLOWED", **fields)  # type: ignore[arg-type]


def _texts(rules: tuple[m.Rule | m.Include, ...]) -> list[str]:
    return [render_rule(r) for r in rules if not isinstance(r, m.Include)]


def test_file_perms_merge_per_path_and_count() -> None:
    (ps,) = suggest([_open("/etc/a"), _open("/etc/a", "w"), _open("/etc/a")])
    (s,) = ps.suggestions
    assert render_rule(s.rule) == "/etc/a rw,"
    assert s.count == 3
    assert len(s.examples) == 3


def test_capability_and_profiles_grouped() -> None:
    cap = Event("DENIED", operation="capable", class_="cap", profile="q", capname="sys_admin")
    out = suggest([cap, _open("/etc/a")])
    assert [p.profile for p in out] == ["p", "q"]
    (s,) = out[1].suggestions
    assert render_rule(s.rule) == "capability sys_admin,"
    assert s.severity is not None and s.severity.startswith("high")


def test_existing_profile_subtracts_what_it_allows() -> None:
    existing = parse_policy("profile p {\n  /etc/* r,\n  capability chown,\n}\n").profiles()[0]
    cap = Event("DENIED", operation="capable", class_="cap", profile="p", capname="chown")
    out = suggest([_open("/etc/a"), _open("/etc/a", "w"), cap], existing={"p": existing})
    (ps,) = out
    assert [render_rule(s.rule) for s in ps.suggestions] == ["/etc/a w,"]


def test_existing_deny_is_respected() -> None:
    existing = parse_policy("profile p {\n  deny /etc/shadow r,\n}\n").profiles()[0]
    assert suggest([_open("/etc/shadow")], existing={"p": existing}) == ()


def test_noise_filtered_unless_asked() -> None:
    noisy = _open("/proc/7/attr/apparmor/exec", "w", comm="runc:[2:INIT]")
    assert suggest([noisy]) == ()
    (ps,) = suggest([noisy], include_noise=True)
    assert ps.suggestions[0].noise
    assert apply([ps]) == {}


def test_null_children_fold_into_parent_and_hats_stay() -> None:
    assert attributed_profile(_open("/x", profile="a//null-/bin/sh")) == "a"
    assert attributed_profile(_open("/x", profile="a//null-2d//null-3")) == "a"
    assert attributed_profile(_open("/x", profile="a//hat")) == "a//hat"
    assert attributed_profile(_open("/x", profile="unconfined")) is None


def test_per_container_attribution() -> None:
    c = Container(namespace="shop", pod="web", name="nginx")
    (ps,) = suggest(
        [_open("/etc/a", profile="cri-containerd.apparmor.d", container=c)], per_container=True
    )
    assert ps.profile == "aaprof.shop.web.nginx"
    assert ps.container == c


def test_volatile_default_and_exact_least_rule() -> None:
    (ps,) = suggest([_open("/proc/4242/status")])
    (s,) = ps.suggestions
    assert render_rule(s.rule) == "/proc/4242/status r,"
    assert _texts(apply([ps])["p"]) == ["/proc/@{pid}/status r,"]


def test_mktemp_name_defaults_to_its_narrow_family() -> None:
    # the next run's temp file has another name: the exact one would be denied, /tmp/** is
    # far wider than the family; the least rule stays option 0
    (ps,) = suggest([_open("/tmp/tmp.1.XYZ", "rwc", fsuid=0, ouid=0)])
    (s,) = ps.suggestions
    assert render_rule(s.rule) == "owner /tmp/tmp.1.XYZ rw,"
    assert _texts(apply([ps])["p"]) == ["owner /tmp/tmp.* rw,"]


def test_assemble_new_profile_is_self_contained() -> None:
    policy = assemble(
        "aaprof.ns.pod.c",
        [m.CapabilityRule(names=frozenset({"chown"}))],
        header=["aaprof generate"],
    )
    text = render_policy(policy)
    assert text.splitlines()[:3] == [
        "# aaprof generate",
        "abi <abi/3.0>,",
        "include <tunables/global>",
    ]
    assert (
        "profile aaprof.ns.pod.c flags=(attach_disconnected, complain, mediate_deleted) {" in text
    )
    enforce = render_policy(assemble("x", [], mode="enforce"))
    assert "flags=(attach_disconnected, mediate_deleted)" in enforce


def test_assemble_merges_into_existing_without_dropping() -> None:
    old = parse_policy(
        "# aaprof generate old\nabi <abi/3.0>,\nprofile x flags=(complain) {\n"
        "  # hand-written\n  /etc/a r,\n  deny /etc/shadow r,\n  ^hat {\n  }\n}\n"
    )
    new = [
        m.FileRule(path="/etc/a", perms=frozenset("r")),
        m.FileRule(path="/etc/b", perms=frozenset("r")),
    ]
    merged = assemble(
        "x",
        new,
        mode="enforce",
        existing=old,
        header=["aaprof generate new"],
        children={"hat": [m.CapabilityRule(names=frozenset({"chown"}))]},
    )
    text = render_policy(merged)
    assert text.count("/etc/a r,") == 1
    for kept in ("# hand-written", "deny /etc/shadow r,", "/etc/b r,", "capability chown,"):
        assert kept in text
    assert "# aaprof generate new" in text and "old" not in text
    assert "complain" not in text


@pytest.mark.parametrize(
    ("name", "general"),
    [
        ("/tmp/loop/spool/upload.122216914", "/tmp/loop/spool/upload.*"),  # Go os.CreateTemp
        ("/tmp/loop/spool/req.MQyUBL", "/tmp/loop/spool/req.*"),  # mkstemp, no digit drawn
        ("/tmp/loop/spool/req.x1Yz9Q", "/tmp/loop/spool/req.*"),
        ("/tmp/tmp.1.XYZ", "/tmp/tmp.*"),  # mktemp's prefix, any draw after it
        ("/tmp/tmp.a1b2c3", "/tmp/tmp.*"),  # busybox mktemp: 6 characters
        ("/tmp/tmp.k3JdQ9xWmZ", "/tmp/tmp.*"),  # GNU mktemp: 10
        ("/tmp/tmp.conf", None),
        ("/tmp/app.config", None),  # a plain word is not random
        ("/tmp/x/build.README", None),
        ("/etc/app.Config1", None),  # not under a temporary directory
    ],
)
def test_temporary_names_seen_in_the_kernel_loop(name: str, general: str | None) -> None:
    assert volatile(name) == general
