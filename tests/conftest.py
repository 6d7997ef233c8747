"""Shared fixtures: where the external corpus lives."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_corpus import CORPUS, require

REPO = Path(__file__).resolve().parent.parent
SHARED_CORPUS = CORPUS


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus, or a skip saying it is absent."""
    return require(SHARED_CORPUS)
