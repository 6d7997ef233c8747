"""What DIR's profiles do not allow yet: the promotion gate's answer, per profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Gap:
    """A profile whose recorded accesses it does not all allow (the promotion gate)."""

    profile: str
    rules: tuple[str, ...]
    last_new: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "missing_rules": list(self.rules),
            "last_new_access": self.last_new.isoformat() if self.last_new else None,
        }

    def text(self, now: datetime | None = None) -> str:
        """`profile: N access(es) not covered, last new access … (3 days ago)` and the rules."""
        age = ""
        if self.last_new is not None:
            ago = human_age(((now or datetime.now(UTC)) - self.last_new).total_seconds())
            age = f", last new access {self.last_new:%Y-%m-%d %H:%M} UTC ({ago})"
        head = f"{self.profile}: {len(self.rules)} access(es) not covered{age}"
        return "\n".join([head, *(f"  {rule}" for rule in self.rules)])


_UNITS = (
    (365 * 86400, "year"),
    (30 * 86400, "month"),
    (7 * 86400, "week"),
    (86400, "day"),
    (3600, "hour"),
    (60, "minute"),
)


def human_age(seconds: float) -> str:
    """How long ago, as a person says it: `just now`, `5 minutes ago`, `2 years ago` (whole
    units, rounded down); a time in the future (a clock ahead) is `in the future`."""
    if seconds < 0:
        return "in the future"
    span = human_span(seconds)
    return "just now" if span == _NO_TIME else f"{span} ago"


_NO_TIME = "less than a minute"


def human_span(seconds: float) -> str:
    """A length of time as a person says it: `5 minutes`, `1 day`, `2 years` (whole units,
    rounded down), `less than a minute`."""
    for size, unit in _UNITS:
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return _NO_TIME
