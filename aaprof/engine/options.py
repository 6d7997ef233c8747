"""Labelled options: what a suggestion may become, with its kind and a one-line reason."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from aaprof.engine.classes.mask import qualifiers_of, with_qualifiers
from aaprof.model import profile as m

Item = m.Rule | m.Include  # what a suggestion may turn into: a rule or an abstraction

# The kinds of option, in the order a reviewer meets them (docs/generate.md, "Alternatives").
EXACT = "exact"  # the least rule: exactly what was recorded
SIBLING = "sibling"  # a glob over names that differ only in a number, hex or random part
VOLATILE = "volatile"  # a part that changes every run (pid, tid, UUID, hash, mktemp) as a pattern
GLOB_EXT = "glob-ext"  # any name with the same extension, in the directory (or below)
GLOB = "glob"  # any name in the directory (or below)
ABSTRACTION = "abstraction"  # an `include <abstractions/…>` that grants it
OWNER = "owner"  # the `owner` qualifier added or removed
AUDIT = "audit"  # the same rule, logged on every use
EXEC_MODE = "exec-mode"  # another exec transition (Px, Cx, Ux)
FINE = "fine"  # a finer form (network with addresses and ports: AppArmor 4)
LINK = "link"  # a link rule's `l` form (any target, subset permissions)
DENY = "deny"  # refuse it on purpose
KINDS: tuple[str, ...] = (EXACT, SIBLING, VOLATILE, GLOB_EXT, GLOB, ABSTRACTION, OWNER, AUDIT)
KINDS += (EXEC_MODE, FINE, LINK, DENY)


@dataclass(frozen=True, slots=True)
class Option:
    """One thing a suggestion may become: the item, its kind (`KINDS`) and why one would pick it."""

    item: Item
    kind: str
    why: str

    @property
    def text(self) -> str:
        """The item as the profile would hold it (`include <…>` for an abstraction)."""
        from aaprof.profiles.render import render_item

        return render_item(self.item)[0]

    def to_dict(self) -> dict[str, object]:
        return {"rule": self.text, "kind": self.kind, "why": self.why}


def as_deny(rule: m.Rule) -> m.Rule | None:
    """`rule` as a deny rule, or None for a kind that cannot be denied. An exec transition
    becomes a plain `x` (the parser refuses `deny … ix`)."""
    q = qualifiers_of(rule)
    if q is None:
        return None
    if isinstance(rule, m.FileRule) and rule.exec_mode:
        rule = dataclasses.replace(rule, exec_mode="x", target=None)
    return with_qualifiers(rule, dataclasses.replace(q, access="deny"))
