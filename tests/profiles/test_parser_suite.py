"""Conformance with AppArmor's own parser suite (parser/tst/simple_tests of AppArmor 4.1.0).

Every `.sd` file says `#=EXRESULT PASS` or `FAIL`; `check_text` must agree on at least 99% of
the PASS files and 95% of the FAIL files, and every file where it does not is listed below with
the reason. The suite is GPL and not committed: scripts/fetch-parser-suite.sh downloads it from
Debian's archive into .cache/apparmor-suite (./dev.sh test runs it); without it these tests skip.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

from aaprof.errors import AaprofError
from aaprof.profiles.build import parse_policy
from aaprof.profiles.check import check_text
from aaprof.profiles.includes import Includes
from aaprof.profiles.render import render_policy

TST = Path(__file__).resolve().parents[2] / ".cache" / "apparmor-suite" / "tst"
SUITE = TST / "simple_tests"
FETCH = "scripts/fetch-parser-suite.sh"

# Files where aaprof's verdict differs from the suite's, and why. Each is a FAIL file aaprof
# accepts: telling these apart needs what only apparmor_parser's back end knows.
KNOWN_DIFFERENCES = {
    "bare_include_tests/recursive.sd": (
        "includes a file that includes itself; aaprof reads a file once per include chain, as"
        " apparmor_parser does for includes/recursive.include, which the suite accepts"
    ),
    "rlimits/bad_rlimit_01.sd": "`rttime <= 60m`: the time units of rlimit values are not checked",
    "vars/vars_file_evaluation_8.sd": (
        "`@{FOO}+/.foo/* r,`: apparmor_parser's lexer takes `@{FOO}+` for an assignment;"
        " aaprof reads a path"
    ),
    "xtrans/simple_bad_x_mods_15.sd": "`rppx`: a repeated exec modifier is read as one",
    "xtrans/simple_bad_x_mods_18.sd": "`rPPx`: a repeated exec modifier is read as one",
    "xtrans/simple_bad_x_mods_first_15.sd": "`rppx`: a repeated exec modifier is read as one",
    "xtrans/simple_bad_x_mods_first_18.sd": "`rPPx`: a repeated exec modifier is read as one",
    "xtrans/x-conflict.sd": (
        "exec modes conflict only where globs overlap (`/b* px` and `/* Pix`): that needs the"
        " compiled DFA; aaprof compares rules with the same path"
    ),
}


@dataclass(frozen=True, slots=True)
class Case:
    """One suite file: its name under simple_tests, its text and what the suite expects."""

    name: str
    text: str
    expect_pass: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    """aaprof's answer on one case: accepted, or the first problem (or the crash)."""

    accepted: bool
    detail: str
    crashed: bool = False


def _case(path: Path) -> Case | None:
    expect: bool | None = None
    lines: list[str] = []
    for line in path.read_bytes().decode("utf-8", "surrogateescape").splitlines(keepends=True):
        if line.startswith(("#=TODO", "#=DISABLED")):
            return None  # the suite does not count these either
        if line.startswith("#=EXRESULT"):
            expect = line.split()[1] == "PASS"
        lines.append(line)
    if expect is None:
        return None
    return Case(str(path.relative_to(SUITE)), "".join(lines), expect)


@functools.cache
def _cases() -> tuple[Case, ...]:
    if not SUITE.is_dir():
        pytest.fail(f"AppArmor's parser suite is not in {SUITE}: run {FETCH} (./dev.sh test does)")
    return tuple(c for p in sorted(SUITE.rglob("*.sd")) if (c := _case(p)) is not None)


@functools.cache
def _verdicts() -> dict[str, Verdict]:
    out = {}
    cases = _cases()  # (fails saying how to fetch the suite when it is missing)
    includes = Includes((SUITE,))
    # run where the suite runs (parser/tst): `include "x"` opens x from the working directory
    with contextlib.chdir(TST):
        for case in cases:
            out[case.name] = _verdict(case, includes)
    return out


def _verdict(case: Case, includes: Includes) -> Verdict:
    try:
        problems = check_text(case.text, filename=str(SUITE / case.name), includes=includes)
    except Exception as exc:
        return Verdict(False, f"{type(exc).__name__}: {exc}", crashed=True)
    return Verdict(not problems, str(problems[0]) if problems else "")


def test_suite_is_complete() -> None:
    cases = _cases()
    passes = sum(c.expect_pass for c in cases)
    assert passes > 1000 and len(cases) - passes > 700, f"{len(cases)} cases: a partial suite?"


def test_no_input_crashes_the_checker() -> None:
    crashes = {n: v.detail for n, v in _verdicts().items() if v.crashed}
    assert not crashes


def test_agrees_with_the_suite_but_for_the_listed_differences() -> None:
    verdicts = _verdicts()
    differ = {
        c.name: verdicts[c.name].detail
        for c in _cases()
        if verdicts[c.name].accepted != c.expect_pass
    }
    unexplained = {n: d or "accepted" for n, d in differ.items() if n not in KNOWN_DIFFERENCES}
    assert not unexplained, "verdicts that differ from the suite's"
    fixed = sorted(set(KNOWN_DIFFERENCES) - set(differ))
    assert not fixed, f"listed as differences but now agreeing (remove them): {fixed}"


def test_rates() -> None:
    verdicts = _verdicts()
    passes = [c for c in _cases() if c.expect_pass]
    fails = [c for c in _cases() if not c.expect_pass]
    accepted = sum(verdicts[c.name].accepted for c in passes)
    rejected = sum(not verdicts[c.name].accepted for c in fails)
    assert accepted >= 0.99 * len(passes), f"{accepted} of {len(passes)} PASS files accepted"
    assert rejected >= 0.95 * len(fails), f"{rejected} of {len(fails)} FAIL files rejected"


def test_render_then_parse_is_stable_for_every_accepted_file() -> None:
    unstable = []
    for case in _cases():
        if not _verdicts()[case.name].accepted:
            continue
        try:
            policy = parse_policy(case.text, filename=case.name)
            rendered = render_policy(policy)
            again = parse_policy(rendered, filename=f"{case.name} (rendered)")
        except AaprofError as exc:
            unstable.append(f"{case.name}: {exc}")
            continue
        if again != policy or render_policy(again) != rendered:
            unstable.append(f"{case.name}: the rendering parses to another policy")
    assert not unstable
