"""The systemd journal as a source, through systemd-python's reader: read whole (`iter_journal`,
`aaprof events --journal`) or followed by cursor (`FollowedJournal`, `aaprof watch`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aaprof.errors import AaprofError
from aaprof.logs.live import AUDIT_LOST, Losses, Raw
from aaprof.model.event import SourceRef

SYSTEM_JOURNAL = "journal:"


def journal_value(value: object) -> object:
    """A journal value in `journalctl -o json`'s terms: a string (or, in lists, strings)."""
    if isinstance(value, datetime):
        return str(int(value.timestamp() * 1_000_000))
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, list):
        return [journal_value(v) for v in value]
    if isinstance(value, uuid.UUID):
        return value.hex
    return str(value)


def iter_journal(
    name: str, *, boot: str | None = None
) -> Iterator[tuple[int, dict[str, object], SourceRef]]:
    """(ordinal, entry, source) for every entry of a journal.

    Args:
        name: a journal file, a journal directory, or `journal:` for the system's journal.
        boot: only this boot: `0`/`this` (current), or a boot id.

    Raises:
        AaprofError: systemd-python is missing, or the journal cannot be opened.
    """
    try:
        reader = open_journal(name)
        if boot in {"0", "this", "current"}:
            reader.this_boot()
        elif boot:
            reader.this_boot(uuid.UUID(boot))
    except (OSError, ValueError) as exc:
        raise AaprofError(f"{name}: cannot open the journal: {exc}") from None
    label = f"journal:{name}" if name != SYSTEM_JOURNAL else SYSTEM_JOURNAL
    with reader:
        for number, entry in enumerate(reader, 1):
            fields = {key: journal_value(value) for key, value in entry.items()}
            yield number, fields, SourceRef(label, number)


def open_journal(name: str) -> Any:
    """systemd-python's reader of a journal file, a journal directory, or (`journal:`) the
    system's journal.

    Raises:
        AaprofError: systemd-python is missing, or there is no such file or directory.
        OSError, ValueError: the journal cannot be opened.
    """
    try:
        from systemd import journal
    except ImportError:
        raise AaprofError(
            "reading the journal needs systemd-python: pip install 'aaprof[journal]' "
            "(Debian: apt-get install python3-systemd)"
        ) from None
    path = Path(name)
    if name == SYSTEM_JOURNAL:
        return journal.Reader()
    if path.is_dir():
        return journal.Reader(path=str(path))
    if path.is_file():
        return journal.Reader(files=[str(path)])
    raise AaprofError(f"{name}: no such journal file or directory")


@dataclass(slots=True)
class FollowedJournal(Losses):
    """The system journal (`path` None) or a journal directory or file, followed by cursor
    (a `logs.live.Source`): the checkpoint is the cursor of the last entry taken and the
    entries' count, and a restore goes on after that entry."""

    path: str | None = None
    reader: Any = None
    cursor: str | None = None
    number: int = 0

    @property
    def label(self) -> str:
        return "journal" if self.path is None else f"journal:{self.path}"

    @property
    def lost_reasons(self) -> tuple[str, ...]:
        return (AUDIT_LOST,)

    def restore(self, checkpoint: dict[str, object] | None) -> None:
        self.close()
        try:
            self.reader = open_journal(SYSTEM_JOURNAL if self.path is None else self.path)
        except (OSError, ValueError) as exc:
            raise AaprofError(f"{self.label}: cannot open the journal: {exc}") from None
        self.reader.fileno()  # sets up the inotify watch that process() reads new files by
        cursor = (checkpoint or {}).get("cursor")
        self.cursor = cursor if isinstance(cursor, str) else None
        number = (checkpoint or {}).get("number")
        self.number = number if isinstance(number, int) else 0
        if self.cursor is not None:
            self.reader.seek_cursor(self.cursor)
            # Positioned on the checkpointed entry itself: step over it, it was taken.
            entry = self.reader.get_next()
            if entry and not self.reader.test_cursor(self.cursor):
                self.reader.get_previous()

    def skip_to_end(self) -> None:
        """Start after the journal's last entry now."""
        if self.reader is not None:
            self.reader.seek_tail()
            self.reader.get_previous()  # (seek_tail is after the end: step onto the last one)

    def poll(self, limit: int) -> list[Raw]:
        out: list[Raw] = []
        if self.reader is None:
            return out
        self.reader.process()
        while len(out) < limit:
            entry = self.reader.get_next()
            if not entry:
                break
            self.cursor = str(entry["__CURSOR"])
            self.number += 1
            fields = {key: journal_value(value) for key, value in entry.items()}
            out.append(Raw(fields, SourceRef(self.label, self.number)))
        return out

    def checkpoint(self) -> dict[str, object]:
        return {"cursor": self.cursor, "number": self.number}

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None
