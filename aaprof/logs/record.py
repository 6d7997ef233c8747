"""The AppArmor record parser: the `key=value` payload of one record into an Event.

Hand-written for speed (one regex pass for the tokens, a table for the keys); it accepts keys in
any order, keeps duplicates and unknown keys in `extra`, and never raises on odd input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Final

from aaprof.model.event import (
    EVENT_SLOTS,
    Event,
    Scalar,
    SourceRef,
    event_from_values,
    values_of_fields,
)

# A key, then `=`, then a double-quoted value (possibly unterminated at the end of the line),
# a single-quoted value (auditd's `msg='...'`), or a bare token. A key may follow a closing quote
# with no space between (the kernel's `signal=unknown(N)` bug).
_TOKEN: Final = re.compile(
    r"""(?:(?<=[\s"'])|^)([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"?|'[^']*'?|[^\s]*)"""
)
_HEX: Final = re.compile(r"(?:[0-9A-F]{2})+")

# Keys whose values the kernel writes with audit_log_untrustedstring(): quoted, or bare hex.
_UNTRUSTED: Final = frozenset(
    {
        "name",
        "name2",
        "profile",
        "label",
        "comm",
        "target",
        "peer",
        "peer_profile",
        "peer_label",
        "namespace",
        "fstype",
        "srcname",
        "addr",
        "peer_addr",
        "execpath",
        "exe",
        "tcontext",
        "srcpath",
        "path",
        "ns",
    }
)

_INT_FIELDS: Final = frozenset({"pid", "fsuid", "ouid", "capability", "lport", "fport"})

# Record key -> Event field, for keys whose value needs no more than decoding.
_FIELD_OF_KEY: Final = {
    "operation": "operation",
    "class": "class_",
    "namespace": "namespace",
    "profile": "profile",
    "name": "name",
    "name2": "name2",
    "target": "target",
    "requested_mask": "requested",
    "requested": "requested",
    "denied_mask": "denied",
    "denied": "denied",
    "comm": "comm",
    "capname": "capname",
    "signal": "signal",
    "peer": "peer",
    "family": "family",
    "sock_type": "sock_type",
    "addr": "addr",
    "peer_addr": "peer_addr",
    "laddr": "laddr",
    "faddr": "faddr",
    "bus": "bus",
    "path": "path",
    "interface": "interface",
    "member": "member",
    "fstype": "fstype",
    "srcname": "srcname",
    "flags": "flags",
    "info": "info",
    "pid": "pid",
    "fsuid": "fsuid",
    "ouid": "ouid",
    "capability": "capability",
    "lport": "lport",
    "fport": "fport",
}

# Keys that fill a field only when its own key is absent (e.g. `label=` for compound labels).
_FALLBACK_OF_KEY: Final = {
    "label": "profile",
    "peer_label": "peer",
    "peer_profile": "peer",
    "mask": "requested",
    "method": "member",
    "tcontext": "peer",
    "saddr": "laddr",
    "src": "lport",
    "daddr": "faddr",
    "dest": "fport",
    "ns": "namespace",
}

# In a USER_AVC record these keys are auditd's, about the D-Bus daemon, not the subject.
_USER_AVC_OUTER: Final = frozenset({"exe", "sauid", "hostname", "addr", "terminal", "uid", "auid"})

# The legacy AppArmor audit types, by number and by name, and the mode each means.
LEGACY_TYPES: Final = {
    "1501": "AUDIT",
    "1502": "ALLOWED",
    "1503": "DENIED",
    "1504": "HINT",
    "1505": "STATUS",
    "1506": "ERROR",
    "APPARMOR_AUDIT": "AUDIT",
    "APPARMOR_ALLOWED": "ALLOWED",
    "APPARMOR_DENIED": "DENIED",
    "APPARMOR_HINT": "HINT",
    "APPARMOR_STATUS": "STATUS",
    "APPARMOR_ERROR": "ERROR",
}

# The class of a record that carries no `class=` (older kernels), by operation.
_CLASS_OF_OPERATION: Final = {
    "capable": "cap",
    "signal": "signal",
    "ptrace": "ptrace",
    "mount": "mount",
    "remount": "mount",
    "umount": "mount",
    "pivotroot": "mount",
    "change_profile": "domain",
    "change_onexec": "domain",
    "change_hat": "domain",
    "userns_create": "namespace",
    "uring_sqpoll": "io_uring",
    "uring_override": "io_uring",
    "profile_load": "policy",
    "profile_replace": "policy",
    "profile_remove": "policy",
}


def decode_value(key: str, raw: str) -> str:
    """The text of one raw value: unquoted, and hex-decoded where the kernel hex-encoded it.

    Bytes that are not UTF-8 come back as surrogate escapes, so nothing is lost.
    """
    if raw[:1] == '"':
        return raw[1:-1] if len(raw) > 1 and raw[-1] == '"' else raw[1:]
    if key in _UNTRUSTED and _HEX.fullmatch(raw):
        return bytes.fromhex(raw).decode("utf-8", "surrogateescape")
    return raw


def tokens(payload: str) -> list[tuple[str, str]]:
    """The raw `(key, value)` pairs of a payload, in order, duplicates included.

    auditd's ENRICHED tail starts at a 0x1D byte; pasted into an issue tracker it shows as `^]`
    or is lost (`ouid=0FSUID="otis"`). A bare value is cut where such an uppercase key follows.
    """
    pairs: list[tuple[str, str]] = _TOKEN.findall(payload.replace("\x1d", " "))
    if "^]" in payload or (
        "\x1d" not in payload and ("UID=" in payload or "GID=" in payload or "ARCH=" in payload)
    ):
        pairs = _split_lost_separators(pairs)
    return pairs


# Where a bare value runs into an uppercase key: after `^]`, or a digit or lowercase letter.
_LOST_SEPARATOR: Final = re.compile(r"\^\](?=[A-Z])|(?<=[0-9a-z)?])(?=[A-Z][A-Z0-9_]*=)")


def _split_lost_separators(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, raw in pairs:
        cut = None if raw[:1] in {'"', "'"} else _LOST_SEPARATOR.search(raw)
        if cut is None:
            out.append((key, raw))
            continue
        out.append((key, raw[: cut.start()]))
        out.extend(_split_lost_separators(_TOKEN.findall(raw[cut.end() :])))
    return out


def _to_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


# Operations that name their class on kernels that print no `class=`; the file_* operations
# on sockets are not here: their class depends on whether the record has a `family=`.
_FILE_OPERATIONS: Final = frozenset(
    (
        *("open", "mknod", "link", "symlink", "rename_src", "rename_dest", "unlink", "mkdir"),
        *("rmdir", "truncate", "chmod", "chown", "getattr", "setattr", "exec"),
    )
)
_NET_OPERATIONS: Final = frozenset(
    (
        *("create", "post_create", "bind", "connect", "listen", "accept", "sendmsg", "recvmsg"),
        *("getsockname", "getpeername", "getsockopt", "setsockopt", "socket_shutdown"),
    )
)


def class_of_operation(operation: str) -> str | None:
    """The class an operation implies on its own, or None when the record's fields decide
    (the file_* operations and the socket operations: a `sendmsg` with a file mask and no
    socket family is a file access)."""
    if operation in _CLASS_OF_OPERATION:
        return _CLASS_OF_OPERATION[operation]
    if operation.startswith("dbus"):
        return "dbus"
    if operation in _FILE_OPERATIONS:
        return "file"
    return None


def derive_class(fields: dict[str, object]) -> str | None:
    """The record's class when it has no `class=`: from its operation and fields."""
    operation = fields.get("operation")
    if not isinstance(operation, str):
        return None
    implied = class_of_operation(operation)
    if implied is not None:
        return implied
    if "family" in fields or "sock_type" in fields:
        return "net"
    if "requested" in fields or "denied" in fields or "name" in fields:
        return "file"  # (a sendmsg on a file: a mask, a name, no socket family)
    if operation in _NET_OPERATIONS:
        return "net"
    return None


class _Builder:
    """Collects the fields of one record; the first value of a key wins, later ones go to extra."""

    __slots__ = ("extra", "fields")

    def __init__(self) -> None:
        self.fields: dict[str, object] = {}
        self.extra: dict[str, Scalar] = {}

    def put_extra(self, key: str, value: Scalar) -> None:
        if key in self.extra:
            n = 2
            while f"{key}#{n}" in self.extra:
                n += 1
            key = f"{key}#{n}"
        self.extra[key] = value

    def add(self, key: str, raw: str, user_avc: bool) -> None:
        value = decode_value(key, raw)
        if user_avc and key in _USER_AVC_OUTER:
            self.put_extra(key, value)
            return
        name = _FIELD_OF_KEY.get(key)
        if name in _INT_FIELDS and not value.isdigit():
            name = None  # a number that is not one: keep it, but not as the typed field
        if name is None or name in self.fields:
            if name is None and key in _FALLBACK_OF_KEY:
                self.extra.setdefault(key, value)
            else:
                self.put_extra(key, value)
            return
        self.fields[name] = _typed(key, value)

    def finish_fallbacks(self) -> None:
        if not self.extra.keys().isdisjoint(_FALLBACK_OF_KEY):
            self._fallbacks()
        if str(self.fields.get("operation", "")).startswith("dbus") and "requested" in self.fields:
            # D-Bus daemons write one `mask=`: what was asked, and what was (or would be) denied.
            self.fields.setdefault("denied", self.fields["requested"])

    def _fallbacks(self) -> None:
        for key, name in _FALLBACK_OF_KEY.items():
            value = self.extra.get(key)
            if value is None or name in self.fields:
                continue
            if name in _INT_FIELDS and not str(value).isdigit():
                continue
            del self.extra[key]
            self.fields[name] = _typed(name, str(value))


def _typed(key: str, value: str) -> object:
    return int(value) if key in _INT_FIELDS else value


def _mode_of(builder: _Builder, legacy_type: str | None) -> str | None:
    mode = builder.extra.pop("apparmor", None)
    if mode is not None:
        return str(mode).upper()
    if legacy_type is not None:
        return LEGACY_TYPES.get(legacy_type)
    return None


# Field post-processing: protocol and error are ints when numeric (error keeps its sign).
_POST: Final[dict[str, Callable[[str], Scalar | None]]] = {
    "protocol": lambda v: _to_int(v) if v.isdigit() else v,
    "error": _to_int,
}


def parse_payload(
    payload: str,
    *,
    legacy_type: str | None = None,
    user_avc: bool = False,
    time: datetime | None = None,
    serial: int | None = None,
    node: str | None = None,
    source: SourceRef | None = None,
) -> Event | None:
    """The Event of one record's payload (the text after `audit(...):`), or None if it is none.

    Args:
        payload: the record's `key=value` text.
        legacy_type: the audit type (`1503`, `APPARMOR_DENIED`) that gives the mode of records
            written before the kernel added `apparmor=`.
        user_avc: the payload is the inside of a USER_AVC `msg='...'` (D-Bus mediation).
        time: when the record was written, from its audit stamp or the line's prefix.
        serial: the audit serial.
        node: the host the record comes from.
        source: file and line it was read from.

    Returns:
        The Event, or None when the payload carries no AppArmor mode.
    """
    parsed = _parse_fields(payload, legacy_type, user_avc)
    if parsed is None:
        return None
    mode, fields, extra = parsed
    # (by its values: the dataclass's __init__ sets the 43 fields one by one)
    values = values_of_fields(mode, fields, extra)
    values[_AT_TIME], values[_AT_SERIAL], values[_AT_NODE] = time, serial, node
    values[_AT_SOURCE] = source
    return event_from_values(values)


# (No cache of parsed payloads: a text input's repeats are the line memo's (logs/memo.py), and
# for lines read one at a time a cache of 2,048 payloads without their pid paid 1.08x on the
# realistic mix and cost 1.6x on the distinct one: docs/performance.md.)
_AT_TIME, _AT_SERIAL, _AT_NODE, _AT_SOURCE = (
    EVENT_SLOTS.index(name) for name in ("time", "serial", "node", "source")
)


def _parse_fields(
    payload: str, legacy_type: str | None, user_avc: bool
) -> tuple[str, dict[str, object], dict[str, Scalar]] | None:
    """(mode, Event fields, extra) of a payload, or None when it carries no AppArmor mode."""
    builder = _Builder()
    fields = builder.fields
    for key, raw in tokens(payload):
        name = _FIELD_OF_KEY.get(key)
        # The common case, inline for speed: a known key seen first, a quoted string or a
        # plain number. Anything else takes the general path below (Builder.add).
        if name is not None and name not in fields and not (user_avc and key in _USER_AVC_OUTER):
            if name in _INT_FIELDS:
                if raw.isdigit():
                    fields[name] = int(raw)
                    continue
            elif len(raw) > 1 and raw[0] == '"' and raw[-1] == '"':
                fields[name] = raw[1:-1]
                continue
        if key in _POST:
            if key in builder.fields:
                builder.put_extra(key, decode_value(key, raw))
            else:
                builder.fields[key] = _POST[key](decode_value(key, raw))
            continue
        builder.add(key, raw, user_avc)
    builder.finish_fallbacks()
    mode = _mode_of(builder, legacy_type)
    if not mode:
        return None
    if "class_" not in fields:
        derived = derive_class(fields)
        if derived is not None:
            fields["class_"] = derived
    if fields.get("error") is None:
        fields.pop("error", None)
    return mode, fields, builder.extra
