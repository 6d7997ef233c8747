"""The contract between the watch daemon and what it feeds (the alert queue, future sinks).

The daemon reads records in batches. For each batch it opens one transaction on its state
database, hands the batch to every sink, advances the checkpoints and commits: a sink's effects
and the checkpoint land together or not at all, so a crash repeats a batch but never loses one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from aaprof.model.event import Event


class Sink(Protocol):
    """Something that takes each committed batch of attributed events."""

    name: str

    def setup(self, conn: sqlite3.Connection) -> None:
        """Create the sink's tables in the state database (idempotent; called once at start)."""

    def handle(self, conn: sqlite3.Connection, events: Sequence[Event], now: float) -> None:
        """Take one batch inside the daemon's open transaction.

        Must not commit or roll back, and must do no network I/O: the daemon commits the batch
        together with the checkpoints. ``now`` is the daemon's clock (seconds since the epoch).
        """

    def run(self, database: Path, stop: threading.Event) -> None:
        """Background work (e.g. delivery) on its own connection, until ``stop`` is set.

        The daemon runs it in a thread; it returns promptly once ``stop`` is set.
        """
