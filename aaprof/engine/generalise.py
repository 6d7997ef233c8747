"""Alternatives to a least file rule: volatile parts as globs or variables, then wider globs."""

from __future__ import annotations

import dataclasses
import functools
import re

from aaprof.engine.options import GLOB, GLOB_EXT, LINK, OWNER, VOLATILE, Option
from aaprof.model import profile as m

# Volatile parts, each matched on one whole path segment (between slashes), in the escaped
# form the least rule holds (these parts contain no AARE metacharacters, so escaping left them
# as they were). Replacements are patterns the kernel's tunables define or plain globs.
_HEX = "[0-9a-f]"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HASH = re.compile(r"[0-9a-f]{16,}")  # container and image ids, content hashes
_MKTEMP = (
    # mktemp(1)'s `tmp.` and its draw (GNU: 10 characters, busybox: 6), or any name after
    # `tmp.` with a digit or a capital in it (`tmp.1.XYZ`); `tmp.conf` stays a word
    re.compile(r"(tmp\.)(?:[A-Za-z0-9]{6,}|[A-Za-z0-9._-]*[0-9A-Z][A-Za-z0-9._-]*)"),
    re.compile(r"(tmp)[a-z0-9_]{8}"),  # Python's tempfile
    re.compile(
        r"([A-Za-z][A-Za-z_]*[.-])(?=[A-Za-z0-9.-]*[0-9])(?=[A-Za-z0-9.-]*[A-Za-z]{2})"
        r"[A-Za-z0-9.-]*[A-Za-z0-9]{6}"
    ),  # name.XXXXXX (mkstemp), under temp dirs
    # name.XXXXXX with no digit in the draw (mixed case), and Go's os.CreateTemp (digits only)
    re.compile(
        r"([A-Za-z][A-Za-z_]*[.-])(?:(?=[A-Za-z]*[a-z])(?=[A-Za-z]*[A-Z])[A-Za-z]{6}|[0-9]{6,})"
    ),
)
_VOLATILE_WHY = "the part that changes on every run (pid, tid, UUID, hash, temp name) as a pattern"
_TEMP_DIRS = ("/tmp/", "/var/tmp/", "/dev/shm/", "/run/user/")
_SNAPSHOT = re.compile(r"(.*/snapshots/)[0-9]+(/.*)?")  # containerd overlayfs snapshot ids


def _segment(seg: str, index: int, parts: list[str], path: str) -> str:
    if index == 2 and parts[1] == "proc" and seg.isdigit():
        return "@{pid}"
    if index == 4 and parts[1] == "proc" and parts[3] == "task" and seg.isdigit():
        return "@{tid}"
    if _UUID.fullmatch(seg):
        return "-".join(f"{_HEX}*" for _ in range(5))
    if _HASH.fullmatch(seg):
        return f"{_HEX}*"
    if path.startswith(_TEMP_DIRS) and index >= 2:
        for pattern in _MKTEMP:
            match = pattern.fullmatch(seg)
            if match:
                return match[1] + "*"
    return seg


def volatile(path: str) -> str | None:
    """`path` with its volatile parts generalised, or None when it has none.

    `/proc/1234/` → `/proc/@{pid}/`, `/proc/1/task/7/` → `@{tid}`, UUIDs, hex hashes of 16 or
    more digits, containerd snapshot numbers, and mktemp-style names under temporary
    directories (`/tmp/tmp.AbC123xYz0`, `/tmp/tmp.1.XYZ` → `/tmp/tmp.*`, never `/tmp/**`).
    """
    parts = path.split("/")
    out = [_segment(seg, i, parts, path) for i, seg in enumerate(parts)]
    result = "/".join(out)
    snap = _SNAPSHOT.fullmatch(result)
    if snap:
        result = snap[1] + "[0-9]*" + (snap[2] or "")
    return result if result != path else None


def globs(path: str) -> tuple[str, ...]:
    """aa-logprof's ladder: `/a/b/c` → `/a/b/*` → `/a/**`, and with the extension kept
    (`/a/b/c.txt` → `/a/b/*.txt` → `/a/**.txt`); a directory keeps its trailing `/`."""
    is_dir = path.endswith("/") and path != "/"
    parts = path.rstrip("/").split("/")
    if len(parts) < 3:
        return ()
    last = parts[-1]
    ext = ""
    dot = last.rfind(".")
    if not is_dir and dot > 0 and re.fullmatch(r"\.[A-Za-z0-9]{1,8}", last[dot:]):
        ext = last[dot:]
    tail = "/" if is_dir else ""
    out: list[str] = []
    if ext:
        out.append("/".join(parts[:-1]) + "/*" + ext)
    out.append("/".join(parts[:-1]) + "/*" + tail)
    if len(parts) > 3:
        parent = "/".join(parts[:-2])
        if ext:
            out.append(parent + "/**" + ext)
        out.append(parent + "/**" + tail)
    return tuple(dict.fromkeys(p for p in out if p != path))


def file_alternatives(rule: m.FileRule | m.LinkRule) -> tuple[Option, ...]:
    """The labelled alternatives for a file or link rule, narrowest first: the volatile form,
    the globs of it, and the rule without `owner` (or with it, when it was not)."""
    if rule.path is None:
        return ()
    base = volatile(rule.path)
    out: list[Option] = []
    if base:
        item = dataclasses.replace(rule, path=base)
        if isinstance(rule, m.LinkRule):
            item = dataclasses.replace(rule, path=base, target=volatile(rule.target) or rule.target)
        out.append(Option(item, VOLATILE, _VOLATILE_WHY))
    for path in globs(base or rule.path):
        kind, why = _glob_label("/**" in path, path.rsplit("*", 1)[1])
        out.append(Option(dataclasses.replace(rule, path=path), kind, why))
    flipped = dataclasses.replace(rule.qualifiers, owner=not rule.qualifiers.owner)
    why = "files of any owner" if rule.qualifiers.owner else "only files the process owns"
    out.append(Option(dataclasses.replace(rule, qualifiers=flipped), OWNER, why))
    if isinstance(rule, m.LinkRule):
        item = m.FileRule(rule.qualifiers, rule.path, frozenset("l"))
        out.append(Option(item, LINK, "a link to any target it has no more permissions on"))
    return tuple(out)


@functools.lru_cache(maxsize=256)
def _glob_label(deep: bool, tail: str) -> tuple[str, str]:
    """(kind, why) of a glob alternative: `**` or not, and what follows the last `*`."""
    where = "in this directory and below" if deep else "in this directory"
    if tail and tail != "/":
        return GLOB_EXT, f"any {tail} name {where}"
    return GLOB, f"any {'directory' if tail == '/' else 'name'} {where}"
