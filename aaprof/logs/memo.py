"""Parsing a log's lines once per distinct record: what differs between two lines of one access
is mostly the `audit(...)` stamp and the process id, so a line is parsed once per text without
those, and the next line with that text gets a copy of its Event with its own stamp and pid.

A copy is made only where that is what parsing the line would give: a line's text is taken as
a key only when its prefix is auditd's or empty (`type=...`, `node=...`), its stamp comes before
`apparmor=` and its payload holds exactly one `pid=` key; and the first line of a key is
parsed in full and checked to hold exactly that stamp and pid, or the key is never copied from.
tests/logs/test_memo.py holds the result equal to `parse_line`'s on generated realistic logs.
"""

from __future__ import annotations

import re
from typing import Final

from aaprof.logs.lines import ParseResult, parse_line, stamp_time
from aaprof.model.event import EVENT_SLOTS, Event, SourceRef, event_from_values, event_values

# Distinct records kept: about twice the distinct accesses of a busy node's log.
MEMO_KEPT = 8192
_STAMP: Final = re.compile(rb"audit\(([0-9]{1,11})\.([0-9]+):([0-9]+)\): ")
# The keys a `pid=` may follow: the payload's start, a space, a tab, a quote, auditd's 0x1D.
_PID_AFTER: Final = b" \t\"'\x1d"
_DIGITS: Final = re.compile(rb"[0-9]+(?=\s|$)")
_AT_TIME, _AT_SERIAL, _AT_SOURCE, _AT_PID, _AT_EXTRA = (
    EVENT_SLOTS.index(name) for name in ("time", "serial", "source", "pid", "extra")
)


class LineMemo:
    """`parse_line` for the lines of one input, once per distinct record (see the module)."""

    __slots__ = ("_kept", "node")

    def __init__(self, node: str | None = None) -> None:
        self.node = node
        self._kept: dict[bytes, list[object] | None] = {}

    def parse(self, line: bytes, source: SourceRef) -> ParseResult:
        """What `parse_line(line, source, node=self.node)` gives."""
        at = line.find(b"audit(")
        stamp = _STAMP.match(line, at) if at == 0 or line[:5] in {b"type=", b"node="} else None
        if stamp is None:
            return parse_line(line, source, node=self.node)
        payload = stamp.end()
        pid = _one_pid(line, payload)
        if pid is None or line.find(b"apparmor=", payload) < 0:
            return parse_line(line, source, node=self.node)
        key = line[:at] + line[payload : pid.start()] + line[pid.end() :]
        kept = self._kept
        if key in kept:
            proto = kept[key]
            if proto is None:
                return parse_line(line, source, node=self.node)
            values = proto.copy()
            values[_AT_TIME] = stamp_time(stamp.group(1).decode(), stamp.group(2).decode())
            values[_AT_SERIAL], values[_AT_PID] = int(stamp.group(3)), int(pid.group())
            values[_AT_SOURCE] = source
            extra = values[_AT_EXTRA]
            values[_AT_EXTRA] = dict(extra) if extra else {}  # type: ignore[call-overload]
            return event_from_values(values)
        result = parse_line(line, source, node=self.node)
        if len(kept) >= MEMO_KEPT:
            kept.clear()
        kept[key] = _proto(result, stamp, pid, source)
        return result


def _one_pid(line: bytes, payload: int) -> re.Match[bytes] | None:
    """The digits of the one `pid=` key of the payload at `line[payload:]`, or None (none,
    several, or not a number): as the full parser finds it."""
    at = line.find(b"pid=", payload)
    if at > payload and line.count(b"pid=", at + 4) == 0:  # the usual: one, after a separator
        return _DIGITS.match(line, at + 4) if line[at - 1] in _PID_AFTER else None
    found = -1
    while at >= 0:
        if at == payload or line[at - 1] in _PID_AFTER:
            if found >= 0:
                return None
            found = at
        at = line.find(b"pid=", at + 4)
    return None if found < 0 else _DIGITS.match(line, found + 4)


def _proto(
    result: ParseResult, stamp: re.Match[bytes], pid: re.Match[bytes], source: SourceRef
) -> list[object] | None:
    """The values other lines of this key copy, or None if parsing put anything but this very
    stamp and pid where they are put in."""
    if not isinstance(result, Event):
        return None
    time = stamp_time(stamp.group(1).decode(), stamp.group(2).decode())
    if (
        result.time != time
        or result.serial != int(stamp.group(3))
        or result.pid != int(pid.group())
        or result.source is not source
    ):
        return None
    values = list(event_values(result))
    values[_AT_TIME] = values[_AT_SERIAL] = values[_AT_PID] = values[_AT_SOURCE] = None
    return values
