"""Where the records of each rule and profile were seen: nodes and replicas, of how many ran.

A rule learnt from one replica of five may be that replica's accident (a debug shell, a one-off
job) or a path the other four have not taken yet; either way a reviewer must see it before the
profile is enforced. While `suggest` reads, every record marks its node and its replica (the
pod, `namespace/pod`, of its container) in bit masks — one bit per node or pod seen, so a rule's
spread costs a few bytes however many records it has. How many replicas *ran* comes from the
pods watch listed on each node (model.pods; `--pods`): an idle replica logs nothing. Where no
such list was read, it is unknown (None), not zero.

`readiness` answers `aaprof generate --check`'s other question: has the profile stopped
meeting new rules for long enough, on enough replicas and records, to be enforced?
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from aaprof.containers.workload import workload_of_pod
from aaprof.engine.gaps import human_span
from aaprof.model.event import Event
from aaprof.model.pods import PodKey, PodsRan

# A rule seen on one replica is an outlier when the profile has at least this many replicas.
OUTLIER_REPLICAS = 3
# Replica names kept per rule in the coverage file (all of them for the profile).
NAMES_KEPT = 8
UNKNOWN_NODE = "-"

T = TypeVar("T")
# (namespace, workload)
WorkloadKey = tuple[str, str]


class Places:
    """One bit per node and per replica seen, and the workload of each replica."""

    __slots__ = ("_of", "node_names", "replica_names", "workloads")

    def __init__(self) -> None:
        self.node_names: list[str] = []
        self.replica_names: list[PodKey] = []
        self.workloads: dict[int, WorkloadKey] = {}  # replica bit → its workload
        self._of: dict[object, tuple[int, int]] = {}

    def bits(self, event: Event) -> tuple[int, int]:
        """The node's bit and the replica's bit (0: no pod known) of a record."""
        key = (event.node, event.container)
        found = self._of.get(key)
        if found is None:
            node = self._bit(event.node or UNKNOWN_NODE, self.node_names)
            c = event.container
            replica = 0
            if c is not None and c.namespace and c.pod:
                replica = self._bit((c.namespace, c.pod), self.replica_names)
                self.workloads[replica] = (c.namespace, workload_of_pod(c.pod))
            found = self._of[key] = (node, replica)
        return found

    @staticmethod
    def _bit(name: T, names: list[T]) -> int:
        try:
            return 1 << names.index(name)
        except ValueError:
            names.append(name)
            return 1 << (len(names) - 1)

    def nodes(self, mask: int) -> frozenset[str]:
        return frozenset(self.node_names[i] for i in _ones(mask))

    def replicas(self, mask: int) -> frozenset[PodKey]:
        return frozenset(self.replica_names[i] for i in _ones(mask))

    def workloads_of(self, mask: int) -> frozenset[WorkloadKey]:
        return frozenset(self.workloads[1 << i] for i in _ones(mask))


def _ones(mask: int) -> Iterable[int]:
    i = 0
    while mask:
        if mask & 1:
            yield i
        mask >>= 1
        i += 1


@dataclass(slots=True)
class Tally:
    """What one profile's records add up to (those its profile already allows included)."""

    records: int = 0
    nodes: int = 0
    replicas: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, time: datetime | None, nodes: int = 0, replicas: int = 0) -> None:
        self.records += 1
        self.nodes |= nodes
        self.replicas |= replicas
        if time is not None:
            if self.last is None or time > self.last:
                self.last = time
            if self.first is None or time < self.first:
                self.first = time


@dataclass(slots=True)
class Tallies:
    """Every profile's tally and the places their bits stand for (filled by `suggest`)."""

    places: Places = field(default_factory=Places)
    profiles: dict[str, Tally] = field(default_factory=dict)

    def of(self, profile: str) -> Tally:
        found = self.profiles.get(profile)
        if found is None:
            found = self.profiles[profile] = Tally()
        return found

    def seen(self, profile: str) -> Seen:
        """A top-level profile's tally with its children's (`parent//child`) added."""
        total = Tally()
        for name, tally in self.profiles.items():
            if name == profile or name.startswith(profile + "//"):
                total.records += tally.records
                total.nodes |= tally.nodes
                total.replicas |= tally.replicas
                times = [t for t in (total.first, tally.first) if t is not None]
                total.first = min(times) if times else None
                times = [t for t in (total.last, tally.last) if t is not None]
                total.last = max(times) if times else None
        return Seen(
            total.records,
            self.places.nodes(total.nodes),
            self.places.replicas(total.replicas),
            total.first,
            total.last,
            self.places.workloads_of(total.replicas),
        )

    def end(self) -> datetime | None:
        """The latest record read, of any profile: where the logs end."""
        lasts = [t.last for t in self.profiles.values() if t.last is not None]
        return max(lasts) if lasts else None


