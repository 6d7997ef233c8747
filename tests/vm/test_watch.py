"""`aaprof watch --kmsg` on a real AppArmor kernel: runc containers in kubepods cgroups, with the
kubelet's /var/log/containers links, are denied; watch is SIGKILLed mid-run and restarted.

Asserted on what the kernel guarantees: every DENIED record in the ring buffer (by its kmsg
sequence number) is in the union of the two runs' outputs, each container's denial is attributed
to its namespace/pod/container, and /metrics counts each DENIED record once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from vm import node
from vm.harness import Images, Step, VMResult, Workload, run_workload

pytestmark = pytest.mark.vm

VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"
PY = (
    "env LD_LIBRARY_PATH=/opt/python/lib:/tmp/pylib PYTHONDONTWRITEBYTECODE=1 "
    f"PYTHONPATH=/run/in/src:/opt/python/usr/lib/{VERSION}/site-packages:/tmp/pylib "
    f"/opt/python/usr/bin/{VERSION}"
)
NAMESPACE = "shop"
# (container name in the pod, pod name): Deployment, StatefulSet and DaemonSet pods.
PODS = (
    ("web", "front-7d9f8c6b5d-x2x4z"),
    ("db", "store-0"),
    ("agent", "logs-b8kfq"),
    ("web", "front-7d9f8c6b5d-q7lnm"),
    ("db", "store-1"),
    ("agent", "logs-c2w5t"),
)
WORKLOADS = {"front-7d9f8c6b5d-x2x4z": "front", "front-7d9f8c6b5d-q7lnm": "front"}
# the denied process stays alive (exec sleep keeps its pid) so that its cgroup can be read
SCRIPT = "read x < /secret; exec sleep 1000000"  # until killed, however slow the guest

# Dumps the ring buffer, then waits until watch's committed kmsg checkpoint has reached the
# last record of the dump (a protocol state: every record up to it was taken and counted).
SYNC = r"""
import json, os, sqlite3, sys, time
fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
last = -1
with open(os.environ["OUT"] + "/kmsg.txt", "wb") as out:
    while True:
        try:
            rec = os.read(fd, 8192)
        except BlockingIOError:
            break
        except BrokenPipeError:
            continue
        out.write(rec.split(b"\n")[0] + b"\n")
        last = int(rec.split(b",")[1])
for _ in range(6000):
    db = sqlite3.connect("/tmp/state/watch.sqlite")
    row = db.execute("SELECT data FROM checkpoints WHERE source = 'kmsg'").fetchone()
    db.close()
    seq = json.loads(row[0])["seq"] if row else None
    if seq is not None and seq >= last:
        print(last)
        sys.exit(0)
    time.sleep(0.1)
