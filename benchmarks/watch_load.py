"""Load benchmark of `aaprof watch` (not a timed test): a writer appends realistic audit records
to a log at a fixed rate; watch follows it. Reported: the lag from the write of a record to its
JSON line on watch's stdout (p50/p99/max), watch's CPU time (user + system) per record, its peak
RSS, and whether the committed counts equal the records written. The reference in the same run
is `tail -F` on the same file, whose lag is measured the same way (a follower that does no work).

Two mixes (`--mix`): `repeating`, 40 workloads' records over 300 processes and 200 paths, where
almost every record repeats an earlier one but for its stamp and pid; and `distinct`, where every
record is drawn afresh (other profiles, stacked labels, temp-file and hex-encoded names,
commands): no record repeats another once stamp and pid are set aside.

Usage:
    .venv/bin/python benchmarks/watch_load.py [--mix distinct] [--rate 10000] [--seconds 60]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aaprof.watch.metrics import RECORDS  # noqa: E402
from aaprof.watch.state import State  # noqa: E402

_STAMP = re.compile(rb"audit\((\d+)\.(\d+):")
OPERATIONS = (
    ('operation="open" class="file"', 'name="{path}" requested_mask="r" denied_mask="r"'),
    ('operation="exec" class="file"', 'name="{path}" requested_mask="x" denied_mask="x"'),
    ('operation="capable" class="cap"', 'capability=12 capname="net_admin"'),
    (
        'operation="create" class="net"',
        'family="inet" sock_type="raw" protocol=1 requested_mask="create" denied_mask="create"',
    ),
)


def records(rng: random.Random) -> Callable[[int, float], bytes]:
    """A maker of realistic records: 40 workloads' profiles, 300 processes, 200 paths."""
    profiles = [f"aaprof.ns{i % 8}.app{i}-7d9f8c6b5d-x2x4z.main" for i in range(40)]
    pids = [rng.randrange(10_000, 4_000_000) for _ in range(300)]
    paths = [f"/var/lib/app{i}/data/{i * 7}.db" for i in range(200)]
    mode = ("DENIED", "DENIED", "DENIED", "ALLOWED")

    def make(serial: int, stamp: float) -> bytes:
        operation, rest = OPERATIONS[serial % len(OPERATIONS)]
        ms = int(stamp * 1000)
        return (
            f"type=AVC msg=audit({ms // 1000}.{ms % 1000:03d}:{serial}): "
            f'apparmor="{mode[serial % 4]}" {operation} profile="{profiles[serial % 40]}" '
            f"{rest.format(path=paths[(serial * 7) % 200])} pid={pids[(serial * 13) % 300]} "
            f'comm="worker" fsuid=1000 ouid=0\n'
        ).encode()

    return make


def distinct_records(rng: random.Random) -> Callable[[int, float], bytes]:
    """A maker of records that do not repeat: each draws its profile (some stacked), its
    file's name (a temp file, some hex-encoded as the kernel writes a name with a space),
    its command and its process afresh."""

    def word(n: int) -> str:
        return f"{rng.getrandbits(4 * n):0{n}x}"

    def make(serial: int, stamp: float) -> bytes:
        operation, rest = OPERATIONS[serial % len(OPERATIONS)]
        ms = int(stamp * 1000)
        profile = f'"aaprof.ns{rng.randrange(50)}.{word(6)}-{word(10)}-{word(5)}.{word(4)}"'
        if rng.random() < 0.1:  # a stacked label
            profile = f'"{profile[1:-1]}//&k8s-{word(5)}"'
        name = f"/tmp/tmp.{word(10)}/{word(8)}.{serial}"
        quoted = f'"{name}"'
        if rng.random() < 0.05:  # a name with a space: the kernel writes it hex-encoded
            quoted = (name + " x").encode().hex().upper()
        return (
            f"type=AVC msg=audit({ms // 1000}.{ms % 1000:03d}:{serial}): "
            f'apparmor="{("DENIED", "ALLOWED")[serial % 4 == 3]}" {operation} profile={profile} '
            f"{rest.replace(chr(34) + '{path}' + chr(34), quoted)} "
            f'pid={rng.randrange(10_000, 4_000_000)} comm="{word(7)}" '
            f"fsuid={rng.randrange(2000)} ouid={rng.randrange(2000)}\n"
        ).encode()

    return make


