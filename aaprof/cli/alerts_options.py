"""The `--alertmanager …` options of `aaprof watch`, and the sink they build (docs/alerts.md).

The watch command adds them with one decorator and builds the sink with one call:

    @alertmanager_options
    def watch(..., **alerting): ...
        sink = alert_sink(alerting, node=node, registry=registry, clock=clock)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from aaprof.watch.alerts import AlertSink, Clock

F = TypeVar("F", bound=Callable[..., Any])
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_MODES = click.Choice(["denied", "killed", "allowed", "audit"])
OPTIONS = (
    click.option(
        "--alertmanager",
        "alertmanager",
        multiple=True,
        metavar="URL",
        help="Push alerts to this Alertmanager (repeat for every replica: each gets every alert).",
    ),
    click.option("--alertmanager-bearer-token-file", type=_FILE, help="Bearer token, from a file."),
    click.option("--alertmanager-basic-auth-user", metavar="USER", help="Basic auth user."),
    click.option("--alertmanager-basic-auth-password-file", type=_FILE, help="Its password file."),
    click.option("--alertmanager-ca-file", type=_FILE, help="CA bundle to verify Alertmanager."),
    click.option("--alertmanager-cert-file", type=_FILE, help="Client certificate (mutual TLS)."),
    click.option("--alertmanager-key-file", type=_FILE, help="Client certificate's key."),
    click.option(
        "--alertmanager-insecure-skip-verify", is_flag=True, help="Do not verify its certificate."
    ),
    click.option(
        "--alert-resend-interval",
        default=60.0,
        show_default=True,
        help="Seconds between re-sends of a live alert (its endsAt is 4 times that ahead).",
    ),
    click.option(
        "--alert-resolve-after",
        default=300.0,
        show_default=True,
        help="Seconds without a record after which an alert resolves.",
    ),
    click.option(
        "--alert-resolved-retention",
        default=900.0,
        show_default=True,
        help="Seconds a resolved alert keeps being re-sent.",
    ),
    click.option(
        "--alert-mode",
        "alert_modes",
        multiple=True,
        type=_MODES,
        default=("denied", "killed"),
        show_default=True,
        help="Record modes that raise alerts (allowed = complain mode).",
    ),
    click.option(
        "--alert-queue-limit",
        default=10_000,
        show_default=True,
        help="Live alerts kept at most; past it, new alerts are shed and counted.",
    ),
    click.option(
        "--alert-runbook-url", metavar="URL", help="Where docs/alerts.md is served (runbooks)."
    ),
)


def alertmanager_options(command: F) -> F:
    """Add the alerting options to a click command."""
    for option in reversed(OPTIONS):
        command = option(command)
    return command


def alert_sink(
    values: Mapping[str, Any],
    *,
    node: str,
    registry: CollectorRegistry | None = None,
    clock: Clock | None = None,
    event_logs: tuple[str, ...] = (),
) -> AlertSink | None:
    """The alert sink the options ask for (None without `--alertmanager`).

    Args:
        values: The command's keyword arguments (the options above among them).
        node: The node's name (the alerts' `node` label).
        registry: Where the sink's metrics go; None: the sink's own (`registry.register(sink)`).
        clock: The daemon's clock.
        event_logs: The logs watch reads, for the `aaprof events` command in each alert
            (none: auditd's log).
    """
    if not values.get("alertmanager"):
        return None
    from aaprof.watch.alertmanager import Credentials
    from aaprof.watch.alerts import from_options

    credentials = Credentials(
        bearer_token_file=values.get("alertmanager_bearer_token_file"),
        basic_auth_user=values.get("alertmanager_basic_auth_user"),
        basic_auth_password_file=values.get("alertmanager_basic_auth_password_file"),
        ca_file=values.get("alertmanager_ca_file"),
        cert_file=values.get("alertmanager_cert_file"),
        key_file=values.get("alertmanager_key_file"),
        insecure_skip_verify=bool(values.get("alertmanager_insecure_skip_verify")),
    )
    return from_options(
        alertmanagers=values["alertmanager"],
        node=node,
        credentials=credentials,
        resend_interval=values.get("alert_resend_interval", 60.0),
        resolve_after=values.get("alert_resolve_after", 300.0),
        resolved_retention=values.get("alert_resolved_retention", 900.0),
        modes=values.get("alert_modes") or ("denied", "killed"),
        queue_limit=values.get("alert_queue_limit", 10_000),
        runbook_url=values.get("alert_runbook_url"),
        event_logs=event_logs or ("/var/log/audit/audit.log",),
        registry=registry,
        clock=clock,
    )
