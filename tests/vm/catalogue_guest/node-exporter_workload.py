"""prometheus-node-exporter's scripted workload, run in the test VM (unconfined) against Debian's
node exporter under its profile (attached by path, as its systemd unit runs it).

`learn`: the default collectors scraped three times, a textfile-collector file written between
scrapes (as a backup job's cron script does) and seen; stop.
`enforce`: other textfile files and values, more scrapes, then a restart and scrapes again.
"""

from __future__ import annotations

import os
import sys

from common import check, http, start, stop, until  # type: ignore[import-not-found]

URL = "http://127.0.0.1:9100"
ARGS = ["/usr/bin/prometheus-node-exporter", "--web.listen-address=127.0.0.1:9100"]
LOG = "/var/log/prometheus/node-exporter.log"
TEXTFILE = "/var/lib/prometheus/node-exporter"
# metrics of collectors that read /proc, /sys and the mounts: each must be there every scrape
WANT = ("node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_load1",
        "node_filesystem_size_bytes", "node_boot_time_seconds", "node_uname_info")  # fmt: skip


def ready() -> bool:
    return bool(http(f"{URL}/metrics"))


def textfile(name: str, value: int) -> None:
    tmp = f"{TEXTFILE}/.{name}.tmp"
    with open(tmp, "w") as f:
        f.write(f"# TYPE {name} gauge\n{name} {value}\n")
    os.rename(tmp, f"{TEXTFILE}/{name}.prom")


def scrape(times: int, textfiles: list[str]) -> None:
    for _ in range(times):
        text = http(f"{URL}/metrics").decode()
        missing = [m for m in WANT if f"\n{m}" not in text]
        check(f"scraped, no collector missing {missing}", not missing)
        failing = [
            line
            for line in text.splitlines()
            if line.startswith("node_scrape_collector_success") and line.endswith(" 0")
        ]
        print("collectors failing:", len(failing))
    until(f"textfiles {textfiles} seen", lambda: all(
        f"\n{t} " in http(f"{URL}/metrics").decode() for t in textfiles
    ))  # fmt: skip


def main() -> None:
    variant = sys.argv[1]
    os.makedirs(TEXTFILE, exist_ok=True)
    proc = start(ARGS, LOG, ready)
    if variant == "learn":
        scrape(1, [])
        textfile("backup_last_success", 1700000000)
        scrape(2, ["backup_last_success"])
        stop(proc, "node-exporter")
        return
    textfile("raid_degraded", 0)
    textfile("apt_upgrades_pending", 7)
    scrape(4, ["raid_degraded", "apt_upgrades_pending"])
    stop(proc, "node-exporter")
    proc = start(ARGS, LOG, ready)  # a restart
    textfile("reboot_required", 1)
    scrape(2, ["raid_degraded", "reboot_required"])
    stop(proc, "node-exporter")


if __name__ == "__main__":
    main()
