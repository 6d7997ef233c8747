"""Run `aaprof events` (the CLI, as users do) and compare its events with kernel ground truth."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# kernel key -> aaprof events JSON key, where they differ
JSON_KEY = {"apparmor": "mode", "requested_mask": "requested", "denied_mask": "denied"}


@dataclass(frozen=True, slots=True)
class Report:
    events: list[dict[str, Any]]
    lines: int
    records: int
    unparsed: int
    stderr: str


def run_events(*paths: Path, python: str = sys.executable) -> Report:
    """`aaprof events --mode all --format jsonl PATHS...`, parsed."""
    proc = subprocess.run(
        [python, "-m", "aaprof", "events", "--mode", "all", "--format", "jsonl", *map(str, paths)],
        capture_output=True,
        check=False,
    )
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, f"aaprof events failed ({proc.returncode}): {stderr}"
    return parse_report(proc.stdout, stderr)


def parse_report(stdout: bytes, stderr: str) -> Report:
    """Events (one JSON object a line) and the counts from the closing stderr line."""
    events = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    counts = re.search(r"(\d+) lines read, (\d+) records, (\d+) unparsed", stderr)
    assert counts, f"no counts line on stderr: {stderr!r}"
    lines, recs, unparsed = map(int, counts.groups())
    return Report(events, lines, recs, unparsed, stderr)


def value(event: Mapping[str, Any], key: str) -> bytes | None:
    """The event's value for the kernel's `key`, as raw bytes (hex-decoded where it was hex)."""
    jkey = JSON_KEY.get(key, key)
    if f"{jkey}_hex" in event:
        return bytes.fromhex(event[f"{jkey}_hex"])
    if jkey not in event or event[jkey] is None:
        return None
    return str(event[jkey]).encode()


def matches(event: Mapping[str, Any], want: Mapping[str, bytes]) -> bool:
    """Whether the event has every field of the ground truth `want`."""
    return all(value(event, k) == v for k, v in want.items() if k != "serial")


def missing(events: list[dict[str, Any]], wants: list[dict[str, bytes]]) -> list[str]:
    """The ground-truth records no event matches, described."""
    return [repr(w) for w in wants if not any(matches(e, w) for e in events)]
