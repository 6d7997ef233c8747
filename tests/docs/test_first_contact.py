"""What a new user reads first: the demo's closing lines and the page they point at."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from aaprof_cli import aaprof

REPO = Path(__file__).resolve().parents[2]


def demo_block() -> str:
    text = (REPO / "dev.sh").read_text()
    return text[text.index("    demo)") : text.index("    golden)")]


def test_generate_md_opens_with_the_users_view() -> None:
    """The command and its workflow come before any Python or module of the engine."""
    text = (REPO / "docs/generate.md").read_text()
    first_command = text.index("aaprof generate")
    internals = [text.find(mark) for mark in ("```python", "aaprof/engine", "Session")]
    assert all(first_command < at for at in internals if at >= 0)
    opening = text[: text.index("\n## ")]
    for step in ("aaprof generate", "aaprof review", "--check", "--mode enforce", "kubectl"):
        assert step in opening, step


def test_the_demo_closes_with_commands_that_run() -> None:
    """Each `aaprof` command the demo's closing lines suggest is one aaprof accepts."""
    closing = demo_block().split('echo "Where to look:"')[1]
    suggested = re.findall(r'echo "\s*\.venv/bin/aaprof ([a-z]+)', closing)
    assert "review" in suggested and "generate" in suggested
    for command in suggested:
        shown = subprocess.run(
            [sys.executable, "-m", "aaprof", command, "--help"],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
        )
        assert shown.returncode == 0, shown.stderr
    for page in re.findall(r"docs/[a-z-]+\.md", closing):
        assert (REPO / page).is_file(), page


def test_node_check_on_the_demos_workload_says_loaded(tmp_path: Path) -> None:
    """The node fixture of docs/node.md has the demo's profiles loaded: `node check --pod` on
    the workload patch the demo writes finds its profile."""
    out = tmp_path / "demo-output"
    logs = sorted(str(p.relative_to(REPO)) for p in (REPO / "sample-logs").glob("node-*"))
    made = aaprof("generate", *logs, "--out", str(out), "-q")
    assert made.returncode == 0, made.stderr
    patches = sorted((out / "k8s" / "workloads").glob("shop.*.yaml"))
    assert patches
    root = "docs/examples/node/root"
    for patch in patches:
        checked = aaprof("node", "check", "--root", root, "--pod", str(patch))
        assert checked.returncode == 0, checked.stdout
        pods = [line for line in checked.stdout.splitlines() if " pod " in line]
        assert pods and all(line.startswith("ok ") and " loaded (" in line for line in pods)
    fixture = (REPO / "docs/examples/node/pod.yaml").read_text()
    names = {p.name for p in (out / "profiles").iterdir()}
    assert names and all(f"localhostProfile: {name}" in fixture for name in names)


def test_the_demo_says_how_to_build_the_image() -> None:
    """The demo's closing lines name the command that builds the image the bundle names, and
    dev.sh has that command."""
    closing = demo_block().split('echo "Where to look:"')[1]
    assert "./dev.sh image" in closing
    assert "--image" in closing
    text = (REPO / "dev.sh").read_text()
    assert "\n    image)\n" in text and "scripts/build-image.sh" in text
    assert (REPO / "scripts/build-image.sh").is_file()
