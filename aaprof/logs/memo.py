"""Parsing a log's lines once per distinct record: what differs between two lines of one access
is mostly the `audit(...)` stamp and the process id, so a line is parsed once per text without
those, and the next line with that text gets a copy of its Event with its own stamp and pid.

A copy is made only where that is what parsing the line would give: a line's text is taken as
a key only when its prefix is auditd's or empty (`type=...`, `node=...`) or rsyslog's (whose date
and kernel uptime are left out of the key: the audit stamp gives the time), its stamp comes
before `apparmor=` and its payload holds exactly one `pid=` key; and the first line of a key is
parsed in full and checked to hold exactly that stamp and pid, or the key is never copied from.
tests/logs/test_memo.py holds the result equal to `parse_line`'s on generated realistic logs.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from aaprof.logs.lines import ParseResult, parse_line, stamp_time, syslog_date_ok
from aaprof.model.event import EVENT_SLOTS, Event, SourceRef, event_from_values, event_values

# Distinct records kept per generation (two are kept): a busy node's accesses and then some.
MEMO_KEPT = 8192
_STAMP: Final = re.compile(rb"audit\(([0-9]{1,11})\.([0-9]+):([0-9]+)\): ")
# The keys a `pid=` may follow: the payload's start, a space, a tab, a quote, auditd's 0x1D.
_PID_AFTER: Final = b" \t\"'\x1d"
_ABSENT: Final = object()
# rsyslog's date (RFC 3164, no PRI, whole seconds) and the kernel's uptime stamp after its tag
_SYSLOG_DATE: Final = re.compile(rb"[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} (?=\S)")
_UPTIME: Final = re.compile(rb"(?<= )\[ *[0-9]+\.[0-9]+\] ")
_DIGITS: Final = re.compile(rb"[0-9]+(?=\s|$)")
_AT_TIME, _AT_SERIAL, _AT_SOURCE, _AT_PID, _AT_EXTRA = (
    EVENT_SLOTS.index(name) for name in ("time", "serial", "source", "pid", "extra")
)


class LineMemo:
    """`parse_line` for the lines of one input, once per distinct record (see the module)."""

    __slots__ = ("_dates", "_kept", "_older", "node")

    def __init__(self, node: str | None = None) -> None:
        self.node = node
        # two generations: when the newer is full it becomes the older, and a text found in
        # the older moves back to the newer, so texts in use outlive a stream of one-offs
        self._kept: dict[bytes, list[object] | None] = {}
        self._older: dict[bytes, list[object] | None] = {}
        self._dates: dict[bytes, bool] = {}  # syslog dates parse_line can read, and can not

    def parse(self, line: bytes, source: SourceRef) -> ParseResult:
        """What `parse_line(line, source, node=self.node)` gives."""
        found = self.copy(line, source)
        return found.event() if found.__class__ is Copy else found  # type: ignore[return-value]

    def copy(self, line: bytes, source: SourceRef) -> Copy | ParseResult:
        """A Copy of an earlier line's record (this line's text but for its stamp and pid is
        that line's), or what `parse_line(line, source, node=self.node)` gives."""
        at = line.find(b"audit(")
        prefix: bytes | None = None
        if at == 0 or (at > 0 and line[:5] in {b"type=", b"node="}):
            prefix = line[:at]
        elif at > 0:
            prefix = self._syslog_prefix(line, at)
        stamp = _STAMP.match(line, at) if prefix is not None else None
        if stamp is None or prefix is None:
            return parse_line(line, source, node=self.node)
        payload = stamp.end()
        pid = _one_pid(line, payload)
        if pid is None or line.find(b"apparmor=", payload) < 0:
            return parse_line(line, source, node=self.node)
        key = prefix + line[payload : pid.start()] + line[pid.end() :]
        proto = self._kept.get(key, _ABSENT)
        if proto is _ABSENT and key in self._older:
            proto = self._older.pop(key)  # still in use: back to the newer generation
            self._remember(key, proto)
        if proto is not _ABSENT:
            if proto is None:
                return parse_line(line, source, node=self.node)
            return Copy(
                proto,  # type: ignore[arg-type]
                stamp_time(stamp.group(1).decode(), stamp.group(2).decode()),
                int(stamp.group(3)),
                int(pid.group()),
                source,
            )
        result = parse_line(line, source, node=self.node)
        self._remember(key, _proto(result, stamp, pid, source))
        return result

    def _syslog_prefix(self, line: bytes, at: int) -> bytes | None:
        """The part of a syslog line's prefix (`Nov 23 00:00:01 host kernel: [86400.1] audit:
        type=1400 `) that its record's Event depends on: not its date and uptime (the audit
        stamp gives the time), but its host and the rest; None for another prefix or a date
        that `parse_line` cannot read (its record is then unparsed)."""
        date = _SYSLOG_DATE.match(line)
        if date is None:
            return None
        head = date.end()
        ok = self._dates.get(line[:head])
        if ok is None:
            if len(self._dates) >= 4096:
                self._dates.clear()
            ok = self._dates[line[:head]] = syslog_date_ok(line[:at].decode("utf-8", "replace"))
        if not ok:
            return None
        uptime = _UPTIME.search(line, head, at)
        if uptime is None:
            return b"\n" + line[head:at]  # (no line holds a newline: no other key starts so)
        return b"\n" + line[head : uptime.start()] + line[uptime.end() : at]

    def _remember(self, key: bytes, proto: list[object] | None) -> None:
        if len(self._kept) >= MEMO_KEPT:
            self._older, self._kept = self._kept, {}
        self._kept[key] = proto


class Copy:
    """A record whose line was an earlier line's but for its stamp and pid: the values of that
    line's Event (`proto`, shared by every copy of it) and its own. `event()` makes its Event."""

    __slots__ = ("pid", "proto", "serial", "source", "time")

    def __init__(
        self, proto: list[object], time: datetime, serial: int, pid: int, source: SourceRef
    ) -> None:
        self.proto, self.time, self.serial, self.pid, self.source = proto, time, serial, pid, source

    def event(self) -> Event:
        values = self.proto.copy()
        values[_AT_TIME], values[_AT_SERIAL], values[_AT_PID] = self.time, self.serial, self.pid
        values[_AT_SOURCE] = self.source
        extra = values[_AT_EXTRA]
        values[_AT_EXTRA] = dict(extra) if extra else {}  # type: ignore[call-overload]
        return event_from_values(values)


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
