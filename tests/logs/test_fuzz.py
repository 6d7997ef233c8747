"""Property tests of the parser: any bytes in, no crash; generated records, nothing invented."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import shared_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aaprof.logs.lines import Unparsed, parse_line
from aaprof.model.event import Event

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SHARED = shared_corpus.CORPUS  # optional: more seeds where present
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _seeds() -> list[bytes]:
    seeds = [
        b'type=AVC msg=audit(1700000000.123:456): apparmor="DENIED" operation="open" '
        b'profile="p" name=2F612062 pid=1 comm="c" requested_mask="r" denied_mask="r"',
        b'[ 1.5] audit: type=1400 audit(1.2:3): apparmor="STATUS" operation="profile_load"',
        b'{"MESSAGE": "AVC apparmor=\\"DENIED\\" name=\\"/x\\"", "_AUDIT_ID": "3"}',
        b'Mar  4 05:06:07 h audit[1]: AVC apparmor="ALLOWED" operation="exec"',
    ]
    wild = SHARED / "wild" / "lines.txt"
    if wild.is_file():
        seeds += [line for line in wild.read_bytes().split(b"\n") if line]
    multi = SHARED / "libapparmor-test_multi"
    if multi.is_dir():
        seeds += [p.read_bytes() for p in sorted(multi.glob("*.in"))]
    return seeds


SEEDS = _seeds()


def _check(result: object) -> None:
    assert result is None or isinstance(result, Event | Unparsed)
    if isinstance(result, Event):
        # Whatever was parsed serialises to JSON.
        json.dumps(result.to_dict())


@SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    _check(parse_line(data))


@SETTINGS
@given(st.text(max_size=500))
def test_arbitrary_text_never_raises(text: str) -> None:
    _check(parse_line(text))


@SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes_after_a_record_prefix_never_raise(tail: bytes) -> None:
    _check(parse_line(b'type=AVC msg=audit(1.2:3): apparmor="DENIED" ' + tail))
    _check(parse_line(b"{" + tail))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        at = draw(st.integers(0, len(line)))
        if op == "insert":
            line[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del line[at : at + draw(st.integers(1, 8))]
        elif op == "replace" and at < len(line):
            line[at] = draw(st.integers(0, 255))
        elif op == "truncate":
            del line[at:]
    return bytes(line)


@SETTINGS
@given(mutated())
def test_mutated_corpus_lines_never_raise(line: bytes) -> None:
    _check(parse_line(line))


# --- nothing invented ------------------------------------------------------------------------


def kernel_encoded(value: bytes) -> str:
    """A value as audit_log_untrustedstring() writes it: quoted, or bare uppercase hex when a
    byte is `"`, below 0x21 or above 0x7e."""
    if any(b == 0x22 or b < 0x21 or b > 0x7E for b in value):
        return value.hex().upper()
    return '"' + value.decode("ascii") + '"'


NAMES = st.one_of(
    st.binary(min_size=1, max_size=40),
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"'),
        min_size=1,
        max_size=40,
    ).map(str.encode),
    st.sampled_from(
        [
            b'/a"b',
            b"/x\ny",
            b"}",
            b'"}\n{"',
            b"/t b",
            b"\xff\xfe",
            b"name=x",
            b"audit(1.2:3):apparmor=ALLOWED",
        ]
    ),
)
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@SETTINGS
@given(
    seconds=st.integers(0, 2**32),
    millis=st.integers(0, 999),
    serial=st.integers(0, 2**32),
    mode=st.sampled_from(["DENIED", "ALLOWED", "AUDIT", "KILLED"]),
    operation=WORDS,
    profile=NAMES,
    name=NAMES,
    comm=NAMES,
    pid=st.integers(1, 2**22),
    mask=st.sampled_from(["r", "w", "rw", "x", "mrwlk", "c", "d"]),
    node=st.none() | st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
)
def test_generated_record_fields_are_exactly_the_generated_ones(
    seconds: int,
    millis: int,
    serial: int,
    mode: str,
    operation: str,
    profile: bytes,
    name: bytes,
    comm: bytes,
    pid: int,
    mask: str,
    node: str | None,
) -> None:
    line = (
        (f"node={node} " if node else "")
        + f"type=AVC msg=audit({seconds}.{millis:03d}:{serial}): "
        + f'apparmor="{mode}" operation="{operation}" class="file" '
        + f"profile={kernel_encoded(profile)} name={kernel_encoded(name)} pid={pid} "
        + f'comm={kernel_encoded(comm)} requested_mask="{mask}" denied_mask="{mask}" '
        + "fsuid=0 ouid=1000\n"
    )
    event = parse_line(line.encode())
    assert isinstance(event, Event), (line, event)
    decoded = {
        k: v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v
        for k, v in (("profile", event.profile), ("name", event.name), ("comm", event.comm))
    }
    assert decoded == {"profile": profile, "name": name, "comm": comm}
    expected = {
        "mode": mode,
        "operation": operation,
        "class_": "file",
        "serial": serial,
        "node": node,
        "pid": pid,
        "requested": mask,
        "denied": mask,
        "fsuid": 0,
        "ouid": 1000,
    }
    assert {k: getattr(event, k) for k in expected} == expected
    assert event.time == EPOCH + timedelta(seconds=seconds, milliseconds=millis)
    # Nothing else: every other field is absent and nothing went to extra.
    known = {*expected, "profile", "name", "comm", "time"}
    others = {
        f.name: getattr(event, f.name)
        for f in dataclasses.fields(Event)
        if f.name not in known and f.name != "extra"
    }
    assert all(v is None for v in others.values()), others
    assert dict(event.extra) == {}


@SETTINGS
@given(name=NAMES)
def test_hex_encoded_name_survives_json(name: bytes) -> None:
    line = f'apparmor="DENIED" operation="open" profile="p" name={kernel_encoded(name)}'
    event = parse_line(line)
    assert isinstance(event, Event)
    doc = json.loads(json.dumps(event.to_dict()))
    if "name_hex" in doc:
        assert bytes.fromhex(doc["name_hex"]) == name
    else:
        assert doc["name"].encode() == name


def test_epoch_matches_the_stamp_exactly() -> None:
    """128.224 * 1000 is 128223.99999 in floating point: epoch must not truncate it."""
    event = parse_line('audit(128.224:1): apparmor="DENIED" operation="open"')
    assert isinstance(event, Event)
    assert event.time == EPOCH + timedelta(seconds=128, milliseconds=224)
    assert event.epoch == 128.224
