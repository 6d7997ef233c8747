"""Two processes write what one writes (aaprof/logs/halves.py): `events --format jsonl` on a
large plain file, its second half read by a forked child into a temporary file."""

from __future__ import annotations

import errno
import io
import os
import random
import signal
import tempfile
from pathlib import Path
from typing import Any, TextIO

import pytest
from bench_modules import load, realism_shapes
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from aaprof.cli.main import cli
from aaprof.logs import chunks, halves

# each test once with the C searches and once with the pure-Python ones (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("searches")

load("noise")
generator = load("generate")

# Lines of every kind the reader meets, put among a generated log's lines: unparsed ones
# (their line numbers go into the stats), legacy and JSON records, a record split over two
# lines, a line without a newline's worth of sense.
ODD_LINES = [
    'type=AVC msg=audit(1700000000.100:7): apparmor="DENIED" operation="open" profile="p" '
    'name="/etc/a b" pid=12 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    "type=AVC msg=audit(1700000000.100:8): apparmor=",  # no mode: unparsed
    'type=1503 audit(1700000001.000:9): operation="open" profile="legacy" name="/x" pid=1',
    '{"mode":"DENIED","operation":"open","profile":"j","time":"2023-11-14T22:13:20.000Z"}',
    'type=USER_AVC msg=audit(1700000002.000:10): pid=1 uid=0 msg=\'apparmor="DENIED" '
    'operation="dbus_method_call" bus="system" path="/" interface="i" member="m" '
    'mask="send" name="n" pid=5 label="lbl"',
    ' peer_pid=1 peer_label="unconfined" exe="/usr/bin/dbus-daemon"\'',
    'kernel: audit: type=1400 audit(1700000003.000:11): apparmor="ALLOWED" operation="open" '
    'profile="q" name="/tmp/t" pid=3 pid=4 comm="c" requested_mask="r" denied_mask="r"',
    "Jan  1 00:00:00 host kernel: apparmor=DENIED not a record at all pid=",
]


def _events(log: Path, *args: str, split: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(halves, "PARALLEL_MIN_BYTES", 1024 if split else 1 << 40)
    assert (halves.split_point(str(log)) is not None) == split
    return CliRunner().invoke(cli, ["events", "--format", "jsonl", *args, str(log)])


def _put_in(path: Path, lines: list[str], seed: int) -> None:
    """The lines at random places between the log's lines (never before a continuation)."""
    text = [line + "\n" for line in path.read_text(encoding="utf-8").split("\n")]
    if text[-1] == "\n":
        text.pop()
    rng = random.Random(seed)
    for line in lines:
        at = rng.randrange(len(text) + 1)
        while at < len(text) and text[at][:1] in {" ", "\t"}:
            at += 1
        text.insert(at, line + "\n")
    path.write_text("".join(text), encoding="utf-8")


@settings(
    max_examples=8,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # (a failure as found: shrinking
    # these logs took minutes)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shape=realism_shapes(),
    seed=st.integers(0, 2**32),
    chunk=st.sampled_from([512, 4096, 1 << 20]),
    mode=st.sampled_from(["all", "denied"]),
)
def test_two_processes_write_what_one_writes(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    shape: Any,
    seed: int,
    chunk: int,
    mode: str,
) -> None:
    outdir = tmp_path_factory.mktemp("halves")
    generator.generate(outdir, 400, seed, shape=shape)
    monkeypatch.setattr(chunks, "CHUNK", chunk)
    for name in ("audit.log", "kern.log"):
        log = outdir / name
        _put_in(log, ODD_LINES * 2, seed)  # (in both halves, the split between any two)
        one = _events(log, "--mode", mode, split=False, monkeypatch=monkeypatch)
        two = _events(log, "--mode", mode, split=True, monkeypatch=monkeypatch)
        assert one.exit_code == two.exit_code == 0, two.output
        assert two.stdout == one.stdout, name
        assert two.stderr == one.stderr, name  # the stats: lines, records, unparsed and where
        assert "unparsed" in one.stderr and one.stdout.count("\n") >= 5


def test_lines_before(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_bytes(b"a\n" * 700_000 + b"b\nc")
    assert halves.lines_before(str(log), 0) == 0
    assert halves.lines_before(str(log), 2) == 1
    assert halves.lines_before(str(log), 1_400_000) == 700_000
    assert halves.lines_before(str(log), 1_400_002) == 700_001


def _writer(calls: list[tuple[int, int | None]], fail_child: BaseException | None = None) -> Any:
    """Writes `start..end` as text; in a child process raises `fail_child` midway."""
    parent = os.getpid()

    def write(start: int, end: int | None, out: TextIO) -> str:
        calls.append((start, end))
        out.write(f"[{start}:{end}]")
        if os.getpid() != parent and fail_child is not None:
            raise fail_child
        out.write(".")
        return f"{start}-{end}"

    return write


def test_write_in_halves_in_order() -> None:
    calls: list[tuple[int, int | None]] = []
    out = io.StringIO()
    assert halves.write_in_halves(_writer(calls), 10, out) == ("0-10", "10-None")
    assert out.getvalue() == "[0:10].[10:None]."
    assert calls == [(0, 10)]  # (the second call was the child's)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # the child was reaped


def test_a_failing_child_is_raised_after_what_it_wrote() -> None:
    out = io.StringIO()
    with pytest.raises(ValueError, match="bad record"):
        halves.write_in_halves(_writer([], ValueError("bad record")), 10, out)
    assert out.getvalue() == "[0:10].[10:None]"  # as one process would have left it


def test_a_full_disk_in_the_child_has_this_process_write_the_half() -> None:
    calls: list[tuple[int, int | None]] = []
    out = io.StringIO()
    full = OSError(errno.ENOSPC, "No space left on device")
    assert halves.write_in_halves(_writer(calls, full), 10, out)[0] == "0-10"
    assert calls == [(0, 10), (10, None)]  # the child's half, written again here
    assert out.getvalue() == "[0:10].[10:None]."


def test_a_child_that_dies_has_this_process_write_its_half() -> None:
    calls: list[tuple[int, int | None]] = []
    out = io.StringIO()
    parent = os.getpid()
    write = _writer(calls)

    def dies(start: int, end: int | None, to: TextIO) -> str:
        if os.getpid() != parent:
            to.write("partial")
            to.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return str(write(start, end, to))

    assert halves.write_in_halves(dies, 10, out) == ("0-10", "10-None")
    assert out.getvalue() == "[0:10].[10:None]."  # (not what the child left in the spool)


def test_no_temporary_file_has_this_process_write_both(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_tmp(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_tmp)
    calls: list[tuple[int, int | None]] = []
    out = io.StringIO()
    assert halves.write_in_halves(_writer(calls), 10, out) == ("0-10", "10-None")
    assert calls == [(0, 10), (10, None)] and out.getvalue() == "[0:10].[10:None]."


class _Closed(io.StringIO):
    """An output whose reader went away after the first write (`| head -1`)."""

    def write(self, text: str) -> int:
        if self.tell():
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        return super().write(text)


def test_a_failing_parent_stops_and_reaps_the_child() -> None:
    with pytest.raises(BrokenPipeError):
        halves.write_in_halves(_writer([]), 10, _Closed())
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)
