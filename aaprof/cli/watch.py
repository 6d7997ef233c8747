"""`aaprof watch`: follow the node's AppArmor records, attribute, count, stream, lose none."""

from __future__ import annotations

import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from aaprof.cli.alerts_options import alert_sink, alertmanager_options
from aaprof.cli.image import image_option


@click.command()
@click.argument("logs", nargs=-1, metavar="[LOG]...")
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the checkpoints and counts (SQLite); required to run.",
)
@click.option("--metrics-address", metavar="HOST:PORT", help="Serve /metrics, /healthz, /readyz.")
@click.option("--journal", is_flag=True, help="Follow the system journal.")
@click.option("--journal-path", metavar="PATH", help="Follow this journal directory or file.")
@click.option("--kmsg", is_flag=True, help="Follow /dev/kmsg.")
@click.option("--kmsg-path", metavar="PATH", help="Follow this kmsg device (default /dev/kmsg).")
@click.option(
    "--proc-root",
    type=click.Path(path_type=Path),
    default=Path("/proc"),
    show_default=True,
    help="The host's /proc (pids -> cgroups).",
)
@click.option(
    "--log-root",
    type=click.Path(path_type=Path),
    default=Path("/var/log"),
    show_default=True,
    help="The host's /var/log (kubelet's containers/ and pods/ names).",
)
@click.option(
    "--host-root",
    type=click.Path(path_type=Path),
    default=Path("/"),
    show_default=True,
    help="The host's / (where the source is picked when none is named).",
)
@click.option("--node", help="Node name for records whose lines name none (e.g. $NODE_NAME).")
@click.option("--output", "output_file", metavar="FILE", help="Also append the JSON lines here.")
@click.option(
    "--output-max-bytes",
    type=click.IntRange(1 << 16),
    default=100 << 20,
    show_default=True,
    help="Rotate --output past this size.",
)
@click.option(
    "--output-keep",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Rotated --output files kept.",
)
@click.option(
    "--stdout/--no-stdout",
    "to_stdout",
    default=True,
    show_default=True,
    help="Write the JSON lines on standard output.",
)
@click.option(
    "--max-series",
    type=click.IntRange(1),
    default=2000,
    show_default=True,
    help="Cap on aaprof_watch_records_total series; more go under _overflow_.",
)
@click.option(
    "--poll",
    type=click.FloatRange(0.01, 10),
    default=0.1,
    show_default=True,
    help="Seconds between polls of an idle source.",
)
@click.option("--once", is_flag=True, help="Read what is there, commit, and exit (backfill).")
@click.option(
    "--profiles",
    "profiles_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The profiles as loaded (the loader's directory): a record's rule they allow is not "
    "new (readiness; read again on SIGHUP).",
)
@click.option(
    "--base",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/etc/apparmor.d"),
    show_default=True,
    help="Where --profiles' <includes> resolve.",
)
@click.option(
    "--manifests",
    "manifests_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the watch DaemonSet manifests to this directory and exit.",
)
@image_option("the DaemonSet of --manifests runs")
@click.option(
    "--namespace",
    "k8s_namespace",
    default="aaprof-system",
    show_default=True,
    help="With --manifests: the namespace of the DaemonSet.",
)
@alertmanager_options
def watch(
    logs: tuple[str, ...],
    state_dir: Path | None,
    metrics_address: str | None,
    journal: bool,
    journal_path: str | None,
    kmsg: bool,
    kmsg_path: str | None,
    proc_root: Path,
    log_root: Path,
    host_root: Path,
    node: str | None,
    output_file: str | None,
    output_max_bytes: int,
    output_keep: int,
    to_stdout: bool,
    max_series: int,
    poll: float,
    once: bool,
    profiles_dir: Path | None,
    base: Path,
    manifests_dir: Path | None,
    image: str,
    k8s_namespace: str,
    **alerting: Any,
) -> None:
    """Follow the node's AppArmor records: one JSON event per line, Prometheus metrics, and
    checkpoints so that nothing is lost across restarts, rotation or crashes (docs/watch.md).

    With no LOG, --journal or --kmsg it picks what the node has: auditd's log when auditd runs,
    else the journal, else /dev/kmsg, and says which.

    \b
    Examples:
      aaprof watch --state /var/lib/aaprof-watch --metrics-address 0.0.0.0:9750
      aaprof watch /var/log/audit/audit.log --state ./state --once
      aaprof watch --manifests deploy/watch
    """
    if manifests_dir is not None:
        from aaprof.k8s.watch import WatchManifest, write_manifests

        for path in write_manifests(
            WatchManifest(image=image, namespace=k8s_namespace), manifests_dir
        ):
            click.echo(str(path))
        return
    if state_dir is None:
        raise click.UsageError("--state DIR is required (it holds the checkpoints)")
    from aaprof.watch.run import Options, run_watch
    from aaprof.watch.sink import Sink

    sinks: list[Sink] = []
    # the `node` label of pushed alerts and of the record counters: the same on both paths
    node_label = node or socket.gethostname()
    sink = alert_sink(alerting, node=node_label, event_logs=tuple(str(p) for p in logs))
    if sink is not None:
        sinks.append(sink)
    stop = threading.Event()
    options = Options(
        sinks=sinks,
        logs=list(logs),
        state=state_dir,
        metrics_address=metrics_address,
        journal=journal or journal_path is not None,
        journal_path=journal_path,
        kmsg=kmsg or kmsg_path is not None,
        kmsg_path=kmsg_path,
        proc_root=proc_root,
        log_root=log_root,
        node=node,
        node_label=node_label,
        output_file=output_file,
        output_max_bytes=output_max_bytes,
        output_keep=output_keep,
        max_series=max_series,
        poll=poll,
        once=once,
        profiles=profiles_dir,
        base=base,
    )

    def say(message: str) -> None:
        click.echo(f"aaprof watch: {message}", err=True)

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    out = sys.stdout.buffer if to_stdout else open("/dev/null", "wb")  # noqa: SIM115
    run_watch(options, stop, out, say, on_hup=lambda f: signal.signal(signal.SIGHUP, f))
