"""Live attribution: a record's process -> container -> pod -> workload, as labels.

The container is the core's attribution chain's (containers.attribute.Attributor.default: the
profile name in aaprof's scheme, the process's cgroup under the proc root, the kubelet's log
names), run as the records are read, while their processes are alive. What watch adds is the
labels: the workload of the pod's name (containers.workload), and why a record has no
container (its process gone, or not a container). A record whose process has gone, and whose
profile name says nothing, is attributed to `_unattributed_`: counted, never dropped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aaprof.containers.attribute import Attributor as Chain
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


class Attributor:
    """Attributes events as they are read (the processes must still be alive for pids)."""

    def __init__(self, proc_root: Path | None, log_root: Path | None) -> None:
        self.chain = Chain.default(proc_root=proc_root, log_root=log_root)
        self.proc_root = f"{proc_root}/" if proc_root is not None else None
        self._known: dict[object, tuple[Container | None, Attribution]] = {}

    def new_batch(self) -> None:
        """Forget the records attributed: a batch's records are attributed at one moment, once
        per pid and profile (what the chain reads; a pid reused within one batch's reading is
        not told apart)."""
        self._known.clear()

    def attribute(self, event: Event) -> tuple[Container | None, Attribution]:
        """The record's container (None when not known) and its labels."""
        key = (event.pid, event.profile, event.container)
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = self._attribute(event)
        return known

    def _attribute(self, event: Event) -> tuple[Container | None, Attribution]:
        found = self.chain(event).container
        if found is not None and found.namespace and found.pod:
            return found, Attribution(found.namespace, workload_of_pod(found.pod), found.name or "")
        if found is not None:
            return found, Attribution("", "", "", NO_POD)
        pid = event.pid
        if pid is None or pid <= 0 or self.proc_root is None:
            return None, Attribution("", "", "", NO_PID)
        if os.path.exists(f"{self.proc_root}{pid}"):
            return None, Attribution("", "", "", NOT_A_CONTAINER)
        return None, Attribution(UNATTRIBUTED, UNATTRIBUTED, UNATTRIBUTED, PROCESS_GONE)
