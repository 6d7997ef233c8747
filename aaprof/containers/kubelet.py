"""Pod and container names from the kubelet's log files, with no API access.

The kubelet links every container's log as
`/var/log/containers/<pod>_<namespace>_<container>-<container id>.log` (pointing into
`/var/log/pods/<namespace>_<pod>_<pod uid>/<container>/<restart>.log`). Pod names, namespaces and
container names contain no `_` (DNS names), and the id is the runtime's 64 hex digits, so a
link's name parses back unambiguously. The index is read again (at most every `refresh`
seconds) when an unknown id or pod UID is asked for, since containers come and go.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_LINK: Final = re.compile(
    r"(?P<pod>[a-z0-9][-a-z0-9.]*)_(?P<namespace>[a-z0-9][-a-z0-9]*)_"
    r"(?P<container>[a-z0-9][-a-z0-9]*)-(?P<id>[0-9a-f]{64})\.log"
)
_POD_DIR: Final = re.compile(
    r"(?P<namespace>[a-z0-9][-a-z0-9]*)_(?P<pod>[a-z0-9][-a-z0-9.]*)_(?P<uid>[0-9a-f-]{32,36})"
)


@dataclass(frozen=True, slots=True)
class PodRef:
    """A container's pod and name as the kubelet's log names give them."""

    namespace: str
    pod: str
    container: str | None = None


def parse_container_log_name(name: str) -> tuple[str, PodRef] | None:
    """(container id, pod ref) of one `/var/log/containers` file name, or None."""
    match = _LINK.fullmatch(name)
    if match is None:
        return None
    return match["id"], PodRef(match["namespace"], match["pod"], match["container"])


def parse_pod_dir_name(name: str) -> tuple[str, PodRef] | None:
    """(pod uid, pod ref) of one `/var/log/pods` directory name, or None."""
    match = _POD_DIR.fullmatch(name)
    if match is None:
        return None
    return match["uid"], PodRef(match["namespace"], match["pod"])


class KubeletLogIndex:
    """Container id -> pod ref and pod UID -> pod ref, from a node's `/var/log`."""

    def __init__(
        self,
        log_root: Path = Path("/var/log"),
        *,
        refresh: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log_root = log_root
        self.refresh = refresh
        self._clock = clock
        self._by_id: dict[str, PodRef] = {}
        self._by_uid: dict[str, PodRef] = {}
        self._read_at: float | None = None

    def by_container_id(self, container_id: str) -> PodRef | None:
        found = self._by_id.get(container_id)
        if found is None and self._stale():
            self.reload()
            found = self._by_id.get(container_id)
        return found

    def by_pod_uid(self, uid: str) -> PodRef | None:
        found = self._by_uid.get(uid)
        if found is None and self._stale():
            self.reload()
            found = self._by_uid.get(uid)
        return found

    def reload(self) -> None:
        """Read the two directories again (missing ones give an empty index)."""
        by_id: dict[str, PodRef] = {}
        by_uid: dict[str, PodRef] = {}
        for name in _names(self.log_root / "containers"):
            parsed = parse_container_log_name(name)
            if parsed is not None:
                by_id[parsed[0]] = parsed[1]
        for name in _names(self.log_root / "pods"):
            parsed = parse_pod_dir_name(name)
            if parsed is not None:
                by_uid[parsed[0]] = parsed[1]
        self._by_id, self._by_uid = by_id, by_uid
        self._read_at = self._clock()

    def _stale(self) -> bool:
        return self._read_at is None or self._clock() - self._read_at >= self.refresh


def _names(directory: Path) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []
