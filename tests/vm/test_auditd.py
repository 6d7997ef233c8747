"""The same class workloads with auditd running in the guest: the kernel's records go to a real
audit.log (ENRICHED format) instead of dmesg, and `aaprof events` reads them all."""

from __future__ import annotations

import pytest

from vm import classes, events, records
from vm.harness import Images, VMResult, Workload, run_workload

pytestmark = pytest.mark.vm

PARAMS = [
    pytest.param(case, mode, id=f"{case.name}-{mode}")
    for mode in classes.MODES
    for case in classes.CASES
]


@pytest.fixture(scope="module")
def auditd_run(vm_images: Images) -> VMResult:
    workload = Workload(steps=classes.steps(), files=classes.files(), auditd=True)
    result = run_workload(vm_images, workload)
    result.check()
    return result


@pytest.fixture(scope="module")
def audit_report(auditd_run: VMResult, tmp_path_factory: pytest.TempPathFactory) -> events.Report:
    assert auditd_run.audit_log, "auditd wrote no audit.log"
    path = tmp_path_factory.mktemp("auditd") / "audit.log"
    path.write_bytes(auditd_run.audit_log)
    return events.run_events(path)


def test_records_go_to_audit_log_not_dmesg(auditd_run: VMResult) -> None:
    in_log = records.records((auditd_run.audit_log or b"").splitlines())
    assert len(in_log) > 50
    assert b"type=AVC msg=audit(" in (auditd_run.audit_log or b"")
    kernel_log = records.records(auditd_run.dmesg.splitlines())
    in_dmesg = [r for r in kernel_log if r["apparmor"] != b"STATUS"]
    assert in_dmesg == []


@pytest.mark.parametrize(("case", "mode"), PARAMS)
def test_audit_log_ground_truth(
    auditd_run: VMResult, audit_report: events.Report, case: classes.Case, mode: str
) -> None:
    lines = auditd_run.step_audit(case.step_name(mode))
    got = records.records(lines)
    for want in case.wants(mode):
        assert any(records.matches(r, want) for r in got), f"no record {want} among {got}"
    serials = {r["serial"] for r in got}
    in_step = [e for e in audit_report.events if str(e.get("serial")).encode() in serials]
    assert events.missing(in_step, case.wants(mode)) == []


def test_aaprof_events_reports_every_audit_record(
    auditd_run: VMResult, audit_report: events.Report
) -> None:
    kernel = records.records((auditd_run.audit_log or b"").splitlines())
    assert audit_report.unparsed == 0, audit_report.stderr
    assert len(audit_report.events) == len(kernel) == audit_report.records
