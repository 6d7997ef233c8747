"""The loader's status files: JSON, Prometheus text metrics, and the readiness file."""

from __future__ import annotations

import json
from pathlib import Path

from aaprof.node.load import SyncResult
from aaprof.node.state import METRICS, READY, STATUS, write_file


def write_status(directory: Path, result: SyncResult | None, error: str = "") -> None:
    """Write status.json and metrics.prom; create `ready` when the pass had no problem, remove
    it otherwise (a pass that could not run at all passes `result=None` and the error).

    Raises:
        AaprofError: the files cannot be written.
    """
    data: dict[str, object] = result.to_dict() if result else {"ok": False, "profiles": []}
    if error:
        data["error"] = error
    write_file(directory / STATUS, json.dumps(data, indent=2, sort_keys=True) + "\n")
    write_file(directory / METRICS, metrics(result))
    ready = directory / READY
    if result is not None and result.ok and not error:
        write_file(ready, f"{result.finished:.3f}\n")
    else:
        ready.unlink(missing_ok=True)


def metrics(result: SyncResult | None) -> str:
    """The pass as Prometheus text exposition (for node-exporter's textfile collector)."""
    lines = [
        "# HELP aaprof_node_profiles Profiles by what the last pass did with them.",
        "# TYPE aaprof_node_profiles gauge",
    ]
    counts: dict[str, int] = {}
    for outcome in result.outcomes if result else ():
        counts[outcome.action] = counts.get(outcome.action, 0) + 1
    for action, count in sorted(counts.items()):
        lines.append(f'aaprof_node_profiles{{action="{_label(action)}"}} {count}')
    lines += [
        "# HELP aaprof_node_ok 1 when the last pass loaded everything it should.",
        "# TYPE aaprof_node_ok gauge",
        f"aaprof_node_ok {1 if result is not None and result.ok else 0}",
        "# HELP aaprof_node_last_pass_timestamp_seconds When the last pass ended.",
        "# TYPE aaprof_node_last_pass_timestamp_seconds gauge",
        f"aaprof_node_last_pass_timestamp_seconds {result.finished if result else 0:.3f}",
    ]
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    """A label value escaped for the text format; a carriage return (which it has no escape
    for) as the two characters `\\r`, as watch's labels have it."""
    value = value.replace("\r", "\\r")
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
