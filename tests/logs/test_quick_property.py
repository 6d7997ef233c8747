"""Property: on logs shaped like real nodes', the fast summary equals summarising full parses.

The logs come from the benchmark's generator (benchmarks/generate.py, benchmarks/realism.py)
with every knob drawn: ENRICHED tails, D-Bus USER_AVC records (split over two lines or not),
SYSCALL/PROCTITLE companions, stacked labels, hex names, temp-file names, `class=` layout,
`node=` prefixes, journalctl text, rotated `.gz` sets; odd lines are mixed in and the chunk
size is drawn small, so records and split lines straddle chunk boundaries.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aaprof.logs import quick
from tests.logs.test_quick import ODD_LINES, both

REPO = Path(__file__).resolve().parents[2]


def _load(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_load("noise")
realism = _load("realism")
generator = _load("generate")

shares = st.sampled_from([0.0, 0.05, 0.3, 1.0])
shapes = st.builds(
    realism.Realism,
    profiles=st.integers(1, 60),
    pids=st.integers(1, 50),
    hex_names=shares,
    unique_names=shares,
    stacked=shares,
    with_class=st.booleans(),
    enriched=st.booleans(),
    companions=shares,
    node_prefix=st.booleans(),
    dbus=st.sampled_from([0.0, 0.02, 0.1]),
    dbus_split=shares,
    journal_text=st.booleans(),
    rotate=st.integers(0, 2),
)


def _mix_in(path: Path, odd: list[str], seed: int) -> None:
    """Put the odd lines at random places of a plain log."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    rng = random.Random(seed)
    for line in odd:
        at = rng.randrange(len(lines) + 1)
        while at < len(lines) and lines[at][:1] in {" ", "\t"}:
            at += 1  # never between a split record and its continuation
        lines.insert(at, line + "\n")
    path.write_text("".join(lines), encoding="utf-8")


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shape=shapes,
    seed=st.integers(0, 2**32),
    chunk=st.sampled_from([512, 4096, 1 << 20]),
    odd=st.lists(st.sampled_from(ODD_LINES), max_size=4),
)
def test_fast_equals_full_on_realistic_logs(
    tmp_path_factory: pytest.TempPathFactory,
    shape: Any,
    seed: int,
    chunk: int,
    odd: list[str],
) -> None:
    outdir = tmp_path_factory.mktemp("realistic")
    generator.generate(outdir, 300, seed, shape=shape)
    _mix_in(outdir / "audit.log", odd, seed)
    inputs = [outdir / "audit.log", outdir / "kern.log"]
    if shape.journal_text:
        inputs.append(outdir / "journal.txt")
    saved = quick.CHUNK
    quick.CHUNK = chunk
    try:
        for path in inputs:
            fast, full = both([str(path)])
            assert fast == full, path.name
        if shape.rotate:
            fast, full = both([str(outdir / "rotated")])
            assert fast == full, "rotated set"
        fast, full = both([str(p) for p in inputs])  # copies across files: the dedup path
        assert fast == full, "all inputs together"
    finally:
        quick.CHUNK = saved
