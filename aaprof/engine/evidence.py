"""The evidence behind one suggestion: what its records add up to, in bounded memory."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from aaprof.engine.classes.file import NO_NEW_PRIVS, least_perms
from aaprof.engine.classes.network import fine_network_rule
from aaprof.logs.records import Record
from aaprof.model import profile as m
from aaprof.model.event import Event

MAX_EXAMPLES = 3
MAX_DISTINCT = 8  # pids, comms and names kept per suggestion


@dataclass(slots=True)
class Evidence:
    """What the records behind one suggestion add up to, in bounded memory."""

    rule: m.Rule
    profile: str
    count: int = 0
    examples: list[Event] = dataclasses.field(default_factory=list)
    no_new_privs: bool = False
    all_noise: bool = True
    fine_network: dict[m.Rule, None] = dataclasses.field(default_factory=dict)
    last_seen: datetime | None = None
    first_seen: datetime | None = None
    pids: dict[int, None] = dataclasses.field(default_factory=dict)
    comms: dict[str, None] = dataclasses.field(default_factory=dict)
    names: dict[str, None] = dataclasses.field(default_factory=dict)
    nodes: int = 0  # bit masks of engine.spread.Places: where its records were seen
    replicas: int = 0
    # the ids of rules (kept alive by `suggest`'s decisions) known to be within `rule`
    within: set[int] = dataclasses.field(default_factory=set)

    def add_copy(self, copy: Record) -> None:
        """Add a copy of a record already added: only its time, pid and place are its own."""
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(copy.event())
        time = copy.time
        if time is None:
            return
        if self.last_seen is None or time > self.last_seen:
            self.last_seen = time
        if self.first_seen is None or time < self.first_seen:
            self.first_seen = time
        if len(self.pids) < MAX_DISTINCT:
            self.pids.setdefault(copy.pid)

    def add(self, rule: m.Rule, event: Event, noise: bool) -> None:
        if rule is not self.rule and self.count and id(rule) not in self.within:
            if not within_rule(rule, self.rule):
                self.rule = merged_rule([self.rule, rule])
            self.within.add(id(rule))  # (merging only widens: it stays within)
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(event)
        self.no_new_privs = self.no_new_privs or event.info == NO_NEW_PRIVS
        self.all_noise = self.all_noise and noise
        if event.time is not None and (self.last_seen is None or event.time > self.last_seen):
            self.last_seen = event.time
        if event.time is not None and (self.first_seen is None or event.time < self.first_seen):
            self.first_seen = event.time
        if event.pid is not None and len(self.pids) < MAX_DISTINCT:
            self.pids.setdefault(event.pid)
        if event.comm is not None and len(self.comms) < MAX_DISTINCT:
            self.comms.setdefault(event.comm)
        if event.name is not None and len(self.names) < MAX_DISTINCT:
            self.names.setdefault(event.name)
        if isinstance(rule, m.NetworkRule):
            fine = fine_network_rule(event)
            if fine is not None:
                self.fine_network.setdefault(fine)


def within_rule(rule: m.Rule, merged: m.Rule) -> bool:
    """Whether merging `rule` into `merged` would change nothing (the common repeat)."""
    if rule == merged:
        return True
    return (
        isinstance(rule, m.FileRule)
        and isinstance(merged, m.FileRule)
        and rule.perms <= merged.perms
        and rule.exec_mode in {None, merged.exec_mode}
    )


def merged_rule(rules: list[m.Rule]) -> m.Rule:
    first = rules[0]
    if not isinstance(first, m.FileRule):
        return first
    files = [r for r in rules if isinstance(r, m.FileRule)]
    perms = least_perms(frozenset().union(*(r.perms for r in files)))
    mode = next((r.exec_mode for r in files if r.exec_mode), None)
    return dataclasses.replace(first, perms=perms, exec_mode=mode)
