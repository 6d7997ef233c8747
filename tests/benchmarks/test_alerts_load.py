"""The alert load benchmark's claim on a small load: sends follow alerts × resends, not records."""

from __future__ import annotations

from types import ModuleType

from bench_modules import load as load_benchmark


def load() -> ModuleType:
    return load_benchmark("alerts_load")


def test_sends_are_bounded_by_workloads_and_resends_and_every_record_is_counted() -> None:
    bench = load()
    result = bench.run(rate=100, workloads=20, seconds=130)
    assert result.records_counted == result.records == 13_000
    assert result.alerts_sent == result.bound == 20 * (1 + 130 // 60)
    assert "| alerts sent (aaprof) | 60 " in bench.table(result)
