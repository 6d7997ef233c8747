"""rule_for per class on built Events: the cases the corpus does not pin down."""

from __future__ import annotations

from aaprof.engine import rule_for, suggest
from aaprof.engine.assemble import profile_filename
from aaprof.model import profile as m
from aaprof.model.event import Event
from aaprof.profiles.build import parse_policy
from aaprof.profiles.render import render_rule


def _text(event: Event) -> str | None:
    rule = rule_for(event)
    return render_rule(rule) if rule else None


def _exec(info: str | None = None) -> Event:
    return Event(
        "DENIED", operation="exec", class_="file", profile="p", name="/bin/sh",
        requested="x", denied="x", info=info, fsuid=1, ouid=0,
    )  # fmt: skip


def test_exec_is_mrix_and_no_new_privs_offers_only_inherit() -> None:
    assert _text(_exec()) == "/bin/sh mrix,"
    modes = {
        o.exec_mode
        for o in suggest([_exec()])[0].suggestions[0].options
        if isinstance(o, m.FileRule)
    }
    assert {"ix", "Px", "Cx", "Ux"} <= modes
    nnp = suggest([_exec("no new privs")])[0].suggestions[0].options
    allowed = [o for o in nnp if isinstance(o, m.FileRule) and not o.qualifiers.deny]
    assert {o.exec_mode for o in allowed} == {"ix"}


def test_create_delete_as_write_and_owner() -> None:
    mk = Event(
        "DENIED",
        operation="mkdir",
        class_="file",
        profile="p",
        name="/d/",
        denied="c",
        fsuid=5,
        ouid=5,
    )
    assert _text(mk) == "owner /d/ w,"
    rm = Event(
        "DENIED",
        operation="unlink",
        class_="file",
        profile="p",
        name="/f",
        denied="d",
        fsuid=5,
        ouid=6,
    )
    assert _text(rm) == "/f w,"


def test_owner_only_on_files_the_workload_owns() -> None:
    # learnt from a pod running as root: its root-owned binary, library and config are the
    # image's (the same pod as another user must still run them); what it writes is its own
    def event(name: str, mask: str, operation: str = "open", fsuid: int = 0) -> Event:
        return Event(
            "ALLOWED", operation=operation, class_="file", profile="p", name=name,
            requested=mask, denied=mask, fsuid=fsuid, ouid=fsuid,
        )  # fmt: skip

    assert _text(event("/bin/busybox", "x", "exec")) == "/bin/busybox mrix,"
    assert _text(event("/lib/libc.so.6", "mr", "file_mmap")) == "/lib/libc.so.6 mr,"
    assert _text(event("/etc/app.conf", "r")) == "/etc/app.conf r,"
    assert _text(event("/var/log/app.log", "a")) == "owner /var/log/app.log a,"
    assert _text(event("/tmp/tmp.1.XYZ", "rwc")) == "owner /tmp/tmp.1.XYZ rw,"
    assert _text(event("/home/u/notes", "r", fsuid=1000)) == "owner /home/u/notes r,"
    old = Event(
        "ALLOWED", operation="open", class_="file", profile="p", name="/usr/lib/x.so",
        requested="r::", denied="r::", fsuid=0, ouid=0,
    )  # fmt: skip
    assert _text(old) == "/usr/lib/x.so r,"


def test_nothing_to_allow() -> None:
    assert (
        _text(Event("DENIED", operation="ptrace", class_="ptrace", profile="p", peer="x")) is None
    )
    assert _text(Event("STATUS", operation="profile_load", profile="p", name="p")) is None
    bad_cap = Event("DENIED", operation="capable", class_="cap", profile="p", capname="x, file")
    assert _text(bad_cap) is None


def test_existing_non_file_rules_cover() -> None:
    existing = parse_policy(
        "profile p {\n  network inet,\n  signal (send),\n  dbus,\n}\n"
    ).profiles()[0]
    events = [
        Event(
            "DENIED",
            operation="create",
            class_="net",
            profile="p",
            family="inet",
            sock_type="stream",
        ),
        Event(
            "DENIED",
            operation="signal",
            class_="signal",
            profile="p",
            denied="send",
            signal="term",
            peer="q",
        ),
        Event(
            "DENIED",
            operation="dbus_bind",
            class_="dbus",
            profile="p",
            bus="system",
            name="a.b",
            denied="bind",
        ),
        Event(
            "DENIED",
            operation="create",
            class_="net",
            profile="p",
            family="inet6",
            sock_type="stream",
        ),
    ]
    (ps,) = suggest(events, existing={"p": existing})
    assert [render_rule(s.rule) for s in ps.suggestions] == ["network inet6 stream,"]


def test_a_bare_mount_rule_covers_a_mount_and_only_a_mount() -> None:
    mount = Event(
        "DENIED", operation="mount", class_="mount", profile="p", fstype="tmpfs",
        srcname="none", name="/mnt/", flags="rw", info="failed flags match",
    )  # fmt: skip
    for policy, want in (
        ("mount,", []),
        ("umount,", ['mount fstype=tmpfs options=rw "none" -> /mnt/,']),
    ):
        existing = parse_policy(f"profile p {{\n  {policy}\n}}\n").profiles()[0]
        got = suggest([mount], existing={"p": existing})
        assert [render_rule(s.rule) for ps in got for s in ps.suggestions] == want, policy


def test_profile_filename_is_safe() -> None:
    assert profile_filename("/usr/bin/foo") == "usr.bin.foo"
    assert profile_filename("aaprof.ns.pod.c") == "aaprof.ns.pod.c"
    for name in ("..", "/..", "../../etc/passwd", ".hidden", "a/../b", "x\ny", "%2F"):
        out = profile_filename(name)
        assert "/" not in out and not out.startswith(".") and "\n" not in out, out
    assert profile_filename("a b") != profile_filename("a_b")
