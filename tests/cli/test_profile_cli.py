"""`aaprof profile`: check, fmt, show, explain, diff, merge through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from aaprof.cli.main import cli
from aaprof.profiles.build import parse_policy

PROFILE = """\
abi <abi/3.0>,
include <tunables/global>
# the web tier
profile web flags=(complain,attach_disconnected) {
  include <abstractions/base>
  /etc/web/** r,
  /etc/web/web.conf r,
  deny /etc/shadow r,
  owner /var/cache/web/** rw,
  capability setgid,
}
"""
NEWER = """\
abi <abi/3.0>,
include <tunables/global>
profile web flags=(complain,attach_disconnected) {
  include <abstractions/base>
  /etc/web/** r,
  /var/log/web/*.log w,
  capability setgid,
  capability net_bind_service,
}
profile worker {
  /srv/jobs/** rw,
}
"""


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["profile", *args], input=stdin, catch_exceptions=False)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "web", tmp_path / "web.new"
    a.write_text(PROFILE)
    b.write_text(NEWER)
    return a, b


def test_check_reports_both_parsers(files: tuple[Path, Path], tmp_path: Path) -> None:
    if shutil.which("apparmor_parser", path="/usr/sbin:/sbin") is None:
        pytest.fail("apparmor_parser is missing: apt-get install apparmor (./dev.sh test does)")
    bad = tmp_path / "bad"
    bad.write_text("profile bad {\n  /etc/x r\n}\n")
    result = run("check", "--format", "json", str(files[0]), str(bad))
    assert result.exit_code == 1
    doc = {d["file"]: d for d in json.loads(result.stdout)}
    assert doc[str(files[0])] == {
        "file": str(files[0]),
        "aaprof": "ok",
        "apparmor_parser": "ok",
        "problems": [],
        "warnings": [],
    }
    assert doc[str(bad)]["aaprof"].startswith(f"error: {bad}:3:")
    assert doc[str(bad)]["problems"][0]["line"] == 3
    assert doc[str(bad)]["apparmor_parser"].startswith("rejected:")


def test_check_reports_semantic_errors_at_their_line(tmp_path: Path) -> None:
    policy = tmp_path / "p"
    policy.write_text("profile p {\n  /etc/x r,\n  owner capability chown,\n}\n")
    result = run("check", "--no-compile", str(policy))
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first == f"{policy}:3:3: 'owner' applies to file rules only, not to a capability rule"


def test_check_names_a_missing_include(tmp_path: Path) -> None:
    policy = tmp_path / "p"
    policy.write_text("profile p {\n  include <abstractions/no-such-thing>\n}\n")
    result = run("check", "--no-compile", str(policy))
    assert result.exit_code == 1
    assert "abstractions/no-such-thing" in result.stdout


def test_fmt_check_then_rewrite(files: tuple[Path, Path]) -> None:
    path = files[0]
    result = run("fmt", "--check", str(path))
    assert result.exit_code == 1 and f"would reformat {path}" in result.stderr
    assert path.read_text() == PROFILE  # --check changed nothing
    assert run("fmt", str(path)).exit_code == 0
    formatted = path.read_text()
    assert formatted != PROFILE and "# the web tier" in formatted
    assert parse_policy(formatted) == parse_policy(PROFILE)
    assert run("fmt", "--check", str(path)).exit_code == 0  # canonical is a fixed point


def test_fmt_stdin_to_stdout() -> None:
    result = run("fmt", "-", stdin=PROFILE)
    assert result.exit_code == 0
    assert parse_policy(result.stdout) == parse_policy(PROFILE)


def test_fmt_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken"
    path.write_text("profile x {\n  /etc/a r,\n  capability ,,\n}\n")
    result = CliRunner().invoke(cli, ["profile", "fmt", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3:" in result.stderr
    assert path.read_text().startswith("profile x {")  # untouched


def test_show_is_the_model(files: tuple[Path, Path]) -> None:
    doc = json.loads(run("show", "--profile", "web", str(files[0])).stdout)
    assert doc == parse_policy(PROFILE).profiles()[0].to_dict()
    assert doc["name"] == "web"


def test_diff(files: tuple[Path, Path]) -> None:
    result = run("diff", *map(str, files))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "- /etc/web/web.conf r," in lines
    assert "- deny /etc/shadow r," in lines
    assert "+ /var/log/web/*.log w," in lines
    assert "+ capability net_bind_service," in lines
    assert "+ profile worker" in lines
    assert not any("capability setgid" in line for line in lines)
    assert run("diff", str(files[0]), str(files[0])).exit_code == 0


def test_merge_drops_covered_rules(files: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "merged"
    assert run("merge", *map(str, files), "-o", str(out)).exit_code == 0
    merged = parse_policy(out.read_text())
    web, worker = merged.profiles()
    rules = set(web.rules())
    texts = run("diff", str(files[0]), str(out)).stdout.splitlines()
    # /etc/web/web.conf r is covered by /etc/web/** r: dropped; everything else kept once
    assert "- /etc/web/web.conf r," in texts
    assert "+ /var/log/web/*.log w," in texts and "+ capability net_bind_service," in texts
    assert "- deny /etc/shadow r," not in texts
    assert len(rules) == len(web.rules())  # no rule twice
    assert worker.name == "worker"


def test_explain_file_and_capability_records(files: tuple[Path, Path], tmp_path: Path) -> None:
    stamp = "type=AVC msg=audit(1700000000.000:1):"
    log = tmp_path / "audit.log"
    log.write_text(
        f'{stamp} apparmor="DENIED" operation="open" profile="web" name="/etc/shadow" '
        'pid=7 comm="web" requested_mask="r" denied_mask="r" fsuid=0 ouid=0\n'
        f'{stamp} apparmor="ALLOWED" operation="open" profile="web" name="/etc/web/a.conf" '
        'pid=7 comm="web" requested_mask="r" denied_mask="r" fsuid=0 ouid=0\n'
        f'{stamp} apparmor="ALLOWED" operation="mknod" profile="web" '
        'name="/var/cache/web/x" pid=7 comm="web" requested_mask="c" denied_mask="c" '
        "fsuid=33 ouid=0\n"
        f'{stamp} apparmor="ALLOWED" operation="capable" profile="web" pid=7 comm="web" '
        'capability=6  capname="setgid"\n'
    )
    result = run(
        "explain", "--format", "json", "--base", "/etc/apparmor.d", str(files[0]), str(log)
    )
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)
    assert [a["verdict"] for a in answers] == ["denied", "allowed", "unmatched", "allowed"]
    assert answers[0]["deny_rules"] == ["deny /etc/shadow r,"]
    assert answers[1]["allow_rules"] == ["/etc/web/** r,"]
    assert answers[3]["allow_rules"] == ["capability setgid,"]


def test_explain_needs_records(files: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(cli, ["profile", "explain", str(files[0])])
    assert result.exit_code == 2
