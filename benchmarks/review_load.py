"""How fast `aaprof review` opens 100k records / ~5k suggestions and handles a key.

Usage:
    python benchmarks/review_load.py [--records N] [--distinct D] [--write-docs]

Writes (once, deterministic) benchmarks/data/review/audit.log with generate_events.py, then:
- reads it into a Session (the engine alone: what `aaprof generate --check` does), the reference;
- opens the review on that session at 160×50 and times the first screen (mounted, laid out,
  drawn: `App.run_test` returns once the first frame is up);
- presses keys in the running app and times each press until the app is idle again (the
  pilot's `press`: the key handled and the screen redrawn; wall time, and the CPU time of the
  process, which leaves out waiting for the frame timer and for other processes), against a
  key bound to nothing (`z`: Textual's own cost per key) in the same run.
`--write-docs` replaces the review section of docs/performance.md with the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from generate_events import DEFAULT_SEED, generate

from aaprof.engine import Session
from aaprof.logs.sources import expand
from aaprof.tui.app import ReviewApp

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "benchmarks" / "data" / "review"
DOC = REPO / "docs" / "performance.md"
START, END = "<!-- review-benchmark:start -->", "<!-- review-benchmark:end -->"
SIZE = (160, 50)
KEYS = (  # (what, keys pressed once per sample, samples)
    ("no binding (z): Textual's cost per key", ("z",), 30),
    ("down: the next rule", ("down",), 30),
    ("a: allow, on to the next rule", ("a",), 30),
    ("g: glob (widen)", ("g",), 20),
    ("u: undo", ("u",), 20),
    ("i: ignore", ("i",), 20),
    ("s: severity filter (all rows redrawn)", ("s",), 6),
)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


Samples = list[tuple[float, float]]  # (wall, CPU) seconds per press


async def drive(session: Session) -> tuple[float, list[tuple[str, Samples]]]:
    app = ReviewApp(session)
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first = time.perf_counter() - started
        results = []
        for what, keys, samples in KEYS:
            times = []
            for _ in range(samples):
                t, cpu = time.perf_counter(), time.process_time()
                await pilot.press(*keys)
                times.append((time.perf_counter() - t, time.process_time() - cpu))
            results.append((what, times))
    return first, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=6_200, help="about 5k suggestions")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    log = DATA / f"{args.records}-{args.distinct}" / "audit.log"
    if not log.exists():
        generate(log.parent, args.records, DEFAULT_SEED, args.distinct)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        session = Session.read(expand([str(log)]), Path(tmp))
        read = time.perf_counter() - t
        first, results = asyncio.run(drive(session))
    suggestions = sum(len(ps.suggestions) for ps in session.suggestions)
    noop = statistics.median(wall for wall, _ in dict(results)[KEYS[0][0]])
    lines = [
        START,
        f"`python benchmarks/review_load.py` ({session.stats.records:,} records in "
        f"{log.stat().st_size / 2**20:.0f} MiB, {session.learned:,} learned from, "
        f"{suggestions:,} suggestions in {len(session.profiles())} profiles; {SIZE[0]}×{SIZE[1]}):",
        "",
        "| step | time | against the reference |",
        "|---|---:|---:|",
        f"| read the log into a Session (the engine: the reference) | {read:.2f} s | 1.00 |",
        f"| the review's first screen, once read | {first:.2f} s | {first / read:.2f} |",
        f"| both: `aaprof review LOG` until the first screen | {read + first:.2f} s | "
        f"{(read + first) / read:.2f} |",
        "",
        "| key (pressed, handled, redrawn) | median ms | p95 ms | CPU ms, median "
        "| against no binding |",
        "|---|---:|---:|---:|---:|",
    ]
    for what, samples in results:
        times = [wall for wall, _ in samples]
        p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]
        median = statistics.median(times)
        cpu = statistics.median(c for _, c in samples)
        lines.append(f"| {what} | {ms(median)} | {ms(p95)} | {ms(cpu)} | {median / noop:.2f} |")
    lines.append(END)
    section = "\n".join(lines)
    print(section)
    if args.write_docs:
        text = DOC.read_text()
        if START in text:
            head, _, rest = text.partition(START)
            text = head + section + rest.partition(END)[2]
        else:
            text = text.rstrip("\n") + "\n\n## aaprof review: opening and keys\n\n" + section + "\n"
        DOC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
