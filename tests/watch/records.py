"""Audit lines as the kernel and auditd write them, for the watch tests and benchmark."""

from __future__ import annotations

import subprocess
from pathlib import Path

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


JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"


def kernel_entry(serial: int, boot: str = "0123456789abcdef0123456789abcdef") -> dict[str, str]:
    """A journal entry of the kernel transport, as journald writes an AppArmor record."""
    usec = SEC * 1_000_000 + serial * 1000
    return {
        "__REALTIME_TIMESTAMP": str(usec + 500),
        "__MONOTONIC_TIMESTAMP": str(1_000_000 + serial * 1000),
        "_BOOT_ID": boot,
        "_HOSTNAME": "node-a",
        "_TRANSPORT": "kernel",
        "SYSLOG_IDENTIFIER": "kernel",
        "PRIORITY": "5",
        "MESSAGE": audit_line(serial).decode().replace("type=AVC msg=", "audit: type=1400 ")[:-1],
    }


def journal_export(entries: list[dict[str, str]]) -> bytes:
    """Journal export format (values here have no newline)."""
    out = bytearray()
    for entry in entries:
        for key, value in entry.items():
            out += f"{key}={value}\n".encode()
        out += b"\n"
    return bytes(out)


def audit_entry(serial: int, boot: str = "0123456789abcdef0123456789abcdef") -> dict[str, str]:
    """The audit transport's copy of kernel_entry(serial): no stamp in MESSAGE, same record."""
    usec = SEC * 1_000_000 + serial * 1000
    payload = audit_line(serial).decode().split("): ", 1)[1].rstrip("\n")
    return {
        "__REALTIME_TIMESTAMP": str(usec + 300),
        "__MONOTONIC_TIMESTAMP": str(1_000_000 + serial * 1000 - 1),
        "_SOURCE_REALTIME_TIMESTAMP": str(usec),
        "_BOOT_ID": boot,
        "_HOSTNAME": "node-a",
        "_TRANSPORT": "audit",
        "SYSLOG_IDENTIFIER": "audit",
        "_AUDIT_TYPE": "1400",
        "_AUDIT_ID": str(serial),
        "MESSAGE": f"AVC {payload}",
    }


def write_journal(path: Path, serials: range) -> None:
    """A journal file of kernel_entry(s) for the serials, written by systemd-journal-remote."""
    if not Path(JOURNAL_REMOTE).exists():
        raise AssertionError(
            f"{JOURNAL_REMOTE} is missing: apt-get install systemd-journal-remote "
            "(./dev.sh test installs it)"
        )
    subprocess.run(
        [JOURNAL_REMOTE, f"--output={path}", "-"],
        input=journal_export([kernel_entry(s) for s in serials]),
        check=True,
        capture_output=True,
        timeout=120,
    )
