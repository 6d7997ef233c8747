"""Parsing a log's lines once per distinct record: what differs between two lines of one access
is mostly the `audit(...)` stamp and the process id, so a line is parsed once per text without
those, and the next line with that text gets a copy of its Event with its own stamp and pid.

A copy is made only where that is what parsing the line would give: a line's text is taken as
a key only when its prefix is auditd's or empty (`type=...`, `node=...`) or rsyslog's (whose date
and kernel uptime are left out of the key: the audit stamp gives the time), its stamp comes
before `apparmor=` and its payload holds exactly one `pid=` key; and the first line of a key is
parsed in full and checked to hold exactly that stamp and pid, or the key is never copied from.
A line whose text differs from an earlier one's in its quoted `name=` too (a temp file) is a
copy with a name of its own, where the first line of that text without its name was checked to
hold exactly that name, and the name holds nothing that changes how the rest is read.
tests/logs/test_memo.py holds the result equal to `parse_line`'s on generated realistic logs.
"""

from __future__ import annotations

import re
from typing import Final

from aaprof.logs.lines import ParseResult, parse_line, stamp_time, syslog_date_ok
from aaprof.logs.records import Record
from aaprof.model.event import EVENT_SLOTS, Event, SourceRef, event_values

# Distinct records kept per generation (two are kept): a busy node's accesses and then some.
MEMO_KEPT = 8192
# Where fewer than one line in COPIES_PAY of a window of LOOK_WINDOW lines was a copy (a log
# whose lines rarely repeat), the next REST lines are parsed without a look (then it looks
# again): the bookkeeping of a text that never comes again cost a quarter of the parse's time.
LOOK_WINDOW = 4096
COPIES_PAY = 10
REST = 65536
_STAMP: Final = re.compile(rb"audit\(([0-9]{1,11})\.([0-9]{1,3})[0-9]*:([0-9]+)\): ")
# A stamp's milliseconds by its first three digits of fraction (or fewer: `.5` is 500 ms)
_MILLIS: Final = {
    f"{n:0{width}d}".encode(): int(f"{n:0{width}d}".ljust(3, "0"))
    for width in (1, 2, 3)
    for n in range(10**width)
}
_AUDITD_STARTS: Final = frozenset({b"type=", b"node="})
# The keys a `pid=` may follow: the payload's start, a space, a tab, a quote, auditd's 0x1D.
_PID_AFTER: Final = b" \t\"'\x1d"
_ABSENT: Final = object()
# rsyslog's date (RFC 3164, no PRI, whole seconds) and the kernel's uptime stamp after its tag
_SYSLOG_DATE: Final = re.compile(rb"[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} (?=\S)")
_UPTIME: Final = re.compile(rb"\[ *[0-9]+\.[0-9]+\] ")
_DIGITS: Final = re.compile(rb"[0-9]+(?=\s|$)")
_AT_TIME, _AT_SERIAL, _AT_SOURCE, _AT_PID = (
    EVENT_SLOTS.index(name) for name in ("time", "serial", "source", "pid")
)
_QUOTED: Final = re.compile(rb'"([^"\n]*)"')


