"""Learning from many nodes' watch output: `aaprof generate` over N records of M nodes' JSON lines.

Usage (from the repository root):
    .venv/bin/python benchmarks/coverage_generate.py [--records 10000000] [--nodes 100]

Writes benchmarks/data/coverage/node-XXX.jsonl (one file per node, as a cluster's log pipeline
collects watch's output; kept and reused when made with the same arguments), then times one
`aaprof generate node-*.jsonl --out TMPDIR --no-k8s` under GNU time (wall time, peak RSS) and
prints a markdown row for docs/performance.md ("Learning from many nodes").

The records: PROFILES Deployments (one profile each) of REPLICAS replicas each, spread over the
nodes; each node's file starts with watch's line of its pods (model.pods) and holds
records/nodes records of its pods, in time order. Each record is a file access drawn Zipf-like
from ACCESSES per profile (a few hot, a long tail: a tail access is seen on one replica, an
outlier) plus a share of never-repeating temporary names; the lines are watch's, byte for byte
in shape (container, workload, source).
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DATA = BENCH / "data" / "coverage"
PROFILES = 10
REPLICAS = 50
ACCESSES = 1000
UNIQUE = 0.001  # of records: a /tmp name never seen again
SEC = 1_800_000_000
RAND = "bcdfghjklmnpqrstvwxz2456789"


def _suffix(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(RAND) for _ in range(n))


def write_inputs(records: int, nodes: int, seed: int = 7) -> list[Path]:
    """The node files (reused when made with these arguments)."""
    stamp = DATA / "made-with.json"
    wanted = {"records": records, "nodes": nodes, "seed": seed}
    files = [DATA / f"node-{n:03d}.jsonl" for n in range(nodes)]
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return files
    DATA.mkdir(parents=True, exist_ok=True)
    for old in DATA.glob("node-*.jsonl"):
        old.unlink()
    rng = random.Random(seed)
    # replicas: (namespace, pod, workload, profile) placed round-robin on the nodes
    placed: list[list[tuple[str, str, int]]] = [[] for _ in range(nodes)]
    slot = 0
    for p in range(PROFILES):
        rs = f"app{p}-{_suffix(rng, 10)}"
        for _ in range(REPLICAS):
            placed[slot % nodes].append((f"{rs}-{_suffix(rng, 5)}", f"{slot:064x}", p))
            slot += 1
    weights = list(itertools.accumulate(1 / (i + 1) for i in range(ACCESSES)))
    per_node = records // nodes
    serial = 0
    for n, path in enumerate(files):
        node = f"node-{n:03d}"
        pods = [
            {"namespace": "bench", "pod": pod, "uid": f"{i:08x}-0000-4000-8000-{n:012x}"}
            for i, (pod, _cid, _p) in enumerate(placed[n])
        ]
        head = {"kind": "pods", "node": node, "time": "2027-01-15T08:00:00+00:00", "pods": pods}
        tails = [
            ',"pid":{pid},"comm":"app","fsuid":1000,"ouid":1000,"source":{{"file":'
            '"/var/log/audit/audit.log","line":{line}}},"container":{{"id":"' + cid
            + '","runtime":"containerd","pod":"' + pod + '","namespace":"bench","name":"app"}},'
            '"workload":"app' + str(p) + '"}}\n'
            for pod, cid, p in placed[n]
        ]  # fmt: skip
        out = [json.dumps(head, separators=(",", ":")) + "\n"]
        with path.open("w") as f:
            for i in range(per_node):
                serial += 1
                r = rng.randrange(len(placed[n]))
                p = placed[n][r][2]
                if rng.random() < UNIQUE:
                    name = f"/tmp/tmp.{_suffix(rng, 10)}"
                else:
                    a = bisect.bisect(weights, rng.random() * weights[-1])
                    name = f"/srv/app{p}/data/d{a % 37}/file-{a}.dat"
                epoch = SEC + i * 0.01
                t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
                out.append(
                    f'{{"time":"{t}.{int(epoch * 1000) % 1000:03d}Z","epoch":{epoch:.3f},'
                    f'"serial":{serial},"node":"{node}","mode":"ALLOWED","operation":"open",'
                    f'"class":"file","profile":"bench.app{p}","name":"{name}",'
                    f'"requested":"r","denied":"r"' + tails[r].format(pid=1000 + r, line=i + 1)
                )
                if len(out) >= 4096:
                    f.write("".join(out))
                    out.clear()
            f.write("".join(out))
    stamp.write_text(json.dumps(wanted))
    return files


def measure(files: list[Path]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS in MB, and aaprof's statistics
    line, of one generate."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            "/usr/bin/time", "-v", str(REPO / ".venv/bin/aaprof"), "generate",
            *map(str, files), "--out", out, "--no-k8s",
        ]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"aaprof generate failed: {done.stderr[-2000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    cpu = re.findall(r"(?:User|System) time \(seconds\): ([0-9.]+)", done.stderr)
    assert rss is not None and len(cpu) == 2, done.stderr
    stats = next((x for x in done.stderr.splitlines() if "lines read" in x), "")
    return seconds, sum(map(float, cpu)), int(rss[1]) / 1024, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--nodes", type=int, default=100)
    args = parser.parse_args()
    started = time.perf_counter()
    files = write_inputs(args.records, args.nodes)
    size = sum(f.stat().st_size for f in files)
    print(
        f"inputs: {len(files)} files, {size / 1e9:.2f} GB ({time.perf_counter() - started:.0f} s)"
    )
    seconds, cpu, rss, stats = measure(files)
    print(stats)
    print("| records | nodes | replicas | input | wall | CPU | records/CPU s | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.records:,} | {args.nodes} | {PROFILES * REPLICAS} | {size / 1e9:.1f} GB |"
        f" {seconds:.0f} s | {cpu:.0f} s | {args.records / cpu:,.0f} | {rss:,.0f} MB |"
    )


if __name__ == "__main__":
    main()
