"""The durable alert queue: alert state and per-Alertmanager delivery in watch's state database.

One row per alert identity (its label set) holds the current episode: when it started, the
records counted since, a few samples, and when it resolved. A `version` goes up when an episode
starts and when it resolves: each is a notification owed to every Alertmanager until that one
accepts it (`alert_delivery.sent_version`). Between those, a firing alert (and a resolved one,
for the retention) is re-sent every resend interval, carrying its current count. So the number
of sends follows alerts × resend rate, not records, and nothing owed is forgotten by a restart.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_state (
    id INTEGER PRIMARY KEY,
    labels TEXT NOT NULL UNIQUE,
    starts_at REAL NOT NULL,
    last_handled REAL NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    records INTEGER NOT NULL,
    samples TEXT NOT NULL,
    resolved_at REAL,
    version INTEGER NOT NULL,
    changed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_delivery (
    alert INTEGER NOT NULL,
    target TEXT NOT NULL,
    sent_version INTEGER NOT NULL DEFAULT 0,
    sent_at REAL,
    PRIMARY KEY (alert, target)
);
CREATE TABLE IF NOT EXISTS alert_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
MAX_SAMPLES = 5


@dataclass(frozen=True, slots=True)
class Batch:
    """What one batch of records adds to one alert."""

    labels: str
    records: int
    first_seen: float
    last_seen: float
    samples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Due:
    """An alert to send to one Alertmanager now, with the version this send carries."""

    id: int
    labels: str
    starts_at: float
    first_seen: float
    last_seen: float
    records: int
    samples: tuple[str, ...]
    resolved_at: float | None
    version: int


@dataclass(frozen=True, slots=True)
class Timing:
    """Prometheus' notifier semantics, in seconds (docs/alerts.md has the defaults' reasons)."""

    resend: float = 60.0
    resolve_after: float = 300.0
    retention: float = 900.0


def create(conn: sqlite3.Connection, targets: Sequence[str]) -> None:
    """The tables, and a delivery row for every (alert, configured Alertmanager).

    An Alertmanager added since the last start gets every live alert; one no longer
    configured is forgotten.
    """
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(
        f"DELETE FROM alert_delivery WHERE target NOT IN ({','.join('?' * len(targets))})",
        tuple(targets),
    )
    for target in targets:
        conn.execute(
            "INSERT OR IGNORE INTO alert_delivery (alert, target) SELECT id, ? FROM alert_state",
            (target,),
        )


def add(
    conn: sqlite3.Connection,
    batches: Iterable[Batch],
    now: float,
    targets: Sequence[str],
    limit: int,
) -> tuple[int, int]:
    """Count a batch's records into their alerts, starting an episode where none is firing.

    Returns:
        (alerts, records) shed: new alerts refused because `limit` alerts are live and none
        of them is resolved (a resolved one is dropped first, oldest first).
    """
    shed_alerts = shed_records = 0
    for b in batches:
        row = conn.execute(
            "SELECT id, resolved_at, samples FROM alert_state WHERE labels = ?", (b.labels,)
        ).fetchone()
        samples = json.dumps(list(b.samples[:MAX_SAMPLES]), ensure_ascii=False)
        if row is None:
            if not _room(conn, limit):
                shed_alerts, shed_records = shed_alerts + 1, shed_records + b.records
                continue
            cursor = conn.execute(
                "INSERT INTO alert_state (labels, starts_at, last_handled, first_seen, last_seen,"
                " records, samples, resolved_at, version, changed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 1, ?)",
                (b.labels, now, now, b.first_seen, b.last_seen, b.records, samples, now),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO alert_delivery (alert, target) VALUES (?, ?)",
                [(cursor.lastrowid, t) for t in targets],
            )
        elif row[1] is not None:  # resolved: a new episode with the same identity
            conn.execute(
                "UPDATE alert_state SET starts_at = ?, last_handled = ?, first_seen = ?,"
                " last_seen = ?, records = ?, samples = ?, resolved_at = NULL,"
                " version = version + 1, changed_at = ? WHERE id = ?",
                (now, now, b.first_seen, b.last_seen, b.records, samples, now, row[0]),
            )
        else:
            kept = json.loads(row[2])
            kept += [s for s in b.samples if s not in kept][: MAX_SAMPLES - len(kept)]
            conn.execute(
                "UPDATE alert_state SET last_handled = ?, first_seen = MIN(first_seen, ?),"
                " last_seen = MAX(last_seen, ?), records = records + ?, samples = ?"
                " WHERE id = ?",
                (now, b.first_seen, b.last_seen, b.records, json.dumps(kept), row[0]),
            )
    if shed_alerts:
        _count(conn, "shed_alerts", shed_alerts)
        _count(conn, "shed_records", shed_records)
    return shed_alerts, shed_records


def _room(conn: sqlite3.Connection, limit: int) -> bool:
    (live,) = conn.execute("SELECT COUNT(*) FROM alert_state").fetchone()
    if live < limit:
        return True
    oldest = conn.execute(
        "SELECT id FROM alert_state WHERE resolved_at IS NOT NULL ORDER BY resolved_at LIMIT 1"
    ).fetchone()
    if oldest is None:
        return False
    _delete(conn, [oldest[0]])
    return True


def _count(conn: sqlite3.Connection, name: str, n: int) -> None:
    conn.execute(
        "INSERT INTO alert_meta (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        (name, n),
    )


def _delete(conn: sqlite3.Connection, ids: Sequence[int]) -> None:
    conn.executemany("DELETE FROM alert_delivery WHERE alert = ?", [(i,) for i in ids])
    conn.executemany("DELETE FROM alert_state WHERE id = ?", [(i,) for i in ids])


def restart_quiet_periods(conn: sqlite3.Connection, now: float) -> None:
    """Firing alerts count their quiet period from `now` (watch starts reading again)."""
    conn.execute(
        "UPDATE alert_state SET last_handled = MAX(last_handled, ?) WHERE resolved_at IS NULL",
        (now,),
    )


def resolve_and_expire(conn: sqlite3.Connection, now: float, timing: Timing) -> None:
    """Resolve alerts quiet for `resolve_after`; drop resolved ones past the retention that
    every Alertmanager has accepted the resolution of."""
    conn.execute(
        "UPDATE alert_state SET resolved_at = ?, version = version + 1, changed_at = ?"
        " WHERE resolved_at IS NULL AND last_handled + ? <= ?",
        (now, now, timing.resolve_after, now),
    )
    done = conn.execute(
        "SELECT s.id FROM alert_state s WHERE s.resolved_at IS NOT NULL"
        " AND s.resolved_at + ? <= ? AND NOT EXISTS (SELECT 1 FROM alert_delivery d"
        " WHERE d.alert = s.id AND d.sent_version < s.version)",
        (timing.retention, now),
    ).fetchall()
    _delete(conn, [r[0] for r in done])


_DUE = """
FROM alert_state s JOIN alert_delivery d ON d.alert = s.id
WHERE d.target = :target AND (
    d.sent_version < s.version
    OR (d.sent_at + :resend <= :now
        AND (s.resolved_at IS NULL OR s.resolved_at + :retention > :now)))
