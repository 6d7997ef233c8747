"""Which events to keep: the filters of `aaprof events`, as one frozen predicate."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from aaprof.errors import AaprofError
from aaprof.model.event import Event
from aaprof.model.labels import STACK, stack_members

MODE_CHOICES: Final = ("denied", "allowed", "audit", "status", "hint", "error", "killed", "all")

# What users type for a class, to the kernel's class name.
CLASS_ALIASES: Final = {
    "capability": "cap",
    "caps": "cap",
    "network": "net",
    "inet": "net",
    "unix": "net",
    "exec": "file",
    "mqueue": "posix_mqueue",
    "userns": "namespace",
    "change_profile": "domain",
}

_RELATIVE: Final = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """A time given as ISO 8601 (UTC unless it says), epoch seconds, or `15m`/`2h`/`7d` ago.

    Raises:
        AaprofError: the text is none of these.
    """
    text = text.strip()
    m = _RELATIVE.match(text)
    if m:
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AaprofError(
            f"{text!r} is not a time: use ISO 8601 (2024-05-01T12:00), epoch seconds, or 30m/2h/7d"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _glob(pattern: str | None) -> re.Pattern[str] | None:
    return None if pattern is None else re.compile(fnmatch.translate(pattern), re.DOTALL)


def _label_matches(pattern: re.Pattern[str], label: str) -> bool:
    """The label as written, or one member of a stack (`a//&:ns:b`), matches `--profile`."""
    if pattern.match(label):
        return True
    return STACK in label and any(pattern.match(m) for m in stack_members(label))


@dataclass(frozen=True, slots=True)
class Selection:
    """A conjunction of filters; each None means "any"."""

    modes: frozenset[str] | None = None
    profile: re.Pattern[str] | None = None
    operations: frozenset[str] | None = None
    classes: frozenset[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    pids: frozenset[int] | None = None
    comm: re.Pattern[str] | None = None
    name: re.Pattern[str] | None = None
    # no filter but the modes: `keeps` reads one field (a read's default selection)
    _modes_only: bool = field(init=False, repr=False, compare=False, default=False)

    def __post_init__(self) -> None:
        others = (self.profile, self.operations, self.classes, self.since, self.until)
        only = self.modes is not None and all(
            x is None for x in (*others, self.pids, self.comm, self.name)
        )
        object.__setattr__(self, "_modes_only", only)

    @classmethod
    def build(
        cls,
        *,
        mode: str = "all",
        profile: str | None = None,
        operations: tuple[str, ...] = (),
        classes: tuple[str, ...] = (),
        since: str | None = None,
        until: str | None = None,
        pids: tuple[int, ...] = (),
        comm: str | None = None,
        name: str | None = None,
    ) -> Selection:
        """A Selection from the command line's words (globs for profile, comm and name)."""
        return cls(
            modes=None if mode == "all" else frozenset({mode.upper()}),
            profile=_glob(profile),
            operations=frozenset(operations) or None,
            classes=frozenset(CLASS_ALIASES.get(c, c) for c in classes) or None,
            since=parse_when(since) if since else None,
            until=parse_when(until) if until else None,
            pids=frozenset(pids) or None,
            comm=_glob(comm),
            name=_glob(name),
        )

    @property
    def needs_event(self) -> bool:
        """Whether a filter looks past mode, profile, operation, class and name."""
        return bool(self.since or self.until or self.pids or self.comm)

    def keeps(self, event: Event) -> bool:
        """Whether the event passes every filter."""
        if self._modes_only:
            return event.mode in self.modes  # type: ignore[operator]
        return self.keeps_key(
            event.mode, event.profile, event.operation, event.class_, event.name
        ) and self._keeps_rest(event)

    def keeps_key(
        self,
        mode: str,
        profile: str | None,
        operation: str | None,
        class_: str | None,
        name: str | None,
    ) -> bool:
        """The filters that only need what a summary keeps."""
        if self.modes is not None and mode not in self.modes:
            return False
        if self.profile is not None and not _label_matches(self.profile, profile or ""):
            return False
        if self.operations is not None and operation not in self.operations:
            return False
        if self.classes is not None and class_ not in self.classes:
            return False
        return self.name is None or bool(self.name.match(name or ""))

    def _keeps_rest(self, event: Event) -> bool:
        if self.since is not None and (event.time is None or event.time < self.since):
            return False
        if self.until is not None and (event.time is None or event.time > self.until):
            return False
        if self.pids is not None and event.pid not in self.pids:
            return False
        return self.comm is None or bool(self.comm.match(event.comm or ""))
