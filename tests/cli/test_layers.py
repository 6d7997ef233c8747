"""Dependencies point one way: the CLI's start-up loads no front end it does not use, and
import-linter's contracts (pyproject.toml) hold and would catch a wrong arrow."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("textual", "prometheus_client", "systemd", "pyparsing", "vm")


def loaded_modules(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["events", "--help"],
        ["generate", "--help"],
        ["review", "--help"],
        ["watch", "--help"],
    ],
)
def test_help_loads_no_tui_daemon_or_journal(args: list[str]) -> None:
    modules = loaded_modules(
        "from click.testing import CliRunner\n"
        "from aaprof.cli.main import cli\n"
        f"assert CliRunner().invoke(cli, {args!r}).exit_code == 0"
    )
    assert "aaprof.cli.main" in modules  # the check can see what was loaded
    for heavy in HEAVY:
        assert not any(m == heavy or m.startswith(heavy + ".") for m in modules), heavy


def test_the_core_imports_no_front_end() -> None:
    modules = loaded_modules("import aaprof.logs.reader, aaprof.logs.quick, aaprof.containers")
    assert not any(m.startswith(("aaprof.cli", "click", "textual")) for m in modules)


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is missing: install the test extra (./dev.sh venv)")
    return subprocess.run(
        [exe, "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def copy_of_the_package(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "aaprof", tmp_path / "aaprof", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold(tmp_path: Path) -> None:
    result = lint_imports(copy_of_the_package(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "bad_import", "broken"),
    [
        ("aaprof/model/event.py", "import aaprof.logs.record", "aaprof.model is not allowed"),
        ("aaprof/logs/record.py", "import aaprof.engine", "aaprof.logs is not allowed"),
        ("aaprof/engine/rules.py", "import click", "aaprof.engine.rules -> click"),
        ("aaprof/tui/text.py", "import aaprof.engine.suggest", "aaprof.tui.text -> aaprof.engine"),
    ],
)
def test_a_wrong_arrow_breaks_a_contract(
    tmp_path: Path, module: str, bad_import: str, broken: str
) -> None:
    tree = copy_of_the_package(tmp_path)
    path = tree / module
    path.write_text(path.read_text() + f"\n{bad_import}  # deliberately wrong\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and broken in result.stdout, result.stdout
