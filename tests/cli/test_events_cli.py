"""`aaprof events` end to end: formats, summary, filters, nodes, stats, exit codes, containers."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from aaprof.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
T0 = 1700000000  # 2023-11-14T22:13:20Z


def avc(serial: int, offset: int, fields: str) -> str:
    return f"type=AVC msg=audit({T0 + offset}.000:{serial}): {fields}\n"


RECORDS = [
    avc(
        1,
        0,
        'apparmor="DENIED" operation="open" class="file" profile="k8s-nginx" '
        'name="/etc/shadow" pid=100 comm="nginx" requested_mask="r" denied_mask="r" '
        "fsuid=0 ouid=0",
    ),
    avc(
        2,
        100,
        'apparmor="ALLOWED" operation="exec" class="file" profile="k8s-redis" name="/bin/sh" '
        'pid=200 comm="redis-server" requested_mask="x" denied_mask="x" fsuid=0 ouid=0 '
        'target="k8s-redis//null-/bin/sh"',
    ),
    avc(
        3,
        200,
        'apparmor="DENIED" operation="capable" class="cap" profile="k8s-nginx" pid=100 '
        'comm="nginx" capability=12  capname="net_admin"',
    ),
    avc(
        4,
        300,
        'apparmor="AUDIT" operation="open" class="file" profile="aaprof.web.shop.nginx" '
        'name="/var/log/x" pid=300 comm="nginx" requested_mask="w" fsuid=0 ouid=0',
    ),
    avc(
        5,
        400,
        'apparmor="STATUS" operation="profile_load" profile="unconfined" name="k8s-nginx" '
        'pid=400 comm="apparmor_parser"',
    ),
    'type=AVC msg=audit(17000x:6): apparmor="DENIED" operation="open"\n',
    "type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=257\n",
]
ALL = [1, 2, 3, 4, 5]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.log"
    path.write_text("".join(RECORDS))
    return path


def invoke(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, ["events", *args], input=input, catch_exceptions=False)


def docs(*args: str, input: bytes | None = None) -> list[dict[str, object]]:
    result = invoke("--format", "jsonl", *args, input=input)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def serials(*args: str) -> list[object]:
    return [d["serial"] for d in docs(*args)]


# --- formats ---------------------------------------------------------------------------------


def test_json_is_a_list(log: Path) -> None:
    result = invoke("--format", "json", str(log))
    assert result.exit_code == 0
    parsed = json.loads(result.stdout)
    assert isinstance(parsed, list)
    assert [d["serial"] for d in parsed] == ALL
    first = parsed[0]
    assert first["time"] == "2023-11-14T22:13:20.000Z"
    assert (first["mode"], first["operation"], first["class"]) == ("DENIED", "open", "file")
    assert (first["profile"], first["name"], first["pid"]) == ("k8s-nginx", "/etc/shadow", 100)
    assert first["source"] == {"file": str(log), "line": 1}


def test_json_of_nothing_is_an_empty_list(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("")
    result = invoke("--format", "json", str(empty))
    assert json.loads(result.stdout) == []


def test_jsonl_each_line_parses(log: Path) -> None:
    result = invoke("--format", "jsonl", str(log))
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    assert [json.loads(line)["serial"] for line in lines] == ALL
    # stdout holds only results: the statistics went to stderr.
    assert "lines read" not in result.stdout and "lines read" in result.stderr


def test_csv_has_header_and_rows(log: Path) -> None:
    result = invoke("--format", "csv", str(log))
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["serial"] for r in rows] == ["1", "2", "3", "4", "5"]
    header = result.stdout.splitlines()[0].split(",")
    assert header[:5] == ["time", "epoch", "serial", "node", "mode"]
    assert {"profile", "name", "source_file", "source_line", "container_name"} <= set(header)
    assert rows[0]["source_line"] == "1" and rows[0]["name"] == "/etc/shadow"
    assert rows[2]["capname"] == "net_admin" and rows[2]["name"] == ""


def test_table(log: Path) -> None:
    result = invoke(str(log))
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["TIME", "MODE", "OPERATION", "PROFILE"]
    assert len(lines) == 6
    assert "/etc/shadow [r]" in lines[1] and "DENIED" in lines[1]
    assert "capability net_admin" in lines[3]


# --- summary ---------------------------------------------------------------------------------


def test_summary_json(log: Path) -> None:
    result = invoke("--summary", "--format", "json", str(log))
    summary = json.loads(result.stdout)
    assert summary["total"] == 5
    groups = {(g["profile"], g["class"], g["mode"]): g for g in summary["groups"]}
    assert set(groups) == {
        ("k8s-nginx", "file", "DENIED"),
        ("k8s-redis", "file", "ALLOWED"),
        ("k8s-nginx", "cap", "DENIED"),
        ("aaprof.web.shop.nginx", "file", "AUDIT"),
        ("unconfined", "policy", "STATUS"),
    }
    assert groups[("k8s-nginx", "file", "DENIED")]["top_names"] == [
        {"name": "/etc/shadow", "count": 1}
    ]
    assert all(g["count"] == 1 for g in groups.values())


def test_summary_table_counts_repeats(tmp_path: Path) -> None:
    path = tmp_path / "kern.log"
    path.write_text("".join(RECORDS[0].replace(":1)", f":{n})") for n in range(10, 13)))
    result = invoke("--summary", str(path))
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["COUNT", "MODE", "CLASS", "PROFILE"]
    assert lines[1].split() == ["3", "DENIED", "file", "k8s-nginx"]
    assert lines[2].split() == ["3", "/etc/shadow"]
    assert lines[-1].split()[:2] == ["3", "records"]


def test_summary_with_filter(log: Path) -> None:
    result = invoke("--summary", "--format", "json", "--mode", "denied", str(log))
    assert json.loads(result.stdout)["total"] == 2
    result = invoke("--summary", "--format", "json", "--pid", "100", str(log))
    assert json.loads(result.stdout)["total"] == 2


# --- filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--mode", "denied"], [1, 3]),
        (["--mode", "ALLOWED"], [2]),
        (["--mode", "all"], ALL),
        (["--profile", "k8s-*"], [1, 2, 3]),
        (["--profile", "k8s-nginx"], [1, 3]),
        (["--operation", "open"], [1, 4]),
        (["--operation", "open", "--operation", "exec"], [1, 2, 4]),
        (["--class", "capability"], [3]),
        (["--class", "cap"], [3]),
        (["--class", "file"], [1, 2, 4]),
        (["--since", "2023-11-14T22:15:00"], [2, 3, 4, 5]),
        (["--since", "2023-11-14T23:15:00+01:00"], [2, 3, 4, 5]),
        (["--until", str(T0 + 200)], [1, 2, 3]),
        (["--since", str(T0 + 100), "--until", "2023-11-14T22:18:20Z"], [2, 3, 4]),
        (["--pid", "100"], [1, 3]),
        (["--pid", "100", "--pid", "200"], [1, 2, 3]),
        (["--comm", "redis*"], [2]),
        (["--name", "/etc/*"], [1]),
        (["--name", "k8s-nginx"], [5]),
        (["--mode", "denied", "--class", "file"], [1]),
    ],
)
def test_filter(log: Path, args: list[str], expected: list[int]) -> None:
    assert serials(*args, str(log)) == expected


def test_bad_time_is_a_usage_error_naming_it(log: Path) -> None:
    result = run("--since", "yesterday-ish", str(log))
    assert result.returncode == 2
    assert b"yesterday-ish" in result.stderr
    assert b"Traceback" not in result.stderr


# --- nodes -----------------------------------------------------------------------------------


def test_node_applies_where_the_line_names_none(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text(RECORDS[0] + "node=worker-9 " + RECORDS[2])
    got = docs("--node", "worker-1", str(path))
    assert [(d["serial"], d["node"]) for d in got] == [(1, "worker-1"), (3, "worker-9")]
    assert [d.get("node") for d in docs(str(path))] == [None, "worker-9"]


def test_node_from_dir(tmp_path: Path) -> None:
    for node, record in (("node-a", RECORDS[0]), ("node-b", RECORDS[2])):
        (tmp_path / node).mkdir()
        (tmp_path / node / "audit.log").write_text(record)
    got = docs("--node-from-dir", str(tmp_path))
    assert sorted((d["node"], d["serial"]) for d in got) == [("node-a", 1), ("node-b", 3)]


# --- stats and errors ------------------------------------------------------------------------


def test_stats_line_names_first_unparsed_lines(log: Path) -> None:
    result = invoke("--format", "jsonl", str(log))
    assert result.exit_code == 0
    err = result.stderr.splitlines()
    assert err[0] == "aaprof: 7 lines read, 5 records, 1 unparsed"
    assert err[1].startswith(f"  unparsed: {log}:6: ")
    assert "stamp" in err[1]
    assert len(err) == 2


def test_quiet_has_no_stats(log: Path) -> None:
    assert invoke("-q", str(log)).stderr == ""


def test_missing_file_exit_1_others_still_printed(log: Path, tmp_path: Path) -> None:
    missing = tmp_path / "gone.log"
    result = invoke("--format", "jsonl", str(missing), str(log))
    assert result.exit_code == 1
    assert [json.loads(line)["serial"] for line in result.stdout.splitlines()] == ALL
    errors = [line for line in result.stderr.splitlines() if str(missing) in line]
    assert len(errors) == 1
    assert errors[0].startswith("aaprof: ")


def test_usage_errors_exit_2(log: Path) -> None:
    runner = CliRunner()
    for args in (
        [],
        ["--mode", "bogus", str(log)],
        ["--format", "xml", str(log)],
        ["--follow", "-"],
        ["--follow", "--summary", str(log)],
        ["--pid", "abc", str(log)],
        ["--no-such-option", str(log)],
    ):
        result = runner.invoke(cli, ["events", *args], catch_exceptions=False)
        assert result.exit_code == 2, (args, result.output)


def test_stdin(log: Path) -> None:
    got = docs("-", input=log.read_bytes())
    assert [d["serial"] for d in got] == ALL
    assert got[0]["source"] == {"file": "-", "line": 1}


def test_duplicates_across_files_reported_once(tmp_path: Path) -> None:
    """kern.log and syslog both hold the kernel's copy of each record (rsyslog writes both)."""
    line = f"Nov 14 22:13:20 node-a kernel: [ 1.0] audit: type=1400 {RECORDS[0][9:]}"
    other = f"Nov 14 22:18:20 node-a kernel: [ 2.0] audit: type=1400 {RECORDS[3][9:]}"
    (tmp_path / "kern.log").write_text(line)
    (tmp_path / "syslog").write_text(line + other)
    result = invoke("--format", "jsonl", str(tmp_path))
    got = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(d["serial"], d["node"]) for d in got] == [(1, "node-a"), (4, "node-a")]
    assert "2 records, 0 unparsed, 1 duplicates dropped" in result.stderr


