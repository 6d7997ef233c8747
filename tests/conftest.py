"""Shared fixtures: where the external corpus lives."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus, or a skip saying why it is absent."""
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"the external corpus is absent: expected it at {SHARED_CORPUS}")
    return SHARED_CORPUS
