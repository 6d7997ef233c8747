"""A file's two verdicts for `aaprof profile check`: aaprof's own checks and apparmor_parser's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aaprof.errors import AaprofError
from aaprof.profiles.check import Problem, check_text


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One file's verdicts: `ours` and `theirs` are "ok" or what is wrong."""

    path: Path
    ours: str
    theirs: str
    ours_ok: bool
    theirs_ok: bool
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return self.ours_ok and self.theirs_ok

    def to_dict(self) -> dict[str, object]:
        return {
            "file": str(self.path),
            "aaprof": self.ours,
            "apparmor_parser": self.theirs,
            "problems": [p.to_dict() for p in self.problems],
        }


def is_fragment(path: Path, base: Path) -> bool:
    """Whether `path` is a file meant to be included (under abstractions/, tunables/ ...)."""
    try:
        parts = path.resolve().relative_to(base.resolve()).parts
    except ValueError:
        return False
    return len(parts) > 1 and parts[0] in ("abstractions", "tunables", "local", "abi")


def check_file(
    path: Path, base: Path, *, compile_too: bool = True, fragment: bool | None = None
) -> CheckResult:
    """`check_text` on a file, then apparmor_parser's verdict where it is installed.

    apparmor_parser's verdict is "not installed" (not a failure) where it is missing, and
    "skipped" when not asked for. `fragment` defaults to `is_fragment(path, base)`.
    """
    try:
        text = path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as exc:
        reason = f"error: {path}: cannot read: {exc.strerror}"
        return CheckResult(path, reason, "skipped", False, True)
    if fragment is None:
        fragment = is_fragment(path, base)
    problems = check_text(text, filename=str(path), include_dirs=(base,), fragment=fragment)
    ours = (
        "ok"
        if not problems
        else f"error: {problems[0]}"
        + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
    )
    ours_ok = not problems
    if not compile_too:
        return CheckResult(path, ours, "skipped", ours_ok, True, problems)
    from aaprof.profiles.compile import compile_policy, parser_path

    try:
        parser_path()
    except AaprofError:
        return CheckResult(path, ours, "not installed", ours_ok, True, problems)
    try:
        compile_policy(text, base=base, name=str(path))
        return CheckResult(path, ours, "ok", ours_ok, True, problems)
    except (AaprofError, OSError) as exc:
        return CheckResult(path, ours, f"rejected: {exc}", ours_ok, False, problems)