def test_identical_records_from_one_file_are_all_kept(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text(RECORDS[0] * 3)
    assert serials(str(path)) == [1, 1, 1]


# --- real processes: exit codes --------------------------------------------------------------


def run(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "aaprof", "events", *args],
        input=input,
        capture_output=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def test_subprocess_exit_codes(log: Path, tmp_path: Path) -> None:
    ok = run("--format", "jsonl", str(log))
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.splitlines()) == 5

    missing = tmp_path / "missing.log"
    failed = run("--format", "jsonl", str(log), str(missing))
    assert failed.returncode == 1
    assert len(failed.stdout.splitlines()) == 5
    naming = [line for line in failed.stderr.decode().splitlines() if str(missing) in line]
    assert len(naming) == 1
    assert "Traceback" not in failed.stderr.decode()

    usage = run("--mode", "bogus", str(log))
    assert usage.returncode == 2
    assert b"bogus" in usage.stderr

    nothing = run()
    assert nothing.returncode == 2

    stdin = run("--format", "json", "-", input=log.read_bytes())
    assert stdin.returncode == 0
    assert len(json.loads(stdin.stdout)) == 5


def test_subprocess_glob_matching_nothing_exit_1(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nope-*.log"))
    assert result.returncode == 1
    assert str(tmp_path / "nope-*.log") in result.stderr.decode()


# --- containers ------------------------------------------------------------------------------

CONTAINER_ID = "3f4e" * 16
POD_UID = "6a1b2c3d-1111-2222-3333-444455556666"


def fake_proc(root: Path, pid: int, starttime: int = 12345) -> None:
    d = root / str(pid)
    d.mkdir(parents=True)
    uid = POD_UID.replace("-", "_")
    (d / "cgroup").write_text(
        "0::/kubepods.slice/kubepods-burstable.slice/"
        f"kubepods-burstable-pod{uid}.slice/cri-containerd-{CONTAINER_ID}.scope\n"
    )
    # Fields after `comm`: state is field 3, starttime field 22.
    after = ["S", *["0"] * 18, str(starttime), "0", "0"]
    (d / "stat").write_text(f"{pid} (nginx) " + " ".join(after) + "\n")


def test_proc_root_attaches_container(log: Path, tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    fake_proc(proc, 100)
    got = {d["serial"]: d for d in docs("--proc-root", str(proc), str(log))}
    expected = {"id": CONTAINER_ID, "runtime": "containerd", "pod_uid": POD_UID}
    assert got[1]["container"] == expected
    assert got[3]["container"] == expected
    assert "container" not in got[2]  # pid 200 is not in the fake proc tree
    assert "container" not in got[5]


def test_profile_name_scheme_gives_container_without_proc(log: Path) -> None:
    got = {d["serial"]: d for d in docs(str(log))}
    assert got[4]["container"] == {"namespace": "web", "pod": "shop", "name": "nginx"}
    assert all("container" not in got[n] for n in (1, 2, 3, 5))


def test_proc_and_profile_name_merge(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    fake_proc(proc, 300)
    path = tmp_path / "audit.log"
    path.write_text(RECORDS[3])
    (doc,) = docs("--proc-root", str(proc), str(path))
    assert doc["container"] == {
        "id": CONTAINER_ID,
        "runtime": "containerd",
        "pod_uid": POD_UID,
        "pod": "shop",
        "namespace": "web",
        "name": "nginx",
    }


def test_container_in_csv(log: Path) -> None:
    result = invoke("--format", "csv", str(log))
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert (rows[3]["container_namespace"], rows[3]["container_pod"]) == ("web", "shop")
    assert rows[3]["container_name"] == "nginx"


# --- several nodes ---------------------------------------------------------------------------

SAMPLES = REPO / "sample-logs"


def per_node(result: Result) -> dict[object, int]:
    assert result.exit_code == 0, result.stderr
    counts: dict[object, int] = {}
    for line in result.stdout.splitlines():
        node = json.loads(line).get("node")
        counts[node] = counts.get(node, 0) + 1
    return counts


def two_nodes(tmp_path: Path, first: str, second: str) -> list[str]:
    """node-a/<name> and node-b/<name> holding the same record: the same stamp and serial."""
    for node, text in (("node-a", first), ("node-b", second)):
        (tmp_path / node).mkdir()
        (tmp_path / node / "audit.log").write_text(text)
    return [str(tmp_path / "node-a"), str(tmp_path / "node-b")]


def test_two_nodes_with_the_same_stamp_and_serial_are_two_records(tmp_path: Path) -> None:
    """Lines naming no node: each belongs to its file's directory when several are read."""
    inputs = two_nodes(tmp_path, RECORDS[0], RECORDS[0])
    result = invoke("--format", "jsonl", *inputs)
    assert per_node(result) == {"node-a": 1, "node-b": 1}
    assert "2 records (node-a 1, node-b 1), 0 unparsed" in result.stderr
    assert "duplicates" not in result.stderr
    summary = invoke("--summary", "--format", "json", *inputs)
    assert json.loads(summary.stdout)["total"] == 2
    assert "2 records (node-a 1, node-b 1), 0 unparsed" in summary.stderr


def test_lines_naming_their_nodes_are_two_records(tmp_path: Path) -> None:
    """The duplicate check includes the node a line names, whatever the directories say."""
    inputs = two_nodes(tmp_path, "node=n1 " + RECORDS[0], "node=n2 " + RECORDS[0])
    for flags in ((), ("--no-node-from-dir",)):
        assert per_node(invoke("--format", "jsonl", *flags, *inputs)) == {"n1": 1, "n2": 1}
        summary = invoke("--summary", "--format", "json", *flags, *inputs)
        assert json.loads(summary.stdout)["total"] == 2


def test_one_node_read_as_one_when_the_user_says_so(tmp_path: Path) -> None:
    """--no-node-from-dir (or --node NAME): the inputs are one node's, and copies are one."""
    inputs = two_nodes(tmp_path, RECORDS[0], RECORDS[0])
    for flags in (("--no-node-from-dir",), ("--node", "n1")):
        result = invoke("--format", "jsonl", *flags, *inputs)
        assert sum(per_node(result).values()) == 1
        assert "1 duplicates dropped" in result.stderr


def test_one_nodes_audit_log_and_journal_hold_one_record(tmp_path: Path) -> None:
    inputs = two_nodes(tmp_path, RECORDS[0], RECORDS[0])
    entry = {
        "_HOSTNAME": "node-a",
        "_TRANSPORT": "kernel",
        "MESSAGE": "audit: type=1400 " + RECORDS[0][9:].strip(),
    }
    (tmp_path / "node-a" / "journal.json").write_text(json.dumps(entry) + "\n")
    result = invoke("--format", "jsonl", *inputs)
    assert per_node(result) == {"node-a": 1, "node-b": 1}
    assert "1 duplicates dropped" in result.stderr
    summary = invoke("--summary", "--format", "json", *inputs)
    assert json.loads(summary.stdout)["total"] == 2


def test_sample_nodes_read_together_keep_every_record() -> None:
    """Each node of the story has as many records read with the others as read alone."""
    nodes = sorted(str(p) for p in SAMPLES.glob("node-*"))
    alone: dict[object, int] = {}
    for path in nodes:
        for node, count in per_node(invoke("--format", "jsonl", path)).items():
            # (node-a's and node-c's lines name no node: read alone, their node is unknown)
            key = node if node is not None else Path(path).name
            alone[key] = alone.get(key, 0) + count
    result = invoke("--format", "jsonl", *nodes)
    together = per_node(result)
    assert together == alone
    assert together["node-c"] == 8 and together["node-d"] == 13
    counts = ", ".join(f"{node} {n}" for node, n in sorted(alone.items()))
    assert f"{sum(alone.values())} records ({counts})" in result.stderr
    summary = invoke("--summary", "--format", "json", *nodes)
    assert json.loads(summary.stdout)["total"] == sum(alone.values())
    assert f"{sum(alone.values())} records ({counts})" in summary.stderr


def test_table_has_a_node_column_when_several_nodes_are_read(tmp_path: Path) -> None:
    inputs = two_nodes(tmp_path, RECORDS[0], RECORDS[0])
    lines = invoke(*inputs).stdout.splitlines()
    assert lines[0].split()[:4] == ["TIME", "NODE", "POD", "MODE"]
    assert [line.split()[2] for line in lines[1:]] == ["node-a", "node-b"]
    alone = invoke(inputs[0]).stdout.splitlines()
    assert "NODE" not in alone[0].split() and "POD" not in alone[0].split()


def test_table_has_a_pod_column_when_several_nodes_are_read() -> None:
    """The pod each record is attributed to (the sample shop's profiles follow aaprof's
    naming scheme: namespace shop, pod web)."""
    nodes = sorted(str(p) for p in (REPO / "sample-logs").glob("node-*"))
    lines = invoke("--mode", "allowed", *nodes).stdout.splitlines()
    assert lines[0].split()[:4] == ["TIME", "NODE", "POD", "MODE"]
    pods = {line.split()[3] for line in lines[1:]}
    assert "shop/web" in pods
