"""`aaprof alerts`: the alert rule pack (docs/alerts.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from aaprof.errors import AaprofError


@click.group()
def alerts() -> None:
    """Alerting on AppArmor records: the rule pack (docs/alerts.md)."""


def _label(value: str) -> tuple[str, str]:
    name, sep, text = value.partition("=")
    if not sep:
        raise click.BadParameter(f"{value!r}: expected NAME=VALUE", param_hint="--rule-label")
    return name, text


@alerts.command()
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write prometheus/, prometheus-operator/ and loki/ into.",
)
@click.option("--job", default="aaprof-watch", show_default=True, help="Scrape job of watch.")
@click.option(
    "--runbook-url",
    default=None,
    help="URL of docs/alerts.md; each alert links to its section (#<alert name, lower case>).",
)
@click.option(
    "--ready-after",
    default="24h",
    show_default=True,
    help="Quiet time without a new rule after which a complain-mode profile is reported "
    "ready to enforce.",
)
@click.option(
    "--ready-replicas",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Replicas (pods) that must have logged under the profile before it is ready.",
)
@click.option(
    "--ready-records",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Complain-mode records that must have been read of the profile before it is ready.",
)
@click.option("--lag-threshold", default=300.0, show_default=True, help="Seconds of read lag.")
@click.option(
    "--queue-age-threshold", default=600.0, show_default=True, help="Seconds an alert may wait."
)
@click.option(
    "--unattributed-ratio",
    default=0.1,
    show_default=True,
    help="Share of records that cannot be attributed to a pod before alerting.",
)
@click.option(
    "--rule-namespace",
    default="monitoring",
    show_default=True,
    help="Namespace of the PrometheusRule.",
)
@click.option(
    "--rule-label",
    "rule_labels",
    multiple=True,
    help="NAME=VALUE label on the PrometheusRule (e.g. release=kube-prometheus-stack).",
)
@click.option(
    "--loki-selector",
    default='{job="aaprof-watch"}',
    show_default=True,
    help="LogQL stream selector of watch's JSON event log.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to list the files written.",
)
def rules(
    out: Path,
    job: str,
    runbook_url: str | None,
    ready_after: str,
    ready_replicas: int,
    ready_records: int,
    lag_threshold: float,
    queue_age_threshold: float,
    unattributed_ratio: float,
    rule_namespace: str,
    rule_labels: tuple[str, ...],
    loki_selector: str,
    fmt: str,
) -> None:
    """Write Prometheus rules, a PrometheusRule and Loki ruler rules for `aaprof watch`.

    Files aaprof wrote before are replaced; any other file in their place is left alone
    (exit 1). Check them with `promtool check rules DIR/prometheus/aaprof.rules.yaml`.

    \b
    Examples:
      aaprof alerts rules --out deploy/alerts
      aaprof alerts rules --out deploy/alerts --rule-label release=kube-prometheus-stack \\
          --runbook-url https://wiki.example.org/aaprof/alerts.md
    """
    from aaprof.k8s.alerts import (
        DEFAULT_RUNBOOK_URL,
        RulePackOptions,
        render_rule_pack,
        write_rule_pack,
    )

    if not 0 < unattributed_ratio <= 1:
        raise AaprofError(f"--unattributed-ratio {unattributed_ratio}: not in (0, 1]")
    options = RulePackOptions(
        job=job,
        runbook_url=runbook_url or DEFAULT_RUNBOOK_URL,
        ready_after=ready_after,
        ready_replicas=ready_replicas,
        ready_records=ready_records,
        lag_threshold_seconds=lag_threshold,
        queue_age_threshold_seconds=queue_age_threshold,
        unattributed_ratio=unattributed_ratio,
        rule_namespace=rule_namespace,
        rule_labels=tuple(_label(v) for v in rule_labels),
        loki_selector=loki_selector,
    )
    written = write_rule_pack(out, render_rule_pack(options))
    if fmt == "json":
        click.echo(json.dumps({"written": [str(p) for p in written]}, indent=2))
    else:
        for path in written:
            click.echo(f"wrote {path}")
