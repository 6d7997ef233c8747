"""Rendering events, summaries and read statistics for the terminal and for machines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

from aaprof.logs.jsonlines import JsonLines
from aaprof.logs.reader import ReadStats
from aaprof.logs.records import Record
from aaprof.logs.summary import Summary
from aaprof.model.event import JSON_FIELDS, Event

# Columns of `--format csv`: the scalar keys of the JSON form, in its order.
CSV_COLUMNS = (
    "time",
    "epoch",
    *(key for key, _ in JSON_FIELDS),
    *("source_file", "source_line"),
    *("container_id", "container_pod", "container_namespace", "container_name"),
)


def _dumps(doc: object) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def detail(event: Event) -> str:
    """The object of an event in a few words: a path, a capability, a peer, a socket."""
    if event.capname or event.capability is not None:
        return f"capability {event.capname or event.capability}"
    if event.signal:
        return f"signal {event.signal} peer={event.peer or '?'}"
    if event.family:
        return f"{event.family} {event.sock_type or ''}".strip() + (
            f" {event.addr or event.peer_addr or ''}".rstrip()
        )
    if event.interface or event.member:
        return f"dbus {event.path or ''} {event.interface or ''}.{event.member or ''}"
    name = event.name or event.peer or event.target or ""
    if event.target and event.name:
        name += f" -> {event.target}"
    return _printable(name)


JSON_FORMATS = ("json", "jsonl")


def render_json(records: Iterable[Record], lines: JsonLines, fmt: str, out: TextIO) -> None:
    """Write records as JSON lines or a JSON array; `lines` makes each line."""
    write = out.write
    line = lines.line
    if fmt == "jsonl":
        for record in records:
            write(line(record) + "\n")
        return
    write("[")
    for n, record in enumerate(records):
        write(("," if n else "") + "\n  " + line(record))
    write("\n]\n")


def _printable(text: str) -> str:
    """Control characters (a newline in a file name) shown escaped, so one event is one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def render_events(records: Iterable[Record], fmt: str, out: TextIO, nodes: bool = False) -> None:
    """Write records as a table (with a node column if `nodes`: several nodes' records), a
    JSON array, JSON lines or CSV."""
    if fmt in JSON_FORMATS:
        render_json(records, JsonLines(), fmt, out)
        return
    events = (record.event() for record in records)
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for event in events:
            writer.writerow(_csv_row(event))
    else:
        _table(events, out, nodes)


def _csv_row(event: Event) -> list[object]:
    doc = event.to_dict()
    source = event.source
    container = event.container
    doc["source_file"] = source.file if source else None
    doc["source_line"] = source.line if source else None
    if container is not None:
        doc["container_id"] = container.id
        doc["container_pod"] = container.pod
        doc["container_namespace"] = container.namespace
        doc["container_name"] = container.name
    return ["" if doc.get(c) is None else doc[c] for c in CSV_COLUMNS]


def _table(events: Iterable[Event], out: TextIO, nodes: bool = False) -> None:
    """The table; with `nodes` (several nodes read) a NODE and a POD column (namespace/pod of
    the attributed container, `-` where none is known)."""
    node_head = f"{'NODE':<16} {'POD':<24} " if nodes else ""
    out.write(f"{'TIME':<24} {node_head}{'MODE':<8} {'OPERATION':<16} {'PROFILE':<32} DETAIL\n")
    for event in events:
        when = event.time.strftime("%Y-%m-%d %H:%M:%S") if event.time else "-"
        mask = f" [{event.denied or event.requested}]" if event.denied or event.requested else ""
        node = f"{_printable(event.node or '-'):<16} {_pod(event):<24} " if nodes else ""
        out.write(
            f"{when:<24} {node}{event.mode:<8} {event.operation or '-':<16} "
            f"{_printable(event.profile or '-'):<32} {detail(event)}{mask}\n"
        )


def _pod(event: Event) -> str:
    container = event.container
    if container is None or not (container.pod or container.namespace):
        return "-"
    return _printable(f"{container.namespace or '?'}/{container.pod or '?'}")


def render_summary(summary: Summary, fmt: str, top: int, out: TextIO) -> None:
    """Write a summary as a table, JSON (one document) or CSV."""
    if fmt in {"json", "jsonl"}:
        out.write(_dumps(summary.to_dict(top)) + "\n")
        return
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(["profile", "class", "mode", "count", "top_names"])
        for (profile, class_, mode), group in summary.rows():
            names = " ".join(f"{n}={c}" for n, c in group.top(top))
            writer.writerow([profile, class_, mode, group.count, names])
        return
    out.write(f"{'COUNT':>8}  {'MODE':<8} {'CLASS':<12} PROFILE\n")
    for (profile, class_, mode), group in summary.rows():
        out.write(f"{group.count:>8}  {mode:<8} {class_ or '-':<12} {_printable(profile) or '-'}\n")
        for name, count in group.top(top):
            out.write(f"{'':>10}{count:>8}  {_printable(name)}\n")
    out.write(f"{summary.total:>8}  records in {len(summary.groups)} groups\n")


def render_stats(stats: ReadStats) -> str:
    """The closing line(s) on stderr: lines read, records, unparsed with where."""
    text = f"aaprof: {stats.lines} lines read, {stats.records} records"
    if stats.nodes:  # (several nodes read: each one's records)
        counts = (f"{_printable(node)} {n}" for node, n in sorted(stats.nodes.items()))
        text += f" ({', '.join(counts)})"
    text += f", {stats.unparsed} unparsed"
    if stats.duplicates:
        text += f", {stats.duplicates} duplicates dropped"
    if stats.lost:
        text += f", records lost {stats.lost} (/dev/kmsg overwrote them before they were read)"
    for source, reason in stats.first_unparsed:
        text += f"\n  unparsed: {source.file}:{source.line}: {reason}"
    if stats.unparsed > len(stats.first_unparsed):
        text += f"\n  … and {stats.unparsed - len(stats.first_unparsed)} more unparsed lines"
    return text
