"""Which source a node has, when none is named: auditd's log, else the journal, else /dev/kmsg.

When auditd runs it takes the kernel's audit records (they no longer reach the journal or the
kernel log), so its log is the one to follow; without it the journal has them, and a node with
neither still has the kernel's ring buffer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

AUDIT_LOG = "/var/log/audit/audit.log"
AUDITD_PID = "/run/auditd.pid"
JOURNAL_DIRS = ("/run/log/journal", "/var/log/journal")
KMSG = "/dev/kmsg"


@dataclass(frozen=True, slots=True)
class Pick:
    kind: str  # "file", "journal" or "kmsg"
    path: str | None
    why: str


def _auditd_runs(pid_file: Path, proc_root: Path) -> bool:
    try:
        pid = pid_file.read_text().strip()
    except OSError:
        return False
    return pid.isdigit() and (proc_root / pid).exists()


def pick_source(root: Path = Path("/"), proc_root: Path = Path("/proc")) -> Pick:
    """The source to follow on the node whose filesystem is at `root`."""
    audit_log = root / AUDIT_LOG.lstrip("/")
    if _auditd_runs(root / AUDITD_PID.lstrip("/"), proc_root) and audit_log.exists():
        return Pick("file", str(audit_log), "auditd runs: its log has the AppArmor records")
    for directory in JOURNAL_DIRS:
        path = root / directory.lstrip("/")
        if path.is_dir() and any(path.iterdir()):
            where = None if root == Path("/") else str(path)
            return Pick("journal", where, f"no auditd; the journal is in {directory}")
    if os.access(root / KMSG.lstrip("/"), os.R_OK):
        return Pick("kmsg", str(root / KMSG.lstrip("/")), "no auditd and no journal")
    return Pick("kmsg", KMSG, "no auditd and no journal (and /dev/kmsg is not readable)")
