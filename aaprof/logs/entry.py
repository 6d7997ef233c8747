"""The one way through `logs/`: from inputs to the Records a consumer sees.

`records(reader, items, selection, attribute)` yields a `logs.records.Record` for each record of
the inputs that `selection` keeps, attributed by `attribute`; `summary(...)` counts them. They
choose the path, and no consumer does: where neither the selection nor the attribution reads more
than a record's text (not its time, pid or comm), copies of one line (`logs.memo`) are selected
and attributed once and share the first one's result; else every record is selected and
attributed on its own Event. A summary that reads a record's text alone is counted by raw head,
without Events (`logs.quick`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from aaprof.logs.jsonevents import may_hold_events, parse_event_line
from aaprof.logs.lines import ParseResult, parse_line
from aaprof.logs.quick import summarize
from aaprof.logs.reader import Reader
from aaprof.logs.records import Record
from aaprof.logs.select import Selection
from aaprof.logs.sources import Input
from aaprof.logs.summary import Summary
from aaprof.model.event import Event

# Decisions kept for copies of a line (each with the values it keeps alive).
DECISIONS_KEPT = 8192


def by_text(selection: Selection, attribute: Callable[[Event], Event] | None) -> bool:
    """Whether the selection and the attribution read a record's text alone (not its time,
    pid or comm): then copies of a line are decided once."""
    return not selection.needs_event and bool(getattr(attribute, "by_text", attribute is None))


def records(
    reader: Reader,
    items: Sequence[Input],
    selection: Selection,
    attribute: Callable[[Event], Event] | None = None,
    *,
    stop: Callable[[], bool] | None = None,
    part: tuple[int, int | None, int] | None = None,
) -> Iterator[Record]:
    """The records of `items` that `selection` keeps, attributed: the one way in.

    Args:
        reader: reads the inputs and counts what it read (`reader.stats`).
        items: what to read (`logs.sources.expand` of the command line).
        selection: the records to keep.
        attribute: sets `Event.container` (containers.attribute), after the selection.
        stop: follow the inputs (files, journals, a kmsg device) as they grow, until `stop()`
            (`Reader.follow`).
        part: read only these bytes of the one plain text input: (start, end, the lines
            before start), both line starts (logs.halves).
    """
    if stop is not None:
        records: Iterable[Record] = (Record.of(e) for e in reader.follow(list(items), stop))
    elif part is not None:
        records = reader.records_between(items[0], *part)
    else:
        records = reader.records(items)
    if by_text(selection, attribute):
        return _decided_once(records, selection, attribute)
    return _each(records, selection, attribute)


def _each(
    records: Iterable[Record],
    selection: Selection,
    attribute: Callable[[Event], Event] | None,
) -> Iterator[Record]:
    keeps = selection.keeps
    for record in records:
        event = record.event()
        if keeps(event):
            yield Record.of(event if attribute is None else attribute(event))


def _decided_once(
    records: Iterable[Record],
    selection: Selection,
    attribute: Callable[[Event], Event] | None,
) -> Iterator[Record]:
    """Copies of a line selected and attributed once: the first one's result is shared (by
    its line's values, or by those and its name where the selection reads names)."""
    keeps = selection.keeps
    reads_names = selection.name is not None
    decided: dict[object, tuple[list[object], list[object] | None]] = {}
    for record in records:
        proto = record.proto
        if proto is None:
            event = record.event()
            if keeps(event):
                yield record if attribute is None else Record.of(attribute(event))
            continue
        key = id(proto) if record.name is None or not reads_names else (id(proto), record.name)
        known = decided.get(key)
        if known is None:
            event = record.event()
            shared: list[object] | None = None
            if keeps(event):
                prepared = event if attribute is None else attribute(event)
                shared = proto if prepared is event else record.shared_values(prepared)
            if len(decided) >= DECISIONS_KEPT:
                decided.clear()
            decided[key] = (proto, shared)  # (proto kept alive: its id is not reused)
            if shared is proto:
                yield record
            elif shared is not None:
                yield record.sharing(shared, prepared if record.first is not None else None)
            continue
        shared = known[1]
        if shared is not None:
            yield record if shared is proto else record.sharing(shared, None)


def one_line(line: str) -> ParseResult:
    """The record of one line given alone (`explain RECORD`): aaprof's own JSON event, or a
    log line of any format (`logs.lines.parse_line`)."""
    own = parse_event_line(line.encode("utf-8", "surrogateescape"))
    return own if own is not None else parse_line(line)


def summary(
    reader: Reader,
    items: Sequence[Input],
    selection: Selection,
    attribute: Callable[[Event], Event] | None = None,
) -> Summary:
    """The summary of the records of `items` that `selection` keeps."""
    if not selection.needs_event and not any(
        may_hold_events(i.name) for i in items if not i.journal
    ):
        # by raw head (the attribution is left out: a summary shows no containers)
        return summarize(reader, list(items), selection)
    result = Summary()
    for record in records(reader, items, selection, attribute):
        result.add_event(record.event())
    return result
