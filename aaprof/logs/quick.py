"""The summary's fast path: count records by their raw key without building Events.

A summary needs five fields of a record (mode, operation, class, profile, name). The kernel
writes those first, in a fixed order, before ` pid=`: `apparmor= operation= [class=] [info=]
[error=] [namespace=] profile= [name=] pid= ...`. So the bytes from `apparmor=` to ` pid=` (the
record's *head*) are counted as they are, and each distinct head is decoded once.

Input is read a chunk (1 MiB) at a time. A chunk's records are counted in bulk
(aaprof/logs/bulk.py: one regex pass gives every stamped record's head, `Counter` counts them,
both in C), so neither noise lines nor records cost Python code one by one. The lines that pass
does not count are found by literal searches and go, each alone, to the full parser (a record
without a stamp, a legacy type, JSON), or are counted by head and label (a D-Bus record). A
chunk whose records the bulk count cannot all vouch for is counted record by record, each record
that needs it going to the full parser alone. The result equals summarising parsed Events, which
tests/logs/test_quick.py checks.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from aaprof.errors import AaprofError
from aaprof.logs import bulk, bytescan
from aaprof.logs.chunks import chunks as _chunks
from aaprof.logs.chunks import mark_positions
from aaprof.logs.chunks import newlines as _newlines
from aaprof.logs.chunks import tell as _tell
from aaprof.logs.halves import Child, split_point
from aaprof.logs.lines import identity_payload, line_node, parse_line
from aaprof.logs.reader import Reader, ReadStats
from aaprof.logs.record import derive_class
from aaprof.logs.select import Selection
from aaprof.logs.sources import Continuations, Input, open_input
from aaprof.logs.summary import Summary
from aaprof.model.event import Event, SourceRef

# A stamped kernel record: its stamp, and the record from `apparmor="` to the end of the line.
# (Group 2 is empty where the first `audit(` of a line starts no record: the full parser
# reads a line's first stamp, so a later one in that line is never taken.)
_RECORD: Final = re.compile(rb"audit\((?:(\d{1,11}\.\d+:\d+)\): (apparmor=\"[^\n]*)|[^\n]*)")
# A `name=` or `class=` in the rest of a record's line that may be a key (see bulk.py).
_LATER_KEY: Final = re.compile(rb"[^A-Za-z0-9_](?:name|class)=")
# Anything in a chunk that only the full parser reads right.
# (USER_AVC and JSON lines holding records fail the count check in `_Scan._chunk` instead.)
# (what `lines.is_apparmor` looks for besides `apparmor=`; JSON lines are found by their `{`)
# (`bytescan.positions` finds them with memmem; in pure Python, each only where a part of it
# with a rare byte is)
_SLOW_MARKS: Final = (b"type=APPARMOR", b"type=150", b"UNKNOWN[150")
# Where a line may name a record: the lines the regex misses are found by these.
_MARKS: Final = (b"apparmor=", *_SLOW_MARKS)


# Bytes per record below which a chunk is dense: the pure-Python copy of its record lines then
# costs more than the regex saves (measured: a noisy kern.log has about 2,400 bytes per record,
# a dense audit.log about 500).
_SPARSE: Final = 1024

# An ambiguous head (bulk.AMBIGUOUS), whether its record has a socket family, and a mask.
RawKey = tuple[bytes, bool, bool]


# Raw keys kept before they are decoded into the summary: bounds memory when names never
# repeat (temp files), whatever the input size.
KEYS_KEPT = 20_000


@dataclass(slots=True)
class _Counts:
    keys: dict[RawKey, int] = field(default_factory=dict)
    sink: Callable[[dict[RawKey, int]], None] | None = None  # where `drain` sends the keys
    # Heads counted in bulk (aaprof/logs/bulk.py), and what each head's records are.
    heads: Counter[bytes] = field(default_factory=Counter)
    verdicts: dict[bytes, bulk.Verdict] = field(default_factory=dict)
    parse_heads: set[bytes] = field(default_factory=set)
    ambiguous_heads: set[bytes] = field(default_factory=set)
    head_sink: Callable[[Counter[bytes], dict[bytes, bulk.Verdict]], None] | None = None

    def drain(self) -> None:
        """Too many raw keys: decode them into the summary (the sink) and start afresh."""
        if self.sink is None:
            return
        self.sink(self.keys)
        self.keys = {}
        if self.head_sink is not None:
            self.head_sink(self.heads, self.verdicts)
            self.heads = Counter()
            if len(self.verdicts) > KEYS_KEPT:
                self.verdicts = {}
                self.parse_heads.clear()
                self.ambiguous_heads.clear()

    def classify(self, head: bytes) -> bulk.Verdict:
        """The verdict of a new head, noted (bulk.classify)."""
        verdict = self.verdicts[head] = bulk.classify(head)
        if verdict is bulk.PARSE:
            self.parse_heads.add(head)
        elif verdict is bulk.AMBIGUOUS:
            self.ambiguous_heads.add(head)
        return verdict


def _key_fields(key: RawKey) -> bulk.HeadFields:
    """(mode, operation, class, profile, name) of an ambiguous head's record, by its key."""
    head, has_family, has_mask = key
    mode, operation, _, profile, name = bulk.ambiguous_fields(head)
    hint: dict[str, object] = {"operation": operation}
    if has_family:
        hint["family"] = True
    if has_mask:
        hint["requested"] = True
    if name is not None:
        hint["name"] = name
    return mode, operation, derive_class(hint), profile, name


