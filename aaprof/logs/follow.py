"""Follow growing log files, safe across rotation (rename + new file) and truncation."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

# How long to wait between polls when no file has new lines.
POLL_SECONDS = 0.25


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

    def rotated_or_truncated(self) -> bool:
        try:
            st = os.stat(self.name)
        except OSError:
            return False  # gone for now: keep reading the old file until a new one appears
        if self.inode != (st.st_dev, st.st_ino):
            return True
        return self.stream is not None and st.st_size < self.stream.tell()


def follow(
    names: list[str],
    *,
    from_start: bool = False,
    stop: Callable[[], bool] = lambda: False,
    poll: float = POLL_SECONDS,
) -> Iterator[tuple[str, int, bytes]]:
    """(file, line number, line) for lines appended to the files, until `stop()` is true.

    A file that is renamed away (rotation) is read to its end, then the new file of that name is
    read from its start; a truncated file is read again from its start. Nothing is lost between
    polls, and a line is only given once it is complete.

    Args:
        names: files to follow; ones that do not exist yet are picked up when they appear.
        from_start: read what the files already hold first (default: only new lines).
        stop: checked between polls; the iterator ends when it returns True.
        poll: seconds to sleep when no file had new lines.
    """
    followed = [_Followed(name) for name in names]
    for f in followed:
        f.reopen(from_end=not from_start)
    while not stop():
        busy = False
        for f in followed:
            for number, line in f.read_new():
                busy = True
                yield f.name, number, line
            if f.stream is None or f.rotated_or_truncated():
                # Drain what the old file still holds, then switch to the new one.
                for number, line in f.read_new():
                    yield f.name, number, line
                f.reopen(from_end=False)
                f.line = 0
        if not busy:
            time.sleep(poll)
    for f in followed:
        if f.stream is not None:
            f.stream.close()
