"""A stand-in for watch's daemon loop: each batch handed to the sinks in one transaction that
also advances a checkpoint, then committed (the contract of aaprof/watch/sink.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from aaprof.model.event import Container, Event
from aaprof.watch.sink import Sink


class FakeDaemon:
    def __init__(self, database: Path, sinks: Sequence[Sink]) -> None:
        self.conn = sqlite3.connect(database)
        self.sinks = sinks
        with self.conn:
            self.conn.execute("CREATE TABLE IF NOT EXISTS checkpoint (n INTEGER)")
            for sink in sinks:
                sink.setup(self.conn)

    def feed(self, events: Sequence[Event], now: float) -> None:
        with self.conn:
            for sink in self.sinks:
                sink.handle(self.conn, events, now)
            self.conn.execute("INSERT INTO checkpoint VALUES (?)", (len(events),))

    def close(self) -> None:
        self.conn.close()


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t


def denial(
    at: float,
    *,
    profile: str = "k8s-web",
    namespace: str = "shop",
    pod: str = "web-7d9f8c6b5d-x2x4q",
    container: str = "nginx",
    name: str = "/etc/nginx/secret.conf",
    mode: str = "DENIED",
) -> Event:
    """A denied file read by a container."""
    return Event(
        mode=mode,
        operation="open",
        class_="file",
        time=datetime.fromtimestamp(at, UTC),
        profile=profile,
        name=name,
        requested="r",
        denied="r",
        pid=1234,
        comm="nginx",
        container=Container(namespace=namespace, pod=pod, name=container),
    )


def capability(at: float, capname: str = "sys_admin", **kwargs: str) -> Event:
    return denial(at, **kwargs).replace(
        operation="capable", class_="cap", name=None, requested=None, denied=None, capname=capname
    )
