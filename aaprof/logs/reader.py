"""Read many inputs into one stream of Events, counting what was read and what was not."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Final, Literal, cast

from aaprof.errors import AaprofError
from aaprof.logs.chunks import Progress, record_lines
from aaprof.logs.follow import FollowedFile
from aaprof.logs.journal import SYSTEM_JOURNAL, FollowedJournal, iter_journal
from aaprof.logs.jsonevents import parse_event_line, parse_pods_line
from aaprof.logs.kmsg import FollowedKmsg
from aaprof.logs.lines import (
    Identity,
    ParseResult,
    Unparsed,
    entry_identity,
    parse_journal_entry,
    parse_line,
    record_identity,
)
from aaprof.logs.live import Followed, Raw, follow
from aaprof.logs.memo import LineMemo
from aaprof.logs.records import Record
from aaprof.logs.sources import Continuations, Input, is_char_device, iter_lines, open_input
from aaprof.model.event import Event, SourceRef
from aaprof.model.pods import PodsRan

# How many first unparsed lines are kept for the report.
KEEP_UNPARSED = 10
# Duplicates (journald's audit and kernel copies of one record) arrive close together; a window
# of this many recent records finds them with bounded memory, whatever the input size.
DEDUP_WINDOW = 65536
# First bytes of the lines of aaprof's own JSON output (`jsonl`, and `json`'s indented lines).
_JSON_STARTS = (b"{", b" ")


class _Line(Enum):
    OTHER = 0  # `Reader._own`: not a line aaprof wrote


@dataclass(slots=True)
class ReadStats:
    """What reading saw: lines, records, what could not be read, and where."""

    lines: int = 0
    records: int = 0
    duplicates: int = 0
    unparsed: int = 0
    first_unparsed: list[tuple[SourceRef, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    bytes_read: int = 0
    lost: int = 0  # records /dev/kmsg overwrote before they were read (logs.kmsg)
    nodes: dict[str, int] = field(default_factory=dict)  # records per node, several read

    def count_node(self, node: str | None) -> None:
        key = node or "-"
        self.nodes[key] = self.nodes.get(key, 0) + 1

    def note_unparsed(self, source: SourceRef, reason: str) -> None:
        self.unparsed += 1
        if len(self.first_unparsed) < KEEP_UNPARSED:
            self.first_unparsed.append((source, reason))

    def merge(self, other: ReadStats, line_offset: int) -> None:
        """Add the stats of a later part of the same input (its lines follow `line_offset`)."""
        self.lines += other.lines
        self.records += other.records
        self.duplicates += other.duplicates
        self.bytes_read += other.bytes_read
        self.lost += other.lost
        self.errors.extend(other.errors)
        for node, count in other.nodes.items():
            self.nodes[node] = self.nodes.get(node, 0) + count
        for source, reason in other.first_unparsed:
            self.note_unparsed(SourceRef(source.file, source.line + line_offset), reason)
        self.unparsed += other.unparsed - len(other.first_unparsed)

    def to_dict(self) -> dict[str, object]:
        nodes = {"nodes": dict(sorted(self.nodes.items()))} if self.nodes else {}
        return {
            "lines": self.lines,
            "records": self.records,
            **nodes,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "unparsed": self.unparsed,
            "first_unparsed": [
                {"file": s.file, "line": s.line, "reason": r} for s, r in self.first_unparsed
            ],
            "errors": list(self.errors),
        }


class Deduplicator:
    """Finds a record seen before from another origin, remembering the last `window` records.

    Two copies of one record come from different origins (journald's audit and kernel
    transports; kern.log and syslog, which rsyslog both writes) of one node. Identical records
    from one origin are distinct records (the kernel may log the same check twice in one
    syscall), and so are records of two nodes (their kernels count serials alike). A record
    whose node is unknown (None) may be a copy of any node's.
    """

    __slots__ = ("_current", "_previous", "window")

    def __init__(self, window: int = DEDUP_WINDOW) -> None:
        self.window = window
        # per key, the (node, origin) of each node's first record of that key
        self._current: dict[object, _Firsts] = {}
        self._previous: dict[object, _Firsts] = {}

    def seen(self, key: object, origin: object, node: str | None = None) -> bool:
        current = self._current
        earlier = current.get(key)
        if earlier is not None:
            for first_node, first_origin in earlier:
                if first_node == node or first_node is None or node is None:
                    return first_origin != origin
        before = self._previous.get(key)
        if before is not None:
            for first_node, first_origin in before:
                if first_node == node or first_node is None or node is None:
                    return first_origin != origin
        if earlier is not None:  # another node's record of the same stamp and text
            current[key] = (*earlier, (node, origin))
            return False
        if len(current) >= self.window:
            self._previous, current = current, {}
            self._current = current
        current[key] = ((node, origin),)
        return False


_Firsts = tuple[tuple[str | None, object], ...]


def followed(item: Input) -> Followed:
    """The follower of an input: the journal's, a character device's (kmsg) or a file's."""
    if item.journal:
        return FollowedJournal(None if item.name == SYSTEM_JOURNAL else item.name)
    if is_char_device(item.name):
        return FollowedKmsg(item.name)
    return FollowedFile(item.name)


