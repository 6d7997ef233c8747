"""The summary's fast path gives exactly what summarising fully parsed events gives."""

from __future__ import annotations

import gzip
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import shared_corpus
from bench_modules import load, realism_shapes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aaprof.logs import chunks, halves, quick
from aaprof.logs.reader import Reader
from aaprof.logs.select import Selection
from aaprof.logs.sources import expand
from aaprof.logs.summary import Summary

# each test once with the C searches and once with the pure-Python ones (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("searches")

REPO = Path(__file__).resolve().parents[2]
CORPUS = shared_corpus.CORPUS


Result = tuple[dict[str, object], dict[str, object]]


def both(paths: list[str], selection: Selection | None = None) -> tuple[Result, Result]:
    """(fast result, full result): each the summary as JSON and the read statistics."""
    selection = selection or Selection()
    fast_reader = Reader()
    fast = quick.summarize(fast_reader, expand(paths), selection)
    full_reader = Reader()
    full = Summary()
    for event in full_reader.events(expand(paths)):
        if selection.keeps(event):
            full.add(event.mode, event.class_, event.profile, event.name)
    return (
        (fast.to_dict(top=50), fast_reader.stats.to_dict()),
        (full.to_dict(top=50), full_reader.stats.to_dict()),
    )


def assert_same(paths: list[str], selection: Selection | None = None) -> dict[str, object]:
    fast, full = both(paths, selection)
    assert fast == full
    return fast[0]


def test_libapparmor_corpus(corpus: Path) -> None:
    summary = assert_same([str(corpus / "libapparmor-test_multi")])
    # (testcase14 and testcase16 hold one record's text from two hosts, node=gutsy-server and
    # node=rix: two records, each node's)
    assert summary["total"] == 115


def test_wild_corpus(corpus: Path) -> None:
    summary = assert_same([str(corpus / "wild" / "lines.txt")])
    assert summary["total"] == 151


def test_sample_logs() -> None:
    summary = assert_same([str(REPO / "sample-logs")])
    assert isinstance(summary["total"], int) and summary["total"] > 0


@pytest.mark.parametrize(
    "selection",
    [
        Selection.build(mode="denied"),
        Selection.build(profile="*nginx*", classes=("file",)),
        Selection.build(operations=("open", "capable"), name="/etc/*"),
    ],
)
def test_filters(corpus: Path, selection: Selection) -> None:
    assert_same([str(corpus / "libapparmor-test_multi"), str(corpus / "wild")], selection)


