"""The summary's fast path: count records by their raw key without building Events.

A summary needs five fields of a record (mode, operation, class, profile, name). The kernel
writes those first, in a fixed order, before ` pid=`: `apparmor= operation= [class=] [info=]
[error=] [namespace=] profile= [name=] pid= ...`. So the bytes from `apparmor=` to ` pid=` are
counted as they are, and each distinct run of bytes is parsed once at the end. A line whose
key fields are not all in that run (old layouts, USER_AVC, JSON) goes through the full parser,
so the result equals summarising parsed Events (tests/logs/test_quick.py checks that).
"""

from __future__ import annotations

import lzma
import re
from collections.abc import Callable
from typing import Final

from aaprof.errors import AaprofError
from aaprof.logs.lines import parse_line, record_identity
from aaprof.logs.reader import Reader
from aaprof.logs.record import derive_class, parse_payload
from aaprof.logs.select import Selection
from aaprof.logs.sources import Continuations, Input, open_input
from aaprof.logs.summary import Summary
from aaprof.model.event import Event, SourceRef

_LAYOUT: Final = re.compile(
    rb"audit\(([0-9.:]+)\): (apparmor=\"(\w+)\" operation=\"([^\"]*)\""
    rb"(?: class=\"(\w+)\")?(?: info=\"[^\"]*\")?(?: error=-?\d+)?(?: parent=\d+)?"
    rb"(?: namespace=(?:\"[^\"]*\"|[0-9A-F]+))?"
    rb" profile=(\"[^\"]*\"|[0-9A-F]+)(?: name=(\"[^\"]*\"|[0-9A-F]+))?[ \x1d\r\n]?)"
)

RawKey = tuple[bytes, bool, bool]  # (apparmor= ... up to pid=, has family=, has a mask)


def _key_fields(key: RawKey) -> tuple[str, str | None, str | None, str | None, str | None]:
    """(mode, operation, class, profile, name) of a raw key, as the full parser gives them."""
    blob, has_family, has_mask = key
    event = parse_payload(blob.decode("utf-8", "surrogateescape"))
    assert event is not None  # the blob starts with apparmor="..."
    class_ = event.class_
    if b" class=" not in blob and event.operation is not None:
        hint: dict[str, object] = {"operation": event.operation}
        if has_family:
            hint["family"] = True
        if has_mask:
            hint["requested"] = True
        if event.name is not None:
            hint["name"] = event.name
        class_ = derive_class(hint)
    return event.mode, event.operation, class_, event.profile, event.name


def summarize(reader: Reader, items: list[Input], selection: Selection) -> Summary:
    """The summary of the inputs' records that the selection keeps; stats go to `reader`."""
    summary = Summary()
    counts: dict[RawKey, int] = {}

    def add_event(event: Event) -> None:
        if selection.keeps(event):
            summary.add(event.mode, event.class_, event.profile, event.name)

    # Copies of one record come from different inputs; with one text input there are none
    # among the lines the fast path takes (the full parser still checks the lines it takes).
    check_copies = len(items) > 1
    for item in items:
        if item.journal:
            for event in reader.events([item]):
                add_event(event)
            continue
        try:
            _scan(reader, item, counts, add_event, check_copies)
        except AaprofError as exc:  # named like any other unreadable input; the rest is read
            reader.stats.errors.append(str(exc))
    for key, count in counts.items():
        mode, operation, class_, profile, name = _key_fields(key)
        if selection.keeps_key(mode, profile, operation, class_, name):
            summary.add(mode, class_, profile, name, count)
    return summary


def _scan(
    reader: Reader,
    item: Input,
    counts: dict[RawKey, int],
    add_event: Callable[[Event], None],
    check_copies: bool,
) -> None:
    """Count one text input's records into `counts`; other lines go through the full parser.

    This loop is the hot path of `aaprof events --summary` (docs/performance.md): it does per
    line only what a fitting record needs, and hands anything unusual to `full` below.
    """
    stats = reader.stats
    node = reader.node_for(item.name)
    name = item.name
    origin = (name, True)
    joiner = Continuations()
    stamp_ok = _STAMP.match
    stream = open_input(name)
    progress, done_before = reader.progress, stats.bytes_read
    number = records = 0

    def full(number: int, line: bytes) -> None:
        source = SourceRef(name, number)
        event = reader.accept(parse_line(line, source, node=node), source, line)
        if event is not None:
            add_event(event)

    try:
        for number, line in enumerate(stream, 1):
            if not number & 0x3FFF and progress is not None:
                progress(done_before + stream.tell())
            if joiner.held is not None or b"msg='" in line:
                for held_number, held_line in joiner.push(number, line):
                    full(held_number, held_line)
                continue
            start = line.find(b"apparmor=")
            if start < 0:
                if line[:1] == b"{" or _legacy(line):
                    full(number, line)
                continue
            end = line.find(b" pid=", start)
            blob = line[start:end] if end > 0 else line[start:].rstrip()
            if (
                line[start + 9 : start + 10] == b'"'
                and b" operation=" in blob
                and b"profile=" in blob
                and (b" name=" in blob or line.find(b" name=", end) < 0)
                and (b" class=" in blob or line.find(b" class=", end) < 0)
                and (start == 0 or stamp_ok(line, line.rfind(b"audit(", 0, start)) is not None)
            ):
                if check_copies:
                    identity = record_identity(line)
                    if identity is not None and reader.is_duplicate(identity, origin):
                        continue
                records += 1
                key = (
                    blob,
                    b" family=" in line,
                    b"mask=" in line or b" requested=" in line or b" denied=" in line,
                )
                counts[key] = counts.get(key, 0) + 1
            else:
                full(number, line)
        for held_number, held_line in joiner.flush():
            full(held_number, held_line)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise AaprofError(f"{name}: read failed after line {number}: {exc}") from None
    finally:
        stats.lines += number
        stats.records += records
        stats.bytes_read = done_before + stream.tell()
        if name != "-":
            stream.close()


# A whole audit stamp right before the record (`audit(1.2:3): `), as the full parser needs it.
_STAMP: Final = re.compile(rb"audit\(\d+\.\d+:\d+\): (?=apparmor=)")


def _legacy(line: bytes) -> bool:
    """is_apparmor's other marks: the AppArmor audit types of records without apparmor=."""
    return b"type=APPARMOR" in line or b"type=150" in line or b"UNKNOWN[150" in line
