"""Following journal files that systemd-journal-remote writes, across a restart: each entry once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from aaprof.watch.metrics import RECORDS
from aaprof.watch.state import State
from watch.records import JOURNAL_REMOTE, audit_entry, journal_export, kernel_entry, write_journal


def start(journal: Path, state: Path, *extra: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "aaprof", "watch", "--journal-path", str(journal),
         "--state", str(state), "--proc-root", str(state.parent), "--poll", "0.02", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    assert b"following journal:" in proc.stderr.readline()
    return proc


def serials_read(proc: subprocess.Popen[bytes], count: int) -> list[int]:
    """The serials of the next `count` output lines (blocks until they are written)."""
    assert proc.stdout is not None
    return [int(json.loads(proc.stdout.readline())["serial"]) for _ in range(count)]


def test_journal_followed_by_cursor_across_a_restart(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    journal.mkdir()
    state = tmp_path / "state"
    write_journal(journal / "remote-1.journal", range(1, 301))

    first = start(journal, state)
    got = serials_read(first, 300)
    # A second file appears while watch runs: followed too.
    write_journal(journal / "remote-2.journal", range(301, 601))
    got += serials_read(first, 300)
    first.send_signal(signal.SIGTERM)
    rest, err = first.communicate(timeout=60)
    assert first.returncode == 0, err.decode()
    got += [int(json.loads(line)["serial"]) for line in rest.splitlines()]

    # Written while watch is down: read after the restart, and nothing before it again.
    write_journal(journal / "remote-3.journal", range(601, 901))
    second = start(journal, state, "--once")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode()
    got += [int(json.loads(line)["serial"]) for line in out.splitlines()]

    assert sorted(got) == list(range(1, 901))  # every entry, each once
    db = State(state)
    counts = db.counts()
    db.close()
    assert sum(counts[RECORDS].values()) == 900


def test_both_transports_of_one_record_count_once(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    journal.mkdir()
    entries = [e for s in range(1, 51) for e in (audit_entry(s), kernel_entry(s))]
    if not Path(JOURNAL_REMOTE).exists():
        pytest.fail(f"{JOURNAL_REMOTE} is missing: apt-get install systemd-journal-remote")
    subprocess.run(
        [JOURNAL_REMOTE, f"--output={journal / 'remote.journal'}", "-"],
        input=journal_export(entries),
        check=True,
        capture_output=True,
        timeout=120,
    )
    proc = start(journal, tmp_path / "state", "--once")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert sorted(int(json.loads(line)["serial"]) for line in out.splitlines()) == list(
        range(1, 51)
    )
