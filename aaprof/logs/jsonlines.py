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
from aaprof.model.event import Event, time_fields

# Holes in a template: text a record would hold only to confuse us (`_split` checks).
_HOLES: Final = tuple(f"\uf8ff{name}\uf8ff" for name in ("time", "epoch", "serial", "pid", "line"))
_QUOTED_HOLES: Final = tuple(json.dumps(hole, ensure_ascii=False) for hole in _HOLES)
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
    and source (a selection and an attribution that read a record's text alone).
    """

    def __init__(self, prepare: Callable[[Event], Event | None]) -> None:
        self.prepare = prepare
        self._templates: dict[int, tuple[list[object], tuple[str, ...] | None]] = {}

    def line(self, item: Event | Copy) -> str | None:
        """The JSON line (no newline) of a record or copy; None if `prepare` leaves it out."""
        if item.__class__ is not Copy:
            event = self.prepare(item)  # type: ignore[arg-type]
            return None if event is None else dumps(event.to_dict())
        copy: Copy = item
        known = self._templates.get(id(copy.proto))
        parts = self._template(copy) if known is None else known[1]
        if parts is _LEFT_OUT:
            return None
        if parts is None:  # no template for this one: the whole line each time
            event = self.prepare(copy.event())
            return None if event is None else dumps(event.to_dict())
        time, epoch = time_fields(copy.time)
        return (
            f'{parts[0]}"{time}"{parts[1]}{epoch!r}{parts[2]}{copy.serial}'
            f"{parts[3]}{copy.pid}{parts[4]}{copy.source.line}{parts[5]}"
        )

    def _template(self, copy: Copy) -> tuple[str, ...] | None:
        """The parts between the holes of the copy's line, `_LEFT_OUT`, or None (no template:
        a hole's text is in the record)."""
        if len(self._templates) >= TEMPLATES_KEPT:
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


def _split(text: str) -> tuple[str, ...] | None:
    """The text between the holes (six parts), or None if they are not each there once."""
    parts: list[str] = []
    for hole in _QUOTED_HOLES:
        before, found, text = text.partition(hole)
        if not found or hole in text:
            return None
        parts.append(before)
    return (*parts, text)
