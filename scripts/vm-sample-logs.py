#!/usr/bin/env python3
"""Regenerate sample-logs/kernel/ from the test VM's workloads (docs/vm.md).

    .venv/bin/python scripts/vm-sample-logs.py

Boots the Debian AppArmor kernel three times: the class workloads without auditd (dmesg), with
auditd (audit.log), and the Kubernetes node cases with runc (dmesg); then Debian 13's kernel
and parser once: the userns workload in complain mode and a denied one (dmesg, into
tests/logs/fixtures/).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from vm import classes, node, userns  # noqa: E402

from vm.harness import TRIXIE, Workload, build_images, run_workload  # noqa: E402


def main() -> None:
    out = REPO / "sample-logs" / "kernel"
    out.mkdir(parents=True, exist_ok=True)
    images = build_images(REPO / ".cache" / "vm")
    plain = run_workload(images, Workload(classes.steps(), classes.files()))
    plain.check()
    (out / "classes.dmesg").write_bytes(plain.dmesg)
    audited = run_workload(images, Workload(classes.steps(), classes.files(), auditd=True))
    audited.check()
    (out / "classes.audit.log").write_bytes(audited.audit_log or b"")
    nodes = run_workload(images, Workload(node.steps(), node.files()))
    nodes.check()
    (out / "node-runc.dmesg").write_bytes(nodes.dmesg)
    trixie = build_images(REPO / ".cache" / "vm", TRIXIE)
    profiles = {"learning": userns.LEARNING, "denying": userns.DENYING}
    probe = userns.PYTHON.format("userns-denied") + " userns"
    namespaces = run_workload(trixie, userns.workload(profiles, {"probe": probe}))
    namespaces.check()
    # a test input only (tests/logs/test_userns_records.py): sample-logs/ is what review and
    # generate's examples read whole
    (REPO / "tests" / "logs" / "fixtures" / "userns-6.12.dmesg").write_bytes(namespaces.dmesg)
    for path in sorted(out.iterdir()):
        print(f"{path.relative_to(REPO)}: {path.stat().st_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
