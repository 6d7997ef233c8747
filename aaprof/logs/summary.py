"""The summary of many events: counts per profile × class × mode, and the top names of each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from aaprof.model.event import Event
from aaprof.model.labels import STACK, stack_members

# Distinct names kept per group. Past this, the rarest are dropped, so counts of names that
# were dropped and seen again are lower bounds (memory stays bounded whatever the input).
NAMES_KEPT: Final = 10_000


@dataclass(slots=True)
class Group:
    """One profile × class × mode: how many records, and how often each name appeared."""

    count: int = 0
    names: dict[str, int] = field(default_factory=dict)
    names_dropped: bool = False

    def add_name(self, name: str, count: int) -> None:
        names = self.names
        names[name] = names.get(name, 0) + count
        if len(names) > 2 * NAMES_KEPT:
            kept = sorted(names.items(), key=lambda kv: -kv[1])[:NAMES_KEPT]
            self.names = dict(kept)
            self.names_dropped = True

    def top(self, n: int) -> list[tuple[str, int]]:
        return sorted(self.names.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


GroupKey = tuple[str, str, str]  # (profile, class, mode); "" where absent


# Distinct names kept over all groups: past this, every group keeps only its NAMES_TRIMMED most
# frequent (names that never repeat, such as temp files, would otherwise grow with the input).
NAMES_TOTAL: Final = 100_000
NAMES_TRIMMED: Final = 100


@dataclass(slots=True)
class Summary:
    """Counts of events per (profile, class, mode), built with `add`."""

    groups: dict[GroupKey, Group] = field(default_factory=dict)
    _added: int = 0  # names added since the last trim (an upper bound of the names kept)
    # the next trim's threshold: twice what the last one kept (many groups of a few names
    # each keep more than NAMES_TOTAL: a trim after every name would look at every group)
    _limit: int = 0

    def add(
        self, mode: str, class_: str | None, profile: str | None, name: str | None, count: int = 1
    ) -> None:
        self.add_many(((mode, class_, profile, name, count),))

    def add_many(self, rows: Iterable[tuple[str, str | None, str | None, str | None, int]]) -> None:
        """`add` for each (mode, class, profile, name, count), in one loop (the bulk counts'
        drain hands over thousands at a time)."""
        groups = self.groups
        for mode, class_, profile, name, count in rows:
            key = (profile or "", class_ or "", mode)
            group = groups.get(key)
            if group is None:
                group = groups[key] = Group()
            group.count += count
            if name is not None:
                names = group.names
                names[name] = names.get(name, 0) + count
                if len(names) > 2 * NAMES_KEPT:
                    group.add_name(name, 0)  # (trims)
                self._added += 1
                if self._added > NAMES_TOTAL and self._added > self._limit:
                    self._trim()

    def _trim(self) -> None:
        kept = 0
        for group in self.groups.values():
            if len(group.names) > NAMES_TRIMMED:
                top = sorted(group.names.items(), key=lambda kv: -kv[1])[:NAMES_TRIMMED]
                group.names = dict(top)
                group.names_dropped = True
            kept += len(group.names)
        self._added = kept
        self._limit = 2 * kept

    def add_event(self, event: Event) -> None:
        """Count one event."""
        self.add(event.mode, event.class_, event.profile, event.name)

    def merge(self, other: Summary) -> None:
        """Add another summary's counts (of other records) to this one."""
        for (profile, class_, mode), group in other.groups.items():
            self.add(mode, class_, profile, None, group.count)
            mine = self.groups[(profile, class_, mode)]
            for name, count in group.names.items():
                mine.add_name(name, count)
            mine.names_dropped |= group.names_dropped

    @property
    def total(self) -> int:
        return sum(g.count for g in self.groups.values())

    def rows(self) -> list[tuple[GroupKey, Group]]:
        """Groups, most records first, then by profile, class and mode."""
        return sorted(self.groups.items(), key=lambda kv: (-kv[1].count, kv[0]))

    def to_dict(self, top: int = 5) -> dict[str, object]:
        return {
            "total": self.total,
            "groups": [
                {
                    "profile": profile,
                    # a stacked label's members, as in an event's JSON (model/labels.py)
                    **({"profile_stack": list(stack_members(profile))} if STACK in profile else {}),
                    "class": class_,
                    "mode": mode,
                    "count": group.count,
                    "top_names": [{"name": n, "count": c} for n, c in group.top(top)],
                }
                for (profile, class_, mode), group in self.rows()
            ],
        }
