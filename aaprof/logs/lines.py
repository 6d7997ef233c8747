"""Line formats: find the AppArmor record in one log line, whatever wrote the line.

Detected per line, so mixed files work: auditd (`type=AVC msg=audit(...)`, `node=` prefix,
0x1D-separated enriched tail), kmsg/dmesg, syslog (RFC 3164, RFC 5424 / ISO timestamps),
journalctl text (`audit[pid]: AVC ...`), journald JSON (`journalctl -o json`) and bare records.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from aaprof.logs.record import LEGACY_TYPES, parse_payload
from aaprof.model.event import Event, SourceRef, epoch_to_time

# `type=AVC msg=audit(1.2:3): ` / `type=1400 audit(1.2:3): ` / `audit(1.2:3): `
_STAMP: Final = re.compile(
    r"(?:type=(?:UNKNOWN\[)?(\w+)\]? +)?(?:msg=)?audit\((\d{1,11})\.(\d+):(\d+)\): ?"
    r"(?:type=(\d+) +)?"
)
_NODE: Final = re.compile(r"^node=(\S+) ")
_MONTHS: Final = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
# A syslog prefix: optional <PRI>, a timestamp, then the host, then a tag ending in ':'.
_RFC3164: Final = re.compile(
    r"^(?:<\d+>)?([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.\d+)? (\S+) \S*:"
)
_ISO: Final = re.compile(
    r"^(?:<\d+>1 )?(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?"
    r" (\S+) \S*:?"
)
# journalctl -o short-monotonic (`[ 1234.567890] host tag:`): a host, no wall-clock time.
_MONOTONIC: Final = re.compile(r"^\[ *\d+\.\d+\] ([^\s:\[]+) [\w./@-]+(?:\[\d+\])?:")
# journalctl -o short-unix (`1732400000.123456 host tag:`).
_UNIX_PREFIX: Final = re.compile(r"^(\d{9,11})(?:\.(\d+))? ([^\s:\[]+) [\w./@-]+(?:\[\d+\])?:")
# syslog-ng and others: `Nov 23 2024 00:00:00 host tag:` (a year after the day).
_RFC3164_YEAR: Final = re.compile(
    r"^(?:<\d+>)?([A-Z][a-z]{2}) +(\d{1,2}) (\d{4}) (\d\d):(\d\d):(\d\d)(?:\.\d+)? (\S+) \S*:"
)
_LEGACY_FREE_TEXT: Final = re.compile(r"type=APPARMOR\b(?!_)")


@dataclass(frozen=True, slots=True)
class Unparsed:
    """A line that holds an AppArmor record aaprof could not read, and why."""

    reason: str


ParseResult = Event | Unparsed | None


def is_apparmor(text: str) -> bool:
    """Whether a line claims to carry an AppArmor record (cheap; the hot path's filter)."""
    return (
        "apparmor=" in text
        or "type=APPARMOR" in text
        or "type=150" in text
        or "UNKNOWN[150" in text
    )


def parse_line(
    line: bytes | str,
    source: SourceRef | None = None,
    *,
    node: str | None = None,
    year: int | None = None,
) -> ParseResult:
    """The AppArmor record in one log line.

    Args:
        line: the line, as read (bytes are decoded as UTF-8, other bytes kept losslessly).
        source: file and line number to attach to the event.
        node: the host to attribute the record to when the line does not name one.
        year: the year of RFC 3164 timestamps (they have none); default: this year.

    Returns:
        An Event; Unparsed when the line claims an AppArmor record that cannot be read;
        None when the line is not an AppArmor record at all. Never raises.
    """
    text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
    text = text.rstrip("\r\n")
    if text[:1] == "\x00":
        text = text.lstrip("\x00")  # what an unclean shutdown leaves before the next line
    try:
        if text[:1] == "{" or (text[:1].isspace() and text.lstrip()[:1] == "{"):
            return _parse_journal_json(text, source, node)
        if not is_apparmor(text):
            return None
        return _parse_text(text, source, node, year)
    except (ValueError, OverflowError, OSError, RecursionError) as exc:
        return Unparsed(f"unreadable value ({type(exc).__name__})")


def _find_stamp(text: str) -> re.Match[str] | None:
    """The record's `audit(...)` stamp: before its `apparmor=`, never inside a value (a process
    can name a file `audit(1.2:3):apparmor=ALLOWED`, which the kernel prints quoted)."""
    start = text.find("apparmor=")
    return _STAMP.search(text, 0, start if start >= 0 else len(text))


def _parse_text(
    text: str, source: SourceRef | None, node: str | None, year: int | None
) -> ParseResult:
    stamp = _find_stamp(text)
    if stamp is None:
        start = text.find("apparmor=")
        if "audit(" in (text[:start] if start >= 0 else text):
            return Unparsed("malformed audit(...) stamp")
        if start < 0:
            return Unparsed("legacy AppArmor record without audit stamp")
        prefix, payload = text[:start], text[start:]
        time, serial, legacy = None, None, None
    else:
        prefix, payload = text[: stamp.start()], text[stamp.end() :]
        legacy = stamp.group(5) or stamp.group(1)
        time = stamp_time(stamp.group(2), stamp.group(3))
        serial = int(stamp.group(4))
        if legacy is not None and _LEGACY_FREE_TEXT.match(text, stamp.start()):
            return Unparsed("free-text AppArmor 2.0 record (type=APPARMOR)")
    host, prefix_time = _prefix_facts(prefix, year) if prefix else (None, None)
    node_match = _NODE.match(text) if text[:5] == "node=" else None
    node = node_match.group(1) if node_match else host or node
    return _payload_event(payload, legacy, time or prefix_time, serial, node, source)


# The host of an RFC 3164 head (`_RFC3164`, as bytes: the common syslog line, not decoded).
_RFC3164_HOST: Final = re.compile(
    rb"(?:<\d+>)?[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)? (\S+) \S*:"
)


def line_node(line: bytes, start: int = 0, end: int | None = None) -> str | None:
    """The node a line names before its record (`line[start:end]`: the line up to its
    `apparmor=`), as `parse_line` finds it: auditd's `node=`, a syslog or journalctl host;
    None if none."""
    end = len(line) if end is None else end
    if line.startswith(b"type=", start, end):
        return None  # auditd's line without `node=`: what precedes its stamp names no host
    fast = _RFC3164_HOST.match(line, start, end)
    if fast is not None and fast.end() <= line.find(b"audit(", start, end):  # (tag, then stamp)
        return fast.group(1).decode("utf-8", "surrogateescape")
    text = line[start:end].decode("utf-8", "surrogateescape").lstrip("\x00")
    if text[:5] == "node=":
        named = _NODE.match(text)
        return named.group(1) if named else None
    stamp = _STAMP.search(text)
    prefix = text[: stamp.start()] if stamp is not None else text
    return _prefix_facts(prefix, 2000)[0] if prefix else None  # (any year: the host alone)


def _payload_event(
    payload: str,
    legacy: str | None,
    time: datetime | None,
    serial: int | None,
    node: str | None,
    source: SourceRef | None,
) -> ParseResult:
    # dbus-daemon's record is the inside of its msg='...'; a USER_AVC line without one is read
    # by its own keys, as an AVC line is
    inner = -1
    if legacy in {"USER_AVC", "1107"} or payload.startswith("USER_AVC "):
        inner = payload.find("msg='")
    user_avc = inner >= 0
    if user_avc:
        payload = payload[inner + 5 :].rstrip("'")
    elif payload.startswith("AVC "):
        payload = payload[4:]
    elif 'operation="dbus' in payload:
        user_avc = True
    if legacy is not None and legacy not in LEGACY_TYPES:
        legacy = None
    event = parse_payload(
        payload,
        legacy_type=legacy,
        user_avc=user_avc,
        time=time,
        serial=serial,
        node=node,
        source=source,
    )
    if event is None:
        return Unparsed("record without apparmor= mode")
    return event


_STAMP_TIMES: dict[int, datetime] = {}


def second_time(seconds: int) -> datetime:
    """The UTC time of a whole second since 1970 (cached: records come many to a second)."""
    whole = _STAMP_TIMES.get(seconds)
    if whole is None:
        if len(_STAMP_TIMES) >= 4096:
            _STAMP_TIMES.clear()
        whole = _STAMP_TIMES[seconds] = epoch_to_time(seconds)
    return whole


def stamp_time(seconds: str, fraction: str) -> datetime:
    """The time of a stamp's `<seconds>.<fraction>` (to the millisecond, as the kernel writes
    it); the whole second's time is converted once (records come many per second)."""
    whole = second_time(int(seconds))
    millis = fraction[:3]
    if millis == "000" or not millis.strip("0"):
        return whole
    return whole.replace(microsecond=int(millis.ljust(3, "0")) * 1000)


def syslog_date_ok(prefix: str) -> bool:
    """Whether a syslog prefix (RFC 3164) has a date `parse_line` reads a time from (one no
    calendar holds gives none: the record keeps its stamp's time, if it has one)."""
    return _RFC3164.match(prefix) is not None and _prefix_facts(prefix, None)[1] is not None


def _prefix_facts(prefix: str, year: int | None) -> tuple[str | None, datetime | None]:
    """The host and time a syslog-style prefix names, where it names them."""
    if not prefix:
        return None, None
    # (a date no calendar holds, `Feb 30`, `25:00:00`, `Feb 29` of a common year, names no
    # time, but the host stands: the record keeps its audit stamp's time)
    m = _RFC3164.match(prefix)
    if m:
        month = _MONTHS.get(m.group(1))
        if month is None:
            return m.group(6), None
        numbers = (int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)))
        return m.group(6), _date(year or datetime.now(UTC).year, month, *numbers)
    m = _RFC3164_YEAR.match(prefix)
    if m:
        month = _MONTHS.get(m.group(1))
        if month is None:
            return m.group(7), None
        numbers = (int(m.group(2)), int(m.group(4)), int(m.group(5)), int(m.group(6)))
        return m.group(7), _date(int(m.group(3)), month, *numbers)
    m = _UNIX_PREFIX.match(prefix)
    if m:
        fraction = (m.group(2) or "")[:3].ljust(3, "0")
        return m.group(3), epoch_to_time(int(m.group(1)), int(fraction))
    m = _MONOTONIC.match(prefix)
    if m:
        return m.group(1), None
    m = _ISO.match(prefix)
    if m:
        stamp = f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}:{m.group(5)}:{m.group(6)}"
        stamp += (m.group(7) or "")[:7] + (m.group(8) or "+00:00").replace("Z", "+00:00")
        try:
            return m.group(9), datetime.fromisoformat(stamp).astimezone(UTC)
        except (ValueError, OverflowError):
            return m.group(9), None
    return None, None


