"""Log sources: files, directories, globs, stdin; gzip/bzip2/xz; rotated sets oldest first."""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import lzma
import os
import re
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, cast

from aaprof.errors import AaprofError
from aaprof.logs.kmsg import drain

_MAGIC: Final = (
    (b"\x1f\x8b", gzip.open),
    (b"BZh", bz2.open),
    (b"\xfd7zXZ\x00", lzma.open),
)
# The magic bytes of the compressed formats open_input reads.
COMPRESSED_MAGIC: Final = tuple(magic for magic, _ in _MAGIC)
# `audit.log.3.gz` -> ("audit.log", 3); `kern.log.1` -> ("kern.log", 1); `syslog` -> ("syslog", 0)
_ROTATED: Final = re.compile(r"^(?P<base>.+?)(?:[.-](?P<n>\d{1,4}))?(?P<ext>\.(?:gz|bz2|xz))?$")
# Parts of a journal directory; read through systemd's reader, not as text.
JOURNAL_SUFFIXES: Final = (".journal", ".journal~")


@dataclass(frozen=True, slots=True)
class Input:
    """One thing to read: a path, `-` for stdin, or a journal file/directory."""

    name: str
    journal: bool = False


def _rotation_key(path: str) -> tuple[str, int, str]:
    """Sort key that puts a rotated set oldest first: `x.3.gz`, `x.2`, `x.1`, `x`."""
    directory, _, filename = path.rpartition("/")
    m = _ROTATED.match(filename)
    assert m is not None  # the pattern matches any non-empty name
    base, n = m.group("base"), m.group("n")
    if n is None and m.group("ext") is None:
        base = filename
    # Dated rotation (`syslog-20240101`) sorts by its date, ascending: oldest first.
    if n is not None and len(n) == 4:
        return (f"{directory}/{base}", -int(n), filename)
    return (f"{directory}/{base}", int(n) if n is not None else 0, filename)


def order_rotated(paths: list[str]) -> list[str]:
    """Paths grouped by rotated set, each set oldest first, sets in name order."""

    def key(path: str) -> tuple[str, int, str]:
        base, number, _ = _rotation_key(path)
        return base, -number, path

    return sorted(paths, key=key)


def expand(specs: list[str], missing_ok: bool = False) -> list[Input]:
    """The inputs named on the command line: directories walked, globs expanded, sets ordered.

    When no named file exists, that is an error before anything is read, so a command prints
    nothing but it (no table header, no empty summary); unless `missing_ok` (files followed
    before they exist). A missing file among others that exist is reported once those are read.

    Raises:
        AaprofError: a glob that matches nothing, or no named file exists (the first named).
    """
    inputs: list[Input] = []
    for spec in specs:
        if spec == "-":
            inputs.append(Input("-"))
            continue
        path = Path(spec)
        if path.is_dir():
            if any(path.glob("*.journal")) or any(path.glob("*/*.journal")):
                inputs.append(Input(spec, journal=True))
                continue
            files = [str(p) for p in path.rglob("*") if p.is_file()]
            inputs.extend(_files(order_rotated(files)))
        elif glob.has_magic(spec) and not path.exists():
            matches = [m for m in glob.glob(spec, recursive=True) if Path(m).is_file()]
            if not matches:
                raise AaprofError(f"{spec}: no file matches this pattern")
            inputs.extend(_files(order_rotated(matches)))
        else:
            inputs.extend(_files([spec]))
    named = [i.name for i in inputs if i.name != "-"]
    nothing = named and len(named) == len(inputs) and not any(map(os.path.exists, named))
    if nothing and not missing_ok:
        raise AaprofError(f"{named[0]}: no such file")
    return _reorder_sets(inputs)


def _files(paths: list[str]) -> list[Input]:
    return [Input(p, journal=p.endswith(JOURNAL_SUFFIXES)) for p in paths]


def _reorder_sets(inputs: list[Input]) -> list[Input]:
    """Text files each once, rotated sets oldest first (`kern.log*` from a shell is newest
    first), then stdin and journals."""
    texts = order_rotated([i.name for i in inputs if not i.journal and i.name != "-"])
    others = [i for i in inputs if i.journal or i.name == "-"]
    return [Input(name) for name in dict.fromkeys(texts)] + others


