"""The alert load benchmark's claim on a small load: sends follow alerts × resends, not records."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("alerts_load", REPO / "benchmarks/alerts_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["alerts_load"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_sends_are_bounded_by_workloads_and_resends_and_every_record_is_counted() -> None:
    bench = load()
    result = bench.run(rate=100, workloads=20, seconds=130)
    assert result.records_counted == result.records == 13_000
    assert result.alerts_sent == result.bound == 20 * (1 + 130 // 60)
    assert "| alerts sent (aaprof) | 60 " in bench.table(result)
