"""The JSON lines watch writes: `events --format jsonl`'s schema, plus workload and attribution.

A line is the event's as `events` writes it (logs.jsonlines.dumps, the one encoder of records'
JSON lines), without its closing brace, then watch's own keys. Every string in a line comes out
of that encoder, so a newline, quote or brace in a record's value stays inside its JSON string;
bytes that are not UTF-8 are replaced (Event.to_dict keeps them hex-encoded beside) so each
line is valid UTF-8.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from aaprof.logs.jsonlines import dumps
from aaprof.model.event import Container, Event
from aaprof.watch.attribution import Attribution
from aaprof.watch.metrics import valid_utf8

MEMO_SIZE = 8192


def _clean(value: object) -> object:
    if isinstance(value, str):
        return valid_utf8(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _dumps(value: object) -> str:
    return dumps(_clean(value))


class LineWriter:
    """Builds output lines; the tail that repeats (container, workload) is memoised."""

    def __init__(self) -> None:
        self._tails: dict[tuple[Container | None, Attribution, bool], str] = {}

    def line(
        self, event: Event, container: Container | None, who: Attribution, noise: bool
    ) -> bytes:
        """One output line of an event (ends in a newline, has no other)."""
        body = dumps(event.to_dict())
        return (body[:-1] + self.tail(container, who, noise)).encode()

    def tail(self, container: Container | None, who: Attribution, noise: bool) -> str:
        """`,"container":...,"workload":...}` and a newline: what follows the event's fields."""
        key = (container, who, noise)
        tail = self._tails.get(key)
        if tail is None:
            parts = []
            if container is not None:
                parts.append(',"container":' + _dumps(container.to_dict()))
            parts.append(',"workload":' + _dumps(who.workload))
            if who.reason is not None:
                parts.append(',"attribution":' + _dumps(who.reason))
            if noise:
                parts.append(',"noise":true')
            tail = "".join(parts) + "}\n"
            if len(self._tails) >= MEMO_SIZE:
                self._tails.clear()
            self._tails[key] = tail
        return tail


class RotatingFile:
    """An append-only JSONL file, rotated to `<path>.1`..`.<keep>` past `max_bytes`."""

    def __init__(self, path: str, max_bytes: int = 100 << 20, keep: int = 5) -> None:
        self.path, self.max_bytes, self.keep = path, max_bytes, keep
        self.stream: BinaryIO = open(path, "ab")  # noqa: SIM115 - kept open

    def write(self, data: bytes) -> None:
        self.stream.write(data)
        self.stream.flush()
        if self.stream.tell() >= self.max_bytes:
            self.rotate()

    def rotate(self) -> None:
        self.stream.close()
        for n in range(self.keep - 1, 0, -1):
            if os.path.exists(f"{self.path}.{n}"):
                os.replace(f"{self.path}.{n}", f"{self.path}.{n + 1}")
        os.replace(self.path, f"{self.path}.1")
        self.stream = open(self.path, "ab")  # noqa: SIM115

    def reopen(self) -> None:
        self.stream.close()
        self.stream = open(self.path, "ab")  # noqa: SIM115

    def close(self) -> None:
        self.stream.close()
