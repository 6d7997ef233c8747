"""Log sources: compression by content, rotated sets oldest first, unreadable inputs, stdin."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from aaprof.errors import AaprofError
from aaprof.logs import quick
from aaprof.logs.reader import Reader
from aaprof.logs.select import Selection
from aaprof.logs.sources import Input, expand, iter_lines, open_input


def record(serial: int, name: str = "/etc/x") -> bytes:
    return (
        f'type=AVC msg=audit(1700000000.{serial % 1000:03d}:{serial}): apparmor="DENIED" '
        f'operation="open" class="file" profile="p" name="{name}" pid={serial} comm="c" '
        'requested_mask="r" denied_mask="r" fsuid=0 ouid=0\n'
    ).encode()


TEXT = b"".join(record(n) for n in (1, 2, 3))
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


def _read(name: str) -> bytes:
    with open_input(name) as stream:
        return stream.read()


def _serials(reader: Reader, inputs: list[Input]) -> list[int | None]:
    return [e.serial for e in reader.events(inputs)]


# --- compression -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_compressed_file_is_decompressed(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"audit.log.1.{kind}"
    path.write_bytes(COMPRESSORS[kind](TEXT))
    assert _read(str(path)) == TEXT


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
@pytest.mark.parametrize("misleading", ["audit.log", "audit.log.gz", "kern.log.bz2", "x.xz"])
def test_compression_detected_by_content_not_name(
    tmp_path: Path, kind: str, misleading: str
) -> None:
    path = tmp_path / misleading
    path.write_bytes(COMPRESSORS[kind](TEXT))
    assert _read(str(path)) == TEXT


def test_plain_text_named_gz_is_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "audit.log.2.gz"
    path.write_bytes(TEXT)
    assert _read(str(path)) == TEXT


def test_compressed_file_through_reader(tmp_path: Path) -> None:
    path = tmp_path / "syslog"
    path.write_bytes(lzma.compress(TEXT))
    assert _serials(Reader(), expand([str(path)])) == [1, 2, 3]


def test_empty_file_reads_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    assert _read(str(path)) == b""


# --- rotated sets ----------------------------------------------------------------------------

ROTATED = {  # file -> the serial of its one record; .3.gz is the oldest
    "audit.log.3.gz": 1,
    "audit.log.2.gz": 2,
    "audit.log.1": 3,
    "audit.log": 4,
}


@pytest.fixture
def rotated(tmp_path: Path) -> Path:
    directory = tmp_path / "audit"
    directory.mkdir()
    for name, serial in ROTATED.items():
        data = record(serial)
        (directory / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return directory


def _names(inputs: list[Input]) -> list[str]:
    return [Path(i.name).name for i in inputs]


OLDEST_FIRST = ["audit.log.3.gz", "audit.log.2.gz", "audit.log.1", "audit.log"]


def test_rotated_set_from_directory(rotated: Path) -> None:
    inputs = expand([str(rotated)])
    assert _names(inputs) == OLDEST_FIRST
    assert _serials(Reader(), inputs) == [1, 2, 3, 4]


def test_rotated_set_from_glob(rotated: Path) -> None:
    inputs = expand([str(rotated / "audit.log*")])
    assert _names(inputs) == OLDEST_FIRST
    assert _serials(Reader(), inputs) == [1, 2, 3, 4]


@pytest.mark.parametrize("seed", range(5))
def test_rotated_set_from_shuffled_list(rotated: Path, seed: int) -> None:
    names = [str(rotated / n) for n in ROTATED]
    random.Random(seed).shuffle(names)
    inputs = expand(names)
    assert _names(inputs) == OLDEST_FIRST
    assert _serials(Reader(), inputs) == [1, 2, 3, 4]


def test_rotation_beyond_nine_sorts_numerically(tmp_path: Path) -> None:
    names = [tmp_path / "kern.log", *(tmp_path / f"kern.log.{n}" for n in (1, 2, 10, 11))]
    for path in names:
        path.write_bytes(b"")
    got = _names(expand([str(p) for p in reversed(names)]))
    assert got == ["kern.log.11", "kern.log.10", "kern.log.2", "kern.log.1", "kern.log"]


def test_two_sets_stay_separate(tmp_path: Path) -> None:
    for name in ("syslog", "syslog.1", "kern.log", "kern.log.1.gz"):
        (tmp_path / name).write_bytes(b"")
    got = _names(expand([str(tmp_path)]))
    assert got.index("kern.log.1.gz") < got.index("kern.log")
    assert got.index("syslog.1") < got.index("syslog")
    assert sorted(got) == sorted(["syslog", "syslog.1", "kern.log", "kern.log.1.gz"])


def test_file_named_twice_is_read_once(rotated: Path) -> None:
    path = str(rotated / "audit.log")
    assert [i.name for i in expand([path, path])] == [path]


def test_glob_matching_nothing_names_the_pattern(tmp_path: Path) -> None:
    pattern = str(tmp_path / "nothing*.log")
    with pytest.raises(AaprofError, match="nothing\\*\\.log"):
        expand([pattern])


# --- unreadable inputs -----------------------------------------------------------------------


def _truncated_gz(path: Path) -> None:
    data = gzip.compress(b"".join(record(n) for n in range(1, 2001)))
    path.write_bytes(data[: len(data) // 2])


def test_missing_file_names_it(tmp_path: Path) -> None:
    name = str(tmp_path / "no-such.log")
    with pytest.raises(AaprofError, match=re.escape(name)):
        open_input(name)


def test_directory_where_a_file_is_expected_names_it(tmp_path: Path) -> None:
    with pytest.raises(AaprofError) as info:
        open_input(str(tmp_path))
    assert str(tmp_path) in str(info.value)


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads a chmod 000 file anyway"
)
def test_unreadable_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "secret.log"
    path.write_bytes(TEXT)
    path.chmod(0)
    with pytest.raises(AaprofError, match=re.escape(str(path))):
        open_input(str(path))


def test_a_file_is_binary_by_what_it_is(tmp_path: Path) -> None:
    journal = tmp_path / "system.journal~"
    journal.write_bytes(b"LPKSHHRH" + bytes(200))
    with pytest.raises(AaprofError, match=re.escape(str(journal)) + ".*journal"):
        open_input(str(journal))
    archive = tmp_path / "logs.zip"
    archive.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(AaprofError, match=re.escape(str(archive)) + ".*zip"):
        open_input(str(archive))
    compressed = tmp_path / "logs.tar.gz"
    compressed.write_bytes(gzip.compress(bytes(257) + b"ustar" + bytes(300)))
    with pytest.raises(AaprofError, match=re.escape(str(compressed)) + ".*tar"):
        open_input(str(compressed))


def test_binary_bytes_without_a_magic_are_read_as_lines(tmp_path: Path) -> None:
    path = tmp_path / "wtmp"
    path.write_bytes(b"\x07\x00\x00\x00" + bytes(range(256)) * 4)
    reader = Reader()
    assert list(reader.events([Input(str(path))])) == []
    assert reader.stats.errors == [] and reader.stats.lines > 0


def _record(n: int) -> bytes:
    return (
        f"Nov 23 00:00:{n % 60:02d} node-3 kernel: [ {n}.5] audit: type=1400 "
        f'audit(1732400000.{n % 1000:03d}:{n}): apparmor="DENIED" operation="open" '
        f'profile="p{n % 3}" name="/f/{n}" pid={n} comm="c" requested_mask="r" '
        'denied_mask="r" fsuid=0 ouid=0\n'
    ).encode()


def test_nul_runs_and_invalid_bytes_keep_every_intact_record(tmp_path: Path) -> None:
    """What an unclean shutdown leaves: NUL runs and bytes that are not UTF-8, at the start,
    the middle and the end; every intact record is read, by the full and the fast path."""
    damage = (b"\x00" * 4096, b"\xff\xfe\x80 garbage \xc3\x28\n", b"\x00" * 300 + b"\n")
    parts = [damage[0]]
    for n in range(1, 301):
        parts.append(_record(n))
        if n in {100, 200}:
            parts.extend(damage)
    parts.extend(damage)
    path = tmp_path / "kern.log"
    path.write_bytes(b"".join(parts))
    reader = Reader()
    events = list(reader.events([Input(str(path))]))
    assert [e.name for e in events] == [f"/f/{n}" for n in range(1, 301)]
    assert events[0].node == "node-3"  # the record right after the NUL run keeps its prefix
    assert reader.stats.errors == []
    fast_reader = Reader()
    summary = quick.summarize(fast_reader, [Input(str(path))], Selection())
    assert summary.total == 300 and fast_reader.stats.errors == []


def test_truncated_gz_names_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.log.2.gz"
    _truncated_gz(path)
    with pytest.raises(AaprofError, match=re.escape(str(path))), open_input(str(path)) as stream:
        for _ in iter_lines(stream, str(path)):
            pass


def test_garbage_after_gzip_magic_names_it(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)
    with pytest.raises(AaprofError, match=re.escape(str(path))):
        _read(str(path))


def test_reader_goes_on_after_failures_and_keeps_lines_before_them(tmp_path: Path) -> None:
    good_a = tmp_path / "a.log"
    good_a.write_bytes(record(9001))
    truncated = tmp_path / "b.log.gz"
    _truncated_gz(truncated)
    binary = tmp_path / "c.zip"
    binary.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    missing = tmp_path / "d.log"
    good_e = tmp_path / "e.log"
    good_e.write_bytes(record(5000))
    inputs = [Input(str(p)) for p in (good_a, truncated, binary, missing, good_e, tmp_path)]
    reader = Reader()
    serials = _serials(reader, inputs)
    # a.log, then the truncated archive's lines up to the failure, then e.log.
    assert serials[0] == 9001
    assert serials[-1] == 5000
    middle = serials[1:-1]
    assert middle == list(range(1, len(middle) + 1))
    assert 0 < len(middle) < 2000
    errors = reader.stats.errors
    assert len(errors) == 4
    assert any("b.log.gz" in e for e in errors)
    assert any("c.zip" in e for e in errors)
    assert any("d.log" in e for e in errors)
    assert any(e.startswith(str(tmp_path) + ":") for e in errors)
    assert reader.stats.records == len(serials)


def test_truncated_gz_error_says_after_which_line(tmp_path: Path) -> None:
    path = tmp_path / "t.gz"
    _truncated_gz(path)
    reader = Reader()
    kept = _serials(reader, [Input(str(path))])
    (error,) = reader.stats.errors
    assert f"after line {len(kept)}" in error


# --- stdin -----------------------------------------------------------------------------------


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BufferedReader(io.BytesIO(data))


def test_stdin_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(TEXT))
    inputs = expand(["-"])
    assert inputs == [Input("-")]
    reader = Reader()
    events = list(reader.events(inputs))
    assert [e.serial for e in events] == [1, 2, 3]
    assert [e.source.line for e in events if e.source] == [1, 2, 3]
    assert {e.source.file for e in events if e.source} == {"-"}


def test_stdin_compressed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(gzip.compress(TEXT)))
    assert _serials(Reader(), [Input("-")]) == [1, 2, 3]


def test_stdin_comes_after_files(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(b"")
    assert [i.name for i in expand(["-", str(path)])] == [str(path), "-"]
