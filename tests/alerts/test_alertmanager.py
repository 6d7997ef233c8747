"""The sink against real Alertmanagers (Debian's prometheus-alertmanager on 127.0.0.1)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from aaprof.watch.alerts import AlertConfig, AlertSink, SystemClock
from aaprof.watch.alerts_keys import LABELS
from alerts.daemon import FakeDaemon, capability, denial
from alerts.servers import Alertmanager


def sink(*servers: Alertmanager, registry: CollectorRegistry | None = None) -> AlertSink:
    config = AlertConfig(tuple(s.url for s in servers), node="node-1")
    return AlertSink(config, registry=registry or CollectorRegistry(), clock=SystemClock())


def by_container(server: Alertmanager) -> dict[str, dict[str, Any]]:
    return {a["labels"]["container"]: a for a in server.alerts()}


def test_alerts_land_deduplicated_with_labels_and_counts(
    tmp_path: Path, alertmanager: Alertmanager
) -> None:
    s = sink(alertmanager)
    daemon = FakeDaemon(tmp_path / "state.db", [s])
    now = time.time()
    for _ in range(5):
        daemon.feed([denial(now)] * 40, time.time())
        daemon.feed([capability(now)], time.time())
    assert s.tick(daemon.conn) == 2
    alerts = alertmanager.alerts()
    assert len(alerts) == 2  # 205 records, 2 alerts
    file_alert = next(a for a in alerts if a["labels"]["class"] == "file")
    assert file_alert["labels"] == {
        "alertname": "AppArmorDenied",
        "severity": "warning",
        "namespace": "shop",
        "workload": "web",
        "container": "nginx",
        "profile": "k8s-web",
        "class": "file",
        "node": "node-1",
    }
    assert file_alert["annotations"]["records"] == "200"
    assert file_alert["status"]["state"] == "active"
    cap = next(a for a in alerts if a["labels"]["class"] == "cap")
    assert cap["labels"]["severity"] == "critical"
    assert cap["annotations"]["records"] == "5"
    # a resend updates the same alert, it does not add one
    daemon.feed([denial(now)] * 7, time.time())
    s.clock = _Later(60)
    s.tick(daemon.conn)
    alerts = alertmanager.alerts()
    assert len(alerts) == 2
    assert next(a for a in alerts if a["labels"]["class"] == "file")["annotations"]["records"] == (
        "207"
    )


class _Later:
    """The system clock, `ahead` seconds ahead (a resend interval without waiting for it)."""

    def __init__(self, ahead: float) -> None:
        self.ahead = ahead

    def now(self) -> float:
        return time.time() + self.ahead


def test_two_replicas_both_receive_every_alert(
    tmp_path: Path, alertmanager: Alertmanager, alertmanager2: Alertmanager
) -> None:
    s = sink(alertmanager, alertmanager2)
    daemon = FakeDaemon(tmp_path / "state.db", [s])
    daemon.feed([denial(time.time(), container=f"c{i}") for i in range(20)], time.time())
    assert s.tick(daemon.conn) == 40
    for server in (alertmanager, alertmanager2):
        got = by_container(server)
        assert set(got) == {f"c{i}" for i in range(20)}
        assert {a["annotations"]["records"] for a in got.values()} == {"1"}


def test_outage_and_restart_lose_no_alert_and_counts_equal_records(
    tmp_path: Path, alertmanager: Alertmanager, alertmanager2: Alertmanager
) -> None:
    written: dict[str, int] = {}

    def feed(daemon: FakeDaemon, container: str, n: int) -> None:
        daemon.feed([denial(time.time(), container=container)] * n, time.time())
        written[container] = written.get(container, 0) + n

    alertmanager.stop()
    first = sink(alertmanager, alertmanager2)
    daemon = FakeDaemon(tmp_path / "state.db", [first])
    for i in range(6):
        feed(daemon, f"c{i}", i + 1)
    first.tick(daemon.conn)  # the replica that is up gets them; the other is owed them
    daemon.close()  # watch is killed: a new process opens the same database
    registry = CollectorRegistry()
    second = sink(alertmanager, alertmanager2, registry=registry)
    daemon = FakeDaemon(tmp_path / "state.db", [second])
    for i in range(3, 9):
        feed(daemon, f"c{i}", 10)
    second.tick(daemon.conn)
    assert (
        registry.get_sample_value("aaprof_alerts_queue_length") == 9
    )  # every alert owed to the replica that is down
    alertmanager.start()
    second._retry_at.clear()  # the back-off would retry within the minute
    second.clock = _Later(60)
    second.tick(daemon.conn)
    assert registry.get_sample_value("aaprof_alerts_queue_length") == 0
    for server in (alertmanager, alertmanager2):
        counts = {c: int(a["annotations"]["records"]) for c, a in by_container(server).items()}
        assert counts == written


HOSTILE = [
    "new\nline",
    'quote"s',
    "brace}",
    "equals=x",
    '"}, alertname="Fake", severity="none',
    "bad\udcffbyte",
    "tab\tand\x00nul",
]


def test_the_alertmanager_accepts_hostile_names_as_values(
    tmp_path: Path, alertmanager: Alertmanager
) -> None:
    s = sink(alertmanager)
    daemon = FakeDaemon(tmp_path / "state.db", [s])
    now = time.time()
    daemon.feed([denial(now, profile=h, container=h, name=h, namespace=h) for h in HOSTILE], now)
    assert s.tick(daemon.conn) == len(HOSTILE)
    got = alertmanager.alerts()
    assert len(got) == len(HOSTILE)
    assert {a["labels"]["profile"] for a in got} == {h.replace("\udcff", "\\xff") for h in HOSTILE}
    for a in got:
        assert tuple(sorted(a["labels"])) == tuple(sorted(LABELS))
        assert a["labels"]["alertname"] == "AppArmorDenied"


def test_run_delivers_in_its_thread_and_stops(tmp_path: Path, alertmanager: Alertmanager) -> None:
    s = sink(alertmanager)
    daemon = FakeDaemon(tmp_path / "state.db", [s])
    daemon.feed([denial(time.time())], time.time())
    stop = threading.Event()
    thread = threading.Thread(target=s.run, args=(tmp_path / "state.db", stop))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not alertmanager.alerts() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(alertmanager.alerts()) == 1
