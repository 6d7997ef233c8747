"""SVG snapshots of the review's main screens at 80×24, 120×36 and 160×50 (docs/review.md shows
them); tests/tui/test_first_contact_tui.py checks that their rule lines read apart.

Update them after a deliberate change with `pytest tests/tui/test_snapshots.py
--snapshot-update` and look at the SVGs (tests/tui/__snapshots__/) before committing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from aaprof.containers.attribute import Attributor
from aaprof.engine import Saved, Session
from aaprof.logs.sources import expand
from aaprof.tui.app import ReviewApp

REPO = Path(__file__).resolve().parents[2]
SMALL = (80, 24)
MEDIUM = (120, 36)
LARGE = (160, 50)
Compare = Callable[..., bool]


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ReviewApp:
    """The review of sample-logs/ (named relative to the checkout, so the text is stable)."""
    monkeypatch.chdir(REPO)
    session = Session.read(
        expand(["sample-logs"]), tmp_path / "out", attribute=Attributor.default(None, ())
    )
    return ReviewApp(session, decisions_file=tmp_path / "decisions.yaml")


async def on_shop(pilot: Pilot[Saved | None]) -> None:
    await pilot.press("shift+tab", "down", "tab")
    await pilot.pause()


@pytest.mark.parametrize("size", [SMALL, MEDIUM, LARGE], ids=["80x24", "120x36", "160x50"])
def test_first_screen(snap_compare: Compare, app: ReviewApp, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", [SMALL, MEDIUM, LARGE], ids=["80x24", "120x36", "160x50"])
def test_a_workload_with_decisions_and_the_diff(
    snap_compare: Compare, app: ReviewApp, size: tuple[int, int]
) -> None:
    assert snap_compare(
        app, press=["a", "a", "g", "g", "p"], terminal_size=size, run_before=on_shop
    )


def test_help(snap_compare: Compare, app: ReviewApp) -> None:
    assert snap_compare(app, press=["question_mark"], terminal_size=SMALL)


def test_exec_prompt_under_no_new_privs(snap_compare: Compare, app: ReviewApp) -> None:
    async def to_nnp_exec(pilot: Pilot[Saved | None]) -> None:
        await pilot.press("slash", *"nnp/cat", "enter", "x", "p")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SMALL, run_before=to_nnp_exec)


def test_new_rule_being_typed(snap_compare: Compare, app: ReviewApp) -> None:
    async def typing(pilot: Pilot[Saved | None]) -> None:
        await pilot.press("slash", *"nginx.conf", "enter", "n", "backspace")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SMALL, run_before=typing)


def test_coverage_across_replicas(
    snap_compare: Compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three nodes' watch output (tests/replicas.py): the details say on how many of the
    replicas and nodes that ran the rule was seen, and flag the one seen on one replica."""
    from replicas import watch_three_nodes

    outputs = watch_three_nodes(tmp_path)
    monkeypatch.chdir(tmp_path)
    session = Session.read(
        expand([o.name for o in outputs]), tmp_path / "out", attribute=Attributor.default(None, ())
    )
    app = ReviewApp(session, decisions_file=tmp_path / "decisions.yaml")

    async def to_the_outlier(pilot: Pilot[Saved | None]) -> None:
        await pilot.press("slash", *"debug", "enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=MEDIUM, run_before=to_the_outlier)
