"""What an alert is about: its label set (its identity), its severity and a record's sample text.

A record's text is written by a process we confine. Label names are fixed here; values only
ever land in JSON strings, never in a name, with bytes that are not UTF-8 spelled `\\xNN`, so
no record can add a label, change another alert's identity or break a payload.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from aaprof.containers.workload import workload_of_pod
from aaprof.engine.rules import rule_for
from aaprof.engine.severity import HIGH, severity
from aaprof.model.event import Event

CRITICAL = "critical"
WARNING = "warning"
# The label names of a pushed alert, in the order they are documented (docs/alerts.md).
LABELS = ("alertname", "severity", "namespace", "workload", "container", "profile", "class", "node")
MAX_VALUE = 512
MAX_SAMPLE = 200
_ALERTNAMES = {"DENIED": "AppArmorDenied", "KILLED": "AppArmorDenied"}
_COMPLAIN = "AppArmorComplainModeViolation"
_SEVERITY_CACHE: dict[tuple[object, ...], str] = {}
_CACHE_LIMIT = 65536


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose records an alert counts: the workload part of the identity."""

    namespace: str = ""
    workload: str = ""
    container: str = ""


def text(value: object, limit: int = MAX_VALUE) -> str:
    """A value as valid UTF-8 text of at most `limit` characters (bad bytes as `\\xNN`)."""
    if value is None:
        return ""
    raw = str(value).encode("utf-8", "surrogateescape")
    decoded = raw.decode("utf-8", "backslashreplace")
    return decoded if len(decoded) <= limit else decoded[: limit - 1] + "…"


def subject_of(event: Event) -> Subject:
    """Namespace, workload and container of a record; empty for a host program.

    A `workload` the watch daemon attributed (a `workload` attribute on the container) wins
    over the one guessed from the pod's name.
    """
    c = event.container
    if c is None:
        return Subject()
    workload = getattr(c, "workload", None) or (workload_of_pod(c.pod) if c.pod else "")
    return Subject(text(c.namespace), text(workload), text(c.name))


def severity_of(event: Event) -> str:
    """`critical` when the engine's severity hint for the record's rule is high, else `warning`.

    The same hint `aaprof generate` shows a reviewer (aaprof/engine/severity.py): capability
    sys_admin, writes under /proc/sys, credentials, mounts, ptrace … are critical.
    """
    key = (
        *(event.mode, event.operation, event.class_, event.name, event.name2, event.target),
        *(event.requested, event.denied, event.capname, event.capability, event.peer),
        *(event.family, event.sock_type, event.signal, event.fstype, event.srcname, event.flags),
        str(event.extra.get("execpath", "")),
    )
    found = _SEVERITY_CACHE.get(key)
    if found is None:
        rule = rule_for(event)
        hint = severity(rule) if rule is not None else None
        found = CRITICAL if hint is not None and hint.startswith(HIGH) else WARNING
        if len(_SEVERITY_CACHE) >= _CACHE_LIMIT:
            _SEVERITY_CACHE.clear()
        _SEVERITY_CACHE[key] = found
    return found


def alertname_of(event: Event) -> str:
    return _ALERTNAMES.get(event.mode, _COMPLAIN)


def labels_of(
    event: Event, node: str, subject_of: Callable[[Event], Subject] = subject_of
) -> dict[str, str]:
    """The alert's label set for a record: fixed names, empty values left out."""
    s = subject_of(event)
    values = (
        *(alertname_of(event), severity_of(event), s.namespace, s.workload, s.container),
        *(text(event.profile), text(event.class_), text(node)),
    )
    return {name: value for name, value in zip(LABELS, values, strict=True) if value}


def identity(labels: dict[str, str]) -> str:
    """The canonical text of a label set: the alert's key in the state database."""
    return json.dumps(labels, sort_keys=True, ensure_ascii=False)


def sample_of(event: Event) -> str:
    """One line saying what a record asked for, e.g. `open /etc/shadow (r)`."""
    parts: list[object] = [event.operation]
    if event.capname:
        parts.append(f"capability {event.capname}")
    parts += [event.name, event.name2 and f"-> {event.name2}"]
    if event.peer:
        parts.append(f"peer={event.peer}")
    if event.family:
        parts.append(" ".join(str(p) for p in (event.family, event.sock_type) if p))
    if event.signal:
        parts.append(f"signal={event.signal}")
    mask = event.denied or event.requested
    if mask:
        parts.append(f"({mask})")
    return text(" ".join(str(p) for p in parts if p), MAX_SAMPLE)
