"""Log files as a watch source: the one file follower (aaprof/logs/follow.py, shared with
`aaprof events --follow`) with watch's label, loss reasons and records.

Everything about rotation, truncation, checkpoints and finding a place again by content is
the follower's; see its module's doc.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aaprof.logs.follow import ROTATION_GAP, FollowedFile, family
from aaprof.model.event import SourceRef
from aaprof.watch.source import AUDIT_LOST, Raw

__all__ = ["FileSource", "family"]


@dataclass(slots=True)
class FileSource:
    """One log file by name, as a watch Source."""

    path: str
    file: FollowedFile = field(init=False)

    def __post_init__(self) -> None:
        self.file = FollowedFile(self.path)

    @property
    def label(self) -> str:
        return f"file:{self.path}"

    @property
    def lost_reasons(self) -> tuple[str, ...]:
        return (ROTATION_GAP, AUDIT_LOST)

    def restore(self, checkpoint: dict[str, object] | None) -> None:
        self.file.restore(checkpoint)

    def poll(self, limit: int) -> Sequence[Raw]:
        return [
            Raw(line.data, SourceRef(line.path, line.number), line.error)
            for line in self.file.poll(limit)
        ]

    def checkpoint(self) -> dict[str, object]:
        return self.file.checkpoint()

    def take_lost(self) -> dict[str, int]:
        return self.file.take_lost()

    def take_reread(self) -> dict[str, int]:
        return self.file.take_reread()

    def take_notes(self) -> list[str]:
        return [f"{self.label}: {note}" for note in self.file.take_notes()]

    def close(self) -> None:
        self.file.close()
