"""`aaprof profile check`: aaprof's parser and apparmor_parser, each with its verdict."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aaprof.errors import AaprofError
from aaprof.profiles.compare import read_policy
from aaprof.profiles.includes import resolve_includes


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One file's verdicts: `ours` and `theirs` are "ok" or what is wrong."""

    path: Path
    ours: str
    theirs: str
    ours_ok: bool
    theirs_ok: bool

    @property
    def ok(self) -> bool:
        return self.ours_ok and self.theirs_ok

    def to_dict(self) -> dict[str, object]:
        return {"file": str(self.path), "aaprof": self.ours, "apparmor_parser": self.theirs}


def check_file(path: Path, base: Path, *, compile_too: bool = True) -> CheckResult:
    """Parse the file and resolve its includes; then compile it with apparmor_parser.

    apparmor_parser's verdict is "not installed" (not a failure) where it is missing, and
    "skipped" when not asked for.
    """
    try:
        policy = read_policy(path)
        resolve_includes(policy, base)
        ours, ours_ok = "ok", True
    except AaprofError as exc:
        ours, ours_ok = f"error: {exc}", False
    if not compile_too:
        return CheckResult(path, ours, "skipped", ours_ok, True)
    from aaprof.profiles.compile import compile_policy, parser_path

    try:
        parser_path()
    except AaprofError:
        return CheckResult(path, ours, "not installed", ours_ok, True)
    try:
        text = path.read_bytes().decode("utf-8", "surrogateescape")
        compile_policy(text, base=base, name=str(path))
        return CheckResult(path, ours, "ok", ours_ok, True)
    except (AaprofError, OSError) as exc:
        return CheckResult(path, ours, f"rejected: {exc}", ours_ok, False)
