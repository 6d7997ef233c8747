"""/dev/kmsg records and their sequence numbers: skipped up to the checkpoint, gaps counted as
lost; the kernel's audit_lost reports counted by their increase. (The real device is in
tests/vm/test_watch.py; here a FIFO gives one record per read as the device does.)"""

from __future__ import annotations

import os
from pathlib import Path

from aaprof.logs.kmsg import FollowedKmsg, parse_kmsg
from aaprof.watch.metrics import LOST, Metrics, Tally


def test_parse_kmsg_record_and_escapes() -> None:
    record = b"5,1234,99,-;audit: name=\\x0aab\\x5c\n SUBSYSTEM=x\n"
    assert parse_kmsg(record) == (1234, b"audit: name=\nab\\")
    assert parse_kmsg(b"no header here\n") is None


def feed(fifo: int, source: FollowedKmsg, *seqs: int) -> list[int]:
    got = []
    for seq in seqs:  # one record per read, as the device gives them
        os.write(fifo, f"5,{seq},0,-;audit: record {seq}\n".encode())
        got += [r.source.line for r in source.poll(100)]
    return got


def test_checkpoint_skips_and_gaps_are_lost(tmp_path: Path) -> None:
    path = tmp_path / "kmsg"
    os.mkfifo(path)
    source = FollowedKmsg(str(path), boot="boot-a")
    source.restore({"boot": "boot-a", "seq": 5})
    writer = os.open(path, os.O_WRONLY)
    try:
        assert feed(writer, source, 4, 5, 6, 9) == [6, 9]
        assert source.take_lost() == {"kmsg_overwritten": 2}
        assert source.checkpoint() == {"boot": "boot-a", "seq": 9}
        source.restore({"boot": "boot-b", "seq": 500})  # another boot: from the start
        assert feed(writer, source, 1) == [1]
        assert source.take_lost() == {}
    finally:
        os.close(writer)
        source.close()


def test_audit_lost_counts_its_increase() -> None:
    metrics = Metrics({})
    for value, total in ((3, 3), (3, 3), (10, 10), (2, 12)):  # 2 < 10: a new boot's count
        tally = Tally()
        metrics.audit_lost(tally, "kmsg", value)
        metrics.apply(tally)
        assert metrics.values[LOST].get(("kmsg", "audit_lost"), 0) == total
