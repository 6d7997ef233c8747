"""The rule pack: promtool checks every rule file and unit-tests every alert (fires / does not)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from aaprof.cli.main import cli
from aaprof.errors import AaprofError
from aaprof.k8s.alerts import (
    HEADER,
    LOKI_FIELDS,
    RulePackOptions,
    loki_rules,
    prometheus_rules,
    render_rule_pack,
    write_rule_pack,
)
from aaprof.watch.alerts import SUMMARIES
from alerts.daemon import denial
from alerts.servers import require

HERE = Path(__file__).parent
DOCS = HERE.parents[1] / "docs" / "alerts.md"


def promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require("promtool"), *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False
    )


def write_pack(out: Path, options: RulePackOptions | None = None) -> dict[str, Path]:
    files = render_rule_pack(options or RulePackOptions())
    return {p.relative_to(out).as_posix(): p for p in write_rule_pack(out, files)}


def test_promtool_checks_the_rule_file_and_the_prometheusrule(tmp_path: Path) -> None:
    paths = write_pack(tmp_path)
    check = promtool("check", "rules", paths["prometheus/aaprof.rules.yaml"])
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(prometheus_rules(RulePackOptions()))} rules found" in check.stdout
    crd = yaml.safe_load(paths["prometheus-operator/aaprof-prometheusrule.yaml"].read_text())
    assert (crd["apiVersion"], crd["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(crd["spec"]))
    check = promtool("check", "rules", spec)
    assert check.returncode == 0, check.stdout + check.stderr


def test_promtool_unit_tests_pass(tmp_path: Path) -> None:
    rules = write_pack(tmp_path)["prometheus/aaprof.rules.yaml"]
    shutil.copy(HERE / "rules_test.yaml", rules.parent)
    result = promtool("test", "rules", "rules_test.yaml", cwd=rules.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """A rule that misses a series' first record (plain increase) fails the unit tests."""
    rules = write_pack(tmp_path)["prometheus/aaprof.rules.yaml"]
    text = rules.read_text()
    fresh = r"\(\n\s*\(aaprof_watch_records_total\{[^}]*\} unless .*?\n\s*or\n"
    broken = re.sub(fresh, "", text, flags=re.DOTALL)
    assert broken != text
    rules.write_text(broken)
    shutil.copy(HERE / "rules_test.yaml", rules.parent)
    result = promtool("test", "rules", "rules_test.yaml", cwd=rules.parent)
    assert result.returncode != 0
    assert "alertname: AppArmorDenied" in result.stdout + result.stderr
    assert "parse error" not in result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    tests = yaml.safe_load((HERE / "rules_test.yaml").read_text())["tests"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for group in tests:
        for case in group["alert_rule_test"]:
            (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {r.alert for r in prometheus_rules(RulePackOptions())}
    assert fires == names
    assert quiet == names


def test_the_rules_follow_the_mixin_conventions() -> None:
    for rule in (*prometheus_rules(RulePackOptions()), *loki_rules(RulePackOptions())):
        assert re.fullmatch(r"AppArmor[A-Z][A-Za-z]+", rule.alert)
        assert rule.severity in {"critical", "warning", "info"}
        assert rule.summary.endswith(".")
        assert rule.to_dict("u")["annotations"]["runbook_url"] == f"u#{rule.alert.lower()}"  # type: ignore[index]


def test_each_runbook_url_points_at_a_section_of_docs_alerts_md() -> None:
    anchors = {
        line[4:].strip().lower()
        for line in DOCS.read_text().splitlines()
        if line.startswith("### AppArmor")
    }
    every = (*prometheus_rules(RulePackOptions()), *loki_rules(RulePackOptions()))
    names = {r.alert.lower() for r in every} | {name.lower() for name in SUMMARIES}
    assert names <= anchors


def test_loki_rules_are_rule_files_over_the_json_events(tmp_path: Path) -> None:
    loki = yaml.safe_load(write_pack(tmp_path)["loki/aaprof.rules.yaml"].read_text())
    (group,) = loki["groups"]
    for rule in group["rules"]:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
        assert rule["expr"].count('{job="aaprof-watch"} | json ') == 1
        assert 'aaprof_namespace="container.namespace"' in rule["expr"]


def test_the_loki_fields_are_in_a_watch_event_line() -> None:
    """Every JSON path the Loki rules extract is in a line as watch writes it."""
    event = denial(0.0)
    assert event.container is not None
    line = {**event.to_dict(), "container": event.container.to_dict(), "workload": "web"}
    for label, path in LOKI_FIELDS.items():
        value: Any = line
        for key in path.split("."):
            value = value[key]
        assert isinstance(value, str) and value, label


def test_hostile_options_stay_inside_their_strings(tmp_path: Path) -> None:
    job = 'w"}\n  or vector(1) #'
    options = RulePackOptions(job=job, rule_labels=(("team", 'a"\nb: c'),))
    paths = write_pack(tmp_path, options)
    check = promtool("check", "rules", paths["prometheus/aaprof.rules.yaml"])
    assert check.returncode == 0, check.stdout + check.stderr
    doc = yaml.safe_load(paths["prometheus/aaprof.rules.yaml"].read_text())
    down = next(r for r in doc["groups"][0]["rules"] if r["alert"] == "AppArmorWatchDown")
    assert down["expr"] == f"up{{job={json.dumps(job)}}} == 0"
    crd = yaml.safe_load(paths["prometheus-operator/aaprof-prometheusrule.yaml"].read_text())
    assert crd["metadata"]["labels"] == {"app.kubernetes.io/name": "aaprof", "team": 'a"\nb: c'}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ready_after": "1 day"}, "--ready-after"),
        ({"rule_labels": (("bad-name", "x"),)}, "--rule-label"),
        ({"loki_selector": "job=x"}, "--loki-selector"),
    ],
)
def test_bad_options_are_one_clear_error(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(AaprofError, match=message):
        RulePackOptions(**changes)


def test_cli_writes_the_pack_and_never_replaces_a_file_it_did_not_write(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["alerts", "rules", "--out", str(tmp_path), "--format", "json"]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    written = json.loads(result.output)["written"]
    assert len(written) == 3
    assert all(Path(p).read_text().startswith(HEADER) for p in written)
    assert runner.invoke(cli, args, catch_exceptions=False).exit_code == 0  # its own: replaced
    Path(written[0]).write_text("groups: []  # mine\n")
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert "was not written by aaprof" in result.output
    assert Path(written[0]).read_text() == "groups: []  # mine\n"
