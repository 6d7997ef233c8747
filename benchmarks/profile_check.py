"""Benchmark: `aaprof profile check` on a 5 MB, 128k-rule profile, next to `apparmor_parser -Q`.

Usage (from the project root, after `./dev.sh venv`):
    .venv/bin/python benchmarks/profile_check.py [--rules N] [--repeat N] [--out DIR]

One generated profile (deterministic: the same bytes on every run) with N rules (default 128,000,
about 5 MB): mostly file rules as a large generated or merged profile has them (plain paths,
globs, `owner`, `deny`, `audit`, exec modes), and one rule in twenty of another shape (quoted
paths with spaces, `@{VAR}` paths, `-> target`, capability, network, signal, unix, dbus), which
take aaprof's full grammar. Both tools run on that same file in the same run, each best of N
(default 1), measured by benchmarks/measure.py (wall and CPU seconds, peak RSS):

- aaprof: `aaprof profile check --no-compile FILE --base DIR` (aaprof's own check only;
  without `--no-compile` it runs apparmor_parser as well).
- apparmor_parser: `apparmor_parser -Q -K FILE --base DIR` (no kernel load, no cache: it parses,
  expands and builds the profile's DFA).

Prints a markdown table and the two targets of issue 22: aaprof's time at most 3x
apparmor_parser's, and its peak RSS under 200 MB.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import Run, run_once

RATIO_TARGET = 3.0
RSS_TARGET_MB = 200.0
_PERMS = ("r", "rw", "mr", "rk", "w", "ix", "Px", "rwl", "a", "r")


def rule(i: int) -> str:
    """The i-th rule of the generated profile."""
    d, f = i % 997, i
    if i % 20 == 19:  # one in twenty: a shape only the full grammar reads
        odd = (
            f'"/srv/with space/d{d}/f{f}" r,',
            f"@{{DATA}}/d{d}/f{f}.conf r,",
            f"/usr/bin/tool{f} Px -> tool{d % 8},",
            "capability net_bind_service,",
            ("network inet stream," if d % 2 else "network inet6 dgram,"),
            f"signal (send) set=(hup) peer=p{d},",
            f"unix (send, receive) type=stream peer=(label=p{d}),",
            f"dbus send bus=system path=/org/x/d{d} member=M{f},",
        )
        return odd[(i // 20) % len(odd)]
    qualifier = ("", "", "", "owner ", "deny ", "audit ")[i % 6]
    glob = ("", "*", "/**", "")[i % 4]
    perms = _PERMS[i % len(_PERMS)]
    if qualifier == "deny " and "x" in perms:
        perms = "w"  # a deny rule takes no exec mode
    return f"{qualifier}/srv/data/d{d}/file-{f:06d}.dat{glob} {perms},"


def write_profile(path: Path, rules: int) -> int:
    """Write the profile; returns its size in bytes."""
    lines = ["@{DATA}=/srv/data /var/data\n", "profile big /usr/bin/big {\n"]
    lines += [f"  {rule(i)}\n" for i in range(rules)]
    lines.append("}\n")
    text = "".join(lines)
    path.write_text(text)
    return len(text.encode())


def best(argv: tuple[str, ...], repeat: int) -> Run:
    runs = [run_once(argv, keep_output=True) for _ in range(repeat)]
    for run in runs:
        if run.exit_code != 0:
            output = "\n".join((run.stdout + run.stderr).splitlines()[:20])
            sys.exit(f"{' '.join(argv)} failed ({run.exit_code}):\n{output}")
    return min(runs, key=lambda r: r.seconds)


def aaprof_argv() -> tuple[str, ...]:
    local = Path(sys.executable).parent / "aaprof"
    return (str(local),) if local.exists() else (sys.executable, "-m", "aaprof")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=128_000, help="rules in the profile")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool; best time kept")
    parser.add_argument("--out", type=Path, help="keep the profile in this directory")
    args = parser.parse_args(argv)
    apparmor_parser = shutil.which("apparmor_parser", path="/usr/sbin:/sbin:/usr/bin")
    if apparmor_parser is None:
        sys.exit("apparmor_parser is missing: apt-get install apparmor")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.out or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        profile, base = work / "big.profile", work / "base"
        base.mkdir(exist_ok=True)
        size = write_profile(profile, args.rules)
        ours = best((*aaprof_argv(), "profile", "check", "--no-compile", str(profile), "--base",
                     str(base)), args.repeat)  # fmt: skip
        theirs = best((apparmor_parser, "-Q", "-K", str(profile), "--base", str(base)), args.repeat)
    ratio = ours.seconds / theirs.seconds
    print(f"A profile of {args.rules:,} rules, {size:,} bytes; best of {args.repeat}.\n")
    print("| tool | wall s | CPU s | peak RSS MB |")
    print("|---|---:|---:|---:|")
    print(f"| `aaprof profile check --no-compile` | {ours.seconds:.2f} | {ours.cpu_seconds:.2f} "
          f"| {ours.rss_mb:.0f} |")  # fmt: skip
    print(f"| `apparmor_parser -Q -K` | {theirs.seconds:.2f} | {theirs.cpu_seconds:.2f} "
          f"| {theirs.rss_mb:.0f} |")  # fmt: skip
    time_ok = "met" if ratio <= RATIO_TARGET else "NOT met"
    rss_ok = "met" if ours.rss_mb < RSS_TARGET_MB else "NOT met"
    print(f"\naaprof / apparmor_parser: {ratio:.2f}x wall (target <= {RATIO_TARGET:.0f}x: "
          f"{time_ok}); aaprof peak RSS {ours.rss_mb:.0f} MB (target < {RSS_TARGET_MB:.0f} MB: "
          f"{rss_ok})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
