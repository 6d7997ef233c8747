"""Measuring one child process: wall time, its peak RSS, and the peak RSS of its whole tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TIME = shutil.which("time", path="/usr/bin:/bin")  # GNU time, not the shell keyword
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
SAMPLE_SECONDS = 0.1  # a sample costs ~2 ms of CPU: 2% of a core at this rate


@dataclass(frozen=True, slots=True)
class Run:
    """One run of a command."""

    seconds: float
    rss_mb: float  # the largest ru_maxrss of any one process of the command
    tree_rss_mb: float  # the largest sampled sum of RSS over the command's processes
    exit_code: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user + system time of the command and the children it waited for


def parents() -> dict[int, int]:
    """pid → parent pid for every process (no /proc/PID/task/TID/children on every kernel)."""
    table = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:  # exited while we looked
                continue
            table[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return table


def tree_rss_kb(root: int, include_root: bool) -> int:
    """The summed resident set of `root`'s descendants (and of `root` if asked), in KB."""
    table = parents()
    members, frontier = set(), {root}
    while frontier:
        members |= frontier
        frontier = {pid for pid, ppid in table.items() if ppid in frontier} - members
    if not include_root:
        members.discard(root)
    total = 0
    for pid in members:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
        except (OSError, IndexError, ValueError):
            continue
    return total


class TreeSampler:
    """Samples a process tree's summed RSS every SAMPLE_SECONDS in a thread; keeps the peak."""

    def __init__(self, root: int, include_root: bool) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(root, include_root), daemon=True)
        self._thread.start()

    def _run(self, root: int, include_root: bool) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(root, include_root))
            self._stop.wait(SAMPLE_SECONDS)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kb


def run_once(argv: tuple[str, ...], keep_output: bool) -> Run:
    """Run a command once (stdout to /dev/null unless kept) and measure it.

    A child made by fork/vfork starts with the runner's RSS high-water mark, so `ru_maxrss` from
    `os.wait4` on a direct child is never below the runner's own (~15 MB). GNU time, a small C
    parent, reports its child's `ru_maxrss` from wait4 without that floor; it is used when
    present. `ru_maxrss` is the largest of the processes, not their sum: for a command that
    forks workers, the sampled tree sum is the figure that says what the node must have free.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as rss,
    ):
        stdout = out if keep_output else subprocess.DEVNULL
        wrapped = [TIME, "-f", "%M", "-o", rss.name, *argv] if TIME else list(argv)
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=stdout, stderr=err, stdin=subprocess.DEVNULL)
        sampler = TreeSampler(proc.pid, include_root=TIME is None)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        tree_kb = sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        kilobytes = int(rss.read().split()[-1]) if TIME else usage.ru_maxrss
        out.seek(0)
        err.seek(0)
        return Run(
            seconds,
            kilobytes / 1024,
            max(tree_kb, kilobytes) / 1024,  # a short-lived peak can fall between samples
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace")[-2000:],
            usage.ru_utime + usage.ru_stime,
        )
