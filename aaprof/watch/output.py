"""The JSON lines watch writes: `events --format jsonl`'s schema, plus workload and attribution.

Every string in a line comes out of `json.dumps`, so a newline, quote or brace in a record's
value stays inside its JSON string; bytes that are not UTF-8 are replaced (Event.to_dict keeps
them hex-encoded beside) so each line is valid UTF-8.
"""

from __future__ import annotations

import json
import os
from typing import BinaryIO

from aaprof.model.event import Container, Event, SourceRef
from aaprof.watch.attribution import Attribution
from aaprof.watch.lines import Stamped
from aaprof.watch.metrics import valid_utf8

MEMO_SIZE = 8192


def _clean(value: object) -> object:
    if isinstance(value, str):
        return valid_utf8(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _dumps(value: object) -> str:
    return json.dumps(_clean(value), ensure_ascii=False, separators=(",", ":"))


class LineWriter:
    """Builds output lines; the parts that repeat (container, workload, file) are memoised."""

    def __init__(self) -> None:
        self._tails: dict[tuple[Container | None, Attribution, bool], str] = {}
        self._files: dict[str, str] = {}

    def line(
        self, event: Event, container: Container | None, who: Attribution, noise: bool
    ) -> bytes:
        """One output line of an event (ends in a newline, has no other)."""
        body = json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":"))
        return (body[:-1] + self.tail(container, who, noise)).encode()

    def stamped(
        self, record: Stamped, source: SourceRef, container: Container | None, who: Attribution
    ) -> bytes:
        """The line of a record read through the LineCache (the same as `line` gives)."""
        template = record.template
        middle = "," + template.middle if template.middle else ""
        return (
            "{" + record.head() + middle + self.source(source) + template.extra
            + self.tail(container, who, template.noise)
        ).encode()  # fmt: skip

    def source(self, source: SourceRef) -> str:
        """`,"source":{...}` for a record of this file and line."""
        file = self._files.get(source.file)
        if file is None:
            if len(self._files) >= MEMO_SIZE:
                self._files.clear()
            file = self._files[source.file] = ',"source":{"file":' + _dumps(source.file)
        return f'{file},"line":{source.line}}}'

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
