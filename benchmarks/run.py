"""The `aaprof events` benchmark: whole-process wall time and peak RSS against libapparmor and grep.

Usage (from the repository root):
    .venv/bin/python benchmarks/run.py [--records N] [--repeat K] [--write-docs]

Generates benchmarks/data/ if it is missing (or was made with other parameters): the realistic
mix (benchmarks/realism.py: a dense audit.log, a 90%-noise kern.log, the same records as
journalctl text, kern.log as a rotated set with .gz members, an audit.log `--scale` times larger)
the old clean mix (one labelled row per file), and the distinct mix (the realistic layout with
every record drawn afresh: at most 5% of its AppArmor lines repeat once stamp and pid are set
aside; issue 24). Then times, per input, `grep -c apparmor=`
(output into a file: GNU grep stops at the first match when its output is /dev/null), the
libapparmor loops (benchmarks/libapparmor_summary.py, on this same interpreter: the summary, and
every field as JSON lines), and `aaprof events` (`--summary`, `--format jsonl`, `--mode denied
--format jsonl`). Each command is a child process: wall time is the best of K runs, peak RSS the
largest over the K runs (benchmarks/measure.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from measure import Run, run_once

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DOCS = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- benchmark:begin -->", "<!-- benchmark:end -->"
# aaprof --summary speed-up over the libapparmor loop, on both mixes
TARGETS = {"audit": 3.0, "kern": 5.0, "audit-distinct": 3.0, "kern-distinct": 5.0}
# jsonl (kern: --mode denied) over the every-field loop; ≥ 2× where lines repeat (issue 24)
JSONL_TARGETS = {"audit": 2.0, "kern": 3.0, "audit-distinct": 1.0, "kern-distinct": 3.0}
GREP_WITHIN = 10.0  # --summary on kern.log (both mixes) within this factor of grep -c
DENSE, NOISY = ("audit", "audit-distinct"), ("kern", "kern-distinct")
RSS_LIMIT_MB = 100
LOOP, FIELDS = "libapparmor loop", "libapparmor loop, every field"


@dataclass(frozen=True, slots=True)
class Step:
    """One command to time on one input."""

    input: str  # "audit", "kern", "journal", "rotated", "audit-clean", "kern-clean",
    # "audit-distinct", "kern-distinct", "audit×3"
    label: str
    argv: tuple[str, ...]
    keep_output: bool = False  # capture stdout (else it goes to /dev/null)
    aaprof: bool = False
    once: bool = False  # run once whatever --repeat says (the large input: its RSS is the point)
    against: str = LOOP  # the row of the same input its ratio is computed against


@dataclass(frozen=True, slots=True)
class Result:
    """How a step went: best wall time, peak RSS, exit code, and its output if kept."""

    step: Step
    seconds: float
    cpu_seconds: float
    rss_mb: float
    tree_rss_mb: float
    exit_code: int
    output: str
    stderr: str


def measure(step: Step, repeat: int) -> Result:
    """Best wall time and largest peak RSS over `repeat` runs (stops at the first failure)."""
    runs: list[Run] = []
    for _ in range(repeat):
        runs.append(run_once(step.argv, step.keep_output))
        if runs[-1].exit_code != 0:
            break
    last = runs[-1]
    return Result(
        step,
        min(r.seconds for r in runs),
        min(r.cpu_seconds for r in runs),
        max(r.rss_mb for r in runs),
        max(r.tree_rss_mb for r in runs),
        last.exit_code,
        last.stdout,
        last.stderr,
    )


def ensure_data(data: Path, records: int, scale: int) -> None:
    """Generate the inputs unless data/params.json says they were made with these sizes."""
    params = {"records": records, "scale": scale, "mixes": ["realistic", "clean", "distinct"]}
    stamp = data / "params.json"
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return
    generator = [sys.executable, str(BENCH / "generate.py")]
    print(f"generating {records} records into {data}/ ...", file=sys.stderr)
    subprocess.run([*generator, str(data), "--records", str(records)], check=True)
    clean = [str(data / "clean"), "--records", str(records), "--mix", "clean"]
    subprocess.run([*generator, *clean], check=True)
    distinct = [str(data / "distinct"), "--records", str(records), "--mix", "distinct"]
    subprocess.run([*generator, *distinct, "--journal-text", "0", "--rotate", "0"], check=True)
    large = [str(data / f"x{scale}"), "--records", str(records * scale), "--only", "audit"]
    subprocess.run([*generator, *large], check=True)
    stamp.write_text(json.dumps(params) + "\n")


def aaprof_command() -> list[str] | None:
    """`aaprof` next to this interpreter, if `aaprof events --help` works; else None.

    Its bytecode is compiled first, as an installed package's is: where PYTHONDONTWRITEBYTECODE
    is set (this machine sets it) every run would compile aaprof's modules from source again
    (about 0.03 s each time), where the reference's modules come compiled by their package.
    """
    compile_package = (
        "import aaprof, compileall; compileall.compile_dir(aaprof.__path__[0], quiet=1)"
    )
    subprocess.run([sys.executable, "-c", compile_package], check=False)
    exe = Path(sys.executable).parent / "aaprof"
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "aaprof"]
    probe = subprocess.run([*argv, "events", "--help"], check=False, capture_output=True, text=True)
    if probe.returncode != 0 or "--summary" not in probe.stdout:
        detail = (probe.stderr.strip().splitlines() or ["no --summary option"])[-1]
        print(f"aaprof not ready: `aaprof events --help` failed: {detail}", file=sys.stderr)
        return None
    return argv


def check_libapparmor() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import LibAppArmor"], check=False, capture_output=True
    )
    if probe.returncode != 0:
        sys.exit(
            f"{sys.executable} cannot import LibAppArmor: apt-get install python3-libapparmor, "
            "and run this with a python that sees system site packages (.venv is made that way)"
        )


def rotated_set(data: Path) -> list[str]:
    """The rotated kern.log set, oldest first (what the libapparmor loop reads in order)."""
    from_aaprof = subprocess.run(
        [sys.executable, "-c", "import sys; from aaprof.logs.sources import expand; "
         "print('\\n'.join(i.name for i in expand([sys.argv[1]])))", str(data / "rotated")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return from_aaprof.stdout.split()


def steps_for(
    data: Path,
    scale: int,
    aaprof: list[str] | None,
    jsonl_large: bool = True,
    only: set[str] | None = None,
) -> list[Step]:
    py, ref = sys.executable, str(BENCH / "libapparmor_summary.py")
    steps = []
    files = {
        "audit": [str(data / "audit.log")],
        "kern": [str(data / "kern.log")],
        "journal": [str(data / "journal.txt")],
        "rotated": rotated_set(data),
        "audit-clean": [str(data / "clean" / "audit.log")],
        "kern-clean": [str(data / "clean" / "kern.log")],
        "audit-distinct": [str(data / "distinct" / "audit.log")],
        "kern-distinct": [str(data / "distinct" / "kern.log")],
    }
    for name, paths in files.items():
        if only is not None and name not in only:
            continue
        if name in {*DENSE, *NOISY, "journal"}:
            grep = ("grep", "-c", "apparmor=", *paths)
            steps.append(Step(name, "`grep -c apparmor=`", grep, keep_output=True))
        steps.append(Step(name, LOOP, (py, ref, *paths), keep_output=True))
        if name == "kern":
            steps.append(
                Step(name, f"{LOOP}, `apparmor=` prefilter", (py, ref, "--prefilter", *paths))
            )
        if name in DENSE:
            steps.append(Step(name, FIELDS, (py, ref, "--every-field", *paths)))
        if name in NOISY:
            denied = (py, ref, "--every-field", "--mode", "denied", *paths)
            steps.append(Step(name, f"{FIELDS}, DENIED only", denied))
        steps += aaprof_steps(name, paths, aaprof, jsonl=name in {*DENSE, *NOISY})
    large = str(data / f"x{scale}" / "audit.log")
    if only is not None and f"audit×{scale}" not in only:
        return steps
    return steps + aaprof_steps(f"audit×{scale}", [large], aaprof, once=True, jsonl=jsonl_large)


def aaprof_steps(
    name: str, paths: list[str], aaprof: list[str] | None, once: bool = False, jsonl: bool = False
) -> list[Step]:
    base = tuple(aaprof or ("aaprof",))
    summary = (*base, "events", "--summary", *paths)
    steps = [
        Step(name, "`aaprof events --summary`", summary, keep_output=True, aaprof=True, once=once)
    ]
    if jsonl:
        full = (*base, "events", "--format", "jsonl", *paths)
        steps.append(Step(name, "`aaprof events --format jsonl`", full, aaprof=True, once=once,
                          against=FIELDS))  # fmt: skip
    if name in NOISY:
        denied = (*base, "events", "--mode", "denied", "--format", "jsonl", *paths)
        steps.append(Step(name, "`aaprof events --mode denied --format jsonl`", denied,
                          aaprof=True, against=f"{FIELDS}, DENIED only"))  # fmt: skip
    return steps


def run_steps(steps: list[Step], repeat: int, aaprof_ready: bool) -> list[Result | Step]:
    """Each step's result; a step that cannot run (aaprof not ready) stays a bare Step."""
    results: list[Result | Step] = []
    for step in steps:
        if step.aaprof and not aaprof_ready:
            results.append(step)
            continue
        print(f"  {step.input}: {step.label} ...", file=sys.stderr, flush=True)
        result = measure(step, 1 if step.once else repeat)
        if result.exit_code != 0:
            print(f"    failed (exit {result.exit_code}): {result.stderr.strip()}", file=sys.stderr)
        peak = f"{result.rss_mb:.0f}/{result.tree_rss_mb:.0f} MB"
        cpu = f"{result.cpu_seconds:.2f} s CPU"
        print(f"    {result.seconds:.2f} s, {cpu}, peak RSS {peak}", file=sys.stderr, flush=True)
        results.append(result)
    return results


