"""The state database damaged, from another aaprof, on a full disk or a read-only directory.

Each ends with a one-line message naming the database and the way out, a non-zero exit (never a
signal), nothing replayed and nothing committed lost.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from aaprof.watch.state import DATABASE, VERSION
from watch.records import audit_line

FIXTURES = Path(__file__).parent / "fixtures"


def watch(log: Path, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aaprof", "watch", str(log), "--state", str(state), "--once"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def serials(out: str) -> list[int]:
    return [json.loads(line)["serial"] for line in out.splitlines()]


def counted(state: Path) -> float:
    conn = sqlite3.connect(state / DATABASE)
    try:
        row = conn.execute(
            "SELECT sum(value) FROM counts WHERE metric = 'aaprof_watch_records_total'"
        ).fetchone()
    finally:
        conn.close()
    return float(row[0] or 0)


def refused(result: subprocess.CompletedProcess[str], database: Path, *words: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert result.stdout == ""  # nothing replayed
    lines = result.stderr.strip().splitlines()
    message = lines[-1]
    assert message.startswith("aaprof: "), result.stderr
    assert "internal error" not in message
    assert str(database) in message
    for word in words:
        assert word in message, message


@pytest.fixture
def backfilled(tmp_path: Path) -> tuple[Path, Path]:
    """A log of 3 records read into a state directory."""
    log, state = tmp_path / "audit.log", tmp_path / "state"
    log.write_bytes(b"".join(audit_line(i) for i in (1, 2, 3)))
    first = watch(log, state)
    assert first.returncode == 0, first.stderr
    assert serials(first.stdout) == [1, 2, 3]
    return log, state


def test_a_zero_byte_state_file_is_refused_not_replayed(tmp_path: Path) -> None:
    log, state = tmp_path / "audit.log", tmp_path / "state"
    log.write_bytes(audit_line(1))
    state.mkdir()
    (state / DATABASE).write_bytes(b"")
    refused(watch(log, state), state / DATABASE, "empty", "mv ")


def test_a_file_that_is_no_database_is_refused(tmp_path: Path) -> None:
    log, state = tmp_path / "audit.log", tmp_path / "state"
    log.write_bytes(audit_line(1))
    state.mkdir()
    (state / DATABASE).write_bytes(b"not a database at all\n" * 400)
    refused(watch(log, state), state / DATABASE, "mv ")


def test_a_damaged_page_is_refused_at_start(backfilled: tuple[Path, Path]) -> None:
    log, state = backfilled
    database = state / DATABASE
    data = bytearray(database.read_bytes())
    assert len(data) >= 3 * 4096
    data[4096 + 8 : 3 * 4096] = b"\xa5" * (2 * 4096 - 8)  # pages 2 and 3: b-tree pages
    database.write_bytes(bytes(data))
    with log.open("ab") as f:
        f.write(audit_line(4))
    refused(watch(log, state), database, "damaged", "mv ")


def test_a_checkpoint_that_is_not_json_is_refused(backfilled: tuple[Path, Path]) -> None:
    log, state = backfilled
    conn = sqlite3.connect(state / DATABASE)
    with conn:
        conn.execute("UPDATE checkpoints SET data = '{\"files\": [' ")
    conn.close()
    refused(watch(log, state), state / DATABASE, f"file:{log}", "mv ")


def test_a_state_from_a_newer_aaprof_is_refused(backfilled: tuple[Path, Path]) -> None:
    log, state = backfilled
    conn = sqlite3.connect(state / DATABASE)
    conn.execute(f"PRAGMA user_version = {VERSION + 1}")
    conn.close()
    refused(watch(log, state), state / DATABASE, "newer", str(VERSION + 1))


# The state as aaprof 0.1 (commit c940db0, before schema versions) wrote it: made with
#   aaprof watch /tmp/aaprof-state-v0/audit.log --state /tmp/aaprof-state-v0/state --once
#       --node node-a
# from tests/watch/fixtures/state-v0/audit.log (= sample-logs/node-a/audit.log). The checkpoint
# names that path, and the file's device and inode then: here the file is a copy (another
# inode), found again by its last line.
V0_LOG = Path("/tmp/aaprof-state-v0/audit.log")


def test_a_state_from_the_first_release_is_migrated(tmp_path: Path) -> None:
    V0_LOG.parent.mkdir(exist_ok=True)
    staged = V0_LOG.with_name(f"audit.log.{tmp_path.name}")
    shutil.copyfile(FIXTURES / "state-v0" / "audit.log", staged)
    staged.replace(V0_LOG)  # atomic: another run of this test may be reading it
    state = tmp_path / "state"
    state.mkdir()
    shutil.copyfile(FIXTURES / "state-v0" / DATABASE, state / DATABASE)
    before = counted(state)
    assert before == 5
    result = watch(V0_LOG, state)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # everything was taken before the upgrade
    assert f"schema version 0 to {VERSION}" in result.stderr
    assert counted(state) == before
    conn = sqlite3.connect(state / DATABASE)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == VERSION
    conn.close()


@contextmanager
def mounted(args: list[str], target: Path) -> Iterator[None]:
    done = subprocess.run(
        ["mount", *args, str(target)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount here (needs root): {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_a_full_state_disk_ends_with_a_message_and_loses_nothing(tmp_path: Path) -> None:
    log, state = tmp_path / "audit.log", tmp_path / "state"
    state.mkdir()
    log.write_bytes(b"".join(audit_line(i) for i in range(1, 101)))
    with mounted(["-t", "tmpfs", "-o", "size=1m", "tmpfs"], state):
        first = watch(log, state)
        assert first.returncode == 0, first.stderr
        assert counted(state) == 100
        filler = state / "filler"
        with filler.open("wb", buffering=0) as f, pytest.raises(OSError):  # until the disk is full
            while True:
                f.write(b"\0" * 4096)
        # Many new label sets: the batch needs pages the disk no longer has.
        with log.open("ab") as f:
            for i in range(101, 3001):
                f.write(audit_line(i, profile=f"aaprof.ns.pod-{i % 400}.c"))
        full = watch(log, state)
        assert full.returncode == 1, (full.returncode, full.stderr)
        message = full.stderr.strip().splitlines()[-1]
        assert "internal error" not in message
        assert str(state / DATABASE) in message and "full" in message, message
        assert counted(state) == 100  # what was committed is there
        filler.unlink()
        again = watch(log, state)
        assert again.returncode == 0, again.stderr
        assert counted(state) == 3000  # each record once


def test_a_read_only_state_directory_ends_with_a_message(backfilled: tuple[Path, Path]) -> None:
    log, state = backfilled
    with log.open("ab") as f:
        f.write(audit_line(4))
    with mounted(["--bind", str(state)], state):
        remount = subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(state)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert remount.returncode == 0, remount.stderr
        result = watch(log, state)
        assert result.returncode == 1, (result.returncode, result.stderr)
        message = result.stderr.strip().splitlines()[-1]
        assert "internal error" not in message
        assert str(state / DATABASE) in message and "writable" in message, message
        assert result.stdout == ""  # nothing read before the state was known writable
    assert counted(state) == 3
    again = watch(log, state)
    assert again.returncode == 0, again.stderr
    assert serials(again.stdout) == [4]
    assert counted(state) == 4


def test_a_place_not_found_again_is_said_and_counted(backfilled: tuple[Path, Path]) -> None:
    log, state = backfilled
    other = log.with_name("other")
    other.write_bytes(b"".join(audit_line(i) for i in (7, 8, 9, 10)))  # no line read before
    other.replace(log)
    result = watch(log, state)
    assert result.returncode == 0, result.stderr
    assert serials(result.stdout) == [7, 8, 9, 10]
    assert "may have been read before (counted as re-read)" in result.stderr
    conn = sqlite3.connect(state / DATABASE)
    rows = conn.execute(
        "SELECT labels, value FROM counts WHERE metric = 'aaprof_watch_records_reread_total'"
    ).fetchall()
    conn.close()
    assert rows == [(json.dumps([f"file:{log}", "place_not_found"]), 3.0)]


def test_the_state_is_not_in_wal_mode(backfilled: tuple[Path, Path]) -> None:
    """WAL's index is a memory-mapped file: a page the disk cannot back is a SIGBUS."""
    _, state = backfilled
    header = (state / DATABASE).read_bytes()[:100]
    assert header[18:20] == b"\x01\x01"  # the file format of a rollback journal (WAL: 2, 2)
    assert not (state / f"{DATABASE}-shm").exists()


