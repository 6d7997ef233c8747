"""Log files followed across rotation (create and copytruncate) and truncation, with
checkpoints: the one file follower of `aaprof events --follow` (through `logs.live.follow`) and
`aaprof watch` (`FollowedFile` is a `logs.live.Source`).

A file is followed by name. Only complete lines are given; a line still being written waits for
its newline. A renamed-away file (create rotation) is read to its end and read on while its
writer may still write there (RETIRED_POLLS idle polls), its lines under the name it was
followed by; the new file of that name is read from its start. A file found shorter than the
offset, or with other bytes before it, was truncated: copytruncate's copy (`name.1`, ...) is
found by the tail and read on from the offset first, then the file from its start.

The checkpoint names every file still being read by device + inode, the byte offset after the
last complete line taken, and that line (the "tail": its stamp and serial make it one of a
kind). On restore the file's rotated siblings (`name.1`, `name-20240101`, ...; not compressed
ones) are searched for those inodes, the tail is checked (an inode can be reused), and each is
read on from its offset; files newer than the newest known one were created while the follower
was down and are read from their start. A checkpointed file found by neither its device nor
its inode (a restore, a copy, device numbers that change across reboots on overlay, btrfs or
network filesystems), or whose offset no longer falls after its tail, is recognised by content:
the file holding the tail at the offset, else the tail as a whole line anywhere in a file
(`find_line`), is read on after it, with a note. Where no file holds it, the file at the name
is read from its start, and the lines of its first `offset` bytes (which may have been read
before) are counted as re-read (PLACE_NOT_FOUND), with a note: never silently.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from aaprof.logs.live import AUDIT_LOST, PLACE_NOT_FOUND, ROTATION_GAP, Raw
from aaprof.logs.sources import order_rotated
from aaprof.model.event import SourceRef

# The error of a line over CHUNK bytes (no logger writes one): skipped whole.
OVERLONG = "line over 256 KiB"
# Bytes read at a time when a file is searched for a line, or its lines counted.
SEARCH_CHUNK = 1 << 20


# The tail kept is the last line taken (its stamp and serial make it unique), at most this long:
# a fixed number of bytes would be the same in every line of a log of one kind of record.
TAIL = 4096
CHUNK = 1 << 18
# Idle polls a renamed-away file is still read: its writer may not have reopened its log yet.
RETIRED_POLLS = 40
_COMPRESSED = re.compile(r".*\.(gz|xz|bz2|zst|lz4|Z)")


@dataclass(slots=True)
class _Open:
    path: str
    fd: int
    dev: int
    ino: int
    offset: int = 0
    line: int = 0
    tail: bytes = b""
    idle: int = 0
    final: bool = False  # a copytruncate copy: it does not grow, drop it at its end
    seen: int = 0  # the file's size as last read: bytes past `offset` there are not yet taken
    full: bool = False  # the last read got all it asked for: there may be more
    skipping: bool = False  # inside a line over CHUNK bytes: dropped up to its newline

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "dev": self.dev,
            "ino": self.ino,
            "offset": self.offset,
            "line": self.line,
            "tail": self.tail.hex(),
            "seen": self.seen,
            "skipping": self.skipping,
        }

    def matches(self, offset: int, tail: bytes) -> bool:
        """Whether this file holds `tail` just before `offset`."""
        if offset < len(tail):
            return False
        return os.pread(self.fd, len(tail), offset - len(tail)) == tail

    def find(self, tail: bytes) -> int | None:
        """The offset after `tail` as a whole line in this file (its first such place)."""
        return find_line(self.fd, tail) if tail.endswith(b"\n") else None

    def read(self, out: list[Raw], budget: int) -> int:
        """Append complete lines after `offset` (about `budget` bytes); the bytes taken."""
        size = min(budget, CHUNK)
        data = os.pread(self.fd, size, self.offset)
        self.full = len(data) == size
        self.seen = max(self.seen, self.offset + len(data))
        end = data.rfind(b"\n") + 1
        if end == 0:
            if size < CHUNK or len(data) < CHUNK:
                return 0  # a line still being written
            # A line longer than CHUNK (no logger writes one): skipped whole, counted as an error.
            if not self.skipping:
                self.line += 1
                out.append(Raw(b"", SourceRef(self.path, self.line), OVERLONG))
            self.skipping = True
            self.offset += len(data)
            self.tail = data[-TAIL:]
            return len(data)
        start = 0
        if self.skipping:  # the rest of an over-long line
            start = data.index(b"\n") + 1
            self.skipping = False
        while start < end:
            stop = data.index(b"\n", start) + 1
            self.line += 1
            out.append(Raw(data[start:stop], SourceRef(self.path, self.line)))
            start = stop
        self.offset += end
        last = data.rfind(b"\n", 0, end - 1) + 1
        self.tail = data[last:end][-TAIL:]  # reads start at a line boundary: a whole line
        return end

    def close(self) -> None:
        os.close(self.fd)


def _open(path: str) -> _Open | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    st = os.fstat(fd)
    return _Open(path, fd, st.st_dev, st.st_ino)


def family(path: str) -> list[str]:
    """`path` and its uncompressed rotated siblings, newest first (`x`, `x.1`, `x.2`)."""
    directory, _, base = path.rpartition("/")
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return [path]
    siblings = [
        f"{directory}/{n}" if directory else n
        for n in names
        if n != base and n.startswith((base + ".", base + "-")) and not _COMPRESSED.fullmatch(n)
    ]
    return [path, *reversed(order_rotated(siblings))]


@dataclass(slots=True)
class FollowedFile:
    """One log file by name, across rotation and truncation, with checkpoints (see the
    module's doc); a `logs.live.Source`: its lines are Raw records under the name it was
    followed by."""

    path: str
    retired_polls: int = RETIRED_POLLS
    current: _Open | None = None
    retired: list[_Open] = field(default_factory=list)
    lost: dict[str, int] = field(default_factory=dict)
    reread: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"file:{self.path}"

    @property
    def lost_reasons(self) -> tuple[str, ...]:
        return (ROTATION_GAP, AUDIT_LOST)

    def restore(self, checkpoint: dict[str, object] | None) -> None:
        self.close()
        entries = _entries(checkpoint)
        if not entries:
            self.current = _open(self.path)
            return
        opened = [f for f in (_open(p) for p in family(self.path)) if f is not None]
        found = self._place(opened, entries)
        newest_known = None
        keep: list[_Open] = []
        for index, f in enumerate(opened):
            entry = found.get(index)
            if entry is None:
                continue
            f.line, f.seen, f.skipping = entry.line, entry.seen, entry.skipping
            offset, tail = entry.offset, entry.tail
            if f.matches(offset, tail) or offset == 0:
                f.offset, f.tail = offset, tail
            elif (moved := f.find(tail)) is not None:
                f.offset, f.tail = moved, tail
                self.notes.append(
                    f"{f.path} no longer holds its last line taken at offset "
                    f"{offset}; found it at {moved}, read on from there"
                )
            else:  # truncated (copytruncate): its copy holds what was after the offset
                self._find_copy(opened, f, offset, tail, keep)
                f.line, f.seen = 0, 0
            keep.append(f)
            newest_known = index if newest_known is None else newest_known
        if newest_known is None:
            # None of the checkpointed files is left: what they held past the offsets is gone.
            unread = sum(max(e.seen - e.offset, 0) for e in entries)
            if unread:
                self._note_lost(ROTATION_GAP, 1)
                self.notes.append(
                    f"none of the checkpointed files is left: {unread} bytes seen but not "
                    f"read are lost (counted as 1 record lost, rotation_gap)"
                )
            newest_known = 1
            self._not_found(opened, entries)
        known = sorted(found)
        for index, f in enumerate(opened):
            newer = [j for j in known if j < index]
            if f in keep or index in found or not newer or known[-1] < index:
                continue
            if found[newer[-1]].offset == 0:
                # Between two followed files, so rotated in while watch was down: a copy of the
                # newer one (copytruncate; a create rotation would have moved that one), whose
                # place was its start: all of the copy is unread.
                f.final = True
                keep.append(f)
        for f in opened[:newest_known]:
            if f not in keep:
                keep.append(f)  # created while watch was down: read from the start
        for f in opened:
            if f not in keep:
                f.close()
        keep.sort(key=lambda f: -opened.index(f) if f in opened else 0)  # oldest first
        current_id = _identity(self.path)
        for f in keep:
            if (f.dev, f.ino) == current_id and f.path == self.path:
                self.current = f
            else:
                self.retired.append(f)
        if self.current is None:
            self.current = _open(self.path)

    def _place(self, opened: list[_Open], entries: list[_Entry]) -> dict[int, _Entry]:
        """Which checkpointed file each opened one is (by index): by device and inode, else
        (a restore, a copy, renumbered devices) by holding the last line taken."""
        found: dict[int, _Entry] = {}
        by_id = {(e.dev, e.ino): e for e in entries}
        for index, f in enumerate(opened):
            entry = by_id.get((f.dev, f.ino))
            if entry is not None:
                found[index] = entry
        for entry in entries:
            if entry in found.values() or not entry.tail:
                continue
            free = [(i, f) for i, f in enumerate(opened) if i not in found]
            hit = next(((i, f) for i, f in free if f.matches(entry.offset, entry.tail)), None)
            where = f"at offset {entry.offset}"
            if hit is None:
                for i, f in free:
                    moved = f.find(entry.tail)
                    if moved is not None:
                        hit, where = (i, f), f"at offset {moved} (not {entry.offset})"
                        entry.offset = moved
                        break
            if hit is None:
                continue
            found[hit[0]] = entry
            self.notes.append(
                f"{entry.path} (device {entry.dev}, inode {entry.ino}) is not "
                f"there; {hit[1].path} (device {hit[1].dev}, inode {hit[1].ino}) holds its last "
                f"line taken {where}: read on from there"
            )
        return found

    def _not_found(self, opened: list[_Open], entries: list[_Entry]) -> None:
        """No file holds a checkpointed place: the file at the name is read from its start, and
        the lines of its first `offset` bytes (which may have been read before) are counted."""
        if not opened or opened[0].path != self.path:
            return
        f = opened[0]
        offset = max((e.offset for e in entries if e.path == self.path), default=0)
        again = count_lines(f.fd, offset) if offset else 0
        if again:
            self._note_reread(PLACE_NOT_FOUND, again)
        self.notes.append(
            f"no file holds the checkpoint's last line (device, inode and content "
            f"changed); {self.path} is read from its start: {again} lines in its first "
            f"{offset} bytes may have been read before (counted as re-read)"
        )

    def _find_copy(
        self, opened: list[_Open], truncated: _Open, offset: int, tail: bytes, keep: list[_Open]
    ) -> None:
        if offset == 0:
            return
        for f in opened:
            if f is not truncated and f not in keep and f.matches(offset, tail):
                copy = _Open(f.path, os.dup(f.fd), f.dev, f.ino, offset, truncated.line, tail)
                copy.final = True
                self.retired.append(copy)
                return
        if truncated.seen > offset:
            # Bytes were there that were not read, and no copy holds them: known lost (their
            # number of records is not known: counted as one).
            self._note_lost(ROTATION_GAP, 1)
            self.notes.append(
                f"{truncated.path} was truncated with {truncated.seen - offset} bytes not read "
                f"yet and no copy holds them: lost (counted as 1 record lost, rotation_gap)"
            )

    def skip_to_end(self) -> None:
        """Start after what the file holds now (its last line is the tail)."""
        f = self.current
        if f is None:
            return
        size = os.fstat(f.fd).st_size
        before = os.pread(f.fd, min(size, TAIL), size - min(size, TAIL))
        f.offset = f.seen = size
        if before.endswith(b"\n"):
            f.tail = before[before.rfind(b"\n", 0, len(before) - 1) + 1 :]

    def poll(self, limit: int) -> list[Raw]:
        """Complete lines available now (about `limit` of them at most), oldest file first."""
        out: list[Raw] = []
        budget = max(limit, 1) * 512
        self._check_current()
        for f in list(self.retired):  # oldest first: older lines go out first
            want = min(budget - _size(out), CHUNK)
            if want <= 0:
                return out
            taken = f.read(out, want)
            if taken and f.full:
                return out  # more may follow: newer files wait for the next poll
            f.idle = 0 if taken else f.idle + 1
            if (f.final and not taken) or f.idle > self.retired_polls:
                self.retired.remove(f)
                f.close()
        want = min(budget - _size(out), CHUNK)
        if self.current is not None and want > 0:
            self.current.read(out, want)
        return out

    def _check_current(self) -> None:
        current = self.current
        if current is None:
            self.current = _open(self.path)
            return
        try:
            st = os.stat(self.path)
        except OSError:
            return  # renamed away, no successor yet: keep reading the old file
        if (st.st_dev, st.st_ino) != (current.dev, current.ino):
            # Rotated: the old file is read on (first, being older) until it stays idle.
            self.retired.append(current)
            self.current = _open(self.path)
            return
        if st.st_size < current.offset or not current.matches(current.offset, current.tail):
            opened = [f for f in (_open(p) for p in family(self.path)[1:]) if f is not None]
            self._find_copy(opened, current, current.offset, current.tail, [])
            for f in opened:
                f.close()
            current.offset, current.line, current.tail, current.seen = 0, 0, b"", 0

    def _note_lost(self, reason: str, count: int) -> None:
        self.lost[reason] = self.lost.get(reason, 0) + count

    def _note_reread(self, reason: str, count: int) -> None:
        self.reread[reason] = self.reread.get(reason, 0) + count

    def checkpoint(self) -> dict[str, object]:
        files = [f.to_dict() for f in self.retired]
        if self.current is not None:
            files.append(self.current.to_dict())
        return {"files": files}

    def take_lost(self) -> dict[str, int]:
        lost, self.lost = self.lost, {}
        return lost

    def take_reread(self) -> dict[str, int]:
        reread, self.reread = self.reread, {}
        return reread

    def take_notes(self) -> list[str]:
        notes, self.notes = self.notes, []
        return [f"{self.label}: {note}" for note in notes]

    def close(self) -> None:
        for f in self.retired:
            f.close()
        self.retired = []
        if self.current is not None:
            self.current.close()
            self.current = None


def _size(out: list[Raw]) -> int:
    return sum(len(line.data) for line in out)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


@dataclass(slots=True, eq=False)
class _Entry:
    """One file of a checkpoint."""

    path: str
    dev: int
    ino: int
    offset: int
    line: int
    tail: bytes
    seen: int
    skipping: bool


def _entries(checkpoint: dict[str, object] | None) -> list[_Entry]:
    """The files of a checkpoint; ValueError if it is not one a FollowedFile wrote."""
    files = (checkpoint or {}).get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise ValueError("'files' is not a list of objects")
    out = []
    for f in files:
        try:
            entry = _Entry(
                str(f["path"]),
                _number(f["dev"]),
                _number(f["ino"]),
                _number(f["offset"]),
                _number(f["line"]),
                bytes.fromhex(str(f["tail"])),
                _number(f.get("seen", 0)),
                f.get("skipping") is True,
            )
        except KeyError as exc:
            raise ValueError(f"a file has no {exc}") from None
        out.append(entry)
    return out


def _number(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{value!r} is not a count")
    return value


def find_line(fd: int, line: bytes) -> int | None:
    """The offset just after the first place `line` (ending in a newline) stands as a whole line
    in the file open on `fd` (at its start or after a newline); None if it does not.

    A follower's checkpoint keeps the last line it took: where the file's device, inode or the
    offset no longer match (a restore, a copy, renumbered devices), that line finds the place.
    """
    if not line.endswith(b"\n"):
        return None
    needle = b"\n" + line
    # The window keeps the newline before what is read next, so a line cut by a chunk's edge
    # is found whole in the next one.
    window, offset = b"\n", 0  # the file's start counts as after a newline
    while True:
        chunk = os.pread(fd, SEARCH_CHUNK, offset)
        window += chunk
        at = window.find(needle)
        if at >= 0:
            return offset - (len(window) - len(chunk)) + at + len(needle)
        if not chunk:
            return None
        offset += len(chunk)
        window = window[1 - len(needle) :]


def count_lines(fd: int, end: int) -> int:
    """The newlines in the file's first `end` bytes."""
    count, offset = 0, 0
    while offset < end:
        chunk = os.pread(fd, min(SEARCH_CHUNK, end - offset), offset)
        if not chunk:
            break
        count += chunk.count(b"\n")
        offset += len(chunk)
    return count
