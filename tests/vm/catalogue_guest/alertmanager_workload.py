"""Alertmanager's scripted workload, run in the test VM (unconfined) against Debian's
prometheus-alertmanager under its profile (set with aaexec, as the kubelet sets a pod's).

`learn`: a fresh store; alerts posted and listed, one delivered to a webhook, a silence created,
listed and expired, the configuration reloaded through /-/reload and SIGHUP; the maintenance
interval is 1 s, so the run sees the silence and notification-log snapshots it writes (every
15 minutes by default: temporary files with random names, renamed over `silences`, `nflog`).
`enforce`: other alerts, receivers and silences at the default interval, then a restart that
reads back the snapshots the first start wrote when it stopped (the learning run never
restarts), the silence still there.
"""

from __future__ import annotations

import datetime
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from common import check, http, start, stop, until  # type: ignore[import-not-found]

PROFILE = "aaprof.monitoring.alertmanager.alertmanager"
URL = "http://127.0.0.1:9093"
CONFIG = "/etc/prometheus/alertmanager.yml"
ARGS = [
    "/usr/bin/prometheus-alertmanager", f"--config.file={CONFIG}",
    "--storage.path=/var/lib/prometheus/alertmanager/",
    "--web.listen-address=127.0.0.1:9093", "--cluster.listen-address=",
]  # fmt: skip
LOG = "/var/log/prometheus/alertmanager.log"
received: list[str] = []


class Webhook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        received.extend(a["labels"]["alertname"] for a in body["alerts"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def write_config(receiver: str) -> None:
    with open(CONFIG, "w") as f:
        f.write(
            f"route:\n  receiver: {receiver}\n  group_by: [alertname]\n  group_wait: 1s\n"
            f"  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: {receiver}\n"
            "    webhook_configs:\n      - url: http://127.0.0.1:5001/\n"
        )


def ready() -> bool:
    body: bytes = http(f"{URL}/-/ready")
    return body == b"OK"


def post_alerts(names: list[str]) -> None:
    http(f"{URL}/api/v2/alerts", [{"labels": {"alertname": n, "severity": "page"}} for n in names])


def alerts() -> set[str]:
    return {a["labels"]["alertname"] for a in json.loads(http(f"{URL}/api/v2/alerts"))}


def silence(name: str) -> str:
    now = datetime.datetime.now(datetime.UTC)
    body = {
        "matchers": [{"name": "alertname", "value": name, "isRegex": False}],
        "startsAt": now.isoformat(), "endsAt": (now + datetime.timedelta(hours=2)).isoformat(),
        "createdBy": "catalogue", "comment": "maintenance",
    }  # fmt: skip
    sid: str = json.loads(http(f"{URL}/api/v2/silences", body))["silenceID"]
    return sid


def silences() -> dict[str, str]:
    out = json.loads(http(f"{URL}/api/v2/silences"))
    return {s["id"]: s["status"]["state"] for s in out}


def status_receivers() -> set[str]:
    config = json.loads(http(f"{URL}/api/v2/status"))["config"]["original"]
    return {line.split(":")[1].strip() for line in config.splitlines() if "- name:" in line}


def session(names: list[str], receiver: str, reloaded: str) -> str:
    post_alerts(names)
    until(f"{len(names)} alerts listed", lambda: alerts() >= set(names))
    until("an alert delivered to the webhook", lambda: names[0] in received)
    sid = silence(names[-1])
    check("the silence is active", silences().get(sid) == "active")
    write_config(reloaded)
    http(f"{URL}/-/reload", b"")
    until(f"reloaded: receiver {reloaded}", lambda: reloaded in status_receivers())
    return sid


def main() -> None:
    server = HTTPServer(("127.0.0.1", 5001), Webhook)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        run(sys.argv[1])
    finally:
        server.shutdown()
        thread.join()


def run(variant: str) -> None:
    if variant == "learn":
        write_config("team")
        proc = start([*ARGS, "--data.maintenance-interval=1s"], LOG, ready, PROFILE)
        sid = session(["DiskFull", "NodeDown"], "team", "oncall")
        http(f"{URL}/api/v2/silence/{sid}", method="DELETE")
        check("the silence expired", silences().get(sid) == "expired")
        write_config("pager")
        proc.send_signal(signal.SIGHUP)
        until("reloaded on SIGHUP", lambda: "pager" in status_receivers())
        stop(proc, "alertmanager")
        return
    write_config("ops")
    proc = start(ARGS, LOG, ready, PROFILE)
    sid = session(["EtcdNoLeader", "HighLatency", "CertExpiry"], "ops", "sre")
    stop(proc, "alertmanager")
    proc = start(ARGS, LOG, ready, PROFILE)  # a restart: the snapshots written at stop read back
    check("the silence survived the restart", silences().get(sid) == "active")
    write_config("night")
    proc.send_signal(signal.SIGHUP)
    until("reloaded on SIGHUP", lambda: "night" in status_receivers())
    stop(proc, "alertmanager")


if __name__ == "__main__":
    main()
