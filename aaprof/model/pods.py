"""The pods a node ran: what `aaprof watch` writes of them, and what generate adds up.

A replica that ran but logged nothing leaves no record, so the records alone cannot say how
many replicas of a workload ran. Watch lists each node's pods (the kubelet's `/var/log/pods`
directories) and writes them as one JSON line of its own among its records whenever the list
changes (docs/watch.md):

    {"kind":"pods","node":"node-a","time":"2026-12-08T02:00:00.000000+00:00",
     "pods":[{"namespace":"shop","pod":"web-7d4b9c6f8d-x2x9k","uid":"…"}]}

A line is a snapshot: every pod whose directory is there. Its names are Kubernetes names (DNS
labels and subdomains: lower-case letters, digits, `-` and `.`), checked when read back, so a
line that is not one watch wrote adds no pod.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

KIND: Final = "pods"
_NAME: Final = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_UID: Final = re.compile(r"[0-9a-f-]{1,64}")

# (namespace, pod name)
PodKey = tuple[str, str]


def valid_pod(namespace: object, pod: object, uid: object = None) -> bool:
    """Whether these are a Kubernetes namespace, pod name and (optional) pod UID."""
    return (
        isinstance(namespace, str)
        and len(namespace) <= 63
        and _NAME.fullmatch(namespace) is not None
        and isinstance(pod, str)
        and _NAME.fullmatch(pod) is not None
        and (uid is None or (isinstance(uid, str) and _UID.fullmatch(uid) is not None))
    )


@dataclass(frozen=True, slots=True)
class PodsLine:
    """One node's pods at one time (a snapshot)."""

    node: str | None
    time: datetime | None
    pods: tuple[tuple[str, str, str | None], ...]  # (namespace, pod, uid)

    def to_json(self) -> str:
        """The line (no newline): keys in a fixed order, pods sorted."""
        doc: dict[str, object] = {"kind": KIND}
        if self.node is not None:
            doc["node"] = self.node
        if self.time is not None:
            doc["time"] = self.time.isoformat()
        doc["pods"] = [
            {"namespace": ns, "pod": pod, **({"uid": uid} if uid else {})}
            for ns, pod, uid in sorted(self.pods, key=lambda p: (p[0], p[1], p[2] or ""))
        ]
        return json.dumps(doc, ensure_ascii=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> PodsLine:
        """The line whose `to_json` is `data`.

        Raises:
            ValueError: a key of the wrong type, a name that is not a Kubernetes name.
        """
        if data.get("kind") != KIND:
            raise ValueError("not a pods line")
        node, when, pods = data.get("node"), data.get("time"), data.get("pods")
        if node is not None and (not isinstance(node, str) or not node):
            raise ValueError("pods line: `node` must be a non-empty string")
        if not isinstance(pods, list):
            raise ValueError("pods line: `pods` must be a list")
        time = None
        if when is not None:
            if not isinstance(when, str):
                raise ValueError("pods line: `time` must be a string")
            time = datetime.fromisoformat(when)
        out = []
        for pod in pods:
            if not isinstance(pod, Mapping):
                raise ValueError("pods line: each pod must be an object")
            ns, name, uid = pod.get("namespace"), pod.get("pod"), pod.get("uid")
            if not valid_pod(ns, name, uid):
                raise ValueError(f"pods line: not a Kubernetes pod: {ns!r}/{name!r} uid {uid!r}")
            assert isinstance(ns, str) and isinstance(name, str)
            out.append((ns, name, uid if isinstance(uid, str) else None))
        return cls(node, time, tuple(out))


@dataclass(slots=True)
class PodsRan:
    """Every pod seen running, per node, over all the pods lines (and pod lists) read.

    `read` is False until a source of pods was read: then how many replicas ran is unknown,
    not zero.
    """

    nodes: dict[str, set[PodKey]] = field(default_factory=dict)
    read: bool = False

    def add(self, node: str | None, pods: Iterable[PodKey]) -> None:
        self.read = True
        self.nodes.setdefault(node or "-", set()).update(pods)

    def add_line(self, line: PodsLine, node: str | None = None) -> None:
        """A watch line's pods (on `node` when the line names none)."""
        self.add(line.node or node, ((ns, pod) for ns, pod, _uid in line.pods))
