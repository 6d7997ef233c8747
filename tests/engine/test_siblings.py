"""Learning from siblings: numbered, hex and random names in one directory as one glob."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aaprof.engine import apply, suggest
from aaprof.engine.siblings import families
from aaprof.model import profile as m
from aaprof.model.event import Event
from aaprof.profiles.aare import compile_aare, escape, unescape
from aaprof.profiles.render import render_rule


def _write(name: str, fsuid: int = 101) -> Event:
    return Event(
        "ALLOWED", operation="open", class_="file", profile="p", name=name, requested="wc",
        denied="wc", fsuid=fsuid, ouid=0,
    )  # fmt: skip


def _rule(path: str, perms: str = "w") -> m.FileRule:
    return m.FileRule(m.Qualifiers(), path, frozenset(perms))


def _defaults(names: list[str]) -> list[str]:
    (rules,) = apply(suggest(_write(n) for n in names)).values()
    return sorted(render_rule(r) for r in rules if not isinstance(r, m.Include))


def test_numbered_temp_files_become_one_glob_by_default() -> None:
    names = [f"/var/cache/nginx/client_temp/000000000{n}" for n in (1, 2, 3)]
    assert _defaults(names) == ["/var/cache/nginx/client_temp/[0-9]* w,"]
    (ps,) = suggest(_write(n) for n in names)
    for s in ps.suggestions:
        exact, sibling = s.choices[0], s.choices[s.default]
        assert isinstance(s.rule, m.FileRule) and exact.kind == "exact"
        assert exact.text == f"{s.rule.path} w,"
        assert sibling.kind == "sibling" and s.default == 1
        assert "3 names in /var/cache/nginx/client_temp/ differ only in a number" in sibling.why


def test_the_glob_covers_the_family_and_not_other_shapes() -> None:
    rule = families([_rule(f"/q/{n:010d}") for n in (1, 2, 3)])[
        ("/q/0000000001", m.Qualifiers())
    ].rule
    aare = compile_aare(rule.path or "")
    assert aare.matches("/q/0000000004") and aare.matches("/q/17")
    assert not aare.matches("/q/index.html") and not aare.matches("/q/sub/1")


@pytest.mark.parametrize(
    ("names", "glob"),
    [
        (["req-1.tmp", "req-22.tmp", "req-333.tmp"], "/d/req-[0-9]*.tmp"),
        (["sess_a1b2c3d4", "sess_9f8e7d6c", "sess_0a1b2c3d"], "/d/sess_[0-9a-f]*"),
        (["up.Ab3xQ9", "up.Zz8kP2", "up.m1N2b3"], "/d/up.[A-Za-z0-9]*"),
        (["log.1.gz", "log.2.gz", "log.3.gz"], "/d/log.[0-9]*.gz"),
        (["tty1", "tty2", "tty3"], "/d/tty[0-9]*"),
    ],
)
def test_the_narrowest_glob_per_shape(names: list[str], glob: str) -> None:
    found = families([_rule(f"/d/{n}") for n in names])
    assert {f.rule.path for f in found.values()} == {glob}


def test_two_names_are_not_a_family() -> None:
    assert families([_rule("/d/1"), _rule("/d/2")]) == {}


def test_no_glob_when_it_would_cover_a_name_of_another_shape() -> None:
    rules = [_rule(f"/d/{n}") for n in ("1", "2", "3", "1x")]  # `[0-9]*` would cover `1x`
    assert families(rules) == {}


def test_one_path_with_two_qualifiers_is_in_two_families() -> None:
    # a directory each run lists (r) and creates as its owner (owner w): two globs, neither lost
    rules = [_rule(f"/d/{n:02d}/", "r") for n in (0, 1, 2)]
    owned = [
        m.FileRule(m.Qualifiers(owner=True), f"/d/{n:02d}/", frozenset("w")) for n in (0, 1, 2)
    ]
    found = families([*rules, *owned])
    assert {render_rule(f.rule) for f in found.values()} == {"/d/[0-9]*/ r,", "owner /d/[0-9]*/ w,"}
    assert found[("/d/00/", m.Qualifiers(owner=True))].rule.qualifiers.owner


def test_directories_kept_qualifiers_and_permissions_split_families() -> None:
    dirs = families([_rule(f"/d/{n}/", "r") for n in (7, 8, 9)])
    assert {f.rule.path for f in dirs.values()} == {"/d/[0-9]*/"}
    owned = [
        dataclasses.replace(_rule(f"/d/{n}"), qualifiers=m.Qualifiers(owner=True)) for n in (1, 2)
    ]
    assert families([*owned, _rule("/d/3")]) == {}  # two owned and one not: no family of three
    mixed = families([_rule("/d/1", "r"), _rule("/d/2", "w"), _rule("/d/3", "r")])
    assert {render_rule(f.rule) for f in mixed.values()} == {"/d/[0-9]* rw,"}


def test_proc_task_ids_stay_volatile_variables() -> None:
    names = [f"/proc/12/task/{t}/comm" for t in (13, 14, 15)]
    assert _defaults(names) == ["/proc/@{pid}/task/@{tid}/comm w,"]


def test_a_glob_is_escaped_where_the_name_holds_aare_characters() -> None:
    found = families([_rule(f"/d/a\\[{n}\\]") for n in (1, 2, 3)])
    (path,) = {f.rule.path for f in found.values()}
    assert path == "/d/a\\[[0-9]*\\]"
    assert compile_aare(path).matches("/d/a[42]")


_PART = st.text(alphabet="ab.-_fZ[*", max_size=4)
_OTHER = st.text(alphabet="ab.-_0123456789fZ[*", min_size=1, max_size=10)


@st.composite
def _directory(draw: st.DrawFn) -> list[str]:
    """Names of one directory: a numbered family (prefix, number, suffix) and other names."""
    prefix, suffix = draw(_PART), draw(_PART)
    numbers = draw(st.lists(st.integers(0, 10**6), min_size=3, max_size=6, unique=True))
    width = draw(st.sampled_from([0, 4, 10]))
    family = [
        f"{prefix}{n:0{width}d}{suffix}" if width else f"{prefix}{n}{suffix}" for n in numbers
    ]
    others = draw(st.lists(_OTHER, max_size=4))
    return list(dict.fromkeys([*family, *others]))


@settings(max_examples=300, deadline=None)
@given(_directory())
def test_a_family_glob_covers_its_members_and_no_other_name(names: list[str]) -> None:
    found = families([_rule("/d/" + escape(n)) for n in names])
    for (path, _), family in found.items():
        aare = compile_aare(family.rule.path or "")
        members = {unescape(p[3:]) for p in family.members}
        assert all(aare.matches("/d/" + n) for n in members)
        assert not any(aare.matches("/d/" + n) for n in names if n not in members), family
        assert path in family.members and len(members) >= 3


def test_rules_already_in_the_profile_are_members_of_a_family() -> None:
    """A later batch: two names learnt before (the profile's exact rules) and one new."""
    known = [_rule(f"/q/{n:010d}") for n in (1, 2)] + [_rule("/q/x.conf", "r")]
    found = families([_rule("/q/0000000003")], known)
    key = ("/q/0000000003", m.Qualifiers())
    assert list(found) == [key]  # (only the new rule gets a suggestion)
    family = found[key]
    assert family.rule.path == "/q/[0-9]*" and family.known == 2
    assert "3 names in /q/ (2 in the profile already) differ only in a number" in family.why
    assert families([], known) == {}  # what the profile holds alone suggests nothing
    # a glob that would cover a name of another shape in the profile is not proposed
    assert families([_rule("/q/3")], [_rule("/q/1"), _rule("/q/2"), _rule("/q/7z")]) == {}


def test_a_later_batch_suggests_the_glob_by_default() -> None:
    profile = m.Profile("p", body=tuple(_rule(f"/q/{n:010d}") for n in (1, 2)))
    (ps,) = suggest([_write("/q/0000000003")], existing={"p": profile}, written={"p": profile})
    (s,) = ps.suggestions
    assert s.choices[s.default].text == "/q/[0-9]* w,"
