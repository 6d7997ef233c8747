"""The abi a generated profile pins, and what `profile check` warns about a file's pin.

A rule of the AppArmor 4 classes (userns, io_uring, mqueue, all), `priority=`, a fine network
rule and the prompt/default_allow modes need `abi <abi/4.0>` (the newest AppArmor 4.1's parser
ships); everything else is pinned at `abi <abi/3.0>`. AppArmor's own parser suite (fetched by
scripts/fetch-parser-suite.sh) gives every form of them the parser accepts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aaprof_cli import aaprof

from aaprof.engine import assemble, rule_for
from aaprof.model import profile as m
from aaprof.model.event import Event
from aaprof.profiles import abi
from aaprof.profiles.build import parse_policy
from aaprof.profiles.render import render_policy

SUITE = Path(__file__).resolve().parents[2] / ".cache" / "apparmor-suite" / "tst" / "simple_tests"
USERNS = Event(
    "ALLOWED", operation="userns_create", class_="namespace", profile="p",
    requested="userns_create", denied="userns_create",
)  # fmt: skip
OPEN = Event(
    "ALLOWED", operation="open", class_="file", profile="p", name="/etc/app.conf",
    requested="r", denied="r", fsuid=0, ouid=0,
)  # fmt: skip


def _generated(*events: Event, existing: str | None = None) -> str:
    rules = [r for e in events if (r := rule_for(e)) is not None]
    old = parse_policy(existing) if existing is not None else None
    return render_policy(assemble("p", rules, existing=old))


def _abi_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("abi ")]


def test_a_generated_profile_pins_abi_3_unless_a_rule_needs_4() -> None:
    assert _abi_lines(_generated(OPEN)) == ["abi <abi/3.0>,"]
    text = _generated(OPEN, USERNS)
    assert _abi_lines(text) == ["abi <abi/4.0>,"]
    assert "  userns create," in text


def test_merging_a_newer_rule_raises_the_pin_and_an_older_one_keeps_the_file() -> None:
    pinned = "abi <abi/3.0>,\nprofile p {\n  /etc/app.conf r,\n}\n"
    assert _abi_lines(_generated(USERNS, existing=pinned)) == ["abi <abi/4.0>,"]
    unpinned = "# mine\nprofile p {\n}\n"
    text = _generated(USERNS, existing=unpinned)
    assert text.splitlines()[:2] == ["# mine", "abi <abi/4.0>,"]
    assert _abi_lines(_generated(OPEN, existing=unpinned)) == []  # its lack of a pin is kept
    newer = "abi <abi/4.0>,\nprofile p {\n}\n"
    assert _abi_lines(_generated(OPEN, existing=newer)) == ["abi <abi/4.0>,"]


def test_a_kill_mode_denial_is_learnt_like_a_denied_one() -> None:
    killed = Event(
        "KILLED", operation="userns_create", class_="namespace", profile="p",
        requested="userns_create", denied="userns_create",
    )  # fmt: skip
    rule = rule_for(killed)
    assert isinstance(rule, m.UsernsRule) and rule.access == {"create"}
    asked = Event("KILLED", operation="open", class_="file", profile="p", name="/x", requested="r")
    assert rule_for(asked) is None  # nothing refused: no rule, as for DENIED


def _newer_cases() -> list[Path]:
    if not SUITE.is_dir():
        return []
    out = []
    for path in sorted(SUITE.rglob("*.sd")):
        text = path.read_text(errors="surrogateescape")
        if "#=EXRESULT PASS" not in text:
            continue
        kind = path.relative_to(SUITE).parts[0]
        newer_class = kind in ("all", "io_uring", "mqueue") or path.name.startswith("ok_userns")
        newer_syntax = re.search(r"\bpriority\s*=", text) or re.search(
            r"flags\s*=\s*\(?[^)\n]*\b(prompt|default_allow)\b", text
        )
        if newer_class or newer_syntax:
            out.append(path)
    return out


def test_every_newer_form_of_the_parser_suite_needs_abi_4() -> None:
    cases = _newer_cases()
    if not cases:
        pytest.fail("the parser suite is not fetched: run scripts/fetch-parser-suite.sh")
    wrong = []
    for path in cases:
        try:
            policy = parse_policy(path.read_text(errors="surrogateescape"))
        except ValueError:
            continue  # the suite's few forms aaprof's grammar differs on (test_parser_suite)
        if abi.needed(policy.items) != abi.NEWEST:
            wrong.append(str(path.relative_to(SUITE)))
    assert len(cases) > 100
    assert wrong == []


def _check(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "p"
    path.write_text(text)
    done = aaprof("profile", "check", "--no-compile", str(path))
    assert done.returncode == 0, done.stdout + done.stderr  # warnings do not fail the check
    return [
        line.removeprefix(f"{path}:") for line in done.stdout.splitlines() if "warning:" in line
    ]


def test_check_warns_where_a_rule_needs_a_newer_abi_than_the_file_pins(tmp_path: Path) -> None:
    text = "abi <abi/3.0>,\nprofile p {\n  /etc/x r,\n  deny userns,\n  io_uring sqpoll,\n}\n"
    warnings = _check(tmp_path, text)
    assert len(warnings) == 2
    assert warnings[0].startswith("4:3: warning: a userns rule needs abi <abi/4.0> and this file")
    assert "a deny is not enforced" in warnings[0]
    assert warnings[1].startswith("5:3: warning: an io_uring rule needs abi <abi/4.0>")
    flags = "profile p flags=(prompt) {\n  priority=1 /etc/x r,\n}\n"
    assert [w.split(" needs")[0] for w in _check(tmp_path, flags)] == [
        "1:1: warning: the prompt mode",
        "2:3: warning: priority=",
    ]
    assert _check(tmp_path, text.replace("abi/3.0", "abi/4.0")) == []


def test_check_warns_where_network_is_the_only_grant_for_unix_sockets(tmp_path: Path) -> None:
    # containerd issue 12726: `network` implies `unix` only under abi/3.0
    text = "abi <abi/4.0>,\nprofile p {\n  network,\n  profile child {\n    network unix,\n  }\n}\n"
    warnings = _check(tmp_path, text)
    assert [w.split(":")[:2] for w in warnings] == [["3", "3"], ["5", "5"]]
    assert "(containerd issue 12726)" in warnings[0]
    assert _check(tmp_path, text.replace("abi/4.0", "abi/3.0")) == []
    assert len(_check(tmp_path, text.replace("abi <abi/4.0>,\n", ""))) == 2  # no pin
    with_unix = text.replace("  network,\n", "  network,\n  unix,\n")
    assert [w.split(":")[0] for w in _check(tmp_path, with_unix)] == ["6"]  # the child's
    assert (
        _check(
            tmp_path,
            text.replace("network,", "network inet stream,").replace(
                "network unix,", "deny network unix,"
            ),
        )
        == []
    )


def test_a_unix_record_is_learnt_as_a_unix_rule_beside_network() -> None:
    # whatever the abi, `network,` is not taken for the unix rule (containerd issue 12726)
    from aaprof.engine.existing import covered

    unix = Event(
        "ALLOWED", operation="connect", class_="net", profile="p", family="unix",
        sock_type="stream", requested="connect", denied="connect", peer_addr="@/run/x",
    )  # fmt: skip
    rule = rule_for(unix)
    assert isinstance(rule, m.UnixRule)
    for pin in ("abi <abi/3.0>,\n", "abi <abi/4.0>,\n", ""):
        profile = parse_policy(pin + "profile p {\n  network,\n}\n").profiles()[0]
        assert not covered(profile, rule, unix)
    assert "  unix connect type=stream peer=(addr=@/run/x)," in _generated(unix)
    assert _abi_lines(_generated(unix)) == ["abi <abi/3.0>,"]


def test_the_newer_classes_reviews_flag() -> None:
    from aaprof.engine.severity import severity

    def rule(text: str) -> m.Rule:
        return parse_policy(f"profile p {{\n  {text}\n}}\n").profiles()[0].rules()[0]

    assert (severity(rule("all,")) or "").startswith("high: all allows every access")
    assert severity(rule("deny all,")) is None
    assert (severity(rule("io_uring override_creds,")) or "").startswith("high:")
    assert (severity(rule("io_uring,")) or "").startswith("high:")
    assert (severity(rule("io_uring sqpoll,")) or "").startswith("medium:")
    assert (severity(rule("userns create,")) or "").startswith("medium:")
