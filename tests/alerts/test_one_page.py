"""One denial seen by both alert paths pages once: watch's push and the shipped rule pack,
evaluated by a real Prometheus over watch's own exposition, reach one real Alertmanager as one
alert (the same name and labels), so its receiver gets one notification, whichever path's alert
arrives first.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, start_http_server

from aaprof.k8s.alerts import RulePackOptions, render_rule_pack, write_rule_pack
from aaprof.model.event import Event
from aaprof.watch.alerts import AlertConfig, AlertSink
from aaprof.watch.alerts_keys import severity_of
from aaprof.watch.attribution import Attribution
from aaprof.watch.exposition import registry_for
from aaprof.watch.metrics import CRITICAL, Metrics, Tally
from alerts.daemon import FakeDaemon, denial
from alerts.servers import Alertmanager, Prometheus, free_port, poll

NODE = "node-1"


class Receiver:
    """A webhook receiver: every notification Alertmanager sends, as its JSON body."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def count(metrics: Metrics, event: Event) -> None:
    """What watch's daemon counts for a record (aaprof/watch/daemon.py), committed."""
    tally = Tally()
    who = Attribution("shop", "web", "nginx")
    key = metrics.count_record(tally, who, event.profile, event.mode, event.class_, None)
    if severity_of(event) == "critical":
        tally.add(CRITICAL, key)
    metrics.apply(tally)


def am_metric(alertmanager: Alertmanager, name: str) -> float:
    with urllib.request.urlopen(f"{alertmanager.url}/metrics", timeout=10) as response:
        lines = response.read().decode().splitlines()
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in lines if line.split("{")[0].split(" ")[0] == name
    )


def groups(alertmanager: Alertmanager) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{alertmanager.url}/api/v2/alerts/groups", timeout=10) as r:
        result = json.load(r)
    assert isinstance(result, list)
    return [g for g in result if g["alerts"]]


@pytest.mark.parametrize("first", ["push", "rules"])
def test_one_denial_seen_by_both_paths_gives_one_notification(
    tmp_path: Path, receiver: Receiver, first: str
) -> None:
    alertmanager = Alertmanager(tmp_path / "am")
    (alertmanager.directory / "alertmanager.yml").write_text(
        json.dumps(
            {
                # the routing docs/alerts.md suggests, every alert to one pager
                "route": {
                    "receiver": "pager",
                    "group_by": ["alertname", "namespace", "workload"],
                    "group_wait": "1s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "pager",
                        "webhook_configs": [{"url": receiver.url, "send_resolved": False}],
                    }
                ],
            }
        )
    )
    alertmanager.start()
    metrics = Metrics({})
    port = free_port()
    server, thread = start_http_server(
        port, addr="127.0.0.1", registry=registry_for(metrics, process=False, node=NODE)
    )
    sink = AlertSink(AlertConfig((alertmanager.url,), node=NODE), registry=CollectorRegistry())
    daemon = FakeDaemon(tmp_path / "state.db", [sink])
    written = write_rule_pack(tmp_path / "pack", render_rule_pack(RulePackOptions()))
    prometheus = Prometheus(tmp_path / "prom", written[0], [f"127.0.0.1:{port}"], alertmanager)
    prometheus.start()
    shadow = denial(time.time(), name="/etc/shadow")
    assert severity_of(shadow) == "critical"
    try:
        # An earlier record of the same container, long resolved: Prometheus has seen the
        # series, so the rules see the denial's increment (a first-ever series needs a
        # target scraped 5 minutes ago, docs/alerts.md).
        count(metrics, shadow)
        poll(lambda: prometheus.query(CRITICAL), "a scrape of the series")

        def push() -> None:
            daemon.feed([shadow], time.time())
            assert sink.tick(daemon.conn) == 1

        def from_prometheus() -> bool:
            return any(a.get("generatorURL") for a in alertmanager.alerts())

        def from_watch() -> bool:
            return any("records" in a["annotations"] for a in alertmanager.alerts())

        if first == "push":
            push()
            poll(lambda: receiver.notifications, "the push's notification")
            count(metrics, shadow)
            poll(from_prometheus, "the rule pack's alert from Prometheus")
        else:
            count(metrics, shadow)
            poll(lambda: receiver.notifications, "the rule pack's notification")
            push()
            poll(from_watch, "watch's push")
        # every aggregation group flushes at least twice more (each flush asks the notification
        # log once): what either arrival would send has been sent by then
        seen = am_metric(alertmanager, "alertmanager_nflog_queries_total")
        live = am_metric(alertmanager, "alertmanager_dispatcher_aggregation_groups")
        assert live >= 1
        poll(
            lambda: am_metric(alertmanager, "alertmanager_nflog_queries_total") >= seen + 3 * live,
            "the groups to flush again",
        )
        held = groups(alertmanager)
    finally:
        prometheus.stop()
        server.shutdown()
        thread.join(timeout=10)
        alertmanager.stop()
        daemon.close()
    names = [[a["labels"]["alertname"] for a in g["alerts"]] for g in held]
    assert names == [["AppArmorDenied"]], f"groups: {names}"
    sent = [[a["labels"] for a in n["alerts"]] for n in receiver.notifications]
    assert len(sent) == 1, f"notifications: {sent}"
    assert sent[0] == [
        {
            "alertname": "AppArmorDenied",
            "severity": "critical",
            "namespace": "shop",
            "workload": "web",
            "container": "nginx",
            "profile": "k8s-web",
            "class": "file",
            "node": NODE,
        }
    ]
