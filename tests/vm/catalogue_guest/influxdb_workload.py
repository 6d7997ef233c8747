"""InfluxDB's scripted workload, run in the test VM (unconfined) against Debian's influxd under
its profile (attached by path, as its systemd unit runs it).

`learn`: a fresh store; the database created, points written in batches, queried, a retention
policy and a continuous query created, a measurement dropped, the catalogue listed; stop.
`enforce`: other measurements, tags and values in the same database, then a restart that loads
the WAL the first start wrote (the learning run never restarts), the points queried back.
"""

from __future__ import annotations

import json
import sys
import urllib.parse

from common import check, http, start, stop  # type: ignore[import-not-found]

URL = "http://127.0.0.1:8086"
ARGS = ["/usr/bin/influxd", "-config", "/etc/influxdb/influxdb.conf"]
LOG = "/var/log/influxdb/influxd.log"
DB = "telegraf"


def ready() -> bool:
    http(f"{URL}/ping")
    return True


def query(q: str, post: bool = False) -> list[dict[str, object]]:
    params = urllib.parse.urlencode({"db": DB, "q": q})
    body = http(f"{URL}/query?{params}", b"" if post else None)
    results: list[dict[str, object]] = json.loads(body)["results"]
    return results


def write(measurement: str, points: int, tag: str) -> None:
    lines = "\n".join(
        f"{measurement},host={tag}{i % 3} value={i * 1.5} {1700000000 + i}000000000"
        for i in range(points)
    )
    http(f"{URL}/write?db={DB}", lines.encode())


def count(measurement: str) -> int:
    (result,) = query(f"SELECT count(value) FROM {measurement}")
    series = result.get("series") or []
    return int(series[0]["values"][0][1]) if series else 0  # type: ignore[index]


def main() -> None:
    variant = sys.argv[1]
    proc = start(ARGS, LOG, ready)
    query(f"CREATE DATABASE {DB}", post=True)
    if variant == "learn":
        for batch in range(3):
            write("cpu", 50, f"web{batch}")
        check("150 points counted", count("cpu") == 150)
        write("scratch", 5, "tmp")
        query(f"CREATE RETENTION POLICY week ON {DB} DURATION 7d REPLICATION 1", post=True)
        query(
            f"CREATE CONTINUOUS QUERY cq ON {DB} BEGIN SELECT mean(value) INTO cpu_1h FROM cpu "
            "GROUP BY time(1h) END",
            post=True,
        )
        query("DROP MEASUREMENT scratch", post=True)
        check("scratch dropped", count("scratch") == 0)
        check("databases listed", bool(query("SHOW DATABASES")))
        stop(proc, "influxd")
        return
    write("disk", 120, "db")
    write("mem", 40, "cache")
    check("160 points counted", count("disk") + count("mem") == 160)
    stop(proc, "influxd")
    proc = start(ARGS, LOG, ready)  # a restart: the WAL the first start wrote loaded again
    check("points survived the restart", count("disk") == 120)
    write("net", 30, "edge")
    check("more points written", count("net") == 30)
    stop(proc, "influxd")


if __name__ == "__main__":
    main()
