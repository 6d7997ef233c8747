"""Capabilities, mounts, pivot_root and profile changes."""

from __future__ import annotations

from aaprof.engine.classes.mask import cond, is_word, qualifiers
from aaprof.model import profile as m
from aaprof.model.event import Event
from aaprof.profiles.render import aare_escape


def capability_rule(event: Event) -> m.CapabilityRule | None:
    """`capability NAME` (`capname=`, or the old records' `name=`)."""
    name = event.capname or (event.name if event.class_ == "cap" else None)
    if not is_word(name):
        return None
    return m.CapabilityRule(qualifiers(event), frozenset({name or ""}))


def _options(flags: str | None) -> tuple[m.Cond, ...]:
    opts = sorted({f.strip() for f in (flags or "").split(",") if is_word(f.strip())})
    return (m.Cond("options", tuple(opts)),) if opts else ()


def mount_rule(event: Event) -> m.MountRule | None:
    """`mount [fstype=] [options=()] [SOURCE] -> MOUNTPOINT`, `umount MOUNTPOINT`.

    A remount is a `mount` rule whose options hold `remount` (as the kernel checks it).
    """
    if not event.name:
        return None
    point = aare_escape(event.name)
    if event.operation == "umount":
        return m.MountRule(qualifiers(event), "umount", mountpoint=point)
    conds: tuple[m.Cond, ...] = ()
    if event.fstype and is_word(event.fstype):
        conds = (cond("fstype", event.fstype),)
    conds += _options(event.flags)
    source = aare_escape(event.srcname) if event.srcname else None
    return m.MountRule(qualifiers(event), "mount", conds, source, point)


def pivot_root_rule(event: Event) -> m.PivotRootRule | None:
    """`pivot_root oldroot=OLD NEWROOT`."""
    if not event.name:
        return None
    old = aare_escape(event.srcname) if event.srcname else None
    return m.PivotRootRule(qualifiers(event), old, aare_escape(event.name))


def change_profile_rule(event: Event) -> m.ChangeProfileRule | None:
    """`change_profile -> TARGET`; None when the record names no target label."""
    if not event.target:
        return None
    return m.ChangeProfileRule(qualifiers(event), target=aare_escape(event.target))
