"""What a decision changed, so that a key redraws only that: the keys whose decision differs
between two sessions, and the undecided counts kept up to date per change (with 5,000
suggestions, recounting or re-deciding every row on each key was most of a key's time)."""

from __future__ import annotations

from collections.abc import Iterable

from aaprof.engine import Session
from aaprof.engine import review as r

Key = tuple[str, str]  # (profile, suggestion key): a decision's key


def changed(old: Session, new: Session) -> set[Key]:
    """The keys whose decision is not the same in `old` and `new` (made, unmade or replaced)."""
    before = {d.key: d for d in old.decisions}
    after = {d.key: d for d in new.decisions}
    return {k for k in before.keys() | after.keys() if before.get(k) is not after.get(k)}


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
