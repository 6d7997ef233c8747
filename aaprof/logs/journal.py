"""The systemd journal as a source, through systemd-python's reader."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from aaprof.errors import AaprofError
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
        from systemd import journal
    except ImportError:
        raise AaprofError(
            "reading the journal needs systemd-python: pip install 'aaprof[journal]' "
            "(Debian: apt-get install python3-systemd)"
        ) from None
    path = Path(name)
    try:
        if name == SYSTEM_JOURNAL:
            reader = journal.Reader()
        elif path.is_dir():
            reader = journal.Reader(path=str(path))
        elif path.is_file():
            reader = journal.Reader(files=[str(path)])
        else:
            raise AaprofError(f"{name}: no such journal file or directory")
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
