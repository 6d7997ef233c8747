"""Time a key in a running Textual app from the key sent to the frame written, not counting the
waiting that tells the app is done.

Textual's `pilot.press` sleeps after each key (`wait_for_idle(0)` twice: at least 2 × 20 ms)
before it returns, so the time around it is mostly the pilot's own sleeping. `FrameClock`
instead wraps `App._display`, which the screen calls with each compositor update (one frame),
and stamps each frame (wall and CPU clocks) once it is rendered to the bytes a terminal gets:
the headless driver skips that rendering, a real one does not, so the probe does it. `press`
sends the key as the pilot does (`driver.send_message(events.Key(...))`), waits until the
app is settled (message queues drained, nothing left to redraw, no new frame for a while) and
reports the last frame's stamp minus the key's: the waiting after the frame is not counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import events
from textual._compositor import CompositorUpdate
from textual._wait import wait_for_idle
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.pilot import Pilot
from textual.widgets import Static


@dataclass(frozen=True, slots=True)
class Frame:
    wall: float  # time.perf_counter() once written
    cpu: float  # time.process_time() then


@dataclass(frozen=True, slots=True)
class Press:
    """One key: from the key sent to the last frame it caused (None: it drew nothing)."""

    frames: int
    wall: float | None  # seconds
    cpu: float | None  # seconds of the process's CPU


class FrameClock:
    """Stamps every frame `app` writes (install before the app runs, or at any time)."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.frames: list[Frame] = []
        original = app._display
        console = app.console

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None or app._batch_count:
                return  # Textual writes nothing then
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(console)  # what a terminal driver would write
            self.frames.append(Frame(time.perf_counter(), time.process_time()))

        app._display = display  # type: ignore[method-assign]

    async def settle(self, pilot: Pilot[Any], timeout: float = 30.0) -> None:
        """Return once the app has nothing left to do: every message handled, the screen
        with nothing to lay out or redraw, and no frame during the last wait.

        Raises:
            TimeoutError: the app still drew after `timeout` seconds (an animation?).
        """
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            seen = len(self.frames)
            await wait_for_idle(0)
            await pilot._wait_for_screen()
            screen = self.app.screen
            pumps = [self.app, *screen.walk_children(with_self=True)]
            busy = (
                screen._dirty_widgets
                or screen._layout_required
                or screen._repaint_required
                or screen._scroll_required
                or self.app._batch_count
                # a message not yet handled (an update on its way to the screen), a widget
                # that asked to be redrawn and has not told the screen yet
                or any(not p._message_queue.empty() for p in pumps)
                or any(getattr(p, "_repaint_required", False) for p in pumps)
            )
            if not busy and len(self.frames) == seen:
                return
        raise TimeoutError(f"the app still draws after {timeout} s: nothing to time a key by")

    async def press(self, pilot: Pilot[Any], key: str) -> Press:
        """Send `key` (a key name: `a`, `down`) and time it to its last frame."""
        await self.settle(pilot)
        driver = self.app._driver
        assert driver is not None
        seen = len(self.frames)
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(self.app)
        wall, cpu = time.perf_counter(), time.process_time()
        driver.send_message(event)
        await self.settle(pilot)
        frames = self.frames[seen:]
        if not frames:
            return Press(0, None, None)
        return Press(len(frames), frames[-1].wall - wall, frames[-1].cpu - cpu)


class Reference(App[None]):
    """The reference for a key's time: the least a Textual app does to show a key, one line
    of text changed (`x`) in a screen of the same size."""

    BINDINGS: ClassVar[list[BindingType]] = [("x", "count", "count")]

    def __init__(self) -> None:
        super().__init__()
        self.presses = 0

    def compose(self) -> ComposeResult:
        yield Static("0 presses", id="count")

    def action_count(self) -> None:
        self.presses += 1
        self.query_one("#count", Static).update(f"{self.presses} presses")
