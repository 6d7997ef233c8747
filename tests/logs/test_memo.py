"""LineMemo: parsing a line once per text without its stamp and pid gives what parse_line gives,
line for line, whatever comes before, on logs shaped like real nodes' and on hostile lines."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
from bench_modules import load, realism_shapes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aaprof.logs import memo
from aaprof.logs.lines import parse_line
from aaprof.logs.memo import LineMemo
from aaprof.model.event import Event, SourceRef

load("noise")
generator = load("generate")

BASE = (
    'type=AVC msg=audit(1700000000.001:1): apparmor="DENIED" operation="open" profile="p" '
    'name="/etc/x" pid=42 comm="c" requested_mask="r" denied_mask="r" fsuid=0 ouid=0'
)
# Lines whose text without stamp and pid equals another's, or nearly: each must still parse as
# parse_line parses it, after the memo has seen the others.
HOSTILE = [
    BASE,
    BASE.replace("1700000000.001:1", "1700000001.999:77").replace("pid=42", "pid=43"),
    BASE.replace('name="/etc/x"', 'name="/etc/x pid=5"'),  # a pid= inside a quoted name
    BASE.replace('name="/etc/x"', 'name="x): apparmor=\\"ALLOWED\\""'),
    BASE.replace('name="/etc/x"', 'name="audit(1.2:3): "'),
    BASE.replace('name="/etc/x"', 'name="/srv/a\x1db"'),  # read as a space by the parser
    BASE.replace('name="/etc/x"', 'name="/srv/a^]b"'),
    BASE.replace('name="/etc/x"', 'name="/srv/UID=1"'),
    BASE.replace('name="/etc/x"', 'name="/srv/a^]FSUID"').replace("ouid=0", "ouid=0^]OUID=0"),
    BASE.replace("pid=42", "pid=42 pid=43"),  # two pid= keys
    BASE.replace("pid=42", "pid=4x2"),  # not a number
    BASE.replace("pid=42", "ppid=1 pid=42"),
    BASE.replace("pid=42", "xpid=42"),  # no pid= key at all, only a pid= in a longer key
    BASE.replace("pid=42", "peer_pid=42"),
    BASE.replace("pid=42 ", "") + " pid=42",  # pid= last
    BASE.replace("pid=42", 'pid=42"'),
    BASE.replace("audit(1700000000.001:1)", "audit(1700000000.1:1)"),  # one digit of fraction
    BASE.replace("audit(1700000000.001:1)", "audit(1700000000.0015:1)"),
    BASE.replace("type=AVC msg=", "node=n1 type=AVC msg="),
    BASE.replace("type=AVC msg=", "node=n2 type=AVC msg="),
    BASE.replace("type=AVC msg=", ""),
    BASE.replace("type=AVC msg=", "type=1400 "),
    BASE.replace("type=AVC msg=", "Nov 23 00:00:01 host kernel: [1.2] audit: type=1400 "),
    BASE.replace("type=AVC msg=", "Nov 23 00:00:02 host kernel: [  31.25] audit: type=1400 "),
    BASE.replace("type=AVC msg=", "Nov 23 00:00:03 other kernel: [1.2] audit: type=1400 "),
    BASE.replace("type=AVC msg=", "Nov 23 00:00:04 host kernel: [1.2] audit: type=1107 "),
    BASE.replace("type=AVC msg=", "Nov 23 00:00:05 host kernel: audit: type=1400 "),
    BASE.replace("type=AVC msg=", "Feb 30 00:00:01 host kernel: [1.2] audit: type=1400 "),
    BASE.replace("type=AVC msg=", "Foo 23 00:00:01 host kernel: [1.2] audit: type=1400 "),
    BASE.replace("type=AVC msg=", "Nov 23 25:00:01 host kernel: [1.2] audit: type=1400 "),
    BASE.replace("type=AVC msg=", "Nov 23 00:00:01 type=AVC msg="),  # a host named like a key
    BASE.replace("type=AVC msg=", "Nov 23 00:00:01.5 host kernel: [1.2] audit: type=1400 "),
    BASE.replace("type=AVC msg=", "<6>Nov 23 00:00:01 host kernel: [1.2] audit: type=1400 "),
    # what is the uptime: the first `[n.n] ` after a space, whatever stands before it
    BASE.replace("type=AVC msg=", "Nov 23 00:00:06 host kern[5]: [1.2] audit: type=1400 "),
    BASE.replace("type=AVC msg=", "Nov 23 00:00:06 host k: [x] [1.2] audit: type=1400 "),
    BASE.replace("type=AVC msg=", "Nov 23 00:00:06 host k: [1.2] [3.4] audit: type=1400 "),
    BASE.replace("type=AVC msg=", "Nov 23 00:00:06 host k: [1.2]audit: type=1400 "),
    BASE.replace("type=AVC msg=", "Nov 23 00:00:06 [1.2] k: audit: type=1400 "),
    BASE.replace("type=AVC msg=", "Nov 23 00:00:07 [3.4] k: audit: type=1400 "),  # its host
    BASE.replace("type=AVC msg=", "Nov 23 00:00:06  host k: [1.2] audit: type=1400 "),
    BASE.replace('apparmor="DENIED"', 'apparmor="ALLOWED"'),
    BASE.replace("type=AVC", "type=APPARMOR_DENIED").replace('apparmor="DENIED" ', ""),
    BASE + " " + BASE.replace("type=AVC msg=", ""),  # two records in one line
    BASE.replace('operation="open"', 'operation="open" apparmor="ALLOWED"'),
    BASE + '\x1dFSUID="root" OUID="root"',
    BASE.replace("fsuid=0", "fsuid=0\x00"),
    'type=USER_AVC msg=audit(1700000000.002:2): pid=812 uid=102 msg=\'apparmor="DENIED" '
    'operation="dbus_method_call" bus="system" path="/" interface="i" member="m" '
    'mask="send" name="n" pid=42 label="p" peer_pid=1 peer_label="unconfined"\'',
    # D-Bus records: the pid= inside msg='...' is the record's; dbus-daemon's is in the key
    *(
        f"type=USER_AVC msg=audit(1700000000.00{n}:2): pid={outer} uid=102 msg='apparmor="
        f'"DENIED" operation="dbus_method_call" bus="system" path="/" interface="i" '
        f'member="m" mask="send" name="n" {inner} label="p" peer_pid=1 peer_label="u"{end}'
        for n, outer, inner, end in [
            (3, 812, "pid=43", "'"),
            (4, 813, "pid=43", "'"),
            (5, 812, "pid=44", "'"),
            (6, 812, "pid=44", ""),  # the closing quote on a line of its own (not joined)
            (7, 812, "pid=44 pid=45", "'"),
            (8, 812, "xpid=44", "'"),
            (9, 812, "pid=4x", "'"),
        ]
    ),
    "Nov 23 00:00:04 host kernel: [1.2] audit: type=1107 audit(1700000000.010:3): pid=812 "
    'uid=102 msg=\'apparmor="DENIED" operation="dbus_signal" pid=47 label="p"\'',
    "type=USER_AVC msg=audit(1700000000.011:3): pid=812 msg='pid=48 apparmor=\"DENIED\"'",
    "type=USER_AVC msg=audit(1700000000.012:3): pid=812 msg=' pid=48 apparmor=\"DENIED\"'",
    "type=AVC msg=audit(17000=0000.005:5): " + BASE.partition("): ")[2],
    "type=AVC msg=audit(116718868167188680.127:54): " + BASE.partition("): ")[2],
]


def _same(lines: list[bytes], node: str | None = None) -> int:
    """Parse the lines in order with one memo; each equals parse_line's; how many were copied."""
    memo = LineMemo(node)
    copied = 0
    for number, line in enumerate(lines, 1):
        source = SourceRef("log", number)
        expected = parse_line(line, source, node=node)
        kept = len(memo._kept)
        got = memo.parse(line, source)
        assert got == expected, line
        copied += isinstance(got, Event) and len(memo._kept) == kept
    return copied


