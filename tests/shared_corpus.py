"""Where `../shared` (the project's shared corpus, next to the repository) is, and how a test that
needs it asks for it: where it is absent, the test skips with a message saying so.

`AAPROF_SHARED` names another directory (a checkout elsewhere; the tests of this rule point it at
one that does not exist)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AAPROF_SHARED") or REPO.parent / "shared")
CORPUS = SHARED / "corpus"


def absent(path: Path) -> str:
    """The skip message for a test that needs `path` under ../shared."""
    return (
        f"needs ../shared (the shared corpus next to the repository): {path} is absent "
        "(set AAPROF_SHARED to its directory)"
    )


def require(path: Path) -> Path:
    """`path` if it exists, or skip the calling test saying it is absent."""
    if not path.exists():
        pytest.skip(absent(path))
    return path


def needs(path: Path) -> pytest.MarkDecorator:
    """A mark that skips a test (or, as `pytestmark`, a module) when `path` is absent."""
    return pytest.mark.skipif(not path.exists(), reason=absent(path))