def reference_time(
    results: list[Result | Step], name: str, label: str = LOOP, cpu: bool = False
) -> float | None:
    for r in results:
        if isinstance(r, Result) and r.step.input == name and r.step.label == label:
            if r.exit_code != 0:
                return None
            return r.cpu_seconds if cpu else r.seconds
    return None


def row(
    result: Result | Step, reference: float | None, reference_cpu: float | None,
    inputs: dict[str, str],
) -> str:  # fmt: skip
    if isinstance(result, Step):
        return f"| {inputs[result.input]} | {result.label} | aaprof not ready | | | | | |"
    step = result.step
    if result.exit_code != 0:
        failed = f"failed (exit {result.exit_code})"
        return f"| {inputs[step.input]} | {step.label} | {failed} | | | | | |"
    ratio = f"{reference / result.seconds:.1f}×" if reference else ""
    cpu_ratio = f"{reference_cpu / result.cpu_seconds:.1f}×" if reference_cpu else ""
    wall = f"{result.seconds:.2f}" + (" (1 run)" if step.once else "")
    rss, tree = f"{result.rss_mb:.0f}", f"{result.tree_rss_mb:.0f}"
    cells = (inputs[step.input], step.label, wall, f"{result.cpu_seconds:.2f}", rss, tree)
    return "| " + " | ".join((*cells, ratio, cpu_ratio)) + " |"


