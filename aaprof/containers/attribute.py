"""Attributing events to containers: one chain of resolvers, shared by every command.

`Attributor` takes an Event and returns it with `container` set as far as its resolvers can
tell. Each resolver is a function `(event, known) -> Container | None` that completes what the
ones before it found; the default chain is the profile name (aaprof's scheme names namespace,
pod or workload, and container), the pid's cgroup under a proc root (container id, runtime,
pod UID), and pod statuses (`kubectl get pods -A -o json`: the pod and container names of a
container id), or the kubelet's log links under a node's /var/log (the same names without API
access). `aaprof watch` composes the same resolvers, live.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from aaprof.containers.kubelet import KubeletLogIndex
from aaprof.containers.naming import container_from_profile
from aaprof.containers.pod_status import join_pod_status
from aaprof.containers.proc import ProcResolver
from aaprof.errors import AaprofError
from aaprof.model.event import Container, Event
from aaprof.model.labels import in_namespace

Resolver = Callable[[Event, Container | None], Container | None]
Pods = Sequence[Mapping[str, object]]


def by_profile_name(event: Event, known: Container | None) -> Container | None:
    """The namespace, pod (or workload) and container a profile name in aaprof's scheme names:
    of a stack, its one member in the scheme; never a profile in a child policy namespace."""
    label = in_namespace(event.profile, event.namespace) if event.profile else None
    found = container_from_profile(label)
    if found is None:
        return known
    return found if known is None else known.merged(found)


class ByPid:
    """The container of the event's pid, from `<proc_root>/<pid>/cgroup` (cached per process)."""

    def __init__(self, proc_root: Path) -> None:
        """Raises: AaprofError: `proc_root` is not a directory."""
        self.resolver = ProcResolver(proc_root)

    def __call__(self, event: Event, known: Container | None) -> Container | None:
        found = self.resolver.resolve(event.pid) if event.pid is not None else None
        if found is None:
            return known
        return found if known is None else found.merged(known)


class ByPodStatus:
    """The pod, namespace and container name of a known container id (or pod UID)."""

    def __init__(self, pods: Pods) -> None:
        self.pods = tuple(pods)

    def __call__(self, event: Event, known: Container | None) -> Container | None:
        if known is None or (known.id is None and known.pod_uid is None):
            return known
        return join_pod_status(known, self.pods)


class ByKubeletLogs:
    """The pod, namespace and container name of a known container id (or pod UID), from the
    kubelet's `/var/log/containers` links and `/var/log/pods` directories."""

    def __init__(self, index: KubeletLogIndex) -> None:
        self.index = index

    def __call__(self, event: Event, known: Container | None) -> Container | None:
        return None if known is None else self.complete(known)

    def complete(self, known: Container) -> Container:
        """`known` with the names the kubelet's logs give its container id or pod UID."""
        ref = self.index.by_container_id(known.id) if known.id else None
        if ref is None and known.pod_uid:
            ref = self.index.by_pod_uid(known.pod_uid)
        if ref is None:
            return known
        return known.merged(Container(namespace=ref.namespace, pod=ref.pod, name=ref.container))


class Attributor:
    """Sets `Event.container` by running the resolvers in order; an event none of them can
    place is returned as it was."""

    def __init__(self, resolvers: Iterable[Resolver]) -> None:
        self.resolvers = tuple(resolvers)

    @property
    def by_text(self) -> bool:
        """Whether it reads nothing but a record's text: not its pid (`ByPid`), so records
        that differ only in stamp and pid get the same container."""
        return not any(isinstance(r, ByPid) for r in self.resolvers)

    def __call__(self, event: Event) -> Event:
        found = event.container
        for resolve in self.resolvers:
            found = resolve(event, found)
        return (
            event if found is None or found == event.container else event.replace(container=found)
        )

    @classmethod
    def default(
        cls, proc_root: Path | None = None, pods: Pods = (), log_root: Path | None = None
    ) -> Attributor:
        """The profile name, then the pid under `proc_root` (when given), then `pods`, then the
        kubelet's log links under `log_root` (a node's /var/log, when given).

        Raises:
            AaprofError: `proc_root` is not a directory.
        """
        chain: list[Resolver] = [by_profile_name]
        if proc_root is not None:
            chain.append(ByPid(proc_root))
        if pods:
            chain.append(ByPodStatus(pods))
        if log_root is not None:
            chain.append(ByKubeletLogs(KubeletLogIndex(log_root)))
        return cls(chain)


def load_pods(path: Path) -> list[Mapping[str, object]]:
    """The pod objects of a `kubectl get pods -A -o json` file (a List, or one Pod).

    Raises:
        AaprofError: the file cannot be read or is not such JSON.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AaprofError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise AaprofError(f"{path}: not JSON: {exc}") from None
    items = data.get("items") if isinstance(data, dict) and "items" in data else [data]
    if not isinstance(items, list) or not all(isinstance(p, dict) for p in items):
        raise AaprofError(f"{path}: expected `kubectl get pods -o json` output (a list of pods)")
    return items
