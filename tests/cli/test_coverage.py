"""Coverage across nodes and replicas: three simulated nodes run `aaprof watch`, and `aaprof
generate` learns from their JSON lines what each rule was seen on, of how many replicas ran.

Each node is a directory standing for its host: a `proc/<pid>/cgroup` per process of a pod,
the kubelet's `log/containers/` links and `log/pods/` directories, and an audit.log. Watch
attributes each record through them (pid → cgroup → container id → pod), as on a node.
"""

from __future__ import annotations

import json
from pathlib import Path

from aaprof_cli import aaprof

SEC = 1_800_000_000
PROFILE = "shop-web"
RS = "web-7d4b9c6f8d"  # the Deployment `web`'s ReplicaSet
# node → its pods of `web` (the last one of node-b logs nothing), and one pod of another
# workload that runs under the same profile on node-c
NODES = {
    "node-a": ["x2x9k", "b4c5d"],
    "node-b": ["m7n8p", "q9r2s"],
    "node-c": ["t4v5w"],
}
IDLE = f"{RS}-q9r2s"
OTHER = "api-5f6c7d8b9c-zz2xx"  # workload `api`: not a replica of web


def _uid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-000000000000"


def _cid(n: int) -> str:
    return f"{n:064x}"


def _line(serial: int, pid: int, name: str, mask: str, stamp: int) -> str:
    return (
        f'type=AVC msg=audit({stamp}.000:{serial}): apparmor="ALLOWED" operation="open" '
        f'class="file" profile="{PROFILE}" name="{name}" pid={pid} comm="nginx" '
        f'requested_mask="{mask}" denied_mask="{mask}" fsuid=101 ouid=0\n'
    )


def _node(
    root: Path, node: str, pods: list[tuple[str, str, int, list[tuple[str, str, int]]]]
) -> Path:
    """A node's directory: per pod (namespace, name, its number, its accesses), a process."""
    log = root / node / "audit.log"
    (root / node / "log" / "containers").mkdir(parents=True)
    lines: list[str] = []
    for namespace, pod, n, accesses in pods:
        pid = 1000 + n
        (root / node / "proc" / str(pid)).mkdir(parents=True)
        (root / node / "proc" / str(pid) / "cgroup").write_text(
            f"0::/kubepods/besteffort/pod{_uid(n)}/{_cid(n)}\n"
        )
        (root / node / "log" / "pods" / f"{namespace}_{pod}_{_uid(n)}").mkdir(parents=True)
        link = root / node / "log" / "containers" / f"{pod}_{namespace}_nginx-{_cid(n)}.log"
        link.write_text("")
        for name, mask, stamp in accesses:
            lines.append(_line(len(lines) + 1 + n * 100, pid, name, mask, stamp))
    log.write_text("".join(lines))
    return log


CONF = "/etc/nginx/nginx.conf"
INDEX = "/usr/share/nginx/html/index.html"
DEBUG = "/tmp/debug.sh"
API = "/srv/api/config.yaml"


def _accesses(pod: str) -> list[tuple[str, str, int]]:
    """Every replica but the idle one reads the config; two serve the index; one writes a
    debug script (the outlier)."""
    if pod == IDLE:
        return []
    out = [(CONF, "r", SEC), (CONF, "r", SEC + 60)]
    if pod in (f"{RS}-x2x9k", f"{RS}-t4v5w"):
        out.append((INDEX, "r", SEC + 120))
    if pod == f"{RS}-m7n8p":
        out.append((DEBUG, "w", SEC + 7200))
    return out


def _watch_three_nodes(tmp_path: Path, with_pods: bool = True) -> list[Path]:
    outputs = []
    n = 0
    for node, suffixes in NODES.items():
        pods = []
        for suffix in suffixes:
            n += 1
            pod = f"{RS}-{suffix}"
            pods.append(("shop", pod, n, _accesses(pod)))
        if node == "node-c":
            n += 1
            pods.append(("shop", OTHER, n, [(API, "r", SEC + 30)]))
        log = _node(tmp_path, node, pods)
        if not with_pods:
            (tmp_path / node / "log" / "pods").rename(tmp_path / node / "log" / "gone")
        out = tmp_path / f"{node}.jsonl"
        aaprof(
            "watch", str(log), "--once", "--no-stdout", "--output", str(out),
            "--state", str(tmp_path / node / "state"), "--node", node,
            "--proc-root", str(tmp_path / node / "proc"),
            "--log-root", str(tmp_path / node / "log"),
            check=True,
        )  # fmt: skip
        outputs.append(out)
    return outputs