def describe_inputs(data: Path, records: int, scale: int) -> dict[str, str]:
    def size(path: Path) -> str:
        return f"{path.stat().st_size / 1e6:.0f} MB"

    audit, kern, large = data / "audit.log", data / "kern.log", data / f"x{scale}" / "audit.log"
    rotated = sum(p.stat().st_size for p in (data / "rotated").iterdir()) / 1e6
    return {
        "audit": f"realistic audit.log, {records:,} records ({size(audit)})",
        "kern": f"realistic kern.log, {records:,} lines, 10% AppArmor ({size(kern)})",
        "journal": f"journalctl text, {records:,} lines ({size(data / 'journal.txt')})",
        "rotated": f"kern.log rotated set, .gz member ({rotated:.0f} MB on disk)",
        "audit-clean": f"CLEAN audit.log (the old mix), {records:,} records "
        f"({size(data / 'clean' / 'audit.log')})",
        "kern-clean": f"CLEAN kern.log (the old mix), {records:,} lines "
        f"({size(data / 'clean' / 'kern.log')})",
        "audit-distinct": f"DISTINCT audit.log (few repeats), {records:,} records "
        f"({size(data / 'distinct' / 'audit.log')})",
        "kern-distinct": f"DISTINCT kern.log (few repeats), {records:,} lines, 10% AppArmor "
        f"({size(data / 'distinct' / 'kern.log')})",
        f"audit×{scale}": f"realistic audit.log, {records * scale:,} records ({size(large)})",
    }


