"""Stacks, a child policy namespace and an app's profile on a baseline, on the real kernel:
read, attributed to the member that wrote each record, learnt into that member only, and
enforced (tests/vm/stacked.py says what each workload is)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aaprof.logs.lines import parse_line
from aaprof.model.event import Event
from vm import records, stacked
from vm.harness import Images, VMResult
from vm.stacked import Loop, aaprof_run, run_loop

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def loop(vm_images: Images, tmp_path_factory: pytest.TempPathFactory) -> Loop:
    return run_loop(vm_images, tmp_path_factory.mktemp("stacked"))


def _apparmor(result: VMResult, step: str) -> list[Event]:
    """The step's AppArmor records, as aaprof reads them."""
    out = []
    for line in result.step_dmesg(step):
        if records.parse(line) is not None:
            event = parse_line(line)
            assert isinstance(event, Event), line
            out.append(event)
    return out


def _file_records(result: VMResult, step: str) -> set[tuple[str, str | None, str | None]]:
    return {
        (e.mode, e.profile, e.name)
        for e in _apparmor(result, step)
        if e.operation == "open" and (e.name or "").startswith("/tmp/stk/")
    }


def test_each_member_of_a_stack_records_what_it_lacks(loop: Loop) -> None:
    assert _file_records(loop.learn, stacked.RUN_STACK) == {
        ("ALLOWED", "stk-a", "/tmp/stk/for-a"),
        ("ALLOWED", "stk-b", "/tmp/stk/for-b"),
    }


def test_a_child_namespace_records_its_namespace(loop: Loop) -> None:
    (event,) = [e for e in _apparmor(loop.learn, stacked.RUN_NS) if e.operation == "open"]
    assert (event.namespace, event.profile, event.name) == (
        "root//stk-ns",
        "stk-inner",
        "/tmp/stk/for-inner",
    )


def test_the_stacked_peer_is_recorded_whole(loop: Loop) -> None:
    signals = [e for e in _apparmor(loop.learn, stacked.RUN_SIGNAL) if e.operation == "signal"]
    assert [(e.profile, e.peer, e.to_dict().get("peer_stack")) for e in signals] == [
        ("stk-recv", "stk-a//&stk-b", ["stk-a", "stk-b"])
    ]


def _rules(loop: Loop, file: str) -> list[str]:
    text = loop.profiles[file]
    return [line.strip() for line in text.splitlines() if line.startswith("  ")]


def _learnt(loop: Loop, file: str) -> set[str]:
    """The rules generate added to the hand-written start of a profile."""
    start = stacked.start(complain=False)[file].decode()
    return set(_rules(loop, file)) - {line.strip() for line in start.splitlines()}


def test_each_record_teaches_only_its_member(loop: Loop) -> None:
    assert "/tmp/stk/for-a r," in _learnt(loop, "stk-a")
    assert "/tmp/stk/for-b r," not in _learnt(loop, "stk-a")
    assert "/tmp/stk/for-b r," in _learnt(loop, "stk-b")
    assert "/tmp/stk/for-a r," not in _learnt(loop, "stk-b")
    assert "/tmp/stk/for-inner r," in _learnt(loop, "stk-inner")
    assert loop.profiles["stk-inner"].count("profile :stk-ns:stk-inner ") == 1
    peer = 'signal receive set=(term) peer="{,**//&}stk-a//&stk-b{,//&**}",'
    assert peer in _learnt(loop, "stk-recv")
    alone = 'signal receive set=(term) peer="{,**//&}stk-a{,//&**}",'
    assert alone in _learnt(loop, "stk-recv2")


def test_the_baseline_is_reported_and_never_learnt(loop: Loop) -> None:
    assert "stk-base" not in loop.profiles
    assert all("profile stk-base" not in text for text in loop.profiles.values())
    assert "of stk-base: reported, not learned (stk-base is the baseline" in loop.stderr
    assert "/secret r," not in " ".join(_rules(loop, "stk-app"))


@pytest.mark.parametrize(
    "step",
    [stacked.RUN_STACK, stacked.RUN_NS, stacked.RUN_SIGNAL, stacked.RUN_SUFFIX, stacked.RUN_APP],
)
def test_enforced_workloads_run_without_a_denial(loop: Loop, step: str) -> None:
    denied = [e for e in _apparmor(loop.enforce, step) if e.mode == "DENIED"]
    assert denied == []


@pytest.mark.parametrize("step", [stacked.RUN_SIGNAL, stacked.RUN_SUFFIX])
def test_the_learnt_peer_rule_lets_the_stacks_signal_through(loop: Loop, step: str) -> None:
    assert "kill-ok" in loop.enforce.step(step).output.decode()


def test_a_bare_peer_rule_does_not_match_the_stack(loop: Loop) -> None:
    assert "kill-failed" in loop.enforce.step(stacked.PROBE_BARE).output.decode()
    denied = [
        (e.profile, e.peer)
        for e in _apparmor(loop.enforce, stacked.PROBE_BARE)
        if e.mode == "DENIED" and e.operation == "signal"
    ]
    assert ("stk-recv-bare", "stk-a//&stk-b") in denied


def test_the_probe_is_denied_by_the_member_that_lacks_it(loop: Loop) -> None:
    assert _file_records(loop.enforce, stacked.PROBE_STACK) == {
        ("DENIED", "stk-a", "/tmp/stk/probe-a")
    }
    assert loop.enforce.step(stacked.PROBE_STACK).rc != 0


def test_the_namespaced_probe_is_denied_in_its_namespace(loop: Loop) -> None:
    denied = [e for e in _apparmor(loop.enforce, stacked.PROBE_NS) if e.mode == "DENIED"]
    assert [(e.namespace, e.profile, e.name) for e in denied] == [
        ("root//stk-ns", "stk-inner", "/tmp/stk/for-a")
    ]


def test_the_app_layer_denies_what_the_baseline_allows(loop: Loop) -> None:
    step = loop.enforce.step(stacked.PROBE_APP)
    assert step.rc != 0 and b"top-secret" not in step.output
    denied = [
        (e.profile, e.name)
        for e in _apparmor(loop.enforce, stacked.PROBE_APP)
        if e.mode == "DENIED"
    ]
    assert denied == [("stk-app", "/secret")]


def test_profile_check_flags_the_bare_peer(tmp_path: Path) -> None:
    path = tmp_path / "fixed"
    path.write_text(stacked.FIXED)
    done = aaprof_run("profile", "check", "--no-compile", str(path))
    assert "warning: peer stk-a names a bare profile" in done.stdout, done.stdout
