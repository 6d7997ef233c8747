"""The wild corpus (../shared/corpus/wild): real lines from mailing lists and apparmor.d."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import pytest
import shared_corpus

from aaprof.logs.lines import parse_line
from aaprof.model.event import Event

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WILD = shared_corpus.CORPUS / "wild"

# Lines that do not yield an Event, by line number, and why. Today every line does.
NOT_EVENTS: dict[int, str] = {}


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    path = shared_corpus.require(WILD / "lines.txt")
    data = path.read_bytes().split(b"\n")
    if data and data[-1] == b"":
        data.pop()
    return data


@pytest.fixture(scope="module")
def formats() -> dict[int, str]:
    path = shared_corpus.require(WILD / "lines.meta.tsv")
    with path.open(newline="") as f:
        return {int(row["lineno"]): row["format"] for row in csv.DictReader(f, delimiter="\t")}


def event(lines: list[bytes], number: int) -> Event:
    result = parse_line(lines[number - 1])
    assert isinstance(result, Event), (number, result)
    return result


def test_meta_describes_every_line(lines: list[bytes], formats: dict[int, str]) -> None:
    assert sorted(formats) == list(range(1, len(lines) + 1))


def test_at_least_97_percent_are_events_and_the_rest_are_listed(lines: list[bytes]) -> None:
    failing = {
        number: repr(result)
        for number, line in enumerate(lines, 1)
        if not isinstance(result := parse_line(line), Event)
    }
    assert set(failing) == set(NOT_EVENTS), failing
    assert (len(lines) - len(failing)) / len(lines) >= 0.97


def test_spot_check_formats_cover_the_corpus(formats: dict[int, str]) -> None:
    assert {formats[n] for n in SPOT_CHECKED} == set(formats.values())


def test_audit_log(lines: list[bytes], formats: dict[int, str]) -> None:
    assert formats[1] == "audit.log"
    e = event(lines, 1)
    assert (e.mode, e.operation, e.class_, e.profile) == ("DENIED", "open", "file", "rsyslogd")
    assert (e.name, e.pid, e.comm) == ("/proc/2009624/cmdline", 106062, "in:imuxsock")
    assert (e.serial, e.epoch) == (1117918, 1774470501.870)
    assert dict(e.extra) == {"FSUID": "root", "OUID": "root"}


def test_audit_log_dbus_user_avc(lines: list[bytes], formats: dict[int, str]) -> None:
    assert formats[95] == "audit.log"
    e = event(lines, 95)
    assert (e.mode, e.operation, e.class_, e.bus) == (
        "ALLOWED",
        "dbus_method_call",
        "dbus",
        "system",
    )
    assert (e.path, e.interface, e.member) == (
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "AddMatch",
    )
    assert (e.name, e.requested, e.profile, e.peer) == (
        ":1.3",
        "receive",
        "dbus-daemon",
        "power-profiles-daemon",
    )
    assert e.extra["exe"] == "/usr/bin/dbus-daemon"


def test_dmesg(lines: list[bytes], formats: dict[int, str]) -> None:
    assert formats[5] == "dmesg"
    e = event(lines, 5)
    assert (e.mode, e.operation, e.profile, e.name) == (
        "STATUS",
        "profile_load",
        "unconfined",
        "1password",
    )
    assert (e.pid, e.comm, e.serial, e.epoch) == (292, "apparmor_parser", 2, 1764145307.711)


def test_syslog_with_dmesg_timestamp(lines: list[bytes], formats: dict[int, str]) -> None:
    assert formats[11] == "kern.log/syslog(+dmesg ts)"
    e = event(lines, 11)
    assert e.node == "xplt"
    assert (e.operation, e.profile) == ("file_mmap", "/usr/lib/firefox/firefox{,*[^s][^h]}")
    assert e.name is not None and e.name.endswith("/gmp-widevinecdm/1.4.8.1008/libwidevinecdm.so")
    assert (e.denied, e.pid, e.comm, e.serial) == ("m", 16118, "plugin-containe", 246)
    assert e.time == datetime(2018, 6, 15, 7, 13, 22, 585000, tzinfo=UTC)


def test_journalctl_text(lines: list[bytes], formats: dict[int, str]) -> None:
    assert formats[27] == "journalctl(audit[pid]: AVC)"
    e = event(lines, 27)
    assert (e.node, e.mode, e.profile) == ("myhost.example.com", "ALLOWED", "/usr/sbin/sssd")
    assert (e.name, e.pid, e.comm) == ("/proc/420747/cmdline", 353829, "sssd_nss")


def test_other_prefix(lines: list[bytes], formats: dict[int, str]) -> None:
    assert formats[28] == "other"
    e = event(lines, 28)
    assert (e.operation, e.info, e.error, e.profile, e.name) == (
        "change_onexec",
        "label not found",
        -2,
        "unconfined",
        "foo",
    )
    assert (e.comm, e.serial, e.epoch) == ("(sh)", 2, 33.089)


def test_kmsg_without_timestamp(lines: list[bytes], formats: dict[int, str]) -> None:
    assert formats[52] == "kmsg(no ts)"
    e = event(lines, 52)
    assert (e.mode, e.profile, e.name, e.requested) == (
        "AUDIT",
        "sh_restriction",
        "/tmp/foo.sh",
        "r",
    )
    assert (e.serial, e.epoch) == (6, 1674669489.761)


def test_bare_record(lines: list[bytes], formats: dict[int, str]) -> None:
    assert formats[121] == "aa-log raw / bare record"
    e = event(lines, 121)
    assert (e.mode, e.profile, e.name) == (
        "ALLOWED",
        "signal-desktop",
        "/sys/devices/pci0000:00/0000:00:02.0/boot_vga",
    )
    assert (e.fsuid, e.ouid, e.time, e.serial) == (1000, 0, None, None)
    assert dict(e.extra) == {"FSUID": "user", "OUID": "root"}


def test_journald_json_dbus_daemon(lines: list[bytes], formats: dict[int, str]) -> None:
    assert formats[135] == "journald-json"
    e = event(lines, 135)
    assert (e.mode, e.operation, e.bus, e.member) == (
        "ALLOWED",
        "dbus_method_call",
        "session",
        "Introspect",
    )
    assert (e.profile, e.peer, e.pid, e.name, e.node) == (
        "gnome-shell",
        "unconfined",
        2336,
        ":1.1",
        "ubuntu",
    )
    # _SOURCE_REALTIME_TIMESTAMP=1660508874363660: when dbus-daemon logged it.
    assert e.time == datetime(2022, 8, 14, 20, 27, 54, 363660, tzinfo=UTC)


def test_journald_json_dbus_broker(lines: list[bytes], formats: dict[int, str]) -> None:
    assert formats[148] == "journald-json"
    e = event(lines, 148)
    assert (e.mode, e.operation, e.profile, e.peer) == (
        "DENIED",
        "dbus_method_call",
        "gnome-clocks",
        "dbus-session",
    )
    assert (e.name, e.path, e.member, e.denied) == (
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "ListActivatableNames",
        "send",
    )
    assert e.time == EPOCH + timedelta(microseconds=1787297847795486)


SPOT_CHECKED = (1, 95, 5, 11, 27, 28, 52, 121, 135, 148)
