"""The review's footer: Textual's, recomposed only when the keys it shows change.

Textual's `Footer` recomposes on every change of the active bindings, which every focus
change makes (twice: the blur, then the focus), and a recompose lays out the whole screen and
draws it again: Enter or Esc in the filter took 4-6 frames and 60 ms of CPU, though the keys
the footer shows were the same. This footer recomposes when what it would show differs."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


def shown_keys(screen: Screen[Any]) -> tuple[tuple[Any, ...], ...]:
    """What `Footer.compose` shows of `screen`'s active bindings (with `show`)."""
    return tuple(
        (b.key, b.action, b.description, b.key_display, b.group, enabled, tooltip)
        for _node, b, enabled, tooltip in screen.active_bindings.values()
        if b.show
    )


class ReviewFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._composed: tuple[tuple[Any, ...], ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            keys = shown_keys(screen)
            if keys == self._composed:
                self._bindings_ready = True
                return  # the same keys: nothing to lay out again
            self._composed = keys
        super().bindings_changed(screen)