STAMPED = 'type=AVC msg=audit(1700000000.{ms:03d}:{serial}): apparmor="DENIED" operation="{op}"'
ODD_LINES = [
    # a USER_AVC line without dbus-daemon's msg='...': read by its own keys, as an AVC
    'type=USER_AVC msg=audit(1700000000.050:50): apparmor="DENIED" operation="open" '
    'profile="/u" name="/x" pid=9 comm="c" requested_mask="r" denied_mask="r"',
    "Nov 23 00:00:01 host kernel: [1.2] audit: type=1107 audit(1700000000.051:51): "
    'apparmor="DENIED" operation="open" profile="/u" name="/y" pid=9 comm="c"',
    # a syslog date no calendar holds: the record keeps its stamp's time
    "Feb 30 00:00:01 host kernel: [1.2] audit: type=1400 audit(1700000000.052:52): "
    'apparmor="DENIED" operation="open" profile="/f" name="/z" pid=9 comm="c" '
    'requested_mask="r" denied_mask="r"',
    "Nov 23 25:00:01 host kernel: audit: type=1400 audit(1700000000.053:53): "
    'apparmor="ALLOWED" operation="open" profile="/f" name="/z" pid=9 comm="c"',
    # the head lacks name=, which stands after pid=: the full parser must take it
    'type=AVC msg=audit(1700000000.001:1): apparmor="STATUS" operation="profile_load" '
    'profile="unconfined" pid=5 comm="apparmor_parser" name="late"',
    # class= after pid= (mqueue)
    'type=AVC msg=audit(1700000000.002:2): apparmor="DENIED" operation="create" '
    'profile="/q" name="/queue" pid=7 comm="q" requested="create" denied="create" '
    'class="posix_mqueue" fsuid=0 ouid=0',
    # no class=, an operation whose class depends on family=
    'type=AVC msg=audit(1700000000.003:3): apparmor="ALLOWED" operation="file_perm" '
    'profile="p" pid=8 comm="c" family="unix" sock_type="stream" protocol=0 '
    'requested_mask="send" denied_mask="send"',
    'type=AVC msg=audit(1700000000.004:4): apparmor="ALLOWED" operation="file_perm" '
    'profile="p" name="/f" pid=8 comm="c" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    # a malformed stamp: unparsed by both
    'type=AVC msg=audit(17000=0000.005:5): apparmor="DENIED" operation="open" profile="p" '
    'name="/x" pid=1 comm="c" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    # a stamp too large for any date (found by atheris): unparsed by both, never a crash
    'type=AVC msg=audit(116718868167188680.127:54): apparmor="DENIED" operation="open" '
    'profile="p" name="/x" pid=1 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    # hex-encoded profile and name
    'type=AVC msg=audit(1700000000.006:6): apparmor="DENIED" operation="open" '
    'profile=6120622C63 name=2F746D702F6120227D0A pid=2 comm="c" requested_mask="w" '
    'denied_mask="w" fsuid=0 ouid=0',
    # label= instead of profile=
    'type=AVC msg=audit(1700000000.007:7): apparmor="DENIED" operation="open" '
    'label="a//&b" name="/y" pid=3 comm="c" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    # a legacy record without apparmor=, and a noise line
    'type=APPARMOR_DENIED msg=audit(1700000000.008:8): operation="exec" name="/bin/x" '
    'pid=4 profile="/bin/y" requested_mask="x" denied_mask="x"',
    "type=SYSCALL msg=audit(1700000000.009:9): arch=c000003e syscall=2 success=no",
    "type=UNKNOWN[1500] msg=audit(1700000000.010:10): REJECTING r access to /bin/x (sh(1) "
    "profile /bin/y active /bin/y)",
    "Jan 12 13:59:10 h kernel: [ 1.5] type=1503 audit(1700000000.011:11): "
    'operation="capable" name="setuid" pid=3593 profile="/bin/ping"',
    # a bare record, no stamp
    'apparmor="DENIED" operation="open" profile="bare" name="/b" comm="c" '
    'requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    # Hostile and odd lines for the bulk count (aaprof/logs/bulk.py): the head (`apparmor=` to
    # the first ` pid=`) must be read exactly as the full parser reads the whole line.
    # a forged line with two stamps: the full parser reads from the first
    'Jan 12 13:59:10 h evil[9]: audit(1700000000.020:20): name="/evil" profile="evil" '
    'audit(1700000000.021:21): apparmor="DENIED" operation="open" profile="web" name="/srv/0" '
    'pid=9 comm="w" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    # a quoted value across ` pid=` (the kernel would write it in hex; a forged line need not)
    'type=AVC msg=audit(1700000000.022:22): apparmor="DENIED" operation="open" profile="web" '
    'name="/srv/x pid=1 apparmor=\\"ALLOWED\\"" pid=9 comm="w" requested_mask="r" '
    'denied_mask="r" fsuid=0 ouid=0',
    'type=AVC msg=audit(1700000000.023:23): apparmor="DENIED" operation="open" '
    'profile="web pid=3" name="/srv/1" pid=9 comm="w" requested_mask="r" denied_mask="r"',
    # the name written in hex: `x pid=1 apparmor="DENIED"`, as the kernel quotes it
    'type=AVC msg=audit(1700000000.024:24): apparmor="ALLOWED" operation="open" profile="web" '
    'name=78207069643D312061707061726D6F723D2244454E49454422 pid=9 comm="w" '
    'requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    # 0x1D inside the name (the full parser reads it as a space), and an empty mode
    'type=AVC msg=audit(1700000000.025:25): apparmor="DENIED" operation="open" profile="web" '
    'name="/srv/a\x1db" pid=9 comm="w" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    'type=AVC msg=audit(1700000000.026:26): apparmor="" operation="open" profile="web" '
    'name="/srv/2" pid=9 comm="w" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    # a class= and a name= after pid= behind a tab and a quote
    'type=AVC msg=audit(1700000000.027:27): apparmor="DENIED" operation="open" profile="web" '
    'name="/srv/3" pid=9 comm="w"\tclass="mqueue" requested_mask="r" denied_mask="r"',
    'type=AVC msg=audit(1700000000.028:28): apparmor="DENIED" operation="capable" '
    'profile="web" pid=9 comm="w"name="/n" capability=1 capname="dac_override"',
    # sockets: the class from the fields after pid= (family, a mask, neither)
    'type=AVC msg=audit(1700000000.029:29): apparmor="DENIED" operation="connect" '
    'profile="web" pid=9 comm="w" family="inet" sock_type="stream" protocol=6 '
    'requested_mask="connect" denied_mask="connect"',
    'type=AVC msg=audit(1700000000.030:30): apparmor="DENIED" operation="connect" '
    'profile="web" pid=9 comm="w" requested_mask="connect" denied_mask="connect"',
    'type=AVC msg=audit(1700000000.031:31): apparmor="DENIED" operation="connect" '
    'profile="web" pid=9 comm="w"',
    'type=AVC msg=audit(1700000000.032:32): apparmor="DENIED" operation="sendmsg" '
    'class="net" profile="web" pid=9 comm="w" family="unix"',
    # a socket family after pid= where the head has a class of its own (HEAD keeps its ` pid=`)
    'type=AVC msg=audit(1700000000.037:37): apparmor="DENIED" operation="open" profile="web" '
    'name="/srv/0" pid=9 comm="w" family="inet" requested_mask="r" denied_mask="r"',
    # a mode the head regex does not take (not quoted), and `rmor=` outside any `apparmor=`
    "type=AVC msg=audit(1700000000.038:38): apparmor=DENIED operation=open profile=web "
    "name=/srv/8 pid=9 comm=w requested_mask=r denied_mask=r fsuid=0 ouid=0",
    'type=SYSCALL msg=audit(1700000000.039:39): arch=c000003e syscall=2 comm="armor=1" '
    'exe="/usr/bin/armor=2"',
    # a record in a line typed as an AVC's companion (the head regex takes those along unread)
    'type=SYSCALL msg=audit(1700000000.046:46): apparmor="DENIED" operation="open" profile="web" '
    'name="/srv/9" pid=9 comm="w" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    'node=n1 type=PROCTITLE msg=audit(1700000000.047:47): apparmor="DENIED" operation="open" '
    'profile="web" name="/srv/9" pid=9 comm="w" requested_mask="r" denied_mask="r"',
    # a stamp longer than the head regex looks ahead for its `): apparmor="`
    "type=AVC msg=audit(1700000000.0000000000000000000000000000000000000000001:48): "
    'apparmor="DENIED" operation="open" profile="web" name="/srv/10" pid=9 comm="w"',
    # a bare value the full parser may cut at an uppercase key (lost ENRICHED separator)
    'type=AVC msg=audit(1700000000.033:33): apparmor="DENIED" operation="open" '
    'profile=webUID=x name="/srv/4" pid=9 comm="w" requested_mask="r" ouid=0 UID="root"',
    # a line the full parser reads as JSON
    ' {audit(1700000000.034:34): apparmor="DENIED" operation="open" profile="web" '
    'name="/srv/5" pid=9 comm="w" requested_mask="r" denied_mask="r"',
    # two records in one line
    'type=AVC msg=audit(1700000000.035:35): apparmor="DENIED" operation="open" profile="web" '
    'name="/srv/6" pid=9 comm="w" audit(1700000000.036:36): apparmor="ALLOWED" '
    'operation="open" profile="p2" name="/two" pid=9 comm="w"',
    # D-Bus records, counted by head and label (bulk.DBUS) only where the full parser would
    # read just those: a profile=, a name= or a class= after the label, a hex label, a second
    # msg=', a label in the head
    "type=USER_AVC msg=audit(1700000000.040:40): pid=812 uid=102 auid=4294967295 "
    'msg=\'apparmor="DENIED" operation="dbus_signal"  bus="system" path="/a" mask="send" '
    'name="org.x" pid=9 label="web" peer_pid=1 profile="other" exe="/d"\'',
    "Jan 12 13:59:10 h kernel: [ 1.5] audit: type=1107 audit(1700000000.041:41): pid=812 "
    'uid=102 msg=\'apparmor="DENIED" operation="dbus_method_call"  bus="system" path="/a" '
    'mask="send" pid=9 label="web" name="late" peer_pid=1 exe="/d"\'',
    'type=USER_AVC msg=audit(1700000000.042:42): pid=812 uid=102 msg=\'apparmor="ALLOWED" '
    'operation="dbus_signal"  bus="system" path="/a" mask="receive" name="org.x" pid=9 '
    'label=776562 peer_pid=1 class="file" exe="/d"\'',
    "type=USER_AVC msg=audit(1700000000.043:43): pid=812 uid=102 msg='x' "
    'msg=\'apparmor="DENIED" operation="dbus_signal"  bus="system" path="/a" mask="send" '
    'name="org.x" pid=9 label="web" peer_pid=1 exe="/d"\'',
    "type=USER_AVC msg=audit(1700000000.044:44): pid=812 uid=102 "
    'msg=\'apparmor="DENIED" operation="dbus_signal" label="in-head" bus="system" '
    'name="org.x" pid=9 label="web" peer_pid=1 exe="/d"\'',
    "type=USER_AVC msg=audit(1700000000.045:45): pid=812 uid=102 "
    'msg=\'apparmor="DENIED" operation="dbus_signal"  bus="system" path="/a" mask="send" '
    'name="org.x" pid=9 label=776562 peer_pid=1 exe="/d"\'',
]


