"""A real Prometheus evaluates the rule pack's readiness alerts against a running `aaprof watch`.

A complain-mode profile whose new rules stopped two hours ago (the records' own stamps), with
enough records and a replica, is ready (--ready-after 1h), even one that still logs records of
rules it met then; one whose last record needed a new rule just now is not. An enforced
profile that meets a rule it never saw raises AppArmorNewBehaviourInEnforcedProfile; a denial
of a rule already seen adds no new rule.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aaprof.k8s.alerts import RulePackOptions, render_rule_pack, write_rule_pack
from alerts.servers import Alertmanager, Prometheus, free_port, poll

READY = "aaprof.shop.web-7d9f8c6b5d-x2x4z.nginx"
LEARNING = "aaprof.shop.api-5c4b3a2d1e-q9q8r.app"
ENFORCED = "aaprof.shop.db-6f5e4d3c2b-z1z2z.pg"
REPEATING = "aaprof.shop.cache-4e3d2c1b0a-k7k7k.redis"


def record(stamp: float, serial: int, mode: str, profile: str, name: str) -> str:
    return (
        f'type=AVC msg=audit({int(stamp)}.{serial % 1000:03d}:{serial}): apparmor="{mode}" '
        f'operation="open" class="file" profile="{profile}" name="{name}" pid=999999 '
        'comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=0\n'
    )


def firing(prometheus: Prometheus, alert: str) -> set[str]:
    result = prometheus.query(f'ALERTS{{alertname="{alert}", alertstate="firing"}}')
    return {r["metric"]["profile"] for r in result}


def test_prometheus_evaluates_readiness_against_a_running_watch(
    tmp_path: Path, alertmanager: Alertmanager
) -> None:
    log, empty = tmp_path / "audit.log", tmp_path / "empty"
    empty.mkdir()
    now = time.time()
    with log.open("w") as f:
        for i in range(1, 11):  # 10 records, 2 rules, the last new one 2 hours ago
            f.write(record(now - 7200 + i, i, "ALLOWED", READY, f"/etc/ready-{i % 2}"))
        for i in range(11, 21):  # 10 records, a new rule among the last
            name = "/etc/late" if i == 20 else "/etc/learning"
            f.write(record(now - 7200 + i if i < 20 else now, i, "ALLOWED", LEARNING, name))
        for i in range(30, 40):  # records up to now, but of one rule met 2 hours ago
            f.write(record(now - 7200 if i == 30 else now, i, "ALLOWED", REPEATING, "/etc/same"))
        f.write(record(now, 21, "DENIED", ENFORCED, "/etc/first"))
    port = free_port()
    watch = subprocess.Popen(
        [
            *(sys.executable, "-m", "aaprof", "watch", str(log)),
            *("--state", str(tmp_path / "state"), "--no-stdout"),
            *("--metrics-address", f"127.0.0.1:{port}"),
            *("--proc-root", str(empty), "--log-root", str(empty)),
        ],
        stderr=(tmp_path / "watch.log").open("ab"),
    )
    options = RulePackOptions(ready_after="1h", ready_replicas=1, ready_records=10)
    written = write_rule_pack(tmp_path / "pack", render_rule_pack(options))
    prometheus = Prometheus(tmp_path / "prom", written[0], [f"127.0.0.1:{port}"], alertmanager)
    prometheus.start()
    try:
        ready = poll(
            lambda: firing(prometheus, "AppArmorProfileReadyToEnforce"), "the readiness alert"
        )
        # LEARNING met a new rule just now; ENFORCED has denials; REPEATING logs still, but
        # only a rule it met 2 hours ago (its learnt rules not loaded yet): ready all the same
        assert ready == {READY, REPEATING}
        assert poll(lambda: prometheus.query("aaprof_profile_new_rules_total"), "a scrape")
        # a denial of the rule the enforced profile already met, then of a rule it never met
        with log.open("a") as f:
            f.write(record(time.time(), 22, "DENIED", ENFORCED, "/etc/first"))
            f.write(record(time.time(), 23, "DENIED", ENFORCED, "/etc/never-seen"))

        def counted() -> list[dict[str, Any]] | None:
            query = f'aaprof_profile_new_rules_total{{profile="{ENFORCED}", mode="denied"}}'
            result = prometheus.query(query)
            return result if result and result[0]["value"][1] == "2" else None

        poll(counted, "the enforced profile's second new rule (not the repeated one)")
        new = poll(
            lambda: firing(prometheus, "AppArmorNewBehaviourInEnforcedProfile"),
            "the new-behaviour alert",
        )
        assert new == {ENFORCED}
    finally:
        prometheus.stop()
        watch.terminate()
        watch.wait(timeout=30)
