"""`aaprof watch` as a process: the endpoints, SIGTERM commits, SIGHUP reopens, usage errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from aaprof.cli.main import cli
from watch.records import audit_line


def start(args: list[str], tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "aaprof", "watch", *args, "--metrics-address", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stderr is not None
    for raw in proc.stderr:
        line = raw.decode()
        if "metrics on http://" in line:
            return proc, int(line.rsplit(":", 1)[1].split("/")[0])
    proc.kill()
    raise AssertionError("watch did not say where it serves metrics")


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_ready(port: int) -> None:
    # readiness is a protocol state (the backlog was read once), polled until reached
    for _ in range(600):
        if get(port, "/readyz")[0] == 200:
            return
        subprocess.run(["sleep", "0.05"], check=True)
    raise AssertionError("never ready")


def total(text: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "aaprof_watch_records":
            return sum(s.value for s in family.samples if s.name.endswith("_total"))
    return 0.0


def test_serves_metrics_and_health_and_commits_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(audit_line(i) for i in range(1, 101)))
    proc, port = start([str(log), "--state", str(tmp_path / "state")], tmp_path)
    try:
        wait_ready(port)
        assert get(port, "/healthz") == (200, "ok\n")
        status, text = get(port, "/metrics")
        assert status == 200
        assert total(text) == 100
        assert "process_resident_memory_bytes" in text
        assert get(port, "/nope")[0] == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert len(out.splitlines()) == 100
    # The state was committed: a second run reads nothing again.
    again = CliRunner().invoke(
        cli, ["watch", str(log), "--state", str(tmp_path / "state"), "--once"]
    )
    assert again.exit_code == 0, again.output
    assert again.stdout == ""


def test_once_reads_and_resumes(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(audit_line(1) + audit_line(2))
    args = ["watch", str(log), "--state", str(tmp_path / "s"), "--once"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert [json.loads(x)["serial"] for x in first.stdout.splitlines()] == [1, 2]
    with log.open("ab") as f:
        f.write(audit_line(3))
    second = CliRunner().invoke(cli, args)
    assert [json.loads(x)["serial"] for x in second.stdout.splitlines()] == [3]


def test_state_is_required(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["watch", str(tmp_path / "x.log")])
    assert result.exit_code == 2
    assert "--state" in result.output


def test_sighup_reopens_the_output_file(tmp_path: Path) -> None:
    log, output = tmp_path / "audit.log", tmp_path / "events.jsonl"
    log.write_bytes(audit_line(1))
    proc, port = start(
        [str(log), "--state", str(tmp_path / "state"), "--output", str(output), "--no-stdout"],
        tmp_path,
    )
    try:
        wait_ready(port)
        output.rename(tmp_path / "events.jsonl.1")  # as logrotate does, then HUP
        proc.send_signal(signal.SIGHUP)
        assert proc.stderr is not None
        line = b""
        while b"reopened" not in line:  # the reopen is done
            line = proc.stderr.readline()
            assert line, "watch exited"
        with log.open("ab") as f:
            f.write(audit_line(2))
        for _ in range(600):  # until the record is committed (a protocol state)
            if total(get(port, "/metrics")[1]) == 2:
                break
            subprocess.run(["sleep", "0.05"], check=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    first = [json.loads(x)["serial"] for x in (tmp_path / "events.jsonl.1").read_text().split()]
    second = [json.loads(x)["serial"] for x in output.read_text().split()]
    assert first + second == [1, 2]
    assert second == [2]


def test_output_file_rotates(tmp_path: Path) -> None:
    from aaprof.watch.output import RotatingFile

    out = RotatingFile(str(tmp_path / "e.jsonl"), max_bytes=100, keep=2)
    for n in range(7):
        out.write(f'{{"n":{n},"pad":"{"x" * 40}"}}\n'.encode())
    out.close()
    kept = [tmp_path / "e.jsonl.2", tmp_path / "e.jsonl.1", tmp_path / "e.jsonl"]
    numbers = [json.loads(line)["n"] for p in kept for line in p.read_text().splitlines()]
    assert numbers == sorted(numbers) and numbers[-1] == 6
    assert not (tmp_path / "e.jsonl.3").exists()


def test_alertmanager_options_add_the_alert_sink_and_its_metrics(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(audit_line(i) for i in range(1, 11)))
    url = "http://127.0.0.1:9/"  # nothing listens: deliveries fail and are retried
    proc, port = start(
        [str(log), "--state", str(tmp_path / "state"), "--alertmanager", url], tmp_path
    )
    try:
        wait_ready(port)
        text = get(port, "/metrics")[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"aaprof_alerts_sent", "aaprof_alerts_queue_length", "aaprof_watch_records"} <= names
    assert f'aaprof_alerts_sent_total{{alertmanager="{url}"}}' in text
    assert total(text) == 10


def test_events_reads_watch_output_back(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(audit_line(i, name=f"/data/{i}") for i in range(1, 21)))
    watched = CliRunner().invoke(cli, ["watch", str(log), "--state", str(tmp_path / "s"), "--once"])
    assert watched.exit_code == 0, watched.output
    out = tmp_path / "watch.jsonl"
    out.write_text(watched.stdout)
    back = CliRunner().invoke(cli, ["events", str(out), "--format", "jsonl"])
    assert back.exit_code == 0, back.output
    original = [json.loads(x) for x in watched.stdout.splitlines()]
    again = [json.loads(x) for x in back.stdout.splitlines()]
    keys = ("serial", "epoch", "mode", "operation", "profile", "name", "pid")
    assert [[d[k] for k in keys] for d in again] == [[d[k] for k in keys] for d in original]
