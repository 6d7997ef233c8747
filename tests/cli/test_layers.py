"""Dependencies point one way: the CLI's start-up loads no front end it does not use."""

from __future__ import annotations

import subprocess
import sys


def loaded_modules(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


def test_help_loads_no_tui_daemon_or_journal() -> None:
    modules = loaded_modules(
        "from click.testing import CliRunner\n"
        "from aaprof.cli.main import cli\n"
        "assert CliRunner().invoke(cli, ['events', '--help']).exit_code == 0"
    )
    assert "aaprof.cli.events" in modules  # the check can see what was loaded
    for heavy in ("textual", "prometheus_client", "systemd", "pyparsing", "aaprof.vm"):
        assert not any(m == heavy or m.startswith(heavy + ".") for m in modules), heavy


def test_the_core_imports_no_front_end() -> None:
    modules = loaded_modules("import aaprof.logs.reader, aaprof.logs.quick, aaprof.containers")
    assert not any(m.startswith(("aaprof.cli", "click", "textual")) for m in modules)
