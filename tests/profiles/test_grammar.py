"""Grammar and build: every rule kind parses into the model; errors name file:line:col."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest
import shared_corpus

from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.profiles.build import parse_policy, unquote
from aaprof.profiles.includes import Includes, expand_variables, resolve_includes
from aaprof.profiles.render import render_policy

CORPUS = shared_corpus.CORPUS / "libapparmor-test_multi"


def _rule(text: str) -> m.BodyItem:
    (profile,) = parse_policy(f"profile t {{\n  {text}\n}}\n").profiles()
    (item,) = profile.body
    return item


def test_file_rule_parts() -> None:
    rule = _rule("audit deny owner /usr/bin/{a,b}* mrPix -> child,")
    assert rule == m.FileRule(
        m.Qualifiers(audit=True, access="deny", owner=True),
        "/usr/bin/{a,b}*",
        frozenset("mr"),
        "Pix",
        "child",
    )
    assert _rule("rw /tmp/x,") == m.FileRule(path="/tmp/x", perms=frozenset("rw"))
    assert _rule("file,") == m.FileRule(keyword=True)
    assert _rule("priority=-5 /a r,").qualifiers.priority == -5  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("capability chown setuid,", m.CapabilityRule(names=frozenset({"chown", "setuid"}))),
        ("network inet stream,", m.NetworkRule(domain="inet", type="stream")),
        (
            "network (connect) inet stream ip=1.2.3.4 peer=(port=443),",
            m.NetworkRule(
                access=frozenset({"connect"}),
                domain="inet",
                type="stream",
                conds=(m.Cond("ip", ("1.2.3.4",)),),
                peer=(m.Cond("port", ("443",)),),
            ),
        ),
        (
            "unix (send, receive) type=stream peer=(label=@{profile_name}),",
            m.UnixRule(
                access=frozenset({"send", "receive"}),
                conds=(m.Cond("type", ("stream",)),),
                peer=(m.Cond("label", ("@{profile_name}",)),),
            ),
        ),
        (
            "signal (send) set=(term, kill) peer=k8s-x,",
            m.SignalRule(
                access=frozenset({"send"}), signals=frozenset({"term", "kill"}), peer="k8s-x"
            ),
        ),
        ("ptrace tracedby peer=/a,", m.PtraceRule(access=frozenset({"tracedby"}), peer="/a")),
        (
            "dbus send bus=system member=Hello peer=(name=org.x),",
            m.DbusRule(
                access=frozenset({"send"}),
                conds=(m.Cond("bus", ("system",)), m.Cond("member", ("Hello",))),
                peer=(m.Cond("name", ("org.x",)),),
            ),
        ),
        (
            "mount options in (ro, bind) /a/ -> /b/,",
            m.MountRule(
                conds=(m.Cond("options", ("ro", "bind"), "in"),), source="/a/", mountpoint="/b/"
            ),
        ),
        ("umount /mnt/,", m.MountRule(operation="umount", mountpoint="/mnt/")),
        ("pivot_root oldroot=/o/ /n/,", m.PivotRootRule(oldroot="/o/", newroot="/n/")),
        (
            "change_profile safe /bin/x -> y,",
            m.ChangeProfileRule(exec_mode="safe", exec_path="/bin/x", target="y"),
        ),
        ("set rlimit nofile <= 1024,", m.RlimitRule("nofile", "1024")),
        ("userns create,", m.UsernsRule(access=frozenset({"create"}))),
        (
            "io_uring sqpoll label=x,",
            m.IoUringRule(access=frozenset({"sqpoll"}), conds=(m.Cond("label", ("x",)),)),
        ),
        (
            "mqueue create type=sysv 123,",
            m.MqueueRule(
                access=frozenset({"create"}), conds=(m.Cond("type", ("sysv",)),), name="123"
            ),
        ),
        ("allow all,", m.AllRule(m.Qualifiers(access="allow"))),
        ("link subset /a -> /b,", m.LinkRule(m.NO_QUALIFIERS, "/a", "/b", subset=True)),
        ("^hat,", m.ChangeHatRule("hat")),
    ],
)
def test_rule_kinds(text: str, expected: m.BodyItem) -> None:
    assert _rule(text) == expected


def test_preamble_profiles_and_blocks() -> None:
    text = """abi <abi/3.0>,
