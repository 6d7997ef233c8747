"""Watch's lines of a node's pods, read back: only a pods line watch wrote adds pods; a record
(whatever its values) never does, and a pods line with a wrong value is counted unparsed with
its place, adding nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from aaprof.logs.jsonevents import may_hold_events, parse_pods_line
from aaprof.logs.lines import Unparsed
from aaprof.logs.reader import Reader
from aaprof.logs.sources import expand
from aaprof.model.event import Event
from aaprof.model.pods import PodsLine

UID = "00000001-0000-4000-8000-000000000000"
LINE = PodsLine(
    "node-a", datetime(2027, 1, 15, 8, tzinfo=UTC), (("shop", "web-7d4b9c6f8d-x2x9k", UID),)
)


def test_a_pods_line_reads_back() -> None:
    assert parse_pods_line(LINE.to_json().encode()) == LINE


def test_a_record_naming_pods_is_no_pods_line() -> None:
    # a confined process chose the name: its quotes stay escaped inside the record's string
    name = '{"kind":"pods","node":"x","pods":[{"namespace":"evil","pod":"p"}]}'
    record = Event("ALLOWED", profile="p", name=name, operation="open").to_dict()
    line = json.dumps(record).encode()
    assert parse_pods_line(line) is None
    # a record that has the key `kind` is still a record (it has `mode`)
    assert parse_pods_line(json.dumps({**record, "kind": "pods", "pods": []}).encode()) is None


def test_a_bad_name_is_unparsed_and_adds_nothing(tmp_path: Path) -> None:
    bad = json.loads(LINE.to_json())
    bad["pods"].append({"namespace": "shop", "pod": "web\nnode=x"})
    found = parse_pods_line(json.dumps(bad).encode())
    assert isinstance(found, Unparsed) and "not a Kubernetes pod" in found.reason
    log = tmp_path / "node-a.jsonl"
    record = Event("ALLOWED", profile="p", name="/etc/x", operation="open", node="node-a")
    log.write_text(json.dumps(bad) + "\n" + json.dumps(record.to_dict()) + "\n")
    reader = Reader()
    assert len(list(reader.records(expand([str(log)])))) == 1  # the record is still read
    assert not reader.pods.read and reader.pods.nodes == {}
    assert reader.stats.unparsed == 1
    ((source, reason),) = reader.stats.first_unparsed
    assert (source.file, source.line) == (str(log), 1) and "not a Kubernetes pod" in reason


def test_pods_lines_add_up_per_node(tmp_path: Path) -> None:
    later = PodsLine("node-a", None, (("shop", "web-7d4b9c6f8d-m7n8p", None),))
    other = PodsLine(None, None, (("shop", "api-5f6c7d8b9c-zz2xx", None),))
    log = tmp_path / "watch.jsonl"
    log.write_text("\n".join(p.to_json() for p in (LINE, later, other)) + "\n")
    assert may_hold_events(str(log))  # a file that starts with one is watch's output
    reader = Reader(node="node-b")  # the node of lines that name none
    assert list(reader.records(expand([str(log)]))) == []
    assert reader.pods.read
    assert reader.pods.nodes == {
        "node-a": {("shop", "web-7d4b9c6f8d-x2x9k"), ("shop", "web-7d4b9c6f8d-m7n8p")},
        "node-b": {("shop", "api-5f6c7d8b9c-zz2xx")},
    }
