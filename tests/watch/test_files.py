"""FileSource cases the fault test may not meet: replaced while down, truncated while down."""

from __future__ import annotations

import os
from pathlib import Path

from aaprof.watch.files import FileSource
from aaprof.watch.source import Raw
from watch.records import audit_line


def serials(source: FileSource) -> list[int]:
    return [
        int(r.data.split(b":")[1].split(b")")[0])
        for r in source.poll(1000)
        if isinstance(r.data, bytes)
    ]


def test_copytruncate_while_down_reads_the_copy_from_the_offset(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(audit_line(1) + audit_line(2))
    source = FileSource(str(log))
    source.restore(None)
    assert serials(source) == [1, 2]
    checkpoint = source.checkpoint()
    source.close()
    with log.open("ab") as f:
        f.write(audit_line(3))  # written, then rotated by copytruncate while watch is down
    (tmp_path / "a.log.1").write_bytes(log.read_bytes())
    os.truncate(log, 0)
    log.write_bytes(audit_line(4) + audit_line(5) + audit_line(6))  # longer than the offset
    source.restore(checkpoint)
    assert serials(source) == [3, 4, 5, 6]
    assert source.take_lost() == {}


def test_two_create_rotations_while_down(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(audit_line(1))
    source = FileSource(str(log))
    source.restore(None)
    assert serials(source) == [1]
    checkpoint = source.checkpoint()
    source.close()
    with log.open("ab") as f:
        f.write(audit_line(2))
    log.rename(tmp_path / "a.log.1")
    log.write_bytes(audit_line(3))
    (tmp_path / "a.log.1").rename(tmp_path / "a.log.2")
    log.rename(tmp_path / "a.log.1")
    log.write_bytes(audit_line(4))
    (tmp_path / "a.log.2.gz").write_bytes(b"compressed: never read")
    source.restore(checkpoint)
    assert serials(source) == [2, 3, 4]
    assert source.take_lost() == {}


def test_a_file_replaced_while_down_with_nothing_unread_is_no_loss(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(audit_line(1))
    source = FileSource(str(log))
    source.restore(None)
    serials(source)
    checkpoint = source.checkpoint()
    source.close()
    log.unlink()
    log.write_bytes(audit_line(2))
    source.restore(checkpoint)
    assert serials(source) == [2]
    assert source.take_lost() == {}


def test_an_over_long_line_is_one_error_and_its_tail_no_record(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    # 600 KiB of junk ending in what looks like a record: the tail of a line is not a line
    log.write_bytes(b"x" * 600_000 + audit_line(666) + audit_line(1))
    source = FileSource(str(log))
    source.restore(None)
    raws: list[Raw] = []
    for _ in range(10):
        raws += source.poll(1000)
    assert [r.error for r in raws if r.error] == ["line over 256 KiB"]
    lines = [r.data for r in raws if not r.error]
    assert lines == [audit_line(1)]
