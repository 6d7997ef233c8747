"""The one path from a followed record to an Event (`Reader.live`): the records a follower
gives read as `events` reads a file of them; the journal's follower under `events --follow`;
/dev/kmsg's one reader."""

from __future__ import annotations

import os
from pathlib import Path

from watch.records import audit_line, hostile_line, write_journal

from aaprof.logs.follow import FollowedFile
from aaprof.logs.kmsg import drain
from aaprof.logs.live import Raw
from aaprof.logs.reader import Reader
from aaprof.logs.sources import Input
from aaprof.model.event import Event, SourceRef

LINES = [
    audit_line(7),
    audit_line(8, profile="k8s-nginx", name="/etc/x y", comm="a b"),
    audit_line(9),  # the same record as the first but for its stamp: a memo's copy
    hostile_line(10, b'p"}\n\xff', b"/tmp/\n{", b"c\xfe"),
    b'type=AVC msg=audit(1700000000.1:11): apparmor="DENIED" operation="open" profile=\n',
    b"not a record at all\n",
    b'{"mode":"DENIED","profile":"p","operation":"open","name":"/x","time":null}\n',
]


def test_followed_lines_are_read_as_events_reads_their_file(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(LINES))
    whole = Reader(node="n1")
    want = list(whole.events([Input(str(log))]))
    followed = FollowedFile(str(log))
    followed.restore(None)
    live = Reader(node="n1")
    live.expect([Input(str(log))])
    got = [event for raw in followed.poll(100) for event in live.live([raw])]
    followed.close()
    assert got == want
    assert len(got) >= 4
    assert (live.stats.records, live.stats.unparsed) == (whole.stats.records, whole.stats.unparsed)


def test_a_line_that_could_not_be_taken_is_counted_unparsed() -> None:
    reader = Reader()
    raws = [Raw(b"", SourceRef("f", 1), "line over 256 KiB"), Raw(audit_line(2), SourceRef("f", 2))]
    assert [e.serial for e in reader.live(raws)] == [2]
    assert reader.stats.unparsed == 1
    assert reader.stats.first_unparsed == [(SourceRef("f", 1), "line over 256 KiB")]


def test_kmsg_drain_gives_the_records_text_unescaped(tmp_path: Path) -> None:
    path = tmp_path / "kmsg"
    os.mkfifo(path)
    writer = os.open(path, os.O_RDWR)  # open for writing first: the drain does not block
    try:
        os.write(writer, b"5,1234,99,-;audit: name=\\x0aab\\x5c\n SUBSYSTEM=x\n")
        lines, lost = drain(str(path))
    finally:
        os.close(writer)
    assert lines == [b"audit: name=\nab\\\n"]
    assert lost == 0


def test_events_follow_reads_a_journal_on_from_its_end(tmp_path: Path) -> None:
    """`aaprof events --follow --journal`: the journal follower watch keeps its cursor with,
    from the journal's end (entries already there are not given), new files included."""
    journal = tmp_path / "journal"
    journal.mkdir()
    write_journal(journal / "remote-1.journal", range(1, 6))
    got: list[Event] = []
    polls = [0]

    def stop() -> bool:
        polls[0] += 1
        if polls[0] == 2:  # after the first poll: a file appears
            write_journal(journal / "remote-2.journal", range(6, 9))
        return len(got) >= 3 or polls[0] > 200

    reader = Reader()
    for event in reader.follow([Input(str(journal), journal=True)], stop):
        got.append(event)
    assert [e.serial for e in got] == [6, 7, 8]
    assert {e.source.file for e in got if e.source} == {f"journal:{journal}"}
