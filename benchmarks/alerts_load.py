"""Alert load: N denials/s over W workloads for S seconds through watch's alert sink.

The sink runs as the daemon drives it (each batch handled in a transaction on a state database
on disk, delivery ticks once a second) under a simulated clock, so a 60 s load takes the CPU
time it costs, not 60 s. Alertmanager is a counting transport by default, or a real one
(`--alertmanager URL`). The reference, in the same run, is the cost of encoding each record as
a JSON line (what watch writes for every record anyway) and what a per-record alerter sends:
one alert per record.

    .venv/bin/python benchmarks/alerts_load.py [--rate 10000] [--workloads 500] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from aaprof.model.event import Container, Event
from aaprof.watch.alertmanager import HttpTransport
from aaprof.watch.alerts import AlertConfig, AlertSink

START = 1_800_000_000.0
BATCH = 1000


@dataclass(frozen=True, slots=True)
class Result:
    records: int
    workloads: int
    seconds: int
    resend: float
    alerts_sent: int
    posts: int
    records_counted: int
    sink_cpu: float
    json_cpu: float

    @property
    def bound(self) -> int:
        """Workloads × (first send + one resend per interval)."""
        return int(self.workloads * (1 + self.seconds // self.resend))


class Clock:
    def __init__(self) -> None:
        self.t = START

    def now(self) -> float:
        return self.t


class Counting:
    """Counts alerts and requests; passes them on to a real transport, or accepts them."""

    def __init__(self, inner: HttpTransport | None = None) -> None:
        self.alerts = 0
        self.posts = 0
        self.inner = inner

    def post(self, url: str, body: bytes) -> None:
        if self.inner is not None:
            self.inner.post(url, body)
        self.posts += 1
        self.alerts += len(json.loads(body))


def events(rate: int, workloads: int, second: int) -> list[Event]:
    """One second of denials: file reads spread round-robin over the workloads."""
    at = datetime.fromtimestamp(START + second, UTC)
    out = []
    for i in range(rate):
        w = i % workloads
        out.append(
            Event(
                mode="DENIED",
                operation="open",
                class_="file",
                time=at,
                profile=f"k8s-app-{w}",
                name=f"/srv/data/{i % 50}.db",
                requested="r",
                denied="r",
                pid=1000 + w,
                container=Container(namespace=f"ns{w % 20}", pod=f"app-{w}-0", name="main"),
            )
        )
    return out


def run(rate: int, workloads: int, seconds: int, alertmanager: str | None = None) -> Result:
    clock = Clock()
    counting = Counting(HttpTransport() if alertmanager else None)
    url = alertmanager or "http://counting"
    registry = CollectorRegistry()
    sink = AlertSink(
        AlertConfig((url,), node="bench"),
        registry=registry,
        clock=clock,
        transport=counting,
    )
    sink_cpu = json_cpu = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "state.db")
        conn.execute("PRAGMA journal_mode=WAL")
        with conn:
            sink.setup(conn)
        for second in range(seconds):
            load = events(rate, workloads, second)
            started = time.process_time()
            for i in range(0, len(load), BATCH):
                with conn:
                    sink.handle(conn, load[i : i + BATCH], clock.now())
            sink.tick(conn)
            sink_cpu += time.process_time() - started
            started = time.process_time()
            for event in load:
                json.dumps(event.to_dict())
            json_cpu += time.process_time() - started
            clock.t += 1
        sink.tick(conn)  # the resend due at the end of the last second
        (counted,) = conn.execute("SELECT SUM(records) FROM alert_state").fetchone()
        conn.close()
    sent = registry.get_sample_value("aaprof_alerts_sent_total", {"alertmanager": url}) or 0
    return Result(
        rate * seconds,
        workloads,
        seconds,
        sink.config.timing.resend,
        int(sent),
        counting.posts,
        int(counted),
        sink_cpu,
        json_cpu,
    )


def table(r: Result) -> str:
    per_record = r.records  # a per-record alerter sends one alert per record
    return "\n".join(
        [
            "| measure | value |",
            "|---|---|",
            f"| records (denials) | {r.records:,} over {r.workloads} workloads in {r.seconds} s |",
            f"| records counted in alerts | {r.records_counted:,} |",
            f"| alerts sent (aaprof) | {r.alerts_sent:,} in {r.posts:,} requests |",
            f"| bound: workloads × (1 + {r.seconds} s / {r.resend:g} s resend) | {r.bound:,} |",
            f"| alerts a per-record alerter sends | {per_record:,} "
            f"({per_record / max(r.alerts_sent, 1):,.0f}× aaprof) |",
            f"| sink CPU (handle + delivery) | {r.sink_cpu:.2f} s for {r.seconds} s of load "
            f"= {100 * r.sink_cpu / r.seconds:.0f}% of one core |",
            f"| reference: JSON-encoding each record | {r.json_cpu:.2f} s "
            f"(sink = {r.sink_cpu / r.json_cpu:.2f}× it) |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=10_000, help="denials per second")
    parser.add_argument("--workloads", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--alertmanager", help="a real Alertmanager's URL (default: counting)")
    args = parser.parse_args(argv)
    result = run(args.rate, args.workloads, args.seconds, args.alertmanager)
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
