"""`aaprof node check`: the node's AppArmor prerequisites, and whether pods' profiles are loaded.

The kubelet no longer checks that a Localhost profile is loaded (the runtime fails later); this
is that pre-flight. Each finding is `ok`, `warning` or `problem`; any problem makes the check
fail (exit 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aaprof.errors import AaprofError
from aaprof.node.host import Host
from aaprof.node.pods import profile_refs, read_manifests

OK, WARNING, PROBLEM = "ok", "warning", "problem"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check: what, its level, and what was found."""

    check: str
    level: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "level": self.level, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class NodeReport:
    """The findings, and the loaded profiles with their modes."""

    findings: tuple[Finding, ...]
    profiles: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return all(f.level != PROBLEM for f in self.findings)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "findings": [f.to_dict() for f in self.findings],
            "profiles": [{"name": n, "mode": m} for n, m in self.profiles],
        }


def check_node(host: Host, pods: Sequence[Path] = ()) -> NodeReport:
    """Check the host, and the profiles the manifests in `pods` name.

    Raises:
        AaprofError: a manifest cannot be read.
    """
    manifests = [(path, read_manifests(path)) for path in pods]
    findings: list[Finding] = []
    enabled = host.apparmor_enabled()
    if enabled is None:
        findings.append(Finding("kernel", PROBLEM, "AppArmor is not built into this kernel"))
    else:
        state = "enabled" if enabled else "disabled (apparmor=0 on the kernel command line?)"
        findings.append(Finding("kernel", OK if enabled else PROBLEM, f"AppArmor {state}"))
    mount = host.securityfs()
    loaded: dict[str, str] = {}
    if mount is None:
        findings.append(Finding("securityfs", PROBLEM, "not mounted (see /proc/mounts)"))
    else:
        try:
            loaded = host.loaded()
            findings.append(Finding("securityfs", OK, f"mounted at {mount}"))
            modes: dict[str, int] = {}
            for mode in loaded.values():
                modes[mode] = modes.get(mode, 0) + 1
            summary = ", ".join(f"{n} {m}" for m, n in sorted(modes.items())) or "none"
            findings.append(Finding("profiles", OK, f"{len(loaded)} loaded ({summary})"))
        except AaprofError as exc:
            findings.append(Finding("securityfs", PROBLEM, str(exc)))
    features = host.features()
    findings.append(
        Finding(
            "features",
            OK if features else WARNING,
            " ".join(features) if features else "the kernel shows no feature ABI",
        )
    )
    findings.append(_parser())
    runtimes = host.runtimes()
    findings.append(
        Finding(
            "runtime",
            OK if runtimes else WARNING,
            ", ".join(runtimes) if runtimes else "no container runtime found",
        )
    )
    for path, objects in manifests:
        for obj in objects:
            for ref in profile_refs(obj, str(path)):
                findings.append(_pod_finding(ref.where, ref.kind, ref.name, path, loaded))
    return NodeReport(tuple(findings), tuple(sorted(loaded.items())))


def _parser() -> Finding:
    from aaprof.profiles.compile import parser_version

    try:
        return Finding("apparmor_parser", OK, parser_version())
    except AaprofError as exc:
        return Finding("apparmor_parser", WARNING, str(exc))


def _pod_finding(where: str, kind: str, name: str, path: Path, loaded: dict[str, str]) -> Finding:
    check = f"pod {path}: {where}"
    if kind == "Localhost":
        if not name:
            return Finding(check, PROBLEM, "Localhost with no profile name")
        if name not in loaded:
            return Finding(check, PROBLEM, f"profile {name!r} is not loaded on this node")
        return Finding(check, OK, f"profile {name!r} loaded ({loaded[name]})")
    if kind == "Unconfined":
        return Finding(check, WARNING, "Unconfined: runs without AppArmor")
    if kind == "RuntimeDefault":
        return Finding(check, OK, "RuntimeDefault: the runtime's own profile")
    return Finding(check, PROBLEM, f"unknown AppArmor profile type {kind!r}")
