"""The review benchmark's key-to-frame probe: it sees the frame a key draws, and none when a key
changes nothing on the screen (it times nothing then)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from bench_modules import load as load_benchmark
from textual.widget import Widget

from aaprof.engine import Session
from aaprof.logs.sources import expand
from aaprof.tui.app import ReviewApp

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.asyncio


def load() -> ModuleType:
    return load_benchmark("key_to_frame")


async def test_a_key_that_draws_is_timed_to_its_frame_and_one_that_does_not_is_not(
    tmp_path: Path,
) -> None:
    probe = load()
    session = Session.read(expand([str(REPO / "sample-logs")]), tmp_path / "apparmor")
    app = ReviewApp(session)
    clock = probe.FrameClock(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await clock.settle(pilot)
        first = app.current()
        press = await clock.press(pilot, "down")
        assert app.current() != first  # the key was handled before the probe returned
        assert press.frames >= 1 and press.wall is not None and press.cpu is not None
        assert press.wall >= 0 and press.cpu >= 0
        assert await clock.press(pilot, "z") == probe.Press(0, None, None)  # bound to nothing
        before = len(app.session.decisions)
        press = await clock.press(pilot, "a")
        assert len(app.session.decisions) == before + 1 and press.frames >= 1


async def test_the_reference_app_draws_each_counted_key() -> None:
    probe = load()
    app = probe.Reference()
    clock = probe.FrameClock(app)
    async with app.run_test(size=(80, 24)) as pilot:
        for n in range(1, 4):
            press = await clock.press(pilot, "x")
            assert app.presses == n and press.frames >= 1 and press.wall is not None


class Restless(Widget):
    """Asks to be drawn again each time it is drawn: the app never settles."""

    def render(self) -> str:
        self.call_later(self.refresh)
        return "again"


async def test_an_app_that_never_stops_drawing_is_reported_not_waited_for() -> None:
    probe = load()
    app = probe.Reference()
    clock = probe.FrameClock(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.mount(Restless())
        with pytest.raises(TimeoutError, match="still draws"):
            await clock.settle(pilot, timeout=0.5)
