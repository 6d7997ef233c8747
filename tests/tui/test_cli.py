"""`aaprof review` on the command line: its help, and a clear error without a terminal."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from aaprof.cli.main import cli

REPO = Path(__file__).resolve().parents[2]


def test_help_names_the_keys_and_the_replay() -> None:
    result = CliRunner().invoke(cli, ["review", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--profiles" in text and "generate --decisions" in text


def test_without_a_terminal_it_says_what_to_use_instead(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["review", str(REPO / "sample-logs"), "--profiles", str(tmp_path / "out")]
    )
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "needs a terminal" in text and "aaprof generate --decisions" in text
    assert not (tmp_path / "out").exists()


def test_profiles_is_required() -> None:
    result = CliRunner().invoke(cli, ["review", str(REPO / "sample-logs")])
    assert result.exit_code == 2
    assert "--profiles" in result.output
