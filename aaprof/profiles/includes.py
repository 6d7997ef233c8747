"""Includes and variables: where an include points, what may be read, the files it pulls in.

`Includes` is the one include resolver every profile reader goes through (`profile check`,
`fmt`, `node load`, review's rule box, generate's merge, `explain`): an include resolves as
apparmor_parser resolves it, and a file is read only when its real path is a regular file inside
the directories it was given, and only up to a size cap.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.profiles.build import parse_policy

DEFAULT_PROFILE_DIR = Path("/etc/apparmor.d")
# far above any real profile (Debian's largest file is ~60 kB; a 128k-rule profile ~5 MB)
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_VAR = re.compile(r"@\{(\w+)\}")
_MAX_DEPTH = 64  # AppArmor nests includes far less deep; deeper means a cycle
_SKIPPED_SUFFIXES = (".dpkg-new", ".dpkg-old", ".dpkg-dist", ".dpkg-bak", ".rpmnew", ".rpmsave")
_CHUNK = 1 << 20
NOT_READ = "; not read"  # how every refusal to read a file ends


def shown(include: m.Include) -> str:
    """An include as written: `<x>` or `"x"`."""
    return f"<{include.path}>" if include.magic else f'"{include.path}"'


@dataclass(frozen=True, slots=True)
class Includes:
    """Where includes resolve and which files may be read.

    `search` is apparmor_parser's include path, in order (its `-I` directories, then `--base`):
    `include <x>` is the first `DIR/x` that exists (an absolute x too: `DIR//etc/x`).
    `include "x"` is opened as apparmor_parser opens it, with open(2): a relative x from the
    working directory. Either is read only when its real path (symlinks followed) is a regular
    file inside `search` or `roots` (the profile directories), of at most `max_bytes`.
    """

    search: tuple[Path, ...] = (DEFAULT_PROFILE_DIR,)
    roots: tuple[Path, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    _real: list[str] = field(default_factory=list, init=False, compare=False, repr=False)

    def with_roots(self, *roots: Path) -> Includes:
        """The same resolver, allowed to read below `roots` too."""
        return Includes(self.search, (*self.roots, *roots), self.max_bytes)

    def locate(self, include: m.Include) -> Path | None:
        """Where apparmor_parser would open `include`, or None when nothing is there."""
        if include.magic:
            for directory in self.search:
                candidate = Path(f"{directory}/{include.path}")  # not `/`: <\/x> stays below
                if candidate.exists():
                    return candidate
            return None
        candidate = Path(include.path)
        if not candidate.is_absolute():
            candidate = Path.cwd() / candidate
        return candidate if candidate.exists() else None

    def files(self, path: Path) -> list[Path]:
        """The files an include of `path` reads: itself, or a directory's regular files in name
        order (not hidden files nor packaging backups, as apparmor_parser skips them).

        Raises:
            AaprofError: a directory outside the roots, or one that cannot be listed.
        """
        if not path.is_dir():
            return [path]
        self.inside(path)
        try:
            names = sorted(os.listdir(path))
        except OSError as exc:
            raise AaprofError(f"{path}: cannot list: {exc.strerror}") from None
        return [path / n for n in names if _included(n) and (path / n).is_file()]

    def read(self, path: Path) -> str:
        """The text of `path` (bytes that are not UTF-8 kept as surrogate escapes).

        Raises:
            AaprofError: one line naming `path` and why it is not read: outside the roots, not
                a regular file (a device, a FIFO), larger than `max_bytes`, or unreadable.
                Never any of its content.
        """
        self.inside(path)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as exc:
            raise AaprofError(f"{path}: cannot read: {exc.strerror}") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise AaprofError(f"{path}: not a regular file ({_kind(info.st_mode)}){NOT_READ}")
            opened = _opened(fd)
            if opened is not None:  # what was opened, not what was looked at before (a race)
                self.inside(path, opened)
            return _bounded(fd, path, self.max_bytes).decode("utf-8", "surrogateescape")
        except OSError as exc:
            raise AaprofError(f"{path}: cannot read: {exc.strerror}") from None
        finally:
            os.close(fd)

    def inside(self, path: Path, real: str | None = None) -> None:
        """Raise unless `path`'s real path is below one of the roots.

        Raises:
            AaprofError: it is not (named by `path`, and the roots; not where it leads).
        """
        real = real if real is not None else os.path.realpath(path)
        if not self._real:
            self._real.extend(os.path.realpath(r) for r in (*self.search, *self.roots))
        if not any(real == r or real.startswith(r.rstrip("/") + "/") for r in self._real):
            where = ", ".join(dict.fromkeys(str(r) for r in (*self.search, *self.roots)))
            raise AaprofError(f"{path}: outside the profile directories ({where}){NOT_READ}")


def _included(name: str) -> bool:
    """Whether a directory include reads this file (AppArmor skips backups and hidden files)."""
    return not name.startswith(".") and not name.endswith((*_SKIPPED_SUFFIXES, "~"))


_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a file")


def _opened(fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None  # no /proc: the realpath checked before opening stands


def _bounded(fd: int, path: Path, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise AaprofError(f"{path}: larger than {limit} bytes{NOT_READ}")


def read_policy_text(path: Path, includes: Includes | None = None) -> str:
    """The text of a policy file named directly (a command's argument), read as `Includes.read`
    reads an include: a regular file, at most the cap; inside the roots when `includes` is given,
    else anywhere its caller named.

    Raises:
        AaprofError: the file is not read (why, in one line naming it).
    """
    reader = includes if includes is not None else Includes()
    return reader.with_roots(Path(os.path.realpath(path)).parent).read(path)


def read_policy_file(path: Path, includes: Includes | None = None) -> m.PolicyFile:
    """Parse one policy file (see `read_policy_text`).

    Raises:
        AaprofError: the file cannot be read or does not parse.
    """
    return parse_policy(read_policy_text(path, includes), filename=str(path))


@dataclass(frozen=True, slots=True)
class Resolved:
    """Every file an include pulled in (by path, in first-seen order), the files each include
    stands for, and the variables.

    `variables` maps a name (without `@{}`) to its values after every `=` and `+=` seen in the
    preambles, in include order.
    """

    files: tuple[tuple[str, m.PolicyFile], ...] = ()
    variables: tuple[tuple[str, tuple[str, ...]], ...] = ()
    missing: tuple[str, ...] = ()
    expansions: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def policy(self, path: str) -> m.PolicyFile:
        """The parsed file that `path` resolved to."""
        return dict(self.files)[path]

    def variable(self, name: str) -> tuple[str, ...]:
        """The values of `@{name}` (empty when never defined)."""
        return dict(self.variables).get(name, ())

    def expansion(self, include: m.Include) -> tuple[str, ...] | None:
        """The files (keys of `files`) `include` stands for; None when it was not resolved."""
        return dict(self.expansions).get(shown(include))


class _Resolver:
    def __init__(self, includes: Includes) -> None:
        self.includes = includes
        self.files: dict[str, m.PolicyFile] = {}
        self.variables: dict[str, tuple[str, ...]] = {}
        self.missing: list[str] = []
        self.expansions: dict[str, tuple[str, ...]] = {}

    def visit(self, items: tuple[m.PolicyItem, ...], where: str, depth: int) -> None:
        for item in items:
            if isinstance(item, m.Include):
                self.include(item, where, depth)
            elif isinstance(item, m.Variable):
                self.variables[item.name] = item.after(self.variables.get(item.name))
            elif isinstance(item, m.Profile | m.QualifierBlock):
                self.visit(item.body, where, depth)
            elif isinstance(item, m.Conditional):
                self.visit(item.body + item.orelse, where, depth)

    def include(self, inc: m.Include, where: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise AaprofError(f"{where}: includes nest deeper than {_MAX_DEPTH} (a cycle?)")
        path = self.includes.locate(inc)
        if path is None:
            if inc.if_exists:
                return
            self.missing.append(inc.path)
            raise AaprofError(f"{where}: include {shown(inc)} not found")
        try:
            paths = self.includes.files(path)
        except AaprofError as exc:
            raise AaprofError(f"{where}: include {shown(inc)}: {exc}") from None
        self.expansions.setdefault(shown(inc), tuple(str(p) for p in paths))
        for p in paths:
            if str(p) not in self.files:
                try:
                    text = self.includes.read(p)
                except AaprofError as exc:
                    raise AaprofError(f"{where}: include {shown(inc)}: {exc}") from None
                self.files[str(p)] = parse_policy(text, filename=str(p))
                self.visit(self.files[str(p)].items, str(p), depth + 1)


def resolve_includes(policy: m.PolicyFile, includes: Includes | None = None) -> Resolved:
    """Follow every include of `policy` (recursively) and collect its variables.

    Args:
        policy: the parsed file.
        includes: how includes resolve and what may be read (default: /etc/apparmor.d).

    Returns:
        The included files (each parsed once) and the variables they and `policy` define.

    Raises:
        AaprofError: an include that is neither found nor `if exists`, or one that is not read
            (`Includes.read`), naming the file that includes it; or an included file that does
            not parse.
    """
    resolver = _Resolver(includes if includes is not None else Includes())
    resolver.visit(policy.items, policy.filename, 0)
    return Resolved(
        tuple(resolver.files.items()),
        tuple(resolver.variables.items()),
        tuple(resolver.missing),
        tuple(resolver.expansions.items()),
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
