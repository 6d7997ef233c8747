"""The Event: one AppArmor audit record, decoded and typed."""

from __future__ import annotations

import dataclasses
import operator
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat

from aaprof.model.labels import STACK, stack_members

# Modes, as the kernel writes them in `apparmor="..."` (plus the legacy type numbers' meaning).
MODES = ("DENIED", "ALLOWED", "AUDIT", "STATUS", "HINT", "ERROR", "KILLED", "AUTO")

Scalar = str | int

# The labels whose stack members `to_dict` lists beside them, as `<key>_stack`.
STACKED_KEYS = ("profile", "peer")


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a record was read: a file (or `-`, or `journal:<path>`) and its 1-based line."""

    file: str
    line: int

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SourceRef:
        """The inverse of `to_dict`.

        Raises:
            ValueError: `file` is not a string or `line` not an integer.
        """
        file, line = data.get("file"), data.get("line")
        if not isinstance(file, str) or type(line) is not int:
            raise ValueError("source needs a string `file` and an integer `line`")
        return cls(file, line)


@dataclass(frozen=True, slots=True)
class Container:
    """The container a process ran in, as far as it can be known.

    Every part is optional: a cgroup path gives the id and runtime, a profile name that follows
    aaprof's naming scheme gives namespace/pod/name, a pod's status joins the two.
    """

    id: str | None = None
    runtime: str | None = None
    pod_uid: str | None = None
    pod: str | None = None
    namespace: str | None = None
    name: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {f.name: v for f in dataclasses.fields(self) if (v := getattr(self, f.name))}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Container:
        """The inverse of `to_dict` (unknown keys are ignored).

        Raises:
            ValueError: a part that is not a string.
        """
        parts: dict[str, str | None] = {}
        for f in dataclasses.fields(cls):
            value = data.get(f.name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"container {f.name} must be a string")
            parts[f.name] = value
        return cls(**parts)

    def merged(self, other: Container) -> Container:
        """This container's known parts, completed by `other`'s where this one has none."""
        return Container(
            *(
                getattr(self, f.name) or getattr(other, f.name)
                for f in dataclasses.fields(Container)
            )
        )


@dataclass(frozen=True, slots=True)
class Event:
    """One AppArmor record. Absent fields are None; `extra` keeps unknown and duplicate keys.

    String values are decoded from the kernel's hex form. Bytes that are not UTF-8 are kept
    losslessly as surrogate escapes (`str.encode("utf-8", "surrogateescape")` gives them back).
    """

    mode: str
    operation: str | None = None
    time: datetime | None = None
    serial: int | None = None
    node: str | None = None
    class_: str | None = None
    profile: str | None = None
    namespace: str | None = None
    name: str | None = None
    name2: str | None = None
    target: str | None = None
    requested: str | None = None
    denied: str | None = None
    pid: int | None = None
    comm: str | None = None
    fsuid: int | None = None
    ouid: int | None = None
    capability: int | None = None
    capname: str | None = None
    signal: str | None = None
    peer: str | None = None
    family: str | None = None
    sock_type: str | None = None
    protocol: Scalar | None = None
    addr: str | None = None
    peer_addr: str | None = None
    laddr: str | None = None
    lport: int | None = None
    faddr: str | None = None
    fport: int | None = None
    bus: str | None = None
    path: str | None = None
    interface: str | None = None
    member: str | None = None
    fstype: str | None = None
    srcname: str | None = None
    flags: str | None = None
    info: str | None = None
    error: int | None = None
    source: SourceRef | None = None
    container: Container | None = None
    extra: Mapping[str, Scalar] = field(default_factory=dict)

    @property
    def epoch(self) -> float | None:
        """Seconds since 1970 with millisecond precision, as in `audit(<epoch>:<serial>)`."""
        if self.time is None:
            return None
        millis = int(self.time.timestamp()) * 1000 + self.time.microsecond // 1000
        return millis / 1000

    def replace(self, **changes: object) -> Event:
        """This event with some fields changed (as `dataclasses.replace`, without its cost).

        Raises:
            TypeError: a name that is not a field.
        """
        values = list(event_values(self))
        for name, value in changes.items():
            at = _SLOT_AT.get(name)
            if at is None:
                raise TypeError(f"Event has no field {name!r}")
            values[at] = value
        return event_from_values(values)

    def to_dict(self) -> dict[str, object]:
        """The stable JSON form (docs/events.md): absent keys omitted.

        A string that is not valid UTF-8 is given with each bad byte as U+FFFD, and its exact
        bytes, hex-encoded, under `<key>_hex`.
        """
        out: dict[str, object] = {}
        time = self.time
        if time is not None:
            out["time"], out["epoch"] = time_fields(time)
        values = _JSON_VALUES(self)  # every attribute in one C call
        texts = [v for v in values if v.__class__ is str]
        if "".join(texts).isascii():  # ASCII is always valid UTF-8: nothing to check per value
            out.update({k: v for k, v in zip(_JSON_KEYS, values, strict=True) if v is not None})
        else:
            for key, value in zip(_JSON_KEYS, values, strict=True):
                if isinstance(value, str):
                    _put_text(out, key, value)
                elif value is not None:
                    out[key] = value
        # a stacked label's members, beside the label as written (model/labels.py)
        for key in STACKED_KEYS:
            label = out.get(key)
            if isinstance(label, str) and STACK in label:
                out[key + "_stack"] = list(stack_members(label))
        if self.source is not None:
            out["source"] = self.source.to_dict()
        if self.container is not None:
            out["container"] = self.container.to_dict()
        if self.extra:
            extra: dict[str, object] = {}
            for key, value in self.extra.items():
                if isinstance(value, str) and not value.isascii():
                    _put_text(extra, key, value)
                else:
                    extra[key] = value
            out["extra"] = extra
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Event:
        """The Event whose `to_dict()` is `data`: `Event.from_dict(e.to_dict()) == e`.

        Times are kept to the millisecond, as `to_dict` writes them (audit stamps have no
        more); a `<key>_hex` companion gives back the exact bytes of a name that is not UTF-8.
        `epoch` is read only when `time` is absent. Unknown keys are ignored.

        Raises:
            ValueError: `mode` is missing, or a value has the wrong type (the message names
                the key).
        """
        mode = data.get("mode")
        if not isinstance(mode, str) or not mode:
            raise ValueError("an event needs a string `mode`")
        fields: dict[str, object] = {"mode": mode, "time": _time_from(data)}
        for key, attr in JSON_FIELDS:
            if key == "mode" or key not in data:
                continue
            value = _text_from(data, key)
            kind = _FIELD_TYPES[attr]
            if value is not None and not _is(value, kind):
                raise ValueError(f"event key {key!r}: expected {kind}, got {value!r}")
            fields[attr] = value
        source, container, extra = data.get("source"), data.get("container"), data.get("extra")
        if source is not None:
            if not isinstance(source, Mapping):
                raise ValueError("event key 'source' must be a mapping")
            fields["source"] = SourceRef.from_dict(source)
        if container is not None:
            if not isinstance(container, Mapping):
                raise ValueError("event key 'container' must be a mapping")
            fields["container"] = Container.from_dict(container)
        if extra is not None:
            if not isinstance(extra, Mapping):
                raise ValueError("event key 'extra' must be a mapping")
            fields["extra"] = _extra_from(extra)
        return cls(**fields)  # type: ignore[arg-type]


# `time` and `epoch` of recent times: records come in bursts, many to one stamp.
_TIME_FIELDS: dict[datetime, tuple[str, float]] = {}
# The text of recent whole seconds: records come in bursts within one second.
_SECOND_TEXT: dict[tuple[int, int, int, int, int, int], str] = {}


def time_fields(time: datetime) -> tuple[str, float]:
    """The `time` and `epoch` of an event's JSON form for its time."""
    known = _TIME_FIELDS.get(time) if time.tzinfo is UTC else None
    if known is None:
        if len(_TIME_FIELDS) >= 4096:
            _TIME_FIELDS.clear()
        millis = int(time.timestamp()) * 1000 + time.microsecond // 1000
        known = (_time_text(time), millis / 1000)
        if time.tzinfo is UTC:  # (equal times in other zones print other digits)
            _TIME_FIELDS[time] = known
    return known


