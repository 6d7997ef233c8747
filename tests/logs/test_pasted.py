"""Records as people paste them and as other tools print them (issue 14, item 4)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from aaprof.logs.lines import parse_line
from aaprof.model.event import Event

HEAD = (
    'type=AVC msg=audit(1661734785.992:270): apparmor="ALLOWED" operation="open" '
    'profile="/usr/bin/dolphin" name="/home/otis/.config/kdeglobals" pid=3483 comm="dolphin" '
    'requested_mask="r" denied_mask="r" fsuid=1000 '
)


def _event(line: str) -> Event:
    result = parse_line(line)
    assert isinstance(result, Event), result
    return result


@pytest.mark.parametrize(
    "tail",
    [
        'ouid=0\x1dFSUID="otis" OUID="root"',  # as auditd writes it
        'ouid=0^]FSUID="otis" OUID="root"',  # the separator shown as ^] (less, an issue tracker)
        'ouid=0FSUID="otis" OUID="root"',  # the separator lost
        'ouid=0 FSUID="otis" OUID="root"',  # ... or turned into a space
    ],
)
def test_enriched_separator_as_pasted(tail: str) -> None:
    event = _event(HEAD + tail)
    assert event.ouid == 0 and event.fsuid == 1000
    assert dict(event.extra) == {"FSUID": "otis", "OUID": "root"}


def test_the_corpus_case(corpus: Path) -> None:
    line = (corpus / "libapparmor-test_multi" / "0x1d-uppercase-FSUID-OUID.in").read_text()
    event = _event(line.strip())
    assert event.ouid == 0 and event.extra["OUID"] == "root"


def test_a_quoted_value_is_never_cut() -> None:
    name = "/tmp/0FSUID=x^]OUID=y"
    event = _event(HEAD.replace("/home/otis/.config/kdeglobals", name) + "ouid=0")
    assert event.name == name and event.ouid == 0 and not event.extra


RECORD = (
    'audit: type=1400 audit(1732400000.250:42): apparmor="DENIED" operation="open" '
    'profile="p" name="/x" pid=7 comm="c" requested_mask="r" denied_mask="r" fsuid=0 ouid=0'
)


@pytest.mark.parametrize(
    ("prefix", "node", "time"),
    [
        ("Nov 23 00:00:00 node-1 kernel:", "node-1", None),  # no year: this year
        ("Nov 23 2024 00:00:00 node-2 kernel:", "node-2", datetime(2024, 11, 23, tzinfo=UTC)),
        ("2024-11-23T00:00:00+0000 node-3 kernel:", "node-3", datetime(2024, 11, 23, tzinfo=UTC)),
        ("<6>1 2024-11-23T00:00:00.000Z node-4 kernel", "node-4", None),
        (
            "1732320000.123456 node-5 kernel:",
            "node-5",
            datetime(2024, 11, 23, 0, 0, 0, 123000, UTC),
        ),
        ("[86400.123456] node-6 kernel:", "node-6", None),
    ],
)
def test_node_from_syslog_prefixes(prefix: str, node: str, time: datetime | None) -> None:
    assert _event(f"{prefix} {RECORD}").node == node
    # without an audit stamp (journald's audit transport) the prefix gives the time
    unstamped = _event(f"{prefix} AVC {RECORD.split(': ', 2)[2]}")
    assert unstamped.node == node
    if time is not None:
        assert unstamped.time == time


def test_ns_is_the_namespace_decoded() -> None:
    line = RECORD.replace('profile="p"', 'ns=726F6F74 profile="p"')
    assert _event(line).namespace == "root"
    assert _event(RECORD.replace('profile="p"', 'ns="k8s" profile="p"')).namespace == "k8s"
    both = RECORD.replace('profile="p"', 'namespace="a" ns="b" profile="p"')
    assert _event(both).namespace == "a" and _event(both).extra["ns"] == "b"


def test_sendmsg_with_a_file_mask_is_a_file_access() -> None:
    line = RECORD.replace('operation="open"', 'operation="sendmsg"').replace('"/x"', '"/run/s"')
    assert _event(line).class_ == "file"
    net = (
        'audit: type=1400 audit(1732400000.250:42): apparmor="DENIED" operation="sendmsg" '
        'profile="p" pid=7 comm="c" family="unix" sock_type="dgram" protocol=0 '
        'requested_mask="send" denied_mask="send" addr=none'
    )
    assert _event(net).class_ == "net"
    bare = 'audit: type=1400 audit(1.2:3): apparmor="DENIED" operation="sendmsg" profile="p"'
    assert _event(bare).class_ == "net"
