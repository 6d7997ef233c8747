"""The one definition of a *new* rule: what readiness (watch's metrics, `generate --check`) counts.

A record's rule is *new* for its profile when the profile as loaded does not allow it
(`suggest.needed_rule`: the least rule generate would propose) and no earlier record of that
profile needed the same rule (the rule's canonical text, the decisions file's key). A loaded
complain-mode profile logs exactly what it lacks, so the loaded profile alone would call every
record new: the rules already seen are what make a profile fall quiet. `generate --check`
(`Session.readiness`) applies it to the logs it reads — a proposed rule is new when its first
record was written; `aaprof watch` applies it record by record, with the rules seen kept in its
state (watch/state.py).

The rules kept per profile are bounded (MAX_PER_PROFILE): a profile whose records keep naming
rules beyond it (a process that writes a new file name each time) meets a new rule with each
of them, which is the truth: it is not ready.
"""

from __future__ import annotations

from collections.abc import Callable

from aaprof.engine.suggest import attributed_profile, needed_rule, record_key
from aaprof.model import profile as m
from aaprof.model.event import Event
from aaprof.profiles.render import render_rule

MAX_PER_PROFILE = 4096
MAX_RULES = 100_000
DECIDED_KEPT = 8192  # records' decisions remembered (a log repeats its accesses)


class NewRules:
    """Per profile, the rules its records needed; which record needs a new one.

    `loaded(name)` is the profile `name` as loaded (includes in place), or None where it is
    not known: then it allows nothing, and each rule is new once, at its first record.
    """

    def __init__(
        self,
        seen: dict[str, set[str]],
        loaded: Callable[[str], m.Profile | None] = lambda name: None,
    ) -> None:
        self.seen = seen
        self.loaded = loaded
        self.kept = sum(len(rules) for rules in seen.values())
        self.added: set[tuple[str, str]] = set()  # (profile, rule) since take_added()
        self._decided: dict[tuple[object, ...], tuple[str, str] | None] = {}

    def reloaded(self) -> None:
        """The profiles as loaded changed: decide each record again."""
        self._decided.clear()

    def needed(self, event: Event) -> tuple[str, str] | None:
        """(profile, the rule's text) the record needs that its loaded profile lacks."""
        key = record_key(event)
        if key in self._decided:
            return self._decided[key]
        found = None
        name = attributed_profile(event)
        if name is not None:
            rule = needed_rule(event, self.loaded(name))
            if rule is not None:
                found = (name, render_rule(rule))
        if len(self._decided) >= DECIDED_KEPT:
            self._decided.clear()
        self._decided[key] = found
        return found

    def new(self, event: Event) -> tuple[str, str] | None:
        """(profile, rule) when the record's rule is new for its profile, else None."""
        found = self.needed(event)
        if found is None:
            return None
        name, text = found
        rules = self.seen.get(name)
        if rules is None:
            rules = self.seen[name] = set()
        if text in rules:
            return None
        if len(rules) < MAX_PER_PROFILE and self.kept < MAX_RULES:
            rules.add(text)
            self.kept += 1
            self.added.add((name, text))
        return name, text

    def take_added(self) -> set[tuple[str, str]]:
        added, self.added = self.added, set()
        return added