def summarize(reader: Reader, items: list[Input], selection: Selection) -> Summary:
    """The summary of the inputs' records that the selection keeps; stats go to `reader`.

    One large plain file is read by two processes, half each (this machine class has two
    cores; docs/performance.md); everything else is read here, in order.
    """
    summary = Summary()
    counts = _counts(summary, selection)

    def add_event(event: Event) -> None:
        if selection.keeps(event):
            summary.add_event(event)

    # Copies of one record come from different inputs; with one text input there are none
    # among the records the fast path takes (the full parser still checks the lines it takes).
    check_copies = len(items) > 1
    reader.expect(items)
    for item in items:
        if item.journal:
            for event in reader.events([item]):
                add_event(event)
            continue
        try:
            split = None if check_copies else split_point(item.name)
            if split is None:
                _Scan(reader, item.name, counts, add_event, check_copies).run()
            else:
                _two_halves(reader, item.name, split, counts, add_event, selection, summary)
        except AaprofError as exc:  # named like any other unreadable input; the rest is read
            reader.stats.errors.append(str(exc))
    counts.drain()
    return summary


def _counts(summary: Summary, selection: Selection) -> _Counts:
    """Counts whose drains go into `summary`, filtered by `selection`."""

    def add_heads(heads: Counter[bytes], verdicts: dict[bytes, bulk.Verdict]) -> None:
        keeps = selection.keeps_key
        # (keeps_key's filters: none set keeps every key)
        s = selection
        everything = all(f is None for f in (s.modes, s.profile, s.operations, s.classes, s.name))
        get = verdicts.get
        summary.add_many(
            (mode, class_, profile, name, count)
            for head, count in heads.items()
            # (not b"" nor an ambiguous head: their verdict is no tuple of fields)
            if count and (fields := get(head)).__class__ is tuple
            for mode, operation, class_, profile, name in (fields,)
            if everything or keeps(mode, profile, operation, class_, name)
        )

    return _Counts(sink=_decoder(summary, selection), head_sink=add_heads)


def _decoder(summary: Summary, selection: Selection) -> Callable[[dict[RawKey, int]], None]:
    """What adds counted raw keys to a summary, decoding each key once."""

    def decode(keys: dict[RawKey, int]) -> None:
        for key, count in keys.items():
            mode, operation, class_, profile, name = _key_fields(key)
            if selection.keeps_key(mode, profile, operation, class_, name):
                summary.add(mode, class_, profile, name, count)

    return decode


