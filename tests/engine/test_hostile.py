"""Names a confined process chose end up as literal paths: compiled, and allowing only that."""

from __future__ import annotations

from pathlib import Path

import pytest
from logprof_reader import read_profiles

from aaprof.engine import apply, assemble, suggest
from aaprof.model.event import Event
from aaprof.profiles.build import parse_policy
from aaprof.profiles.compile import compile_policy
from aaprof.profiles.coverage import Access, decide, find_profile
from aaprof.profiles.render import render_policy

FEATURES = Path("/etc/apparmor.d/abi/3.0")
HOSTILE = (
    "/tmp/new\nline",
    "/tmp/brace}",
    "/tmp/x,\n  /** rwlkmix,\n}\nprofile evil {",
    '/tmp/q"uote',
    "/tmp/comma,here",
    "/tmp/**",
    "/tmp/{a,b}",
    "/tmp/[ab]",
    "/tmp/@{HOME}",
    "/tmp/back\\slash",
    "/tmp/star*?^",
    "/tmp/sp ace",
    "/tmp/bad\udcffbyte",
)


def _event(name: str) -> Event:
    return Event(
        "ALLOWED",
        operation="open",
        class_="file",
        profile="victim",
        name=name,
        requested="rw",
        denied="rw",
        fsuid=0,
        ouid=1,
    )


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_name_is_a_literal_path(name: str) -> None:
    rules = apply(suggest([_event(name)]))
    text = render_policy(assemble("victim", rules["victim"]))
    compile_policy(text, features=FEATURES, name=repr(name))
    policy = parse_policy(text)
    assert [p.name for p in policy.profiles()] == ["victim"]
    profile = find_profile(policy, "victim")
    assert len(profile.rules()) == 1
    assert decide(profile, Access(name, frozenset("rw"))).ok
    for other in ("/tmp/a", "/tmp/other", name + "x", "/etc/shadow", "/tmp/"):
        assert not decide(profile, Access(other, frozenset("r"))).ok, other


def test_hostile_unix_and_dbus_names_stay_inside_their_rule() -> None:
    unix = Event(
        "DENIED",
        operation="connect",
        class_="net",
        profile="victim",
        family="unix",
        sock_type="stream",
        requested="connect",
        denied="connect",
        peer_addr="@x), unix (bind",
    )
    dbus = Event(
        "DENIED",
        operation="dbus_bind",
        class_="dbus",
        profile="victim",
        bus="session",
        name='a,\n dbus, "',
        requested="bind",
        denied="bind",
    )
    rules = apply(suggest([unix, dbus]))
    text = render_policy(assemble("victim", rules["victim"]))
    compile_policy(text, features=FEATURES, name="unix+dbus")
    assert len(find_profile(parse_policy(text), "victim").rules()) == 2


def test_aa_logprof_reads_the_hostile_names_profile(tmp_path: Path) -> None:
    rules = apply(suggest([_event(name) for name in HOSTILE]))
    text = render_policy(assemble("victim", rules["victim"]))
    assert '\\"' not in text, 'a quote written as \\" (aa-logprof refuses the line)'
    found = read_profiles({"victim": text}, tmp_path / "profiles")
    assert set(found) == {"victim"}, found
    assert len(found["victim"]) == len(HOSTILE), found["victim"]