def test_a_state_directory_made_read_only_mid_run_ends_with_a_message(tmp_path: Path) -> None:
    from aaprof.errors import AaprofError
    from aaprof.watch.run import Options, build

    log, state = tmp_path / "audit.log", tmp_path / "state"
    log.write_bytes(audit_line(1))
    daemon = build(Options(logs=[str(log)], state=state, proc_root=tmp_path), io.BytesIO(), print)
    try:
        daemon.start()
        assert daemon.step(daemon.sources[0])  # committed
        # A read-only mount over the directory: what watch opens there from now on (the
        # journal of the next transaction) is on it.
        with mounted(["--bind", str(state)], state):
            remount = subprocess.run(
                ["mount", "-o", "remount,bind,ro", str(state)],
                capture_output=True,
                text=True,
                check=False,
            )
            assert remount.returncode == 0, remount.stderr
            with log.open("ab") as f:
                f.write(audit_line(2))
            with pytest.raises(AaprofError) as raised:
                daemon.step(daemon.sources[0])
            daemon.state.close()
    finally:
        daemon.state.close()
        for source in daemon.sources:
            source.close()
    message = str(raised.value)
    assert str(state / DATABASE) in message and "writable" in message, message
    assert counted(state) == 1  # what was committed is there


@pytest.mark.parametrize(
    "data",
    [
        '{"files": [{"dev": "x"}]}',
        '{"files": "no list"}',
        '{"files": [{"path": "a", "dev": 1, "ino": 2, "offset": -5, "line": 0, "tail": ""}]}',
        '{"files": [{"path": "a", "dev": 1, "ino": 2, "offset": 0, "line": 0, "tail": "zz"}]}',
    ],
)
def test_a_checkpoint_watch_did_not_write_is_refused(
    backfilled: tuple[Path, Path], data: str
) -> None:
    log, state = backfilled
    conn = sqlite3.connect(state / DATABASE)
    with conn:
        conn.execute("UPDATE checkpoints SET data = ?", (data,))
    conn.close()
    refused(watch(log, state), state / DATABASE, f"file:{log}", "mv ")