sys.exit("watch never reached kmsg record %d" % last)
"""

METRICS = r"""
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9750/metrics", timeout=60).read().decode())
"""


def containers() -> list[node.Container]:
    return [node.Container(f"{pod}-{name}", "k8s-node-confined") for name, pod in PODS]


def config(c: node.Container) -> bytes:
    spec = json.loads(c.config())
    spec["process"]["args"] = ["sh", "-c", SCRIPT]
    return json.dumps(spec).encode()


def script() -> str:
    lines = [
        "set -u",
        f'W="{PY} -m aaprof watch --kmsg --state /tmp/state --log-root /var/log --poll 0.05"',
        "apparmor_parser -r -W /tmp/node-profiles",
        "ifconfig lo 127.0.0.1 up",
        "wait_for() {  # FILE PATTERN COUNT",
        "  i=0",
        '  while n=$(grep -c -- "$2" "$1" 2>/dev/null); [ "${n:-0}" -lt "$3" ]; do',
        '    i=$((i+1)); [ $i -gt 3000 ] && { echo "never $3 x $2 in $1"; cat $1; exit 1; }',
        "    usleep 100000",
        "  done",
        "}",
    ]
    for (name, pod), c in zip(PODS, containers(), strict=True):
        pods = f"/var/log/pods/{NAMESPACE}_{pod}_{c.pod_uid}/{name}"
        bundle = f"/tmp/bundles/{c.name}"
        lines += [
            f"mkdir -p {pods} /var/log/containers {bundle}/rootfs/bin {bundle}/rootfs/proc",
            f"mkdir -p {bundle}/rootfs/dev {bundle}/rootfs/tmp",
            f": > {pods}/0.log",
            f"ln -s {pods}/0.log /var/log/containers/{pod}_{NAMESPACE}_{name}-{c.id}.log",
            f"cp /bin/busybox {bundle}/rootfs/bin/",
            f"for a in sh sleep; do ln -s busybox {bundle}/rootfs/bin/$a; done",
            f"echo top-secret > {bundle}/rootfs/secret",
            f"cp /tmp/{c.name}.json {bundle}/config.json",
        ]

    def run(i: int) -> str:
        c = containers()[i]
        return (
            # node.ROOT_CMD: no SIGURG forwarded into the container (a denial counted here)
            f"{node.ROOT_CMD} run --no-pivot -b /tmp/bundles/{c.name} {c.name}"
            f" > $OUT/{c.name}.log 2>&1 &"
        )

    lines += [
        "$W > $OUT/watch1.jsonl 2> $OUT/watch1.err &",
        "echo $! > /tmp/watch.pid",
        "wait_for $OUT/watch1.err following 1",
        run(0),
        "wait_for $OUT/watch1.jsonl /secret 1",
        run(1),
        "wait_for $OUT/watch1.jsonl /secret 2",
        # mid-run: a denial under way as watch is killed
        run(2),
        "kill -9 $(cat /tmp/watch.pid)",
        run(3),
        "$W --metrics-address 127.0.0.1:9750 > $OUT/watch2.jsonl 2> $OUT/watch2.err &",
        "echo $! > /tmp/watch.pid",
        "wait_for $OUT/watch2.err following 1",
        run(4),
        run(5),
        # every container has been denied (the kernel says so), then watch must catch up
        "dmesg > /tmp/dmesg.txt; i=0",
        f"while [ $(grep -c 'name=\"/secret\"' /tmp/dmesg.txt) -lt {len(PODS)} ]; do",
        '  i=$((i+1)); [ $i -gt 3000 ] && { echo "not every container was denied"; exit 1; }',
        "  usleep 100000; dmesg > /tmp/dmesg.txt",
        "done",
        f"{PY} /tmp/sync.py > $OUT/sync.txt 2> $OUT/sync.err",
        f"{PY} /tmp/metrics.py > $OUT/metrics.txt 2> $OUT/metrics.err",
        "kill -TERM $(cat /tmp/watch.pid)",
        "wait $(cat /tmp/watch.pid); echo $? > $OUT/watch2.rc",
        f"for c in $(ls /tmp/bundles); do {node.ROOT_CMD} kill $c KILL; done",
        "wait",
    ]
    return "\n".join(lines) + "\n"


def guest_files() -> dict[str, bytes]:
    files = {"node-profiles": node.PROFILES.encode(), "sync.py": SYNC.encode()}
    # the guest image has no libgcc_s, which glibc loads when a thread exits
    files["pylib/libgcc_s.so.1"] = Path("/lib/x86_64-linux-gnu/libgcc_s.so.1").read_bytes()
    files["metrics.py"] = METRICS.encode()
    files.update({f"{c.name}.json": config(c) for c in containers()})
    package = Path(prometheus_client.__file__).parent
    for path in package.rglob("*.py"):
        files[f"pylib/prometheus_client/{path.relative_to(package)}"] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def watch_run(vm_images: Images) -> VMResult:
    step = Step("watch", script(), timeout=800)
    result = run_workload(vm_images, Workload(steps=(step,), files=guest_files(), timeout=1000))
    result.check()
    return result


def kernel_denials(result: VMResult) -> dict[int, str]:
    """seq -> message of every DENIED AppArmor record before the sync marker."""
    sync = int(result.files["sync.txt"].decode().split()[-1])
    out = {}
    for line in result.files["kmsg.txt"].decode(errors="replace").splitlines():
        head, _, message = line.partition(";")
        seq = int(head.split(",")[1])
        if seq <= sync and 'apparmor="DENIED"' in message:
            out[seq] = message
    return out


def outputs(result: VMResult) -> list[dict[str, object]]:
    docs = []
    for name in ("watch1.jsonl", "watch2.jsonl"):
        docs += [json.loads(line) for line in result.files[name].splitlines()]
    return docs


def test_every_denied_record_is_read_and_attributed(watch_run: VMResult) -> None:
    kernel = kernel_denials(watch_run)
    docs = [d for d in outputs(watch_run) if d.get("mode") == "DENIED"]
    by_seq: dict[int, dict[str, object]] = {}
    for doc in docs:
        source = doc["source"]
        assert isinstance(source, dict) and source["file"] == "kmsg"
        seq = int(source["line"])
        # a record repeated after the SIGKILL is the same record
        assert by_seq.setdefault(seq, doc)["serial"] == doc["serial"]
    assert set(by_seq) == set(kernel), (sorted(by_seq), sorted(kernel))
    secret = [d for d in by_seq.values() if d.get("name") == "/secret"]
    assert len(secret) == len(PODS)
    got = {
        (d["container"]["namespace"], d["container"]["pod"], d["container"]["name"])  # type: ignore[index]
        for d in secret
    }
    assert got == {(NAMESPACE, pod, name) for name, pod in PODS}
    for doc in secret:
        pod = doc["container"]["pod"]  # type: ignore[index]
        assert doc["workload"] == WORKLOADS.get(str(pod), str(pod).rsplit("-", 1)[0])


def test_metrics_count_each_denied_record_once(watch_run: VMResult) -> None:
    assert watch_run.files["watch2.rc"].strip() == b"0"
    kernel = kernel_denials(watch_run)
    text = watch_run.files["metrics.txt"].decode()
    samples = [
        s
        for f in text_string_to_metric_families(text)
        if f.name == "aaprof_watch_records"
        for s in f.samples
        if s.name.endswith("_total") and s.labels["mode"] == "denied"
    ]
    assert sum(s.value for s in samples) == len(kernel)
    per_container = {
        (s.labels["namespace"], s.labels["workload"], s.labels["container"]): s.value
        for s in samples
        if s.labels["namespace"] == NAMESPACE
    }
    assert per_container == {
        (NAMESPACE, "front", "web"): 2.0,
        (NAMESPACE, "store", "db"): 2.0,
        (NAMESPACE, "logs", "agent"): 2.0,
    }
    lost = [
        s.value
        for f in text_string_to_metric_families(text)
        if f.name == "aaprof_watch_records_lost"
        for s in f.samples
        if s.name.endswith("_total")
    ]
    assert lost and sum(lost) == 0


def test_watch_lists_the_nodes_pods(watch_run: VMResult) -> None:
    """The kubelet's pod directories of the node, in watch's pods line (model/pods.py): what
    `aaprof generate` counts the replicas that ran by."""
    lines = [d for d in outputs(watch_run) if d.get("kind") == "pods"]
    assert len(lines) == 2  # one when each run started; the pods did not change
    for line in lines:
        pods = line["pods"]
        assert isinstance(pods, list)
        assert {(p["namespace"], p["pod"]) for p in pods} == {(NAMESPACE, pod) for _, pod in PODS}
