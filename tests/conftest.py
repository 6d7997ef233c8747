"""Shared fixtures: where the external corpus lives; the readers' byte searches run both ways
(`searches`: once with the C accelerator, aaprof/logs/_bytescan.c, once in pure Python)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from shared_corpus import CORPUS, require

from aaprof.logs import bytescan

REPO = Path(__file__).resolve().parent.parent
SHARED_CORPUS = CORPUS


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus, or a skip saying it is absent."""
    return require(SHARED_CORPUS)


INSTALL = (
    "aaprof's C accelerator (aaprof/logs/_bytescan.c) is not built: install a C compiler and "
    "Python's headers (apt-get install gcc python3-dev), then `pip install -e .` again "
    "(./dev.sh venv does both)"
)


def _extension() -> ModuleType:
    """The built extension, or a failure saying how to build it."""
    try:
        from aaprof.logs import _bytescan
    except ImportError:
        pytest.fail(INSTALL)
    return _bytescan


@pytest.fixture(scope="module", params=["c", "python"])
def searches(request: pytest.FixtureRequest) -> Iterator[str]:
    """Which searches the module's tests run with ("c" fails where the extension is not built)."""
    kept = bytescan.fast
    bytescan.fast = _extension() if request.param == "c" else None
    try:
        yield request.param
    finally:
        bytescan.fast = kept


@pytest.fixture
def extension() -> ModuleType:
    """The C accelerator's module (a failure saying how to build it where it is not built)."""
    return _extension()
