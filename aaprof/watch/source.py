"""What the daemon reads from: a source gives raw records and a checkpoint after them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aaprof.model.event import SourceRef

# Lost records are counted under these reasons (aaprof_watch_records_lost_total{reason}).
KMSG_OVERWRITTEN = "kmsg_overwritten"
AUDIT_LOST = "audit_lost"
# A file source's own reasons are the file follower's (aaprof/logs/follow.py): rotation_gap
# (lost: a file truncated with unread bytes no copy holds) and, under
# aaprof_watch_records_reread_total{reason}, place_not_found (a file whose checkpointed place
# no file holds any more, read from its start).


@dataclass(frozen=True, slots=True)
class Raw:
    """One record as read: a text line (files, kmsg) or a journal entry's fields."""

    data: bytes | dict[str, object]
    source: SourceRef
    error: str | None = None  # a line that could not be taken (counted as a parse error)


class Source(Protocol):
    """A followed input. `poll` returns what is new; `checkpoint` is the position after it."""

    @property
    def label(self) -> str:
        """The source's name in metrics and checkpoints (bounded: the operator's own paths)."""

    @property
    def lost_reasons(self) -> tuple[str, ...]:
        """The ways this source can lose records (their counts are exported from 0)."""

    def restore(self, checkpoint: dict[str, object] | None) -> None:
        """Open the input and position it after `checkpoint` (None: a first start)."""

    def poll(self, limit: int) -> Sequence[Raw]:
        """Records available now (at most about `limit`), without blocking."""

    def checkpoint(self) -> dict[str, object]:
        """The position after the last record `poll` returned (JSON-serialisable)."""

    def take_lost(self) -> dict[str, int]:
        """Records known to be lost since the last call, by reason."""

    def take_reread(self) -> dict[str, int]:
        """Records (lines) about to be read again since the last call, by reason: they may
        have been counted before."""

    def take_notes(self) -> list[str]:
        """What the source decided about its place since the last call, one line each."""

    def close(self) -> None:
        """Release what the source holds open."""