def open_input(name: str) -> BinaryIO:
    """A binary stream of a log's text, decompressed if it is gzip, bzip2 or xz.

    Raises:
        AaprofError: the file is missing, unreadable, or not text (named in the message).
    """
    if name != "-" and is_char_device(name):
        return _drain_device(name)
    try:
        raw: Any = sys.stdin.buffer if name == "-" else io.FileIO(name, "rb")
    except FileNotFoundError:
        raise AaprofError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise AaprofError(f"{name}: is a directory") from None
    except OSError as exc:
        raise AaprofError(f"{name}: cannot read: {exc.strerror}") from None
    buffered: Any = raw if hasattr(raw, "peek") else io.BufferedReader(raw, 1 << 16)
    head = _peek(buffered, name, 8)
    for magic, opener in _MAGIC:
        if head.startswith(magic):
            inner: Any = io.BufferedReader(opener(buffered), buffer_size=1 << 16)
            return _checked_text(inner, name)
    return _checked_text(buffered, name)


def is_char_device(name: str) -> bool:
    """Whether `name` is a character device (/dev/kmsg: read by logs.kmsg, not as a file)."""
    try:
        return stat.S_ISCHR(os.stat(name).st_mode)
    except OSError:
        return False


def _drain_device(name: str) -> BinaryIO:
    """What a character device such as /dev/kmsg holds now, without waiting for more, read by
    the one kmsg reader (logs.kmsg: following it is `aaprof watch`'s job). Records the ring
    buffer overwrote while reading are counted in the stream's `lost` (the reader's
    `ReadStats`)."""
    lines, lost = drain(name)
    drained = _Drained(b"".join(lines))
    drained.lost = lost
    return drained


class _Drained(io.BytesIO):
    """A device's text, read; `lost` counts the records it overwrote meanwhile."""

    lost: int = 0


def _peek(stream: Any, name: str, size: int) -> bytes:
    try:
        return bytes(stream.peek(size)[:size])
    except (OSError, EOFError, lzma.LZMAError) as exc:
        stream.close()
        raise AaprofError(f"{name}: cannot read: {exc}") from None


# What a file is, by its first bytes, when it is not a text log aaprof can read.
_NOT_TEXT: Final = (
    (b"LPKSHHRH", "a systemd journal file (read it with --journal, or give its directory)"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive (decompress it first: zstd -d)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"Rar!", "a rar archive"),
    (b"\x7fELF", "an executable"),
)


def _checked_text(stream: Any, name: str) -> BinaryIO:
    """The stream, after checking what the file is (a journal or an archive is not a log).

    A file is not refused for what a line holds: NUL runs (what an unclean shutdown leaves in a
    syslog file) and bytes that are not UTF-8 are read, or counted as unparsed, line by line.
    """
    head = _peek(stream, name, 512)
    for magic, what in _NOT_TEXT:
        if head.startswith(magic):
            stream.close()
            raise AaprofError(f"{name}: not a text log: {what}")
    if head[257:262] == b"ustar":
        stream.close()
        raise AaprofError(f"{name}: not a text log: a tar archive (extract it first)")
    return cast(BinaryIO, stream)


class Continuations:
    """Joins a USER_AVC record that dbus-daemon split over two physical lines.

    dbus-daemon writes a newline inside its audit message, so in text logs the record's tail
    (`exe=... terminal=?'`) stands, indented, on the next line. Feed lines in order to `push`;
    it gives back the lines to parse, whole.
    """

    __slots__ = ("held", "joined")

    def __init__(self) -> None:
        self.held: tuple[int, bytes] | None = None
        self.joined = 0  # how many pairs of physical lines were given back as one

    def push(self, number: int, line: bytes) -> list[tuple[int, bytes]]:
        held, self.held = self.held, None
        if held is not None and line[:1] in {b" ", b"\t"}:
            self.joined += 1
            return [(held[0], held[1].rstrip(b"\r\n") + b" " + line.strip())]
        out = [held] if held is not None else []
        start = line.find(b"msg='")
        if start >= 0 and line.find(b"'", start + 5) < 0:
            self.held = (number, line)
        else:
            out.append((number, line))
        return out

    def flush(self) -> list[tuple[int, bytes]]:
        held, self.held = self.held, None
        return [held] if held is not None else []


def iter_lines(
    stream: BinaryIO, name: str, joiner: Continuations | None = None
) -> Iterator[tuple[int, bytes]]:
    """(line number, line) pairs, with split USER_AVC records joined (see Continuations).

    Raises:
        AaprofError: the stream fails part-way (a truncated archive, an I/O error).
    """
    joiner = joiner or Continuations()
    number = 0
    try:
        for number, line in enumerate(stream, 1):
            if b"msg='" in line or joiner.held is not None:
                yield from joiner.push(number, line)
            else:
                yield number, line
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise AaprofError(f"{name}: read failed after line {number}: {exc}") from None
    yield from joiner.flush()
