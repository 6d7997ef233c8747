"""Real journal files (made by systemd-journal-remote from export format) through `aaprof events`.

Entries are written as journald writes them (systemd src/journal/journald-audit.c and
journald-kmsg.c): the audit transport's MESSAGE is the type name plus the text after
`audit(...):`, its stamp is in `_SOURCE_REALTIME_TIMESTAMP` and `_AUDIT_ID`, and
`__REALTIME_TIMESTAMP` is when journald received it; the kernel transport's MESSAGE is the
printk line `audit: type=1400 audit(sec.ms:serial): ...`.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from aaprof.cli.main import cli

JOURNAL_REMOTE = Path("/lib/systemd/systemd-journal-remote")
BOOT_A = "0123456789abcdef0123456789abcdef"
BOOT_B = "fedcba9876543210fedcba9876543210"

# Stamps: 1700000000.123 (2023-11-14T22:13:20.123Z) and following.
SEC = 1700000000
FILE_PAYLOAD = (
    'apparmor="DENIED" operation="open" class="file" profile="aaprof.web.shop.nginx" '
    'name="/etc/shadow" pid=4242 comm="nginx" requested_mask="r" denied_mask="r" '
    "fsuid=101 ouid=0"
)
CAP_PAYLOAD = (
    'apparmor="DENIED" operation="capable" class="cap" profile="cri-containerd.apparmor.d" '
    'pid=77 comm="ping" capability=13  capname="net_raw"'
)
DBUS_MESSAGE = (
    "USER_AVC pid=750 uid=102 auid=4294967295 ses=4294967295 subj=unconfined "
    'msg=\'apparmor="DENIED" operation="dbus_method_call"  bus="system" '
    'path="/org/freedesktop/hostname1" interface="org.freedesktop.DBus.Properties" '
    'member="GetAll" mask="send" name="org.freedesktop.hostname1" pid=1234 label="snap.x.y" '
    'peer_pid=800 peer_label="unconfined"\n'
    ' exe="/usr/bin/dbus-daemon" sauid=102 hostname=? addr=? terminal=?\''
)

Entry = dict[str, str]


def _usec(sec: int, ms: int, extra_us: int = 0) -> str:
    return str(sec * 1_000_000 + ms * 1000 + extra_us)


def audit_entry(
    serial: int, ms: int, message: str, host: str, boot: str, audit_type: str = "1400"
) -> Entry:
    return {
        # journald receives the record a little later than the kernel stamped it: here in the
        # next millisecond, as happens under load.
        "__REALTIME_TIMESTAMP": _usec(SEC, ms, 1700),
        "_SOURCE_REALTIME_TIMESTAMP": _usec(SEC, ms),
        "_BOOT_ID": boot,
        "_HOSTNAME": host,
        "_TRANSPORT": "audit",
        "SYSLOG_IDENTIFIER": "audit",
        "_AUDIT_TYPE": audit_type,
        "_AUDIT_ID": str(serial),
        "MESSAGE": message,
    }


def kernel_entry(serial: int, ms: int, payload: str, host: str, boot: str) -> Entry:
    return {
        "__REALTIME_TIMESTAMP": _usec(SEC, ms, 2300),
        "_BOOT_ID": boot,
        "_HOSTNAME": host,
        "_TRANSPORT": "kernel",
        "SYSLOG_IDENTIFIER": "kernel",
        "PRIORITY": "5",
        "MESSAGE": f"audit: type=1400 audit({SEC}.{ms:03d}:{serial}): {payload}",
    }


def export(entries: list[Entry]) -> bytes:
    """Journal export format; a value with a newline uses the binary form."""
    out = bytearray()
    for n, entry in enumerate(entries):
        fields = {"__MONOTONIC_TIMESTAMP": str(1_000_000 + n * 1000), **entry}
        for key, value in fields.items():
            data = value.encode()
            if b"\n" in data:
                out += key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
            else:
                out += key.encode() + b"=" + data + b"\n"
        out += b"\n"
    return bytes(out)


def make_journal(path: Path, entries: list[Entry]) -> Path:
    if not JOURNAL_REMOTE.exists():
        pytest.fail(
            f"{JOURNAL_REMOTE} is missing: apt-get install systemd-journal-remote "
            "(./dev.sh test installs it)"
        )
    subprocess.run(
        [str(JOURNAL_REMOTE), f"--output={path}", "-"],
        input=export(entries),
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert path.is_file()
    return path


def events(*args: str) -> tuple[list[dict[str, object]], str]:
    result = CliRunner().invoke(cli, ["events", "--format", "jsonl", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    return docs, result.stderr


@pytest.fixture(scope="module")
def journal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("journal")
    entries = [
        # Record 501 on node-a, boot A, from both transports (audit first, as usual).
        audit_entry(501, 123, f"AVC {FILE_PAYLOAD}", "node-a", BOOT_A),
        kernel_entry(501, 123, FILE_PAYLOAD, "node-a", BOOT_A),
        # Record 502: only the kernel copy (journald not collecting audit).
        kernel_entry(502, 200, CAP_PAYLOAD, "node-a", BOOT_A),
        # A dbus-daemon USER_AVC, audit transport only, with its embedded newline.
        audit_entry(503, 300, DBUS_MESSAGE, "node-a", BOOT_A, audit_type="1107"),
        # An unrelated entry.
        {
            "__REALTIME_TIMESTAMP": _usec(SEC, 400),
            "_BOOT_ID": BOOT_A,
            "_HOSTNAME": "node-a",
            "_TRANSPORT": "syslog",
            "MESSAGE": "Started Session 3 of user root.",
        },
        # Boot B: the same record text and serial again (a new boot restarts serials), twice
        # from the kernel transport: two distinct records of one origin, both kept.
        kernel_entry(501, 900, FILE_PAYLOAD, "node-a", BOOT_B),
        kernel_entry(501, 900, FILE_PAYLOAD, "node-a", BOOT_B),
    ]
    make_journal(directory / "system.journal", entries)
    return directory


def test_journal_remote_is_installed() -> None:
    assert shutil.which(str(JOURNAL_REMOTE)), (
        "apt-get install systemd-journal-remote (./dev.sh test installs it)"
    )


def test_journal_file_fields_node_and_time(journal_dir: Path) -> None:
    docs, _ = events(str(journal_dir / "system.journal"))
    by_serial: dict[object, list[dict[str, object]]] = {}
    for doc in docs:
        by_serial.setdefault(doc["serial"], []).append(doc)
    first = by_serial[501][0]
    assert first["time"] == "2023-11-14T22:13:20.123Z"
    assert first["epoch"] == 1700000000.123
    assert first["node"] == "node-a"
    assert (first["mode"], first["operation"], first["class"]) == ("DENIED", "open", "file")
    assert first["profile"] == "aaprof.web.shop.nginx"
    assert first["name"] == "/etc/shadow"
    assert (first["pid"], first["comm"], first["fsuid"], first["ouid"]) == (4242, "nginx", 101, 0)
    assert (first["requested"], first["denied"]) == ("r", "r")
    assert first["container"] == {"namespace": "web", "pod": "shop", "name": "nginx"}
    source = first["source"]
    assert isinstance(source, dict)
    assert str(source["file"]).startswith("journal:") and source["line"] == 1

    (cap,) = by_serial[502]
    assert cap["time"] == "2023-11-14T22:13:20.200Z"
    assert (cap["capability"], cap["capname"], cap["profile"]) == (
        13,
        "net_raw",
        "cri-containerd.apparmor.d",
    )

    (dbus,) = by_serial[503]
    assert dbus["time"] == "2023-11-14T22:13:20.300Z"
    assert (dbus["operation"], dbus["class"], dbus["bus"]) == ("dbus_method_call", "dbus", "system")
    assert (dbus["interface"], dbus["member"]) == ("org.freedesktop.DBus.Properties", "GetAll")
    assert (dbus["profile"], dbus["peer"], dbus["pid"]) == ("snap.x.y", "unconfined", 1234)
    assert dbus["name"] == "org.freedesktop.hostname1"


def test_both_transports_of_one_record_reported_once(journal_dir: Path) -> None:
    docs, stderr = events(str(journal_dir / "system.journal"))
    boot_a = [d for d in docs if str(d["time"]).startswith("2023-11-14T22:13:20.")]
    boot_a = [d for d in boot_a if d["time"] != "2023-11-14T22:13:20.900Z"]
    assert sorted(int(str(d["serial"])) for d in boot_a) == [501, 502, 503]
    # Boot B's two identical kernel-transport records are two records.
    assert [d["serial"] for d in docs if d["time"] == "2023-11-14T22:13:20.900Z"] == [501, 501]
    assert len(docs) == 5
    assert "7 lines read, 5 records, 0 unparsed, 1 duplicates dropped" in stderr


def test_journal_directory(journal_dir: Path) -> None:
    from_dir, _ = events(str(journal_dir))
    from_file, _ = events(str(journal_dir / "system.journal"))
    assert len(from_dir) == 5
    strip = [{k: v for k, v in d.items() if k != "source"} for d in from_dir]
    assert strip == [{k: v for k, v in d.items() if k != "source"} for d in from_file]


def test_boot_selects_one_boot(journal_dir: Path) -> None:
    docs, _ = events("--boot", BOOT_B, str(journal_dir))
    assert [(d["serial"], d["time"]) for d in docs] == [(501, "2023-11-14T22:13:20.900Z")] * 2
    docs, _ = events("--boot", BOOT_A, str(journal_dir))
    assert sorted(int(str(d["serial"])) for d in docs) == [501, 502, 503]


def test_boot_without_journal_is_a_usage_error(tmp_path: Path) -> None:
    log = tmp_path / "kern.log"
    log.write_text("")
    result = CliRunner().invoke(cli, ["events", "--boot", BOOT_A, str(log)], catch_exceptions=False)
    assert result.exit_code == 2


def test_filters_apply_to_journal_events(journal_dir: Path) -> None:
    docs, _ = events("--class", "capability", str(journal_dir))
    assert [d["serial"] for d in docs] == [502]
    since = datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC).isoformat()
    docs, _ = events("--since", since, str(journal_dir))
    assert sorted(int(str(d["serial"])) for d in docs) == [501, 501, 503]