def _date(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime | None:
    """The UTC time of a syslog date, or None where the calendar holds no such date."""
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def _parse_journal_json(text: str, source: SourceRef | None, node: str | None) -> ParseResult:
    try:
        entry = json.loads(text)
    except ValueError:
        return Unparsed("invalid JSON") if is_apparmor(text) else None
    if not isinstance(entry, dict):
        return None
    return parse_journal_entry(entry, source, node)


def _field(entry: dict[str, object], key: str) -> str | None:
    value = entry.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value).decode("utf-8", "surrogateescape")
    return None


def parse_journal_entry(
    entry: dict[str, object], source: SourceRef | None = None, node: str | None = None
) -> ParseResult:
    """The AppArmor record in one journal entry (`journalctl -o json`, or systemd's Reader).

    Handles the audit transport (`AVC apparmor=...`), the kernel transport (`audit: type=1400
    audit(...): ...`), D-Bus daemons logging through syslog, and dbus-broker's structured fields.
    """
    node = _field(entry, "_HOSTNAME") or node
    # journald puts the audit stamp in _SOURCE_REALTIME_TIMESTAMP; __REALTIME_TIMESTAMP is when
    # it received the record, often a millisecond or more later than the kernel's copy's stamp.
    realtime = _field(entry, "_SOURCE_REALTIME_TIMESTAMP") or _field(entry, "__REALTIME_TIMESTAMP")
    when = (
        datetime.fromtimestamp(int(realtime) / 1_000_000, tz=UTC)
        if realtime and realtime.isdigit()
        else None
    )
    if _field(entry, "DBUS_BROKER_POLICY_TYPE") == "apparmor":
        return _dbus_broker_event(entry, when, node, source)
    message = _field(entry, "MESSAGE")
    if message is None or not is_apparmor(message):
        return None
    if _find_stamp(message) is not None:
        return _parse_text(message, source, node, None)
    audit_id = _field(entry, "_AUDIT_ID")
    serial = int(audit_id) if audit_id and audit_id.isdigit() else None
    audit_type = _field(entry, "_AUDIT_TYPE")
    return _payload_event(message, audit_type, when, serial, node, source)


