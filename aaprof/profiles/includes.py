"""Includes and variables: a policy file with its includes resolved against a profile directory."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.profiles.build import parse_policy

DEFAULT_PROFILE_DIR = Path("/etc/apparmor.d")
_VAR = re.compile(r"@\{(\w+)\}")
_MAX_DEPTH = 64  # AppArmor nests includes far less deep; deeper means a cycle


@dataclass(frozen=True, slots=True)
class Resolved:
    """Every file an include pulled in (by resolved path, in first-seen order) and the variables.

    `variables` maps a name (without `@{}`) to its values after every `=` and `+=` seen in the
    preambles, in include order.
    """

    files: tuple[tuple[str, m.PolicyFile], ...] = ()
    variables: tuple[tuple[str, tuple[str, ...]], ...] = ()
    missing: tuple[str, ...] = field(default=())

    def policy(self, path: str) -> m.PolicyFile:
        """The parsed file that `path` resolved to."""
        return dict(self.files)[path]

    def variable(self, name: str) -> tuple[str, ...]:
        """The values of `@{name}` (empty when never defined)."""
        return dict(self.variables).get(name, ())


def include_path(include: m.Include, profile_dir: Path, including: Path | None = None) -> Path:
    """Where an include points: `<x>` under the profile dir, `"x"` absolute or relative.

    A relative quoted path is looked for next to the including file, then under the profile dir.
    """
    path = Path(include.path)
    if include.magic or path.is_absolute():
        return path if path.is_absolute() else profile_dir / path
    if including is not None and (including.parent / path).exists():
        return including.parent / path
    return profile_dir / path


def read_policy_file(path: Path) -> m.PolicyFile:
    """Parse one policy file (bytes that are not UTF-8 kept as surrogate escapes).

    Raises:
        AaprofError: the file cannot be read or does not parse.
    """
    try:
        text = path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise AaprofError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_policy(text, filename=str(path))


class _Resolver:
    def __init__(self, profile_dir: Path) -> None:
        self.profile_dir = profile_dir
        self.files: dict[str, m.PolicyFile] = {}
        self.variables: dict[str, tuple[str, ...]] = {}
        self.missing: list[str] = []

    def visit(self, items: tuple[m.PolicyItem, ...], where: Path | None, depth: int) -> None:
        for item in items:
            if isinstance(item, m.Include):
                self.include(item, where, depth)
            elif isinstance(item, m.Variable):
                self.variables[item.name] = item.after(self.variables.get(item.name))
            elif isinstance(item, m.Profile | m.QualifierBlock):
                self.visit(item.body, where, depth)
            elif isinstance(item, m.Conditional):
                self.visit(item.body + item.orelse, where, depth)

    def include(self, inc: m.Include, where: Path | None, depth: int) -> None:
        path = include_path(inc, self.profile_dir, where)
        if depth > _MAX_DEPTH:
            raise AaprofError(f"{where}: includes nest deeper than {_MAX_DEPTH} (a cycle?)")
        paths = [path]
        if path.is_dir():  # a directory include reads every file in it, in name order
            paths = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif not path.exists():
            if inc.if_exists:
                return
            shown = f"<{inc.path}>" if inc.magic else f'"{inc.path}"'
            self.missing.append(str(path))
            raise AaprofError(f"{where or '<text>'}: include {shown} not found (looked for {path})")
        for p in paths:
            if str(p) not in self.files:
                self.files[str(p)] = read_policy_file(p)
                self.visit(self.files[str(p)].items, p, depth + 1)


def resolve_includes(
    policy: m.PolicyFile, profile_dir: Path | str = DEFAULT_PROFILE_DIR
) -> Resolved:
    """Follow every include of `policy` (recursively) and collect its variables.

    Args:
        policy: the parsed file; its `filename` anchors relative quoted includes.
        profile_dir: where `<...>` includes are looked up (default /etc/apparmor.d).

    Returns:
        The included files (each parsed once) and the variables they and `policy` define.

    Raises:
        AaprofError: an include that is neither found nor `if exists`, naming the file that
            includes it and the path looked for; or an included file that does not parse.
    """
    resolver = _Resolver(Path(profile_dir))
    where = Path(policy.filename) if not policy.filename.startswith("<") else None
    resolver.visit(policy.items, where, 0)
    return Resolved(
        tuple(resolver.files.items()), tuple(resolver.variables.items()), tuple(resolver.missing)
    )


def expand_variables(pattern: str, variables: Resolved, _depth: int = 0) -> tuple[str, ...]:
    """Every pattern `pattern` stands for once each `@{VAR}` is replaced by each of its values.

    A variable that is never defined is kept as written (`@{profile_name}` and other built-ins).

    Raises:
        AaprofError: variables that refer to each other in a cycle.
    """
    match = next((v for v in _VAR.finditer(pattern) if variables.variable(v.group(1))), None)
    if match is None:
        return (pattern,)
    if _depth > _MAX_DEPTH:
        raise AaprofError(f"variable @{{{match.group(1)}}} refers to itself")
    head, tail = pattern[: match.start()], pattern[match.end() :]
    out: list[str] = []
    for value in variables.variable(match.group(1)):
        for expanded in expand_variables(head + value + tail, variables, _depth + 1):
            if expanded not in out:
                out.append(expanded)
    return tuple(out)