class LineMemo:
    """`parse_line` for the lines of one input, once per distinct record (see the module)."""

    __slots__ = ("_copied", "_dates", "_kept", "_looked", "_older", "_resting", "node")

    def __init__(self, node: str | None = None) -> None:
        self.node = node
        # two generations: when the newer is full it becomes the older, and a text found in
        # the older moves back to the newer, so texts in use outlive a stream of one-offs
        self._kept: dict[bytes, list[object] | None] = {}
        self._older: dict[bytes, list[object] | None] = {}
        self._dates: dict[bytes, bool] = {}  # syslog dates parse_line can read, and can not
        # lines looked up and copied in this window; lines left to parse without a look
        self._looked = self._copied = self._resting = 0

    def parse(self, line: bytes, source: SourceRef) -> ParseResult:
        """What `parse_line(line, source, node=self.node)` gives."""
        found = self.copy(line, source)
        return found.event() if found.__class__ is Record else found  # type: ignore[return-value]

    def copy(self, line: bytes, source: SourceRef) -> Record | ParseResult:
        """A Record sharing the values of an earlier line's record (this line's text but for
        its stamp and pid is that line's), or what `parse_line(line, source, node=self.node)`
        gives."""
        if self._resting:  # (few lines were copies lately: looking them up only costs)
            self._resting -= 1
            return parse_line(line, source, node=self.node)
        self._looked += 1
        if self._looked >= LOOK_WINDOW:
            if self._copied * COPIES_PAY < self._looked:
                self._resting = REST
            self._looked = self._copied = 0
        at = line.find(b"audit(")
        if at == 0 or (at > 0 and line[:5] in _AUDITD_STARTS):
            prefix: bytes | None = line[:at]
        else:
            prefix = self._syslog_prefix(line, at) if at > 0 else None
        stamp = _STAMP.match(line, at) if prefix is not None else None
        if stamp is None or prefix is None:
            return parse_line(line, source, node=self.node)
        payload = stamp.end()
        pid = _one_pid(line, payload)
        if pid is None and (inner := line.find(b"msg='", payload)) >= 0:
            # a D-Bus record (USER_AVC, type=1107): dbus-daemon's own pid= stands before its
            # msg='...', whose text alone is the record (the part before it is in the key)
            pid = _one_pid(line, inner + 5)
        if pid is None or line.find(b"apparmor=", payload) < 0:
            return parse_line(line, source, node=self.node)
        key = prefix + line[payload : pid.start()] + line[pid.end() :]
        proto = self._kept.get(key, _ABSENT)
        name = first = None
        if proto is _ABSENT:
            proto, name, first = self._new_text(line, source, key, prefix, stamp, pid)
            if proto is None:
                return first  # (parsed: a text never copied from)
        elif proto is None:
            return parse_line(line, source, node=self.node)
        seconds, millis, serial = stamp.group(1, 2, 3)
        self._copied += first is None
        return Record(
            proto,  # type: ignore[arg-type]
            int(seconds),
            _MILLIS[millis],
            int(serial),
            int(pid.group()),
            source,
            name,
            first,  # type: ignore[arg-type]
        )

    def _new_text(
        self,
        line: bytes,
        source: SourceRef,
        key: bytes,
        prefix: bytes,
        stamp: re.Match[bytes],
        pid: re.Match[bytes],
    ) -> tuple[list[object] | None, str | None, ParseResult]:
        """A text not in the newer generation: (its values, None, None) if it is in the older
        one, (values, name, None) if it is an old text but for its name (a temp file); else the
        line parsed, its text remembered: (its values, None, its Event), or (None, None, what
        `parse_line` gave) for a text never copied from."""
        proto = self._find(key)
        if proto is not _ABSENT:  # in the older generation (and back in the newer now)
            if proto is None:
                return None, None, parse_line(line, source, node=self.node)
            return proto, None, None  # type: ignore[return-value]
        payload = stamp.end()
        value = _one_name(line, payload)
        named = b""
        if value is not None:
            named = _cut(b"\n\n" + prefix, line, payload, sorted((value.span(1), pid.span())))
            proto = self._find(named)
            if proto is not _ABSENT and proto is not None:
                return proto, _text(value), None  # type: ignore[return-value]
        result = parse_line(line, source, node=self.node)
        values = _proto(result, stamp, pid, source)
        self._remember(key, values)
        if values is not None and value is not None and result.name == _text(value):  # type: ignore[union-attr]
            self._remember(named, values)
        return values, None, result

    def _find(self, key: bytes) -> object:
        """The values kept for a text (None: never copied from), or `_ABSENT`."""
        proto = self._kept.get(key, _ABSENT)
        if proto is _ABSENT and key in self._older:
            proto = self._older.pop(key)  # still in use: back to the newer generation
            self._remember(key, proto)
        return proto

    def _syslog_prefix(self, line: bytes, at: int) -> bytes | None:
        """The part of a syslog line's prefix (`Nov 23 00:00:01 host kernel: [86400.1] audit:
        type=1400 `) that its record's Event depends on: not its date and uptime (the audit
        stamp gives the time), but its host and the rest; None for another prefix or a date
        that `parse_line` reads no time from (no calendar holds it: such a line is parsed
        whole, each time)."""
        # (the date is 16 bytes and a non-space: whether it is one, and one parse_line reads,
        # is known by those 17 bytes)
        ok = self._dates.get(line[:17])
        if ok is None:
            if len(self._dates) >= 4096:
                self._dates.clear()
            ok = _SYSLOG_DATE.match(line) is not None and syslog_date_ok(
                line[:at].decode("utf-8", "replace")
            )
            self._dates[line[:17]] = ok
        if not ok:
            return None
        # the first `[uptime] ` after a space after the host (the date's next word: an uptime
        # there would be the host, part of the Event), by its ` [`
        space = line.find(b" [", line.find(b" ", 16, at), at)
        while space >= 0:
            uptime = _UPTIME.match(line, space + 1, at)
            if uptime is not None:
                return b"\n" + line[16 : space + 1] + line[uptime.end() : at]
            space = line.find(b" [", space + 1, at)
        return b"\n" + line[16:at]  # (no line holds a newline: no other key starts so)

    def _remember(self, key: bytes, proto: list[object] | None) -> None:
        if len(self._kept) >= MEMO_KEPT:
            self._older, self._kept = self._kept, {}
        self._kept[key] = proto


def _one_name(line: bytes, payload: int) -> re.Match[bytes] | None:
    """The quoted value of the payload's one ` name="..."` key (group 1), or None (no such
    key, another key ending in `name=`, or no closing quote)."""
    at = line.find(b' name="', payload)
    if at < 0 or line.count(b"name=", payload) != 1:
        return None
    value = _QUOTED.match(line, at + 6)
    if value is None:
        return None
    text = value.group(1)
    # What in a name changes how the full parser reads the rest of the payload (0x1D is read as a
    # space; `^]` and `UID=`-like keys make it split bare values): such a name is no copy's.
    if b"\x1d" in text or b"^]" in text or b"=" in text:
        return None
    return value


def _text(value: re.Match[bytes]) -> str:
    return value.group(1).decode("utf-8", "surrogateescape")


def _cut(head: bytes, line: bytes, start: int, spans: list[tuple[int, int]]) -> bytes:
    """`head` and `line[start:]` without the spans (in order, after `start`)."""
    parts = [head]
    for begin, end in spans:
        parts.append(line[start:begin])
        start = end
    parts.append(line[start:])
    return b"".join(parts)


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
