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
from aaprof.node.cri import (
    DEFAULT_SOCKETS,
    DEFAULT_TIMEOUT,
    RuntimeReport,
    find_socket,
    read_report,
)
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
class CriQuery:
    """Where to ask the runtime for its report: `sockets` in order, the first that exists.

    `sockets` None: the runtimes' default sockets below the host's root. A socket the user
    named (`explicit`) that cannot be asked is a problem; a default one, a warning.
    """

    sockets: tuple[Path, ...] | None = None
    timeout: float = DEFAULT_TIMEOUT

    @property
    def explicit(self) -> bool:
        return self.sockets is not None


@dataclass(frozen=True, slots=True)
class NodeReport:
    """The findings, the loaded profiles with their modes, and the runtime's own report."""

    findings: tuple[Finding, ...]
    profiles: tuple[tuple[str, str], ...]
    runtime: RuntimeReport | None = None

    @property
    def ok(self) -> bool:
        return all(f.level != PROBLEM for f in self.findings)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "findings": [f.to_dict() for f in self.findings],
            "profiles": [{"name": n, "mode": m} for n, m in self.profiles],
            "runtime": self.runtime.to_dict() if self.runtime is not None else None,
        }


def check_node(host: Host, pods: Sequence[Path] = (), cri: CriQuery | None = None) -> NodeReport:
    """Check the host, the runtime's report over the CRI (unless `cri` is None), and the profiles
    the manifests in `pods` name.

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
    report: RuntimeReport | None = None
    if cri is not None:
        report, found = _runtime_report(host, cri, enabled, loaded)
        findings.extend(found)
    refuses = _refusal(host, report)
    for path, objects in manifests:
        for obj in objects:
            for ref in profile_refs(obj, str(path)):
                finding = _pod_finding(ref.where, ref.kind, ref.name, path, loaded)
                if refuses and report is not None and ref.kind in ("Localhost", "RuntimeDefault"):
                    finding = Finding(
                        finding.check,
                        PROBLEM,
                        f"{finding.detail}, but {report.name or 'the runtime'} will refuse to "
                        f"create the container ('apparmor is not supported'): {refuses}",
                    )
                findings.append(finding)
    return NodeReport(tuple(findings), tuple(sorted(loaded.items())), report)


def _runtime_report(
    host: Host, cri: CriQuery, enabled: bool | None, loaded: dict[str, str]
) -> tuple[RuntimeReport | None, list[Finding]]:
    """The runtime's report and what it says: the `cri` finding and the `runtime apparmor` one."""
    candidates = cri.sockets or tuple(host.path(s) for s in DEFAULT_SOCKETS)
    failed = PROBLEM if cri.explicit else WARNING
    socket = find_socket(candidates)
    if socket is None:
        tried = ", ".join(str(p) for p in candidates)
        return None, [
            Finding("cri", failed, f"no CRI socket at {tried}: the runtime's report is not read")
        ]
    try:
        report = read_report(socket, cri.timeout)
    except AaprofError as exc:
        return None, [Finding("cri", failed, str(exc))]
    states = ", ".join(
        c.type if c.status else f"{c.type}=false" + (f" ({c.reason})" if c.reason else "")
        for c in report.conditions
    )
    runtime_ready = next((c for c in report.conditions if c.type == "RuntimeReady"), None)
    who = f"{report.name} {report.version} (CRI {report.api_version}) at {report.socket}"
    findings = [
        Finding(
            "cri",
            OK if runtime_ready is not None and runtime_ready.status else WARNING,
            f"{who}: {states or 'no conditions'}",
        )
    ]
    findings.append(_runtime_apparmor(host, report, enabled, loaded))
    return report, findings


def _runtime_apparmor(
    host: Host, report: RuntimeReport, enabled: bool | None, loaded: dict[str, str]
) -> Finding:
    """What the runtime does with AppArmor, from its settings and the host's facts."""
    check = "runtime apparmor"
    name = report.name or "the runtime"
    if report.disable_apparmor is None:
        return Finding(
            check,
            WARNING,
            f"{name} does not report its AppArmor settings as containerd does (disableApparmor "
            "in its verbose status's config)",
        )
    refuses = _refusal(host, report)
    if refuses:
        return Finding(
            check,
            PROBLEM,
            f"{refuses}: {name} confines no container, and refuses to create one whose pod names "
            "a Localhost or RuntimeDefault profile ('apparmor is not supported')",
        )
    if not enabled:
        return Finding(
            check,
            PROBLEM,
            f"disableApparmor: false, but the kernel has AppArmor off (above): {name} applies "
            "no profile (and the kubelet refuses a pod that names one)",
        )
    detail = "disableApparmor: false"
    profile = report.default_profile
    if profile is not None:
        state = (
            f"loaded ({loaded[profile]})"
            if profile in loaded
            else "not loaded yet: the runtime loads it when a container first asks for it"
        )
        detail += f"; RuntimeDefault is {profile!r}, {state}"
    return Finding(check, OK, f"{name} applies AppArmor profiles ({detail})")


def _refusal(host: Host, report: RuntimeReport | None) -> str:
    """Why the runtime will refuse a container whose pod names a profile that the kubelet
    admits ('': it will not). containerd refuses one ('apparmor is not supported') when its
    configuration disables AppArmor, or when its own test of the host (pkg/apparmor: securityfs's
    apparmor/, `/sbin/apparmor_parser`, the module's enabled = Y) fails where the kubelet's (the
    kernel's two) passes: that is, without /sbin/apparmor_parser."""
    if report is None:
        return ""
    if report.disable_apparmor:
        return "AppArmor is disabled in its configuration (disableApparmor: true)"
    if (
        report.name == "containerd"
        and report.disable_apparmor is False
        and host.apparmor_enabled()
        and not host.path("sbin/apparmor_parser").exists()
    ):
        return "there is no /sbin/apparmor_parser, which containerd takes for no AppArmor"
    return ""


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
