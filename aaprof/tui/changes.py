"""What a decision changed, so that a key redraws only that: the keys whose decision differs
between two sessions, the undecided counts kept up to date per change, and the undecided rows
made once (with 5,000 suggestions, recounting, re-deciding or re-making every row on each key
was most of a key's time)."""

from __future__ import annotations

from collections.abc import Iterable

from aaprof.engine import Decision, Session, Suggestion
from aaprof.engine import review as r

Key = tuple[str, str]  # (profile, suggestion key): a decision's key


def changed(old: Session, new: Session) -> set[Key]:
    """The keys whose decision is not the same in `old` and `new` (made, unmade or replaced)."""
    before = {d.key: d for d in old.decisions}
    after = {d.key: d for d in new.decisions}
    return {k for k in before.keys() | after.keys() if before.get(k) is not after.get(k)}


class Index(r.Index):
    """`review.Index` that makes the row of an undecided suggestion once: a listing (`rows`,
    each filter key) then re-makes only the decided rows."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._undecided: dict[Key, r.Row] = {}

    def row(self, profile: str, s: Suggestion, key: str, decision: Decision | None) -> r.Row:
        if decision is not None:
            return super().row(profile, s, key, decision)
        made = self._undecided.get((profile, key))
        if made is None or made.suggestion is not s:
            made = self._undecided[(profile, key)] = super().row(profile, s, key, None)
        return made


class Counts:
    """`review.undecided` of a session, updated by the keys each change touched."""

    def __init__(self, session: Session, index: r.Index) -> None:
        self.suggestions = {(p, k): s for p, s, k in index.entries}
        self.of = r.undecided(session, index)

    def update(self, old: Session, new: Session, keys: Iterable[Key]) -> dict[str, int]:
        """The counts once `old` became `new` by changing the decisions of `keys`."""
        for key in keys:
            s = self.suggestions.get(key)
            if s is None or s.noise:
                continue  # a decision for a suggestion this session lacks; noise is not counted
            profile = key[0]
            was = old.decision_for(profile, s) is None
            now = new.decision_for(profile, s) is None
            if was != now:
                n = self.of.get(profile, 0) + (1 if now else -1)
                if n:
                    self.of[profile] = n
                else:
                    self.of.pop(profile, None)
        return self.of
