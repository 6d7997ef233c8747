"""Audit lines as the kernel and auditd write them, for the watch tests and benchmark."""

from __future__ import annotations

SEC = 1700000000


def audit_line(
    serial: int,
    *,
    profile: str = "aaprof.web.shop-7d9f8c6b5d-x2x4z.nginx",
    name: str = "/etc/shadow",
    pid: int = 4242,
    comm: str = "nginx",
    stamp: float | None = None,
) -> bytes:
    """One auditd line (`type=AVC msg=audit(...)`) of a file denial; `serial` is its identity."""
    if stamp is None:
        sec, ms = SEC + serial // 1000, serial % 1000
    else:
        sec, ms = int(stamp), int((stamp % 1) * 1000)
    return (
        f'type=AVC msg=audit({sec}.{ms:03d}:{serial}): apparmor="DENIED" operation="open" '
        f'class="file" profile="{profile}" name="{name}" pid={pid} comm="{comm}" '
        f'requested_mask="r" denied_mask="r" fsuid=0 ouid=0\n'
    ).encode()


def hex_value(raw: bytes) -> str:
    """A value as the kernel logs one with special characters: upper-case hex, unquoted."""
    return raw.hex().upper()


def hostile_line(serial: int, profile: bytes, name: bytes, comm: bytes) -> bytes:
    return (
        f"type=AVC msg=audit({SEC}.{serial % 1000:03d}:{serial}): "
        f'apparmor="DENIED" operation="open" class="file" profile={hex_value(profile)} '
        f"name={hex_value(name)} pid=77 comm={hex_value(comm)} "
        f'requested_mask="r" denied_mask="r" fsuid=0 ouid=0\n'
    ).encode()
