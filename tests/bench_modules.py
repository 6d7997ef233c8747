"""The benchmark scripts' modules (benchmarks/*.py), imported by name for tests that use their
log generators."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import strategies as st

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str) -> ModuleType:
    """benchmarks/<name>.py as module `name` (imported once; the scripts import each other
    by name, so benchmarks/ goes at the end of the import path)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.append(str(BENCHMARKS))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def realism_shapes(**fixed: Any) -> st.SearchStrategy[Any]:
    """Hypothesis strategy of `benchmarks/realism.Realism` shapes, every knob drawn (small
    logs: few profiles and processes), but those given in `fixed` (values or strategies)."""
    realism = load("realism")
    shares = st.sampled_from([0.0, 0.05, 0.3, 1.0])
    knobs: dict[str, Any] = {
        "profiles": st.integers(1, 60),
        "pids": st.integers(1, 50),
        "hex_names": shares,
        "unique_names": shares,
        "stacked": shares,
        "with_class": st.booleans(),
        "enriched": st.booleans(),
        "companions": shares,
        "node_prefix": st.booleans(),
        "dbus": st.sampled_from([0.0, 0.02, 0.1]),
        "dbus_split": shares,
        "journal_text": st.booleans(),
        "rotate": st.integers(0, 2),
        "fresh": st.booleans(),  # the distinct mix: every record drawn afresh
    }
    for name, value in fixed.items():
        knobs[name] = value if isinstance(value, st.SearchStrategy) else st.just(value)
    return st.builds(realism.Realism, **knobs)
