"""A crash between a batch's output and its commit: the batch is written again, with the same
identities, and counted once (the counts and checkpoint commit together)."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest

from aaprof.watch.metrics import RECORDS
from aaprof.watch.run import Options, build
from aaprof.watch.state import State
from watch.records import audit_line


class Crash(Exception):
    pass


def run(options: Options, crash_on_commit: int | None) -> bytes:
    out = io.BytesIO()
    daemon = build(options, out, lambda message: None)
    commits = [0]
    real_commit = daemon.state.commit

    def commit() -> None:
        commits[0] += 1
        if commits[0] == crash_on_commit:
            raise Crash  # the process dies here: the transaction never commits
        real_commit()

    daemon.state.commit = commit  # type: ignore[method-assign]
    try:
        daemon.run(threading.Event(), once=True)
    except Crash:
        pass
    finally:
        daemon.state.close()
    return out.getvalue()


@pytest.mark.parametrize("crash_on", [2, 3])
def test_a_batch_output_but_not_committed_is_repeated_and_counted_once(
    tmp_path: Path, crash_on: int
) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(audit_line(i) for i in range(3000)))
    options = Options(logs=[str(log)], state=tmp_path / "s", proc_root=tmp_path)
    first = run(options, crash_on_commit=crash_on)  # commit 1 is the first start's position
    second = run(options, crash_on_commit=None)
    one = [json.loads(x) for x in first.splitlines()]
    two = [json.loads(x) for x in second.splitlines()]
    repeated = {d["serial"] for d in one} & {d["serial"] for d in two}
    assert repeated  # the uncommitted batch came again...
    identity = {d["serial"]: (d.get("node"), d["epoch"]) for d in one}
    assert all(
        identity[d["serial"]] == (d.get("node"), d["epoch"]) for d in two if d["serial"] in repeated
    )
    assert {d["serial"] for d in one + two} == set(range(3000))
    state = State(tmp_path / "s")
    assert sum(state.counts()[RECORDS].values()) == 3000  # ...and was counted once
    state.close()