def test_odd_layouts_in_a_fast_chunk(tmp_path: Path) -> None:
    common = [
        STAMPED.format(ms=100 + n % 900, serial=100 + n, op="open")
        + f' profile="web" name="/srv/{n % 7}" pid=9 comm="w" requested_mask="r" '
        'denied_mask="r" fsuid=0 ouid=0'
        for n in range(300)
    ]
    for n, odd in enumerate(ODD_LINES):
        log = tmp_path / f"odd{n}.log"
        log.write_text("\n".join([*common[:150], odd, *common[150:]]) + "\n")
        summary = assert_same([str(log)])
        assert summary["total"] in {300, 301, 302}


def test_copies_across_files_and_no_final_newline(tmp_path: Path) -> None:
    record = (
        'apparmor="DENIED" operation="open" profile="p" name="/etc/shadow" pid=11 comm="cat" '
        'requested_mask="r" denied_mask="r" fsuid=0 ouid=0'
    )
    kern = tmp_path / "kern.log"
    kern.write_text(
        "Jan  1 00:00:00 node1 kernel: [ 1.0] audit: type=1400 audit(1700000000.500:42): " + record
    )
    syslog = tmp_path / "syslog"
    syslog.write_text(
        "Jan  1 00:00:00 node1 kernel: [ 1.0] audit: type=1400 audit(1700000000.500:42): "
        + record
        + "\n"
    )
    audit = tmp_path / "audit.log.1.gz"
    audit.write_bytes(gzip.compress(f"type=AVC msg=audit(1700000000.500:42): {record}\n".encode()))
    fast, full = both([str(kern), str(syslog), str(audit)])
    assert fast == full
    summary, stats = fast
    assert summary["total"] == 1
    assert stats["duplicates"] == 2 and stats["lines"] == 3


