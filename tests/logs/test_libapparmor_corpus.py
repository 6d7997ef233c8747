"""libapparmor's own test_multi cases, mapped to aaprof's JSON (mapping in docs/events.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import shared_corpus

from aaprof.logs import Unparsed
from aaprof.logs.reader import parse_text

CASES = shared_corpus.CORPUS / "libapparmor-test_multi"
pytestmark = shared_corpus.needs(CASES)
NAMES = sorted(p.stem for p in CASES.glob("*.in")) if CASES.is_dir() else []

# Protocol numbers as libapparmor names them.
PROTOCOLS = {0: "ip", 1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp"}


def _protocol(value: object) -> str:
    if isinstance(value, int):
        return PROTOCOLS.get(value, f"unknown({value})")
    return str(value)


def _extra(key: str) -> Callable[[dict[str, object]], object]:
    def get(doc: dict[str, object]) -> object:
        extra = doc.get("extra", {})
        assert isinstance(extra, dict)
        return extra.get(key)

    return get


def _extra_int(key: str) -> Callable[[dict[str, object]], object]:
    def get(doc: dict[str, object]) -> object:
        value = _extra(key)(doc)
        return None if value is None else int(str(value))

    return get


def _key(
    key: str, convert: Callable[[object], object] = str
) -> Callable[[dict[str, object]], object]:
    def get(doc: dict[str, object]) -> object:
        value = doc.get(key)
        return None if value is None else convert(value)

    return get


def _audit_id(doc: dict[str, object]) -> str:
    """libapparmor's `Audit ID`, `<seconds>.<millis>:<serial>`, from aaprof's epoch and serial."""
    millis = round(float(str(doc["epoch"])) * 1000)
    return f"{millis // 1000}.{millis % 1000:03d}:{doc['serial']}"


def _command(doc: dict[str, object]) -> object:
    """libapparmor's `Command`: comm, or for D-Bus records the daemon's exe."""
    if "comm" in doc:
        return doc["comm"]
    return _extra("exe")(doc)


# libapparmor label -> (how to read aaprof's JSON, how to read libapparmor's value)
MAPPING: dict[str, tuple[Callable[[dict[str, object]], object], Callable[[str], object]]] = {
    "Event type": (lambda d: f"AA_RECORD_{d['mode']}", str),
    "Audit ID": (_audit_id, str),
    "Epoch": (lambda d: int(float(str(d["epoch"]))), int),
    "Audit subid": (_key("serial", int), int),  # type: ignore[arg-type]
    "Operation": (_key("operation"), str),
    "Mask": (_key("requested"), str),
    "Denied Mask": (_key("denied"), str),
    "fsuid": (_key("fsuid", int), int),  # type: ignore[arg-type]
    "ouid": (_key("ouid", int), int),  # type: ignore[arg-type]
    "Profile": (_key("profile"), str),
    "Name": (lambda d: d.get("name", d.get("capname")), str),
    "Name2": (lambda d: d.get("name2", d.get("target")), str),
    "Command": (_command, str),
    "Parent": (_extra_int("parent"), int),
    "PID": (_key("pid", int), int),  # type: ignore[arg-type]
    "Info": (_key("info"), str),
    "Class": (_key("class"), str),
    "Socket type": (_key("sock_type"), str),
    "Protocol": (lambda d: _protocol(d.get("protocol")), str),
    "Network family": (_key("family"), str),
    "Local addr": (_key("laddr"), str),
    "Foreign addr": (_key("faddr"), str),
    "Local port": (_key("lport", int), int),  # type: ignore[arg-type]
    "Foreign port": (_key("fport", int), int),  # type: ignore[arg-type]
    "ErrorCode": (lambda d: abs(int(str(d["error"]))), int),
    "DBus bus": (_key("bus"), str),
    "DBus path": (_key("path"), str),
    "DBus interface": (_key("interface"), str),
    "DBus member": (_key("member"), str),
    "Peer profile": (_key("peer"), str),
    "Peer": (_key("peer"), str),
    "Peer PID": (_extra_int("peer_pid"), int),
    "Task": (_extra_int("task"), int),
    "Token": (_extra_int("magic_token"), int),
    "Attribute": (_extra("attribute"), str),
    "Namespace": (_key("namespace"), str),
    "Flags": (_key("flags"), str),
    "Src name": (_key("srcname"), str),
    "Signal": (_key("signal"), str),
    "Net Addr": (_key("addr"), str),
    "Peer Addr": (_key("peer_addr"), str),
    "FS Type": (_key("fstype"), str),
    "Execpath": (_extra("execpath"), str),
}


def expected(name: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in (CASES / f"{name}.out").read_text().splitlines():
        label, sep, value = line.partition(": ")
        if sep and label not in {"File"}:
            fields[label] = value
    return fields


def events_of(name: str) -> list[object]:
    results = parse_text((CASES / f"{name}.in").read_bytes(), f"{name}.in")
    return [r for r in results if r is not None]


def test_corpus_is_complete(corpus: Path) -> None:
    assert len(NAMES) == 179
    invalid = [n for n in NAMES if expected(n)["Event type"] == "AA_RECORD_INVALID"]
    assert len(invalid) == 26


@pytest.mark.parametrize("name", NAMES)
def test_case(name: str, corpus: Path) -> None:
    want = expected(name)
    results = events_of(name)
    line = (CASES / f"{name}.in").read_text(errors="replace")
    if want["Event type"] == "AA_RECORD_INVALID":
        # Rejected by libapparmor: aaprof gives no event, an unparsed line, or an event whose
        # every value stands in the line (nothing invented).
        for result in results:
            if isinstance(result, Unparsed):
                continue
            doc = result.to_dict()  # type: ignore[attr-defined]
            for key, value in doc.items():
                if key in {"time", "epoch", "source", "class", "extra"}:
                    continue
                assert str(value) in line or f"{key}_hex" in doc, (key, value)
        return
    assert len(results) == 1, results
    (event,) = results
    assert not isinstance(event, Unparsed), event
    doc = event.to_dict()  # type: ignore[attr-defined]
    for label, value in want.items():
        assert label in MAPPING, f"unmapped libapparmor label {label!r}"
        read_ours, read_theirs = MAPPING[label]
        assert read_ours(doc) == read_theirs(value), (label, doc)
