"""Reading a batch's lines fast: records that differ only in their `audit(...)` stamp are parsed
once. A denial storm repeats the same record (same process, profile, path) with new stamps, so
the parse and most of the JSON line are kept per record-without-stamp, in a bounded cache.

The result is the same as `logs.lines.parse_line` and `Event.to_dict` would give (the tests
compare both paths on the same lines); lines without a well-formed stamp before `apparmor=`
take the ordinary path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from aaprof.engine.noise import is_noise
from aaprof.logs.lines import ParseResult, parse_line
from aaprof.model.event import Event, SourceRef, epoch_to_time

CACHE_SIZE = 16384
_STAMP: Final = re.compile(rb"audit\(([0-9]{1,11})\.([0-9]+):([0-9]+)\): ")


@dataclass(frozen=True, slots=True)
class Template:
    """A record without its stamp: the parsed event and its JSON fields but time and serial."""

    result: ParseResult
    noise: bool = False
    middle: str = ""  # `"node":...,"mode":...` up to `error`, without braces; "" if none
    extra: str = ""  # `,"extra":{...}` or ""


@dataclass(frozen=True, slots=True)
class Stamped:
    """One record of the batch: its template and its own stamp."""

    template: Template
    seconds: int
    millis: int
    serial: int

    @property
    def epoch(self) -> float:
        return (self.seconds * 1000 + self.millis) / 1000

    def event(self, source: SourceRef) -> Event:
        result = self.template.result
        assert isinstance(result, Event)
        return result.replace(
            time=epoch_to_time(self.seconds, self.millis), serial=self.serial, source=source
        )

    def head(self) -> str:
        """`"time":...,"epoch":...,"serial":...` as Event.to_dict gives them."""
        when = datetime.fromtimestamp(self.seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return (
            f'"time":"{when}.{self.millis:03d}Z","epoch":{json.dumps(self.epoch)},'
            f'"serial":{self.serial}'
        )


def _template(result: ParseResult) -> Template:
    if not isinstance(result, Event):
        return Template(result)
    core = result.replace(time=None, serial=None, source=None, container=None, extra={})
    middle = json.dumps(core.to_dict(), ensure_ascii=False, separators=(",", ":"))[1:-1]
    extra = ""
    if result.extra:
        whole = result.replace(time=None, serial=None, source=None, container=None).to_dict()
        extra = ',"extra":' + json.dumps(whole["extra"], ensure_ascii=False, separators=(",", ":"))
    return Template(result, is_noise(result), middle, extra)


class LineCache:
    """Parses lines, once per distinct record-without-stamp (see the module's doc)."""

    def __init__(self, node: str | None, size: int = CACHE_SIZE) -> None:
        self.node = node
        self.size = size
        self._cache: dict[bytes, Template] = {}

    def read(self, line: bytes, source: SourceRef) -> Stamped | ParseResult:
        """A Stamped record (fast path), or parse_line's result (other lines)."""
        at = line.find(b"audit(")
        match = _STAMP.match(line, at) if at >= 0 else None
        if match is None or not 0 <= match.end() <= line.find(b"apparmor=", match.end()):
            return parse_line(line, source, node=self.node)
        key = line[:at] + line[match.end() :]
        template = self._cache.get(key)
        if template is None:
            result = parse_line(line, source, node=self.node)
            if not isinstance(result, Event) or result.serial is None or result.time is None:
                return result
            template = _template(result)
            if len(self._cache) >= self.size:
                self._cache.clear()
            self._cache[key] = template
        millis = int(match[2][:3].ljust(3, b"0"))
        return Stamped(template, int(match[1]), millis, int(match[3]))