def _label(value: str | None) -> str | None:
    """A label as dbus-broker prints it, `name (mode)`, without the mode."""
    if value is None:
        return None
    return re.sub(r" \((?:enforce|complain|kill|unconfined|prompt)\)$", "", value)


def _dbus_broker_event(
    entry: dict[str, object], when: datetime | None, node: str | None, source: SourceRef | None
) -> Event:
    kind = _field(entry, "DBUS_BROKER_MESSAGE_TYPE") or "method_call"
    action = _field(entry, "DBUS_BROKER_TRANSMIT_ACTION")
    return Event(
        mode="DENIED",
        operation=f"dbus_{kind}",
        class_="dbus",
        time=when,
        node=node,
        profile=_label(_field(entry, "DBUS_BROKER_SENDER_SECURITY_LABEL")),
        peer=_label(_field(entry, "DBUS_BROKER_RECEIVER_SECURITY_LABEL")),
        name=_field(entry, "DBUS_BROKER_MESSAGE_DESTINATION"),
        path=_field(entry, "DBUS_BROKER_MESSAGE_PATH"),
        interface=_field(entry, "DBUS_BROKER_MESSAGE_INTERFACE"),
        member=_field(entry, "DBUS_BROKER_MESSAGE_MEMBER"),
        requested=action,
        denied=action,
        info=_field(entry, "MESSAGE"),
        source=source,
    )


