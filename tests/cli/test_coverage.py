"""Coverage across nodes and replicas: three simulated nodes run `aaprof watch`
(tests/replicas.py), and `aaprof generate` learns from their JSON lines what each rule was seen
on, of how many replicas ran; `--check` says whether the profile is ready, and why.
"""

from __future__ import annotations

import json
from pathlib import Path

from aaprof_cli import aaprof
from replicas import (
    API,
    CONF,
    DEBUG,
    IDLE,
    INDEX,
    NODES,
    PROFILE,
    RS,
    SEC,
    line,
    watch_three_nodes,
)


def test_coverage_counts_nodes_and_replicas_of_those_that_ran(tmp_path: Path) -> None:
    outputs = watch_three_nodes(tmp_path)
    pods_lines = [json.loads(x) for o in outputs for x in o.read_text().splitlines()]
    pods_lines = [x for x in pods_lines if x.get("kind") == "pods"]
    assert [p["node"] for p in pods_lines] == ["node-a", "node-b", "node-c"]
    assert IDLE in {p["pod"] for pl in pods_lines for p in pl["pods"]}
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
    outputs = watch_three_nodes(tmp_path, with_pods=False)
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
    outputs = [str(o) for o in watch_three_nodes(tmp_path)]
    out = str(tmp_path / "out")
    # nothing in DIR yet: every rule is new, the last (the debug script) at the logs' end
    code, text = _check(*outputs, "--out", out)
    assert code == 1
    assert (
        "shop-web: not ready: last new rule less than a minute before the logs end (needs 1 day);"
        " seen on 5 of 6 replicas, 3 of 3 nodes (needs 1 replica); 12 records (needs 100)"
    ) in text
    aaprof("generate", *outputs, "--out", out, "--no-k8s", check=True)
    # DIR has every rule: none is new; quiet since the first record, 2 hours before the end
    ready = ("--ready-after", "2h", "--ready-replicas", "5", "--ready-records", "12")
    code, text = _check(*outputs, "--out", out, *ready, "--require-ready")
    assert code == 0, text
    assert text == (
        "shop-web: ready: no new rule in the 2 hours its records span (needs 2 hours);"
        " seen on 5 of 6 replicas, 3 of 3 nodes (needs 5 replicas); 12 records (needs 12)\n"
    )
    code, text = _check(*outputs, "--out", out, *ready, "--ready-replicas", "6")
    assert code == 0 and "shop-web: not ready:" in text and "(needs 6 replicas)" in text
    code, _ = _check(*outputs, "--out", out, *ready, "--ready-replicas", "6", "--require-ready")
    assert code == 1
    # a later batch: one new rule 3 hours in, then only rules DIR has, until 5 hours in
    later = tmp_path / "later" / "audit.log"
    later.parent.mkdir()
    later.write_text(
        line(9001, 1001, "/etc/nginx/mime.types", "r", SEC + 3 * 3600)
        + line(9002, 1001, CONF, "r", SEC + 4 * 3600)
        + line(9003, 1001, CONF, "r", SEC + 5 * 3600)
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


def test_a_pod_list_says_which_replicas_ran(tmp_path: Path) -> None:
    """`--pods` (kubectl get pods -A -o json): every pod placed on a node and not Pending."""
    outputs = watch_three_nodes(tmp_path, with_pods=False)
    items = [
        {
            "metadata": {"namespace": "shop", "name": f"{RS}-{suffix}"},
            "spec": {"nodeName": node},
            "status": {"phase": "Running"},
        }
        for node, suffixes in NODES.items()
        for suffix in suffixes
    ]
    items.append(  # not started yet: did not run
        {"metadata": {"namespace": "shop", "name": f"{RS}-zzzzz"}, "status": {"phase": "Pending"}}
    )
    pods = tmp_path / "pods.json"
    pods.write_text(json.dumps({"kind": "List", "items": items}))
    out = tmp_path / "out"
    aaprof(
        "generate", *map(str, outputs), "--out", str(out), "--no-k8s", "--pods", str(pods),
        check=True,
    )  # fmt: skip
    doc = json.loads((out / "coverage" / f"{PROFILE}.json").read_text())
    debug = next(r for r in doc["rules"] if r["rule"] == f"{DEBUG} w,")
    assert (debug["nodes"], debug["replicas"]) == ({"seen": 1, "ran": 3}, {"seen": 1, "ran": 5})
    assert doc["replicas"] == {"seen": 5, "ran": 6}  # api's pod logged: it ran
