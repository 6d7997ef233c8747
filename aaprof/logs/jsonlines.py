"""The one JSON encoder of records: aaprof's JSON lines (docs/events.md), with copies of a line
written from a template: a copy (`logs.records.Record` with shared values) differs from its
line's first record only in time, serial, pid and line (and, for some, its name), so that
record's JSON line is made once, with holes for those, and each copy fills them in.

`JsonLines().line(record)` is `dumps(record.event().to_dict())`; tests/logs/test_jsonlines.py
holds the two byte for byte equal.
"""

from __future__ import annotations

import json
from typing import Final

from aaprof.logs.records import Record
from aaprof.model.event import Event

# Holes in a template: text a record would hold only to confuse us (`_split` checks).
_HOLES: Final = tuple(f"\uf8ff{name}\uf8ff" for name in ("time", "epoch", "serial", "pid", "line"))
_QUOTED_HOLES: Final = tuple(json.dumps(hole, ensure_ascii=False) for hole in _HOLES)
# ... and with the name's (a copy of a line but for its name too)
_NAMED_HOLES: Final = (*_HOLES[:3], "\uf8ffname\uf8ff", *_HOLES[3:])
_QUOTED_NAMED_HOLES: Final = tuple(json.dumps(hole, ensure_ascii=False) for hole in _NAMED_HOLES)
# Templates kept (with the values they stand for, so that an id is not reused): bounded.
TEMPLATES_KEPT = 8192


def dumps(doc: object) -> str:
    """The compact JSON of events' lines (`json.dumps(doc, ensure_ascii=False,
    separators=(",", ":"))`, with one encoder made once)."""
    return _ENCODER.encode(doc)


_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class JsonLines:
    """The JSON lines of records (`logs.records.read` selected and attributed them)."""

    def __init__(self, *, kept: int | None = None) -> None:
        self.kept = TEMPLATES_KEPT if kept is None else kept  # templates of each kind
        self._templates: dict[int, tuple[list[object], tuple[str, ...] | None]] = {}
        self._named_templates: dict[int, tuple[list[object], tuple[str, ...] | None]] = {}

    def line(self, record: Record) -> str:
        """The JSON line (no newline) of a record."""
        proto = record.proto
        if proto is None or record.first is not None:
            # a record of its own, or the first line of a text: a template is made only when a
            # copy of it comes (most texts of a log whose lines rarely repeat come once)
            return dumps(record.event().to_dict())
        if record.name is not None:
            return self._named(record, proto, record.name)
        known = self._templates.get(id(proto))
        parts = self._template(record, proto) if known is None else known[1]
        if parts is None:  # no template for this one: the whole line each time
            return dumps(record.event().to_dict())
        time, epoch = record.time_fields()
        return (
            f'{parts[0]}"{time}"{parts[1]}{epoch!r}{parts[2]}{record.serial}'
            f"{parts[3]}{record.pid}{parts[4]}{record.source.line}{parts[5]}"  # type: ignore[union-attr]
        )

    def _named(self, record: Record, proto: list[object], name: str) -> str:
        """A copy with a name of its own, written from its line's template with a hole for the
        name too."""
        known = self._named_templates.get(id(proto))
        if known is None:
            if len(self._named_templates) >= self.kept:
                self._named_templates.clear()
            parts = _named_template(record.event())
            known = self._named_templates[id(proto)] = (proto, parts)
        parts = known[1]
        if parts is None or not _utf8(name):  # (a name that is not UTF-8 has a `name_hex`)
            return dumps(record.event().to_dict())
        time, epoch = record.time_fields()
        return (
            f'{parts[0]}"{time}"{parts[1]}{epoch!r}{parts[2]}{record.serial}{parts[3]}'
            f"{_ENCODER.encode(name)}{parts[4]}{record.pid}{parts[5]}"
            f"{record.source.line}{parts[6]}"  # type: ignore[union-attr]
        )

    def _template(self, record: Record, proto: list[object]) -> tuple[str, ...] | None:
        """The parts between the holes of the record's line, or None (no template: a hole's
        text is in the record)."""
        if len(self._templates) >= self.kept:
            self._templates.clear()
        doc = record.event().to_dict()
        # the holes, in the order their keys stand in the line (a record holding a hole's
        # text gets no template: `_split` finds that hole twice)
        doc["time"], doc["epoch"], doc["serial"], doc["pid"] = _HOLES[:4]
        doc["source"] = {**doc["source"], "line": _HOLES[4]}  # type: ignore[dict-item]
        parts = _split(dumps(doc))
        self._templates[id(proto)] = (proto, parts)
        return parts


def _named_template(event: Event) -> tuple[str, ...] | None:
    """The parts between the holes of a line with a name hole (seven), or None."""
    doc = event.to_dict()
    if "name_hex" in doc or "name" not in doc:
        return None
    doc["time"], doc["epoch"], doc["serial"], doc["name"], doc["pid"] = _NAMED_HOLES[:5]
    doc["source"] = {**doc["source"], "line": _NAMED_HOLES[5]}  # type: ignore[dict-item]
    return _split(dumps(doc), _QUOTED_NAMED_HOLES)


def _utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _split(text: str, holes: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The text between the holes (one part more than holes), or None if they are not each
    there once."""
    parts: list[str] = []
    for hole in holes or _QUOTED_HOLES:
        before, found, text = text.partition(hole)
        if not found or hole in text:
            return None
        parts.append(before)
    return (*parts, text)
