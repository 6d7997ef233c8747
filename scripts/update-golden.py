#!/usr/bin/env python3
"""Regenerate the golden files of the pipeline (tests/golden/expected/), on purpose.

    ./dev.sh golden            # = .venv/bin/python scripts/update-golden.py

Runs sample-logs/node-* → `aaprof events --format jsonl` → `aaprof generate` (profiles and the
Kubernetes bundle) and replaces tests/golden/expected/ with the result; review it with
`git diff tests/golden` and commit it with the change that caused it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from golden import pipeline  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="aaprof-golden-") as tmp:
        fresh = Path(tmp) / "expected"
        try:
            pipeline.build(fresh)
        except pipeline.PipelineError as exc:
            print(f"update-golden: {exc}", file=sys.stderr)
            return 1
        rel = pipeline.EXPECTED.relative_to(REPO)
        if pipeline.EXPECTED.exists():
            changes = len(pipeline.differences(pipeline.EXPECTED, fresh))
            shutil.rmtree(pipeline.EXPECTED)
            what = f"{changes} files changed, added or removed"
        else:
            what = "created"
        shutil.copytree(fresh, pipeline.EXPECTED)
    count = len(pipeline.files(pipeline.EXPECTED))
    print(f"{rel}: {count} files, {what}; review with: git diff {rel}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
