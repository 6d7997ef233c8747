"""Waiting for a directory to change: Linux inotify through ctypes, else polling.

A ConfigMap volume is updated by writing a new timestamped directory and renaming the `..data`
symlink over the old one, so a rename into the watched directory (`IN_MOVED_TO`) is the signal;
plain directories get created, written, removed and renamed files. The waiter only says
"something may have changed": the loader then compares contents, so a spurious wake-up is
harmless and nothing depends on which event came.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import time
from collections.abc import Sequence
from pathlib import Path

_IN_MODIFY = 0x002
_IN_ATTRIB = 0x004
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_MASK = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
)
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC


class Waiter:
    """Blocks until a directory may have changed or a timeout passes.

    Uses inotify when libc has it; otherwise (or with `poll=True`) compares a fingerprint of the
    directories (names, sizes, mtimes, symlink targets) every `poll_interval` seconds.
    """

    def __init__(
        self, dirs: Sequence[Path], *, poll: bool = False, poll_interval: float = 2.0
    ) -> None:
        self.dirs = tuple(dirs)
        self.poll_interval = poll_interval
        self._fd = -1 if poll else _inotify(self.dirs)
        self._print = fingerprint(self.dirs)

    @property
    def mode(self) -> str:
        return "inotify" if self._fd >= 0 else "polling"

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True when a change may have happened."""
        if self._fd >= 0:
            ready, _, _ = select.select([self._fd], [], [], max(timeout, 0.0))
            if not ready:
                return False
            self._drain()
            return True
        deadline = time.monotonic() + timeout
        while True:
            now = fingerprint(self.dirs)
            if now != self._print:
                self._print = now
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self.poll_interval, left))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _drain(self) -> None:
        while True:
            try:
                if not os.read(self._fd, 65536):
                    return
            except BlockingIOError:
                return


def fingerprint(dirs: Sequence[Path]) -> tuple[tuple[str, ...], ...]:
    """What polling compares: each entry's name, symlink target, size and mtime (ns)."""
    out: list[tuple[str, ...]] = []
    for directory in dirs:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            out.append((str(directory), "missing"))
            continue
        for entry in entries:
            try:
                target = os.readlink(entry.path) if entry.is_symlink() else ""
                st = os.stat(entry.path)
                out.append((entry.path, target, str(st.st_size), str(st.st_mtime_ns)))
            except OSError:
                out.append((entry.path, "gone"))
    return tuple(out)


def _inotify(dirs: Sequence[Path]) -> int:
    """An inotify descriptor watching the directories; -1 when inotify is not available."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6", use_errno=True)
        init = libc.inotify_init1
        add = libc.inotify_add_watch
    except (OSError, AttributeError):
        return -1
    fd = int(init(_IN_NONBLOCK | _IN_CLOEXEC))
    if fd < 0:
        return -1
    for directory in dirs:
        if add(fd, os.fsencode(directory), _MASK) < 0:
            os.close(fd)
            return -1
    return fd
