"""Whether an existing profile already allows (or deliberately denies) a suggested rule."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from aaprof.engine.classes.file import file_mask, is_owner
from aaprof.engine.classes.mask import qualifiers_of, with_qualifiers
from aaprof.model import profile as m
from aaprof.model.event import Event
from aaprof.profiles.coverage import Access, decide


def covered(profile: m.Profile | None, rule: m.Rule, event: Event) -> bool:
    """True when `profile` allows `event` already, or a deny rule there refuses it on purpose.

    File and link records go through `coverage.decide` on the record's literal name; other
    kinds compare rules: an equal rule, a bare rule of the kind (`dbus,`), a capability rule
    naming it, a network rule for its family (and type), or one that grants a superset of the
    access with the same conditions.
    """
    if profile is None:
        return False
    if isinstance(rule, m.FileRule | m.LinkRule):
        return _file_covered(_resolved_only(profile), event)
    return any(_covers(r, rule) for r in profile.rules() if not isinstance(r, m.FileRule))


def _file_covered(profile: m.Profile, event: Event) -> bool:
    letters, old_form = file_mask(event)
    if not event.name or not letters:
        return False
    target = event.target if "l" in letters else None
    if "l" in letters and target is None:
        letters -= {"l"}
    fsuid: int | None = event.fsuid
    ouid: int | None = None  # not the owner: `owner` rules do not apply
    if is_owner(event, old_form):
        fsuid = ouid = event.fsuid if event.fsuid is not None else 0
    decision = decide(profile, Access(event.name, letters, fsuid, ouid, target))
    return decision.ok or decision.explicit == decision.denied


def _resolved_only(profile: m.Profile) -> m.Profile:
    """The profile without includes and `if` blocks (they grant nothing here: conservative)."""
    return dataclasses.replace(profile, body=tuple(_keep(profile.body)))


def _keep(items: Iterable[m.BodyItem]) -> Iterable[m.BodyItem]:
    for item in items:
        if isinstance(item, m.QualifierBlock):
            yield dataclasses.replace(item, body=tuple(_keep(item.body)))
        elif not isinstance(item, m.Include | m.Conditional):
            yield item


def _plain(rule: m.Rule) -> m.Rule:
    q = qualifiers_of(rule)
    if q is None:
        return rule
    return with_qualifiers(rule, m.Qualifiers(access=q.access, owner=q.owner))


def _covers(have: m.Rule, want: m.Rule) -> bool:
    if isinstance(have, m.AllRule):
        return True  # `all,` allows it; `deny all,` refuses it on purpose
    if type(have) is not type(want):
        return False
    if _plain(have) == _plain(want):
        return True
    if isinstance(have, m.CapabilityRule) and isinstance(want, m.CapabilityRule):
        return not have.names or want.names <= have.names
    if isinstance(have, m.NetworkRule) and isinstance(want, m.NetworkRule):
        return _network(have, want)
    # a mount rule's operation (mount, remount, umount) is its kind, not a condition
    if getattr(have, "operation", None) != getattr(want, "operation", None):
        return False
    fields = [f.name for f in dataclasses.fields(have) if f.name not in ("qualifiers", "operation")]
    if all(not getattr(have, f) for f in fields):
        return True  # a bare `dbus,`, `signal,`, `mount,` … rule
    if "access" in fields:
        # an empty field in the existing rule (no signal set, no peer, no conds) means any
        same = all(
            not getattr(have, f) or getattr(have, f) == getattr(want, f)
            for f in fields
            if f != "access"
        )
        have_access: frozenset[str] = getattr(have, "access", frozenset())
        want_access: frozenset[str] = getattr(want, "access", frozenset())
        return same and (not have_access or want_access <= have_access)
    return False


def _network(have: m.NetworkRule, want: m.NetworkRule) -> bool:
    if have.conds or have.peer or (have.access and not want.access <= have.access):
        return False
    if have.domain is None:
        return True
    return have.domain == want.domain and have.type in (None, want.type)