@dataclass(frozen=True, slots=True)
class Seen:
    """Where one profile's records were seen."""

    records: int
    nodes: frozenset[str]
    replicas: frozenset[PodKey]
    first: datetime | None
    last: datetime | None
    workloads: frozenset[WorkloadKey] = frozenset()


@dataclass(frozen=True, slots=True)
class Count:
    """Seen on `seen` of `ran` (None: how many ran is unknown)."""

    seen: int
    ran: int | None

    def to_dict(self) -> dict[str, object]:
        return {"seen": self.seen, "ran": self.ran}

    def text(self, what: str) -> str:
        of = f" of {self.ran}" if self.ran is not None else ""
        return f"{self.seen}{of} {what}{'s' if (self.ran or self.seen) != 1 else ''}"


@dataclass(frozen=True, slots=True)
class RuleCoverage:
    """One proposed rule's spread: the records behind it and where they were seen."""

    profile: str  # the profile it goes to (`parent//child` for a child)
    rule: str  # the least rule's text: the decisions file's key
    records: int
    nodes: Count
    replicas: Count
    first: datetime | None
    last: datetime | None
    outlier: bool
    replica_names: tuple[str, ...] = ()  # `namespace/pod`, when at most NAMES_KEPT

    def to_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "rule": self.rule,
            "records": self.records,
            "nodes": self.nodes.to_dict(),
            "replicas": self.replicas.to_dict(),
            "first_seen": _iso(self.first),
            "last_seen": _iso(self.last),
            "outlier": self.outlier,
            **({"seen_on": list(self.replica_names)} if self.replica_names else {}),
        }

    def where(self) -> str:
        """`on 1 of 5 replicas, 1 of 3 nodes`."""
        return f"on {self.replicas.text('replica')}, {self.nodes.text('node')}"

    def text(self) -> str:
        """`where()`, and ` (an outlier)`."""
        return self.where() + (" (an outlier)" if self.outlier else "")


@dataclass(frozen=True, slots=True)
class ProfileCoverage:
    """A top-level profile's coverage: its records, nodes and replicas, and each rule's."""

    profile: str
    records: int
    nodes: Count
    replicas: Count
    first: datetime | None
    last: datetime | None
    workloads: tuple[str, ...]  # `namespace/workload`
    rules: tuple[RuleCoverage, ...]

    @property
    def outliers(self) -> tuple[RuleCoverage, ...]:
        return tuple(r for r in self.rules if r.outlier)

    def to_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "records": self.records,
            "first_seen": _iso(self.first),
            "last_seen": _iso(self.last),
            "workloads": list(self.workloads),
            "nodes": self.nodes.to_dict(),
            "replicas": self.replicas.to_dict(),
            "outliers": len(self.outliers),
            "rules": [r.to_dict() for r in self.rules],
        }


@dataclass(frozen=True, slots=True)
class RuleSeen:
    """What `coverage` needs of one suggestion."""

    profile: str
    rule: str
    records: int
    nodes: frozenset[str]
    replicas: frozenset[PodKey]
    first: datetime | None
    last: datetime | None


def ran_index(ran: PodsRan) -> dict[WorkloadKey, tuple[set[str], set[PodKey]]] | None:
    """Per workload, the nodes and replicas that ran; None when no list of pods was read."""
    if not ran.read:
        return None
    index: dict[WorkloadKey, tuple[set[str], set[PodKey]]] = {}
    for node, pods in ran.nodes.items():
        for ns, pod in pods:
            nodes, replicas = index.setdefault((ns, workload_of_pod(pod)), (set(), set()))
            nodes.add(node)
            replicas.add((ns, pod))
    return index


def _counts(
    nodes: frozenset[str],
    replicas: frozenset[PodKey],
    workloads: frozenset[WorkloadKey],
    index: Mapping[WorkloadKey, tuple[set[str], set[PodKey]]] | None,
) -> tuple[Count, Count]:
    """Seen on so many nodes and replicas, of those of `workloads` that ran (those seen
    included): unknown when no list of pods was read, or no record named a pod."""
    if index is None or not workloads:
        return Count(len(nodes), None), Count(len(replicas), None)
    nodes_ran, replicas_ran = set(nodes), set(replicas)
    for workload in workloads:
        ran_nodes, ran_replicas = index.get(workload, ((), ()))
        nodes_ran.update(ran_nodes)
        replicas_ran.update(ran_replicas)
    return Count(len(nodes), len(nodes_ran)), Count(len(replicas), len(replicas_ran))