def _damages() -> list[tuple[str, Callable[[bytearray], bytearray]]]:
    def at(offset: int, data: bytes) -> Callable[[bytearray], bytearray]:
        def damage(db: bytearray) -> bytearray:
            db[offset : offset + len(data)] = data
            return db

        return damage

    cases: list[tuple[str, Callable[[bytearray], bytearray]]] = [
        ("magic", at(0, b"SQLite format 2\0")),
        ("page size", at(16, b"\x00\x03")),
        ("format versions", at(18, b"\x07\x07")),
        ("page count", at(28, b"\xff\xff\xff\x00")),
        ("schema cookie", at(40, b"\x00\x00\x00\x00")),
        ("schema format", at(44, b"\x00\x00\x00\x09")),
        ("text encoding", at(56, b"\x00\x00\x00\x05")),
        ("truncated to a page and a half", lambda db: db[: 4096 + 2048]),
        ("truncated to 100 bytes", lambda db: db[:100]),
        ("schema page zeroed", at(100, bytes(4096 - 100))),
        ("junk appended", lambda db: db + b"\x5a" * 5000),
    ]
    for page in (1, 2, 3, 4):
        cases.append((f"page {page + 1} zeroed", at(page * 4096, bytes(4096))))
        cases.append((f"page {page + 1} garbage", at(page * 4096, bytes([0xA5]) * 4096)))
        cases.append((f"page {page + 1} type byte", at(page * 4096, b"\x0b")))
    return cases


DAMAGES = _damages()


@pytest.mark.parametrize("damage", [d for _, d in DAMAGES], ids=[n for n, _ in DAMAGES])
def test_a_damaged_database_is_refused_or_read_never_a_crash(
    backfilled: tuple[Path, Path], damage: Callable[[bytearray], bytearray]
) -> None:
    log, state = backfilled
    database = state / DATABASE
    database.write_bytes(bytes(damage(bytearray(database.read_bytes()))))
    with log.open("ab") as f:
        f.write(audit_line(4))
    result = watch(log, state)
    if result.returncode == 0:  # damage SQLite does not need (free space, a stale cookie)
        assert serials(result.stdout) == [4]
        assert counted(state) == 4
        return
    refused(result, database, "mv ")
