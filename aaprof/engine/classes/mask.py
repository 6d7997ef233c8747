"""Reading an Event's access mask and the qualifiers every rule kind shares."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, cast

from aaprof.model import profile as m
from aaprof.model.event import Event

# Access words (`send receive`, `getattr`, `userns_create`) and names the kernel writes as
# identifiers: anything else is not from the kernel and gives no rule.
_WORD = re.compile(r"[a-z][a-z0-9_]*")
# The records of a refused access: enforce mode's, and a `kill` mode profile's (the task is
# killed as well).
DENIALS = frozenset({"DENIED", "KILLED"})


def mask_text(event: Event) -> str | None:
    """The mask a rule must grant: the denied one, else the requested one unless denied.

    A DENIED record (or a KILLED one, a `kill` mode profile's denial) with a requested mask
    but no denied one says nothing was refused (aa-logprof writes no rule for it either);
    ALLOWED and AUDIT records grant what they ask.
    """
    if event.denied:
        return event.denied
    if event.mode in DENIALS:
        return None
    return event.requested


def words(text: str | None) -> frozenset[str]:
    """The access words of a mask (`"send receive"` → {send, receive}); bad words dropped."""
    if not text:
        return frozenset()
    return frozenset(w for w in re.split(r"[\s,]+", text) if _WORD.fullmatch(w))


def is_word(value: str | None) -> bool:
    """Whether `value` is a plain kernel identifier (family, socket type, capability)."""
    return value is not None and _WORD.fullmatch(value) is not None


def qualifiers(event: Event, *, owner: bool = False) -> m.Qualifiers:
    """`audit` for an AUDIT record (an audit rule allowed it: keep it logged), and `owner`."""
    if event.mode == "AUDIT" or owner:
        return m.Qualifiers(audit=event.mode == "AUDIT", owner=owner)
    return m.NO_QUALIFIERS


def cond(key: str, value: str) -> m.Cond:
    """A `key=value` condition."""
    return m.Cond(key, (value,))


def qualifiers_of(rule: m.Rule) -> m.Qualifiers | None:
    """A rule's qualifiers (None for the kinds that take none: rlimit, hat references)."""
    q = getattr(rule, "qualifiers", None)
    return q if isinstance(q, m.Qualifiers) else None


def with_qualifiers(rule: m.Rule, q: m.Qualifiers) -> m.Rule:
    """`rule` with its qualifiers replaced (a kind without qualifiers is returned unchanged)."""
    if qualifiers_of(rule) is None:
        return rule
    replaced: m.Rule = dataclasses.replace(cast(Any, rule), qualifiers=q)
    return replaced
