"""The state directory: one SQLite database with the checkpoints and the committed counts.

Everything a batch changes (the sources' checkpoints, the metric counts, the sinks' tables)
is written in one transaction, so after a crash the database is exactly as after the last
committed batch: that batch's records are not read again, the next one's are read again.

The database is opened with a rollback journal and no memory mapping (no WAL: its index is a
shared memory map, and a page of a map that the disk cannot back is a SIGBUS, not an error),
without fsync (synchronous=OFF: a commit costs 0.04 ms instead of 10 ms and more on a busy
disk). A crash of watch loses nothing committed (the journal is written before the pages);
a power loss may lose the last commits or damage the database, which is then refused.
A new database is made under another name and renamed into place once it holds its schema: a
state file that exists is always one watch finished writing, so one that is empty, damaged,
not a database, of a newer schema or with a checkpoint that does not parse is refused (see
docs/watch.md, "Damaged state"), never taken for a first start. An older schema is migrated.
A disk that is full or a directory that is not writable ends watch with a message; what was
committed stays.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from aaprof.errors import AaprofError

DATABASE = "watch.sqlite"
# The schema version, in the database's user_version. 0: aaprof 0.1 (checkpoints and counts,
# WAL, no version); 1: the same tables, a rollback journal (PERSIST), the version set; 2: and
# `rules_seen` (per profile, the rules its records needed: watch's readiness, docs/watch.md) and
# `replicas_seen` (per workload's labels, the pods that logged for it).
VERSION = 2

Labels = tuple[str, ...]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (source TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counts (
    metric TEXT NOT NULL, labels TEXT NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (metric, labels)
);
CREATE TABLE IF NOT EXISTS rules_seen (
    profile TEXT NOT NULL, rule TEXT NOT NULL, PRIMARY KEY (profile, rule)
);
CREATE TABLE IF NOT EXISTS replicas_seen (
    labels TEXT NOT NULL, pod TEXT NOT NULL, PRIMARY KEY (labels, pod)
);
"""


