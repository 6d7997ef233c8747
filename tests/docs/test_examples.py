"""Every `$ aaprof ...` example in docs/ runs, from the repository root, and exits 0."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = re.compile(r"^\$ (.*\baaprof .*)$", re.MULTILINE)


def examples() -> list[tuple[str, str]]:
    found = []
    for page in sorted((REPO / "docs").glob("*.md")):
        for match in EXAMPLE.finditer(page.read_text()):
            found.append((page.name, match.group(1)))
    return found


def test_the_docs_have_examples() -> None:
    pages = {page for page, _ in examples()}
    assert {"events.md", "index.md"} <= pages


EXIT_NOTE = re.compile(r"\s+# exit (\d+)$")


@pytest.mark.parametrize(("page", "command"), examples())
def test_example_runs(page: str, command: str) -> None:
    """Runs the example; a trailing `# exit N` says which exit status it shows."""
    note = EXIT_NOTE.search(command)
    expected = int(note.group(1)) if note else 0
    command = EXIT_NOTE.sub("", command)
    aaprof = f"{shlex.quote(sys.executable)} -m aaprof"
    script = re.sub(r"(^|\| )aaprof ", lambda m: f"{m.group(1)}{aaprof} ", command)
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == expected, f"{page}: {command}\n{result.stderr}"
    assert result.stdout.strip(), f"{page}: {command} printed nothing"
    if re.search(r"--format json(\s|$)", command):
        json.loads(result.stdout)
    if "--format jsonl" in command:
        for line in result.stdout.splitlines():
            json.loads(line)
