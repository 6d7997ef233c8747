"""userns on a kernel that mediates it: Debian 13's 6.12 cloud kernel, AppArmor 4.1's parser.

Boot 1 (complain) runs a script that creates a user namespace under `userns-app` and the same
script without it under `userns-none`, both loaded under `abi <abi/4.0>` (the abi that mediates
userns creation). `aaprof generate` reads the kernel's `userns_create` record and learns
`userns create,` for userns-app, pinning `abi <abi/4.0>` by itself; userns-none's file in DIR
pins 4.0 already, and the merge keeps it. Boot 2 compiles both with the guest's apparmor_parser
4.1 and enforces them: the workload runs with no denial and the same output, while the probe,
the userns-creating run under userns-none, is denied with a `userns_create` record; and the same
`audit deny userns,` under abi/3.0 does not stop the namespace (what `profile check` warns of).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vm import userns
from vm.harness import Images, VMResult, run_workload

pytestmark = pytest.mark.vm


ABI3_PROBE = userns.PYTHON.format("userns-abi3") + " userns"


def _boot(images: Images, profiles: dict[str, bytes], probe: bool) -> VMResult:
    probes = {"probe": userns.PROBE, "abi3": ABI3_PROBE} if probe else {}
    result = run_workload(images, userns.workload(profiles, probes))
    result.check()
    return result


def _records(result: VMResult, step: str, mode: str) -> list[bytes]:
    return [line for line in result.step_dmesg(step) if f'apparmor="{mode}"'.encode() in line]


def _text(output: bytes) -> str:
    return output.decode(errors="replace")


def test_a_userns_record_is_learnt_compiled_and_enforced(
    vm_images_trixie: Images, tmp_path: Path
) -> None:
    learn = _boot(vm_images_trixie, {"learning": userns.LEARNING}, probe=False)
    allowed = _records(learn, "app", "ALLOWED")
    assert any(b'operation="userns_create"' in r and b'profile="userns-app"' in r for r in allowed)
    assert not _records(learn, "none", "DENIED")

    dmesg, out = tmp_path / "dmesg", tmp_path / "out"
    dmesg.write_bytes(learn.dmesg)
    (out / "profiles").mkdir(parents=True)
    (out / "profiles" / "userns-none").write_bytes(userns.NONE_FILE)
    done = subprocess.run(
        [sys.executable, "-m", "aaprof", "generate", str(dmesg), "--out", str(out),
         "--mode", "enforce", "--no-k8s"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    app = (out / "profiles" / "userns-app").read_text()
    none = (out / "profiles" / "userns-none").read_text()
    assert "abi <abi/4.0>," in app.splitlines()
    assert "  userns create," in app.splitlines()
    assert "abi <abi/4.0>," in none.splitlines()  # its file's pin, kept by the merge
    assert not [line for line in none.splitlines() if line.strip().startswith("userns")]

    enforce = _boot(
        vm_images_trixie,
        {"userns-app": app.encode(), "userns-none": none.encode(), "abi3": userns.DENYING_ABI3},
        probe=True,
    )
    for step in ("app", "none"):
        assert _records(enforce, step, "DENIED") == []
        assert _text(enforce.step(step).output) == _text(learn.step(step).output)
    assert "made a user namespace" in _text(enforce.step("app").output)
    probe = enforce.step("probe")
    assert probe.rc != 0
    denied = _records(enforce, "probe", "DENIED")
    assert any(b'operation="userns_create"' in r and b'profile="userns-none"' in r for r in denied)

    # `audit deny userns,` under abi/3.0: not mediated, the namespace is made and nothing logged;
    # profile check says so at the rule's line
    abi3 = enforce.step("abi3")
    assert abi3.rc == 0 and "made a user namespace" in _text(abi3.output)
    assert not [r for r in enforce.step_dmesg("abi3") if b"apparmor=" in r]
    abi3_file = tmp_path / "abi3"
    abi3_file.write_bytes(userns.DENYING_ABI3)
    check = subprocess.run(
        [sys.executable, "-m", "aaprof", "profile", "check", "--no-compile", str(abi3_file)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert f"{abi3_file}:6:3: warning: a userns rule needs abi <abi/4.0>" in check.stdout