class State:
    """The watch daemon's database (its own connection; one writer: the daemon)."""

    def __init__(self, directory: Path, say: Callable[[str], None] = lambda message: None) -> None:
        self.directory = directory
        self.path = directory / DATABASE
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                self._create()
            elif self.path.stat().st_size == 0:
                raise self.untrusted("it is empty (0 bytes)")
        except OSError as exc:
            raise self.failure("create it", exc) from None
        except sqlite3.Error as exc:
            raise self.failure("create it", exc) from None
        self.conn = self._open(say)

    def _create(self) -> None:
        new = self.path.with_name(DATABASE + ".new")
        for stale in (new, new.with_name(new.name + "-journal")):
            stale.unlink(missing_ok=True)
        conn = sqlite3.connect(new, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=PERSIST")
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={VERSION}")
        finally:
            conn.close()
        fd = os.open(new, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        new.with_name(new.name + "-journal").unlink(missing_ok=True)
        # A journal (or WAL) of a database moved away is no part of this one: SQLite would play
        # it back into it.
        for suffix in ("-journal", "-wal", "-shm"):
            self.path.with_name(DATABASE + suffix).unlink(missing_ok=True)
        os.replace(new, self.path)
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _open(self, say: Callable[[str], None]) -> sqlite3.Connection:
        doing = "open it"
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
        except sqlite3.Error as exc:
            raise self.failure(doing, exc) from None
        try:
            conn.execute("PRAGMA mmap_size=0")
            # A rollback journal left by a crash is played back here (it needs the directory
            # writable); a database in WAL mode (aaprof 0.1) is turned into one with a journal.
            conn.execute("PRAGMA journal_mode=PERSIST")
            conn.execute("PRAGMA synchronous=OFF")
            doing = "check it"
            problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                first = " ".join(problems[0].split()).removeprefix("*** in database main *** ")
                raise self.untrusted(f"it is damaged ({first})")
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > VERSION:
                raise AaprofError(
                    f"state database {self.path} has schema version {version}, newer than this "
                    f"aaprof reads ({VERSION}): run the aaprof that wrote it, or move it aside "
                    f"to start anew (docs/watch.md, 'damaged state')"
                )
            tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master")}
            if not {"checkpoints", "counts"} <= tables:
                raise self.untrusted("it holds no watch checkpoints")
            self._validate(conn, tables)
            # A write at once: a directory that is not writable fails here, before any read.
            doing = "write to it"
            conn.execute("BEGIN IMMEDIATE")
            if version < VERSION:  # 1 → 2: the tables of the rules and replicas seen
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version={VERSION}")
            conn.execute("COMMIT")
        except AaprofError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            if _environment(exc):  # the disk or the directory, not the database
                raise self.failure(doing, exc) from None
            raise self.untrusted(f"it is damaged ({exc})") from None
        if version < VERSION:
            say(f"state database {self.path}: migrated from schema version {version} to {VERSION}")
        return conn

    def _validate(self, conn: sqlite3.Connection, tables: set[str]) -> None:
        """Every checkpoint a JSON object, every count's (and replica's) labels a JSON list of
        strings."""
        if "replicas_seen" in tables:
            for (labels,) in conn.execute("SELECT labels FROM replicas_seen"):
                try:
                    parsed = json.loads(labels)
                except (TypeError, ValueError):
                    parsed = None
                if not (isinstance(parsed, list) and all(isinstance(x, str) for x in parsed)):
                    raise self.untrusted("a replica's labels are not a list of labels")
        for source, data in conn.execute("SELECT source, data FROM checkpoints"):
            try:
                parsed = json.loads(data)
            except (TypeError, ValueError):
                parsed = None
            if not isinstance(parsed, dict):
                raise self.untrusted(f"the checkpoint of {source!r} is not a JSON object")
        for metric, labels, value in conn.execute("SELECT metric, labels, value FROM counts"):
            try:
                parsed = json.loads(labels)
            except (TypeError, ValueError):
                parsed = None
            if not (
                isinstance(parsed, list)
                and all(isinstance(x, str) for x in parsed)
                and isinstance(value, int | float)
            ):
                raise self.untrusted(f"a count of {metric!r} is not a list of labels and a number")

    def untrusted(self, why: str) -> AaprofError:
        """The refusal of this database, saying why and how to start anew."""
        return AaprofError(
            f"state database {self.path} cannot be trusted: {why}. watch does not guess where "
            f"it was: move it aside (mv {self.path} {self.path}.damaged) and start again; every "
            f"source is then read from its start (docs/watch.md, 'damaged state')"
        )

    def failure(self, doing: str, exc: BaseException) -> AaprofError:
        """A database error as a message: what failed, why, and what to do (the directory is
        looked at: SQLite says "disk I/O error" for a read-only mount, too)."""
        text = str(exc.strerror if isinstance(exc, OSError) and exc.strerror else exc)
        low = text.lower()
        try:
            fs = os.statvfs(self.directory)
            read_only, full = bool(fs.f_flag & os.ST_RDONLY), fs.f_bavail == 0
        except OSError:
            read_only = full = False
        if full or "full" in low or "no space" in low:
            hint = f"the disk of {self.directory} is full: free space and start again"
        elif read_only or any(w in low for w in ("readonly", "read-only", "permission")):
            hint = f"{self.directory} must be writable: make it so and start again"
        else:
            hint = f"check {self.directory} and its disk, and start again"
        return AaprofError(
            f"state database {self.path}: cannot {doing}: {text}; {hint} "
            f"(what was committed is kept)"
        )

    @contextmanager
    def transaction(self, doing: str = "commit a batch") -> Iterator[sqlite3.Connection]:
        """One write transaction; a database error in it becomes a message (AaprofError)."""
        try:
            self.begin()
            yield self.conn
            self.commit()
        except sqlite3.Error as exc:
            self.rollback()
            raise self.failure(doing, exc) from None
        except BaseException:
            self.rollback()
            raise

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def checkpoint(self, source: str) -> dict[str, object] | None:
        row = self._read("SELECT data FROM checkpoints WHERE source = ?", (source,))
        if not row:
            return None
        data = json.loads(str(row[0][0]))
        return data if isinstance(data, dict) else None

    def counts(self) -> dict[str, dict[Labels, float]]:
        out: dict[str, dict[Labels, float]] = {}
        for metric, labels, value in self._read("SELECT metric, labels, value FROM counts"):
            out.setdefault(str(metric), {})[tuple(json.loads(str(labels)))] = float(str(value))
        return out

    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Rows (checked at open: checkpoints are JSON objects, labels JSON lists)."""
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise self.failure("read it", exc) from None

    def save_checkpoint(self, source: str, data: dict[str, object]) -> None:
        self.conn.execute(
            "INSERT INTO checkpoints (source, data) VALUES (?, ?) "
            "ON CONFLICT (source) DO UPDATE SET data = excluded.data",
            (source, json.dumps(data, sort_keys=True)),
        )

    def rules_seen(self) -> dict[str, set[str]]:
        """Per profile, the rules its records needed (those watch has seen)."""
        out: dict[str, set[str]] = {}
        for profile, rule in self._read("SELECT profile, rule FROM rules_seen"):
            out.setdefault(_text(profile), set()).add(_text(rule))
        return out

    def replicas_seen(self) -> dict[Labels, set[str]]:
        """Per workload's labels, the pods (`namespace/pod`) that logged under them."""
        out: dict[Labels, set[str]] = {}
        for labels, pod in self._read("SELECT labels, pod FROM replicas_seen"):
            out.setdefault(tuple(json.loads(str(labels))), set()).add(_text(pod))
        return out

    def add_seen(self, rules: set[tuple[str, str]], replicas: set[tuple[Labels, str]]) -> None:
        """Remember rules (profile, rule) and replicas (labels, pod) seen in this batch (names
        as a record gave them, undecodable bytes included: kept as bytes, exactly)."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO rules_seen (profile, rule) VALUES (?, ?)",
            sorted((_blob(profile), _blob(rule)) for profile, rule in rules),
        )
        self.conn.executemany(
            "INSERT OR IGNORE INTO replicas_seen (labels, pod) VALUES (?, ?)",
            sorted((json.dumps(list(k)), _blob(pod)) for k, pod in replicas),
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

    def rollback(self) -> None:
        with suppress(sqlite3.Error):  # the transaction may be gone with the error that ended it
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.rollback()
        with suppress(sqlite3.Error):
            self.conn.close()


def _blob(value: str) -> bytes:
    """A name as bytes that give it back exactly (`surrogatepass`: a record's undecodable
    bytes, kept as surrogates, are not valid UTF-8 text)."""
    return value.encode("utf-8", "surrogatepass")


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogatepass")
    return str(value)


# SQLite's primary result codes that put the fault on the disk or the directory, not the file:
# PERM, BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN.
_ENVIRONMENT = frozenset({3, 5, 6, 7, 8, 10, 13, 14})


def _environment(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(code, int):
        return isinstance(exc, sqlite3.OperationalError)
    return code & 0xFF in _ENVIRONMENT  # an extended code's low byte is its primary code
