"""A severity hint per rule: what a reviewer should look at twice, and why."""

from __future__ import annotations

import re

from aaprof.model import profile as m

HIGH = "high"
MEDIUM = "medium"

_CAPABILITIES = {
    "sys_admin": (HIGH, "capability sys_admin is close to root (mount, namespaces, bpf …)"),
    "sys_module": (HIGH, "capability sys_module loads kernel code"),
    "sys_rawio": (HIGH, "capability sys_rawio gives raw device and port I/O"),
    "sys_ptrace": (HIGH, "capability sys_ptrace traces any process"),
    "mac_admin": (HIGH, "capability mac_admin changes AppArmor policy"),
    "mac_override": (HIGH, "capability mac_override bypasses mandatory access control"),
    "bpf": (HIGH, "capability bpf loads eBPF programs"),
    "sys_boot": (HIGH, "capability sys_boot reboots the node"),
    "dac_override": (MEDIUM, "capability dac_override ignores file permissions"),
    "dac_read_search": (MEDIUM, "capability dac_read_search reads any file"),
    "net_admin": (MEDIUM, "capability net_admin reconfigures the network"),
    "net_raw": (MEDIUM, "capability net_raw crafts raw packets"),
    "setuid": (MEDIUM, "capability setuid changes user ids"),
    "setgid": (MEDIUM, "capability setgid changes group ids"),
    "setfcap": (MEDIUM, "capability setfcap grants file capabilities"),
    "chown": (MEDIUM, "capability chown changes file owners"),
    "fowner": (MEDIUM, "capability fowner ignores ownership checks"),
    "sys_chroot": (MEDIUM, "capability sys_chroot"),
    "mknod": (MEDIUM, "capability mknod creates device nodes"),
    "syslog": (MEDIUM, "capability syslog reads the kernel log"),
    "perfmon": (MEDIUM, "capability perfmon"),
}
# (pattern on the rule's path, letters that make it notable, severity, reason)
_PATHS = (
    (r"/proc/sys/.*", "wa", HIGH, "writes kernel parameters under /proc/sys"),
    (r"/sys/.*", "wa", HIGH, "writes under /sys"),
    (
        r"/proc/(@\{pid\}|[0-9]+|self)/(mem|attr/.*)",
        "rwa",
        HIGH,
        "process memory or LSM attrs",
    ),
    (r"/dev/(mem|kmem|port|kmsg)", "rwa", HIGH, "kernel memory or log device"),
    (r"/etc/(g?shadow|sudoers)(\.d/.*)?-?", "rwa", HIGH, "reads credentials"),
    (r"(/var)?/run/secrets/.*", "rwa", MEDIUM, "reads mounted secrets (service account token)"),
    (r".*/\.ssh/.*", "rwa", MEDIUM, "reads credentials (ssh keys)"),
    (r".*/(docker|containerd|crio)\.sock", "rwa", HIGH, "talks to the container runtime"),
    (r"/etc/.*", "wa", MEDIUM, "writes configuration under /etc"),
    (r"/(usr/)?s?bin/.*|/usr/lib/.*", "wa", HIGH, "writes system binaries or libraries"),
)


def severity_rank(text: str | None) -> int:
    """2 for a `high: …` severity, 1 for `medium: …`, 0 for none (a sort key)."""
    if text is None:
        return 0
    return 2 if text.startswith(HIGH) else 1 if text.startswith(MEDIUM) else 0


def severity(rule: m.Rule) -> str | None:
    """`"high: …"` or `"medium: …"` for a rule worth a second look, else None."""
    if isinstance(rule, m.CapabilityRule):
        hits = [_CAPABILITIES[n] for n in sorted(rule.names) if n in _CAPABILITIES]
        hits.sort(key=lambda h: h[0] != HIGH)
        return f"{hits[0][0]}: {hits[0][1]}" if hits else None
    if isinstance(rule, m.FileRule) and rule.path:
        return _file(rule)
    if isinstance(rule, m.MountRule | m.PivotRootRule):
        return f"{HIGH}: mounts change what the profile's paths refer to"
    if isinstance(rule, m.PtraceRule):
        return f"{HIGH}: ptrace reads and changes another process"
    if isinstance(rule, m.UsernsRule):
        return f"{MEDIUM}: user namespaces widen the kernel attack surface"
    if isinstance(rule, m.AllRule) and not rule.qualifiers.deny:
        return f"{HIGH}: all allows every access of every class"
    if isinstance(rule, m.IoUringRule) and (not rule.access or "override_creds" in rule.access):
        return f"{HIGH}: io_uring override_creds acts with another task's credentials"
    if isinstance(rule, m.IoUringRule):
        return f"{MEDIUM}: io_uring widens the kernel attack surface"
    if isinstance(rule, m.ChangeProfileRule):
        return f"{MEDIUM}: changes to another profile"
    return None


def _file(rule: m.FileRule) -> str | None:
    path = rule.path or ""
    if rule.exec_mode and rule.exec_mode.lower().startswith(("u", "pu", "cu")):
        return f"{HIGH}: runs a program unconfined"
    letters = set(rule.perms)
    for pattern, notable, level, reason in _PATHS:
        if letters & set(notable) and re.fullmatch(pattern, path):
            return f"{level}: {reason}"
    return None
