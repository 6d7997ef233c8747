"""Live attribution: a record's process -> container -> pod -> workload, as labels.

Composes the resolvers of the core's attribution chain (containers.attribute): the process's
cgroup, the kubelet's log names, aaprof's profile naming scheme; and the pod name's controller
suffixes (containers.workload) for the workload label. What watch adds is live: pids looked up
once per batch, and why a record has no container (its process gone, or not a container).
A record whose process has gone, and whose profile name says nothing, is attributed to
`_unattributed_`: counted, never dropped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aaprof.containers.attribute import ByKubeletLogs, ByPid
from aaprof.containers.kubelet import KubeletLogIndex
from aaprof.containers.naming import container_from_profile
from aaprof.containers.workload import workload_of_pod
from aaprof.model.event import Container, Event

UNATTRIBUTED = "_unattributed_"
# Why a record has no container labels (aaprof_watch_unattributed_records_total{reason}).
PROCESS_GONE = "process_gone"
NOT_A_CONTAINER = "not_a_container"
NO_POD = "no_pod_name"
NO_PID = "no_pid"


@dataclass(frozen=True, slots=True)
class Attribution:
    """Where a record belongs: its labels, and why it has none (None when attributed)."""

    namespace: str
    workload: str
    container: str
    reason: str | None = None


HOST = Attribution("", "", "", NOT_A_CONTAINER)


class Attributor:
    """Attributes events as they are read (the processes must still be alive for pids)."""

    def __init__(self, proc_root: Path | None, kubelet: KubeletLogIndex | None) -> None:
        self.by_pid = ByPid(proc_root) if proc_root is not None else None
        self.proc_root = f"{proc_root}/" if proc_root is not None else None
        self.kubelet = ByKubeletLogs(kubelet) if kubelet is not None else None
        self._pids: dict[int, tuple[Container | None, str]] = {}
        self._profiles: dict[str, Container | None] = {}

    def new_batch(self) -> None:
        """Forget the pids looked up: a batch's records are looked up at one moment, once per
        pid (a pid reused within one batch's reading is not told apart)."""
        self._pids.clear()
        if len(self._profiles) > 4096:
            self._profiles.clear()

    def attribute(self, event: Event) -> tuple[Container | None, Attribution]:
        """The record's container (None when not known) and its labels."""
        profile = event.profile
        by_profile = None
        if profile:
            if profile in self._profiles:
                by_profile = self._profiles[profile]
            else:
                by_profile = self._profiles[profile] = container_from_profile(profile)
        pid = event.pid
        if pid is None or pid <= 0 or self.by_pid is None:
            found, reason = None, NO_PID
        elif pid in self._pids:
            found, reason = self._pids[pid]
        else:
            found, reason = self._pids[pid] = self._by_pid(pid)
        if found is not None and by_profile is not None:
            found = found.merged(by_profile)
        elif found is None:
            found = by_profile
        if found is not None and found.namespace and found.pod:
            return found, Attribution(found.namespace, workload_of_pod(found.pod), found.name or "")
        if found is not None:
            return found, Attribution("", "", "", NO_POD)
        if reason == PROCESS_GONE:
            return None, Attribution(UNATTRIBUTED, UNATTRIBUTED, UNATTRIBUTED, PROCESS_GONE)
        return None, Attribution("", "", "", reason)

    def _by_pid(self, pid: int) -> tuple[Container | None, str]:
        assert self.by_pid is not None
        container = self.by_pid.resolver.resolve(pid)
        if container is None:
            alive = os.path.exists(f"{self.proc_root}{pid}")
            return None, NOT_A_CONTAINER if alive else PROCESS_GONE
        if self.kubelet is not None:
            container = self.kubelet.complete(container)
        return container, NOT_A_CONTAINER