"""


def due(conn: sqlite3.Connection, target: str, now: float, timing: Timing, limit: int) -> list[Due]:
    """The alerts owed to `target` now: unsent changes first, then resends, oldest first."""
    rows = conn.execute(
        "SELECT s.id, s.labels, s.starts_at, s.first_seen, s.last_seen, s.records, s.samples,"
        f" s.resolved_at, s.version {_DUE}"
        " ORDER BY d.sent_version >= s.version, s.changed_at LIMIT :limit",
        _params(target, now, timing) | {"limit": limit},
    ).fetchall()
    return [
        Due(r[0], r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])), r[7], r[8]) for r in rows
    ]


def _params(target: str, now: float, timing: Timing) -> dict[str, object]:
    return {"target": target, "now": now, "resend": timing.resend, "retention": timing.retention}


def mark_sent(conn: sqlite3.Connection, target: str, sent: Iterable[Due], now: float) -> None:
    """`target` accepted these alerts, at the versions they carried."""
    conn.executemany(
        "UPDATE alert_delivery SET sent_version = MAX(sent_version, ?), sent_at = ?"
        " WHERE alert = ? AND target = ?",
        [(d.version, now, d.id, target) for d in sent],
    )


def backlog(conn: sqlite3.Connection, now: float, timing: Timing) -> tuple[int, float]:
    """(deliveries due, age in seconds of the one due longest) over every Alertmanager.

    A delivery is due since its alert's episode started if it never reached that
    Alertmanager, else since the earlier of its last change and its next resend.
    """
    count, since = conn.execute(
        "SELECT COUNT(*), MIN(CASE WHEN d.sent_at IS NULL THEN s.starts_at"
        " WHEN d.sent_version < s.version"
        " THEN MIN(s.changed_at, MAX(d.sent_at + :resend, s.starts_at))"
        " ELSE d.sent_at + :resend END)"
        " FROM alert_state s JOIN alert_delivery d ON d.alert = s.id"
        " WHERE d.sent_version < s.version OR (d.sent_at + :resend <= :now"
        " AND (s.resolved_at IS NULL OR s.resolved_at + :retention > :now))",
        _params("", now, timing),
    ).fetchone()
    return int(count), max(0.0, now - since) if since is not None else 0.0


def shed_totals(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT name, value FROM alert_meta").fetchall())
