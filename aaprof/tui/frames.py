"""The review's screen: a key's effect drawn in one frame, once the app has settled.

Textual draws a frame when the screen goes idle with something to redraw, on a timer of 60 per
second. A key that shows or hides a pane (the filter box, the profile's diff) changes sizes: the
screen lays out, draws, then tells the resized widgets (their scrollbars, the tree), which ask
for another layout; each of those passes drew a frame, and each frame after the first waited
for the timer's next tick, 17-33 ms later: 3-5 frames and 90-130 ms for one key.

`OneFrameScreen` draws only once nothing is left to do: no message waiting in the app, in the
screen itself (its update timer draws outside the screen's own message loop) or in any widget
(scrollbars included), no widget with a redraw or layout asked for and not yet told to the
screen. Until then it lays out as asked, as often as needed, without drawing, and looks
again a millisecond later (or as soon as a widget tells it something). What ends on the screen
is what Textual draws after its last pass; the passes before it are not drawn. So that a
stream of work that never settles (an animation, keys arriving faster than they are handled)
still shows, a frame is drawn anyway once the oldest change has waited `PATIENCE` seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from textual import events
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.widget import Widget


class OneFrameScreen(Screen[Any]):
    PATIENCE = 0.1  # seconds a change waits, at most, for the app to settle before it is drawn
    POLL = 0.001  # seconds between looks while waiting

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._held_since: float | None = None  # when a frame was first held back
        self._held = False  # laid out and not drawn: the compositor keeps what changed
        self._polling = False
        self.holds = 0  # frames held back, in all (for tests)

    # ---- when to draw ---------------------------------------------------------------------

    def _pumps(self) -> Iterator[MessagePump]:
        yield self.app
        for node in self.walk_children(with_self=False):
            yield node
            if isinstance(node, Widget):  # scrollbars are not children: look at them too
                for bar in (
                    node._horizontal_scrollbar,
                    node._vertical_scrollbar,
                    node._scrollbar_corner,
                ):
                    if bar is not None:
                        yield bar

    def settled(self) -> bool:
        """Nothing left to do before the screen is what the last key made it."""
        if not self._message_queue.empty() or self._next_callbacks:
            # The screen's own messages (a widget's `Update` or `Layout`, posted once it went
            # idle) are not handled yet: the update timer draws outside the screen's message
            # loop, and a frame drawn now would miss them and be followed by another.
            return False
        for pump in self._pumps():
            if not pump._message_queue.empty() or pump._next_callbacks:
                return False
            if isinstance(pump, Widget) and (
                pump._layout_required
                or pump._repaint_required
                or pump._scroll_required
                or pump._refresh_styles_required
            ):
                # It tells the screen when next idle; one asked to redraw before it ran (a
                # scrollbar) has not been idle since: prompt it.
                pump.check_idle()
                return False
        return True

    def _hold(self) -> bool:
        """True: do not draw yet (the app has not settled and has not waited too long)."""
        if not self.is_current or self.app.is_inline or self.settled():
            return False
        now = time.monotonic()
        if self._held_since is None:
            self._held_since = now
        elif now - self._held_since >= self.PATIENCE:
            return False
        self.holds += 1
        self._look_again()
        return True

    def _look_again(self) -> None:
        if not self._polling:
            self._polling = True
            asyncio.get_running_loop().call_later(self.POLL, self._poll)

    def _poll(self) -> None:
        self._polling = False
        if self.is_running:
            self.check_idle()  # an idle screen looks again (`_on_idle`)

    def _dirty(self) -> bool:
        return bool(
            self._layout_required
            or self._scroll_required
            or self._repaint_required
            or self._recompose_required
            or self._dirty_widgets
            or self._held
        )

    # ---- Textual's screen, drawing only when settled --------------------------------------

    async def _on_idle(self, event: events.Idle) -> None:
        if self.is_current and not self.app._batch_count and self._dirty():
            event.prevent_default()
            if self.settled():
                self._on_timer_update()  # now: the timer would wait for its next tick
                return
            self._hold()  # look again soon; the timer still draws if it never settles
            self._update_timer.resume()
            return
        await super()._on_idle(event)

    def _on_timer_update(self) -> None:
        drawing = self.is_current and not self.app._batch_count
        if drawing and self._hold():
            self._update_timer.pause()
            return
        super()._on_timer_update()
        if drawing and self._held:
            self._compositor_refresh()  # what the held layouts changed (if settled now)

    def _compositor_refresh(self) -> None:
        app = self.app
        if self is app.screen and not app.is_inline and self._hold():
            # laid out, not drawn: the compositor keeps the regions that changed until then
            self._held = True
            return
        self._held = False
        self._held_since = None
        super()._compositor_refresh()
