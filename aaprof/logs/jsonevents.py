"""aaprof's own JSON events (`aaprof events --format json|jsonl`) read back as Events.

Events collected on many nodes (a cluster's log pipeline, `kubectl logs` of a DaemonSet running
`aaprof events -f --format jsonl`) are an input like any log: one object per line (JSON Lines),
or the lines of a `--format json` array (`[`, `  {…},`, `]`).
"""

from __future__ import annotations

import json
import os
import stat
import sys

from aaprof.errors import AaprofError
from aaprof.logs.lines import Unparsed
from aaprof.logs.sources import open_input
from aaprof.model.event import MODES, Event, SourceRef
from aaprof.model.pods import PodsLine

# Every event object aaprof writes has this key; journald's entries (also JSON) never do.
_MARK = b'"mode":'
# ... and watch's lines of a node's pods (model.pods) these, which no event has as keys.
_PODS_MARKS = (b'"kind"', b'"pods"')


def _object(text: bytes) -> dict[str, object] | None:
    """The JSON object `text` holds whole (`{…}`), or None: not an object, or not JSON."""
    if text[:1] != b"{" or text[-1:] != b"}":
        return None
    try:
        data = json.loads(text.decode("utf-8", "surrogateescape"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def parse_pods_line(line: bytes) -> PodsLine | Unparsed | None:
    """The pods of one line of watch's output (`{"kind":"pods",…}`), or None when the line
    is not one. Never raises.

    Returns:
        The PodsLine; Unparsed (with the reason) for a pods line with a wrong value (a name
        that is not a Kubernetes name); None for any other line.
    """
    if _PODS_MARKS[0] not in line or _PODS_MARKS[1] not in line:
        return None
    data = _object(line.strip())
    if data is None or data.get("kind") != "pods" or "mode" in data:
        return None
    try:
        return PodsLine.from_dict(data)
    except ValueError as exc:
        return Unparsed(str(exc))


def parse_event_line(line: bytes, source: SourceRef | None = None) -> Event | Unparsed | None:
    """The Event of one line of aaprof's JSON output, or None when the line is not one.

    A line is aaprof's when it holds a JSON object with a `mode` the kernel writes and no
    journald `MESSAGE`. The event's `source` is where aaprof first read it, when the object
    says so; else `source`. Never raises.

    Returns:
        The Event; Unparsed (with the reason) for an object that claims to be an aaprof event
        but has a wrong value; None for any other line (parsed as a log line instead).
    """
    if _MARK not in line:
        return None
    data = _object(line.strip().rstrip(b","))  # (a line of a `--format json` array)
    if data is None or data.get("mode") not in MODES or "MESSAGE" in data:
        return None
    try:
        event = Event.from_dict(data)
    except (ValueError, OverflowError) as exc:
        return Unparsed(f"aaprof event: {exc}")
    if event.source is None and source is not None:
        event = event.replace(source=source)
    return event


def may_hold_events(name: str) -> bool:
    """Whether the text input `name` may start with aaprof's JSON events.

    Its head is peeked, not consumed (`-`: standard input): True when the first complete line
    (after a `[`) is such an object, or when no complete line has arrived yet on a pipe; False
    for a log line, a device (/dev/kmsg is never peeked) or an input that cannot be read.
    """
    if name == "-":
        peek = getattr(sys.stdin.buffer, "peek", None)
        if peek is None:
            return True  # a stream that cannot be peeked: read it as events may be
        try:
            head = bytes(peek(1 << 16))[: 1 << 16]
        except (OSError, ValueError):
            return True
    else:
        head = _head(name) + b"\n"  # a file's last line is complete without its newline
    for line in head.split(b"\n")[:-1]:  # complete lines only
        if line.strip() not in (b"", b"["):
            return isinstance(parse_event_line(line), Event) or isinstance(
                parse_pods_line(line), PodsLine
            )
    return name == "-"  # a pipe with nothing complete yet: read it as events may be


def _head(name: str) -> bytes:
    """The first bytes of a file's text (decompressed); nothing for a device or a failure."""
    try:
        if stat.S_ISCHR(os.stat(name).st_mode):
            return b""
        stream = open_input(name)
    except (OSError, AaprofError):
        return b""
    try:
        return bytes(stream.peek(1 << 16))[: 1 << 16]  # type: ignore[attr-defined]
    except (OSError, EOFError, ValueError):
        return b""
    finally:
        stream.close()
