"""Without the compiled part (`AAPROF_PURE_PYTHON=1`), `aaprof events` writes the same bytes:
JSON lines, DENIED JSON lines and the summary, on generated logs of both mixes (realistic, and
distinct: every record drawn afresh) and on the whole shared corpus (issue 24)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench_modules import load, realism_shapes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared_corpus import CORPUS, require

from aaprof.logs import bytescan

REPO = Path(__file__).resolve().parents[2]
load("noise")
generator = load("generate")
COMMANDS = (
    ("--format", "jsonl"),
    ("--mode", "denied", "--format", "jsonl"),
    ("--summary",),
    ("--summary", "--format", "json"),
)


def events(paths: list[str], args: tuple[str, ...], pure: bool) -> tuple[int, bytes, bytes]:
    env = {k: v for k, v in os.environ.items() if k != "AAPROF_PURE_PYTHON"}
    if pure:
        env["AAPROF_PURE_PYTHON"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "aaprof", "events", *args, *paths],
        capture_output=True,
        check=False,
        cwd=REPO,
        env=env,
    )
    return done.returncode, done.stdout, done.stderr


def assert_same_without_the_extension(paths: list[str]) -> None:
    if bytescan._extension() is None:
        pytest.fail("the C accelerator is not built: nothing to compare (pip install -e .)")
    for args in COMMANDS:
        compiled = events(paths, args, pure=False)
        assert compiled[0] in (0, 1), compiled[2]
        assert events(paths, args, pure=True) == compiled, args


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shape=realism_shapes(profiles=st.integers(1, 40), pids=st.integers(1, 20), rotate=0),
    fresh=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_generated_logs_of_both_mixes(
    tmp_path_factory: pytest.TempPathFactory, shape: Any, fresh: bool, seed: int
) -> None:
    outdir = tmp_path_factory.mktemp("mix")
    generator.generate(outdir, 600, seed, shape=shape.but(fresh=fresh))
    for name in ("audit.log", "kern.log"):
        assert_same_without_the_extension([str(outdir / name)])


def test_the_shared_corpus() -> None:
    corpus = require(CORPUS)
    assert_same_without_the_extension(sorted(str(p) for p in corpus.iterdir() if p.is_dir()))
