"""A review session over sample-logs, against an empty (or prepared) profile directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from aaprof.containers.attribute import Attributor
from aaprof.engine import Session
from aaprof.logs.sources import expand
from aaprof.profiles.compile import parser_path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample-logs"


def sample_session(out: Path) -> Session:
    """What `aaprof review sample-logs/ --profiles OUT` opens (containers from profile names)."""
    return Session.read(expand([str(SAMPLE)]), out, attribute=Attributor.default(None, ()))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "apparmor"


@pytest.fixture
def session(out: Path) -> Session:
    return sample_session(out)


@pytest.fixture
def read_sample() -> Callable[[Path], Session]:
    """`sample_session`, for tests that open the session themselves."""
    return sample_session


@pytest.fixture(scope="session")
def apparmor_parser() -> str:
    """apparmor_parser's path; the review compiles before it saves, so tests need it."""
    try:
        return parser_path()
    except Exception as exc:  # AaprofError: not installed
        pytest.fail(f"{exc} (scripts/apt-test.txt lists it)")
