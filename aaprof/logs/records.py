"""The one record type every consumer of `logs/` sees: `Record`.

A Record is a parsed line's Event at hand, or a copy of one (`logs.memo`: a line that only
repeats an earlier one but for its stamp and pid) that shares the values of that line's Event
and makes its own only when asked. Consumers call `record.event()` for its Event and key their
per-record work by `record.key` (None: a record of its own); `logs.jsonlines` writes a Record as
a JSON line. They get Records from `logs.entry.records`, the one way in.
"""

from __future__ import annotations

from datetime import datetime

from aaprof.logs.lines import second_time
from aaprof.model.event import EVENT_SLOTS, Event, SourceRef, event_from_values, event_values

_AT_TIME, _AT_SERIAL, _AT_SOURCE, _AT_PID, _AT_EXTRA, _AT_NAME = (
    EVENT_SLOTS.index(name) for name in ("time", "serial", "source", "pid", "extra", "name")
)


class Record:
    """One AppArmor record as `logs/` gives it: its Event at hand (`first`), or the values of
    an earlier line's Event (`proto`, shared by every copy of that line) with its own stamp's
    `seconds` and `millis`, serial, pid, source and, where `name` is not None, its own quoted
    `name=`. `event()` gives its Event (made only when asked for)."""

    __slots__ = ("first", "millis", "name", "pid", "proto", "seconds", "serial", "source")

    def __init__(
        self,
        proto: list[object] | None,
        seconds: int,
        millis: int,
        serial: int,
        pid: int,
        source: SourceRef | None,
        name: str | None = None,
        first: Event | None = None,
    ) -> None:
        self.proto, self.seconds, self.millis, self.serial = proto, seconds, millis, serial
        self.pid, self.source, self.name, self.first = pid, source, name, first

    @classmethod
    def of(cls, event: Event) -> Record:
        """A record of its own: its Event, which no other line's shares."""
        return cls(None, 0, 0, 0, 0, event.source, None, event)

    @property
    def key(self) -> object:
        """What tells records apart among copies: its line's values (by identity; whoever
        keys by it keeps `proto` alive), and its own name where it has one; None for a record
        of its own."""
        if self.proto is None:
            return None
        return id(self.proto) if self.name is None else (id(self.proto), self.name)

    @property
    def time(self) -> datetime | None:
        """The stamp's time, as the full parser gives it."""
        if self.proto is None:
            return self.event().time
        whole = second_time(self.seconds)
        return whole.replace(microsecond=self.millis * 1000) if self.millis else whole

    def time_fields(self) -> tuple[str, float]:
        """The `time` and `epoch` of a copy's JSON form (`model.event.time_fields` of its
        time)."""
        second = _SECOND_TEXTS.get(self.seconds)
        if second is None:
            if len(_SECOND_TEXTS) >= 4096:
                _SECOND_TEXTS.clear()
            second = second_time(self.seconds).strftime("%Y-%m-%dT%H:%M:%S.")
            _SECOND_TEXTS[self.seconds] = second
        return f"{second}{self.millis:03d}Z", (self.seconds * 1000 + self.millis) / 1000

    def event(self) -> Event:
        if self.first is not None:
            return self.first
        values = self.proto.copy()  # type: ignore[union-attr]
        values[_AT_TIME], values[_AT_SERIAL], values[_AT_PID] = self.time, self.serial, self.pid
        values[_AT_SOURCE] = self.source
        if self.name is not None:
            values[_AT_NAME] = self.name
        extra = values[_AT_EXTRA]
        values[_AT_EXTRA] = dict(extra) if extra else {}  # type: ignore[arg-type]
        return event_from_values(values)

    def shared_values(self, prepared: Event) -> list[object]:
        """The values the copies of this record's line share, of its attributed Event: no
        time, serial, pid or source, and the line's name where this copy has its own."""
        values = shared_values(prepared)
        if self.name is not None and self.proto is not None:
            values[_AT_NAME] = self.proto[_AT_NAME]
        return values

    def sharing(self, proto: list[object], first: Event | None) -> Record:
        """This copy with other shared values (its line's attributed result)."""
        return Record(
            proto, self.seconds, self.millis, self.serial, self.pid, self.source, self.name, first
        )


# The JSON texts of recent whole seconds (records come many to a second).
_SECOND_TEXTS: dict[int, str] = {}


def shared_values(event: Event) -> list[object]:
    """An Event's values as its copies share them: no time, serial, pid or source."""
    values = list(event_values(event))
    values[_AT_TIME] = values[_AT_SERIAL] = values[_AT_PID] = values[_AT_SOURCE] = None
    return values
