"""aaprof's own JSON events as input, and the records /dev/kmsg overwrote counted as lost."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from aaprof.cli.output import render_events
from aaprof.logs import kmsg
from aaprof.logs.jsonevents import parse_event_line
from aaprof.logs.lines import Unparsed
from aaprof.logs.reader import Reader
from aaprof.logs.records import Record
from aaprof.logs.sources import Input
from aaprof.model.event import Container, Event, SourceRef

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample-logs"


def _events(*paths: Path) -> list[Event]:
    return list(Reader().events([Input(str(p)) for p in paths]))


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_events_written_as_json_read_back_equal(tmp_path: Path, fmt: str) -> None:
    original = _events(SAMPLES / "node-a", SAMPLES / "node-b")
    marked = [e.replace(container=Container(namespace="shop")) for e in original]
    out = io.StringIO()
    render_events([Record.of(e) for e in marked], fmt, out)
    path = tmp_path / f"events.{fmt}"
    path.write_text(out.getvalue())
    reader = Reader()
    back = list(reader.events([Input(str(path))]))
    assert back == marked  # sources, containers and hex-kept names included
    assert reader.stats.records == len(marked) and reader.stats.unparsed == 0


def test_journald_json_is_still_read_as_journald() -> None:
    (event, *_rest) = _events(SAMPLES / "node-d" / "journal.json")
    assert event.source == SourceRef(str(SAMPLES / "node-d" / "journal.json"), 1)


def test_a_line_that_is_not_an_event_is_left_to_the_log_parsers() -> None:
    assert parse_event_line(b'{"MESSAGE": "x", "mode": "DENIED"}\n') is None
    assert parse_event_line(b'{"mode": "NOT-A-MODE"}\n') is None
    assert parse_event_line(b"[\n") is None
    bad = parse_event_line(b'{"mode": "DENIED", "pid": "twelve"}\n')
    assert isinstance(bad, Unparsed) and "pid" in bad.reason


def test_an_event_without_a_source_gets_the_line_it_was_read_from(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"mode":"ALLOWED","profile":"p","name":"/x"}\n')
    (event,) = _events(path)
    assert event.source == SourceRef(str(path), 1) and event.name == "/x"


class _Os:
    """`os` as aaprof.logs.kmsg sees it, with `read` answering as a script says."""

    def __init__(self, read: Callable[[int, int], bytes]) -> None:
        self.read = read

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)


def test_records_kmsg_overwrote_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    # /dev/kmsg answers EPIPE when the ring buffer overwrote the record the reader was at;
    # no test can make the kernel do that on cue, so the device's answers are scripted here
    line = (
        b'6,1,2,-;audit: type=1400 audit(1700000000.001:1): apparmor="DENIED" operation="open" '
        b'profile="p" name="/x" pid=1 comm="c" requested_mask="r" denied_mask="r" fsuid=0 ouid=0\n'
    )
    answers: list[bytes | type[OSError]] = [BrokenPipeError, line, BrokenPipeError, BlockingIOError]

    def read(fd: int, size: int) -> bytes:
        answer = answers.pop(0)
        if isinstance(answer, bytes):
            return answer
        raise answer()

    monkeypatch.setattr(kmsg, "os", _Os(read))
    assert os.path.exists("/dev/null")
    reader = Reader()
    events = list(reader.events([Input("/dev/null")]))  # a character device, as /dev/kmsg
    assert len(events) == 1 and reader.stats.lost == 2
    assert reader.stats.to_dict()["lost"] == 2


def test_a_summary_of_json_events_counts_what_the_logs_hold(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from aaprof.cli.main import cli

    runner = CliRunner()
    logs = str(SAMPLES / "node-b")
    jsonl = runner.invoke(cli, ["events", "--format", "jsonl", "-q", logs]).stdout
    (tmp_path / "e.jsonl").write_text(jsonl)
    want = runner.invoke(cli, ["events", "--summary", "--format", "json", "-q", logs]).stdout
    for source in ([str(tmp_path / "e.jsonl")], ["-"]):
        got = runner.invoke(
            cli, ["events", "--summary", "--format", "json", "-q", *source], input=jsonl
        )
        assert got.exit_code == 0 and got.stdout == want
    assert json.loads(want)["total"] > 10


def test_only_inputs_that_start_with_events_leave_the_fast_path(tmp_path: Path) -> None:
    from aaprof.logs.jsonevents import may_hold_events

    (tmp_path / "e.json").write_text(
        '[\n  {"mode":"DENIED","profile":"p"},\n  {"mode":"DENIED"}\n]\n'
    )
    assert may_hold_events(str(tmp_path / "e.json"))
    assert not may_hold_events(str(SAMPLES / "node-a" / "audit.log"))
    assert not may_hold_events(str(SAMPLES / "node-d" / "journal.json"))  # journald's JSON
    assert not may_hold_events("/dev/null")  # a device is never peeked (it would be drained)
    assert not may_hold_events(str(tmp_path / "missing"))
