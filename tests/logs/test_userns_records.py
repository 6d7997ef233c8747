"""The records Debian 13's 6.12 kernel writes for user namespaces (fixtures/userns-6.12.dmesg,
written by scripts/vm-sample-logs.py from the VM: docs/vm.md), read exactly and learnt into the
abi/4.0 rule."""

from __future__ import annotations

from pathlib import Path

from aaprof_cli import aaprof

from aaprof.engine import rule_for
from aaprof.logs.reader import Reader
from aaprof.logs.sources import expand
from aaprof.model import profile as m

DMESG = Path(__file__).resolve().parent / "fixtures" / "userns-6.12.dmesg"


def test_every_userns_record_is_read_exactly() -> None:
    reader = Reader()
    events = [e for e in reader.events(expand([str(DMESG)])) if e.class_ == "namespace"]
    assert reader.stats.unparsed == 0
    got = [(e.mode, e.operation, e.profile, e.comm, e.requested, e.denied, e.extra) for e in events]
    assert got == [
        ("ALLOWED", "userns_create", "userns-app", "python3.11", "userns_create",
         "userns_create", {}),
        ("DENIED", "userns_create", "userns-denied", "python3.11", "userns_create",
         "userns_create", {}),
    ]  # fmt: skip
    for event in events:
        rule = rule_for(event)
        assert isinstance(rule, m.UsernsRule) and rule.access == {"create"}


def test_generate_learns_userns_create_under_abi_4(tmp_path: Path) -> None:
    done = aaprof("generate", str(DMESG), "--out", str(tmp_path), "--no-k8s", check=True)
    assert done.returncode == 0
    lines = (tmp_path / "profiles" / "userns-app").read_text().splitlines()
    assert "abi <abi/4.0>," in lines and "  userns create," in lines
    none = (tmp_path / "profiles" / "userns-none").read_text().splitlines()
    assert "abi <abi/3.0>," in none  # it made no namespace: nothing newer than abi/3.0
