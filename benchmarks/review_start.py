"""How long `aaprof review LOG` takes, in a real terminal, from the command to its first screen.

Usage:
    python benchmarks/review_start.py [--records N] [--distinct D] [--repeat K]

Runs `python -m aaprof review LOG --profiles <empty dir>` in a tmux window of 160×50 (a server of
its own), and polls the screen (`tmux capture-pane`, every 10 ms) until the first screen is up:
the status line's `N undecided` and the first rule's details. The time is the wall time from
starting tmux to that capture: interpreter start-up, imports, reading the log, suggesting and
drawing, everything a user waits for. The log is benchmarks/review_load.py's (100k records, about
5k suggestions), written once. Best of K (default 3).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generate_events import DEFAULT_SEED, generate

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "benchmarks" / "data" / "review"
SIZE = (160, 50)


def first_screen(log: Path, work: Path) -> float:
    """Seconds from the command to its first screen, in a tmux window."""
    tmux = shutil.which("tmux")
    if tmux is None:
        raise SystemExit("tmux is missing: apt-get install tmux (scripts/apt-test.txt lists it)")
    base = [tmux, "-S", str(work / "tmux.sock")]
    command = [sys.executable, "-m", "aaprof", "review", str(log), "--profiles", str(work / "out")]
    started = time.perf_counter()
    subprocess.run(
        [
            *base,
            "new-session",
            "-d",
            "-x",
            str(SIZE[0]),
            "-y",
            str(SIZE[1]),
            "-s",
            "start",
            "-c",
            str(REPO),
            "-e",
            "TERM=xterm-256color",
            *command,
        ],
        check=True,
    )
    try:
        while True:
            screen = subprocess.run(
                [*base, "capture-pane", "-p", "-t", "start"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            if " undecided" in screen and "rule: " in screen:
                return time.perf_counter() - started
            if time.perf_counter() - started > 120:
                raise SystemExit(f"no first screen after 120 s:\n{screen}")
            time.sleep(0.01)
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=6_200, help="about 5k suggestions")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    log = DATA / f"{args.records}-{args.distinct}" / "audit.log"
    if not log.exists():
        generate(log.parent, args.records, DEFAULT_SEED, args.distinct)
    times = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            times.append(first_screen(log, Path(tmp)))
    print(
        f"`aaprof review LOG` in tmux ({SIZE[0]}×{SIZE[1]}), command to first screen: "
        f"best {min(times):.2f} s of {len(times)} ({', '.join(f'{t:.2f}' for t in times)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
