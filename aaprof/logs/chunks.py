"""Reading a text log a chunk at a time: the lines that may hold a record, and nothing else.

Noise lines (most of a kern.log, the SYSCALL and PROCTITLE records of an audit.log) cost no
Python code: a chunk of about 1 MiB is searched for the marks of a record (`bytescan`: memmem, or
`bytes.find` in pure Python), and
only the lines holding one are handed out, with their line numbers; a USER_AVC record that
dbus-daemon split over two lines is joined, across a chunk boundary too.
"""

from __future__ import annotations

import io
import lzma
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

from aaprof.errors import AaprofError
from aaprof.logs import bytescan

CHUNK = 1 << 20
# What parse_line looks for before it reads a line (`is_apparmor`, and JSON).
MARKS: Final = (b"apparmor=", b"type=APPARMOR", b"type=150", b"UNKNOWN[150", b"{")


@dataclass(slots=True)
class Progress:
    """Physical lines and bytes read so far."""

    lines: int = 0
    bytes_read: int = 0


def record_lines(
    stream: BinaryIO,
    name: str,
    done: Progress,
    progress: Callable[[int], None] | None = None,
    end: int | None = None,
) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for each line that may hold a record, split USER_AVC lines joined;
    up to byte `end` of the stream (a line start), or its end. The numbers follow `done.lines`.

    Raises:
        AaprofError: the stream fails part-way (named in the message).
    """
    try:
        yield from _record_lines(stream, name, done, progress, end)
    except ReadFailed as failed:
        raise ReadFailed(failed.name, failed.reason, done.lines) from None


def _record_lines(
    stream: BinaryIO,
    name: str,
    done: Progress,
    progress: Callable[[int], None] | None,
    end: int | None,
) -> Iterator[tuple[int, bytes]]:
    held: tuple[int, bytes] | None = None
    for chunk, size in chunks(stream, name, end):
        start = 0
        if held is not None:
            if chunk[:1] in {b" ", b"\t"}:
                start = chunk.find(b"\n", 0, size) + 1 or size
                yield held[0], held[1].rstrip(b"\r\n") + b" " + chunk[:start].strip()
            else:
                yield held
            held = None
        # (the lines before this chunk's, and the continuation it starts with)
        before = done.lines + (newlines(chunk, 0, start) if start else 0)
        # the newlines of chunk[start:counted], from the marked lines: counted once, all told
        pos = counted = start
        gap = 0
        for gap, line_end, line in bytescan.marked_lines(chunk, MARKS, start, size):
            counted = line_end - len(line)
            if counted < pos:
                continue  # the continuation of a line just handed out
            number, pos = before + gap + 1, line_end
            if held_line(line):
                if line_end >= size:
                    held = (number, line)  # its continuation starts the next chunk
                    continue
                if chunk[line_end : line_end + 1] in {b" ", b"\t"}:
                    pos = chunk.find(b"\n", line_end, size) + 1 or size
                    yield number, line.rstrip(b"\r\n") + b" " + chunk[line_end:pos].strip()
                    continue
            yield number, line
        done.lines = before + gap + newlines(chunk, counted, size)
        done.lines += chunk[size - 1 : size] != b"\n"
        done.bytes_read += size
        if progress is not None:
            progress(done.bytes_read)
    if held is not None:
        yield held


def held_line(line: bytes) -> bool:
    """A USER_AVC line whose `msg='...'` dbus-daemon continued on the next line."""
    at = line.find(b"msg='")
    return at >= 0 and line.find(b"'", at + 5) < 0


def mark_positions(chunk: bytes, start: int, size: int, marks: tuple[bytes, ...]) -> list[int]:
    """Where `chunk[start:size]` holds a mark, in order (bytescan: no regex)."""
    return bytescan.positions(chunk, marks, start, size)


def newlines(chunk: bytes | bytearray | memoryview, start: int = 0, end: int | None = None) -> int:
    """How many newlines a buffer holds (the pieces of `chunks` have none after their size),
    or its part from `start` to `end`."""
    return bytescan.count(chunk, b"\n", start, len(chunk) if end is None else end)


def tell(stream: BinaryIO) -> int:
    """Bytes read so far, or 0 for a pipe."""
    try:
        return stream.tell()
    except OSError:
        return 0


class _Failed(Exception):
    """A read failed part-way: what it had read, and why."""

    def __init__(self, data: bytes, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.data = data


def _read(stream: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes (fewer only at the end); on a failure, what was read comes along."""
    if isinstance(stream, io.BufferedReader) and isinstance(stream.raw, io.FileIO):
        # A plain file: one read, into one buffer. (read1 returns the little that the last
        # readline() left buffered, then the rest: joining them copied every megabyte.)
        try:
            return stream.read(size)
        except OSError as exc:
            raise _Failed(b"", exc) from None
    parts: list[bytes] = []
    got = 0
    read1 = getattr(stream, "read1", stream.read)
    try:
        while got < size:
            part = read1(size - got)
            if not part:
                break
            parts.append(part)
            got += len(part)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise _Failed(b"".join(parts), exc) from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def chunks(stream: BinaryIO, name: str, end: int | None) -> Iterator[tuple[bytes, int]]:
    """(buffer, size): `buffer[:size]` is whole lines, about CHUNK bytes; up to byte `end`.

    A read that stops inside a line is completed with readline() and that line comes as a
    small buffer of its own, so no large buffer is ever copied (copies of fresh megabytes cost
    page faults, about as much here as scanning them). When a read fails part-way (a truncated
    archive), the whole lines read before the failure still come, then the error.

    Raises:
        AaprofError: the stream fails (named in the message).
    """
    left = -1 if end is None else end - tell(stream)
    try:
        while left:
            data = _read(stream, CHUNK if left < 0 else min(CHUNK, left))
            if not data:
                return
            if left > 0:
                left -= len(data)
            if data[-1:] == b"\n" or not left:
                yield data, len(data)
                continue
            cut = data.rfind(b"\n") + 1
            try:
                more = stream.readline()
            except (OSError, EOFError, lzma.LZMAError) as exc:
                raise _Failed(data, exc) from None
            if left > 0:
                left -= len(more)
            if cut:
                yield data, cut
            line = data[cut:] + more
            yield line, len(line)
    except _Failed as failed:
        cut = failed.data.rfind(b"\n") + 1
        if cut:
            yield failed.data, cut
        raise ReadFailed(name, str(failed)) from None


class ReadFailed(AaprofError):
    """A stream that failed part-way; the whole lines before the failure were handed out."""

    def __init__(self, name: str, reason: str, after_line: int | None = None) -> None:
        where = "" if after_line is None else f" after line {after_line}"
        super().__init__(f"{name}: read failed{where}: {reason}")
        self.name, self.reason = name, reason
