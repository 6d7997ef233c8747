"""Generated and mutated policies: the parser raises nothing but AaprofError, the checker nothing.

Policies are built from the language's own words and punctuation (so they reach deep into the
grammar), and real policies are mutated (a character dropped, inserted, a span repeated).
Whatever parses renders to text that parses to the same policy.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aaprof.errors import AaprofError
from aaprof.profiles.build import parse_policy
from aaprof.profiles.check import check_text
from aaprof.profiles.includes import Includes
from aaprof.profiles.render import render_policy

_WORDS = str.split(
    "profile hat ^h if else not defined and or true false $B ${B} @{V} @{V}= @{V}+= $B=true "
    "include <abstractions/base> abi <abi/4.0> alias -> flags=(complain) xattrs=(a=b) owner "
    "other audit deny allow priority=1 file link subset capability network unix signal ptrace "
    "dbus mount remount umount pivot_root change_profile safe unsafe set rlimit nofile <= 10 "
    "userns io_uring mqueue all peer=(label=x) peer=/x addr=@a type=stream set=(hup) "
    "options=(ro) fstype=ext4 ip=::1 port=80 inet tcp r w rw px Pix cx ix ux rwlk mr x "
    '/usr/bin/x /tmp/** /a/{b,c} [a-z] \\ " "q" # #c'
)
_PUNCT = ["{", "}", "(", ")", ",", "=", " ", "\n", "\t", ":"]
_token = st.sampled_from(_WORDS + _PUNCT)
_generated = st.lists(_token, max_size=60).map(" ".join)

_SEEDS = [
    "profile p /usr/bin/p flags=(complain) {\n  /etc/** r,\n  owner @{HOME}/x rw,\n}\n",
    "@{V}=/a /b\n$B = true\n/x {\n  if $B {\n    ^h {\n      /y ix,\n    }\n  } else {\n"
    "    network inet stream,\n  }\n}\n",
    "abi <abi/4.0>,\ninclude <tunables/global>\nprofile a {\n  unix (send) peer=(label=b),\n"
    "  dbus send bus=session path=/o peer=(name=n),\n  mount options=(ro) /d -> /m,\n"
    "  signal (send) set=(hup, term) peer=u,\n  ptrace (read readby) peer=/dev/null,\n}\n",
]


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(_SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["drop", "insert", "repeat"]))
        if op == "drop":
            text = text[:i] + text[i + 1 :]
        elif op == "insert":
            text = text[:i] + draw(st.sampled_from([*_PUNCT, "\\", '"', "#", "@{", "^"])) + text[i:]
        else:
            j = draw(st.integers(i, min(len(text), i + 20)))
            text = text[:j] + text[i:j] * draw(st.integers(1, 30)) + text[j:]
    return text


def _exercise(text: str) -> None:
    check_text(text, includes=Includes(()), fragment=True)
    check_text(text, includes=Includes(()))
    try:
        policy = parse_policy(text)
    except AaprofError:
        return
    rendered = render_policy(policy)
    assert parse_policy(rendered) == policy, rendered


_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_generated)
def test_generated_policies(text: str) -> None:
    _exercise(text)


@_SETTINGS
@given(_mutated())
def test_mutated_policies(text: str) -> None:
    _exercise(text)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    deep = "/a {\n" + "if $x {\n" * 5000 + "}\n" * 5000 + "}\n"
    problems = check_text(deep)
    assert len(problems) == 1 and "nested deeper than" in problems[0].reason
    assert (problems[0].line, problems[0].col) == (201, 7)  # the 201st brace


def test_nesting_allowed_by_the_suite_parses() -> None:
    nested = "$x = true\n/a {\n" + "if $x {\n" * 150 + "/b r,\n" + "}\n" * 150 + "}\n"
    assert check_text(nested) == ()


def test_ptrace_access_with_a_peer_inside_round_trips() -> None:
    text = "profile p {\n  ptrace (read readby peer=/dev/null),\n}\n"
    policy = parse_policy(text)
    assert parse_policy(render_policy(policy)) == policy
    problems = check_text(text)
    assert [p.reason for p in problems] == ["unknown ptrace access 'peer=/dev/null'"]
