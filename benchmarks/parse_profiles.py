"""Benchmark: aaprof's `parse_policy` over Debian's whole profile set, next to apparmor_parser.

Usage (from the project root, after `./dev.sh venv`, which installs the packages):
    .venv/bin/python benchmarks/parse_profiles.py [--repeat N]

The set is every profile, abstraction, tunable and snippet that Debian's `apparmor`,
`apparmor-profiles` and `apparmor-profiles-extra` install (`abi/` feature files, `local/` and
READMEs left out), as `dpkg-query -L` lists them. Both sides run in the same process run, each
best of N (default 3):

- aaprof: `parse_policy(text)` for every file, texts read beforehand, includes NOT expanded
  (each file is parsed once, as written).
- apparmor_parser: `-Q -K -j 1 -M abi/3.0` (no kernel load, no cache, one compile thread, the
  ABI the profiles declare) in two calls: every profile file in one, and one generated file
  holding a wrapper profile per included file (`profile wN { include <abstractions/x> }`,
  tunables included in its preamble) in the other. It expands includes and builds the DFAs:
  it does far more work per file than a parse, which is the point of the comparison.

Prints a markdown table: files, total bytes, wall seconds and files/s for each.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BASE = Path("/etc/apparmor.d")
EXTRA_PROFILES = Path("/usr/share/apparmor/extra-profiles")
FEATURES = BASE / "abi" / "3.0"
PACKAGES = ("apparmor", "apparmor-profiles", "apparmor-profiles-extra")
INSTALL = "apt-get install " + " ".join(PACKAGES)


@dataclass(frozen=True, slots=True)
class PolicySet:
    """The files to parse: profiles (compiled alone) and included files (relative to BASE)."""

    profiles: tuple[Path, ...]
    included: tuple[Path, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        """All files, profiles first."""
        return self.profiles + self.included


def debian_policy_set() -> PolicySet:
    """Every policy file of PACKAGES; exits with the install command when one is missing."""
    profiles: list[Path] = []
    included: list[Path] = []
    for package in PACKAGES:
        listing = subprocess.run(
            ["dpkg-query", "-L", package], capture_output=True, text=True, check=False
        )
        if listing.returncode != 0:
            sys.exit(f"{package} is not installed: {INSTALL}")
        for path in map(Path, listing.stdout.splitlines()):
            if not path.is_file() or path.name == "README":
                continue
            if path.parent in (BASE, EXTRA_PROFILES):
                profiles.append(path)
            elif path.is_relative_to(BASE) and path.relative_to(BASE).parts[0] not in (
                "abi",
                "local",
            ):
                included.append(path)
    return PolicySet(tuple(sorted(set(profiles))), tuple(sorted(set(included))))


def wrappers(included: tuple[Path, ...]) -> str:
    """One file: the tunables in the preamble, a profile per abstraction or snippet."""
    lines = ["include <tunables/global>"]
    body = []
    for n, path in enumerate(included):
        rel = path.relative_to(BASE).as_posix()
        if rel.startswith("tunables/"):
            lines.append(f"include <{rel}>")
        else:
            body.append(f"profile aaprof-w{n} {{\n  include <{rel}>\n}}")
    return "\n".join(lines + body) + "\n"


def best_of(repeat: int, run: Callable[[], None]) -> float:
    """The shortest wall time of `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def time_aaprof(texts: list[tuple[str, str]], repeat: int) -> float:
    """Parse every text with `parse_policy`; a failure stops the benchmark (a bug to report)."""
    from aaprof.profiles.build import parse_policy

    def run() -> None:
        for name, text in texts:
            parse_policy(text, filename=name)

    return best_of(repeat, run)


def time_apparmor_parser(policy: PolicySet, repeat: int) -> float:
    """Compile the profiles, then the wrappers of the included files, with apparmor_parser."""
    parser = shutil.which("apparmor_parser") or sys.exit(
        "apparmor_parser not found: apt-get install apparmor"
    )
    args = [parser, "-Q", "-K", "-j", "1", "-M", str(FEATURES), "--base", str(BASE)]
    with tempfile.TemporaryDirectory(prefix="aaprof-bench-") as tmp:
        wrapper_file = Path(tmp) / "wrappers"
        wrapper_file.write_text(wrappers(policy.included))

        def run() -> None:
            for files in ([str(p) for p in policy.profiles], [str(wrapper_file)]):
                done = subprocess.run([*args, *files], capture_output=True, check=False)
                if done.returncode != 0:
                    sys.exit(f"apparmor_parser failed: {done.stderr.decode(errors='replace')}")

        return best_of(repeat, run)


def table(files: int, size: int, rows: list[tuple[str, float]]) -> str:
    """The markdown table the benchmark prints."""
    out = [
        "| tool | files | total bytes | wall s | files/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, seconds in rows:
        out.append(f"| {label} | {files} | {size:,} | {seconds:.3f} | {files / seconds:,.0f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool; the best counts")
    opts = ap.parse_args(argv)
    policy = debian_policy_set()
    raw = [(p, p.read_bytes()) for p in policy.files]
    texts = [(str(p), data.decode("utf-8", "surrogateescape")) for p, data in raw]
    size = sum(len(data) for _, data in raw)
    rows = [
        ("aaprof `parse_policy` (includes not expanded)", time_aaprof(texts, opts.repeat)),
        (
            "`apparmor_parser -Q -K -j 1` (includes expanded, DFAs built)",
            time_apparmor_parser(policy, opts.repeat),
        ),
    ]
    print(
        f"Debian policy set: {len(policy.profiles)} profiles + {len(policy.included)} "
        f"included files (abstractions, tunables, snippets); best of {opts.repeat}\n"
    )
    print(table(len(raw), size, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
