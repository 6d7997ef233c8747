"""The Alertmanager sink of `aaprof watch`: one alert per workload container, profile and class.

`handle()` counts each batch's records into alert state in the daemon's transaction (so an
alert is queued exactly when the checkpoint that read its records advances); `run()` resolves
quiet alerts and delivers to every Alertmanager with Prometheus' notifier semantics, retrying
with backoff until each accepts. docs/alerts.md documents the guarantees and defaults.
"""

from __future__ import annotations

import json
import logging
import shlex
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import Metric

from aaprof.errors import AaprofError
from aaprof.k8s.alerts import DEFAULT_RUNBOOK_URL
from aaprof.model.event import Event
from aaprof.watch import alerts_queue as queue
from aaprof.watch.alertmanager import Credentials, DeliveryError, HttpTransport, endpoint
from aaprof.watch.alerts_keys import (
    Subject,
    identity,
    labels_of,
    sample_of,
    severity_of,
    subject_of,
)

log = logging.getLogger(__name__)
SUMMARIES = {
    "AppArmorDenied": "AppArmor denied operations in a container.",
    "AppArmorComplainModeViolation": "A complain-mode AppArmor profile logged violations.",
}


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class Transport(Protocol):
    def post(self, url: str, body: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """What the sink sends where, and when (defaults in docs/alerts.md).

    Raises:
        AaprofError: No Alertmanager, or a timing that breaks the notifier's invariants.
    """

    alertmanagers: tuple[str, ...]
    node: str = ""
    timing: queue.Timing = field(default_factory=queue.Timing)
    modes: frozenset[str] = frozenset({"DENIED", "KILLED"})
    queue_limit: int = 10_000
    batch_size: int = 256
    backoff_max: float = 60.0
    poll_interval: float = 1.0
    runbook_url: str = DEFAULT_RUNBOOK_URL
    event_logs: tuple[str, ...] = ("/var/log/audit/audit.log",)

    def __post_init__(self) -> None:
        if not self.alertmanagers:
            raise AaprofError("no Alertmanager given")
        t = self.timing
        if not 0 < t.resend <= t.resolve_after:
            raise AaprofError("the resend interval must be > 0 and at most the quiet period")
        if self.queue_limit < 1 or self.batch_size < 1:
            raise AaprofError("the alert queue limit and batch size must be at least 1")


class AlertSink:
    """A watch Sink (aaprof/watch/sink.py) that pushes alerts to Alertmanager."""

    name = "alertmanager"

    def __init__(
        self,
        config: AlertConfig,
        *,
        registry: CollectorRegistry | None = None,
        clock: Clock | None = None,
        transport: Transport | None = None,
        subject: Callable[[Event], Subject] = subject_of,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.transport = transport or HttpTransport()
        self._subject = subject
        self._retry_at: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._keys: dict[tuple[object, ...], str] = {}
        r = registry if registry is not None else CollectorRegistry()
        self.sent = Counter(
            "aaprof_alerts_sent", "Alerts an Alertmanager accepted.", ["alertmanager"], registry=r
        )
        self.failures = Counter(
            "aaprof_alerts_send_failures",
            "Batches an Alertmanager did not accept (retried).",
            ["alertmanager"],
            registry=r,
        )
        self.queue_length = Gauge(
            "aaprof_alerts_queue_length", "Alert deliveries due and not yet accepted.", registry=r
        )
        self.queue_age = Gauge(
            "aaprof_alerts_queue_oldest_age_seconds",
            "How long the delivery due longest has waited.",
            registry=r,
        )
        self.shed = Counter(
            "aaprof_alerts_shed", "Records no alert carries: the queue was full.", registry=r
        )
        for url in config.alertmanagers:
            self.sent.labels(url)
            self.failures.labels(url)

    def collect(self) -> Iterator[Metric]:
        """The sink's metrics, so a registry made after the sink can `register(sink)`."""
        for metric in (self.sent, self.failures, self.queue_length, self.queue_age, self.shed):
            yield from metric.collect()

    # -- in the daemon's transaction -------------------------------------------------------

    def setup(self, conn: sqlite3.Connection) -> None:
        """The tables; and a new quiet period for live alerts, since watch was not reading
        while it was down: records written meanwhile count into the alert they belong to."""
        queue.create(conn, self.config.alertmanagers)
        queue.restart_quiet_periods(conn, self.clock.now())

    def handle(self, conn: sqlite3.Connection, events: Sequence[Event], now: float) -> None:
        groups: dict[str, _Group] = {}
        for event in events:
            if event.mode not in self.config.modes:
                continue
            key = self._identity(event)
            epoch = event.epoch
            seen = epoch if epoch is not None else now
            group = groups.get(key)
            if group is None:
                groups[key] = _Group(seen, sample_of(event))
            else:
                group.add(event, seen)
        batches = [
            queue.Batch(k, g.records, g.first, g.last, tuple(g.samples)) for k, g in groups.items()
        ]
        alerts, records = queue.add(
            conn, batches, now, self.config.alertmanagers, self.config.queue_limit
        )
        if alerts:
            self.shed.inc(records)
            log.warning("alert queue full: %d records of %d new alerts shed", records, alerts)

    def _identity(self, event: Event) -> str:
        """The alert key of a record, cached on what its labels are made of (the subject
        function sees only the container; the node is the sink's)."""
        parts = (event.mode, event.container, event.profile, event.class_, severity_of(event))
        key = self._keys.get(parts)
        if key is None:
            if len(self._keys) >= 65536:
                self._keys.clear()
            key = self._keys[parts] = identity(labels_of(event, self.config.node, self._subject))
        return key

    # -- delivery, in its own thread --------------------------------------------------------

    def run(self, database: Path, stop: threading.Event) -> None:
        conn = sqlite3.connect(database, timeout=30)
        try:
            while not stop.is_set():
                try:
                    self.tick(conn)
                except sqlite3.OperationalError as exc:  # a busy database: next tick
                    conn.rollback()
                    log.warning("alert queue: %s", exc)
                stop.wait(self.config.poll_interval)
        finally:
            conn.close()

    def tick(self, conn: sqlite3.Connection) -> int:
        """Resolve, expire and deliver what is due now; the number of alerts accepted."""
        now = self.clock.now()
        with conn:
            queue.resolve_and_expire(conn, now, self.config.timing)
        accepted = 0
        for url in self.config.alertmanagers:
            if self._retry_at.get(url, 0.0) <= now:
                accepted += self._deliver(conn, url, now)
        length, age = queue.backlog(conn, now, self.config.timing)
        self.queue_length.set(length)
        self.queue_age.set(age)
        return accepted

    def _deliver(self, conn: sqlite3.Connection, url: str, now: float) -> int:
        accepted = 0
        while True:
            batch = queue.due(conn, url, now, self.config.timing, self.config.batch_size)
            if not batch:
                return accepted
            try:
                self._post(url, batch, now)
                done, refused = batch, 0
            except DeliveryError as exc:
                self.failures.labels(url).inc()
                if not exc.rejected:
                    self._back_off(url, now, exc)
                    return accepted
                done, refused = self._one_by_one(url, batch, now)
            with conn:
                queue.mark_sent(conn, url, done, now)
            self.sent.labels(url).inc(len(done) - refused)
            accepted += len(done) - refused
            if len(done) < len(batch):
                return accepted
            self._failures.pop(url, None)

    def _post(self, url: str, batch: Sequence[queue.Due], now: float) -> None:
        body = [self.payload(d, now) for d in batch]
        self.transport.post(url, json.dumps(body, ensure_ascii=False).encode())

    def _one_by_one(
        self, url: str, batch: list[queue.Due], now: float
    ) -> tuple[list[queue.Due], int]:
        """After a 400, each alert alone: one still refused is shed (logged and counted), so
        a payload the Alertmanager cannot take never blocks the others.

        Returns:
            The alerts done with (accepted or refused), in order, and how many were refused.
        """
        done: list[queue.Due] = []
        refused = 0
        for d in batch:
            try:
                self._post(url, [d], now)
            except DeliveryError as exc:
                if not exc.rejected:
                    self._back_off(url, now, exc)
                    break
                refused += 1
                self.shed.inc(d.records)
                log.error("%s refused alert %s: %s", url, d.labels, exc)
            done.append(d)
        return done, refused

    def _back_off(self, url: str, now: float, exc: DeliveryError) -> None:
        n = self._failures[url] = self._failures.get(url, 0) + 1
        delay = min(self.config.backoff_max, 2.0 ** min(n - 1, 16))
        self._retry_at[url] = now + delay
        log.warning("alert delivery failed (%s); retry in %.0f s", exc, delay)

    # -- the payload ----------------------------------------------------------------------

    def payload(self, d: queue.Due, now: float) -> dict[str, object]:
        """One postableAlert (Alertmanager v2), with the alert's state at `now`."""
        labels: dict[str, str] = json.loads(d.labels)
        name = labels["alertname"]
        ends = d.resolved_at if d.resolved_at is not None else now + 4 * self.config.timing.resend
        where = "/".join(p for p in (labels.get("namespace"), labels.get("workload")) if p)
        where = f"{where} ({labels['container']})" if "container" in labels else where
        description = (
            f"{d.records} {labels.get('class', '')} record(s) of profile "
            f"{labels.get('profile', '(none)')} in {where or 'a host program'}"
            f"{' on ' + labels['node'] if 'node' in labels else ''} since {_iso(d.first_seen)}."
        )
        return {
            "labels": labels,
            "annotations": {
                "summary": SUMMARIES.get(name, SUMMARIES["AppArmorDenied"]),
                "description": description,
                "records": str(d.records),
                "first_seen": _iso(d.first_seen),
                "last_seen": _iso(d.last_seen),
                "samples": "\n".join(d.samples),
                "command": self.events_command(labels, d.first_seen),
                "runbook_url": f"{self.config.runbook_url}#{name.lower()}",
            },
            "startsAt": _iso(d.starts_at),
            "endsAt": _iso(ends),
        }

    def events_command(self, labels: dict[str, str], since: float) -> str:
        """The `aaprof events` command that shows the alert's records on its node."""
        mode = "allowed" if labels["alertname"] == "AppArmorComplainModeViolation" else "denied"
        words = ["aaprof", "events", *self.config.event_logs, "--mode", mode]
        if "profile" in labels:
            glob = "".join(f"[{c}]" if c in "*?[" else c for c in labels["profile"])
            words += ["--profile", glob]
        if "class" in labels:
            words += ["--class", labels["class"]]
        words += ["--since", _iso(since - 1)]
        return " ".join(shlex.quote(w) for w in words)


class _Group:
    """One batch's records of one alert."""

    __slots__ = ("first", "last", "records", "samples")

    def __init__(self, seen: float, sample: str) -> None:
        self.records, self.first, self.last, self.samples = 1, seen, seen, [sample]

    def add(self, event: Event, seen: float) -> None:
        self.records += 1
        self.first, self.last = min(self.first, seen), max(self.last, seen)
        if len(self.samples) < queue.MAX_SAMPLES and (s := sample_of(event)) not in self.samples:
            self.samples.append(s)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def from_options(
    *,
    alertmanagers: Sequence[str],
    node: str,
    credentials: Credentials | None = None,
    resend_interval: float = 60.0,
    resolve_after: float = 300.0,
    resolved_retention: float = 900.0,
    modes: Sequence[str] = ("denied", "killed"),
    queue_limit: int = 10_000,
    timeout: float = 10.0,
    runbook_url: str | None = None,
    event_logs: Sequence[str] = ("/var/log/audit/audit.log",),
    registry: CollectorRegistry | None = None,
    clock: Clock | None = None,
) -> AlertSink | None:
    """The sink `aaprof watch --alertmanager URL …` asks for, or None without an Alertmanager.

    Raises:
        AaprofError: A URL is not http(s), or the options break the notifier's invariants.
    """
    if not alertmanagers:
        return None
    for url in alertmanagers:
        endpoint(url)
    config = AlertConfig(
        tuple(dict.fromkeys(alertmanagers)),
        node=node,
        timing=queue.Timing(resend_interval, resolve_after, resolved_retention),
        modes=frozenset(m.upper() for m in modes),
        queue_limit=queue_limit,
        runbook_url=runbook_url or DEFAULT_RUNBOOK_URL,
        event_logs=tuple(event_logs),
    )
    transport = HttpTransport(credentials, timeout)
    return AlertSink(config, registry=registry, clock=clock, transport=transport)
