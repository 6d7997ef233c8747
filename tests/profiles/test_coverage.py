"""Coverage semantics on parsed profiles: deny wins, owner, audit, w implies a, exec modes,
x-conflicts, links, qualifier blocks, includes, and log records as accesses."""

from __future__ import annotations

from pathlib import Path

import pytest

from aaprof.errors import AaprofError
from aaprof.model.event import Event
from aaprof.profiles.build import parse_policy
from aaprof.profiles.coverage import (
    Access,
    Decision,
    XConflictError,
    decide,
    event_access,
    find_profile,
    inline_includes,
    policy_variables,
)
from aaprof.profiles.includes import Includes, resolve_includes

POLICY = parse_policy(
    r"""
@{DATA}=/srv/a /srv/b
profile p {
  /usr/bin/* ix,
  /usr/bin/curl Px -> curl,
  /opt/** cx -> kid,
  /opt/tool ux,
  deny /usr/bin/nope x,
  /etc/** r,
  deny /etc/shadow r,
  audit deny /etc/gshadow r,
  audit /etc/hosts r,
  owner /home/*/** rw,
  /var/log/*.log a,
  /var/lib/x/** rw,
  deny /var/lib/x/ro/* w,
  @{DATA}/** r,
  /tmp/*/ w,
  /tmp/d/ r,
  /lib/** mr,
  /run/lock/* rk,
  audit deny {
    /secret/** w,
  }
  /src/* r,
  /new/* rl,
  /wnew/* rwl,
  link /free/* -> /src/*,
  deny /new/bad l,
  /@{profile_name}/** r,
  profile kid {
    /opt/** r,
  }
}
profile conflict {
  /x/* ix,
  /x/* px,
  /y/* ix,
  /y/exact px,
}
"""
)
P = find_profile(POLICY, "p")
VARS = policy_variables(POLICY)


def d(
    name: str, perms: str, fsuid: int | None = 0, ouid: int | None = 0, target: str | None = None
) -> Decision:
    return decide(P, Access(name, frozenset(perms), fsuid, ouid, target), VARS)


@pytest.mark.parametrize(
    ("name", "perms", "verdict"),
    [
        ("/etc/passwd", "r", "allowed"),
        ("/etc/passwd", "w", "unmatched"),
        ("/etc/passwd", "rw", "unmatched"),
        ("/etc/shadow", "r", "denied"),
        ("/etc/", "r", "unmatched"),  # `/etc/**` needs a character after the slash
        ("/var/log/x.log", "a", "allowed"),
        ("/var/log/x.log", "w", "unmatched"),  # `a` does not grant `w`
        ("/var/log/x.log", "c", "unmatched"),  # nor create
        ("/var/lib/x/f", "a", "allowed"),  # `w` grants `a`
        ("/var/lib/x/f", "cd", "allowed"),  # create and delete are `w`
        ("/var/lib/x/ro/f", "a", "denied"),  # deny `w` denies `a`
        ("/var/lib/x/ro/f", "r", "allowed"),
        ("/srv/a/f", "r", "allowed"),
        ("/srv/b/f", "r", "allowed"),
        ("/srv/c/f", "r", "unmatched"),
        ("/tmp/d/", "w", "allowed"),
        ("/tmp/d", "w", "unmatched"),  # a file is not a directory
        ("/lib/x.so", "m", "allowed"),
        ("/etc/passwd", "m", "unmatched"),
        ("/run/lock/l", "rk", "allowed"),
        ("/run/lock/l", "rwk", "unmatched"),  # flock LOCK_EX also asks `w`
        ("/secret/s", "w", "denied"),
        ("/p/x", "r", "allowed"),  # @{profile_name}
    ],
)
def test_verdicts(name: str, perms: str, verdict: str) -> None:
    got = d(name, perms)
    assert got.verdict == verdict
    assert got.ok is (verdict == "allowed")


def test_owner_rules_need_fsuid_equal_ouid() -> None:
    assert d("/home/u/f", "w", 1000, 1000).ok
    assert not d("/home/u/f", "w", 1000, 0).ok
    assert not d("/home/u/f", "w", None, None).ok


def test_rules_that_decide_are_named() -> None:
    got = d("/etc/shadow", "r")
    assert [r.path for r in got.allow_rules] == ["/etc/**"]
    assert [r.path for r in got.deny_rules] == ["/etc/shadow"]
    assert got.explicit == {"r"}


@pytest.mark.parametrize(
    ("name", "perms", "audited"),
    [
        ("/etc/hosts", "r", True),  # audit allow
        ("/etc/passwd", "r", False),
        ("/etc/passwd", "w", True),  # an unmatched denial is logged
        ("/etc/shadow", "r", False),  # plain deny is quiet
        ("/etc/gshadow", "r", True),  # audit deny is not
        ("/secret/s", "w", True),  # audit deny from a qualifier block
    ],
)
def test_audited(name: str, perms: str, audited: bool) -> None:
    assert d(name, perms).audited is audited


