"""The closed loop on a real kernel: workloads run under empty complain-mode profiles, `aaprof
generate` turns the kernel's log into profiles, and under those, in enforce mode, the same
workloads run with no denial and the same output, while an access each never made is denied.
Hostile file names come out as literal paths that allow exactly those files.

Two boots: boot 1 (complain, learn) and boot 2 (enforce, check and probe).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from aaprof.vm import Images, Step, VMResult, Workload, run_workload
from vm import loop, records

pytestmark = pytest.mark.vm

ALL = loop.ALL
IDS = [w.name for w in ALL]
LOAD = "load profiles"
LIST = "loaded profiles"


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


def _boot(images: Images, load: str, files: dict[str, bytes], probe: bool) -> VMResult:
    steps = (
        Step(LOAD, load, expect=None),
        Step(LIST, "grep '^loop-' /sys/kernel/security/apparmor/profiles | sort", expect=None),
        *loop.steps(probe),
    )
    result = run_workload(images, Workload(steps=steps, files={**loop.script_files(), **files}))
    if not probe:
        result.check()
    return result


@pytest.fixture(scope="module")
def closed_loop(vm_images: Images, tmp_path_factory: pytest.TempPathFactory) -> Loop:
    if _aaprof("generate", "--help").returncode != 0:
        pytest.skip("waiting for aaprof generate")
    work = tmp_path_factory.mktemp("loop")
    empty = {"loop-profiles/empty": loop.empty_profiles(loop.profile_names()).encode()}
    learn = _boot(vm_images, f"apparmor_parser -r -W {loop.PROFILES_DIR}/empty", empty, False)
    (work / "dmesg").write_bytes(learn.dmesg)
    profiles = _generate(work / "dmesg", work / "out")
    load = (
        f"for f in {loop.PROFILES_DIR}/*; do\n"
        '  apparmor_parser -r -W "$f" || echo "load failed: ${f##*/}"\n'
        "done\n"
    )
    generated = {f"loop-profiles/{name}": data for name, data in profiles.items()}
    enforce = _boot(vm_images, load, generated, True)
    return Loop(learn, enforce, profiles, work / "out")


def _records(result: VMResult, step: str, profile: str) -> list[records.Record]:
    """The AppArmor records of `profile` (or its children) among the lines of `step`."""
    own = profile.encode()
    return [
        r
        for r in records.records(result.step_dmesg(step))
        if r.get("profile") == own or r.get("profile", b"").startswith(own + b"//")
    ]


def _show(rs: list[records.Record]) -> str:
    keep = ("apparmor", "operation", "profile", "name", "requested_mask", "capname", "peer", "info")
    return "\n".join("  " + " ".join(f"{k}={r[k]!r}" for k in keep if k in r) for r in rs)


def test_learning_boot_logs_every_workload(closed_loop: Loop) -> None:
    silent = [w.name for w in ALL if not _records(closed_loop.learn, f"{w.name}: run", w.profile)]
    assert silent == [], f"no record in complain mode for {silent}"


def test_generated_profiles_load_in_enforce_mode(closed_loop: Loop) -> None:
    load = closed_loop.enforce.step(LOAD)
    listed = closed_loop.enforce.step(LIST).output.decode(errors="replace")
    want = sorted(f"{p} (enforce)" for p in loop.profile_names())
    got = sorted(line for line in listed.splitlines() if "//" not in line)
    assert (load.rc, b"load failed" in load.output, got) == (0, False, want), (
        f"apparmor_parser: exit {load.rc}\n{load.output.decode(errors='replace')}\n"
        f"generated: {sorted(closed_loop.profiles)}"
    )


@pytest.mark.parametrize("workload", ALL, ids=IDS)
def test_enforce_run_has_no_denial(closed_loop: Loop, workload: loop.AnyWorkload) -> None:
    denied = [
        r
        for r in _records(closed_loop.enforce, f"{workload.name}: run", workload.profile)
        if r.get("apparmor") == b"DENIED"
    ]
    assert denied == [], f"{workload.name}: {len(denied)} DENIED record(s):\n{_show(denied)}"


@pytest.mark.parametrize("workload", ALL, ids=IDS)
def test_enforce_run_has_the_same_output(closed_loop: Loop, workload: loop.AnyWorkload) -> None:
    before = closed_loop.learn.step(f"{workload.name}: run")
    after = closed_loop.enforce.step(f"{workload.name}: run")
    assert (after.rc, after.output) == (before.rc, before.output), (
        f"{workload.name}: complain: exit {before.rc}\n{before.output.decode(errors='replace')}"
        f"\nenforce: exit {after.rc}\n{after.output.decode(errors='replace')}"
    )


@pytest.mark.parametrize("workload", ALL, ids=IDS)
def test_probe_is_denied(closed_loop: Loop, workload: loop.AnyWorkload) -> None:
    step = closed_loop.enforce.step(f"{workload.name}: probe")
    got = _records(closed_loop.enforce, step.name, workload.profile)
    bad = []
    rcs = re.findall(rb"^rc (\S+) (\d+)$", step.output, re.MULTILINE)
    for name, rc in rcs or [(b"probe", str(step.rc).encode())]:
        if rc == b"0":
            bad.append(f"{name.decode()}: exit 0, the access was allowed")
    for want in workload.denied:
        if not any(records.matches(r, {"apparmor": "DENIED", **want}) for r in got):
            bad.append(f"no DENIED record {want}")
    assert bad == [], (
        f"{workload.name}: " + "\n".join(bad) + f"\noutput: {step.output!r}\nrecords:\n{_show(got)}"
    )


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
