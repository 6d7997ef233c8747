"""The pipeline the golden files pin: the node story in sample-logs/ → events JSONL → profiles →
Kubernetes bundle, each step by the CLI as a user runs it.

Every run starts in the repository with relative paths, so nothing in the output depends on
where the clone is, the time or the machine: the same inputs give the same bytes.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXPECTED = REPO / "tests" / "golden" / "expected"
# the node story, as ./dev.sh demo reads it (sample-logs/kernel/ holds test inputs)
LOGS = tuple(sorted(p.relative_to(REPO).as_posix() for p in (REPO / "sample-logs").glob("node-*")))
REGENERATE = "./dev.sh golden"  # = .venv/bin/python scripts/update-golden.py


class PipelineError(Exception):
    """A step of the pipeline exited with an error."""


def _aaprof(*args: str, cwd: Path = REPO) -> bytes:
    cmd = [sys.executable, "-m", "aaprof", *args]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace")
        raise PipelineError(f"aaprof {' '.join(args)}: exit {done.returncode}\n{err}")
    return done.stdout


def build(out: Path) -> None:
    """Write the pipeline's outputs under `out` (absolute): events.jsonl, profiles/, k8s/."""
    out.mkdir(parents=True, exist_ok=True)
    events = _aaprof("events", "--mode", "all", "--format", "jsonl", *LOGS)
    (out / "events.jsonl").write_bytes(events)
    # the next step reads the events as the cluster's log pipeline would carry them
    _aaprof("generate", "events.jsonl", "--out", ".", cwd=out)


def files(root: Path) -> dict[str, bytes]:
    """Every file under `root`, by its path relative to it."""
    found = (p for p in root.rglob("*") if p.is_file())
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in found}


def differences(expected: Path, actual: Path) -> list[str]:
    """How `actual` differs from `expected`, file by file: a unified diff for a changed file,
    a line for a missing or an extra one. Empty: byte for byte the same."""
    want, got = files(expected), files(actual)
    out = [f"missing: {name}" for name in sorted(want.keys() - got.keys())]
    out += [f"extra: {name}" for name in sorted(got.keys() - want.keys())]
    for name in sorted(want.keys() & got.keys()):
        if want[name] == got[name]:
            continue
        diff = difflib.unified_diff(
            want[name].decode(errors="replace").splitlines(keepends=True),
            got[name].decode(errors="replace").splitlines(keepends=True),
            f"expected/{name}",
            f"now/{name}",
        )
        text = "".join(diff)
        out.append(text or f"{name}: differs in bytes the text does not show")
    return out
