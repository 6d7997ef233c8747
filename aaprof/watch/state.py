"""The state directory: one SQLite database with the checkpoints and the committed counts.

Everything a batch changes (the sources' checkpoints, the metric counts, the sinks' tables)
is written in one transaction, so after a crash the database is exactly as after the last
committed batch: that batch's records are not read again, the next one's are read again.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from aaprof.errors import AaprofError

DATABASE = "watch.sqlite"

Labels = tuple[str, ...]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (source TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counts (
    metric TEXT NOT NULL, labels TEXT NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (metric, labels)
);
"""


class State:
    """The watch daemon's database (its own connection; one writer: the daemon)."""

    def __init__(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self.path = directory / DATABASE
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise AaprofError(f"state directory {directory}: {exc}") from None

    def checkpoint(self, source: str) -> dict[str, object] | None:
        row = self.conn.execute(
            "SELECT data FROM checkpoints WHERE source = ?", (source,)
        ).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        return data if isinstance(data, dict) else None

    def counts(self) -> dict[str, dict[Labels, float]]:
        out: dict[str, dict[Labels, float]] = {}
        for metric, labels, value in self.conn.execute("SELECT metric, labels, value FROM counts"):
            out.setdefault(metric, {})[tuple(json.loads(labels))] = value
        return out

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def save_checkpoint(self, source: str, data: dict[str, object]) -> None:
        self.conn.execute(
            "INSERT INTO checkpoints (source, data) VALUES (?, ?) "
            "ON CONFLICT (source) DO UPDATE SET data = excluded.data",
            (source, json.dumps(data, sort_keys=True)),
        )

    def add_counts(self, metric: str, deltas: dict[Labels, float]) -> None:
        self.conn.executemany(
            "INSERT INTO counts (metric, labels, value) VALUES (?, ?, ?) "
            "ON CONFLICT (metric, labels) DO UPDATE SET value = value + excluded.value",
            [(metric, json.dumps(list(k)), v) for k, v in deltas.items()],
        )

    def set_values(self, metric: str, values: dict[Labels, float]) -> None:
        self.conn.executemany(
            "INSERT INTO counts (metric, labels, value) VALUES (?, ?, ?) "
            "ON CONFLICT (metric, labels) DO UPDATE SET value = excluded.value",
            [(metric, json.dumps(list(k)), v) for k, v in values.items()],
        )

    def close(self) -> None:
        self.rollback()
        self.conn.close()
