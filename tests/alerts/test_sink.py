"""The alert sink's notifier semantics under a fake clock: what is sent when, and the queue."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from aaprof.errors import AaprofError
from aaprof.model.event import Event
from aaprof.watch.alertmanager import DeliveryError
from aaprof.watch.alerts import AlertConfig, AlertSink
from aaprof.watch.alerts_keys import LABELS, identity, labels_of, sample_of, text
from aaprof.watch.alerts_queue import Due, Timing
from alerts.daemon import FakeClock, FakeDaemon, capability, denial

A, B = "http://am-a:9093", "http://am-b:9093"


class Recorder:
    """The network, recorded: every body posted, per URL; `down` URLs refuse to connect."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, list[dict[str, Any]]]] = []
        self.down: set[str] = set()
        self.refuse: str | None = None

    def post(self, url: str, body: bytes) -> None:
        if url in self.down:
            raise DeliveryError(f"{url}: connection refused")
        alerts = json.loads(body)
        if self.refuse and any(self.refuse in json.dumps(a) for a in alerts):
            raise DeliveryError(f"{url}: HTTP 400 bad alert", rejected=True)
        self.posts.append((url, alerts))

    def take(self, url: str | None = None) -> list[dict[str, Any]]:
        out = [a for u, batch in self.posts if url in (None, u) for a in batch]
        self.posts.clear()
        return out


class World:
    def __init__(self, tmp_path: Path, targets: tuple[str, ...] = (A,), **config: Any) -> None:
        self.clock = FakeClock()
        self.net = Recorder()
        self.registry = CollectorRegistry()
        self.sink = AlertSink(
            AlertConfig(targets, node="node-1", **config),
            registry=self.registry,
            clock=self.clock,
            transport=self.net,
        )
        self.daemon = FakeDaemon(tmp_path / "state.db", [self.sink])

    def feed(self, *events: Event) -> None:
        self.daemon.feed(events, self.clock.now())

    def tick(self, advance: float = 0) -> list[dict[str, Any]]:
        self.clock.t += advance
        self.sink.tick(self.daemon.conn)
        return self.net.take()

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_first_record_is_sent_at_once_with_its_labels(world: World) -> None:
    now = world.clock.now()
    world.feed(denial(now - 2))
    (alert,) = world.tick()
    assert alert["labels"] == {
        "alertname": "AppArmorDenied",
        "severity": "warning",
        "namespace": "shop",
        "workload": "web",
        "container": "nginx",
        "profile": "k8s-web",
        "class": "file",
        "node": "node-1",
    }
    notes = alert["annotations"]
    assert notes["records"] == "1"
    assert notes["samples"] == "open /etc/nginx/secret.conf (r)"
    assert notes["command"].startswith(
        "aaprof events /var/log/audit/audit.log --mode denied --profile k8s-web --class file "
        "--since "
    )
    assert notes["runbook_url"].endswith("#apparmordenied")
    assert alert["startsAt"] < alert["endsAt"]


def test_records_are_counted_not_sent_and_resent_every_interval(world: World) -> None:
    t0 = world.clock.now()
    world.feed(denial(t0))
    assert len(world.tick()) == 1
    for _ in range(100):
        world.feed(denial(t0), denial(t0, name="/etc/other"))
    assert world.tick(30) == []  # new records change no label: they wait for the resend
    (resent,) = world.tick(30)
    assert resent["annotations"]["records"] == "201"
    assert resent["annotations"]["samples"].splitlines() == [
        "open /etc/nginx/secret.conf (r)",
        "open /etc/other (r)",
    ]
    assert resent["endsAt"] > resent["startsAt"]


def test_ends_at_rolls_four_resend_intervals_ahead(world: World) -> None:
    world.feed(denial(world.clock.now()))
    first = world.tick()[0]
    second = world.tick(60)[0]
    assert first["startsAt"] == second["startsAt"]
    assert second["endsAt"] > first["endsAt"]
    ends = datetime.fromisoformat(second["endsAt"].replace("Z", "+00:00")).timestamp()
    assert ends == pytest.approx(world.clock.now() + 240, abs=0.01)


def test_a_quiet_alert_resolves_is_resent_resolved_then_forgotten(world: World) -> None:
    world.feed(denial(world.clock.now()))
    world.tick()
    for _ in range(4):
        assert world.tick(60)[0]["annotations"]["records"] == "1"
    (resolved,) = world.tick(60)  # 300 s quiet

    ends = datetime.fromisoformat(resolved["endsAt"].replace("Z", "+00:00")).timestamp()
    assert ends == pytest.approx(world.clock.now(), abs=0.01)
    resends = [world.tick(60) for _ in range(15)]
    assert all(len(r) == 1 and r[0]["endsAt"] == resolved["endsAt"] for r in resends[:14])
    assert resends[14] == []  # 900 s of retention are over
    assert world.daemon.conn.execute("SELECT COUNT(*) FROM alert_state").fetchone() == (0,)


