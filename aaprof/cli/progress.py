"""A progress bar on stderr for long reads, shown only when stderr is a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, Protocol

import click

from aaprof.logs.sources import Input

# Show a progress bar when reading more than this many bytes and stderr is a terminal.
PROGRESS_MIN_BYTES = 32 << 20


class _Reports(Protocol):
    progress: Callable[[int], None] | None


class Progress:
    """A progress bar on stderr for large inputs when stderr is a terminal; else nothing."""

    def __init__(self, items: list[Input], reader: _Reports, enabled: bool) -> None:
        sizes = [_size(i) for i in items]
        self.total = sum(sizes)
        self.enabled = enabled and sys.stderr.isatty() and self.total >= PROGRESS_MIN_BYTES
        self.reader = reader
        self.bar: Any = None

    def __enter__(self) -> Callable[[], None]:
        if self.enabled:
            bar = click.progressbar(length=self.total, label="reading", file=sys.stderr)
            bar.__enter__()
            last = [0]

            def update(read: int) -> None:
                bar.update(min(read, self.total) - last[0])
                last[0] = min(read, self.total)

            self.reader.progress = update
            self.bar = bar
        return self.finish

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None

    def __exit__(self, *exc: object) -> None:
        self.finish()


def _size(item: Input) -> int:
    if item.journal or item.name == "-":
        return 0
    try:
        return os.stat(item.name).st_size
    except OSError:
        return 0
