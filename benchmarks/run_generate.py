"""The `aaprof generate` benchmark: log → profiles, against aa-logprof's engine on the same log.

Usage (from the repository root):
    .venv/bin/python benchmarks/run_generate.py [--records N] [--repeat K] [--write-docs]

Generates benchmarks/data/generate/audit.log (benchmarks/generate_events.py) if it is missing or
was made with another --records, writes complain-mode stub profiles for aa-logprof (untimed),
then times two whole processes, each on the same log: `aaprof generate LOG --out TMPDIR` (a
fresh TMPDIR per run) and `benchmarks/logprof_engine.py run` (Debian's aa-logprof engine, every
question answered by default). Wall time is the best of K runs (default 3, 1 from 500k records
on), peak RSS the largest over them (benchmarks/measure.py). It then counts the rules each one
proposes, per rule class, and prints markdown; --write-docs puts it into docs/performance.md,
between the generate-benchmark markers of its "Generating profiles" section.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from measure import Run, run_once
from run import aaprof_version, machine

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DOCS = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- generate-benchmark:begin -->", "<!-- generate-benchmark:end -->"
BIG = 500_000  # from this many records on, one run per command by default
AAPROF_LABEL = "`aaprof generate LOG --out DIR`"
LOGPROF_LABEL = "aa-logprof engine (`logprof_engine.py run`)"


@dataclass
class Measured:
    """A command's best time, peak RSS, the rules it proposed per class, and notes."""

    label: str
    runs: list[Run] = field(default_factory=list)
    rules: Counter[str] = field(default_factory=Counter)
    profiles: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.exit_code == 0 for r in self.runs)


def ensure_data(data: Path, records: int, mix: str = "clean") -> Path:
    """The log, generated unless data/params.json says it was made with these records."""
    log, stamp = data / "audit.log", data / "params.json"
    params: dict[str, object] = {"records": records}
    if mix != "clean":
        params["mix"] = mix
    if log.exists() and stamp.exists() and json.loads(stamp.read_text()) == params:
        return log
    print(f"generating {records} records ({mix}) into {data}/ ...", file=sys.stderr)
    argv = [sys.executable, str(BENCH / "generate_events.py"), str(data), "--records", str(records)]
    subprocess.run([*argv, "--mix", mix], check=True)
    stamp.write_text(json.dumps(params) + "\n")
    return log


def aaprof_argv() -> list[str] | None:
    """`aaprof` next to this interpreter if `aaprof generate --help` works there; else None."""
    exe = Path(sys.executable).parent / "aaprof"
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "aaprof"]
    probe = subprocess.run(
        [*argv, "generate", "--help"], check=False, capture_output=True, text=True
    )
    if probe.returncode != 0 or "--out" not in probe.stdout:
        detail = (probe.stderr.strip().splitlines() or ["no --out option"])[-1]
        print(f"`aaprof generate` is not there yet: {detail}", file=sys.stderr)
        return None
    return argv


def measure_aaprof(
    aaprof: list[str], log: Path, repeat: int, label: str = AAPROF_LABEL
) -> Measured:
    """`aaprof generate LOG --out DIR` into a fresh DIR each run; rules counted from the last."""
    result = Measured(label)
    with tempfile.TemporaryDirectory(prefix="aaprof-generate-") as tmp:
        for i in range(repeat):
            out = Path(tmp, f"run{i}")
            result.runs.append(run_once((*aaprof, "generate", str(log), "--out", str(out)), False))
            if result.runs[-1].exit_code != 0:
                result.notes.append(last_line(result.runs[-1].stderr))
                return result
        count_aaprof_rules(out / "profiles", result)
    return result


def last_line(stderr: str) -> str:
    """The last line a failed command wrote to stderr (its error, as a rule)."""
    return (stderr.strip().splitlines() or ["no message"])[-1]


def count_aaprof_rules(directory: Path, result: Measured) -> None:
    """Parse what aaprof wrote with aaprof's own parser; count rules per class, per profile."""
    from aaprof.model import profile as m
    from aaprof.profiles.build import parse_policy

    def visit(profile: m.Profile) -> None:
        result.profiles += 1
        for rule in profile.rules():
            result.rules[aaprof_class(rule)] += 1
        result.rules["include"] += sum(isinstance(i, m.Include) for i in profile.body)
        for child in profile.children():
            visit(child)

    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        for profile in parse_policy(path.read_text(encoding="utf-8")).profiles():
            visit(profile)


def aaprof_class(rule: object) -> str:
    """FileRule → file, ChangeProfileRule → change_profile, ...; links count as file rules."""
    name = type(rule).__name__.removesuffix("Rule")
    if name == "Link":
        return "file"
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def measure_logprof(log: Path, repeat: int) -> tuple[Measured, dict[str, Any]]:
    """The engine driver, after writing its stub profiles (untimed); its last JSON report."""
    result = Measured(LOGPROF_LABEL)
    driver = str(BENCH / "logprof_engine.py")
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="logprof-profiles-") as profiles:
        subprocess.run([sys.executable, driver, "setup", profiles, str(log)], check=True)
        for _ in range(repeat):
            result.runs.append(run_once((sys.executable, driver, "run", profiles, str(log)), True))
            if result.runs[-1].exit_code != 0:
                result.notes.append(last_line(result.runs[-1].stderr))
                return result, report
    report = json.loads(result.runs[-1].stdout)
    for classes in report["profiles"].values():
        result.profiles += 1
        for cls, rules in classes.items():
            result.rules[cls] += len(rules)
    return result, report


