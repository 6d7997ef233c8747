#!/usr/bin/env python3
"""Regenerate tests/logs/stacked/kernel-6.1.dmesg: what the test VM's kernel (Debian 12's 6.1)
writes for a stack, a child policy namespace, a stacked peer and an app on a baseline.

    .venv/bin/python scripts/vm-stacked-logs.py

Runs tests/vm/stacked.py's two boots (about 90 s), the loop tests/vm/test_stacked.py checks.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from vm import stacked  # noqa: E402
from vm.harness import build_images  # noqa: E402


def main() -> None:
    out = REPO / "tests" / "logs" / "stacked" / "kernel-6.1.dmesg"
    out.parent.mkdir(parents=True, exist_ok=True)
    images = build_images(REPO / ".cache" / "vm")
    with tempfile.TemporaryDirectory() as work:
        loop = stacked.run_loop(images, Path(work))
    out.write_bytes(stacked.capture(loop))
    print(f"{out.relative_to(REPO)}: {out.stat().st_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
