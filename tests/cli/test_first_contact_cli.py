"""What a new user meets first on the command line: help for every option, a missing file
named alone, ages a person reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from aaprof_cli import aaprof

from aaprof.cli.main import cli
from aaprof.engine.gaps import Gap, human_age

REPO = Path(__file__).resolve().parents[2]


def options() -> list[tuple[str, click.Option]]:
    ctx = click.Context(cli)
    found: list[tuple[str, click.Option]] = []

    def walk(command: click.Command, path: str) -> None:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, f"{path} {name}")
            return
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                found.append((path, param))

    walk(cli, "aaprof")
    return found


def test_every_option_says_what_it_does() -> None:
    silent = [f"{path} {'/'.join(o.opts)}" for path, o in options() if not o.help]
    assert silent == []
    shown = " ".join(aaprof("generate", "--help").stdout.split())
    assert "--format [table|json] What stdout says" in shown


@pytest.mark.parametrize(
    "args",
    [
        ("events",),
        ("events", "--summary"),
        ("events", "--format", "jsonl"),
        ("generate", "--check", "--out", "OUT"),
        ("generate", "--out", "OUT"),
        ("profile", "explain", "docs/examples/nginx.profile"),
    ],
)
def test_a_missing_file_is_one_line_and_nothing_else(args: tuple[str, ...], tmp_path: Path) -> None:
    """When nothing named can be read, the command stops before it prints or writes anything:
    no table header, no empty summary, no profile. (Beside files that exist, those are still
    read and printed, then the missing one named: tests/cli/test_events_cli.py.)"""
    missing = tmp_path / "no-such.log"
    args = tuple(str(tmp_path / "out") if a == "OUT" else a for a in args)
    result = aaprof(*args, str(missing))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"aaprof: {missing}: no such file\n"
    assert not (tmp_path / "out").exists()


def test_check_says_ages_as_a_person_would() -> None:
    then = datetime(2024, 11, 23, 22, 14, tzinfo=UTC)
    gap = Gap("p", ("/etc/x r,",), then)
    text = gap.text(now=then + timedelta(hours=17856.1))
    assert text.splitlines()[0] == (
        "p: 1 access(es) not covered, last new access 2024-11-23 22:14 UTC (2 years ago)"
    )
    assert [human_age(s) for s in (0, 59, 60, 150, 3600, 7300, 86400, 8 * 86400, 40 * 86400)] == [
        "just now",
        "just now",
        "1 minute ago",
        "2 minutes ago",
        "1 hour ago",
        "2 hours ago",
        "1 day ago",
        "1 week ago",
        "1 month ago",
    ]
    assert human_age(-5) == "in the future"
