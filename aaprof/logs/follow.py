"""Follow growing log files, safe across rotation (rename + new file) and truncation."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

# Bytes read at a time when a file is searched for a line, or its lines counted.
SEARCH_CHUNK = 1 << 20

# How long to wait between polls when no file has new lines.
POLL_SECONDS = 0.25
# How many idle polls a renamed-away file is still read after the switch to its successor:
# a daemon keeps writing to it until it reopens its log (rsyslog: logrotate's postrotate HUP).
RETIRED_POLLS = 40


@dataclass(slots=True)
class _Followed:
    name: str
    stream: BinaryIO | None = None
    inode: tuple[int, int] | None = None
    line: int = 0
    partial: bytes = b""

    def reopen(self, from_end: bool) -> None:
        if self.stream is not None:
            self.stream.close()
        try:
            self.stream = open(self.name, "rb")  # noqa: SIM115 - kept open while followed
        except OSError:
            self.stream, self.inode = None, None
            return
        st = os.fstat(self.stream.fileno())
        self.inode = (st.st_dev, st.st_ino)
        if from_end:
            self.stream.seek(0, os.SEEK_END)
        self.partial = b""

    def read_new(self) -> list[tuple[int, bytes]]:
        """Complete lines written since the last call; a partial last line waits."""
        if self.stream is None:
            return []
        chunk = self.stream.read()
        if not chunk:
            return []
        data = self.partial + chunk
        lines = data.split(b"\n")
        self.partial = lines.pop()
        out = []
        for raw in lines:
            self.line += 1
            out.append((self.line, raw + b"\n"))
        return out

    def change(self) -> str | None:
        """ "rotated" (another file has the name now), "truncated", or None."""
        try:
            st = os.stat(self.name)
        except OSError:
            return None  # gone for now: keep reading the old file until a new one appears
        if self.inode != (st.st_dev, st.st_ino):
            return "rotated"
        if self.stream is not None and st.st_size < self.stream.tell():
            return "truncated"
        return None

    def retire(self) -> _Followed:
        """This file's old stream, to be read a while longer; this one then has none."""
        old = _Followed(self.name, self.stream, self.inode, self.line, self.partial)
        self.stream, self.inode, self.partial = None, None, b""
        return old


def follow(
    names: list[str],
    *,
    from_start: bool = False,
    stop: Callable[[], bool] = lambda: False,
    poll: float = POLL_SECONDS,
) -> Iterator[tuple[str, int, bytes]]:
    """(file, line number, line) for lines appended to the files, until `stop()` is true.

    A file that is renamed away (rotation) is read to its end, then the new file of that name is
    read from its start, while the renamed one is still read for RETIRED_POLLS idle polls (its
    lines keep the old file's name and numbering): what a daemon writes there before it reopens
    its log is not lost. A truncated file is read again from its start. Nothing is lost between
    polls, and a line is only given once it is complete.

    Args:
        names: files to follow; ones that do not exist yet are picked up when they appear.
        from_start: read what the files already hold first (default: only new lines).
        stop: checked between polls; the iterator ends when it returns True.
        poll: seconds to sleep when no file had new lines.
    """
    followed = [_Followed(name) for name in names]
    retired: list[_Retired] = []
    for f in followed:
        f.reopen(from_end=not from_start)
    while not stop():
        busy = False
        for f in followed:
            for number, line in f.read_new():
                busy = True
                yield f.name, number, line
            change = "missing" if f.stream is None else f.change()
            if change is None:
                continue
            # Drain what the old file holds; a renamed one is kept and read a while longer.
            for number, line in f.read_new():
                yield f.name, number, line
            if change == "rotated":
                retired.append(_Retired(f.retire()))
            f.reopen(from_end=False)
            f.line = 0
        for r in retired:
            lines = r.file.read_new()
            r.idle = 0 if lines else r.idle + 1
            for number, line in lines:
                busy = True
                yield r.file.name, number, line
        for r in [r for r in retired if r.idle > RETIRED_POLLS]:
            retired.remove(r)
            r.close()
        if not busy:
            time.sleep(poll)
    for f in followed:
        if f.stream is not None:
            f.stream.close()
    for r in retired:
        r.close()


@dataclass(slots=True)
class _Retired:
    """A renamed-away file still read after the switch, and how many polls it has been idle."""

    file: _Followed
    idle: int = 0

    def close(self) -> None:
        if self.file.stream is not None:
            self.file.stream.close()


def find_line(fd: int, line: bytes) -> int | None:
    """The offset just after the first place `line` (ending in a newline) stands as a whole line
    in the file open on `fd` (at its start or after a newline); None if it does not.

    A follower's checkpoint keeps the last line it took: where the file's device, inode or the
    offset no longer match (a restore, a copy, renumbered devices), that line finds the place.
    """
    if not line.endswith(b"\n"):
        return None
    needle = b"\n" + line
    # The window keeps the newline before what is read next, so a line cut by a chunk's edge
    # is found whole in the next one.
    window, offset = b"\n", 0  # the file's start counts as after a newline
    while True:
        chunk = os.pread(fd, SEARCH_CHUNK, offset)
        window += chunk
        at = window.find(needle)
        if at >= 0:
            return offset - (len(window) - len(chunk)) + at + len(needle)
        if not chunk:
            return None
        offset += len(chunk)
        window = window[1 - len(needle) :]


def count_lines(fd: int, end: int) -> int:
    """The newlines in the file's first `end` bytes."""
    count, offset = 0, 0
    while offset < end:
        chunk = os.pread(fd, min(SEARCH_CHUNK, end - offset), offset)
        if not chunk:
            break
        count += chunk.count(b"\n")
        offset += len(chunk)
    return count
