"""Every class the Debian 6.1 kernel mediates, in complain and enforce mode: the kernel's own
records (dmesg, no auditd) match each workload's ground truth, and `aaprof events` reports every
one of them, decoded. aaprof's CLI also runs inside the guest over the guest's own kernel log."""

from __future__ import annotations

import json

import pytest

from vm import classes, events, records
from vm.harness import Images, Step, VMResult, Workload, run_workload

pytestmark = pytest.mark.vm

IN_GUEST = (
    Step(
        "aaprof in guest: dmesg",
        "dmesg -s 16777216 > $OUT/guest-dmesg\n"
        "aaprof events --mode all --format jsonl $OUT/guest-dmesg > $OUT/events.jsonl "
        "2> $OUT/events.err",
    ),
    Step(
        # /dev/kmsg blocks at its end; aaprof reads what it holds and stops (exit 0)
        "aaprof in guest: /dev/kmsg",
        "aaprof events --mode all --format jsonl /dev/kmsg > $OUT/kmsg.jsonl 2> $OUT/kmsg.err",
    ),
)
PARAMS = [
    pytest.param(case, mode, id=f"{case.name}-{mode}")
    for mode in classes.MODES
    for case in classes.CASES
]


@pytest.fixture(scope="module")
def classes_run(vm_images: Images) -> VMResult:
    steps = (*classes.steps(), *IN_GUEST)
    result = run_workload(vm_images, Workload(steps=steps, files=classes.files()))
    result.check()
    return result


@pytest.fixture(scope="module")
def dmesg_report(classes_run: VMResult, tmp_path_factory: pytest.TempPathFactory) -> events.Report:
    path = tmp_path_factory.mktemp("classes") / "dmesg"
    path.write_bytes(classes_run.dmesg)
    return events.run_events(path)


@pytest.mark.parametrize(("case", "mode"), PARAMS)
def test_kernel_writes_ground_truth(classes_run: VMResult, case: classes.Case, mode: str) -> None:
    got = records.records(classes_run.step_dmesg(case.step_name(mode)))
    for want in case.wants(mode):
        assert any(records.matches(r, want) for r in got), f"no record {want} among {got}"


@pytest.mark.parametrize(("case", "mode"), PARAMS)
def test_aaprof_events_matches_ground_truth(
    classes_run: VMResult, dmesg_report: events.Report, case: classes.Case, mode: str
) -> None:
    step_lines = classes_run.step_dmesg(case.step_name(mode))
    step_serials = {r["serial"] for r in records.records(step_lines)}
    in_step = [e for e in dmesg_report.events if str(e.get("serial")).encode() in step_serials]
    assert events.missing(in_step, case.wants(mode)) == []


def test_aaprof_events_reports_every_record(
    classes_run: VMResult, dmesg_report: events.Report
) -> None:
    kernel = records.records(classes_run.dmesg.splitlines())
    assert dmesg_report.unparsed == 0, dmesg_report.stderr
    assert dmesg_report.records == len(kernel) == len(dmesg_report.events)
    assert sorted(int(r["serial"]) for r in kernel) == sorted(
        e["serial"] for e in dmesg_report.events
    )


def test_aaprof_runs_in_guest_over_its_dmesg(classes_run: VMResult) -> None:
    err = classes_run.files["events.err"].decode(errors="replace")
    report = events.parse_report(classes_run.files["events.jsonl"], err)
    kernel = records.records(classes_run.files["guest-dmesg"].splitlines())
    assert report.unparsed == 0, err
    assert len(report.events) == len(kernel) > 50
    denied = [e for e in report.events if e["mode"] == "DENIED" and e["operation"] == "ptrace"]
    assert denied, "the guest's aaprof found no DENIED ptrace record"


def test_aaprof_reads_dev_kmsg_in_guest(classes_run: VMResult) -> None:
    out = classes_run.files.get("kmsg.jsonl", b"")
    err = classes_run.files.get("kmsg.err", b"").decode(errors="replace")
    got = [json.loads(line) for line in out.splitlines() if line.strip()]
    step = classes_run.step("aaprof in guest: /dev/kmsg")
    assert got, f"aaprof events /dev/kmsg printed nothing (exit {step.rc}): {err}"
    assert {e["mode"] for e in got} >= {"ALLOWED", "DENIED", "STATUS"}