MIXES = {"repeating": records, "distinct": distinct_records}


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Lags:
    """Reads a follower's output, one line per record, noting now − the record's stamp."""

    def __init__(self, stream: IO[bytes], stamp: Callable[[bytes], float | None]) -> None:
        self.lags: list[float] = []
        self.stream, self.stamp = stream, stamp
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        for line in self.stream:
            stamp = self.stamp(line)
            if stamp is not None:
                self.lags.append(time.time() - stamp)


def json_stamp(line: bytes) -> float | None:
    epoch = json.loads(line).get("epoch")
    return float(epoch) if epoch is not None else None


def text_stamp(line: bytes) -> float | None:
    match = _STAMP.search(line)
    return int(match[1]) + int(match[2]) / 1000 if match else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(rate: int, seconds: int, tmp: Path, mix: str = "repeating") -> dict[str, object]:
    log, state, proc_root = tmp / "audit.log", tmp / "state", tmp / "proc"
    log.touch()
    proc_root.mkdir()
    watch = subprocess.Popen(
        [sys.executable, "-m", "aaprof", "watch", str(log), "--state", str(state),
         "--proc-root", str(proc_root), "--poll", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    assert watch.stdout is not None and watch.stderr is not None
    watch.stderr.readline()  # "following ...": started
    tail_exe = shutil.which("tail")
    assert tail_exe is not None
    tail = subprocess.Popen([tail_exe, "-F", "-n", "0", str(log)], stdout=subprocess.PIPE)
    assert tail.stdout is not None
    watch_lags, tail_lags = Lags(watch.stdout, json_stamp), Lags(tail.stdout, text_stamp)
    make = MIXES[mix](random.Random(10))
    total = rate * seconds
    tick = 0.01
    per_tick = max(rate * tick, 1)
    start = time.time()
    written = 0
    with log.open("ab", buffering=0) as out:
        while written < total:
            due = min(int((time.time() - start) / tick * per_tick) + 1, total)
            if due > written:
                now = time.time()
                out.write(b"".join(make(s, now) for s in range(written, due)))
                written = due
            time.sleep(tick / 2)
    write_seconds = time.time() - start
    for _ in range(1200):  # until every line is out (or two minutes)
        if len(watch_lags.lags) >= total and len(tail_lags.lags) >= total:
            break
        time.sleep(0.1)
    rss = peak_rss_mb(watch.pid)
    cpu = cpu_seconds(watch.pid)
    watch.send_signal(signal.SIGTERM)
    watch.wait(timeout=120)
    tail.terminate()
    tail.wait()
    db = State(state)
    counted = sum(db.counts().get(RECORDS, {}).values())
    db.close()
    result: dict[str, object] = {
        "mix": mix,
        "rate": rate,
        "seconds": seconds,
        "written": total,
        "write_seconds": round(write_seconds, 2),
        "watch_lines": len(watch_lags.lags),
        "tail_lines": len(tail_lags.lags),
        "counted": counted,
        "counts_exact": counted == total,
        "peak_rss_mb": round(rss, 1),
        "watch_cpu_s": round(cpu, 2),
        # (per record written out: a watch that fell behind has not read them all)
        "watch_cpu_us_per_record": round(cpu / max(len(watch_lags.lags), 1) * 1e6, 1),
    }
    for name, lags in (("watch", watch_lags.lags), ("tail", tail_lags.lags)):
        for q in (0.5, 0.99):
            result[f"{name}_lag_p{int(q * 100)}_s"] = round(percentile(lags, q), 3)
        result[f"{name}_lag_max_s"] = round(max(lags, default=float("nan")), 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mix", choices=sorted(MIXES), default="repeating")
    parser.add_argument("--rate", type=int, default=10_000, help="records per second")
    parser.add_argument("--seconds", type=int, default=60, help="how long the writer writes")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aaprof-watch-load-") as tmp:
        result = run(args.rate, args.seconds, Path(tmp), args.mix)
    for key, value in result.items():
        print(f"{key:>22}: {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