def coverage(profile: str, seen: Seen, rules: Sequence[RuleSeen], ran: PodsRan) -> ProfileCoverage:
    """A profile's coverage: each rule on how many nodes and replicas, of how many of its
    workloads' ran (those of the workloads its records came from).

    A rule seen on a single replica of a workload with at least OUTLIER_REPLICAS replicas
    (that ran; else that logged this profile's records) is an outlier.
    """
    index = ran_index(ran)
    logged: dict[WorkloadKey, int] = {}  # replicas that logged, per workload
    for ns, pod in seen.replicas:
        key = (ns, workload_of_pod(pod))
        logged[key] = logged.get(key, 0) + 1
    out = []
    for r in rules:
        workloads = frozenset((ns, workload_of_pod(pod)) for ns, pod in r.replicas)
        nodes, replicas = _counts(r.nodes, r.replicas, workloads, index)
        many = replicas.ran
        if many is None:
            many = sum(logged.get(w, 0) for w in workloads)
        names = sorted(f"{ns}/{pod}" for ns, pod in r.replicas)
        out.append(
            RuleCoverage(
                r.profile,
                r.rule,
                r.records,
                nodes,
                replicas,
                r.first,
                r.last,
                replicas.seen == 1 and many >= OUTLIER_REPLICAS,
                tuple(names) if len(names) <= NAMES_KEPT else (),
            )
        )
    nodes, replicas = _counts(seen.nodes, seen.replicas, seen.workloads, index)
    return ProfileCoverage(
        profile,
        seen.records,
        nodes,
        replicas,
        seen.first,
        seen.last,
        tuple(sorted(f"{ns}/{w}" for ns, w in seen.workloads)),
        tuple(out),
    )


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a profile is ready to enforce (`aaprof generate --check`)."""

    quiet: timedelta = timedelta(hours=24)  # since the last new rule, at the logs' end
    replicas: int = 1  # replicas it was seen on
    records: int = 100  # records of it read


@dataclass(frozen=True, slots=True)
class Readiness:
    """The verdict on one profile, and why, in words."""

    profile: str
    ready: bool
    reasons: tuple[str, ...]
    last_new: datetime | None  # the first record of its newest new rule (None: none)
    quiet: timedelta | None  # from then (or its first record) to the logs' end
    records: int
    replicas: Count
    nodes: Count

    def to_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "ready": self.ready,
            "reasons": list(self.reasons),
            "last_new_rule": _iso(self.last_new),
            "quiet_seconds": self.quiet.total_seconds() if self.quiet is not None else None,
            "records": self.records,
            "replicas": self.replicas.to_dict(),
            "nodes": self.nodes.to_dict(),
        }

    def text(self) -> str:
        verdict = "ready" if self.ready else "not ready"
        return f"{self.profile}: {verdict}: " + "; ".join(self.reasons)


def readiness(
    cover: ProfileCoverage,
    last_new: datetime | None,
    end: datetime | None,
    thresholds: Thresholds,
) -> Readiness:
    """Whether a profile is ready to enforce: no new rule (one its profile in DIR does not
    allow, first seen then) for `thresholds.quiet` before the logs' end `end`, and enough
    replicas and records seen."""
    t = thresholds
    reasons: list[str] = []
    ok = True
    since = last_new if last_new is not None else cover.first
    quiet = end - since if end is not None and since is not None else None
    need = f"(needs {human_span(t.quiet.total_seconds())})"
    if quiet is None:
        ok = False
        reasons.append("no record has a time: quiet time unknown")
    else:
        span = human_span(quiet.total_seconds())
        if last_new is None:
            reasons.append(f"no new rule in the {span} its records span {need}")
        else:
            reasons.append(f"last new rule {span} before the logs end {need}")
        ok = ok and quiet >= t.quiet
    replicas = cover.replicas
    on = f"seen on {replicas.text('replica')}" if replicas.seen else "no record names a pod"
    plural = "s" if t.replicas != 1 else ""
    reasons.append(f"{on}, {cover.nodes.text('node')} (needs {t.replicas} replica{plural})")
    ok = ok and replicas.seen >= t.replicas
    reasons.append(f"{cover.records:,} record{'s' if cover.records != 1 else ''} "
                   f"(needs {t.records:,})")  # fmt: skip
    ok = ok and cover.records >= t.records
    return Readiness(
        cover.profile, ok, tuple(reasons), last_new, quiet, cover.records, replicas, cover.nodes
    )


def _iso(time: datetime | None) -> str | None:
    return time.isoformat() if time is not None else None