def _two_halves(
    reader: Reader,
    name: str,
    split: int,
    counts: _Counts,
    add_event: Callable[[Event], None],
    selection: Selection,
    summary: Summary,
) -> None:
    """Read the second half in a child process while this one reads the first; merge."""
    second = Child(_scan_part, name, split, reader.node_for(name), selection)
    _Scan(reader, name, counts, add_event, False, end=split).run()
    counts.drain()  # (while the child may still be reading: the first half's counts first)
    part_counts, part_summary, part_stats = second.result()
    for key, count in part_counts.items():
        counts.keys[key] = counts.keys.get(key, 0) + count
    summary.merge(part_summary)
    reader.stats.merge(part_stats, line_offset=reader.stats.lines)


def _scan_part(
    name: str, start: int, node: str | None, selection: Selection
) -> tuple[dict[RawKey, int], Summary, ReadStats]:
    """A child's half: from byte `start` to the end, with its own reader and counts."""
    reader = Reader(node=node)
    reader.expect([Input(name)])
    summary = Summary()
    counts = _counts(summary, selection)

    def add_event(event: Event) -> None:
        if selection.keeps(event):
            summary.add_event(event)

    _Scan(reader, name, counts, add_event, False, start=start).run()
    counts.drain()
    return counts.keys, summary, reader.stats


