"""The harness fails clearly: a bad exit names its step, a hung guest times out."""

from __future__ import annotations

import pytest

from vm.harness import Images, Step, StepFailed, VMError, Workload, run_workload

pytestmark = pytest.mark.vm


def test_failures_name_the_step_and_show_the_console(vm_images: Images) -> None:
    steps = (
        Step("fine", "echo hello > $OUT/hello.txt"),
        Step("breaks", "echo about to fail; exit 3"),
    )
    result = run_workload(vm_images, Workload(steps=steps))
    assert result.files["hello.txt"] == b"hello\n"
    assert [s.rc for s in result.steps] == [0, 3]
    want = r"(?s)step 001 .breaks.: exit 3, expected 0.*about to fail"
    with pytest.raises(StepFailed, match=want):
        result.check()


def test_a_hung_guest_times_out_with_the_step_named(vm_images: Images) -> None:
    steps = (Step("hangs", "sleep 600", timeout=900),)
    with pytest.raises(VMError, match=r"(?s)timed out after 20s in step 000.*console tail"):
        run_workload(vm_images, Workload(steps=steps, timeout=20))
