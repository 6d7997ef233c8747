"""The systemd journal as a followed source, through systemd-python, with a cursor checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aaprof.errors import AaprofError
from aaprof.logs.journal import journal_value
from aaprof.model.event import SourceRef
from aaprof.watch.source import AUDIT_LOST, Raw


@dataclass(slots=True)
class JournalSource:
    """The system journal (`path` None) or a journal directory or file, followed by cursor."""

    path: str | None = None
    reader: Any = None
    cursor: str | None = None
    number: int = 0
    lost: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "journal" if self.path is None else f"journal:{self.path}"

    @property
    def lost_reasons(self) -> tuple[str, ...]:
        return (AUDIT_LOST,)

    def restore(self, checkpoint: dict[str, object] | None) -> None:
        self.close()
        try:
            from systemd import journal
        except ImportError:
            raise AaprofError(
                "reading the journal needs systemd-python: pip install 'aaprof[journal]' "
                "(Debian: apt-get install python3-systemd)"
            ) from None
        try:
            if self.path is None:
                self.reader = journal.Reader()
            elif Path(self.path).is_dir():
                self.reader = journal.Reader(path=self.path)
            else:
                self.reader = journal.Reader(files=[self.path])
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

    def poll(self, limit: int) -> Sequence[Raw]:
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

    def take_lost(self) -> dict[str, int]:
        lost, self.lost = self.lost, {}
        return lost

    def take_reread(self) -> dict[str, int]:
        return {}

    def take_notes(self) -> list[str]:
        return []

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None
