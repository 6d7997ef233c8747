"""Renderer: canonical text, and quoting that no name can break out of."""

from __future__ import annotations

import pytest

from aaprof.model import profile as m
from aaprof.profiles.build import parse_policy
from aaprof.profiles.render import aare_escape, quote_name, quote_path, render_policy, render_rule


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("/usr/bin/foo", "/usr/bin/foo"),
        ("/usr/{,s}bin/x", "/usr/{,s}bin/x"),
        ("/a b", '"/a b"'),
        ('/a"b', '"/a\\042b"'),  # not `\"`: aa-logprof refuses it
        ("/a,b", '"/a,b"'),
        ("/a\nb", '"/a\\nb"'),
        ("/a\udc80", '"/a\\200"'),
        ("/a\x01", '"/a\\001"'),
        (aare_escape("/a*{b}"), '"/a\\*\\{b\\}"'),
        ("", '""'),
        ("-x", '"-x"'),
    ],
)
def test_quote_name(value: str, text: str) -> None:
    assert quote_name(value) == text


def test_quote_path_quotes_relative_names() -> None:
    assert quote_path("rw") == '"rw"'
    assert quote_path("@{HOME}/x") == "@{HOME}/x"


def test_hostile_name_stays_one_rule() -> None:
    evil = aare_escape('x", deny /** w,\n}\nprofile evil {\n')
    rule = m.FileRule(path="/" + evil, perms=frozenset("r"))
    text = render_policy(m.PolicyFile((m.Profile("t", body=(rule,)),)))
    assert text.count("\n") == 3
    (profile,) = parse_policy(text).profiles()
    assert profile.body == (rule,)


def test_canonical_rule_text() -> None:
    rule = m.FileRule(
        m.Qualifiers(audit=True, access="deny", owner=True), "/x", frozenset("wrm"), "Px", "t"
    )
    assert render_rule(rule) == "audit deny owner /x mrwPx -> t,"
    sig = m.SignalRule(access=frozenset({"send", "receive"}), signals=frozenset({"term", "hup"}))
    assert render_rule(sig) == "signal (receive, send) set=(hup, term),"


def test_layout() -> None:
    text = (
        "include <tunables/global>\n# c\nprofile a flags=(complain) {\n"
        "  capability kill,\n  ^h {\n  }\n}\n"
    )
    policy = parse_policy(text)
    assert render_policy(policy) == (
        "include <tunables/global>\n# c\n\nprofile a flags=(complain) {\n  capability kill,\n"
        "  ^h {\n  }\n}\n"
    )


def test_assignment_operators_and_peer_label_survive_a_round_trip() -> None:
    text = (
        "@{A} = /a\n@{A} ?= /b\n@{B} := /c\n$X = true\n$X ?= false\n$Y := false\n\n"
        "/x flags=(attach_disconnected.ipc=/run/) {\n"
        "  network send peer=(label:=@{profile_name}),\n}\n"
    )
    policy = parse_policy(text)
    assert [getattr(i, "op", None) for i in policy.items[:6]] == ["=", "?=", ":=", "=", "?=", ":="]
    rule = next(iter(policy.profiles()[0].rules()))
    assert isinstance(rule, m.NetworkRule) and rule.peer == (
        m.Cond("label", ("@{profile_name}",), ":="),
    )
    rendered = render_policy(policy)
    assert (
        "@{A}?=/b" in rendered
        and "$Y := false" in rendered
        and "label:=@{profile_name}" in rendered
    )
    assert parse_policy(rendered).items == policy.items


def test_identities_survive_a_round_trip() -> None:
    text = 'profile p /bin/p + identities=(a, b) + identities=("/c d") flags=(complain) {\n}\n'
    policy = parse_policy(text)
    assert policy.profiles()[0].identities == ("a", "b", "/c d")
    rendered = render_policy(policy)
    assert 'profile p /bin/p + identities=(a b "/c d") flags=(complain) {' in rendered
    assert parse_policy(rendered).items == policy.items
