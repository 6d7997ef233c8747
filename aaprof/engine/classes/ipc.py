"""Signals, ptrace, D-Bus and message queues: the access, the object and the peer."""

from __future__ import annotations

import re

from aaprof.engine.classes.mask import cond, is_word, mask_text, qualifiers, words
from aaprof.model import profile as m
from aaprof.model.event import Event
from aaprof.profiles.peers import stack_proof
from aaprof.profiles.render import aare_escape

_SIGNAL = re.compile(r"[a-z0-9+-]+")  # `term`, `rtmin+3`, `exists`


def _peer(label: str | None) -> str | None:
    """The peer as a pattern that matches it with or without a stacked suffix (`X//&unconfined`
    on 6.17's exec'd processes): profiles/peers.py."""
    return stack_proof(label) if label else None


def signal_rule(event: Event) -> m.SignalRule | None:
    """`signal ACCESS set=SIG peer=LABEL`."""
    access = words(mask_text(event))
    if not access:
        return None
    signals = (
        frozenset({event.signal})
        if event.signal and _SIGNAL.fullmatch(event.signal)
        else frozenset()
    )
    return m.SignalRule(qualifiers(event), access, signals, _peer(event.peer))


def ptrace_rule(event: Event) -> m.PtraceRule | None:
    """`ptrace ACCESS peer=LABEL`; None without an access (nothing known to allow)."""
    access = words(mask_text(event))
    if not access:
        return None
    return m.PtraceRule(qualifiers(event), access, _peer(event.peer))


def dbus_rule(event: Event) -> m.DbusRule | None:
    """`dbus ACCESS bus= path= interface= member= peer=(label=)`, `bind name=`, `eavesdrop`."""
    access = words(mask_text(event))
    if not access:
        return None
    conds = [cond("bus", aare_escape(event.bus))] if event.bus else []
    peer: tuple[m.Cond, ...] = ()
    if "bind" in access:
        if event.name:
            conds.append(cond("name", aare_escape(event.name)))
    elif "eavesdrop" not in access:
        for key in ("path", "interface", "member"):
            value = getattr(event, key)
            if value:
                conds.append(cond(key, aare_escape(value)))
        if event.peer:
            peer = (cond("label", stack_proof(event.peer)),)
    return m.DbusRule(qualifiers(event), access, tuple(conds), peer)


def mqueue_rule(event: Event) -> m.MqueueRule | None:
    """`mqueue ACCESS type=posix|sysv [NAME]`."""
    access = words(mask_text(event))
    kind = (event.class_ or "").removesuffix("_mqueue")
    if not access or kind not in ("posix", "sysv"):
        return None
    name = aare_escape(event.name) if event.name else None
    return m.MqueueRule(qualifiers(event), access, (cond("type", kind),), name)


def io_uring_rule(event: Event) -> m.IoUringRule | None:
    """`io_uring ACCESS [label=TARGET]` (the credentials' label for `override_creds`)."""
    access = words(mask_text(event))
    if not access:
        return None
    conds = (cond("label", aare_escape(event.peer)),) if event.peer else ()
    return m.IoUringRule(qualifiers(event), access, conds)


def userns_rule(event: Event) -> m.UsernsRule | None:
    """`userns create`."""
    access = {w.removeprefix("userns_") for w in words(mask_text(event))}
    if "create" not in access:
        return None
    return m.UsernsRule(qualifiers(event), frozenset({"create"}))


def is_sysv_or_posix(event: Event) -> bool:
    """Whether the record is a message-queue one."""
    return is_word(event.class_) and (event.class_ or "").endswith("_mqueue")
