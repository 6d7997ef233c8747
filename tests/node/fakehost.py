"""Fixture host trees for `aaprof node`: /proc, /sys and securityfs as plain files.

`KernelDouble` stands in for the kernel's `.replace`/`.remove` where a unit test needs a load
to take effect; the real kernel's behaviour is tested in tests/vm/test_node_load.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aaprof.node.host import Host

SECURITYFS = "sys/kernel/security"


def make_root(
    root: Path,
    profiles: Mapping[str, str] = {},
    *,
    enabled: str | None = "Y",
    securityfs: bool = True,
    labels: Mapping[int, str] = {},
) -> Path:
    """A host tree: AppArmor's parameter, /proc/mounts, securityfs, processes' labels."""
    (root / "proc").mkdir(parents=True, exist_ok=True)
    mounts = "proc /proc proc rw 0 0\n"
    if securityfs:
        mounts += "securityfs /sys/kernel/security securityfs rw,nosuid 0 0\n"
        aa = root / SECURITYFS / "apparmor"
        (aa / "features" / "file").mkdir(parents=True)
        (aa / "features" / "domain").mkdir()
        (aa / ".replace").write_bytes(b"")
        (aa / ".remove").write_bytes(b"")
        write_profiles(root, profiles)
    (root / "proc" / "mounts").write_text(mounts)
    if enabled is not None:
        param = root / "sys/module/apparmor/parameters"
        param.mkdir(parents=True)
        (param / "enabled").write_text(f"{enabled}\n")
    for pid, label in labels.items():
        attr = root / "proc" / str(pid) / "attr"
        attr.mkdir(parents=True)
        (attr / "current").write_text(f"{label}\n")
    return root


def write_profiles(root: Path, profiles: Mapping[str, str]) -> None:
    text = "".join(f"{n} ({m})\n" for n, m in profiles.items())
    (root / SECURITYFS / "apparmor" / "profiles").write_text(text)


@dataclass(frozen=True, slots=True)
class KernelDouble(Host):
    """A host whose `.replace` loads the known names a compiled policy holds (in `mode`), and
    whose `.remove` unloads a name, by rewriting the fixture's profile list."""

    names: tuple[str, ...] = ()
    mode: str = "enforce"

    def replace(self, policy: bytes) -> None:
        Host.replace(self, policy)
        now = self.loaded()
        for name in self.names:
            if name.encode() + b"\x00" in policy:
                now[name] = self.mode
        write_profiles(self.root, now)

    def remove(self, name: str) -> None:
        Host.remove(self, name)
        now = {
            n: m for n, m in self.loaded().items() if n != name and not n.startswith(name + "//")
        }
        write_profiles(self.root, now)


def profile_text(name: str, rules: Iterable[str] = ("/tmp/** r,",)) -> str:
    body = "".join(f"  {r}\n" for r in rules)
    return f"profile {name} {{\n{body}}}\n"