@pytest.mark.parametrize("kept", [2, 3, memo.MEMO_KEPT])  # (small: the generations turn over)
@pytest.mark.parametrize("node", [None, "worker-1"])
def test_hostile_lines_parse_as_parse_line_does(
    node: str | None, kept: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memo, "MEMO_KEPT", kept)
    lines = [(line + "\n").encode("utf-8", "surrogateescape") for line in HOSTILE]
    rng = random.Random(7)
    for _ in range(20):  # every order: each line may come first for its text
        rng.shuffle(lines)
        _same(lines + lines, node)


def test_copies_carry_their_own_stamp_and_pid() -> None:
    lines = []
    for n in range(50):
        stamp = f"audit(17000{n:05d}.{n % 1000:03d}:{n + 1})"
        lines.append(re.sub(r"audit\([^)]*\)", stamp, BASE).replace("pid=42", f"pid={n}"))
    encoded = [(line + "\n").encode() for line in lines]
    assert _same(encoded) == 49  # the first is parsed, the others copied
    events = [LineMemo().parse(line, SourceRef("log", 1)) for line in encoded]
    assert [e.pid for e in events if isinstance(e, Event)] == list(range(50))


shapes = realism_shapes(
    profiles=st.integers(1, 20),
    pids=st.integers(1, 20),
    dbus_split=0.0,  # (split lines are joined by the reader before a parse)
    rotate=0,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shape=shapes, seed=st.integers(0, 2**32))
def test_memo_equals_parse_line_on_realistic_logs(
    tmp_path_factory: pytest.TempPathFactory, shape: Any, seed: int
) -> None:
    memo.MEMO_KEPT = 1 + seed % 40  # generations turning over (restored below)
    try:
        _realistic(tmp_path_factory, shape, seed)
    finally:
        memo.MEMO_KEPT = KEPT


KEPT = memo.MEMO_KEPT


def _realistic(tmp_path_factory: pytest.TempPathFactory, shape: Any, seed: int) -> None:
    outdir: Path = tmp_path_factory.mktemp("realistic")
    generator.generate(outdir, 300, seed, shape=shape)
    for name in ("audit.log", "kern.log", "journal.txt"):
        path = outdir / name
        if path.exists():
            _same(path.read_bytes().splitlines(keepends=True), node="n" if seed % 2 else None)


def test_lines_that_rarely_repeat_are_parsed_without_a_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where few lines of a window were copies, the next lines are parsed without looking them
    up (the distinct mix); then the memo looks again and copies what repeats. Each line still
    gives what parse_line gives."""
    monkeypatch.setattr(memo, "LOOK_WINDOW", 10)
    monkeypatch.setattr(memo, "REST", 30)
    distinct = [BASE.replace('comm="c"', f'comm="c{n}"') for n in range(60)]
    repeats = [BASE.replace("pid=42", f"pid={n}") for n in range(60)]
    lines = [(line + "\n").encode() for line in distinct + repeats]
    memo_ = LineMemo()
    texts = []
    for number, line in enumerate(lines, 1):
        source = SourceRef("log", number)
        assert memo_.parse(line, source) == parse_line(line, source)
        texts.append(len(memo_._kept))
    assert texts[59] < 60  # (two keys a text: 120 if none had rested; 11 to 40 did)
    copied = _same(lines[60:])  # a memo that never rests copies all but the first
    assert copied == 59
    assert texts[-1] - texts[59] <= 2  # the repeats came back to being copied
