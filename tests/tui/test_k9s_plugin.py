"""The k9s plugin documented in docs/review.md is valid YAML of k9s's plugin shape, and its
shell command is valid shell that runs `aaprof review` with the documented options."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def plugin() -> dict[str, object]:
    page = (REPO / "docs" / "review.md").read_text()
    block = re.search(r"```yaml\n(plugins:.*?)```", page, re.DOTALL)
    assert block is not None, "docs/review.md has no ```yaml plugins: block"
    doc = yaml.safe_load(block.group(1))
    assert isinstance(doc, dict)
    plugins = doc["plugins"]
    assert isinstance(plugins, dict) and set(plugins) == {"aaprof-review"}
    entry = plugins["aaprof-review"]
    assert isinstance(entry, dict)
    return entry


def test_the_plugin_has_k9s_keys() -> None:
    entry = plugin()
    assert entry["scopes"] == ["pods"]
    assert entry["command"] == "sh" and entry["background"] is False
    assert isinstance(entry["shortCut"], str) and entry["description"]


def test_the_command_is_shell_that_runs_review() -> None:
    args = plugin()["args"]
    assert isinstance(args, list) and args[0] == "-c"
    script = args[1]
    assert isinstance(script, str)
    checked = subprocess.run(
        ["sh", "-n", "-c", script], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    for option in ("aaprof review", "--profiles", "--decisions", "--pods", "--profile"):
        assert option in script
    from click.testing import CliRunner

    from aaprof.cli.main import cli

    help_text = CliRunner().invoke(cli, ["review", "--help"]).output
    for option in ("--profiles", "--decisions", "--pods", "--profile"):
        assert option in help_text