@pytest.mark.parametrize(
    ("name", "mode", "target"),
    [
        ("/usr/bin/ls", "ix", None),
        ("/usr/bin/curl", "Px", "curl"),  # the exact rule beats the glob's ix
        ("/opt/a/b", "cx", "kid"),
        ("/opt/tool", "ux", None),
    ],
)
def test_exec_transitions(name: str, mode: str, target: str | None) -> None:
    got = d(name, "x")
    assert got.ok and got.exec is not None
    assert (got.exec.mode, got.exec.target) == (mode, target)


def test_exec_needs_a_mode_and_deny_wins() -> None:
    assert d("/usr/bin/nope", "x").verdict == "denied"
    assert d("/etc/passwd", "x").verdict == "unmatched"
    assert d("/usr/bin/nope", "x").exec is None


def test_x_conflicts_are_errors_but_exact_rules_win() -> None:
    prof = find_profile(POLICY, "conflict")
    with pytest.raises(XConflictError, match="conflicting exec modes"):
        decide(prof, Access("/x/a", frozenset("x")))
    got = decide(prof, Access("/y/exact", frozenset("x")))
    assert got.exec is not None and got.exec.mode == "px"
    assert isinstance(XConflictError("x"), AaprofError)


@pytest.mark.parametrize(
    ("name", "target", "fsuid", "ouid", "ok"),
    [
        ("/new/a", "/src/f", 0, 0, True),  # rl ⊆ r + l
        ("/wnew/a", "/src/f", 0, 0, False),  # w not held by the target
        ("/wnew/a", "/src/f", 0, 1000, True),  # the kernel tests the subset only for the owner
        ("/new/bad", "/src/f", 0, 0, False),  # deny l
        ("/free/a", "/src/f", 0, 0, True),  # a link rule without subset
        ("/free/a", "/etc/passwd", 0, 0, False),  # not its target
        ("/nowhere/a", "/src/f", 0, 0, False),
    ],
)
def test_links(name: str, target: str, fsuid: int, ouid: int, ok: bool) -> None:
    assert d(name, "l", fsuid, ouid, target).ok is ok


def test_children_are_separate_profiles() -> None:
    kid = find_profile(POLICY, "p//kid")
    assert decide(kid, Access("/opt/x", frozenset("r"))).ok
    assert not decide(kid, Access("/etc/passwd", frozenset("r"))).ok


def test_file_and_all_rules_grant_everything_but_deny_still_wins() -> None:
    pol = parse_policy("profile a {\n  file,\n  deny /etc/shadow w,\n}\nprofile b {\n  all,\n}\n")
    a, b = find_profile(pol, "a"), find_profile(pol, "b")
    got = decide(a, Access("/etc/shadow", frozenset("rwx")))
    assert got.allowed == {"r", "x"} and got.denied == {"w"}
    assert got.exec is not None and got.exec.mode == "ix"
    assert decide(b, Access("/", frozenset("rwlkmx"), target="/x")).ok


def test_includes_are_inlined(tmp_path: Path) -> None:
    (tmp_path / "abstractions").mkdir()
    (tmp_path / "abstractions" / "mine").write_text("@{X}=/data\n/etc/mine r,\n")
    (tmp_path / "abstractions" / "dir.d").mkdir()
    (tmp_path / "abstractions" / "dir.d" / "one").write_text("deny /etc/mine r,\n@{X}/** r,\n")
    pol = parse_policy(
        "include <abstractions/mine>\nprofile i {\n  include <abstractions/mine>\n}\n"
        "profile j {\n  include <abstractions/mine>\n  include <abstractions/dir.d>\n}\n"
    )
    resolved = resolve_includes(pol, Includes((tmp_path,)))
    variables = dict(resolved.variables)
    i = inline_includes(find_profile(pol, "i"), resolved)
    j = inline_includes(find_profile(pol, "j"), resolved)
    assert decide(i, Access("/etc/mine", frozenset("r")), variables).ok
    assert decide(j, Access("/etc/mine", frozenset("r")), variables).verdict == "denied"
    assert decide(j, Access("/data/f", frozenset("r")), variables).ok
    with pytest.raises(AaprofError, match="resolve includes first"):
        decide(find_profile(pol, "i"), Access("/etc/mine", frozenset("r")))


def test_event_access() -> None:
    ev = Event(mode="DENIED", operation="open", name="/etc/x", requested="wc", denied="wc",
               fsuid=1000, ouid=0)  # fmt: skip
    acc = event_access(ev)
    assert acc == Access("/etc/x", frozenset("wc"), 1000, 0)
    assert acc.requested == {"w"}
    link = event_access(Event(mode="DENIED", operation="link", name="/n", requested="l",
                              target="/t"))  # fmt: skip
    assert link.target == "/t"
    with pytest.raises(AaprofError):
        event_access(Event(mode="DENIED", operation="capable"))


def test_bad_accesses() -> None:
    with pytest.raises(AaprofError, match="unknown file permission"):
        Access("/x", frozenset("q"))
    with pytest.raises(AaprofError, match="needs its target"):
        Access("/x", frozenset("l"))
    with pytest.raises(AaprofError, match="no profile"):
        find_profile(POLICY, "nope")
