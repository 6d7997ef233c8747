"""A writer for the `newc` cpio format the kernel unpacks as an initramfs."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True, slots=True)
class _Entry:
    mode: int
    data: bytes


class Archive:
    """An initramfs being assembled: paths are absolute, parents are added as needed.

    Timestamps and owners are fixed (0, root), so the same inputs give the same bytes, which
    is what the cache key hashes.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        """Add a directory (and its parents)."""
        p = PurePosixPath(path)
        for parent in reversed(p.parents):
            if str(parent) != "/" and str(parent) not in self._entries:
                self._entries[str(parent)] = _Entry(stat.S_IFDIR | 0o755, b"")
        if path not in self._entries:
            self._entries[path] = _Entry(stat.S_IFDIR | mode, b"")

    def add_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Add a regular file; a later add of the same path replaces it."""
        self.add_dir(str(PurePosixPath(path).parent))
        self._entries[path] = _Entry(stat.S_IFREG | mode, data)

    def add_symlink(self, path: str, target: str) -> None:
        """Add a symbolic link to `target`."""
        self.add_dir(str(PurePosixPath(path).parent))
        self._entries[path] = _Entry(stat.S_IFLNK | 0o777, target.encode())

    def add_tree(self, root: Path, dest: str) -> None:
        """Add the host directory `root` at `dest`, keeping symlinks as symlinks."""
        self.add_dir(dest)
        for p in sorted(root.rglob("*")):
            target = f"{dest}/{p.relative_to(root).as_posix()}"
            if p.is_symlink():
                self.add_symlink(target, str(p.readlink()))
            elif p.is_dir():
                self.add_dir(target)
            else:
                self.add_file(target, p.read_bytes(), stat.S_IMODE(p.stat().st_mode))

    def to_bytes(self) -> bytes:
        """The archive in newc format, trailer included."""
        out = bytearray()
        for ino, (path, entry) in enumerate(self._entries.items(), start=1):
            _append(out, ino, path.lstrip("/"), entry.mode, entry.data)
        _append(out, 0, "TRAILER!!!", 0, b"")
        return bytes(out)


def _append(out: bytearray, ino: int, name: str, mode: int, data: bytes) -> None:
    raw = name.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(mode) else 1
    fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(raw), 0)
    out += b"070701" + b"".join(b"%08X" % f for f in fields) + raw
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
