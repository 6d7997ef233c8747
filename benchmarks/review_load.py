"""How fast `aaprof review` opens 100k records / ~5k suggestions and handles a key.

Usage:
    python benchmarks/review_load.py [--records N] [--distinct D] [--write-docs] [--profile KEY]

Writes (once, deterministic) benchmarks/data/review/audit.log with generate_events.py, then:
- reads it into a Session (the engine alone: what `aaprof generate --check` does), the reference;
- opens the review on that session at 160×50 and times the first screen (mounted, laid out,
  drawn: `App.run_test` returns once the first frame is up);
- presses keys in the running app and times each from the key sent to the last frame it made
  written (`key_to_frame.FrameClock`: the waiting that tells the app is done is not counted),
  wall and CPU time of the process, against the same measure in a Textual app that changes
  one line on a key (`key_to_frame.Reference`, same size, same run);
- presses the same keys through Textual's pilot (`pilot.press`), as the first version of this
  benchmark did: that time includes the pilot's own sleeps after each key (two
  `wait_for_idle(0)`, at least 20 ms each), against a key bound to nothing (`z`).
`--profile KEY` prints a cProfile of the app's CPU (process time) on KEY's presses.
`--write-docs` replaces the review section of docs/performance.md with the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from generate_events import DEFAULT_SEED, generate
from key_to_frame import FrameClock, Press, Reference

from aaprof.engine import Session
from aaprof.engine import review as r
from aaprof.logs.sources import expand
from aaprof.tui.app import ReviewApp
from aaprof.tui.rules import RuleList

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "benchmarks" / "data" / "review"
DOC = REPO / "docs" / "performance.md"
START, END = "<!-- review-benchmark:start -->", "<!-- review-benchmark:end -->"
SIZE = (160, 50)
TYPED = ("n", "g", "i", "n", "x", *["backspace"] * 5)  # typed into the filter, then erased


@dataclass(frozen=True)
class Case:
    """Keys timed in turn (one per sample); the others are pressed untimed: `before` the
    samples, `between` before each one, `after` them."""

    what: str
    keys: tuple[str, ...]
    samples: int
    before: tuple[str, ...] = ()
    between: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


CASES = (
    Case("no binding (z): Textual's cost per key", ("z",), 30),
    Case("down: the next rule", ("down",), 30),
    Case("a: allow, on to the next rule", ("a",), 30),
    Case("g: glob (widen)", ("g",), 20),
    Case("u: undo", ("u",), 20),
    Case("i: ignore", ("i",), 20),
    Case("s: severity filter (all rows redrawn)", ("s",), 12),
    Case("a character typed in the filter (all rows listed again)", TYPED, 10, ("slash",)),
    Case("Enter in the filter: back to the rules (focus moves)", ("enter",), 8,
         between=("slash", "backspace", "x"), after=("slash", "backspace", "escape")),
    Case("/ then Esc: the filter box opened and closed (layouts)", ("slash", "escape"), 10),
    Case("p: show, hide the profile's diff (layouts)", ("p",), 6),
    Case("down with the diff shown", ("down",), 20, ("p",), after=("p",)),
)  # fmt: skip


def ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.1f}"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def timed(presses: list[Press], ref: float) -> str:
    """The table cells of one key's presses: frames per press, key to frame (wall: median and
    p95; CPU: median and p95), the median against the reference's."""
    drew = sorted({p.frames for p in presses})
    frames = str(drew[0]) if len(drew) == 1 else f"{drew[0]}–{drew[-1]}"
    walls = [p.wall for p in presses if p.wall is not None]
    cpus = [p.cpu for p in presses if p.cpu is not None]
    if not walls:
        return f"{frames} | no frame: the screen does not change | — | — | — | —"
    median = statistics.median(walls)
    return (
        f"{frames} | {ms(median)} | {ms(p95(walls))} | {ms(statistics.median(cpus))} "
        f"| {ms(p95(cpus))} | {median / ref:.2f}"
    )


@dataclass
class Key:
    """One key's samples: the probe's (key to frame) and the pilot's (`pilot.press`)."""

    what: str
    frames: list[Press] = field(default_factory=list)
    pilot: list[tuple[float, float]] = field(default_factory=list)  # (wall, CPU) seconds


async def reference(samples: int = 30) -> list[Press]:
    """Key to frame in the reference app (`key_to_frame.Reference`), same size."""
    app = Reference()
    clock = FrameClock(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        return [await clock.press(pilot, "x") for _ in range(samples)]


async def drive(
    session: Session, profile: str | None = None
) -> tuple[float, list[Key], cProfile.Profile | None]:
    app = ReviewApp(session)
    clock = FrameClock(app)
    profiler = cProfile.Profile(time.process_time) if profile else None
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first = time.perf_counter() - started
        results = []
        for case in CASES:
            keys = case.keys
            for key in case.before:
                await clock.press(pilot, key)
            if keys == ("g",):  # on a rule with globs to widen to (else g only says there is none)
                table = app.query_one("#rules", RuleList)
                globs = (
                    i
                    for i, row in enumerate(app.shown)
                    if i >= table.cursor and r.cycle(row, r.GLOBS) is not None
                )
                table.cursor = next(globs, table.cursor)
            result = Key(case.what)
            for i in range(case.samples):
                for key in case.between:
                    await clock.press(pilot, key)
                key = keys[i % len(keys)]
                if profiler is not None and key == profile:
                    profiler.enable()
                result.frames.append(await clock.press(pilot, key))
                if profiler is not None:
                    profiler.disable()
            for i in range(case.samples):  # the same keys, timed through the pilot
                for key in case.between:
                    await pilot.press(key)
                t, cpu = time.perf_counter(), time.process_time()
                await pilot.press(keys[i % len(keys)])
                result.pilot.append((time.perf_counter() - t, time.process_time() - cpu))
            for key in case.after:
                await clock.press(pilot, key)
            results.append(result)
    return first, results, profiler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=6_200, help="about 5k suggestions")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--profile", metavar="KEY", help="profile the app's CPU on KEY's presses (cProfile)"
    )
    args = parser.parse_args(argv)
    log = DATA / f"{args.records}-{args.distinct}" / "audit.log"
    if not log.exists():
        generate(log.parent, args.records, DEFAULT_SEED, args.distinct)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        session = Session.read(expand([str(log)]), Path(tmp))
        read = time.perf_counter() - t
        first, results, profiler = asyncio.run(drive(session, args.profile))
        floor = asyncio.run(reference())
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    suggestions = sum(len(ps.suggestions) for ps in session.suggestions)
    ref = statistics.median(p.wall for p in floor if p.wall is not None)
    noop = statistics.median(wall for wall, _ in results[0].pilot)
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
        "| key | frames | key to frame: median ms | p95 ms | CPU ms, median | CPU ms, p95 "
        "| against the reference | `pilot.press`: median ms (≥ 40 ms of it the pilot's sleeps) "
        "| its CPU ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| reference: a Textual app that changes one line on a key | {timed(floor, ref)} "
        "| — | — |",
    ]
    for key in results:
        pilot = statistics.median(wall for wall, _ in key.pilot)
        pilot_cpu = statistics.median(cpu for _, cpu in key.pilot)
        lines.append(
            f"| {key.what} | {timed(key.frames, ref)} | {ms(pilot)} ({pilot / noop:.2f}× z) "
            f"| {ms(pilot_cpu)} |"
        )
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
