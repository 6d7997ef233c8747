"""`node load` against what a node can throw at it: devices, FIFOs, symlinks out of the profile
directory, huge or hostile includes, reserved names, names that would forge output lines.

The CLI runs in a subprocess with a 1 GiB address-space limit and a hang guard far above its
run time: before the one include resolver, a profile including /dev/zero ended the whole pass
in `internal error: MemoryError()` with no status.json, and one including a FIFO blocked it.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from aaprof.node.load import FAILED, LoadOptions, sync
from aaprof.node.state import read_state
from node.fakehost import KernelDouble, make_root, profile_text

SECRET = "root:$y$j9T$SECRETHASHNOBODYMAYSEE:19000:0:99999:7:::"
LIMIT_BYTES = 1 << 30
GUARD_S = 300  # a hang guard only: a pass takes seconds
GOOD = ("k8s-a", "k8s-b")


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))


def _load(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "aaprof", "node", "load", *args],
            capture_output=True,
            text=True,
            preexec_fn=_limited,
            timeout=GUARD_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"node load {' '.join(args)} blocked (more than {GUARD_S} s)")


@pytest.fixture
def node(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """(host root, profile dir, base, a secret outside them): two good profiles in the dir."""
    root = make_root(tmp_path / "root")
    profiles, base, elsewhere = tmp_path / "profiles", tmp_path / "base", tmp_path / "elsewhere"
    for d in (profiles, base / "abstractions", elsewhere):
        d.mkdir(parents=True)
    secret = elsewhere / "shadow"
    secret.write_text(SECRET + "\n")
    for name in GOOD:
        (profiles / name).write_text(profile_text(name))
    return root, profiles, base, secret


def _hostile(profiles: Path, base: Path, secret: Path) -> dict[str, str]:
    """Bad files beside the good ones, and the reason each must fail with."""
    os.mkfifo(base / "abstractions" / "fifo")
    (base / "abstractions" / "leak").symlink_to(secret)
    including = {
        "zero": ('include "/dev/zero"', "outside the profile directories"),
        "urandom": ('include "/dev/urandom"', "outside the profile directories"),
        "mem": ('include "/proc/self/mem"', "outside the profile directories"),
        "abs": (f'include "{secret}"', "outside the profile directories"),
        "leak": ("include <abstractions/leak>", "outside the profile directories"),
        "fifo-include": ("include <abstractions/fifo>", "not a regular file (a FIFO)"),
    }
    reasons = {}
    for name, (include, why) in including.items():
        (profiles / name).write_text(profile_text(f"k8s-{name}", [include]))
        reasons[name] = why
    (profiles / "link-out").symlink_to(secret)
    reasons["link-out"] = "outside the profile directories"
    (profiles / "link-dev").symlink_to("/dev/null")
    reasons["link-dev"] = "outside the profile directories"
    os.mkfifo(profiles / "fifo")
    reasons["fifo"] = "not a regular file (a FIFO)"
    (profiles / "unconfined").write_text(profile_text("unconfined"))
    reasons["unconfined"] = "'unconfined' is the kernel's own profile"
    return reasons


def test_bad_files_beside_good_ones(node: tuple[Path, Path, Path, Path]) -> None:
    root, profiles, base, secret = node
    reasons = _hostile(profiles, base, secret)
    state = root / "state"
    done = _load(str(profiles), "--root", str(root), "--base", str(base), "--state", str(state))
    assert done.returncode == 1
    assert "internal error" not in done.stderr, done.stderr
    assert "SECRET" not in done.stdout + done.stderr
    status = json.loads((state / "status.json").read_text())
    assert "SECRET" not in json.dumps(status)
    by_file = {Path(p["file"]).name: p for p in status["profiles"]}
    for name, why in reasons.items():
        outcome = by_file[name]
        assert outcome["action"] == FAILED, outcome
        assert why in outcome["message"] and "\n" not in outcome["message"], outcome
    for name in GOOD:  # checked and compiled: written to .replace (the fixture has no kernel)
        assert by_file[name]["action"] != FAILED, by_file[name]


def test_good_ones_load_and_bad_ones_are_not_owned(
    node: tuple[Path, Path, Path, Path],
) -> None:
    """In-process against the kernel double: the good profiles load; nothing bad is owned.
    (Only the cases that did not blow up the old pass run in-process: symlinks out, a device,
    a reserved name.)"""
    root, profiles, base, secret = node
    (profiles / "link-out").symlink_to(secret)
    (profiles / "link-dev").symlink_to("/dev/null")
    (profiles / "unconfined").write_text(profile_text("unconfined"))
    host = KernelDouble(root, names=(*GOOD, "unconfined"))
    result = sync(host, LoadOptions((profiles,), root / "state", base=base))
    actions = {Path(o.file).name: o.action for o in result.outcomes}
    assert actions == {
        "k8s-a": "loaded",
        "k8s-b": "loaded",
        "link-dev": FAILED,
        "link-out": FAILED,
        "unconfined": FAILED,
    }
    assert sorted(read_state(root / "state").owned) == list(GOOD)
    assert "unconfined" not in host.loaded()


def test_a_file_name_cannot_forge_an_output_line(node: tuple[Path, Path, Path, Path]) -> None:
    root, profiles, base, _ = node
    (profiles / "evil\nloaded     k8s-forged (x)").write_text("profile k8s-evil {\n  /x rr q,\n}\n")
    done = _load(str(profiles), "--root", str(root), "--base", str(base))
    lines = done.stdout.splitlines()
    assert not any(line.startswith("loaded     k8s-forged") for line in lines), done.stdout
    assert any("evil\\nloaded     k8s-forged (x)" in line for line in lines), done.stdout
