"""FollowedFile cases the fault test may not meet: replaced while down, truncated while down."""

from __future__ import annotations

import os
from pathlib import Path

from aaprof.logs.follow import FollowedFile
from aaprof.logs.live import Raw
from watch.records import audit_line


def serials(source: FollowedFile) -> list[int]:
    return [
        int(r.data.split(b":")[1].split(b")")[0])
        for r in source.poll(1000)
        if isinstance(r.data, bytes)
    ]


def test_copytruncate_while_down_reads_the_copy_from_the_offset(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(audit_line(1) + audit_line(2))
    source = FollowedFile(str(log))
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
    source = FollowedFile(str(log))
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
    source = FollowedFile(str(log))
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
    source = FollowedFile(str(log))
    source.restore(None)
    raws: list[Raw] = []
    for _ in range(10):
        raws += source.poll(1000)
    assert [r.error for r in raws if r.error] == ["line over 256 KiB"]
    lines = [r.data for r in raws if not r.error]
    assert lines == [audit_line(1)]


def checkpointed(
    tmp_path: Path, serials_: tuple[int, ...] = (1, 2)
) -> tuple[Path, dict[str, object]]:
    """A log read to its end; its checkpoint (the source closed, as when watch stops)."""
    log = tmp_path / "a.log"
    log.write_bytes(b"".join(audit_line(i) for i in serials_))
    source = FollowedFile(str(log))
    source.restore(None)
    assert serials(source) == list(serials_)
    checkpoint = source.checkpoint()
    source.close()
    return log, checkpoint


def edited(checkpoint: dict[str, object], **changes: int) -> dict[str, object]:
    files = checkpoint["files"]
    assert isinstance(files, list)
    return {"files": [{**files[0], **changes}]}


def test_a_copy_under_another_inode_is_read_on_after_its_last_line(tmp_path: Path) -> None:
    log, checkpoint = checkpointed(tmp_path)
    with log.open("ab") as f:
        f.write(audit_line(3))
    copy = tmp_path / "restored"
    copy.write_bytes(log.read_bytes())  # a restore from a backup: same bytes, another inode
    copy.replace(log)
    source = FollowedFile(str(log))
    source.restore(checkpoint)
    assert serials(source) == [3]  # 1 and 2 are not read again
    assert source.take_reread() == {}
    assert source.take_lost() == {}
    [note] = source.take_notes()
    assert "holds its last line taken at offset" in note


def test_a_renumbered_device_is_found_by_the_last_line(tmp_path: Path) -> None:
    log, checkpoint = checkpointed(tmp_path)
    with log.open("ab") as f:
        f.write(audit_line(3))
    files = checkpoint["files"]
    assert isinstance(files, list)
    source = FollowedFile(str(log))
    source.restore(edited(checkpoint, dev=int(files[0]["dev"]) + 1))  # as after a reboot
    assert serials(source) == [3]
    assert source.take_reread() == {}
    assert len(source.take_notes()) == 1


def test_an_offset_that_no_longer_matches_is_found_by_the_last_line(tmp_path: Path) -> None:
    log, checkpoint = checkpointed(tmp_path, (1, 2, 3))
    with log.open("ab") as f:
        f.write(audit_line(4))
    files = checkpoint["files"]
    assert isinstance(files, list)
    source = FollowedFile(str(log))
    source.restore(edited(checkpoint, offset=int(files[0]["offset"]) - 40))
    assert serials(source) == [4]  # not 1..4 again
    assert source.take_reread() == {}
    assert "found it at" in source.take_notes()[0]


def test_a_place_no_file_holds_is_read_from_the_start_and_counted(tmp_path: Path) -> None:
    log, checkpoint = checkpointed(tmp_path)
    replaced = tmp_path / "other"
    replaced.write_bytes(audit_line(7) + audit_line(8) + audit_line(9))  # other bytes, inode
    replaced.replace(log)
    source = FollowedFile(str(log))
    source.restore(checkpoint)
    assert serials(source) == [7, 8, 9]
    assert source.take_reread() == {"place_not_found": 2}  # the lines of the first offset bytes
    assert "read from its start" in source.take_notes()[0]


def test_a_truncation_of_unread_bytes_is_counted_lost_and_said(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(audit_line(1) + audit_line(2)[:40])  # the second line not complete yet
    source = FollowedFile(str(log))
    source.restore(None)
    assert serials(source) == [1]
    checkpoint = source.checkpoint()
    source.close()
    log.write_bytes(audit_line(9))  # truncated and rewritten while down, no copy kept
    source.restore(checkpoint)
    assert serials(source) == [9]
    assert source.take_lost() == {"rotation_gap": 1}
    [note] = source.take_notes()
    assert "40 bytes not read yet and no copy holds them" in note


def test_copytruncate_while_down_of_a_file_not_read_yet_reads_the_copy_whole(
    tmp_path: Path,
) -> None:
    # Down while behind: the checkpoint holds the renamed-away file part read and its successor
    # at offset 0; the successor is then rotated by copytruncate. The copy lies between the two
    # followed files: all of it is unread (the fault test met this under load).
    log = tmp_path / "a.log"
    log.write_bytes(audit_line(1) + audit_line(2))
    source = FollowedFile(str(log))
    source.restore(None)
    assert serials(source) == [1, 2]
    log.rename(tmp_path / "a.log.1")
    log.touch()
    assert serials(source) == []  # the switch: the new file at offset 0
    checkpoint = source.checkpoint()
    files = checkpoint["files"]
    assert isinstance(files, list) and files[-1]["offset"] == 0
    source.close()
    log.write_bytes(audit_line(3) + audit_line(4))
    (tmp_path / "a.log.1").rename(tmp_path / "a.log.2")
    (tmp_path / "a.log.1").write_bytes(log.read_bytes())
    os.truncate(log, 0)
    log.write_bytes(audit_line(5) + audit_line(6) + audit_line(7))
    source.restore(checkpoint)
    assert serials(source) + serials(source) == [3, 4, 5, 6, 7]
    assert source.take_lost() == {}
