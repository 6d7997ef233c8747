"""`aaprof generate`: profiles and bundle from logs, merging into DIR, the promotion gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from k8s.validate import validate_bundle

from aaprof.cli.main import cli
from aaprof.profiles.build import parse_policy
from aaprof.profiles.compile import compile_policy
from aaprof.profiles.coverage import Access, decide

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample-logs"
ABI = Path("/etc/apparmor.d/abi/3.0")
STAMP = "type=AVC msg=audit(1700000000.{ms:03d}:{serial}):"
WEB = "aaprof.shop.web.nginx"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["generate", *args], catch_exceptions=False)


def record(serial: int, name: str, mask: str, profile: str = "app") -> str:
    return (
        f'{STAMP.format(ms=serial % 1000, serial=serial)} apparmor="ALLOWED" operation="open" '
        f'profile="{profile}" name="{name}" pid=9 comm="app" requested_mask="{mask}" '
        f'denied_mask="{mask}" fsuid=0 ouid=0\n'
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    result = run(str(SAMPLES), "--out", str(out), "--format", "json")
    assert result.exit_code == 0, result.output
    return out


def test_every_profile_compiles_and_allows_what_was_recorded(generated: Path) -> None:
    files = sorted((generated / "profiles").iterdir())
    assert len(files) >= 10
    for path in files:
        text = path.read_text(errors="surrogateescape")
        compile_policy(text, name=str(path), features=ABI)  # raises on a rejected profile
        assert text.startswith("# aaprof ")
    web = parse_policy((generated / "profiles" / WEB).read_text()).profiles()[0]
    assert "complain" in web.flags and "attach_disconnected" in web.flags
    for name in ("/etc/nginx/nginx.conf", "/usr/share/nginx/html/summer sale.html"):
        assert decide(web, Access(name, frozenset("r"), 101, 0)).ok, name
    assert not decide(web, Access("/etc/shadow", frozenset("r"), 101, 0)).ok


def test_the_bundle_validates(generated: Path) -> None:
    bundle = {
        str(p.relative_to(generated / "k8s")): p.read_text()
        for p in (generated / "k8s").rglob("*")
        if p.is_file()
    }
    assert "kustomization.yaml" in bundle and "loader/configmap.yaml" in bundle
    assert any("shop" in name and "web" in name for name in bundle)
    assert validate_bundle(bundle) == ()


def test_rerun_keeps_handwritten_rules_and_adds_only_new_ones(tmp_path: Path) -> None:
    first = tmp_path / "first.log"
    first.write_text(record(1, "/etc/app.conf", "r"))
    assert run(str(first), "--out", str(tmp_path / "out"), "--no-k8s").exit_code == 0
    path = tmp_path / "out" / "profiles" / "app"
    edited = path.read_text().replace("{\n", "{\n  # kept by hand\n  /srv/data/** r,\n", 1)
    path.write_text(edited)
    second = tmp_path / "second.log"
    second.write_text(record(2, "/etc/app.conf", "r") + record(3, "/var/log/app.log", "w"))
    result = run(str(second), "--out", str(tmp_path / "out"), "--no-k8s", "--format", "json")
    assert json.loads(result.stdout)["profiles"][0]["new_rules"] == 1
    text = path.read_text()
    assert "/srv/data/** r," in text and "# kept by hand" in text
    # fsuid == ouid: `owner`, as aa-logprof writes it
    assert text.count("owner /etc/app.conf r,") == 1 and "owner /var/log/app.log w," in text
    assert text.count("generated this profile from") == 1  # the header is replaced
    assert "second.log" in text and "first.log" not in text


def test_check_is_a_promotion_gate(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(record(1, "/etc/app.conf", "r"))
    out = str(tmp_path / "out")
    gate = run("--check", str(log), "--out", out, "--format", "json")
    assert gate.exit_code == 1
    (gap,) = json.loads(gate.stdout)
    assert gap["profile"] == "app" and gap["missing_rules"] == ["owner /etc/app.conf r,"]
    assert gap["last_new_access"].startswith("2023-11-14T22:13:20")
    assert not (tmp_path / "out").exists()  # --check writes nothing
    assert run(str(log), "--out", out, "--no-k8s").exit_code == 0
    assert run("--check", str(log), "--out", out).exit_code == 0


def test_decisions_file_replays(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(record(1, "/srv/cache/a1b2/index", "r"))
    decisions = tmp_path / "decisions.yaml"
    decisions.write_text(
        "version: 1\n"
        "decisions:\n"
        "  - profile: app\n"
        '    rule: "owner /srv/cache/a1b2/index r,"\n'
        '    text: "owner /srv/cache/** r,"\n'
    )
    out = tmp_path / "out"
    result = run(str(log), "--out", str(out), "--no-k8s", "--decisions", str(decisions))
    assert result.exit_code == 0, result.output
    text = (out / "profiles" / "app").read_text()
    assert "owner /srv/cache/** r," in text and "a1b2" not in text


def test_no_complain_records_is_an_error(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(record(1, "/etc/x", "r").replace("ALLOWED", "DENIED"))
    result = CliRunner().invoke(cli, ["generate", str(log), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "complain" in result.stderr