include <tunables/global>
#include if exists "local/x"
@{A}=/a "/b c"
@{A}+=/d
$B = true
alias /usr/ -> /mnt/usr/,
# a comment
/usr/bin/foo xattrs=(user.x=y) flags=(complain, attach_disconnected) {
  audit deny { /x w, }
  if $B { /y r, } else { /z r, }
  ^h (complain) { /w r, }
  profile child /bin/c { }
}
"""
    policy = parse_policy(text)
    assert policy.items[:7] == (
        m.Abi("abi/3.0"),
        m.Include("tunables/global"),
        m.Include("local/x", magic=False, if_exists=True),
        m.Variable("A", ("/a", "/b c")),
        m.Variable("A", ("/d",), "+="),
        m.BooleanDef("B", True),
        m.Alias("/usr/", "/mnt/usr/"),
    )
    (profile,) = policy.profiles()
    assert profile.keyword == "" and profile.flags == {"complain", "attach_disconnected"}
    assert profile.xattrs == (m.Cond("user.x", ("y",)),)
    assert [c.name for c in profile.children()] == ["h", "child"]
    assert {r.path for r in profile.rules() if isinstance(r, m.FileRule)} == {"/x", "/y", "/z"}


def test_unquote_escapes() -> None:
    assert unquote(r'"/a b\"c"') == '/a b"c'
    assert unquote(r'"\x2a"') == r"\*" == unquote(r"\*")
    assert unquote(r'"\101\d066\x43\n"') == "ABC\n"
    assert unquote(r'"\x80"') == "\udc80"
    assert unquote(r'"\\"') == "\\\\"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("profile t {\n  /a rq,\n}\n", "f:2:6: expected ','"),
        ("profile t {\n  /a r,\n", "f:3:1: expected '}'"),
        ("capability chown\n/x r,", "f:2:1: expected ','"),
    ],
)
def test_errors_name_file_line_column(text: str, where: str) -> None:
    with pytest.raises(AaprofError, match=f"^{where}"):
        parse_policy(text, filename="f")


def test_includes_and_variables(tmp_path: Path) -> None:
    (tmp_path / "tunables").mkdir()
    (tmp_path / "tunables" / "v").write_text("@{X}=/a /b\n@{X}+=/c\n@{Y}=@{X}/y\n")
    policy = parse_policy("include <tunables/v>\ninclude if exists <nope>\n@{Z}=z\n")
    resolved = resolve_includes(policy, Includes((tmp_path,)))
    assert [Path(p).name for p, _ in resolved.files] == ["v"]
    assert resolved.variable("X") == ("/a", "/b", "/c")
    assert expand_variables("@{Y}/@{Z}", resolved) == ("/a/y/z", "/b/y/z", "/c/y/z")
    with pytest.raises(AaprofError, match=r"include <missing> not found"):
        resolve_includes(parse_policy("include <missing>\n"), Includes((tmp_path,)))


def _policy_files(*roots: str) -> list[str]:
    files = sorted(f for r in roots for f in glob.glob(r, recursive=True) if Path(f).is_file())
    return [f for f in files if "/abi/" not in f and not f.endswith("README")]


def test_every_debian_file_parses_and_renders_stably() -> None:
    files = _policy_files("/etc/apparmor.d/**/*", "/usr/share/apparmor/extra-profiles/*")
    assert len(files) > 300, "install apparmor apparmor-profiles apparmor-profiles-extra"
    _parses_and_renders_stably(files)


@shared_corpus.needs(CORPUS)
def test_every_corpus_file_parses_and_renders_stably() -> None:
    files = _policy_files(f"{CORPUS}/*.profile")
    assert files, f"no *.profile file in {CORPUS}"
    _parses_and_renders_stably(files)


def _parses_and_renders_stably(files: list[str]) -> None:
    for f in files:
        policy = parse_policy(Path(f).read_bytes().decode("utf-8", "surrogateescape"), filename=f)
        text = render_policy(policy)
        assert parse_policy(text, filename=f) == policy, f
        assert render_policy(parse_policy(text)) == text, f