Identity = tuple[bytes, bytes]


def record_identity(line: bytes) -> Identity | None:
    """What two copies of one record share: its audit stamp and its payload.

    The kernel's copy (kmsg, kern.log, journald's kernel transport) and the audit copy
    (audit.log, journald's audit transport) print the same `sec.ms:serial` and the same
    `apparmor=...` text. Lines without a stamp give None: they cannot be matched safely.
    """
    if line[:1] == b"{":
        try:
            entry = json.loads(line)
        except ValueError:
            return None
        return entry_identity(entry) if isinstance(entry, dict) else None
    at = line.find(b"audit(")
    if at < 0:
        return None
    close = line.find(b"): ", at)
    if close < 0:
        return None
    return line[at + 6 : close], identity_payload(line[close + 3 :])


def identity_payload(payload: bytes) -> bytes:
    """The part of a record's payload that its copies share: from `apparmor=` to the end."""
    start = payload.find(b"apparmor=")
    payload = payload[start:] if start >= 0 else payload
    return payload.split(b"\x1d", 1)[0].rstrip(b"' \t\r\n")


def entry_identity(entry: dict[str, object]) -> Identity | None:
    """record_identity for a journal entry (either transport)."""
    message = _field(entry, "MESSAGE")
    if message is None:
        return None
    raw = message.encode("utf-8", "surrogateescape")
    if b"audit(" in raw:
        return record_identity(raw)
    realtime = _field(entry, "_SOURCE_REALTIME_TIMESTAMP") or _field(entry, "__REALTIME_TIMESTAMP")
    serial = _field(entry, "_AUDIT_ID")
    if not (realtime and realtime.isdigit() and serial and serial.isdigit()):
        return None
    millis = int(realtime) // 1000
    return f"{millis // 1000}.{millis % 1000:03d}:{serial}".encode(), identity_payload(raw)
