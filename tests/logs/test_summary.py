"""The summary's counts stay bounded without trimming again and again (the distinct mix)."""

from __future__ import annotations

import pytest

from aaprof.logs import summary as module
from aaprof.logs.summary import Summary


def test_many_small_groups_are_trimmed_a_few_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many groups with a few names each hold more names than NAMES_TOTAL even trimmed: a trim
    must not follow every name then (it did, looking at every group each time: a log whose
    records rarely repeat took minutes to summarise)."""
    monkeypatch.setattr(module, "NAMES_TOTAL", 50)
    trims = []
    trim = Summary._trim

    def counted(self: Summary) -> None:
        trims.append(1)
        trim(self)

    monkeypatch.setattr(Summary, "_trim", counted)
    summary = Summary()
    for n in range(2000):
        summary.add("DENIED", "file", f"profile-{n % 400}", f"/tmp/{n}")
    assert summary.total == 2000
    assert sum(len(g.names) for g in summary.groups.values()) == 2000  # (5 a group: all kept)
    assert len(trims) <= 10


def test_a_trim_keeps_the_most_frequent_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "NAMES_TOTAL", 50)
    monkeypatch.setattr(module, "NAMES_TRIMMED", 3)
    summary = Summary()
    for n in range(200):
        summary.add("DENIED", "file", "p", "/etc/hot", 5)
        summary.add("DENIED", "file", "p", f"/tmp/{n}")
    (group,) = summary.groups.values()
    assert group.count == 1200 and group.names_dropped
    assert group.top(1) == [("/etc/hot", 1000)]