def test_coverage_counts_nodes_and_replicas_of_those_that_ran(tmp_path: Path) -> None:
    outputs = _watch_three_nodes(tmp_path)
    pods_lines = [json.loads(x) for o in outputs for x in o.read_text().splitlines()]
    pods_lines = [x for x in pods_lines if x.get("kind") == "pods"]
    assert [p["node"] for p in pods_lines] == ["node-a", "node-b", "node-c"]
    assert IDLE in {p["pod"] for line in pods_lines for p in line["pods"]}
    out = tmp_path / "out"
    done = aaprof("generate", *map(str, outputs), "--out", str(out), "--no-k8s", check=True)
    assert "outlier" in done.stderr and DEBUG in done.stderr
    doc = json.loads((out / "coverage" / f"{PROFILE}.json").read_text())
    assert doc["profile"] == PROFILE
    assert doc["records"] == 4 * 2 + 2 + 1 + 1  # conf twice a replica, index, debug, api
    assert doc["workloads"] == ["shop/api", "shop/web"]
    assert doc["nodes"] == {"seen": 3, "ran": 3}
    # web's 5 replicas (4 logged) and api's one
    assert doc["replicas"] == {"seen": 5, "ran": 6}
    rules = {r["rule"]: r for r in doc["rules"]}
    conf, index, debug = rules[f"{CONF} r,"], rules[f"{INDEX} r,"], rules[f"{DEBUG} w,"]
    assert (conf["nodes"], conf["replicas"]) == ({"seen": 3, "ran": 3}, {"seen": 4, "ran": 5})
    assert conf["records"] == 8 and not conf["outlier"]
    assert conf["first_seen"].startswith("2027-01-15T08:00:00")
    assert conf["last_seen"].startswith("2027-01-15T08:01:00")
    assert (index["nodes"], index["replicas"]) == ({"seen": 2, "ran": 3}, {"seen": 2, "ran": 5})
    assert index["seen_on"] == [f"shop/{RS}-t4v5w", f"shop/{RS}-x2x9k"] and not index["outlier"]
    assert (debug["nodes"], debug["replicas"]) == ({"seen": 1, "ran": 3}, {"seen": 1, "ran": 5})
    assert debug["outlier"] and debug["seen_on"] == [f"shop/{RS}-m7n8p"]
    # api's config: on the one replica of api that ran (of its own workload: no outlier)
    api = rules[f"{API} r,"]
    assert (api["nodes"], api["replicas"]) == ({"seen": 1, "ran": 1}, {"seen": 1, "ran": 1})
    assert not api["outlier"]
    assert doc["outliers"] == 1


def test_without_a_list_of_pods_how_many_ran_is_unknown(tmp_path: Path) -> None:
    outputs = _watch_three_nodes(tmp_path, with_pods=False)
    assert not any('"kind":"pods"' in o.read_text() for o in outputs)
    out = tmp_path / "out"
    aaprof("generate", *map(str, outputs), "--out", str(out), "--no-k8s", check=True)
    doc = json.loads((out / "coverage" / f"{PROFILE}.json").read_text())
    assert doc["nodes"] == {"seen": 3, "ran": None}
    assert doc["replicas"] == {"seen": 5, "ran": None}
    debug = next(r for r in doc["rules"] if r["rule"] == f"{DEBUG} w,")
    assert debug["replicas"] == {"seen": 1, "ran": None} and debug["outlier"]


def _check(*args: str) -> tuple[int, str]:
    done = aaprof("generate", "--check", *args)
    return done.returncode, done.stdout


def test_check_says_when_a_profile_is_ready_and_why(tmp_path: Path) -> None:
    outputs = [str(o) for o in _watch_three_nodes(tmp_path)]
    out = str(tmp_path / "out")
    # nothing in DIR yet: every rule is new, the last (the debug script) at the logs' end
    code, text = _check(*outputs, "--out", out)
    assert code == 1
    assert (
        "shop-web: not ready: last new rule less than a minute before the logs end (needs 1 day);"
        " seen on 5 of 6 replicas, 3 of 3 nodes (needs 1); 12 records (needs 100)"
    ) in text
    aaprof("generate", *outputs, "--out", out, "--no-k8s", check=True)
    # DIR has every rule: none is new; quiet since the first record, 2 hours before the end
    ready = ("--ready-after", "2h", "--ready-replicas", "5", "--ready-records", "12")
    code, text = _check(*outputs, "--out", out, *ready, "--require-ready")
    assert code == 0, text
    assert text == (
        "shop-web: ready: no new rule in the 2 hours its records span (needs 2 hours);"
        " seen on 5 of 6 replicas, 3 of 3 nodes (needs 5); 12 records (needs 12)\n"
    )
    code, text = _check(*outputs, "--out", out, *ready, "--ready-replicas", "6")
    assert code == 0 and "shop-web: not ready:" in text and "(needs 6)" in text
    code, _ = _check(*outputs, "--out", out, *ready, "--ready-replicas", "6", "--require-ready")
    assert code == 1
    # a later batch: one new rule 3 hours in, then only rules DIR has, until 5 hours in
    later = tmp_path / "later" / "audit.log"
    later.parent.mkdir()
    later.write_text(
        _line(9001, 1001, "/etc/nginx/mime.types", "r", SEC + 3 * 3600)
        + _line(9002, 1001, CONF, "r", SEC + 4 * 3600)
        + _line(9003, 1001, CONF, "r", SEC + 5 * 3600)
    )
    batch = aaprof("events", "--format", "jsonl", "--node", "node-a", str(later), check=True)
    (tmp_path / "later.jsonl").write_text(batch.stdout)
    logs = [*outputs, str(tmp_path / "later.jsonl")]
    code, text = _check(*logs, "--out", out, "--ready-after", "3h", "--format", "json")
    assert code == 1  # the new rule is missing
    doc = json.loads(text)
    assert doc["missing"][0]["missing_rules"] == ["/etc/nginx/mime.types r,"]
    (verdict,) = doc["readiness"]
    assert verdict["ready"] is False and verdict["records"] == 15
    assert verdict["last_new_rule"].startswith("2027-01-15T11:00:00")
    assert verdict["quiet_seconds"] == 2 * 3600
    assert verdict["reasons"][0] == "last new rule 2 hours before the logs end (needs 3 hours)"