def parse_text(data: bytes, name: str = "<text>") -> list[ParseResult]:
    """Every line's result for a whole text (tests and tools; no dedup, no stats)."""
    return [
        parse_line(line, SourceRef(name, number))
        for number, line in iter_lines(io.BytesIO(data), name)
    ]


def several_nodes(items: list[Input]) -> bool:
    """Whether the text inputs are several nodes' logs: files in sibling directories, a
    directory per node (`logs/node-a/audit.log`, `logs/node-b/kern.log`), as collected from a
    cluster. One node's own logs (`/var/log/audit/audit.log`, `/var/log/syslog`) are not."""
    folders = {
        os.path.dirname(os.path.abspath(item.name))
        for item in items
        if not item.journal and item.name != "-"
    }
    return len(folders) > 1 and len({os.path.dirname(f) for f in folders}) == 1


def _records(results: Iterator[Event | Record]) -> Iterator[Record]:
    """Each an Record: an Event as a record of its own."""
    of = Record.of
    for result in results:
        yield result if result.__class__ is Record else of(result)  # type: ignore[arg-type]


# What a single text input's parse gives when it needs no more checks.
_PLAIN: Final = frozenset({Event, Record})


@dataclass(slots=True)
class Reader:
    """Reads inputs in order; yields each AppArmor record once; fills `stats`.

    An input that cannot be read is named in `stats.errors` and the others are still read.
    """

    node: str | None = None
    # None: when the inputs are several nodes' (several_nodes), and no `node` is given
    node_from_dir: bool | None = None
    boot: str | None = None
    progress: Callable[[int], None] | None = None
    stats: ReadStats = field(default_factory=ReadStats)
    _dedup: Deduplicator = field(default_factory=Deduplicator)
    _single: bool = False  # reading one text input alone (no copies to look for)
    _from_dir: bool = False  # node_from_dir, decided for the inputs (expect)
    several_nodes: bool = False  # the inputs are several nodes' (told apart by directory)
    _memos: dict[str | None, LineMemo] = field(default_factory=dict)  # `live`'s, per node
    # the pods watch saw running on each node (its `{"kind":"pods",…}` lines: model.pods)
    pods: PodsRan = field(default_factory=PodsRan)

    def events(self, inputs: Iterable[Input]) -> Iterator[Event]:
        return self._read(inputs, copies=False)  # type: ignore[return-value]

    def records(self, inputs: Iterable[Input]) -> Iterator[Record]:
        """The records of `inputs`, a record that only repeats an earlier line of one text
        input read alone (but for its stamp and pid) sharing that line's values: its Event is
        made only if asked for (`Record.event()`). Consumers read through `logs.entry`."""
        return _records(self._read(inputs, copies=True))

    def records_between(
        self, item: Input, start: int, end: int | None, first_line: int
    ) -> Iterator[Record]:
        """`records([item])` of one plain text input's bytes from `start` to `end` (None: its
        end), both line starts; `first_line` lines stand before `start` (the numbering goes
        on from them). A read error is named in `stats.errors`, as by `records`."""
        self.expect([item])
        try:
            yield from _records(self._text(item, True, start, end, first_line))
        except AaprofError as exc:
            self.stats.errors.append(str(exc))

    def _read(self, inputs: Iterable[Input], copies: bool) -> Iterator[Event | Record]:
        items = list(inputs)
        self.expect(items)
        for item in items:
            try:
                if item.journal:
                    yield from self._journal(item)
                else:
                    yield from self._text(item, copies and self._single)
            except AaprofError as exc:
                self.stats.errors.append(str(exc))

    def expect(self, items: list[Input]) -> None:
        """Say what will be read. Copies of a record come from two origins; one text input
        read alone has one origin for its stamped lines (unstamped lines have no identity), so
        its records are not remembered for matching (JSON lines still are)."""
        self._single = len(items) == 1 and not items[0].journal
        several = several_nodes(items)
        if self.node_from_dir is None:
            self._from_dir = several and self.node is None
        else:
            self._from_dir = self.node_from_dir
        self.several_nodes = several and self._from_dir

    def node_for(self, name: str) -> str | None:
        """The node of records from this input whose lines name none."""
        if self._from_dir and name != "-":
            parent = name.rstrip("/").rpartition("/")[0].rpartition("/")[2]
            return parent or self.node
        return self.node

    def accept(self, result: ParseResult, source: SourceRef, line: bytes | str) -> Event | None:
        """The event of a parse result, or None: counted, checked for duplicates."""
        if result is None or isinstance(result, Unparsed):
            return self._counted(result, source, None, False)
        if not isinstance(line, bytes) or (self._single and line[:1] != b"{"):
            # (a JSON line may be journald's audit copy or its kernel copy: always matched)
            return self._counted(result, source, None, False)
        return self._counted(result, source, record_identity(line), b"audit(" in line)

    def _counted(
        self, result: ParseResult, source: SourceRef, identity: Identity | None, stamped: bool
    ) -> Event | None:
        if result is None:
            return None
        if isinstance(result, Unparsed):
            self.stats.note_unparsed(source, result.reason)
            return None
        if identity is not None and self.is_duplicate(
            identity, (source.file, stamped), result.node
        ):
            return None
        self.stats.records += 1
        if self.several_nodes:
            self.stats.count_node(result.node)
        return result

    def is_duplicate(self, identity: Identity, origin: object, node: str | None = None) -> bool:
        """Whether this record of this node came before from another origin (counted as a
        duplicate).

        The origin is the file and whether the line carried the kernel's `audit(...)` stamp:
        journald's audit copy of a record has none, its kernel copy has one.
        """
        # the payload by its hash: a record's copies share their stamp and payload, and the
        # window holds 2 x 65,536 of them, so a few hundred bytes each would be tens of MB
        if self._dedup.seen((identity[0], hash(identity[1])), origin, node):
            self.stats.duplicates += 1
            return True
        return False

    def _text(
        self,
        item: Input,
        copies: bool = False,
        start: int = 0,
        end: int | None = None,
        first_line: int = 0,
    ) -> Iterator[Event | Record]:
        memo = LineMemo(self.node_for(item.name))
        parse = memo.copy if copies else memo.parse
        stream = open_input(item.name)
        stats = self.stats
        single = self._single  # (one text input: its records are not matched as copies)
        done = Progress(first_line, stats.bytes_read)  # this input's lines, all inputs' bytes
        try:
            if start:
                stream.seek(start)
            # only the lines that may hold a record: noise costs no Python code per line
            lines = record_lines(stream, item.name, done, self.progress, end)
            for number, line in lines:
                source = SourceRef(item.name, number)
                if line[:1] in _JSON_STARTS and (own := self._own(line, source)) is not _Line.OTHER:
                    event = own
                else:
                    result = parse(line, source)
                    if single and result.__class__ in _PLAIN and line[:1] != b"{":
                        stats.records += 1  # the usual: nothing to check
                        yield result  # type: ignore[misc]
                        continue
                    event = self.accept(cast(ParseResult, result), source, line)  # (no Record)
                if event is not None:
                    yield event
        finally:
            stats.lines += done.lines - first_line
            stats.bytes_read = done.bytes_read
            stats.lost += getattr(stream, "lost", 0)  # records /dev/kmsg overwrote (logs.kmsg)
            if item.name != "-":
                stream.close()

    def follow(self, items: list[Input], stop: Callable[[], bool]) -> Iterator[Event]:
        """Events from records appended to the inputs (files, journals, a kmsg device), until
        `stop()` (see logs.live.follow)."""
        self.expect(items)
        self._single = False  # (every record is checked: the inputs may hold each other's)
        joiners: dict[str, Continuations] = {}
        for raw in follow([followed(item) for item in items], stop=stop):
            self.stats.lines += 1
            data, name, number = raw.data, raw.source.file, raw.source.line
            if raw.error is not None or not isinstance(data, bytes):
                yield from self.live((raw,))  # (a journal entry, a line over 256 KiB)
                continue
            joiner = joiners.get(name)
            if joiner is None:
                joiner = joiners[name] = Continuations()
            for line_number, line in joiner.push(number, data):
                yield from self.live((Raw(line, SourceRef(name, line_number)),))

    def live(self, raws: Iterable[Raw]) -> Iterator[Event]:
        """The events of followed records (logs.live: a FollowedFile's or FollowedKmsg's
        lines, a FollowedJournal's entries), each read as `records` reads its input's: counted
        in `stats` (the caller counts the lines), checked for duplicates as `expect` set up;
        a Raw with an error is counted as unparsed. The one path from a followed record to an
        Event: `aaprof events --follow` and `aaprof watch` read through it."""
        memos = self._memos
        for data, source, error in raws:
            if error is not None:
                self.stats.note_unparsed(source, error)
                continue
            if isinstance(data, dict):
                event = self._entry(data, source)
            elif data[:1] in _JSON_STARTS and (own := self._own(data, source)) is not _Line.OTHER:
                event = own
            else:
                node = self.node_for(source.file)
                memo = memos.get(node)
                if memo is None:
                    memo = memos[node] = LineMemo(node)
                event = self.accept(memo.parse(data, source), source, data)
            if event is not None:
                yield event

    def _own(self, line: bytes, source: SourceRef) -> Event | Literal[_Line.OTHER] | None:
        """A line aaprof wrote, whether read whole or followed: its own JSON event (counted,
        None for a duplicate), or watch's list of the node's pods (added to `pods` or counted
        unparsed: None); `_Line.OTHER` for any other line (a log line, parsed as one)."""
        if own := parse_event_line(line, source):
            return self._counted(own, source, None, False)
        if line[:1] != b"{" or (pods := parse_pods_line(line)) is None:
            return _Line.OTHER
        if isinstance(pods, Unparsed):
            self.stats.note_unparsed(source, pods.reason)
        else:
            self.pods.add_line(pods, self.node_for(source.file))
        return None

    def _journal(self, item: Input) -> Iterator[Event]:
        for _number, entry, source in iter_journal(item.name, boot=self.boot):
            self.stats.lines += 1
            event = self._entry(entry, source)
            if event is not None:
                yield event

    def _entry(self, entry: dict[str, object], source: SourceRef) -> Event | None:
        """The event of a journal entry, or None: counted, checked for duplicates (journald
        keeps the kernel's copy of a record and the audit transport's)."""
        result = parse_journal_entry(entry, source, self.node)
        identity = entry_identity(entry) if isinstance(result, Event) else None
        stamped = "audit(" in str(entry.get("MESSAGE", ""))
        return self._counted(result, source, identity, stamped)
