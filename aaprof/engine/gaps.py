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
        """`profile: N access(es) not covered, last new access … (h ago)` and the rules."""
        age = ""
        if self.last_new is not None:
            hours = ((now or datetime.now(UTC)) - self.last_new).total_seconds() / 3600
            age = f", last new access {self.last_new:%Y-%m-%d %H:%M} UTC ({hours:.1f} h ago)"
        head = f"{self.profile}: {len(self.rules)} access(es) not covered{age}"
        return "\n".join([head, *(f"  {rule}" for rule in self.rules)])