def test_two_processes_equal_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "audit.log"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "generate.py"),
            "--records",
            "20000",
            "--only",
            "audit",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    with log.open("a") as f:
        f.write("\n".join(ODD_LINES) + "\n")
    one = both([str(log)])[0]
    monkeypatch.setattr(halves, "PARALLEL_MIN_BYTES", 1024)
    monkeypatch.setattr(chunks, "CHUNK", 64 << 10)
    assert halves.split_point(str(log)) is not None
    two, full = both([str(log)])
    assert one == two == full


# Property: on logs shaped like real nodes' (benchmarks/generate.py with every knob of
# benchmarks/realism.py drawn, odd lines mixed in, small chunks so that records and split
# lines straddle chunk boundaries), the fast summary equals summarising full parses.


load("noise")
realism = load("realism")
generator = load("generate")
shapes = realism_shapes()


def _mix_in(path: Path, odd: list[str], seed: int) -> None:
    """Put the odd lines at random places of a plain log (between its lines: split at newlines
    only, as str.splitlines would also split at auditd's 0x1D separator)."""
    lines = [line + "\n" for line in path.read_text(encoding="utf-8").split("\n")]
    if lines[-1] == "\n":
        lines.pop()  # (what followed the last newline)
    rng = random.Random(seed)
    for line in odd:
        at = rng.randrange(len(lines) + 1)
        while at < len(lines) and lines[at][:1] in {" ", "\t"}:
            at += 1  # never between a split record and its continuation
        lines.insert(at, line + "\n")
    path.write_text("".join(lines), encoding="utf-8")


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shape=shapes,
    seed=st.integers(0, 2**32),
    chunk=st.sampled_from([512, 4096, 1 << 20]),
    odd=st.lists(st.sampled_from(ODD_LINES), max_size=4),
)
def test_fast_equals_full_on_realistic_logs(
    tmp_path_factory: pytest.TempPathFactory,
    shape: Any,
    seed: int,
    chunk: int,
    odd: list[str],
) -> None:
    outdir = tmp_path_factory.mktemp("realistic")
    generator.generate(outdir, 300, seed, shape=shape)
    _mix_in(outdir / "audit.log", odd, seed)
    inputs = [outdir / "audit.log", outdir / "kern.log"]
    if shape.journal_text:
        inputs.append(outdir / "journal.txt")
    saved = chunks.CHUNK
    chunks.CHUNK = chunk
    try:
        for path in inputs:
            fast, full = both([str(path)])
            assert fast == full, path.name
        if shape.rotate:
            fast, full = both([str(outdir / "rotated")])
            assert fast == full, "rotated set"
        fast, full = both([str(p) for p in inputs])  # copies across files: the dedup path
        assert fast == full, "all inputs together"
    finally:
        chunks.CHUNK = saved


