"""A record's values are a confined process's words: they can add no label, metric or line."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from aaprof.watch.exposition import exposition, registry_for
from aaprof.watch.metrics import LABELS, Metrics
from aaprof.watch.run import Options, build
from aaprof.watch.state import State
from watch.records import audit_line, hostile_line

HOSTILE = [
    b'evil"} aaprof_watch_up 0\n# TYPE x counter\nx{a="b"} 1',
    b'new\nline\r\n{"json": 1}\n',
    b"bad\xff\xfe utf8 \xc3(",
    b'quote" back\\slash }{ ,x="y"',
]

EXPECTED_NAMES = {name.removesuffix("_total") for name in LABELS} | {
    "aaprof_watch_up",
    "aaprof_watch_build_info",
}


def run_once(log: Path, state: Path, **extra: object) -> bytes:
    out = io.BytesIO()
    options = Options(logs=[str(log)], state=state, proc_root=state.parent, **extra)  # type: ignore[arg-type]
    daemon = build(options, out, lambda message: None)
    try:
        daemon.run(threading.Event(), once=True)
    finally:
        daemon.state.close()
    return out.getvalue()


def test_hostile_values_stay_inside_one_json_string_and_one_label(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    lines = [hostile_line(1000 + i, h, h, h[:15]) for i, h in enumerate(HOSTILE)]
    lines.append(audit_line(2000))
    log.write_bytes(b"".join(lines))
    output = run_once(log, tmp_path / "state")

    records = output.split(b"\n")
    assert records.pop() == b""
    assert len(records) == len(lines)  # one line per record, no more
    events = [json.loads(r) for r in records]
    assert [e["serial"] for e in events] == [1000, 1001, 1002, 1003, 2000]
    for event, hostile in zip(events, HOSTILE, strict=False):
        assert event["profile"] == hostile.decode("utf-8", "replace")
        if "_hex" in json.dumps(event):
            assert bytes.fromhex(event["profile_hex"]) == hostile

    state = State(tmp_path / "state")
    metrics = Metrics(state.counts())
    state.close()
    text = exposition(registry_for(metrics, process=False)).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(families) == EXPECTED_NAMES
    for family in families.values():
        for sample in family.samples:
            wanted = LABELS.get(family.name + "_total", LABELS.get(family.name))
            if wanted is not None:
                assert set(sample.labels) == set(wanted), sample
    up = families["aaprof_watch_up"].samples
    assert [s.value for s in up] == [1.0]
    profiles = {
        s.labels["profile"]
        for s in families["aaprof_watch_records"].samples
        if s.name.endswith("_total")
    }
    assert profiles == {
        "aaprof.web.shop-7d9f8c6b5d-x2x4z.nginx",
        *(h.decode("utf-8", "replace").replace("\r", "\\r") for h in HOSTILE),
    }
    assert "\r" not in text  # a raw carriage return never reaches a label
    total = sum(
        s.value for s in families["aaprof_watch_records"].samples if s.name.endswith("_total")
    )
    assert total == len(lines)


def test_the_series_cap_holds_whatever_the_profile_names(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(audit_line(i, profile=f"p{i}") for i in range(50)))
    run_once(log, tmp_path / "state", max_series=10)
    state = State(tmp_path / "state")
    counts = state.counts()
    state.close()
    records = counts["aaprof_watch_records_total"]
    assert len(records) == 11
    overflow = ("_overflow_",) * 4 + ("denied", "file")
    assert records[overflow] == 40
    assert counts["aaprof_watch_series_overflow_total"][()] == 40
    assert sum(records.values()) == 50


def test_critical_records_are_counted_beside_all_records(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(audit_line(1, name="/etc/shadow") + audit_line(2, name="/usr/share/doc/x"))
    run_once(log, tmp_path / "state")
    state = State(tmp_path / "state")
    counts = state.counts()
    state.close()
    assert sum(counts["aaprof_watch_records_total"].values()) == 2
    assert list(counts["aaprof_watch_critical_records_total"].values()) == [1]
    assert set(counts["aaprof_watch_critical_records_total"]) <= set(
        counts["aaprof_watch_records_total"]
    )
