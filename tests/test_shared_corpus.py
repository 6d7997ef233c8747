"""A test that needs ../shared skips, with a message saying so, where it is absent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import shared_corpus

REPO = Path(__file__).resolve().parent.parent

# Every test that reads ../shared (grep the tests for `shared_corpus` when adding one)
NEEDS_SHARED = (
    "tests/engine/test_logprof_corpus.py",
    "tests/logs/test_libapparmor_corpus.py",
    "tests/logs/test_wild_corpus.py",
    "tests/logs/test_quick.py::test_libapparmor_corpus",
    "tests/logs/test_quick.py::test_wild_corpus",
    "tests/logs/test_quick.py::test_filters",
    "tests/logs/test_stacked_corpus.py::test_lxd_stacks_and_namespaces",
    "tests/profiles/test_debian_profiles.py::test_corpus_present",
    "tests/profiles/test_grammar.py::test_every_corpus_file_parses_and_renders_stably",
)


def test_require_skips_naming_the_absent_path(tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere" / "corpus"
    with pytest.raises(pytest.skip.Exception, match=r"needs \.\./shared .*corpus is absent"):
        shared_corpus.require(missing)
    assert shared_corpus.require(tmp_path) == tmp_path


def test_every_test_needing_shared_skips_where_it_is_absent(tmp_path: Path) -> None:
    absent = tmp_path / "no-shared-here"
    env = {**os.environ, "AAPROF_SHARED": str(absent)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *NEEDS_SHARED]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    summary = out.strip().splitlines()[-1]
    assert re.fullmatch(r"=* ?\d+ skipped in .*", summary), summary
    reasons = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert reasons, out
    for line in reasons:
        assert f"needs ../shared (the shared corpus next to the repository): {absent}" in line, line


def test_tests_find_shared_only_through_shared_corpus() -> None:
    spelled = "/ " + '"shared"'  # a path built by hand
    users = [
        p.relative_to(REPO)
        for p in (REPO / "tests").rglob("*.py")
        if spelled in p.read_text() and p.name != "shared_corpus.py"
    ]
    assert users == [], f"find ../shared through tests/shared_corpus.py: {users}"