def test_a_head_first_met_per_record_then_in_bulk(tmp_path: Path) -> None:
    """(Found by the property above.) An ambiguous head (`file_mmap`: its class from the rest
    of the line) first seen in a chunk read per record, then in chunks counted in bulk."""
    shape = realism.Realism(
        profiles=1, pids=1, hex_names=0.0, unique_names=0.0, stacked=0.0, with_class=False,
        enriched=False, companions=0.0, node_prefix=False, dbus=0.0, dbus_split=0.0,
        journal_text=False, rotate=0,
    )  # fmt: skip
    generator.generate(tmp_path, 300, 0, shape=shape)
    _mix_in(tmp_path / "audit.log", [ODD_LINES[0]], 0)
    saved = chunks.CHUNK
    chunks.CHUNK = 4096
    try:
        summary = assert_same([str(tmp_path / "audit.log")])
    finally:
        chunks.CHUNK = saved
    assert summary["total"] == 301


def test_a_record_read_by_line_is_found_by_place_not_text(tmp_path: Path) -> None:
    """(Found by the property above.) A record the full parser must read, whose text also
    ends an earlier line: that earlier line is not the one read."""
    status = ODD_LINES[0]  # read by the full parser: a name= after pid=
    common = [
        STAMPED.format(ms=100 + n, serial=100 + n, op="open")
        + f' profile="web" name="/srv/{n % 7}" pid=9 comm="w" requested_mask="r" fsuid=0 ouid=0'
        for n in range(40)
    ]
    log = tmp_path / "audit.log"
    log.write_text("\n".join([*common[:10], common[10] + "\x1d" + status, *common[11:], status]))
    summary = assert_same([str(log)])
    assert summary["total"] == 41


def test_one_ambiguous_head_with_and_without_a_family(tmp_path: Path) -> None:
    """The records of one head whose class depends on the rest of the line (`connect` with a
    name): those with a socket family are `net`, the others `file`, in one bulk chunk."""
    head = 'apparmor="DENIED" operation="connect" profile="web" name="/run/s.sock" pid=9 comm="w"'
    lines = [
        f"type=AVC msg=audit(1700000000.{n % 1000:03d}:{n}): {head}"
        + (' family="unix" sock_type="stream"' if n % 3 == 0 else "")
        + ' requested_mask="connect" denied_mask="connect" fsuid=0 ouid=0'
        for n in range(1, 301)
    ]
    log = tmp_path / "audit.log"
    log.write_text("\n".join(lines) + "\n")
    summary = assert_same([str(log)])
    assert summary["total"] == 300
    groups = summary["groups"]
    assert isinstance(groups, list)
    assert {group["class"]: group["count"] for group in groups} == {"net": 100, "file": 200}


@given(st.binary(max_size=2000))
def test_newlines_counts_every_newline(data: bytes) -> None:
    assert chunks.newlines(data) == data.count(b"\n")
