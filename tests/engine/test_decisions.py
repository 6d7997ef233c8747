"""The decisions file: round trip, replay on new logs, deny and skip, malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from aaprof.engine import apply, load_decisions, save_decisions, suggest
from aaprof.engine.decisions import Decision, defaults, dump_decisions, parse_decisions
from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.model.event import Event
from aaprof.profiles.render import render_rule


def _open(name: str) -> Event:
    return Event(
        "ALLOWED", operation="open", class_="file", profile="p", name=name,
        requested="r", denied="r", fsuid=1, ouid=0,
    )  # fmt: skip


def _texts(items: tuple[m.Rule | m.Include, ...]) -> list[str]:
    return [f"include <{i.path}>" if isinstance(i, m.Include) else render_rule(i) for i in items]


def test_round_trip(tmp_path: Path) -> None:
    decisions = (
        Decision("p", "/etc/a r,", choice=2),
        Decision("p//hat", "capability chown,", action="deny"),
        Decision("q", "/x r,", text="/x{,y} r,"),
        Decision("q", "/y r,", action="skip"),
    )
    path = tmp_path / "decisions.yaml"
    save_decisions(path, decisions)
    assert load_decisions(path) == decisions
    assert parse_decisions(dump_decisions(decisions)) == decisions


def test_replay_choices_on_new_logs() -> None:
    first = suggest([_open("/etc/app/conf.d/one.conf")])
    (s,) = first[0].suggestions
    assert render_rule(s.options[1]) == "/etc/app/conf.d/*.conf r,"  # type: ignore[arg-type]
    decisions = parse_decisions(dump_decisions([Decision("p", s.key, choice=1)]))
    later = suggest([_open("/etc/app/conf.d/one.conf"), _open("/etc/passwd")])
    assert _texts(apply(later, decisions)["p"]) == ["/etc/app/conf.d/*.conf r,", "/etc/passwd r,"]


def test_deny_skip_and_text() -> None:
    ps = suggest([_open("/etc/shadow"), _open("/etc/a"), _open("/etc/b")])
    decisions = [
        Decision("p", "/etc/shadow r,", action="deny"),
        Decision("p", "/etc/a r,", action="skip"),
        Decision("p", "/etc/b r,", text="include <abstractions/base>"),
    ]
    assert sorted(_texts(apply(ps, decisions)["p"])) == [
        "deny /etc/shadow r,",
        "include <abstractions/base>",
    ]


def test_defaults_choose_the_default_option() -> None:
    ps = suggest([_open("/proc/77/cmdline")])
    (d,) = defaults(ps)
    assert d.choice == 1
    assert _texts(apply(ps, [d])["p"]) == _texts(apply(ps)["p"]) == ["/proc/@{pid}/cmdline r,"]


@pytest.mark.parametrize(
    "text",
    [
        "version: 2\ndecisions: []\n",
        "version: 1\ndecisions: {}\n",
        "version: 1\ndecisions: [{profile: p}]\n",
        "version: 1\ndecisions: [{profile: p, rule: 'x', action: maybe}]\n",
        "version: 1\ndecisions: [{profile: p, rule: 'x', choice: -1}]\n",
        "version: 1\ndecisions: [{profile: p, rule: 'x', choice: 1, text: 'y'}]\n",
        "version: 1\ndecisions: [{profile: p, rule: 'x', extra: 1}]\n",
        "[not, closed",
    ],
)
def test_malformed_files_are_refused(text: str) -> None:
    with pytest.raises(AaprofError):
        parse_decisions(text)


def test_bad_choice_and_text_are_refused() -> None:
    ps = suggest([_open("/etc/a")])
    with pytest.raises(AaprofError, match="out of range"):
        apply(ps, [Decision("p", "/etc/a r,", choice=99)])
    with pytest.raises(AaprofError, match="exactly one rule"):
        apply(ps, [Decision("p", "/etc/a r,", text="/a r,\n/b r,")])
