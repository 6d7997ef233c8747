"""etcd's scripted workload, run in the test VM (unconfined) against etcd under its profile.

`learn`: a fresh member; put, get, watch, compact, snapshot, defragment (three times: each
writes a randomly numbered db.tmp.N, a family aaprof learns from three), status; stop.
`enforce`: other keys and values, other counts, then a restart over the data the first start
wrote (the learning run never restarts), the keys read back, more puts, a second snapshot.
Each check that fails exits non-zero naming it; the output is what the run did.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import urllib.request

from common import check, http, start, stop  # type: ignore[import-not-found]

ETCD = "/usr/local/bin/etcd"
DATA = "/var/lib/etcd"
LOG = "/var/log/etcd/etcd.log"
URL = "http://127.0.0.1:2379"
ARGS = [
    ETCD, "--name=node1", f"--data-dir={DATA}",
    f"--listen-client-urls={URL}", f"--advertise-client-urls={URL}",
    "--listen-peer-urls=http://127.0.0.1:2380",
    "--initial-advertise-peer-urls=http://127.0.0.1:2380",
    "--initial-cluster=node1=http://127.0.0.1:2380",
]  # fmt: skip


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def call(path: str, body: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = json.loads(http(URL + path, body))
    return out


def ready() -> bool:
    return bool(json.loads(http(URL + "/health")).get("health") == "true")


def put(key: str, value: str) -> int:
    out = call("/v3/kv/put", {"key": b64(key), "value": b64(value)})
    return int(out["header"]["revision"])  # type: ignore[index]


def get(key: str) -> str | None:
    out = call("/v3/kv/range", {"key": b64(key)})
    kvs = out.get("kvs") or []
    return base64.b64decode(kvs[0]["value"]).decode() if kvs else None  # type: ignore[index]


def watch_one(key: str, got: list[str]) -> None:
    body = json.dumps({"create_request": {"key": b64(key)}}).encode()
    req = urllib.request.Request(URL + "/v3/watch", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as resp:
        for line in resp:
            events = json.loads(line).get("result", {}).get("events") or []
            for ev in events:
                got.append(base64.b64decode(ev["kv"]["value"]).decode())
                return


def session(prefix: str, count: int, snapshot: str, defrags: int = 1) -> int:
    rev = 0
    for i in range(count):
        rev = put(f"/{prefix}/key{i}", f"{prefix}-value-{i * 7}")
    check(f"{count} keys read back", all(
        get(f"/{prefix}/key{i}") == f"{prefix}-value-{i * 7}" for i in range(count)
    ))  # fmt: skip
    got: list[str] = []
    watcher = threading.Thread(target=watch_one, args=(f"/{prefix}/watched", got))
    watcher.start()
    while not got and watcher.is_alive():
        put(f"/{prefix}/watched", "changed")
        watcher.join(1)
    watcher.join()
    check("watch saw the change", got[:1] == ["changed"])
    call("/v3/kv/compaction", {"revision": rev, "physical": True})
    check("compacted", get(f"/{prefix}/key0") is not None)
    req = urllib.request.Request(URL + "/v3/maintenance/snapshot", b"{}")
    size = 0
    with urllib.request.urlopen(req, timeout=300) as resp, open(snapshot, "wb") as f:
        for line in resp:
            blob = json.loads(line).get("result", {}).get("blob")
            if blob:
                data = base64.b64decode(blob)
                size += len(data)
                f.write(data)
    check("snapshot written", size > 0)
    for _ in range(defrags):
        call("/v3/maintenance/defragment", {})
    status = call("/v3/maintenance/status", {})
    check("status names a version", bool(status.get("version")))
    return rev


def main() -> None:
    variant = sys.argv[1]
    os.makedirs("/var/backups", exist_ok=True)
    proc = start(ARGS, LOG, ready)
    if variant == "learn":
        session("learn", 5, "/var/backups/etcd-learn.db", defrags=3)
        stop(proc, "etcd")
        return
    session("prod", 23, "/var/backups/etcd-1.db")
    stop(proc, "etcd")
    proc = start(ARGS, LOG, ready)  # a restart over the data the first start wrote
    check("keys survived the restart", get("/prod/key22") == "prod-value-154")
    session("after", 11, "/var/backups/etcd-2.db")
    stop(proc, "etcd")


if __name__ == "__main__":
    main()
