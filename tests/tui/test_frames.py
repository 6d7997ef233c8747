"""The review's screen draws a key's effect once, when the app has settled (tui/frames.py): the
keys that show or hide a pane or move the focus lay out several times, and only the last pass
is drawn; a screen that never settles is drawn all the same."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from types import ModuleType
from typing import ClassVar

import pytest
from bench_modules import load as load_benchmark
from textual import events
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static

from aaprof.engine import Session
from aaprof.tui.app import ReviewApp
from aaprof.tui.frames import OneFrameScreen

pytestmark = pytest.mark.asyncio


def key_to_frame() -> ModuleType:
    """benchmarks/key_to_frame.py: `FrameClock` counts the frames a key draws."""
    return load_benchmark("key_to_frame")


async def test_a_pane_shown_or_hidden_or_a_focus_change_is_one_frame(session: Session) -> None:
    app = ReviewApp(session)
    clock = key_to_frame().FrameClock(app)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        assert isinstance(screen, OneFrameScreen)
        screen.PATIENCE = math.inf  # drawn only once settled: the count depends on no timing
        box = app.query_one("#filter", Input)
        box.cursor_blink = False  # its blinks would be frames of their own
        diff = app.query_one("#diff")
        await clock.settle(pilot)
        steps: list[tuple[str, Callable[[], bool]]] = [
            ("slash", lambda: box.display and box.has_focus),
            ("escape", lambda: not box.display and not box.has_focus),  # empty: hidden
            ("slash", lambda: box.display and box.has_focus),
            ("x", lambda: box.value == "x"),
            ("enter", lambda: box.display and not box.has_focus),  # kept: it filters
            ("p", lambda: diff.display),
            ("down", lambda: diff.display),
            ("p", lambda: not diff.display),
        ]
        for key, shown in steps:
            press = await clock.press(pilot, key)
            assert shown(), key
            assert press.frames == 1, key
        assert screen.holds > 0  # layouts were run and not drawn


class Restless(Widget):
    """Always has a message waiting (it posts the next before it handles the last): the app
    never settles."""

    class Again(Message):
        pass

    def on_mount(self) -> None:
        self.post_message(self.Again())

    async def on_restless_again(self) -> None:
        self.post_message(self.Again())
        await asyncio.sleep(0.001)  # waiting, with the next one queued


class Counter(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [("x", "count", "count")]

    def __init__(self) -> None:
        super().__init__()
        self.presses = 0

    def get_default_screen(self) -> OneFrameScreen:
        return OneFrameScreen(id="_default")

    def compose(self) -> ComposeResult:
        yield Static("0 presses", id="count")
        yield Restless()

    def action_count(self) -> None:
        self.presses += 1
        self.query_one("#count", Static).update(f"{self.presses} presses")


async def test_a_screen_that_never_settles_is_still_drawn() -> None:
    app = Counter()
    clock = key_to_frame().FrameClock(app)
    async with app.run_test(size=(80, 24)):
        seen = len(clock.frames)
        assert isinstance(app.screen, OneFrameScreen)
        app.post_message(events.Key("x", "x"))
        await asyncio.sleep(0)
        assert not app.screen.settled()
        for _ in range(1000):  # each frame waits `PATIENCE` (0.1 s) for a settling never seen
            if len(clock.frames) > seen:
                break
            await asyncio.sleep(0.01)
        assert len(clock.frames) > seen
        assert "1 presses" in str(app.query_one("#count", Static).render())
