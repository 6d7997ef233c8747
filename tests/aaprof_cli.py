"""The tests' one way to run aaprof's command line as a user does: `python -m aaprof`, from the
checkout's root, output captured as text (tests that need limits or timeouts run their own)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def aaprof(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `aaprof ARGS...`; with CHECK, fail the test unless it exits 0 (naming stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "aaprof", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if check:
        assert done.returncode == 0, f"aaprof {' '.join(args)}: {done.stderr}"
    return done
