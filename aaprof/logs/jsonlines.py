"""aaprof's JSON lines of records, with the reader's copies written from a template: a copy
(`logs.memo.Copy`) differs from its first line's record only in time, serial, pid and line, so
that record's JSON line is made once, with holes for those, and each copy fills them in.

`JsonLines(prepare).line(item)` is `json.dumps(prepare(event).to_dict())` in the compact form
(docs/events.md) for an Event, and for a Copy of one; tests/logs/test_jsonlines.py holds the
two byte for byte equal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

from aaprof.logs.memo import Copy
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
    """JSON lines of the records `prepare` keeps (None: leave out), as `prepare` made them.

    `prepare` must give copies of one record the same result but for their time, serial, pid
    and source (a selection and an attribution that read a record's text alone); with
    `reads_names=False`, also copies that differ in their name (no selection by name).
    """

    def __init__(
        self,
        prepare: Callable[[Event], Event | None],
        *,
        reads_names: bool = True,
        kept: int | None = None,
    ) -> None:
        self.prepare, self.reads_names = prepare, reads_names
        self.kept = TEMPLATES_KEPT if kept is None else kept  # templates of each kind
        self._templates: dict[int, tuple[list[object], tuple[str, ...] | None]] = {}
        self._named_templates: dict[int, tuple[list[object], tuple[str, ...] | None]] = {}

    def line(self, item: Event | Copy) -> str | None:
        """The JSON line (no newline) of a record or copy; None if `prepare` leaves it out."""
        if item.__class__ is not Copy:
            event = self.prepare(item)  # type: ignore[arg-type]
            return None if event is None else dumps(event.to_dict())
        copy: Copy = item
        if copy.name is not None:
            return self._named(copy)
        known = self._templates.get(id(copy.proto))
        parts = self._template(copy) if known is None else known[1]
        if parts is _LEFT_OUT:
            return None
        if parts is None:  # no template for this one: the whole line each time
            event = self.prepare(copy.event())
            return None if event is None else dumps(event.to_dict())
        time, epoch = copy.time_fields()
        return (
            f'{parts[0]}"{time}"{parts[1]}{epoch!r}{parts[2]}{copy.serial}'
            f"{parts[3]}{copy.pid}{parts[4]}{copy.source.line}{parts[5]}"
        )

    def _named(self, copy: Copy) -> str | None:
        """A copy with a name of its own, written from its line's template with a hole for the
        name too; prepared as a record of its own where `prepare` may read names."""
        name = copy.name
        assert name is not None
        known = self._named_templates.get(id(copy.proto))
        event = None
        if known is None or self.reads_names:
            event = self.prepare(copy.event())
            if event is None and self.reads_names:
                return None
        if known is None:
            if len(self._named_templates) >= self.kept:
                self._named_templates.clear()
            parts = _LEFT_OUT if event is None else _named_template(event)
            known = self._named_templates[id(copy.proto)] = (copy.proto, parts)
        parts = known[1]
        if parts is _LEFT_OUT:
            return None
        if parts is None or not _utf8(name):  # (a name that is not UTF-8 has a `name_hex`)
            event = event or self.prepare(copy.event())
            return None if event is None else dumps(event.to_dict())
        time, epoch = copy.time_fields()
        return (
            f'{parts[0]}"{time}"{parts[1]}{epoch!r}{parts[2]}{copy.serial}{parts[3]}'
            f"{_ENCODER.encode(name)}{parts[4]}{copy.pid}{parts[5]}{copy.source.line}{parts[6]}"
        )

    def _template(self, copy: Copy) -> tuple[str, ...] | None:
        """The parts between the holes of the copy's line, `_LEFT_OUT`, or None (no template:
        a hole's text is in the record)."""
        if len(self._templates) >= self.kept:
            self._templates.clear()
        event = self.prepare(copy.event())
        parts: tuple[str, ...] | None = _LEFT_OUT
        if event is not None:
            doc = event.to_dict()
            # the holes, in the order their keys stand in the line (a record holding a hole's
            # text gets no template: `_split` finds that hole twice)
            doc["time"], doc["epoch"], doc["serial"], doc["pid"] = _HOLES[:4]
            doc["source"] = {**doc["source"], "line": _HOLES[4]}  # type: ignore[dict-item]
            parts = _split(dumps(doc))
        self._templates[id(copy.proto)] = (copy.proto, parts)
        return parts


_LEFT_OUT: Final = ("",)


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
