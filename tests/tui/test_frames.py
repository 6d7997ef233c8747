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
from textual.messages import Update
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


class Text(Widget):
    """Shows `text`; set it and tell the screen by hand, to stage when the screen hears."""

    DEFAULT_CSS = "Text { height: 1; }"

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self) -> str:
        return self.text


class Two(App[None]):
    def get_default_screen(self) -> OneFrameScreen:
        return OneFrameScreen(id="_default")

    def compose(self) -> ComposeResult:
        yield Text("first")
        yield Text("second")


async def test_the_update_timer_does_not_draw_while_the_screen_has_messages_waiting() -> None:
    """The race behind a key drawn twice: the update timer ticked with one widget's change
    handled by the screen and another's `Update` still in the screen's queue; it drew, and the
    screen drew again once it read that `Update`. Staged here without awaiting, so the order
    is fixed: the tick must wait for the screen's own messages too."""
    app = Two()
    clock = key_to_frame().FrameClock(app)
    async with app.run_test(size=(40, 5)) as pilot:
        screen = app.screen
        assert isinstance(screen, OneFrameScreen)
        screen.PATIENCE = math.inf
        await clock.settle(pilot)
        seen = len(clock.frames)
        first, second = app.query(Text)
        # Both changed and marked for redrawing as `refresh` marks them, but without the flag
        # by which each would tell the screen once idle: the screen is told here, by hand
        first.text, second.text = "one", "two"
        for text in (first, second):
            text._layout_cache.clear()
            text._set_dirty()
        screen._dirty_widgets.add(first)  # its `Update` handled by the screen
        screen.post_message(Update(second))  # its `Update` posted, not handled yet
        assert not screen.settled()
        screen._on_timer_update()  # the timer's tick, in between
        assert len(clock.frames) == seen
        await clock.settle(pilot)
        assert len(clock.frames) == seen + 1  # both changes, in one frame
        lines = [strip.text for strip in screen._compositor.render_strips()]
        assert lines[:2] == ["one".ljust(40), "two".ljust(40)]


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
