"""The harness's own checks, without booting: a step whose records may be missing from the log,
or records the kernel's audit lost, fail `check()` with a message naming them; a step's lines are
those between its markers, whichever kind (`/dev/kmsg` or `auditctl -m`) comes first."""

from __future__ import annotations

import pytest

from vm.harness import StepResult, VMError, VMResult

DMESG = b"""\
[1.0] aaprof-step 000 begin
[1.1] audit: type=1005 audit(1.1:6): pid=1 msg='text=aaprof-step 000 begin exe="/sbin/auditctl"'
[1.2] audit: type=1400 audit(1.2:7): apparmor="DENIED" operation="open" name="/a"
[1.3] audit: type=1005 audit(1.3:8): pid=2 msg='text=aaprof-step 000 end exe="/sbin/auditctl"'
[1.4] aaprof-step 000 end rc=0
[1.5] aaprof-step 001 begin
[1.6] audit: type=1005 audit(1.6:9): pid=3 msg='text=aaprof-step 001 begin exe="/sbin/auditctl"'
[1.7] audit: type=1400 audit(1.7:10): apparmor="DENIED" operation="open" name="/b"
[1.8] audit: type=1005 audit(1.8:11): pid=4 msg='text=aaprof-step 001 end exe="/sbin/auditctl"'
[1.9] aaprof-step 001 end rc=1
"""
STATUS = "enabled 1\nfailure 1\npid 0\nrate_limit 0\nbacklog_limit 65536\nlost {}\nbacklog 0\n"


def result(unflushed: tuple[str, ...] = (), lost: int = 0) -> VMResult:
    steps = (StepResult(0, "first", 0, b"", 0), StepResult(1, "second", 1, b"", None))
    return VMResult(
        console="",
        dmesg=DMESG,
        audit_log=None,
        steps=steps,
        files={},
        seconds=1.0,
        audit_status=STATUS.format(lost),
        unflushed=unflushed,
    )


def test_a_complete_log_passes() -> None:
    r = result()
    r.check()
    assert r.audit_lost == 0


def test_step_lines_are_between_its_markers() -> None:
    assert [b"/a" in line for line in result().step_dmesg("first")] == [True]
    assert [b"/b" in line for line in result().step_dmesg("second")] == [True]


def test_a_step_whose_end_marker_never_came_fails_the_check() -> None:
    r = result(unflushed=("step 001 'second': end marker not in the log after 2400 tries",))
    with pytest.raises(VMError, match=r"may lack records of: step 001 'second': end marker"):
        r.check()


def test_lost_records_fail_the_check() -> None:
    r = result(lost=3)
    assert r.audit_lost == 3
    with pytest.raises(VMError, match=r"lost 3 record\(s\)"):
        r.check()
