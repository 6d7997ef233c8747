"""A file's two verdicts for `aaprof profile check`: aaprof's own checks and apparmor_parser's."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aaprof.errors import AaprofError
from aaprof.profiles.abi import check_warnings
from aaprof.profiles.check import Problem, check_text
from aaprof.profiles.includes import DEFAULT_MAX_BYTES, NOT_READ, Includes, read_policy_text


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One file's verdicts: `ours` and `theirs` are "ok" or what is wrong."""

    path: Path
    ours: str
    theirs: str
    ours_ok: bool
    theirs_ok: bool
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return self.ours_ok and self.theirs_ok

    def to_dict(self) -> dict[str, object]:
        return {
            "file": str(self.path),
            "aaprof": self.ours,
            "apparmor_parser": self.theirs,
            "problems": [p.to_dict() for p in self.problems],
            "warnings": [p.to_dict() for p in self.warnings],
        }


def is_fragment(path: Path, base: Path) -> bool:
    """Whether `path` is a file meant to be included (under abstractions/, tunables/ ...)."""
    try:
        parts = path.resolve().relative_to(base.resolve()).parts
    except ValueError:
        return False
    return len(parts) > 1 and parts[0] in ("abstractions", "tunables", "local", "abi")


def check_file(
    path: Path,
    base: Path,
    *,
    compile_too: bool = True,
    fragment: bool | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> CheckResult:
    """`check_text` on a file, then apparmor_parser's verdict where it is installed.

    The file and its includes are read as `includes.Includes` reads them: below `base` or the
    file's own directory, regular files of at most `max_bytes`. apparmor_parser's verdict is
    "not installed" (not a failure) where it is missing, "skipped" when not asked for, and
    "skipped (...)" when an include aaprof would not read is there (apparmor_parser would read
    it: a FIFO would block it, a file outside would be quoted). `fragment` defaults to
    `is_fragment(path, base)`.
    """
    includes = Includes((base,), max_bytes=max_bytes)
    try:
        text = read_policy_text(path, includes)
    except AaprofError as exc:
        return CheckResult(path, f"error: {exc}", "skipped", False, True)
    if fragment is None:
        fragment = is_fragment(path, base)
    includes = includes.with_roots(Path(os.path.realpath(path)).parent)
    problems = check_text(text, filename=str(path), includes=includes, fragment=fragment)
    warnings = () if fragment else check_warnings(text, filename=str(path))
    ours = (
        "ok"
        if not problems
        else f"error: {problems[0]}"
        + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
    )
    ours_ok = not problems
    if not compile_too:
        return CheckResult(path, ours, "skipped", ours_ok, True, problems, warnings)
    if any(p.reason.endswith(NOT_READ) for p in problems):
        theirs = "skipped (an include aaprof does not read)"
        return CheckResult(path, ours, theirs, ours_ok, True, problems, warnings)
    from aaprof.profiles.compile import compile_policy, parser_path

    try:
        parser_path()
    except AaprofError:
        return CheckResult(path, ours, "not installed", ours_ok, True, problems, warnings)
    try:
        compile_policy(text, base=base, name=str(path))
        return CheckResult(path, ours, "ok", ours_ok, True, problems, warnings)
    except (AaprofError, OSError) as exc:
        return CheckResult(path, ours, f"rejected: {exc}", ours_ok, False, problems, warnings)
