"""With no source named: auditd's log when auditd runs, else the journal, else /dev/kmsg."""

from __future__ import annotations

from pathlib import Path

from aaprof.watch.pick import pick_source


def test_pick_order(tmp_path: Path) -> None:
    root, proc = tmp_path / "host", tmp_path / "proc"
    (root / "var/log/audit").mkdir(parents=True)
    (root / "run").mkdir()
    proc.mkdir()
    (root / "dev").mkdir()
    (root / "dev/kmsg").touch()
    assert pick_source(root, proc).kind == "kmsg"
    (root / "var/log/journal/abc").mkdir(parents=True)
    journal = pick_source(root, proc)
    assert (journal.kind, journal.path) == ("journal", str(root / "var/log/journal"))
    (root / "var/log/audit/audit.log").touch()
    (root / "run/auditd.pid").write_text("4242\n")
    assert pick_source(root, proc).kind == "journal"  # auditd is not running: pid 4242 gone
    (proc / "4242").mkdir()
    audit = pick_source(root, proc)
    assert (audit.kind, audit.path) == ("file", str(root / "var/log/audit/audit.log"))
    assert "auditd runs" in audit.why
