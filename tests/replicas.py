"""Three simulated nodes running `aaprof watch`: the JSON lines a cluster's log pipeline
would collect, for the coverage tests (tests/cli/test_coverage.py) and the review's snapshot.

Each node is a directory standing for its host: a `proc/<pid>/cgroup` per process of a pod,
the kubelet's `log/containers/` links and `log/pods/` directories, and an audit.log. Watch
attributes each record through them (pid → cgroup → container id → pod), as on a node.
Deployment `web` runs 5 replicas over the 3 nodes (one logs nothing), `api` one.
"""

from __future__ import annotations

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


def line(serial: int, pid: int, name: str, mask: str, stamp: int) -> str:
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
            lines.append(line(len(lines) + 1 + n * 100, pid, name, mask, stamp))
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


def watch_three_nodes(tmp_path: Path, with_pods: bool = True) -> list[Path]:
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
