"""Fixtures of the alert tests: real Alertmanagers on free 127.0.0.1 ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.servers import Alertmanager


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    server = Alertmanager(tmp_path / "am1")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def alertmanager2(tmp_path: Path) -> Iterator[Alertmanager]:
    server = Alertmanager(tmp_path / "am2")
    server.start()
    yield server
    server.stop()