def test_a_record_after_resolution_starts_a_new_episode(world: World) -> None:
    world.feed(denial(world.clock.now()))
    first = world.tick()[0]
    world.tick(300)
    world.feed(denial(world.clock.now()), denial(world.clock.now()))
    (again,) = world.tick(1)
    assert again["labels"] == first["labels"]
    assert again["startsAt"] > first["startsAt"]
    assert again["annotations"]["records"] == "2"


def test_critical_records_get_their_own_critical_alert(world: World) -> None:
    now = world.clock.now()
    world.feed(capability(now), capability(now, "chown"), denial(now, name="/proc/sys/kernel/x"))
    alerts = {(a["labels"]["class"], a["labels"]["severity"]): a for a in world.tick()}
    assert set(alerts) == {("cap", "critical"), ("cap", "warning"), ("file", "warning")}
    assert alerts["cap", "critical"]["annotations"]["samples"] == "capable capability sys_admin"


def test_writes_under_proc_sys_are_critical(world: World) -> None:
    now = world.clock.now()
    write = denial(now, name="/proc/sys/kernel/core_pattern").replace(requested="w", denied="w")
    world.feed(write)
    assert world.tick()[0]["labels"]["severity"] == "critical"


def test_every_alertmanager_gets_every_alert(tmp_path: Path) -> None:
    w = World(tmp_path, (A, B))
    w.feed(*(denial(w.clock.now(), container=f"c{i}") for i in range(3)))
    w.sink.tick(w.daemon.conn)
    assert len(w.net.posts) == 2
    assert [len(batch) for _, batch in w.net.posts] == [3, 3]
    assert w.metric("aaprof_alerts_sent_total", alertmanager=A) == 3
    assert w.metric("aaprof_alerts_sent_total", alertmanager=B) == 3


def test_an_outage_delays_but_loses_nothing_and_backs_off(tmp_path: Path) -> None:
    w = World(tmp_path, (A, B))
    w.net.down.add(A)
    w.feed(denial(w.clock.now()))
    assert len(w.tick()) == 1  # B got it
    assert w.metric("aaprof_alerts_send_failures_total", alertmanager=A) == 1
    assert w.metric("aaprof_alerts_queue_length") == 1
    w.feed(*[denial(w.clock.now())] * 9)
    w.tick(0.5)  # inside the back-off: A is not tried again
    assert w.metric("aaprof_alerts_send_failures_total", alertmanager=A) == 1
    for _ in range(30):
        w.tick(10)
    failures = w.metric("aaprof_alerts_send_failures_total", alertmanager=A)
    assert 3 <= failures <= 12  # backed off exponentially (1, 2, 4 … 60 s), not every tick
    assert w.metric("aaprof_alerts_queue_oldest_age_seconds") >= 290
    w.net.down.clear()
    w.clock.t += 60  # the longest back-off
    w.sink.tick(w.daemon.conn)
    assert [a["annotations"]["records"] for a in w.net.take(A)] == ["10"]
    assert w.metric("aaprof_alerts_queue_length") == 0


