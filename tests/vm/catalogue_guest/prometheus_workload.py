"""Prometheus' scripted workload, run in the test VM (unconfined) against Debian's prometheus
under its profile (set with aaexec, as the kubelet sets a pod's).

`learn`: a fresh TSDB; scrape itself and a second job, evaluate a recording and an alerting
rule, reload through /-/reload and SIGHUP with a changed rule file, query; stop.
`enforce`: other jobs, rules and intervals, then a restart over the TSDB the first start wrote
(its WAL replayed; the learning run never restarts), the data queried back, another reload.
"""

from __future__ import annotations

import json
import signal
import sys
import urllib.parse

from common import check, http, start, stop, until  # type: ignore[import-not-found]

PROFILE = "aaprof.monitoring.prometheus.prometheus"
URL = "http://127.0.0.1:9090"
CONFIG = "/etc/prometheus/prometheus.yml"
RULES = "/etc/prometheus/rules.yml"
ARGS = [
    "/usr/bin/prometheus", f"--config.file={CONFIG}",
    "--storage.tsdb.path=/var/lib/prometheus/metrics2/",
    "--web.listen-address=127.0.0.1:9090", "--web.enable-lifecycle",
]  # fmt: skip
LOG = "/var/log/prometheus/prometheus.log"


def write_config(jobs: list[str], interval: str) -> None:
    scrapes = "".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:9090']\n"
        for job in jobs
    )
    with open(CONFIG, "w") as f:
        f.write(
            f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
            f"rule_files:\n  - {RULES}\nscrape_configs:\n{scrapes}"
        )


def write_rules(record: str, alert: str) -> None:
    with open(RULES, "w") as f:
        f.write(
            "groups:\n  - name: catalogue\n    rules:\n"
            f"      - record: {record}\n        expr: sum by (job) (up)\n"
            f"      - alert: {alert}\n        expr: up == 1\n"
        )


def query(expr: str) -> list[dict[str, object]]:
    out = json.loads(http(f"{URL}/api/v1/query?query={urllib.parse.quote(expr)}"))
    result: list[dict[str, object]] = out["data"]["result"]
    return result


def ready() -> bool:
    body: bytes = http(f"{URL}/-/ready")
    return body.startswith(b"Prometheus")


def rules() -> set[str]:
    groups = json.loads(http(f"{URL}/api/v1/rules"))["data"]["groups"]
    return {r["name"] for g in groups for r in g["rules"]}


def session(jobs: list[str], record: str, alert: str, reloaded: str) -> None:
    until(f"{len(jobs)} jobs scraped", lambda: len(query("up == 1")) == len(jobs))
    until(f"rule {record} evaluated", lambda: len(query(record)) == len(jobs))
    until(f"alert {alert} firing", lambda: bool(query(f'ALERTS{{alertname="{alert}"}}')))
    write_rules(reloaded, alert)
    http(f"{URL}/-/reload", b"")
    until(f"reloaded: rule {reloaded}", lambda: reloaded in rules())


def main() -> None:
    variant = sys.argv[1]
    if variant == "learn":
        write_config(["self", "again"], "1s")
        write_rules("job:up:sum", "Up")
        proc = start(ARGS, LOG, ready, PROFILE)
        session(["self", "again"], "job:up:sum", "Up", "job:up:total")
        write_rules("job:up:hup", "Up")
        proc.send_signal(signal.SIGHUP)
        until("reloaded on SIGHUP", lambda: "job:up:hup" in rules())
        stop(proc, "prometheus")
        return
    jobs = ["node", "apiserver", "etcd"]
    write_config(jobs, "2s")
    write_rules("instance:up:count", "Scraped")
    proc = start(ARGS, LOG, ready, PROFILE)
    session(jobs, "instance:up:count", "Scraped", "instance:up:again")
    stop(proc, "prometheus")
    proc = start(ARGS, LOG, ready, PROFILE)  # a restart: the WAL the first start wrote replayed
    check("samples survived the restart", bool(query('up{job="etcd"}[1h]')))
    write_rules("instance:up:after", "Scraped")
    proc.send_signal(signal.SIGHUP)
    until("reloaded on SIGHUP", lambda: "instance:up:after" in rules())
    stop(proc, "prometheus")


if __name__ == "__main__":
    main()