def timing_table(results: list[Measured], records: int, repeat: int) -> list[str]:
    lines = [
        f"| command | wall s, best of {repeat} | records/s | peak RSS MB, largest process "
        "| peak RSS MB, all processes | profiles | rules proposed |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if not r.ok:
            why = "; ".join(r.notes) or "no message"
            state = f"failed (exit {r.runs[-1].exit_code})" if r.runs else "not run"
            lines.append(f"| {r.label} | {state}: {why} | | | | | |")
            continue
        best = min(x.seconds for x in r.runs)
        rss = max(x.rss_mb for x in r.runs)
        tree = max(x.tree_rss_mb for x in r.runs)
        cells = (
            r.label,
            f"{best:.2f}",
            f"{records / best:,.0f}",
            f"{rss:.0f}",
            f"{tree:.0f}",
            str(r.profiles),
            f"{sum(r.rules.values()):,}",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def rules_table(results: list[Measured]) -> list[str]:
    done = [r for r in results if r.ok]
    if not done:
        return []
    classes = sorted(set().union(*(r.rules for r in done)))
    head = "| rule class | " + " | ".join(r.label.split(" (")[0] for r in done) + " |"
    lines = [head, "|---|" + "---:|" * len(done)]
    for cls in classes:
        lines.append(f"| {cls} | " + " | ".join(f"{r.rules[cls]:,}" for r in done) + " |")
    return lines


def logprof_lines(report: dict[str, Any]) -> list[str]:
    """What aa-logprof's engine did with the log's lines, by outcome, with the operations."""
    if not report:
        return []
    by_outcome: dict[str, Counter[str]] = {}
    for outcome, operation, count in report["lines"]:
        by_outcome.setdefault(outcome, Counter())[operation] += count
    lines = []
    for outcome, ops in sorted(by_outcome.items()):
        listed = ", ".join(f"{op} {n:,}" for op, n in ops.most_common())
        lines.append(f"- aa-logprof, {outcome}: {sum(ops.values()):,} lines ({listed})")
    phases = ", ".join(f"{k} {v:.2f} s" for k, v in report["seconds"].items())
    lines.append(f"- aa-logprof's phases in the last run: {phases}")
    return lines


def report_text(
    results: list[Measured], report: dict[str, Any], log: Path, records: int, repeat: int, at: str
) -> str:
    apparmor = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "python3-apparmor"],
        check=False,
        capture_output=True,
        text=True,
    ).stdout
    size = log.stat().st_size / 1e6
    lines = [
        f"Measured {machine()}, python3-apparmor {apparmor or '?'}, aaprof at {at}.",
        f"Input: {log.name}, {records:,} records ({size:.0f} MB).",
        "",
        *timing_table(results, records, repeat),
        "",
        *rules_table(results),
        "",
        *logprof_lines(report),
    ]
    return "\n".join(lines).rstrip() + "\n"


def write_docs(text: str) -> None:
    """Replace what is between the markers, or add the section at the end of the page."""
    page = DOCS.read_text()
    if BEGIN in page and END in page:
        head, rest = page.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        page = f"{head}{BEGIN}\n{text}{END}{tail}"
    else:
        page = f"{page.rstrip()}\n\n## Generating profiles\n\n{BEGIN}\n{text}{END}\n"
    DOCS.write_text(page)
    print(f"wrote the results into {DOCS}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the log")
    parser.add_argument("--repeat", type=int, help=f"runs per command (3; 1 from {BIG:,} on)")
    parser.add_argument("--data", type=Path, default=BENCH / "data" / "generate")
    parser.add_argument("--write-docs", action="store_true", help=f"put the results into {DOCS}")
    parser.add_argument(
        "--no-realistic",
        dest="realistic",
        action="store_false",
        help="skip the row of aaprof on the realistic mix (auditd's layout: ENRICHED tails, "
        "SYSCALL/PROCTITLE companions, 2,000 processes per profile), which aa-logprof's engine "
        "is not run on",
    )
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.records >= BIG else 3)
    log = ensure_data(args.data, args.records)
    realistic = (
        ensure_data(args.data.with_name(args.data.name + "-realistic"), args.records, "realistic")
        if args.realistic
        else None
    )
    aaprof = aaprof_argv()
    before = aaprof_version()
    results = []
    if aaprof is None:
        results.append(Measured(AAPROF_LABEL, notes=["`aaprof generate` not available"]))
    else:
        print(f"  {AAPROF_LABEL} ...", file=sys.stderr, flush=True)
        results.append(measure_aaprof(aaprof, log, repeat))
        if realistic is not None:
            label = f"{AAPROF_LABEL}, REALISTIC log ({realistic.stat().st_size / 1e6:.0f} MB)"
            print(f"  {label} ...", file=sys.stderr, flush=True)
            results.append(measure_aaprof(aaprof, realistic, repeat, label))
    print(f"  {LOGPROF_LABEL} ...", file=sys.stderr, flush=True)
    logprof, report = measure_logprof(log, repeat)
    results.append(logprof)
    after = aaprof_version()
    at = after[0] if before == after else f"{after[0]} (CHANGED during the run: run it again)"
    text = report_text(results, report, log, args.records, repeat, at)
    print(text)
    if args.write_docs:
        write_docs(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