class _Scan:
    """One text input, read a chunk at a time into the counts."""

    def __init__(
        self,
        reader: Reader,
        name: str,
        counts: _Counts,
        add_event: Callable[[Event], None],
        check_copies: bool,
        *,
        start: int = 0,
        end: int | None = None,
    ) -> None:
        self.reader, self.name, self.counts = reader, name, counts
        self.add_event, self.check_copies = add_event, check_copies
        self.node = reader.node_for(name)
        self.joiner = Continuations()
        self.origin = (name, True)
        self.lines = 0  # lines before the current chunk
        self.start, self.end = start, end
        self._line_at = 0  # a position in the current chunk, and the lines before it
        self._lines_before = 0

    def run(self) -> None:
        stats = self.reader.stats
        stream = open_input(self.name)
        if self.start:
            stream.seek(self.start)
        done_before = stats.bytes_read
        try:
            for chunk, end in _chunks(stream, self.name, self.end):
                self._chunk(chunk, end)
                self.lines += _newlines(chunk) + (chunk[end - 1 : end] != b"\n")
                if self.reader.progress is not None:
                    self.reader.progress(done_before + _tell(stream))
            for number, line in self.joiner.flush():
                self._full(number, line)
        finally:
            stats.lines += self.lines
            stats.bytes_read = done_before + _tell(stream)
            if self.name != "-":
                stream.close()

    def _chunk(self, chunk: bytes, size: int) -> None:
        """Count the records of `chunk[:size]` (whole lines; not sliced, to copy nothing).

        One regex pass finds the stamped records; the lines it does not cover (no stamp,
        USER_AVC, JSON, a legacy type, two records in a line) go, each alone, to the full
        parser, in file order with the counted records that need it.
        """
        start = self._continue_held(chunk, size) if self.joiner.held is not None else 0
        self._line_at, self._lines_before = start, self.lines + chunk.count(b"\n", 0, start)
        odd = _odd_lines(chunk, start, size)
        if not self.check_copies and self._bulk(chunk, start, size, odd):
            pos = start
            for line_start, line_end in odd:
                if line_start >= pos:
                    if self._dbus_line(chunk, line_start, line_end):
                        pos = line_end
                        continue
                    pos = self._slow_line(chunk, line_start, line_end, size)
            return
        found = _records(chunk, start, size)
        expected = chunk.count(b"apparmor=", start, size)
        taken: list[Found] = []
        for line_start, line_end in odd:
            line = chunk[line_start:line_end]
            expected -= line.count(b"apparmor=")
            record = _RECORD.search(chunk, line_start, line_end)
            if record is not None and record.group(2) is not None:
                taken.append((record.group(1), record.group(2), record.start(2)))
        if len(found) - len(taken) != expected:
            self._by_stretch(chunk, start, size, odd)  # an `apparmor=` the regex misses
            return
        for pair in taken:
            found.remove(pair)  # rare: a legacy record, two records in one line
        if not odd:
            self._count(chunk, size, found)
            return
        slow: list[int] = []
        self._count(chunk, size, found, slow)
        lines = sorted([*odd, *((chunk.rfind(b"\n", 0, at) + 1, -1) for at in slow)])
        pos = start
        for line_start, line_end in lines:
            if line_start < pos:
                continue  # the continuation of a line just read
            end = line_end if line_end >= 0 else chunk.find(b"\n", line_start, size) + 1 or size
            pos = self._slow_line(chunk, line_start, end, size)

    def _bulk(self, chunk: bytes, start: int, size: int, odd: list[tuple[int, int]]) -> bool:
        """Count the records of `chunk[start:size]` outside the odd lines per distinct head
        (aaprof/logs/bulk.py); False, having counted nothing, where the per-record way must."""
        marks = bytescan.count(chunk, b"rmor=", start, size)
        if bytescan.fast is not None or marks * _SPARSE < size - start:
            # the regex walks only the lines that hold an `apparmor=` (on a noisy log most
            # lines hold an `audit(` and no record; what the regex counts of a line is the same
            # either way); in pure Python that copy pays only where such lines are few
            found = bulk.HEAD.findall(bytescan.lines_with(chunk, b"apparmor=", start, size))
        else:
            found = bulk.HEAD.findall(chunk, start, size)
        records = len(found) - found.count(b"")
        in_odd: list[bytes] = []
        for line_start, line_end in odd:
            in_odd += bulk.HEAD.findall(chunk, line_start, line_end)
        while b"" in in_odd:
            in_odd.remove(b"")
        # (Each record holds one `apparmor=`; `rmor=` is found faster, and only where it stands
        # in something else too are the `apparmor=` counted.)
        for mark in (b"rmor=", b"apparmor="):
            expected = marks if mark == b"rmor=" else bytescan.count(chunk, mark, start, size)
            for line_start, line_end in odd:
                expected -= chunk.count(mark, line_start, line_end)
            if records - len(in_odd) == expected:
                break
        else:
            return False  # an `apparmor=` the regex does not count
        counts = self.counts
        distinct = set(found)
        distinct.discard(b"")
        verdicts = counts.verdicts
        for head in distinct.difference(verdicts):
            counts.classify(head)
        if not counts.parse_heads.isdisjoint(distinct):
            return False
        heads = counts.heads
        ambiguous = {head: bulk.ambiguous_key(head) for head in distinct & counts.ambiguous_heads}
        if None in ambiguous.values():
            return False  # (rare: a class from a mask after the head)
        heads.update(filter(None, found))  # (in C; the lines without a record left out)
        for head in in_odd:
            heads[head] -= 1
        keys = counts.keys
        for head, key in ambiguous.items():
            # (their records are counted by key: whether they have a socket family, a mask)
            count = heads.pop(head)
            if count and key is not None:
                keys[key] = keys.get(key, 0) + count
        self.reader.stats.records += records - len(in_odd)
        if len(heads) > KEYS_KEPT or len(counts.keys) > KEYS_KEPT:
            counts.drain()
        return True

    def _dbus_line(self, chunk: bytes, line_start: int, line_end: int) -> bool:
        """Count a D-Bus record written in one line by its head and label (bulk.DBUS), where
        the full parser would read exactly those; False if it must read the line."""
        found = bulk.DBUS.search(chunk, line_start, line_end)
        if found is None:
            return False
        head, label = found.group(1), found.group(2)
        stamp = chunk.find(b"audit(", line_start, line_end)
        before = chunk.find(b"apparmor=", line_start, line_end)
        brace = chunk.find(b"{", line_start, stamp)
        if before < found.start(1) or (brace >= 0 and _json_line(chunk[line_start:brace])):
            return False  # (the full parser would read this line otherwise)
        key = head + b"\n" + label  # (no head or label holds a newline)
        verdicts = self.counts.verdicts
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = verdicts[key] = bulk.dbus_fields(head, label)
        if verdict is bulk.PARSE:
            return False
        self.counts.heads[key] += 1
        self.reader.stats.records += 1
        return True

    def _by_stretch(self, chunk: bytes, start: int, size: int, odd: list[tuple[int, int]]) -> None:
        """The odd lines fully parsed, the stretches between them counted, in file order."""
        pos = start
        for line_start, line_end in odd:
            if line_start < pos:
                continue  # the continuation of a line just read
            if pos < line_start:
                self._stretch(chunk, pos, line_start, size)
            pos = self._slow_line(chunk, line_start, line_end, size)
        if pos < size:
            self._stretch(chunk, pos, size, size)

    def _stretch(self, chunk: bytes, start: int, end: int, size: int) -> None:
        """Count the stamped records of `chunk[start:end]` (no odd line), or read it line by
        line if the regex still misses one (a line with two records)."""
        found = _records(chunk, start, end)
        if len(found) == chunk.count(b"apparmor=", start, end):  # (no slow mark: not odd)
            self._count(chunk, size, found)
            return
        fast: list[Found] = []
        pos = start
        for at in mark_positions(chunk, start, end, _MARKS):
            if at < pos:
                continue  # in a line already taken
            line_start = chunk.rfind(b"\n", 0, at) + 1
            line_end = chunk.find(b"\n", at, size) + 1 or size
            line = chunk[line_start:line_end]
            record = _RECORD.search(chunk, line_start, line_end)
            if (
                record is not None
                and record.group(2) is not None
                and line.count(b"apparmor=") == 1
                and not any(m in line for m in _SLOW_MARKS)
            ):
                fast.append((record.group(1), record.group(2), record.start(2)))
                pos = line_end
                continue
            pos = self._slow_line(chunk, line_start, line_end, size)
        self._count(chunk, size, fast)

    def _slow_line(self, chunk: bytes, line_start: int, line_end: int, size: int) -> int:
        """Fully parse the line at `line_start` (joined with its continuation, if split).

        Returns where the next line starts.
        """
        line = chunk[line_start:line_end]
        if self._held_line(line):
            if line_end >= size:  # its continuation starts the next chunk
                self.joiner.held = (self._number(chunk, line_start), line)
                return line_end
            if chunk[line_end : line_end + 1] in {b" ", b"\t"}:
                next_end = chunk.find(b"\n", line_end, size) + 1 or size
                self.joiner.joined += 1
                whole = line.rstrip(b"\r\n") + b" " + chunk[line_end:next_end].strip()
                if self.check_copies or not self._dbus_line(whole, 0, len(whole)):
                    self._full(self._number(chunk, line_start), whole)
                return next_end
        self._full(self._number(chunk, line_start), line)
        return line_end

    def _number(self, chunk: bytes, line_start: int) -> int:
        """The line number of the line at `line_start` (after the last one asked for)."""
        self._lines_before += chunk.count(b"\n", self._line_at, line_start)
        self._line_at = line_start
        return self._lines_before + 1

    def _count(
        self,
        chunk: bytes,
        size: int,
        found: list[Found],
        slow: list[int] | None = None,
    ) -> None:
        """Count found records; those the head cannot decide go to the full parser, or their
        positions to `slow` for the caller to parse in order."""
        counts = self.counts
        keys, heads, verdicts = counts.keys, counts.heads, counts.verdicts
        records = 0
        for stamp, record, at in found:
            end = record.find(b" pid=")
            head = record[:end]
            verdict = verdicts.get(head) if end > 0 else bulk.PARSE
            if verdict is None:
                verdict = counts.classify(head)
            if verdict is bulk.PARSE or _LATER_KEY.search(record, end) is not None:
                if slow is None:
                    self._record_by_line(chunk, size, at)
                else:
                    slow.append(at)
                continue
            if self.check_copies:
                node = self._node(chunk, at)
                if self.reader.is_duplicate((stamp, identity_payload(record)), self.origin, node):
                    continue
                if self.reader.several_nodes:
                    self.reader.stats.count_node(node)
            records += 1
            if verdict is not bulk.AMBIGUOUS:
                heads[head] += 1
                continue
            rest = record[end:]
            key = (
                head,
                b" family=" in rest or b" sock_type=" in rest,
                any(m in record for m in (b"mask=", b" requested=", b" denied=")),
            )
            keys[key] = keys.get(key, 0) + 1
        self.reader.stats.records += records
        if len(keys) > KEYS_KEPT or len(heads) > KEYS_KEPT:
            counts.drain()

    def _node(self, chunk: bytes, at: int) -> str | None:
        """The node of the record at `at`: the one its line names, else the input's."""
        return line_node(chunk, chunk.rfind(b"\n", 0, at) + 1, at) or self.node

    def _continue_held(self, chunk: bytes, size: int) -> int:
        """Finish a USER_AVC record held from the last chunk; where this chunk's scan starts."""
        held = self.joiner.held
        assert held is not None
        if chunk[:1] not in {b" ", b"\t"}:
            self.joiner.held = None
            self._full(*held)
            return 0
        end = chunk.find(b"\n", 0, size) + 1 or size
        for number, whole in self.joiner.push(self.lines + 1, chunk[:end]):
            if self.check_copies or not self._dbus_line(whole, 0, len(whole)):
                self._full(number, whole)
        return end

    @staticmethod
    def _held_line(line: bytes) -> bool:
        """A USER_AVC line whose `msg='...'` dbus-daemon continued on the next line."""
        at = line.find(b"msg='")
        return at >= 0 and line.find(b"'", at + 5) < 0

    def _record_by_line(self, chunk: bytes, size: int, at: int) -> None:
        """Hand the line of the record at `at` to the full parser."""
        line_start = chunk.rfind(b"\n", 0, at) + 1
        number = self.lines + chunk.count(b"\n", 0, line_start) + 1
        self._full(number, chunk[line_start : chunk.find(b"\n", at, size) + 1 or size])

    def _full(self, number: int, line: bytes) -> None:
        source = SourceRef(self.name, number)
        event = self.reader.accept(parse_line(line, source, node=self.node), source, line)
        if event is not None:
            self.add_event(event)


