"""Followed inputs: what a follower gives (`Raw`), what it is (`Source`), and what it counts.

A followed input is read on as it grows and remembers its place in a checkpoint. There is one
follower of each kind, in logs/: a log file across rotation and truncation
(`logs.follow.FollowedFile`), the systemd journal by cursor (`logs.journal.FollowedJournal`),
and the kernel's ring buffer by sequence number (`logs.kmsg.FollowedKmsg`). `aaprof events
--follow` and `aaprof watch` both read through them; what they read is parsed by
`logs.reader.Reader.live`, the one path from a followed record to an Event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from aaprof.model.event import SourceRef

# Why records were lost or read again (the counts a follower reports, by reason; watch exports
# them as aaprof_watch_records_lost_total{reason} and aaprof_watch_records_reread_total{reason}).
ROTATION_GAP = "rotation_gap"  # a file truncated with unread bytes no copy holds
PLACE_NOT_FOUND = "place_not_found"  # a checkpointed place no file holds: read from its start
KMSG_OVERWRITTEN = "kmsg_overwritten"  # the ring buffer overwrote records before they were read
AUDIT_LOST = "audit_lost"  # the kernel's own report of records its audit backlog dropped
# How long `follow` waits between polls when no input had new records.
POLL_SECONDS = 0.25
# Records `follow` takes from an input per poll (about).
FOLLOW_LIMIT = 4096


class Raw(NamedTuple):
    """One record as read: a text line (its newline included) or a journal entry's fields,
    where it was read, and `error` for a line that could not be taken (counted, not parsed)."""

    data: bytes | dict[str, object]
    source: SourceRef
    error: str | None = None


class Source(Protocol):
    """A followed input. `poll` returns what is new; `checkpoint` is the position after it."""

    @property
    def label(self) -> str:
        """The source's name in metrics and checkpoints (bounded: the operator's own paths)."""

    @property
    def lost_reasons(self) -> tuple[str, ...]:
        """The ways this source can lose records (their counts are exported from 0)."""

    def restore(self, checkpoint: dict[str, object] | None) -> None:
        """Open the input and position it after `checkpoint` (None: a first start).

        Raises:
            AaprofError: the input cannot be opened.
            ValueError: the checkpoint is not one this kind of source wrote.
        """

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


class Followed(Source, Protocol):
    """A Source that can also start at its end (`aaprof events --follow`: only what comes)."""

    def skip_to_end(self) -> None:
        """Start after what the input holds now (call after `restore(None)`)."""


def follow(
    sources: Sequence[Followed],
    *,
    from_start: bool = False,
    stop: Callable[[], bool] = lambda: False,
    poll: float = POLL_SECONDS,
) -> Iterator[Raw]:
    """The records appended to the inputs, until `stop()` is true (`aaprof events --follow`).

    Each input is its follower (see its module: a file across rotation and truncation, the
    journal by cursor, kmsg by sequence number): a record is given once, complete. There are
    no checkpoints: a follower's notes and losses have no place to be reported (not kept).

    Args:
        sources: the followers; a file that does not exist yet is read from its start when it
            appears.
        from_start: read what the inputs already hold first (default: only new records).
        stop: checked between polls; the iterator ends when it returns True.
        poll: seconds to sleep when no input had new records.
    """
    try:
        for source in sources:
            source.restore(None)
            if not from_start:
                source.skip_to_end()
        while not stop():
            busy = False
            for source in sources:
                for raw in source.poll(FOLLOW_LIMIT):
                    busy = True
                    yield raw
                source.take_notes()
                source.take_lost()
            if not busy:
                time.sleep(poll)
    finally:
        for source in sources:
            source.close()


@dataclass(slots=True)
class Losses:
    """The counts of a follower that never reads a record again nor moves its place (the
    journal's, kmsg's): its losses alone."""

    lost: dict[str, int] = field(default_factory=dict, kw_only=True)

    def take_lost(self) -> dict[str, int]:
        lost, self.lost = self.lost, {}
        return lost

    def take_reread(self) -> dict[str, int]:
        return {}

    def take_notes(self) -> list[str]:
        return []
