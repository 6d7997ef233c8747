"""Resolving a host pid to its container through a proc tree's `<pid>/cgroup` files."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from aaprof.containers.cgroup import container_from_cgroup
from aaprof.errors import AaprofError
from aaprof.model.event import Container

# `/proc/<pid>/stat` field 22 is the start time; fields 3 on follow the `)` that ends `comm`.
_STARTTIME_AFTER_COMM = 22 - 3


class ProcResolver:
    """Maps pids (as the kernel logs them: init pid namespace) to containers, with a cache.

    The cache is keyed by `(pid, starttime)`, so a pid the kernel has reused for a new process
    is read afresh. A pid that has gone, or whose files cannot be read, resolves to None.
    """

    def __init__(self, proc_root: Path = Path("/proc"), *, cache_size: int = 4096) -> None:
        """Check the proc tree once, so a wrong `--proc-root` fails before any event is read.

        Args:
            proc_root: The host's proc mount (`/proc`, or e.g. `/host/proc` in a DaemonSet).
            cache_size: How many `(pid, starttime)` results to keep, least recently used first out.

        Raises:
            AaprofError: `proc_root` does not exist or is not a directory.
        """
        if not proc_root.is_dir():
            reason = "is not a directory" if proc_root.exists() else "does not exist"
            raise AaprofError(f"proc root {proc_root} {reason}")
        self.proc_root = proc_root
        self._prefix = f"{proc_root}/"  # (a string: pathlib's joins cost more than the read)
        self._cache_size = max(cache_size, 0)
        self._cache: OrderedDict[tuple[int, int], Container | None] = OrderedDict()

    def resolve(self, pid: int | None) -> Container | None:
        """The container process `pid` runs in, or None (host process, gone, unreadable).

        Args:
            pid: A pid in the proc tree's pid namespace; None or non-positive gives None.

        Returns:
            The container's id, runtime and pod UID as far as its cgroup path tells them.
        """
        if pid is None or pid <= 0:
            return None
        start = self._starttime(pid)
        if start is not None and (key := (pid, start)) in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        text = self._read(pid, "cgroup")
        container = None if text is None else container_from_cgroup(text)
        if start is None:
            # No readable stat (a proc tree without one): nothing to key a cache entry on.
            return container
        if self._starttime(pid) != start:
            # The pid exited and was reused between the reads: the cgroup text may be the
            # newcomer's, so neither trust nor cache it.
            return None
        self._remember((pid, start), container)
        return container

    def _remember(self, key: tuple[int, int], container: Container | None) -> None:
        self._cache[key] = container
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _starttime(self, pid: int) -> int | None:
        text = self._read(pid, "stat")
        if text is None:
            return None
        fields = text.rpartition(")")[2].split()
        if len(fields) <= _STARTTIME_AFTER_COMM:
            return None
        try:
            return int(fields[_STARTTIME_AFTER_COMM])
        except ValueError:
            return None

    def _read(self, pid: int, name: str) -> str | None:
        try:
            with open(f"{self._prefix}{pid}/{name}", "rb") as f:
                data = f.read()
        except OSError:
            # ENOENT/ESRCH: the process has exited; EACCES: not ours to read. Both mean "unknown".
            return None
        return data.decode("utf-8", "surrogateescape")
