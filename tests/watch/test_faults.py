"""Faults on files: 100k records through logrotate-style rotation (create and copytruncate), a
truncation and 5 SIGKILLs at seeded random points. The union of the outputs holds every record,
a repeated record has the same identity, the counts are exact and nothing is counted lost.

What is asserted is what the checkpoint protocol guarantees, whatever the timing: the writer
only truncates once the committed checkpoint shows everything was read (a truncation of unread
data is a loss no reader can avoid), and the last run reads until it is caught up.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from prometheus_client.parser import text_string_to_metric_families

from aaprof.watch.exposition import exposition, registry_for
from aaprof.watch.metrics import LOST, RECORDS, Metrics
from aaprof.watch.state import State
from watch.records import audit_line

RECORDS_N = 100_000
CHUNK = 500
KILLS = 5


class Watch:
    """The watch process, restarted after each kill; each run's stdout kept in its own file."""

    def __init__(self, tmp: Path, log: Path) -> None:
        self.tmp, self.log = tmp, log
        self.state = tmp / "state"
        self.runs: list[Path] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.out: IO[bytes] | None = None
        (tmp / "proc").mkdir()

    def args(self) -> list[str]:
        return [
            sys.executable, "-m", "aaprof", "watch", str(self.log),
            "--state", str(self.state), "--proc-root", str(self.tmp / "proc"),
            "--log-root", str(self.tmp), "--poll", "0.02",
        ]  # fmt: skip

    def start(self, once: bool = False) -> None:
        path = self.tmp / f"run{len(self.runs)}.jsonl"
        self.runs.append(path)
        self.out = path.open("wb")
        self.proc = subprocess.Popen(
            self.args() + (["--once"] if once else []), stdout=self.out, stderr=subprocess.PIPE
        )
        assert self.proc.stderr is not None
        # Started (signal handlers installed, checkpoint restored) once it says what it follows.
        assert b"following" in self.proc.stderr.readline()

    def wait_output(self) -> None:
        """Until this run has written a line (or exited, which the test then sees)."""
        assert self.proc is not None
        while self.runs[-1].stat().st_size == 0 and self.proc.poll() is None:
            time.sleep(0.01)

    def kill(self) -> None:
        assert self.proc is not None and self.out is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.out.close()

    def finish(self) -> None:
        """SIGTERM the running watch, then read the rest with --once."""
        assert self.proc is not None and self.out is not None
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, err.decode()
        self.out.close()
        self.start(once=True)
        _, err = self.proc.communicate(timeout=300)
        assert self.proc.returncode == 0, err.decode()
        self.out.close()

    def committed_offset(self) -> int | None:
        """The current file's offset in the committed checkpoint."""
        if not (self.state / "watch.sqlite").exists():
            return None
        conn = sqlite3.connect(self.state / "watch.sqlite")
        try:
            row = conn.execute("SELECT data FROM checkpoints").fetchone()
        except sqlite3.OperationalError:
            return None
        finally:
            conn.close()
        if row is None:
            return None
        ino = os.stat(self.log).st_ino
        for f in json.loads(row[0])["files"]:
            if f["ino"] == ino:
                return int(f["offset"])
        return None


def rotate_create(log: Path) -> None:
    shift(log)
    log.rename(log.with_name(log.name + ".1"))
    log.touch()


def rotate_copytruncate(log: Path) -> None:
    shift(log)
    shutil.copyfile(log, log.with_name(log.name + ".1"))
    with log.open("r+b") as f:
        f.truncate(0)


def shift(log: Path) -> None:
    names = sorted(log.parent.glob(log.name + ".*"), key=lambda p: -int(p.suffix[1:]))
    for path in names:
        path.rename(log.with_name(f"{log.name}.{int(path.suffix[1:]) + 1}"))


def test_no_record_lost_or_counted_twice_across_rotation_truncation_and_kills(
    tmp_path: Path,
) -> None:
    rng = random.Random(20261205)
    chunks = RECORDS_N // CHUNK
    points = rng.sample(range(1, chunks), KILLS + 4)
    kills = set(points[:KILLS])
    creates = set(points[KILLS : KILLS + 2])
    copytruncate = points[KILLS + 2]
    truncate = points[KILLS + 3]

    log = tmp_path / "audit.log"
    log.touch()
    watch = Watch(tmp_path, log)
    watch.start()
    serial = 0
    for chunk in range(chunks):
        if chunk in creates:
            rotate_create(log)
        if chunk == copytruncate:
            rotate_copytruncate(log)
        if chunk == truncate:
            size = log.stat().st_size
            while watch.committed_offset() != size:  # read and committed: a protocol state
                time.sleep(0.05)
            os.truncate(log, 0)
        with log.open("ab") as out:
            out.write(b"".join(audit_line(serial + i) for i in range(CHUNK)))
        serial += CHUNK
        if chunk in kills:
            watch.wait_output()  # kill it while it reads: it has written lines, more are due
            watch.kill()
            watch.start()
    watch.finish()

    seen: dict[int, tuple[object, object]] = {}
    lines = 0
    for run in watch.runs:
        data = run.read_bytes()
        # A run killed in the middle of a write leaves its last line without its newline: not a
        # line (its record was not committed and comes again in the next run).
        for raw in data[: data.rfind(b"\n") + 1].splitlines():
            event = json.loads(raw)
            lines += 1
            identity = (event.get("node"), event["epoch"])
            assert seen.setdefault(event["serial"], identity) == identity
    assert set(seen) == set(range(RECORDS_N))
    assert lines >= RECORDS_N

    state = State(watch.state)
    counts = state.counts()
    state.close()
    assert sum(counts[RECORDS].values()) == RECORDS_N
    assert sum(counts.get(LOST, {}).values()) == 0
    metrics = Metrics(counts)
    metrics.declare(f"file:{log}", ("rotation_gap", "audit_lost"))  # as the daemon does
    text = exposition(registry_for(metrics, process=False)).decode()
    lost = [
        (s.labels, s.value)
        for f in text_string_to_metric_families(text)
        if f.name == "aaprof_watch_records_lost"
        for s in f.samples
        if s.name.endswith("_total")
    ]
    assert lost == [
        ({"source": f"file:{log}", "reason": "audit_lost"}, 0.0),
        ({"source": f"file:{log}", "reason": "rotation_gap"}, 0.0),
    ]
