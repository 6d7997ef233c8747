"""The closed loop on a real kernel: workloads run under empty complain-mode profiles, `aaprof
generate` turns the kernel's log into profiles, and under those, in enforce mode, the same
workloads run with no denial and the same output, while an access each never made is denied.
Hostile file names come out as literal paths that allow exactly those files.

Two boots: boot 1 (complain, learn) and boot 2 (enforce, check and probe); a third shows each
check fails on profiles that break its claim (empty ones, and ones that allow everything).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from logprof_reader import read_profiles

from vm import loop
from vm import loop_checks as checks
from vm.harness import Images, Step, VMResult, Workload, run_workload

pytestmark = pytest.mark.vm

ALL = loop.ALL
IDS = [w.name for w in ALL]
# the numbered workload runs more in enforce mode than it learnt from: its own test below
RUN_PARAMS = [pytest.param(w, id=w.name) for w in ALL if w is not loop.NUMBERED]
EMPTY, OPEN = ALL[0::2], ALL[1::2]  # the negative boot: half empty, half wide open


@dataclass(frozen=True, slots=True)
class Loop:
    """Both boots and what was generated in between."""

    learn: VMResult
    enforce: VMResult
    profiles: dict[str, bytes]  # file name under DIR/profiles → content
    out: Path


def _aaprof(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "aaprof", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def _generate(dmesg: Path, out: Path) -> dict[str, bytes]:
    done = _aaprof("generate", str(dmesg), "--out", str(out), "--mode", "enforce", "--no-k8s")
    assert done.returncode == 0, f"aaprof generate failed:\n{done.stdout}\n{done.stderr}"
    files = sorted((out / "profiles").iterdir())
    return {f.name: f.read_bytes() for f in files if f.is_file()}


def _boot(images: Images, policy: dict[str, bytes], probe: bool) -> VMResult:
    load = (
        f"for f in {loop.PROFILES_DIR}/*; do\n"
        '  apparmor_parser -r -W "$f" || echo "load failed: ${f##*/}"\n'
        "done\n"
    )
    steps = (
        Step(checks.LOAD, load, expect=None),
        Step(
            checks.LIST, "grep '^loop-' /sys/kernel/security/apparmor/profiles | sort", expect=None
        ),
        *loop.steps(probe),
    )
    files = {f"{loop.PROFILES}/{n}": d for n, d in policy.items()}
    result = run_workload(images, Workload(steps=steps, files={**loop.script_files(), **files}))
    if not probe:
        result.check()
    return result


@pytest.fixture(scope="module")
def learn(vm_images: Images) -> VMResult:
    return _boot(vm_images, {"empty": loop.empty_profiles(loop.profile_names()).encode()}, False)


@pytest.fixture(scope="module")
def closed_loop(
    vm_images: Images, learn: VMResult, tmp_path_factory: pytest.TempPathFactory
) -> Loop:
    work = tmp_path_factory.mktemp("loop")
    (work / "dmesg").write_bytes(learn.dmesg)
    profiles = _generate(work / "dmesg", work / "out")
    return Loop(learn, _boot(vm_images, profiles, True), profiles, work / "out")


@pytest.fixture(scope="module")
def negative(vm_images: Images) -> VMResult:
    empty = checks.profiles("", [w.profile for w in EMPTY])
    wide_open = checks.profiles(checks.WIDE_OPEN, [w.profile for w in OPEN])
    return _boot(vm_images, {"empty": empty.encode(), "open": wide_open.encode()}, True)


def test_learning_boot_logs_every_workload_allowed(learn: VMResult) -> None:
    bad = []
    for w in ALL:
        rs = checks.profile_records(learn, f"{w.name}: run", w.profile)
        if not rs or any(r.get("apparmor") != b"ALLOWED" for r in rs):
            bad.append(f"{w.name}: records in complain mode:\n{checks.show(rs)}")
    assert bad == [], "\n".join(bad)


def test_generated_profiles_load_in_enforce_mode(closed_loop: Loop) -> None:
    bad = checks.problems_loaded(closed_loop.enforce, loop.profile_names())
    assert bad == [], "\n".join([*bad, f"generated: {sorted(closed_loop.profiles)}"])


@pytest.mark.parametrize("workload", RUN_PARAMS)
def test_enforce_run_has_no_denial(closed_loop: Loop, workload: loop.AnyWorkload) -> None:
    assert checks.problems_denied(closed_loop.enforce, workload) == []


@pytest.mark.parametrize("workload", RUN_PARAMS)
def test_enforce_run_has_the_same_output(closed_loop: Loop, workload: loop.AnyWorkload) -> None:
    assert checks.problems_output(closed_loop.learn, closed_loop.enforce, workload) == []


@pytest.mark.parametrize("workload", ALL, ids=IDS)
def test_probe_is_denied(closed_loop: Loop, workload: loop.AnyWorkload) -> None:
    assert checks.problems_probe(closed_loop.enforce, workload) == []


def test_numbered_siblings_are_allowed_in_enforce_mode(closed_loop: Loop) -> None:
    # learnt from 3 numbered files, the profile lets the workload write 20
    w = loop.NUMBERED
    run = closed_loop.enforce.step(f"{w.name}: run")
    bad = checks.problems_denied(closed_loop.enforce, w)
    want = f"wrote {loop.NUMBERED_ENFORCE} files\n".encode()
    if (run.rc, run.output) != (0, want):
        bad.append(f"exit {run.rc}, output {run.output!r}, expected exit 0 and {want!r}")
    rules = [line for d in closed_loop.profiles.values() for line in d.splitlines()
             if loop.NUMBERED_DIR.encode() in line]  # fmt: skip
    assert bad == [], "\n".join([*bad, "generated rules:", *map(repr, rules)])


def test_numbered_learning_boot_wrote_its_files(closed_loop: Loop) -> None:
    run = closed_loop.learn.step(f"{loop.NUMBERED.name}: run")
    assert (run.rc, run.output) == (0, f"wrote {loop.NUMBERED_LEARN} files\n".encode())


def test_hostile_names_profile_passes_aaprof_check(closed_loop: Loop) -> None:
    texts = {n: d for n, d in closed_loop.profiles.items() if b"loop-names" in d}
    assert texts, f"no generated file holds loop-names: {sorted(closed_loop.profiles)}"
    for name in texts:
        path = closed_loop.out / "profiles" / name
        args = ["profile", "check", str(path)]
        if shutil.which("apparmor_parser") is None:
            args.append("--no-compile")
        done = _aaprof(*args)
        assert done.returncode == 0, f"{name}:\n{done.stdout}\n{done.stderr}"


def test_hostile_names_profile_is_read_by_aa_logprof(closed_loop: Loop, tmp_path: Path) -> None:
    # the names the kernel logged (a quote among them), as generate wrote them: aa-logprof's
    # parser reads the file (it refuses a `\\"` escape: "Unknown line found")
    texts = {n: d for n, d in closed_loop.profiles.items() if b"loop-names" in d}
    assert texts, f"no generated file holds loop-names: {sorted(closed_loop.profiles)}"
    found = read_profiles(texts, tmp_path / "profiles")
    assert "loop-names" in found, sorted(found)
    assert any("042" in rule for rule in found["loop-names"]), found["loop-names"]


def test_loaded_check_fails_on_a_missing_profile(negative: VMResult) -> None:
    names = [w.profile for w in ALL]
    assert checks.problems_loaded(negative, names) == []
    bad = checks.problems_loaded(negative, [*names, "loop-never-loaded"])
    assert any("loop-never-loaded (enforce)" in b for b in bad), bad


@pytest.mark.parametrize("workload", EMPTY, ids=[w.name for w in EMPTY])
def test_run_checks_fail_on_an_empty_profile(
    learn: VMResult, negative: VMResult, workload: loop.AnyWorkload
) -> None:
    denied = checks.problems_denied(negative, workload)
    assert any("DENIED record(s)" in b for b in denied), denied
    output = checks.problems_output(learn, negative, workload)
    assert any("output differs" in b for b in output), output


@pytest.mark.parametrize("workload", OPEN, ids=[w.name for w in OPEN])
def test_probe_check_fails_on_a_wide_open_profile(
    negative: VMResult, workload: loop.AnyWorkload
) -> None:
    bad = checks.problems_probe(negative, workload)
    assert any("the access was allowed" in b for b in bad), bad
    assert any("no DENIED record" in b for b in bad), bad