def test_restart_on_the_same_database_keeps_state_and_queue(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.net.down.add(A)
    w.feed(*[denial(w.clock.now())] * 5)
    w.tick()
    w.daemon.close()
    again = World(tmp_path)
    again.clock.t = w.clock.t + 30
    again.feed(*[denial(again.clock.now())] * 4)
    (alert,) = again.tick()
    assert alert["annotations"]["records"] == "9"


def test_a_restart_after_a_long_stop_does_not_resolve_before_reading_the_backlog(
    tmp_path: Path,
) -> None:
    w = World(tmp_path)
    w.feed(*[denial(w.clock.now())] * 3)
    w.tick()
    w.daemon.close()
    again = World(tmp_path)  # watch was down for an hour
    again.clock.t = w.clock.t + 3600
    FakeDaemon(tmp_path / "state.db", [again.sink])  # the daemon's start: setup
    (resent,) = again.tick()  # the resend that was due, still firing (endsAt ahead)
    ends = datetime.fromisoformat(resent["endsAt"].replace("Z", "+00:00")).timestamp()
    assert ends == pytest.approx(again.clock.now() + 240, abs=0.01)
    again.feed(*[denial(w.clock.t + 60)] * 4)  # the backlog written while it was down
    (alert,) = again.tick(60)
    assert alert["annotations"]["records"] == "7"
    assert alert["endsAt"] > alert["startsAt"]


def test_a_full_queue_sheds_resolved_alerts_first_then_counts_what_it_sheds(
    tmp_path: Path,
) -> None:
    w = World(tmp_path, queue_limit=2)
    w.feed(denial(w.clock.now(), container="a"))
    w.tick()
    w.tick(300)  # a resolves
    w.feed(denial(w.clock.now(), container="b"), denial(w.clock.now(), container="c"))
    assert w.metric("aaprof_alerts_shed_total") == 0  # a was dropped for c
    w.feed(*[denial(w.clock.now(), container="d")] * 3)
    assert w.metric("aaprof_alerts_shed_total") == 3
    rows = w.daemon.conn.execute("SELECT name, value FROM alert_meta").fetchall()
    assert dict(rows) == {"shed_alerts": 1, "shed_records": 3}


def test_a_refused_alert_does_not_block_the_others(world: World) -> None:
    world.net.refuse = "refuse-me"
    now = world.clock.now()
    world.feed(denial(now, container="good"), denial(now, container="refuse-me"))
    sent = world.tick()
    assert [a["labels"]["container"] for a in sent] == ["good"]
    assert world.metric("aaprof_alerts_shed_total") == 1
    assert world.metric("aaprof_alerts_sent_total", alertmanager=A) == 1
    assert world.tick(1) == []  # not retried forever


HOSTILE = 'evil\n"}, alertname="Fake", x="\\\udcff=}{'


def test_hostile_names_never_add_a_label(world: World) -> None:
    world.feed(denial(world.clock.now(), profile=HOSTILE, container=HOSTILE, namespace=HOSTILE))
    (alert,) = world.tick()
    assert set(alert["labels"]) == {
        "alertname", "severity", "namespace", "workload", "container", "profile", "class", "node"
    }  # fmt: skip
    assert alert["labels"]["alertname"] == "AppArmorDenied"
    assert alert["labels"]["profile"] == HOSTILE.replace("\udcff", "\\xff")
    assert "\\xff" in alert["annotations"]["command"]


def test_modes_other_than_denied_are_not_alerted_by_default(world: World) -> None:
    world.feed(denial(world.clock.now(), mode="ALLOWED"), denial(world.clock.now(), mode="AUDIT"))
    assert world.tick() == []


def test_complain_mode_alerts_when_asked(tmp_path: Path) -> None:
    w = World(tmp_path, modes=frozenset({"ALLOWED"}))
    w.feed(denial(w.clock.now(), mode="ALLOWED"))
    (alert,) = w.tick()
    assert alert["labels"]["alertname"] == "AppArmorComplainModeViolation"
    assert " --mode allowed " in alert["annotations"]["command"]


def test_bad_configuration_is_one_clear_error() -> None:
    with pytest.raises(AaprofError, match="no Alertmanager"):
        AlertConfig(())
    with pytest.raises(AaprofError, match="resend interval"):
        AlertConfig((A,), timing=Timing(resend=600, resolve_after=300))


def test_the_sink_is_a_collector_for_a_registry_made_after_it(tmp_path: Path) -> None:
    sink = AlertSink(AlertConfig((A,)), clock=FakeClock(), transport=Recorder())
    registry = CollectorRegistry()
    registry.register(sink)
    assert registry.get_sample_value("aaprof_alerts_sent_total", {"alertmanager": A}) == 0
    assert registry.get_sample_value("aaprof_alerts_queue_length") == 0


names = st.text(st.characters(codec="utf-8") | st.sampled_from('\n"}{=\\\udcff\x00'), max_size=40)


@given(profile=names, container=names, path=names)
@settings(max_examples=200, deadline=None)
def test_any_names_make_one_valid_payload_with_the_fixed_labels(
    profile: str, container: str, path: str
) -> None:
    event = denial(0, profile=profile, container=container, namespace=container, name=path)
    labels = labels_of(event, "node-1")
    assert set(labels) <= set(LABELS)
    assert {"alertname", "severity", "class", "node"} <= set(labels)
    if profile:
        assert labels["profile"] == text(profile)
    due = Due(1, identity(labels), 0.0, 0.0, 0.0, 1, (sample_of(event),), None, 1)
    sink = AlertSink(AlertConfig((A,)), clock=FakeClock(), transport=Recorder())
    body = json.dumps([sink.payload(due, 10.0)], ensure_ascii=False).encode()
    (back,) = json.loads(body.decode("utf-8"))
    assert back["labels"] == labels