def verdicts(results: list[Result | Step]) -> list[str]:
    """The acceptance targets, each with its measured value."""
    done = [r for r in results if isinstance(r, Result) and r.step.aaprof and r.exit_code == 0]
    if not done:
        return ["- aaprof not ready: no target measured."]
    lines = []
    for name, target in TARGETS.items():
        ref = reference_time(results, name)
        ref_cpu = reference_time(results, name, cpu=True)
        summary = [r for r in done if r.step.input == name and "--summary" in r.step.label]
        if ref and ref_cpu and summary:
            ratio, cpu = ref / summary[0].seconds, ref_cpu / max(summary[0].cpu_seconds, 0.01)
            mark = "met" if cpu >= target else "NOT met"
            lines.append(
                f"- `--summary` on {name}.log: by CPU time {cpu:.1f}× the libapparmor loop "
                f"(target ≥ {target:.0f}×): {mark}; wall {ratio:.1f}×"
            )
    for name, target in JSONL_TARGETS.items():
        for r in done:
            if r.step.input == name and "jsonl" in r.step.label and r.step.against != LOOP:
                if name in NOISY and "denied" not in r.step.label:
                    continue
                ref = reference_time(results, name, r.step.against)
                ref_cpu = reference_time(results, name, r.step.against, cpu=True)
                if ref and ref_cpu:
                    ratio, cpu = ref / r.seconds, ref_cpu / max(r.cpu_seconds, 0.01)
                    mark = "met" if cpu >= target else "NOT met"
                    lines.append(
                        f"- {r.step.label} on {name}.log: by CPU time {cpu:.2f}× "
                        f"{r.step.against} (target ≥ {target:.0f}×): {mark}; wall {ratio:.2f}×"
                    )
    for name in NOISY:
        grep = reference_time(results, name, "`grep -c apparmor=`")
        summary = [r for r in done if r.step.input == name and "--summary" in r.step.label]
        if grep and summary:
            factor = summary[0].seconds / grep
            grep_cpu = reference_time(results, name, "`grep -c apparmor=`", cpu=True) or 0.0
            cpu_factor = summary[0].cpu_seconds / max(grep_cpu, 0.01)
            mark = "met" if cpu_factor <= GREP_WITHIN else "NOT met"
            lines.append(
                f"- `--summary` on {name}.log: by CPU time {cpu_factor:.1f}× the time of "
                f"`grep -c apparmor=` (target within {GREP_WITHIN:.0f}×): {mark}; wall "
                f"{factor:.1f}×"
            )
    peak = max(r.tree_rss_mb for r in done)
    mark = "met" if peak < RSS_LIMIT_MB else "NOT met"
    lines.append(
        f"- largest aaprof peak RSS, all its processes together: {peak:.0f} MB "
        f"(target < {RSS_LIMIT_MB} MB): {mark}"
    )
    return lines


Groups = dict[tuple[str, str, str], int]  # (profile, class, mode) → records


def reference_groups(output: str) -> Groups:
    """The libapparmor loop's `count<TAB>profile<TAB>class<TAB>mode<TAB>names` lines."""
    groups: Groups = {}
    for line in output.splitlines():
        if not line.startswith("#"):
            count, profile, cls, mode, *_ = line.split("\t")
            groups[(profile, cls, mode)] = int(count)
    return groups


def aaprof_groups(output: str) -> Groups:
    """The group rows of `aaprof events --summary`'s table (`COUNT  MODE CLASS PROFILE`)."""
    groups: Groups = {}
    for line in output.splitlines():
        if line[:8].strip().isdigit() and line[8:10] == "  " and "records in" not in line:
            mode, cls, profile = line[10:18].strip(), line[19:31].strip(), line[32:]
            key = (profile.replace("-", "", profile == "-"), cls.replace("-", "", cls == "-"), mode)
            groups[key] = int(line[:8])
    return groups


def agreement(results: list[Result | Step]) -> list[str]:
    """Whether aaprof's summary and the libapparmor loop's count the same records per group."""
    kept = {
        (r.step.input, r.step.label): r.output
        for r in results
        if isinstance(r, Result) and r.step.keep_output and r.exit_code == 0
    }
    lines = []
    for name in dict.fromkeys(k[0] for k in kept):
        ref = kept.get((name, "libapparmor loop"))
        ours = kept.get((name, "`aaprof events --summary`"))
        if ref is None or ours is None:
            continue
        theirs, mine = reference_groups(ref), aaprof_groups(ours)
        differ = sorted(k for k in theirs.keys() | mine.keys() if theirs.get(k) != mine.get(k))
        rejected = ref.rstrip().rsplit("\t", 1)[-1]
        lines.append(
            f"- {name}.log: aaprof counts {sum(mine.values()):,} records in {len(mine)} groups, "
            f"libapparmor {sum(theirs.values()):,} in {len(theirs)} ({rejected} lines with "
            f"`apparmor=` rejected); {len(differ)} groups differ"
            + (
                f", e.g. {differ[0]}: aaprof {mine.get(differ[0])}, libapparmor "
                f"{theirs.get(differ[0])}"
                if differ
                else ""
            )
        )
    return lines