def _time_text(time: datetime) -> str:
    """`2024-11-23T00:00:00.123Z`, as strftime would give it, the seconds' part cached."""
    key = (time.year, time.month, time.day, time.hour, time.minute, time.second)
    text = _SECOND_TEXT.get(key)
    if text is None:
        if len(_SECOND_TEXT) >= 4096:
            _SECOND_TEXT.clear()
        text = _SECOND_TEXT[key] = time.strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{text}{time.microsecond // 1000:03d}Z"


def _put_text(out: dict[str, object], key: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogateescape")
        out[key] = raw.decode("utf-8", "replace")
        out[key + "_hex"] = raw.hex().upper()
    else:
        out[key] = value


def _hex_companion(data: Mapping[str, object], key: str) -> str | None:
    """The exact value `_put_text` hid under `<key>_hex`, or None when there is none."""
    raw = data.get(key + "_hex")
    if not isinstance(raw, str) or not isinstance(data.get(key), str):
        return None
    try:
        value = bytes.fromhex(raw)
        value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("utf-8", "surrogateescape")
    except ValueError:
        return None
    return None  # valid UTF-8: `_put_text` never writes such a companion; a key of its own


def _text_from(data: Mapping[str, object], key: str) -> object:
    exact = _hex_companion(data, key)
    return data.get(key) if exact is None else exact


def _extra_from(extra: Mapping[str, object]) -> dict[str, Scalar]:
    out: dict[str, Scalar] = {}
    companions = {k + "_hex" for k in extra if _hex_companion(extra, k) is not None}
    for key in extra:
        if key in companions:
            continue
        exact = _text_from(extra, key)
        if not isinstance(exact, str | int) or isinstance(exact, bool):
            raise ValueError(f"event extra {key!r}: expected a string or an integer")
        out[key] = exact
    return out


def _time_from(data: Mapping[str, object]) -> datetime | None:
    text, epoch = data.get("time"), data.get("epoch")
    if isinstance(text, str):
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    if isinstance(epoch, int | float) and not isinstance(epoch, bool):
        return datetime.fromtimestamp(epoch, tz=UTC)
    if text is not None or epoch is not None:
        raise ValueError("event key 'time' must be an ISO 8601 string")
    return None


def _is(value: object, kind: str) -> bool:
    if isinstance(value, bool):
        return False
    if kind == "int":
        return isinstance(value, int)
    if kind == "str":
        return isinstance(value, str)
    return isinstance(value, str | int)


# JSON key -> Event attribute, in the documented order (time and epoch come first).
JSON_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (name, name if name != "class" else "class_")
    for name in (
        *("serial", "node", "mode", "operation", "class", "profile", "namespace", "name"),
        *("name2", "target", "requested", "denied", "pid", "comm", "fsuid", "ouid"),
        *("capability", "capname", "signal", "peer", "family", "sock_type", "protocol"),
        *("addr", "peer_addr", "laddr", "lport", "faddr", "fport", "bus", "path"),
        *("interface", "member", "fstype", "srcname", "flags", "info", "error"),
    )
)
_JSON_KEYS: tuple[str, ...] = tuple(key for key, _ in JSON_FIELDS)
_JSON_VALUES: Callable[[Event], tuple[object, ...]] = operator.attrgetter(
    *(attr for _, attr in JSON_FIELDS)
)


def epoch_to_time(seconds: int, millis: int = 0) -> datetime:
    """The UTC time of an audit stamp's `<seconds>.<millis>` (exact: no float in between)."""
    whole = datetime.fromtimestamp(seconds, tz=UTC)
    return whole + timedelta(milliseconds=millis) if millis else whole


# The type of each JSON_FIELDS attribute, for `Event.from_dict`'s checks.
_FIELD_TYPES: dict[str, str] = {
    f.name: "int" if f.type == "int | None" else "scalar" if f.type == "Scalar | None" else "str"
    for f in dataclasses.fields(Event)
}


# Event's attributes in slot order, and one setter per slot: `Event.from_values` fills a new
# Event through them in one C-level loop (the generated `__init__` of a frozen dataclass calls
# `object.__setattr__` per field, which made building an Event most of a cached parse's cost).
EVENT_SLOTS: tuple[str, ...] = Event.__slots__
_SLOT_SETTERS: tuple[Callable[[Event, object], None], ...] = tuple(
    getattr(Event, name).__set__ for name in EVENT_SLOTS
)
event_values: Callable[[Event], tuple[object, ...]] = operator.attrgetter(*EVENT_SLOTS)
_SLOT_AT: dict[str, int] = {name: at for at, name in enumerate(EVENT_SLOTS)}


# Each field's default (an Event's `extra` is its own dict: given to each by whoever makes it)
_DEFAULTS: tuple[object, ...] = tuple(
    None if f.default is dataclasses.MISSING else f.default
    for f in sorted(dataclasses.fields(Event), key=lambda f: _SLOT_AT[f.name])
)
_AT_MODE, _AT_EXTRA = _SLOT_AT["mode"], _SLOT_AT["extra"]


def values_of_fields(mode: str, fields: Mapping[str, object], extra: object) -> list[object]:
    """`list(event_values(Event(mode=mode, extra=extra, **fields)))`, without making the Event
    (its `__init__` sets the 43 fields one by one).

    Raises:
        TypeError: a name in `fields` that is not a field (or is `mode` or `extra`).
    """
    values = list(_DEFAULTS)
    values[_AT_MODE], values[_AT_EXTRA] = mode, extra
    for name, value in fields.items():
        at = _SLOT_AT.get(name, _AT_MODE)
        if at in (_AT_MODE, _AT_EXTRA):
            raise TypeError(f"Event has no settable field {name!r} here")
        values[at] = value
    return values


def event_from_values(values: Sequence[object]) -> Event:
    """The Event whose attributes, in `EVENT_SLOTS` order, are `values`.

    For values taken from another Event (`event_values`) with some replaced by values of the
    same types: nothing is checked or converted. `event_from_values(event_values(e)) == e`.
    """
    event: Event = object.__new__(Event)
    deque(map(operator.call, _SLOT_SETTERS, repeat(event), values), 0)
    return event
