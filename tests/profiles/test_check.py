"""check_text: each kind of error a profile author hits, at its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from aaprof.profiles.check import Problem, check_text
from aaprof.profiles.includes import Includes


def _in_profile(*rules: str) -> str:
    return "profile p {\n" + "".join(f"  {r}\n" for r in rules) + "}\n"


@pytest.mark.parametrize(
    ("text", "line", "col", "reason"),
    [
        (_in_profile("owner capability chown,"), 2, 3, "'owner' applies to file rules only"),
        (_in_profile("other network,"), 2, 3, "'other' applies to file rules only"),
        (_in_profile("/bin/ls prx,"), 2, 3, "malformed permissions 'prx'"),
        (_in_profile("/bin/ls rx,"), 2, 3, "bare 'x' needs an exec mode"),
        (_in_profile("/a wa,"), 2, 3, "'w' and 'a' conflict"),
        ("capability,\n", 1, 1, "capability rule outside a profile"),
        (_in_profile("/a/[]b r,"), 2, 3, "empty character class"),
        (_in_profile("/usr/bin/{}x r,"), 2, 3, "empty alternation"),
        (_in_profile("/usr/one{en}try r,"), 2, 3, "alternation with one entry"),
        (_in_profile("dbus send bus=session bus=system,"), 2, 3, "given twice"),
        (_in_profile("unix send type in (dgram, stream),"), 2, 3, "takes '=', not 'in'"),
        (_in_profile("network peer=(port=65536),"), 2, 3, "out of range"),
        (_in_profile("network ip=192.168.0.1/33,"), 2, 3, "invalid ip address"),
        (_in_profile("network ip=10.0.0.9-10.0.0.1,"), 2, 3, "runs backwards"),
        (_in_profile("network netlink ip=127.0.0.1,"), 2, 3, "need the inet or inet6 family"),
        (_in_profile("network foo,"), 2, 3, "unknown network family 'foo'"),
        (_in_profile("unix create peer=(label=x),"), 2, 3, "no peer=(...)"),
        ("/x flags=(complain, enforce) {\n}\n", 1, 1, "a profile has one mode"),
        ("/x flags=(capability) {\n}\n", 1, 1, "unknown profile flag 'capability'"),
        ("/x flags=(error=13) {\n}\n", 1, 1, "not an errno name"),
        ("/x flags=(kill.signal=foo) {\n}\n", 1, 1, "not a signal name"),
        ("/x flags=(attach_disconnected.ipc=foo) {\n}\n", 1, 1, "must be an absolute path"),
        ("/x flags=(attach_disconnected.ipc=/a attach_disconnected.ipc=/b) {\n}\n", 1, 1, "one"),
        ("/x flags=(attach_disconnected.ipc, no_attach_disconnected) {\n}\n", 1, 1, "conflict"),
        (_in_profile("network send peer=(ip:=127.0.0.1),"), 2, 3, "not ':='"),
        (_in_profile("unix send peer=(label:=foo),"), 2, 3, "not ':='"),
        (_in_profile("mount options=(rw, ro) -> /m,"), 2, 3, "ro and rw conflict"),
        (_in_profile("mount options=(suidXXX) -> /m,"), 2, 3, "unknown mount option"),
        (_in_profile("mount options=(private) /a -> /m,"), 2, 3, "take no source"),
        (_in_profile("signal set=(nohup),"), 2, 3, "unknown signal 'nohup'"),
        (_in_profile("capability foobar,"), 2, 3, "unknown capability 'foobar'"),
        (_in_profile("set rlimit foo <= 1,"), 2, 3, "unknown rlimit 'foo'"),
        (_in_profile("set rlimit nice <= 40,"), 2, 3, "-20 to 19"),
        (_in_profile("/home/@{NOPE}/ r,"), 2, 3, "undefined variable @{NOPE}"),
        ("@{A}=@{B}\n@{B}=@{A}\n" + _in_profile("/@{A} r,"), 1, 1, "refers to itself"),
        ("@{A}=a\n@{A}=b\n", 2, 1, "assigned twice"),
        ('profile p + identities=("a a") {\n}\n', 1, 1, "invalid identity"),
        ("profile p + identities=() {\n}\n", 1, 11, "expected"),
        ("@{A}?=a\n@{A}=b\n", 2, 1, "assigned twice"),
        ("@{A}:=a\n@{A}=b\n", 2, 1, "assigned twice"),
        ("$B ?= false\n$B = true\n", 2, 1, "defined twice"),
        ("$B ?= maybe\n", 1, 4, "expected"),
        ("@{A}+=a\n", 1, 1, "+= before"),
        ("@{_A}=a\n", 1, 1, "invalid variable name"),
        (_in_profile("include <no/such/file>"), 2, 3, "include <no/such/file> not found"),
        (_in_profile("/bin/cat px,", "/bin/cat ix,"), 3, 3, "conflicting exec modes"),
        ("/x {\n}\n/x {\n}\n", 3, 1, "profile '/x' is defined twice"),
        ("profile :ns/t {\n}\n", 1, 1, "needs a closing ':'"),
        ("@{V}=bar\n@{V} {\n}\n", 2, 1, "must start with '/'"),
        ("/x {\n  $B = true\n}\n", 2, 3, "boolean definitions belong outside profiles"),
        ("/x {\n  /a r\n}\n", 3, 1, "expected ','"),
    ],
)
def test_each_error_at_its_place(text: str, line: int, col: int, reason: str) -> None:
    problems = check_text(text, filename="t.profile", includes=Includes(()))
    assert problems, f"accepted: {text!r}"
    first = problems[0]
    assert (first.filename, first.line, first.col) == ("t.profile", line, col), str(first)
    assert reason in first.reason, str(first)
    assert "\n" not in first.reason


@pytest.mark.parametrize(
    "text",
    [
        _in_profile("owner /a rw,", "other /b r,", "/bin/x pix,", "deny /c x,", "/d l -> /e,"),
        _in_profile("unsafe px /bin/a,", "px /bin/b,", "/bin/b Px,"),
        _in_profile("network inet stream ip=::1 port=80-90 peer=(ip=10.0.0.1 port=9),"),
        _in_profile("mount options in (ro, rw) -> /m,", "mount options=(slave) -> /m,"),
        _in_profile("signal (send, receive) set=(hup, rtmin+3) peer=unconfined,"),
        _in_profile("ptrace (read, readby) peer=/x,", "capability chown sys_admin,"),
        _in_profile("set rlimit nofile <= 1024,", "set rlimit nice <= -5,", "all,"),
        _in_profile("userns create,", "io_uring sqpoll,", "mqueue (read) type=posix /q,"),
        "@{A}=/a /b\n@{A}+=/c\n$B=true\n" + _in_profile("@{A}/** r,", "if $B {", "}"),
        "/x flags=(complain, attach_disconnected, kill.signal=hup, error=EPERM) {\n}\n",
        "profile :ns:name /attach {\n}\n",
        "$F=true\n@{N}=10\n" + _in_profile("if $F and @{N} >= 10 {", "/a r,", "}"),
        'profile p /bin/p + identities=(a, b)+ identities=("/c d") flags=(complain) {\n}\n',
        "@{A}=/a\n@{A}?=/b\n@{B}?=/c\n@{B}+=/d\n@{A}:=/e\n" + _in_profile("@{A}/@{B} r,"),
        "$B = true\n$B ?= false\n${C} := false\n${C}?=true\n"
        + _in_profile("if $B and not $C {", "}"),
        "/x flags=(attach_disconnected.ipc, attach_disconnected.path=/a) {\n}\n",
        "/x flags=(attach_disconnected.ipc=/run/@{p}/) {\n}\n",
        _in_profile('network inet tcp interface="lo*" ip=127.0.0.1 port=21, network label=foo,'),
        _in_profile("network send peer=(label=foo),", "network peer=(label:=@{profile_name}),"),
        "/x {\n  if true {\n    /a r,\n  } else if not FALSE {\n    /b r,\n  }\n}\n",
        "$F = true\n/x {\n  if $F {\n    ^h {\n    }\n  } else {\n    ^h {\n    }\n  }\n}\n",
    ],
)
def test_valid_policy_has_no_problems(text: str) -> None:
    assert check_text(text, includes=Includes(())) == ()


def test_a_fragment_may_hold_bare_rules() -> None:
    text = "/etc/x r,\ncapability chown,\n@{HOMEDIRS}+=/srv/\n/home/@{USER_UNKNOWN} r,\n"
    assert check_text(text, includes=Includes(()), fragment=True) == ()
    assert check_text(text, includes=Includes(())) != ()


def test_problems_in_included_files_name_that_file(tmp_path: Path) -> None:
    (tmp_path / "abstractions").mkdir()
    (tmp_path / "abstractions" / "bad").write_text("/etc/x r,\nowner capability chown,\n")
    text = _in_profile("include <abstractions/bad>")
    (problem,) = check_text(text, filename="p", includes=Includes((tmp_path,)))
    assert problem == Problem(
        str(tmp_path / "abstractions" / "bad"),
        2,
        1,
        "'owner' applies to file rules only, not to a capability rule",
    )


def test_a_file_including_itself_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "self"
    path.write_text("/x {\n  include <self>\n}\n")
    problems = check_text(path.read_text(), filename=str(path), includes=Includes((tmp_path,)))
    assert [p.reason for p in problems] == [f"{path} includes itself"]


def test_problem_as_text_and_dict() -> None:
    problem = Problem("f", 3, 5, "why")
    assert str(problem) == "f:3:5: why"
    assert problem.to_dict() == {"file": "f", "line": 3, "col": 5, "reason": "why"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("profile unconfined {\n}\n", "'unconfined' is the kernel's own profile"),
        ("profile p {\n  profile unconfined {\n  }\n}\n", "'unconfined' is the kernel's own"),
        ("profile :ns:web {\n}\n", "a namespace or stack name"),
        ('profile "web\\nunconfined (enforce)" {\n}\n', "a control character in the name"),
        ('profile "web\\rx" {\n}\n', "a control character in the name"),
    ],
)
def test_names_the_loader_refuses(text: str, reason: str) -> None:
    """`node load` checks with loading=True: a reserved name is a problem at its line; `profile
    check` (as apparmor_parser) accepts it."""
    (problem,) = check_text(text, filename="p", includes=Includes(()), loading=True)
    assert reason in problem.reason and "\n" not in problem.reason and "\r" not in problem.reason
    assert check_text(text, filename="p", includes=Includes(())) == ()