def machine() -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    libapparmor = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "python3-libapparmor"],
        check=False,
        capture_output=True,
        text=True,
    ).stdout
    return (
        f"{datetime.now(UTC):%Y-%m-%d}, {cpu}, {os.cpu_count()} cores (load average "
        f"{Path('/proc/loadavg').read_text().split()[0]} at the end), Python "
        f"{platform.python_version()}, libapparmor {libapparmor or '?'}"
    )


def aaprof_version() -> tuple[str, str]:
    """The commit aaprof is at (and whether aaprof/ differs from it), and a hash of its sources.

    .venv installs aaprof in editable mode: the working tree is what runs, and other people
    commit into it. The runner takes this before and after, and says if the code changed.
    """
    commit = git("rev-parse", "--short", "HEAD").strip() or "?"
    if git("status", "--porcelain", "--", "aaprof").strip():
        commit += " plus uncommitted changes"
    sources = hashlib.sha256()
    for path in sorted((REPO / "aaprof").rglob("*.py")):
        sources.update(path.read_bytes())
    return commit, sources.hexdigest()


def git(*args: str) -> str:
    """git's output in this repository ("" when git is absent or fails)."""
    argv = ["git", "-C", str(REPO), *args]
    return subprocess.run(argv, check=False, capture_output=True, text=True).stdout


def report(results: list[Result | Step], inputs: dict[str, str], repeat: int, aaprof: str) -> str:
    lines = [
        f"Measured {machine()}, aaprof at {aaprof}.",
        "",
        f"| input | command | wall s, best of {repeat} | CPU s, best of {repeat} "
        "| peak RSS MB, largest process | peak RSS MB, all processes | vs its reference "
        "| vs its reference, CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        row(
            r,
            reference_time(results, r_input(r), r_against(r)),
            reference_time(results, r_input(r), r_against(r), cpu=True),
            inputs,
        )
        for r in results
    ]
    return "\n".join([*lines, "", *verdicts(results), *agreement(results)]) + "\n"


def r_against(result: Result | Step) -> str:
    return result.against if isinstance(result, Step) else result.step.against


def r_input(result: Result | Step) -> str:
    """The input whose libapparmor time a row is compared with (none for the large input)."""
    return result.input if isinstance(result, Step) else result.step.input


def write_docs(table: str) -> None:
    text = DOCS.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"{DOCS} has no {BEGIN} ... {END} markers to put the results between")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOCS.write_text(f"{head}{BEGIN}\n{table}{END}{tail}")
    print(f"wrote the results into {DOCS}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records per input")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command; best time kept")
    parser.add_argument("--scale", type=int, default=3, help="size of the large input, × records")
    parser.add_argument("--data", type=Path, default=BENCH / "data", help="where the inputs live")
    parser.add_argument("--write-docs", action="store_true", help=f"put the table into {DOCS}")
    parser.add_argument(
        "--no-large-jsonl", action="store_true", help="skip --format jsonl on the large input"
    )
    parser.add_argument(
        "--inputs",
        help="only these inputs, comma-separated (audit,kern,journal,rotated,audit-clean,"
        "kern-clean,audit-distinct,kern-distinct,audit×SCALE); default: all",
    )
    args = parser.parse_args(argv)
    check_libapparmor()
    ensure_data(args.data, args.records, args.scale)
    aaprof = aaprof_command()
    only = set(args.inputs.split(",")) if args.inputs else None
    steps = steps_for(args.data, args.scale, aaprof, not args.no_large_jsonl, only)
    before = aaprof_version()
    results = run_steps(steps, args.repeat, aaprof is not None)
    after = aaprof_version()
    version = after[0] if before == after else f"{after[0]} (CHANGED during the run: run it again)"
    inputs = describe_inputs(args.data, args.records, args.scale)
    table = report(results, inputs, args.repeat, version)
    print(table)
    if args.write_docs:
        write_docs(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
