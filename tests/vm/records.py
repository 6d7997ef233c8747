"""An independent, deliberately small reader of kernel AppArmor records: the tests' oracle.

It knows only what the ground truth needs: the key=value pairs after `apparmor=`, with quoted
values unquoted and the kernel's hex encoding (audit_log_untrustedstring) undone for string keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_PAIR = re.compile(rb'([a-z_]+)=("[^"]*"|\S+)')
_HEX = re.compile(rb"^(?:[0-9A-F]{2})+$")
_STRINGS = {b"profile", b"name", b"name2", b"comm", b"target", b"peer", b"fstype", b"srcname"}
Record = dict[str, bytes]


def parse(line: bytes) -> Record | None:
    """The record's fields (values as raw bytes), or None if `line` is not an AppArmor record."""
    start = line.find(b'apparmor="')
    if start < 0:
        return None
    fields: Record = {}
    serial = re.search(rb"audit\(\d+\.\d+:(\d+)\)", line)
    if serial:
        fields["serial"] = serial.group(1)
    for key, raw in _PAIR.findall(line[start:].split(b"\x1d")[0]):
        fields.setdefault(key.decode(), _decode(key, raw))
    return fields


def _decode(key: bytes, raw: bytes) -> bytes:
    if raw.startswith(b'"'):
        return raw[1:-1]
    if key in _STRINGS and _HEX.match(raw):
        return bytes.fromhex(raw.decode())
    return raw


def records(lines: list[bytes]) -> list[Record]:
    """Every AppArmor record among `lines`."""
    return [r for line in lines if (r := parse(line)) is not None]


def matches(record: Record, want: Mapping[str, str | bytes]) -> bool:
    """Whether every field in `want` has that value in `record`."""
    for key, value in want.items():
        raw = value.encode() if isinstance(value, str) else value
        if record.get(key) != raw:
            return False
    return True
