"""The Event: one AppArmor audit record, decoded and typed."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Modes, as the kernel writes them in `apparmor="..."` (plus the legacy type numbers' meaning).
MODES = ("DENIED", "ALLOWED", "AUDIT", "STATUS", "HINT", "ERROR", "KILLED", "AUTO")

Scalar = str | int


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a record was read: a file (or `-`, or `journal:<path>`) and its 1-based line."""

    file: str
    line: int

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line}


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
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        """The stable JSON form (docs/events.md): absent keys omitted.

        A string that is not valid UTF-8 is given with each bad byte as U+FFFD, and its exact
        bytes, hex-encoded, under `<key>_hex`.
        """
        out: dict[str, object] = {}
        time = self.time
        if time is not None:
            known = _TIME_FIELDS.get(time) if time.tzinfo is UTC else None
            if known is None:
                if len(_TIME_FIELDS) >= 4096:
                    _TIME_FIELDS.clear()
                known = (_time_text(time), self.epoch)
                if time.tzinfo is UTC:  # (equal times in other zones print other digits)
                    _TIME_FIELDS[time] = known
            out["time"], out["epoch"] = known
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


# `time` and `epoch` of recent times: records come in bursts, many to one stamp.
_TIME_FIELDS: dict[datetime, tuple[str, float | None]] = {}
# The text of recent whole seconds: records come in bursts within one second.
_SECOND_TEXT: dict[tuple[int, int, int, int, int, int], str] = {}


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
    """The UTC time of an audit stamp's `<seconds>.<millis>`."""
    return datetime.fromtimestamp(seconds + millis / 1000, tz=UTC)
