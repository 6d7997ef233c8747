"""Line formats and record decoding: one test per format, hex rules, extra keys, odd records."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aaprof.logs.lines import Unparsed, line_node, parse_journal_entry, parse_line
from aaprof.logs.sources import iter_lines
from aaprof.model.event import Event, SourceRef

# `audit(1700000000.123:456)`: 2023-11-14T22:13:20.123Z
STAMP_TIME = datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
FILE_RECORD = (
    'apparmor="DENIED" operation="open" class="file" profile="/usr/bin/cat" '
    'name="/etc/shadow" pid=42 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=0'
)


def _event(line: bytes | str, **kwargs: object) -> Event:
    result = parse_line(line, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Event), result
    return result


def _assert_file_record(event: Event) -> None:
    assert event.mode == "DENIED"
    assert event.operation == "open"
    assert event.class_ == "file"
    assert event.profile == "/usr/bin/cat"
    assert event.name == "/etc/shadow"
    assert event.pid == 42
    assert event.comm == "cat"
    assert event.requested == "r"
    assert event.denied == "r"
    assert event.fsuid == 0
    assert event.ouid == 0


def test_auditd_with_node_prefix_and_enriched_tail() -> None:
    line = (
        f"node=worker-3 type=AVC msg=audit(1700000000.123:456): {FILE_RECORD}"
        '\x1dFSUID="root" OUID="root"\n'
    ).encode()
    event = _event(line, node="fallback")
    _assert_file_record(event)
    assert event.node == "worker-3"
    assert event.time == STAMP_TIME
    assert event.serial == 456
    assert dict(event.extra) == {"FSUID": "root", "OUID": "root"}


def test_auditd_without_node_takes_the_given_node() -> None:
    event = _event(f"type=AVC msg=audit(1700000000.123:456): {FILE_RECORD}", node="n1")
    assert event.node == "n1"
    assert event.serial == 456


def test_dmesg_timestamp() -> None:
    event = _event(f"[  123.456789] audit: type=1400 audit(1700000000.123:457): {FILE_RECORD}")
    _assert_file_record(event)
    assert event.time == STAMP_TIME
    assert event.serial == 457
    assert event.node is None


def test_kmsg_with_priority_and_thread_id() -> None:
    event = _event(
        f"<5>[   12.345678][  T44] audit: type=1400 audit(1700000000.123:458): {FILE_RECORD}"
    )
    _assert_file_record(event)
    assert (event.time, event.serial) == (STAMP_TIME, 458)


def test_rsyslog_rfc3164_names_the_host() -> None:
    line = (
        "Nov 14 22:13:25 node-a kernel: [ 1234.5] audit: type=1400 "
        f"audit(1700000000.123:459): {FILE_RECORD}"
    )
    event = _event(line, node="other", year=2023)
    _assert_file_record(event)
    assert event.node == "node-a"
    # The audit stamp is the record's time, not the syslog prefix's.
    assert event.time == STAMP_TIME


def test_rfc3164_without_stamp_takes_the_prefix_time_in_the_given_year() -> None:
    line = f"Mar  4 05:06:07 node-b audit[42]: AVC {FILE_RECORD}"
    event = _event(line, year=2021)
    _assert_file_record(event)
    assert event.node == "node-b"
    assert event.time == datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert event.serial is None


@pytest.mark.parametrize(
    "date",
    [
        "Feb 30 00:00:01",
        "Nov 23 25:00:01",
        "Dec 31 23:59:60",  # (a leap second)
        "Feb 29 2023 00:00:01",
        "2024-02-30T05:06:07+00:00",
    ],
)
def test_a_date_no_calendar_holds_keeps_the_record_and_its_host(date: str) -> None:
    line = f"{date} node-a kernel: audit: type=1400 audit(1700000000.123:459): {FILE_RECORD}"
    event = _event(line, node="other", year=2023)
    _assert_file_record(event)
    assert event.node == "node-a" and event.time == STAMP_TIME
    stampless = parse_line(f"{date} node-b audit[42]: AVC {FILE_RECORD}", year=2023)
    assert isinstance(stampless, Event) and stampless.node == "node-b"
    assert stampless.time is None


@pytest.mark.parametrize("prefix", ["type=USER_AVC msg=", "type=1107 ", "type=UNKNOWN[1107] "])
def test_a_user_avc_line_without_msg_is_read_by_its_own_keys(prefix: str) -> None:
    event = _event(f"{prefix}audit(1700000000.123:459): {FILE_RECORD}")
    _assert_file_record(event)
    assert event.time == STAMP_TIME and event.serial == 459


def test_rfc5424_iso_timestamp_with_offset() -> None:
    line = (
        f"<13>1 2024-03-04T05:06:07.250+01:00 node-c kernel: audit: type=1400 "
        f"audit(1700000000.123:460): {FILE_RECORD}"
    )
    event = _event(line)
    _assert_file_record(event)
    assert event.node == "node-c"
    assert event.time == STAMP_TIME


def test_iso_timestamp_prefix_gives_time_when_no_stamp() -> None:
    event = _event(f"2024-03-04T05:06:07.250+01:00 node-d audit[42]: AVC {FILE_RECORD}")
    _assert_file_record(event)
    assert event.node == "node-d"
    assert event.time == datetime(2024, 3, 4, 4, 6, 7, 250000, tzinfo=UTC)


def test_journalctl_text() -> None:
    event = _event(f"Mar 04 05:06:07 node-e audit[42]: AVC {FILE_RECORD}", year=2024)
    _assert_file_record(event)
    assert event.node == "node-e"
    assert event.time == datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_journald_json_audit_transport() -> None:
    entry = {
        "_TRANSPORT": "audit",
        "_HOSTNAME": "node-f",
        "__REALTIME_TIMESTAMP": "1700000000123000",
        "_AUDIT_TYPE": "1400",
        "_AUDIT_ID": "461",
        "MESSAGE": f"AVC {FILE_RECORD}",
    }
    event = _event(json.dumps(entry) + "\n")
    _assert_file_record(event)
    assert event.node == "node-f"
    assert event.serial == 461
    assert event.time == STAMP_TIME


def test_journald_json_kernel_transport() -> None:
    entry = {
        "_TRANSPORT": "kernel",
        "_HOSTNAME": "node-g",
        "__REALTIME_TIMESTAMP": "1700000009000000",
        "MESSAGE": f"audit: type=1400 audit(1700000000.123:462): {FILE_RECORD}",
    }
    event = _event(json.dumps(entry))
    _assert_file_record(event)
    assert (event.node, event.serial, event.time) == ("node-g", 462, STAMP_TIME)


def test_journald_json_message_as_byte_array() -> None:
    """journalctl -o json writes a non-UTF-8 MESSAGE as an array of byte values."""
    message = b"AVC " + FILE_RECORD.replace("/etc/shadow", "/tmp/x").encode()
    message = message.replace(b'name="/tmp/x"', b"name=2F746D702FFF")
    entry = {"_AUDIT_TYPE": "1400", "MESSAGE": list(message)}
    event = _event(json.dumps(entry))
    assert event.name is not None
    assert event.name.encode("utf-8", "surrogateescape") == b"/tmp/\xff"


def test_journald_json_without_apparmor_is_none() -> None:
    assert parse_line(json.dumps({"MESSAGE": "Started Session 3 of user root."})) is None
    assert parse_line("[1, 2, 3]") is None


def test_bare_record() -> None:
    event = _event(FILE_RECORD)
    _assert_file_record(event)
    assert (event.time, event.serial, event.node) == (None, None, None)


DBUS_HEAD = (
    b"type=USER_AVC msg=audit(1700000000.123:463): pid=750 uid=102 auid=4294967295 "
    b'ses=4294967295 subj=unconfined msg=\'apparmor="DENIED" operation="dbus_method_call"  '
    b'bus="system" path="/org/freedesktop/hostname1" interface="org.freedesktop.DBus.Properties" '
    b'member="GetAll" mask="send" name="org.freedesktop.hostname1" pid=1234 label="snap.x.y" '
    b'peer_pid=800 peer_label="unconfined"\n'
)
DBUS_TAIL = b'  exe="/usr/bin/dbus-daemon" sauid=102 hostname=? addr=? terminal=?\'\n'


def test_dbus_daemon_two_line_user_avc_is_joined_by_iter_lines() -> None:
    data = b"unrelated line\n" + DBUS_HEAD + DBUS_TAIL + b"after\n"
    lines = list(iter_lines(io.BytesIO(data), "x.log"))
    assert [n for n, _ in lines] == [1, 2, 4]
    number, joined = lines[1]
    event = _event(joined, source=SourceRef("x.log", number))
    assert event.mode == "DENIED"
    assert event.operation == "dbus_method_call"
    assert event.class_ == "dbus"
    assert event.bus == "system"
    assert event.path == "/org/freedesktop/hostname1"
    assert event.interface == "org.freedesktop.DBus.Properties"
    assert event.member == "GetAll"
    assert event.name == "org.freedesktop.hostname1"
    assert event.profile == "snap.x.y"
    assert event.peer == "unconfined"
    assert event.requested == "send"
    assert event.denied == "send"
    # The subject is the inner pid (the sender), not dbus-daemon's (750).
    assert event.pid == 1234
    assert event.serial == 463
    assert event.extra["exe"] == "/usr/bin/dbus-daemon"
    assert event.source == SourceRef("x.log", 2)


def test_dbus_daemon_head_alone_at_end_of_file_is_still_given() -> None:
    lines = list(iter_lines(io.BytesIO(DBUS_HEAD), "x.log"))
    assert [n for n, _ in lines] == [1]
    assert _event(lines[0][1]).member == "GetAll"


def test_dbus_broker_json() -> None:
    entry = {
        "SYSLOG_IDENTIFIER": "dbus-broker",
        "_HOSTNAME": "node-h",
        "__REALTIME_TIMESTAMP": "1700000000123000",
        "DBUS_BROKER_POLICY_TYPE": "apparmor",
        "DBUS_BROKER_TRANSMIT_ACTION": "send",
        "DBUS_BROKER_SENDER_SECURITY_LABEL": "gnome-clocks (enforce)",
        "DBUS_BROKER_RECEIVER_SECURITY_LABEL": "dbus-session (complain)",
        "DBUS_BROKER_MESSAGE_TYPE": "method_call",
        "DBUS_BROKER_MESSAGE_DESTINATION": "org.freedesktop.DBus",
        "DBUS_BROKER_MESSAGE_PATH": "/org/freedesktop/DBus",
        "DBUS_BROKER_MESSAGE_INTERFACE": "org.freedesktop.DBus",
        "DBUS_BROKER_MESSAGE_MEMBER": "ListActivatableNames",
        "MESSAGE": "A security policy denied :1.115 to send method call",
    }
    event = _event(json.dumps(entry))
    assert event.mode == "DENIED"
    assert event.operation == "dbus_method_call"
    assert event.class_ == "dbus"
    assert event.profile == "gnome-clocks"
    assert event.peer == "dbus-session"
    assert event.name == "org.freedesktop.DBus"
    assert event.path == "/org/freedesktop/DBus"
    assert event.interface == "org.freedesktop.DBus"
    assert event.member == "ListActivatableNames"
    assert event.denied == "send"
    assert event.node == "node-h"
    assert event.time == STAMP_TIME


def test_parse_journal_entry_directly() -> None:
    entry: dict[str, object] = {"_AUDIT_TYPE": "1400", "_AUDIT_ID": "9", "MESSAGE": FILE_RECORD}
    result = parse_journal_entry(entry, SourceRef("journal:x", 3), "n")
    assert isinstance(result, Event)
    assert (result.serial, result.node, result.source) == (9, "n", SourceRef("journal:x", 3))


# --- hex and quoting -------------------------------------------------------------------------


def test_hex_name_with_space() -> None:
    event = _event('apparmor="DENIED" operation="open" profile="p" name=2F746D702F612062')
    assert event.name == "/tmp/a b"


def test_hex_non_utf8_is_lossless_and_json_gives_name_hex() -> None:
    event = _event(
        'apparmor="DENIED" operation="open" profile=2F7001FF name=2F746D702FFF41FE comm="c"'
    )
    assert event.name is not None and event.profile is not None
    assert event.name.encode("utf-8", "surrogateescape") == b"/tmp/\xffA\xfe"
    assert event.profile.encode("utf-8", "surrogateescape") == b"/p\x01\xff"
    doc = event.to_dict()
    assert doc["name_hex"] == "2F746D702FFF41FE"
    assert doc["name"] == "/tmp/\ufffdA\ufffd"
    assert doc["profile_hex"] == "2F7001FF"
    assert "comm_hex" not in doc
    # The JSON form is valid JSON and round-trips the replacement text.
    assert json.loads(json.dumps(doc, ensure_ascii=False))["name"] == "/tmp/\ufffdA\ufffd"


def test_hex_name_with_quote_newline_brace_decodes_to_exactly_those_bytes() -> None:
    hostile = b'/x"\n}{y'
    line = f'apparmor="DENIED" operation="open" profile="p" name={hostile.hex().upper()} pid=7'
    event = _event(line)
    assert event.name == hostile.decode()
    assert event.pid == 7  # the decoded bytes did not end the record early
    assert event.to_dict()["name"] == '/x"\n}{y'


def test_lowercase_hex_is_not_decoded() -> None:
    # The kernel writes uppercase hex; a bare lowercase token is a plain value.
    assert _event('apparmor="DENIED" profile="p" name=deadbeef').name == "deadbeef"


def test_hex_only_for_untrusted_keys() -> None:
    event = _event('apparmor="DENIED" operation="open" profile="p" requested_mask=41 info=4142')
    assert event.requested == "41"
    assert event.info == "4142"


# --- keys ------------------------------------------------------------------------------------


def test_duplicate_and_unknown_keys_kept_in_extra() -> None:
    line = (
        'apparmor="DENIED" operation="open" profile="p" name="/first" name="/second" '
        'name="/third" frobnicate="yes" parent=17 pid=3 pid=4'
    )
    event = _event(line)
    assert event.name == "/first"
    assert event.pid == 3
    assert dict(event.extra) == {
        "name": "/second",
        "name#2": "/third",
        "frobnicate": "yes",
        "parent": "17",
        "pid": "4",
    }


def test_signal_unknown_glued_to_previous_quote() -> None:
    line = (
        'type=AVC msg=audit(1700000000.123:464): apparmor="DENIED" operation="signal" '
        'class="signal" profile="p" pid=9 comm="kill" requested_mask="send" '
        'denied_mask="send"signal=unknown(33) peer="q"'
    )
    event = _event(line)
    assert event.denied == "send"
    assert event.signal == "unknown(33)"
    assert event.peer == "q"
    assert dict(event.extra) == {}


def test_capability_with_two_spaces() -> None:
    event = _event(
        'apparmor="DENIED" operation="capable" profile="p" pid=1 comm="x" capability=12  '
        'capname="net_admin"'
    )
    assert (event.capability, event.capname, event.class_) == (12, "net_admin", "cap")


def test_old_style_type_1503() -> None:
    line = (
        'type=1503 audit(1700000000.123:465): operation="open" profile="/bin/ping" '
        'name="/etc/hosts" pid=5 requested_mask="r" denied_mask="r"'
    )
    event = _event(line)
    assert event.mode == "DENIED"
    assert (event.operation, event.profile, event.name, event.pid) == (
        "open",
        "/bin/ping",
        "/etc/hosts",
        5,
    )
    assert event.serial == 465


def test_old_style_apparmor_denied_name() -> None:
    line = (
        'type=APPARMOR_DENIED msg=audit(1700000000.123:466): operation="exec" '
        'profile="/bin/ping" name="/bin/ls" denied_mask="x" requested_mask="x"'
    )
    event = _event(line)
    assert (event.mode, event.operation, event.name, event.denied) == (
        "DENIED",
        "exec",
        "/bin/ls",
        "x",
    )


def test_old_style_allowed_by_number() -> None:
    assert _event('type=1502 audit(1.5:1): operation="open" profile="p" name="/a"').mode == (
        "ALLOWED"
    )


def test_apparmor_mode_wins_over_legacy_type() -> None:
    assert _event('type=1400 audit(1.5:1): apparmor="AUDIT" operation="open"').mode == "AUDIT"


# --- not records, and unreadable records -----------------------------------------------------


def test_lines_without_apparmor_content_are_none() -> None:
    for line in (
        b"",
        b"\n",
        b"Nov 14 22:13:25 node-a sshd[1]: Accepted publickey for root",
        b'type=SYSCALL msg=audit(1700000000.123:1): arch=c000003e syscall=257 success=no comm="x"',
        b'type=AVC msg=audit(1700000000.123:2): avc:  denied  { read } for pid=1 comm="x"',
        b"[ 1.0] usb 1-1: new high-speed USB device",
    ):
        assert parse_line(line) is None, line


def test_malformed_stamp_is_unparsed() -> None:
    for line in (
        'type=AVC msg=audit(1700000000.123 apparmor="DENIED" operation="open"',
        'type=AVC msg=audit(17000x.1:2): apparmor="DENIED" operation="open"',
        'audit(): apparmor="DENIED"',
    ):
        result = parse_line(line)
        assert isinstance(result, Unparsed), line
        assert "stamp" in result.reason


def test_record_without_mode_is_unparsed() -> None:
    result = parse_line('type=AVC msg=audit(1.2:3): operation="open" apparmor=')
    assert isinstance(result, Unparsed)


def test_free_text_apparmor_2_0_is_unparsed() -> None:
    result = parse_line("type=APPARMOR msg=audit(1.2:3): PERMITTING r access to /etc/x (ls(1))")
    assert isinstance(result, Unparsed)


def test_invalid_json_with_apparmor_is_unparsed() -> None:
    assert isinstance(parse_line('{"MESSAGE": "apparmor=\\"DENIED\\"'), Unparsed)
    assert parse_line('{"MESSAGE": "nothing here"') is None


def test_crlf_line_ending() -> None:
    assert _event(FILE_RECORD + "\r\n").ouid == 0


def test_source_is_attached() -> None:
    assert _event(FILE_RECORD, source=SourceRef("f", 12)).source == SourceRef("f", 12)


def test_stamp_inside_a_quoted_name_is_not_the_records_stamp() -> None:
    """A process may name a file like a stamp; the kernel prints it quoted (no space in it)."""
    name = "/tmp/audit(1.2:3):apparmor=ALLOWED"
    payload = f'apparmor="DENIED" operation="open" profile="victim" name="{name}" pid=5 comm="x"'
    for line in (
        f"Mar 04 05:06:07 h audit[5]: AVC {payload}",
        payload,
        json.dumps({"_AUDIT_TYPE": "1400", "_AUDIT_ID": "8", "MESSAGE": f"AVC {payload}"}),
    ):
        event = _event(line)
        assert (event.mode, event.profile, event.name, event.pid) == ("DENIED", "victim", name, 5)
        assert event.serial in {None, 8}
    stamped = _event(f"type=AVC msg=audit(1700000000.123:9): {payload}")
    assert (stamped.mode, stamped.serial, stamped.name) == ("DENIED", 9, name)


REPO_SAMPLES = Path(__file__).resolve().parents[2] / "sample-logs"
ODD_HEADS = [
    "<13>Nov 23 22:13:20 pri-host kernel: [ 1.0] audit: type=1400 ",
    "Nov 23 22:13:20.123 frac-host kernel: audit: type=1400 ",
    "Foo 23 22:13:20 badmonth-host kernel: type=1400 ",
    "Feb 30 22:13:20 nodate-host kernel: type=1400 ",
    "Nov 23 22:13:20 notag-host type=1400 ",
    "Nov 23 22:13:20 notag-host ",  # the stamp's `):` is no tag
    "Nov 23 22:13:20 notag-host msg=",
    "Nov 23 2024 22:13:20 year-host kernel: ",
    "2024-11-23T22:13:20.000000+00:00 iso-host kernel: ",
    "2024-11-23T22:13:20 type=1400 ",  # no host: the stamp starts at `type=`
    "1732400000.123456 unix-host kernel: ",
    "[ 1234.567890] mono-host kernel: ",
    "[ 50.000000] audit: type=1400 ",
    "\x00\x00Nov 23 22:13:20 nul-host kernel: ",
    "node=auditd-host type=AVC msg=",
    "type=AVC msg=",
    "type=USER_AVC pid=1 uid=0 auid=4294967295 ses=4294967295 msg=",
    "Nov 23 22:13:20 h\xe9te kernel: ",
]


def _lines_with_records() -> list[bytes]:
    found = [f"{head}audit(1700000000.123:456): {FILE_RECORD}".encode() for head in ODD_HEADS]
    for path in sorted(REPO_SAMPLES.rglob("*")):
        if path.is_file() and path.suffix not in {".gz", ".json", ".md"}:
            found += [line for line in path.read_bytes().splitlines() if b"audit(" in line]
    return found


def test_line_node_names_the_node_parse_line_gives() -> None:
    """The summary's fast path tells nodes apart by `line_node` without parsing a line."""
    checked = 0
    for line in _lines_with_records():
        event = parse_line(line)
        at = line.find(b"apparmor=")
        if isinstance(event, Event) and at > 0:
            assert line_node(line, 0, at) == event.node, line
            checked += 1
    assert checked > len(ODD_HEADS)
