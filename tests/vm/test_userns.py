"""userns on a kernel that mediates it: Debian 13's 6.12 cloud kernel, AppArmor 4.1's parser.

Boot 1 (complain) runs a script that creates a user namespace under `userns-app` and the same
script without it under `userns-none`, both loaded under `abi <abi/4.0>` (the abi that mediates
userns creation). `aaprof generate` reads the kernel's `userns_create` record and learns
`userns create,` for userns-app, pinning `abi <abi/4.0>` by itself; userns-none's file in DIR
pins 4.0 already, and the merge keeps it. Boot 2 compiles both with the guest's apparmor_parser
4.1 and enforces them: the workload runs with no denial and the same output, while the probe,
the userns-creating run under userns-none, is denied with a `userns_create` record.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vm.harness import Images, Step, VMResult, Workload, run_workload

pytestmark = pytest.mark.vm

# Python, exec'd straight under the profile, creates the namespace itself (busybox's `unshare`
# re-execs busybox, whose complain-mode learning child `//null-` logs no userns record)
SCRIPT = r"""import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
with open("/tmp/userns/app.conf") as f:
    print("config:", f.read().strip())
if sys.argv[1:] == ["userns"]:
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        sys.exit(f"unshare: errno {ctypes.get_errno()}")
    print("made a user namespace")
print("done")
"""
PYTHON = (
    "LD_LIBRARY_PATH=/opt/python/lib PYTHONDONTWRITEBYTECODE=1 "
    "aaexec {} /opt/python/usr/bin/python3.11 /tmp/userns.py"
)
LEARNING = b"""abi <abi/4.0>,
include <tunables/global>

profile userns-app flags=(complain) {
}

profile userns-none flags=(complain) {
}
"""
NONE_FILE = b"""abi <abi/4.0>,
include <tunables/global>

profile userns-none flags=(complain) {
}
"""
LOAD = 'set -e; for f in /tmp/profiles/*; do apparmor_parser -r -W "$f"; done'
SETUP = "mkdir -p /tmp/userns && echo 'mode=test' > /tmp/userns/app.conf"
APP = PYTHON.format("userns-app") + " userns"
NONE = PYTHON.format("userns-none")
PROBE = PYTHON.format("userns-none") + " userns"


def _boot(images: Images, profiles: dict[str, bytes], probe: bool) -> VMResult:
    steps = [
        Step("load", LOAD),
        Step("setup", SETUP),
        Step("app", APP),
        Step("none", NONE),
    ]
    if probe:
        steps.append(Step("probe", PROBE, expect=None))
    files = {"userns.py": SCRIPT.encode(), **{f"profiles/{n}": d for n, d in profiles.items()}}
    result = run_workload(images, Workload(steps=tuple(steps), files=files))
    result.check()
    return result


def _records(result: VMResult, step: str, mode: str) -> list[bytes]:
    return [line for line in result.step_dmesg(step) if f'apparmor="{mode}"'.encode() in line]


def _text(output: bytes) -> str:
    return output.decode(errors="replace")


def test_a_userns_record_is_learnt_compiled_and_enforced(
    vm_images_trixie: Images, tmp_path: Path
) -> None:
    learn = _boot(vm_images_trixie, {"learning": LEARNING}, probe=False)
    allowed = _records(learn, "app", "ALLOWED")
    assert any(b'operation="userns_create"' in r and b'profile="userns-app"' in r for r in allowed)
    assert not _records(learn, "none", "DENIED")

    dmesg, out = tmp_path / "dmesg", tmp_path / "out"
    dmesg.write_bytes(learn.dmesg)
    (out / "profiles").mkdir(parents=True)
    (out / "profiles" / "userns-none").write_bytes(NONE_FILE)
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
        {"userns-app": app.encode(), "userns-none": none.encode()},
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
