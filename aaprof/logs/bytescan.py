"""Byte searches over a chunk of a log: in C where aaprof's optional extension is built
(aaprof/logs/_bytescan.c, glibc's memchr and memmem), else in pure Python, with one result.

What the readers spend on a noisy log, once no Python code runs per line, is finding a few
needles in each megabyte: `apparmor=`, the legacy marks, the newlines. `bytes.find` skips ahead
only past bytes that are not in the needle, and these needles are made of a log's commonest
bytes (`type=150` walks a kern.log nearly byte by byte); memmem compares pairs of bytes and
skips further (docs/performance.md has the numbers). The extension is built by `pip install`
where a C compiler and Python's headers are found (`./dev.sh` installs both); where it is not,
the pure-Python searches run, and `AAPROF_PURE_PYTHON=1` chooses them anyway. The tests run
both and hold them equal (tests/logs/test_bytescan.py and the readers' properties).
"""

from __future__ import annotations

import os
import re
from types import ModuleType
from typing import Final


def _extension() -> ModuleType | None:
    if os.environ.get("AAPROF_PURE_PYTHON"):
        return None
    try:
        from aaprof.logs import _bytescan
    except ImportError:
        return None
    return _bytescan


# The C searches, or None (the pure-Python ones run). Tests swap it: read it at each call.
fast: ModuleType | None = _extension()


def count(buffer: bytes | bytearray | memoryview, needle: bytes, start: int, end: int) -> int:
    """`buffer.count(needle, start, end)` (a non-empty needle, a buffer of any kind)."""
    if fast is not None:
        return fast.count(buffer, needle, start, end)  # type: ignore[no-any-return]
    if len(needle) == 1:
        # (bytes.count compares byte by byte and checks a limit at each match: twice as slow
        # on a megabyte of log as a regex's findall of the byte, which makes a list of one
        # object, a slot per match)
        return len(_single(needle).findall(buffer, start, end))
    if isinstance(buffer, memoryview):  # (it has no count; the readers count only newlines
        buffer = buffer.tobytes()  # in one, which the regex above does without a copy)
    return buffer.count(needle, start, end)


def positions(buffer: bytes, needles: tuple[bytes, ...], start: int, end: int) -> list[int]:
    """Where each needle starts in `buffer[start:end]` (overlapping occurrences too), in order.

    Pure Python: `bytes.find` from each occurrence on; a needle with a probe (`PROBES`) is
    looked for only where the probe is.
    """
    if fast is not None:
        return fast.positions(buffer, needles, start, end)  # type: ignore[no-any-return]
    found: list[int] = []
    for needle in needles:
        probe = PROBES.get(needle)
        if probe is not None and buffer.rfind(probe, start, end) < 0:
            continue  # (the usual: a legacy mark in no line of the chunk)
        at = buffer.find(needle, start, end)
        while at >= 0:
            found.append(at)
            at = buffer.find(needle, at + 1, end)
    found.sort()
    return found


def positions_not_after(
    buffer: bytes, needle: bytes, before: bytes, start: int, end: int
) -> list[int]:
    """Where `needle` starts in `buffer[start:end]` but not right after `before` (which may
    stand before `start`), in order. For a needle that cannot overlap itself (`apparmor=`:
    the two searches step past an occurrence differently)."""
    if fast is not None:
        return fast.positions_not_after(  # type: ignore[no-any-return]
            buffer, needle, before, start, end
        )
    back = len(needle) - len(_suffix(needle))  # (the regex matches from the needle's suffix)
    pattern = _not_after(needle, before)
    return [m.start() - back for m in pattern.finditer(buffer, start + back, end)]


def marked_lines(
    buffer: bytes, needles: tuple[bytes, ...], start: int, end: int
) -> list[tuple[int, int, bytes]]:
    """For each line of `buffer[start:end]` that holds one of the needles (none holds a
    newline), in order: the newlines in `buffer[start:]` before it, where it ends, the line
    (its newline too, where it has one)."""
    if fast is not None:
        return fast.marked_lines(buffer, needles, start, end)  # type: ignore[no-any-return]
    lines = []
    end = min(end, len(buffer))
    counted, newlines, taken = start, 0, start
    for at in positions(buffer, needles, start, end):
        if at < taken:
            continue  # in a line already taken
        line_start = buffer.rfind(b"\n", start, at) + 1 or start
        line_end = buffer.find(b"\n", at, end) + 1 or end
        newlines += count(buffer, b"\n", counted, line_start)
        counted, taken = line_start, line_end
        lines.append((newlines, line_end, buffer[line_start:line_end]))
    return lines


def lines_with(buffer: bytes, needle: bytes, start: int, end: int) -> bytes:
    """The lines of `buffer[start:end]` that hold `needle` (which holds no newline), each whole
    (its newline too, where it has one), one after the other."""
    if fast is not None:
        return fast.lines_with(buffer, needle, start, end)  # type: ignore[no-any-return]
    lines = []
    at = buffer.find(needle, start, end)
    while at >= 0:
        line_start = buffer.rfind(b"\n", start, at) + 1 or start
        line_end = buffer.find(b"\n", at, end) + 1 or end
        lines.append(buffer[line_start:line_end])
        at = buffer.find(needle, line_end, end)
    return b"".join(lines)


# A rare mark, and the part of it whose absence `bytes.rfind` finds fastest in a log's text (it
# skips by the needle's first byte: the fewer of those in a log, the faster; `type=150` has no
# rare byte, and backwards it measured fastest). Measured against `find` of `APPAR` and `KNOWN`:
# 10 and 12 ms against 15 and 16 per 74 MB of kern.log, 14 and 16 against 21 and 21 per 103 MB
# of audit.log.
PROBES: Final = {
    b"type=APPARMOR": b"APPARMOR",
    b"UNKNOWN[150": b"NKNOWN[",
    b"type=150": b"type=150",
}

_SINGLES: dict[bytes, re.Pattern[bytes]] = {}
_NOT_AFTER: dict[tuple[bytes, bytes], re.Pattern[bytes]] = {}


def _single(byte: bytes) -> re.Pattern[bytes]:
    pattern = _SINGLES.get(byte)
    if pattern is None:
        pattern = _SINGLES[byte] = re.compile(re.escape(byte))
    return pattern


def _suffix(needle: bytes) -> bytes:
    return needle[-4:]


def _not_after(needle: bytes, before: bytes) -> re.Pattern[bytes]:
    """A regex matching a needle's last four bytes where the needle ends there and `before`
    does not stand before it. (The regex engine looks for a literal's first byte one byte at a
    time: from `mor=` in `apparmor=` it skips faster than from the common `a`.)"""
    pattern = _NOT_AFTER.get((needle, before))
    if pattern is None:
        whole = re.escape(needle)
        suffix = re.escape(_suffix(needle))
        after = b"(?<!" + re.escape(before) + whole + b")" if before else b""
        pattern = re.compile(suffix + after + b"(?<=" + whole + b")")
        _NOT_AFTER[needle, before] = pattern
    return pattern
