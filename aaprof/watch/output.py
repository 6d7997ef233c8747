"""The JSON lines watch writes: `events --format jsonl`'s schema, plus workload and attribution.

Every string in a line comes out of `json.dumps`, so a newline, quote or brace in a record's
value stays inside its JSON string; bytes that are not UTF-8 are replaced (Event.to_dict keeps
them hex-encoded beside) so each line is valid UTF-8.
"""

from __future__ import annotations

import json
import os
from typing import BinaryIO

from aaprof.model.event import Container, Event
from aaprof.watch.attribution import Attribution
from aaprof.watch.metrics import valid_utf8


def _clean(value: object) -> object:
    if isinstance(value, str):
        return valid_utf8(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def event_line(event: Event, container: Container | None, who: Attribution, noise: bool) -> bytes:
    """One output line (ends in a newline, has no other)."""
    out = event.to_dict()
    if container is not None:
        out["container"] = _clean(container.to_dict())
    out["workload"] = _clean(who.workload)
    if who.reason is not None:
        out["attribution"] = who.reason
    if noise:
        out["noise"] = True
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


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
