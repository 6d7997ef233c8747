"""The host as the kernel shows it, every path below a root directory (`/` on a real node).

AppArmor's kernel interface is securityfs: `<mount>/apparmor/profiles` lists the loaded
profiles as `NAME (MODE)` lines, `.replace` takes a compiled policy (one write), `.remove` takes
a profile name, `features/` is the kernel's feature ABI. securityfs is found through
`/proc/mounts`, as the kernel mounted it, not assumed at `/sys/kernel/security`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from aaprof.errors import AaprofError

ENABLED = "sys/module/apparmor/parameters/enabled"
MOUNTS = "proc/mounts"
# `NAME (MODE)`; a name may hold spaces and parentheses, the mode is the last parenthesised word
_PROFILE_LINE = re.compile(r"^(?P<name>.+) \((?P<mode>[a-z_]+)\)$")
# container runtimes: their sockets and binaries, as a kubelet's node would have them
RUNTIME_SOCKETS = (
    ("containerd", "run/containerd/containerd.sock"),
    ("cri-o", "run/crio/crio.sock"),
    ("cri-dockerd", "run/cri-dockerd.sock"),
)
RUNTIME_BINARIES = ("runc", "crun", "containerd", "crio")
_BIN_DIRS = ("usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin")


@dataclass(frozen=True, slots=True)
class Host:
    """A host's kernel interfaces below `root`."""

    root: Path = Path("/")

    def path(self, absolute: str) -> Path:
        """A host path (absolute or relative to the host's `/`) below the root."""
        return self.root / absolute.lstrip("/")

    def apparmor_enabled(self) -> bool | None:
        """The kernel module's `enabled` parameter: True for `Y`, None when it is missing."""
        try:
            return self.path(ENABLED).read_text().strip() == "Y"
        except OSError:
            return None

    def securityfs(self) -> Path | None:
        """Where securityfs is mounted (the host's path, not below the root), from /proc/mounts."""
        try:
            text = self.path(MOUNTS).read_text()
        except OSError:
            return None
        for line in text.splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2] == "securityfs":
                return Path(_unescape_mount(fields[1]))
        return None

    def apparmorfs(self) -> Path:
        """The AppArmor directory of securityfs, below the root.

        Raises:
            AaprofError: securityfs is not mounted, or has no AppArmor directory.
        """
        mount = self.securityfs()
        if mount is None:
            raise AaprofError(f"securityfs is not mounted (no securityfs in {self.path(MOUNTS)})")
        directory = self.path(str(mount)) / "apparmor"
        if not directory.is_dir():
            raise AaprofError(f"{directory} is missing: AppArmor is not enabled in this kernel")
        return directory

    def loaded(self) -> dict[str, str]:
        """The loaded profiles: name → mode (`enforce`, `complain`, `kill`, `unconfined`, ...).

        Raises:
            AaprofError: securityfs or its profile list cannot be read.
        """
        listing = self.apparmorfs() / "profiles"
        try:
            text = listing.read_bytes().decode("utf-8", "surrogateescape")
        except OSError as exc:
            raise AaprofError(f"cannot read {listing}: {exc.strerror}") from None
        out: dict[str, str] = {}
        for line in text.splitlines():
            found = _PROFILE_LINE.match(line)
            if found:
                out[found["name"]] = found["mode"]
        return out

    def features(self) -> tuple[str, ...]:
        """The kernel's feature ABI: the top-level entries of `apparmor/features`, sorted."""
        try:
            directory = self.apparmorfs() / "features"
            return tuple(sorted(p.name for p in directory.iterdir()))
        except (AaprofError, OSError):
            return ()

    def replace(self, policy: bytes) -> None:
        """Load compiled policy, replacing profiles of the same names (one write to `.replace`).

        Raises:
            AaprofError: the kernel refused it.
        """
        self._write(self.apparmorfs() / ".replace", policy)

    def remove(self, name: str) -> None:
        """Unload one profile by name (a write to `.remove`).

        Raises:
            AaprofError: the kernel refused it (the profile is not loaded, say).
        """
        self._write(self.apparmorfs() / ".remove", name.encode("utf-8", "surrogateescape"))

    def labels(self) -> dict[int, str]:
        """Every process's AppArmor label (`/proc/PID/attr/current`): pid → label.

        Processes that exit while being read, and kernel threads with no label, are left out.
        """
        out: dict[int, str] = {}
        try:
            entries = list(os.scandir(self.path("proc")))
        except OSError:
            return out
        for entry in entries:
            if not entry.name.isdigit():
                continue
            for attr in ("attr/apparmor/current", "attr/current"):
                try:
                    raw = Path(entry.path, attr).read_bytes()
                except OSError:
                    continue
                label = raw.rstrip(b"\x00\n").decode("utf-8", "surrogateescape")
                if label:
                    out[int(entry.name)] = label
                break
        return out

    def runtimes(self) -> tuple[str, ...]:
        """The container runtimes found: their sockets (`containerd (socket)`) and binaries."""
        found = [f"{name} (/{sock})" for name, sock in RUNTIME_SOCKETS if self.path(sock).exists()]
        for binary in RUNTIME_BINARIES:
            for directory in _BIN_DIRS:
                if self.path(f"{directory}/{binary}").is_file():
                    found.append(f"{binary} (/{directory}/{binary})")
                    break
        return tuple(found)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError as exc:
            raise AaprofError(f"cannot open {path}: {exc.strerror}") from None
        try:
            written = os.write(fd, data)
        except OSError as exc:
            raise AaprofError(f"{path}: the kernel refused it: {exc.strerror}") from None
        finally:
            os.close(fd)
        if written != len(data):
            raise AaprofError(f"{path}: short write ({written} of {len(data)} bytes)")


def profiles_of_label(label: str) -> tuple[str, ...]:
    """The profile names a label confines by: `a//b (enforce)` → a, a//b; stacks split at `//&`.

    `unconfined` confines by none.
    """
    text = label.strip()
    found = re.match(r"^(?P<body>.*) \([a-z_]+\)$", text)
    body = found["body"] if found else text
    out: list[str] = []
    for raw in body.split("//&"):
        part = raw.strip().removeprefix(":").strip()
        if not part or part == "unconfined":
            continue
        pieces = part.split("//")
        out.extend("//".join(pieces[: i + 1]) for i in range(len(pieces)))
    return tuple(out)


def _unescape_mount(field: str) -> str:
    """A /proc/mounts field with its octal escapes (`\\040` for a space) decoded."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)
