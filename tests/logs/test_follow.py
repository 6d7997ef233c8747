"""The polling follower: appends, partial lines, rotation, truncation, files that appear later.

The follower calls `stop()` between polls; the tests use that call to run the next scripted
change to the files, so every change lands between two polls, in order, without threads or
timing. Every run is bounded by a number of polls.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

from aaprof.logs.follow import RETIRED_POLLS, FollowedFile
from aaprof.logs.live import follow as follow_sources
from aaprof.logs.reader import Reader
from aaprof.logs.sources import Input
from aaprof.model.event import Event

Action = Callable[[], object]
MAX_POLLS = 200
T = TypeVar("T")


class Script(Generic[T]):
    """A `stop` callable that runs one action per poll, then stops once `want` items (lines, or
    a Reader's events) came; the loop that follows appends them to `got`."""

    def __init__(self, actions: list[Action], want: int) -> None:
        self.actions = list(actions)
        self.want = want
        self.polls = 0
        self.got: list[T] = []

    def __call__(self) -> bool:
        self.polls += 1
        if self.actions:
            self.actions.pop(0)()
            return False
        return len(self.got) >= self.want or self.polls >= MAX_POLLS


def follow(
    names: list[str],
    *,
    from_start: bool = False,
    stop: Callable[[], bool],
    poll: float,
    retired_polls: int = RETIRED_POLLS,
) -> Iterator[tuple[str, int, bytes | None]]:
    """(file, line number, line or None for one over 256 KiB) of the files' followers."""
    files = [FollowedFile(name, retired_polls=retired_polls) for name in names]
    for raw in follow_sources(files, from_start=from_start, stop=stop, poll=poll):
        assert isinstance(raw.data, bytes)
        yield raw.source.file, raw.source.line, None if raw.error else raw.data


def run(
    names: list[Path],
    actions: list[Action],
    want: int,
    from_start: bool = False,
    retired_polls: int = RETIRED_POLLS,
) -> list[tuple[str, int, bytes | None]]:
    script = Script[tuple[str, int, bytes | None]](actions, want)
    paths = [str(n) for n in names]
    for item in follow(
        paths, from_start=from_start, stop=script, poll=0.01, retired_polls=retired_polls
    ):
        script.got.append(item)
        assert len(script.got) <= want + 10, "far more lines than written"
    assert script.polls < MAX_POLLS, f"stopped by the poll bound with {script.got}"
    return script.got


def append(path: Path, data: bytes) -> Action:
    def act() -> None:
        with open(path, "ab") as f:
            f.write(data)

    return act


def lines(got: list[tuple[str, int, bytes | None]]) -> list[bytes]:
    return [line for _, _, line in got if line is not None]


def nothing() -> None:
    """One poll with no change."""


def test_appended_lines_come_out(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_bytes(b"old 1\nold 2\n")
    got = run([log], [append(log, b"new 1\n"), nothing, append(log, b"new 2\nnew 3\n")], want=3)
    assert lines(got) == [b"new 1\n", b"new 2\n", b"new 3\n"]
    # Line numbers count from where following started.
    assert [n for _, n, _ in got] == [1, 2, 3]
    assert {name for name, _, _ in got} == {str(log)}


def test_from_start_reads_existing_lines_first(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_bytes(b"old 1\nold 2\n")
    got = run([log], [append(log, b"new 1\n")], want=3, from_start=True)
    assert lines(got) == [b"old 1\n", b"old 2\n", b"new 1\n"]
    assert [n for _, n, _ in got] == [1, 2, 3]


def test_partial_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_bytes(b"")
    seen_before_newline: list[int] = []
    got: list[tuple[str, int, bytes | None]] = []

    def check() -> None:
        seen_before_newline.append(len(got))

    actions: list[Action] = [append(log, b"par"), nothing, append(log, b"tial"), nothing, check]
    actions += [append(log, b" line\nnext")]
    script = Script[tuple[str, int, bytes | None]](actions, want=1)
    for item in follow([str(log)], stop=script, poll=0.01):
        got.append(item)
        script.got.append(item)
        assert len(got) < 5
    assert seen_before_newline == [0]
    assert lines(got) == [b"partial line\n"]


def test_rotation_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    old = tmp_path / "syslog.1"
    log.write_bytes(b"before\n")

    def rotate() -> None:
        os.rename(log, old)
        append(old, b"old 2\n")()
        log.write_bytes(b"new 1\n")
        append(old, b"old 3\n")()

    actions: list[Action] = [
        append(log, b"old 1\n"),
        nothing,
        rotate,
        nothing,
        append(log, b"new 2\n"),
    ]
    got = run([log], actions, want=5)
    assert lines(got) == [b"old 1\n", b"old 2\n", b"old 3\n", b"new 1\n", b"new 2\n"]
    # The new file's lines are numbered from its start.
    assert [n for _, n, _ in got][-2:] == [1, 2]


def test_rotation_with_a_gap_before_the_new_file(tmp_path: Path) -> None:
    """logrotate without `create`: the name is absent for a while; the old file is still read."""
    log = tmp_path / "syslog"
    old = tmp_path / "syslog.1"
    log.write_bytes(b"")
    actions: list[Action] = [
        append(log, b"a\n"),
        lambda: os.rename(log, old),
        nothing,
        append(old, b"b\n"),
        nothing,
        append(old, b"c\n"),
        lambda: log.write_bytes(b"d\n"),
        nothing,
        append(log, b"e\n"),
    ]
    got = run([log], actions, want=5)
    assert lines(got) == [b"a\n", b"b\n", b"c\n", b"d\n", b"e\n"]


def test_partial_line_in_old_file_at_rotation_is_not_glued_to_new_file(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_bytes(b"")

    def rotate() -> None:
        os.rename(log, tmp_path / "syslog.1")
        log.write_bytes(b"new\n")

    got = run([log], [append(log, b"half"), nothing, rotate, nothing, nothing], want=1)
    assert b"new\n" in lines(got)
    assert all(b"halfnew" not in line for line in lines(got))


def test_copytruncate_reads_new_content_from_start(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_bytes(b"a fairly long first line that makes the file big\n" * 3)

    def copytruncate() -> None:
        (tmp_path / "kern.log.1").write_bytes(log.read_bytes())
        with open(log, "r+b") as f:
            f.truncate(0)

    actions: list[Action] = [
        append(log, b"x\n"),
        nothing,
        copytruncate,
        nothing,
        append(log, b"after\n"),
    ]
    got = run([log], actions, want=2)
    assert lines(got) == [b"x\n", b"after\n"]
    assert got[-1][1] == 1


def test_truncate_and_write_in_one_step(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_bytes(b"0123456789" * 20 + b"\n")

    def truncate_and_write() -> None:
        with open(log, "r+b") as f:
            f.truncate(0)
        append(log, b"fresh\n")()

    got = run([log], [truncate_and_write, nothing], want=1)
    assert lines(got) == [b"fresh\n"]


def test_file_that_appears_later_is_picked_up(tmp_path: Path) -> None:
    log = tmp_path / "late.log"
    actions: list[Action] = [nothing, nothing, lambda: log.write_bytes(b"first\n"), nothing]
    actions += [append(log, b"second\n")]
    got = run([log], actions, want=2)
    assert lines(got) == [b"first\n", b"second\n"]
    assert [n for _, n, _ in got] == [1, 2]


def test_several_files_each_named(tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(b"")
    b.write_bytes(b"")
    got = run([a, b], [append(a, b"1\n"), append(b, b"2\n"), append(a, b"3\n")], want=3)
    assert sorted((Path(name).name, line) for name, _, line in got) == [
        ("a.log", b"1\n"),
        ("a.log", b"3\n"),
        ("b.log", b"2\n"),
    ]


def test_stop_before_any_poll_gives_nothing(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_bytes(b"there\n")
    assert list(follow([str(log)], from_start=True, stop=lambda: True, poll=0.01)) == []


RECORD = (
    'type=AVC msg=audit(1700000000.{ms:03d}:{serial}): apparmor="DENIED" operation="open" '
    'profile="p" name="/x" pid=1 comm="c" requested_mask="r" denied_mask="r"\n'
)


def test_reader_follow_gives_events_and_joins_dbus_lines(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(b"")
    head = (
        b"type=USER_AVC msg=audit(1700000000.500:9): pid=1 uid=0 auid=1 ses=1 subj=? "
        b'msg=\'apparmor="DENIED" operation="dbus_method_call" bus="system" '
        b'path="/" interface="i.f" member="M" mask="send" name="n" pid=5 label="p"\n'
    )
    tail = b'   exe="/usr/bin/dbus-daemon" sauid=1 hostname=? addr=? terminal=?\'\n'
    actions: list[Action] = [
        append(log, RECORD.format(ms=1, serial=1).encode()),
        append(log, head),
        nothing,
        append(log, tail + RECORD.format(ms=2, serial=2).encode()),
    ]
    reader = Reader()
    script = Script[Event](actions, 3)
    events = script.got
    for event in reader.follow([Input(str(log))], script):
        events.append(event)
        assert len(events) <= 3
    assert [(e.serial, e.operation) for e in events] == [
        (1, "open"),
        (9, "dbus_method_call"),
        (2, "open"),
    ]
    assert events[1].member == "M"
    assert events[1].extra.get("exe") == "/usr/bin/dbus-daemon"
    assert [e.source.line for e in events if e.source] == [1, 2, 4]


def test_write_to_old_file_after_the_switch_is_not_lost(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    old = tmp_path / "syslog.1"
    log.write_bytes(b"")

    def rotate() -> None:
        os.rename(log, old)
        log.write_bytes(b"new 1\n")

    actions: list[Action] = [
        append(log, b"old 1\n"),
        rotate,
        nothing,
        append(old, b"old 2\n"),
        nothing,
    ]
    actions += [append(log, b"new 2\n"), nothing]
    got = run([log], actions, want=4)
    assert sorted(lines(got)) == [b"new 1\n", b"new 2\n", b"old 1\n", b"old 2\n"]


def test_a_renamed_file_is_let_go_after_it_stays_idle(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    old = tmp_path / "syslog.1"
    log.write_bytes(b"")

    def rotate() -> None:
        os.rename(log, old)
        log.write_bytes(b"new 1\n")

    actions: list[Action] = [append(log, b"old 1\n"), rotate, nothing, append(old, b"old 2\n")]
    actions += [nothing] * 6 + [append(old, b"too late\n"), nothing, append(log, b"new 2\n")]
    got = run([log], actions, want=4, retired_polls=2)
    assert lines(got) == [b"old 1\n", b"new 1\n", b"old 2\n", b"new 2\n"]
    # the renamed file keeps its numbering under the name it was followed by
    assert [(name.endswith("syslog"), n) for name, n, _ in got] == [
        (True, 1),
        (True, 1),
        (True, 2),
        (True, 2),
    ]


def test_lines_written_just_before_a_copytruncate_come_from_the_copy(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_bytes(b"already there\n")

    def write_then_copytruncate() -> None:
        append(log, b"written before the copy\n")()
        (tmp_path / "kern.log.1").write_bytes(log.read_bytes())
        with open(log, "r+b") as f:
            f.truncate(0)
        append(log, b"after\n")()

    got = run([log], [write_then_copytruncate, nothing], want=2)
    assert lines(got) == [b"written before the copy\n", b"after\n"]


def test_a_line_over_256_kib_is_given_as_none_and_the_next_one_whole(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_bytes(b"")
    actions: list[Action] = [append(log, b"x" * 300_000 + b"\n" + b"next\n")]
    actions += [nothing] * 3
    got = run([log], actions, want=2)
    assert [(n, line) for _, n, line in got] == [(1, None), (2, b"next\n")]


def test_reader_follow_counts_a_line_over_256_kib_as_unparsed(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(b"")
    actions: list[Action] = [
        append(log, b"x" * 300_000 + b"\n" + RECORD.format(ms=1, serial=1).encode()),
    ]
    reader = Reader()
    script = Script[Event](actions, 1)
    events = script.got
    for event in reader.follow([Input(str(log))], script):
        events.append(event)
    assert script.polls <= MAX_POLLS
    assert [e.serial for e in events] == [1]
    assert reader.stats.unparsed == 1
    [(source, reason)] = reader.stats.first_unparsed
    assert (source.line, reason) == (1, "line over 256 KiB")