Found = tuple[bytes, bytes, int]  # a record's stamp, its text to the end of the line, where


def _records(chunk: bytes, start: int, end: int) -> list[Found]:
    """The stamped records of `chunk[start:end]` (_RECORD), with where each starts."""
    return [
        (m.group(1), m.group(2), m.start(2))
        for m in _RECORD.finditer(chunk, start, end)
        if m.group(2) is not None
    ]


def _odd_lines(chunk: bytes, start: int, size: int) -> list[tuple[int, int]]:
    """The lines of `chunk[start:size]` that may name a record the regex does not count: an
    `apparmor=` not right after a stamp's `): `, or a legacy or D-Bus broker mark. In order."""
    # (an `apparmor=` that does not follow a stamp's `): `)
    positions = bytescan.positions_not_after(chunk, b"apparmor=", b"): ", start, size)
    positions += mark_positions(chunk, start, size, _SLOW_MARKS)
    at = chunk.find(b"{", start, size)  # (memchr: fast where there is none)
    while at >= 0:
        line_start = chunk.rfind(b"\n", 0, at) + 1
        if _json_line(chunk[line_start:at]):
            positions.append(at)
        at = chunk.find(b"{", at + 1, size)
    positions.sort()
    lines: list[tuple[int, int]] = []
    last = -1
    for at in positions:
        line_start = chunk.rfind(b"\n", 0, at) + 1
        if line_start != last:
            lines.append((line_start, chunk.find(b"\n", at, size) + 1 or size))
            last = line_start
    return lines


# What may stand before a JSON line's `{` (parse_line strips NULs, then whitespace; bytes
# above 0x7F may be Unicode whitespace).
_LEADING: Final = b"\x00\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "


def _json_line(before: bytes) -> bool:
    """Whether a line whose first `{` follows these bytes may be read as JSON."""
    rest = before.translate(None, _LEADING)
    return not rest or not rest.isascii()
