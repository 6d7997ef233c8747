"""The node's pods in watch's output: a `{"kind":"pods",…}` line whenever the list changes.

A replica that ran and logged nothing leaves no record; this line is how `aaprof generate`
learns that it ran (docs/watch.md, model/pods.py). The list is the kubelet's `/var/log/pods`
directories (`<namespace>_<pod>_<uid>`), read at most every `every` seconds.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from aaprof.containers.kubelet import parse_pod_dir_name
from aaprof.model.pods import PodsLine, valid_pod

EVERY = 10.0


class PodsReport:
    """Lists `<log_root>/pods` and says when the list changed (the first list always)."""

    def __init__(self, log_root: Path, node: str | None, every: float = EVERY) -> None:
        self.directory = log_root / "pods"
        self.node = node
        self.every = every
        self._last: frozenset[tuple[str, str, str | None]] | None = None
        self._at: float | None = None

    def line(self, now: float) -> bytes | None:
        """The line to write (with its newline) if the pods changed since the last one;
        None when they did not, or when they were listed less than `every` seconds ago."""
        if self._at is not None and 0 <= now - self._at < self.every:
            return None
        self._at = now
        listed = self.listed()
        if listed is None:  # no kubelet here: nothing known, nothing said
            return None
        pods = frozenset(listed)
        if pods == self._last:
            return None
        self._last = pods
        time = datetime.fromtimestamp(now, UTC)
        return (PodsLine(self.node, time, tuple(pods)).to_json() + "\n").encode()

    def listed(self) -> list[tuple[str, str, str | None]] | None:
        """(namespace, pod, uid) of every pod directory; None when there is no directory."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return None
        out: list[tuple[str, str, str | None]] = []
        for name in names:
            parsed = parse_pod_dir_name(name)
            if parsed is not None and valid_pod(parsed[1].namespace, parsed[1].pod, parsed[0]):
                uid, ref = parsed
                out.append((ref.namespace, ref.pod, uid))
        return out
