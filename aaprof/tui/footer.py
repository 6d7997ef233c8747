"""The review's footer: the keys Textual's `Footer` shows, drawn as one line of one widget.

Textual's `Footer` is a container of one widget per key, recomposed after the next frame on
every change of the active bindings, which every focus change makes (twice: the blur, then
the focus). Its keys change when the filter takes or gives back the focus (none are shown
while you type), and each change then cost two or three more frames (the recompose, the
layout of the new keys, their styles), each waiting 17-33 ms for Textual's frame timer: Enter
or Esc in the filter took 3-4 frames and 100 ms. This footer draws the same keys in the same
styles (Textual's `FooterKey` CSS, not compact) as the text of one line, set as the bindings
change (in the key's own frame): no widget is mounted, nothing is laid out."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

Shown = tuple[Binding, bool, str]  # the binding, enabled, its tooltip


def shown_keys(screen: Screen[Any]) -> tuple[tuple[Any, ...], ...]:
    """What `Footer.compose` shows of `screen`'s active bindings (with `show`)."""
    return tuple(
        (b.key, b.action, b.description, b.key_display, b.group, enabled, tooltip)
        for _node, b, enabled, tooltip in screen.active_bindings.values()
        if b.show
    )


class ReviewFooter(Widget):
    """The active keys with `show`, one per action (as `Footer`); a click presses the key."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "footer-key--key",
        "footer-key--description",
        "footer-key--hover",
    }
    DEFAULT_CSS = """
    ReviewFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        text-wrap: nowrap;
        & > .footer-key--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .footer-key--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .footer-key--hover {
            color: $footer-key-foreground;
            background: $block-hover-background;
        }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.keys: tuple[Shown, ...] = ()
        self._shown: tuple[tuple[Any, ...], ...] | None = None
        self._spans: list[tuple[int, int, str]] = []  # start, end, the key pressed there
        self._hover: int | None = None  # the key under the mouse

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if not (screen.app.app_focus and self.is_attached and screen is self.screen):
            return
        shown = shown_keys(screen)
        if shown == self._shown:
            return  # the same keys: nothing to draw again
        self._shown = shown
        by_action: dict[str, Shown] = {}
        for _node, binding, enabled, tooltip in screen.active_bindings.values():
            if binding.show:
                by_action.setdefault(binding.action, (binding, enabled, tooltip))
        self.keys = tuple(by_action.values())
        self._hover = None
        self.refresh()

    def render(self) -> Text:
        key_style = self.get_component_rich_style("footer-key--key")
        description_style = self.get_component_rich_style("footer-key--description")
        text = Text(no_wrap=True, end="")
        self._spans = []
        for i, (binding, enabled, _tooltip) in enumerate(self.keys):
            start = len(text)
            key = f" {self.app.get_key_display(binding)} "
            described = f"{binding.description} " if binding.description else ""
            if i == self._hover and enabled:
                hover = self.get_component_rich_style("footer-key--hover")
                text.append(key, key_style + hover)
                text.append(described, description_style + hover)
            else:
                text.append(key, key_style)
                text.append(described, description_style)
            if not enabled:
                text.stylize("dim", start)
            self._spans.append((start, len(text), binding.key))
        return text

    def _key_at(self, x: int) -> int | None:
        return next((i for i, (a, b, _) in enumerate(self._spans) if a <= x < b), None)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        at = self._key_at(event.x)
        if at != self._hover:
            self._hover = at
            self.refresh()

    def on_leave(self) -> None:
        if self._hover is not None:
            self._hover = None
            self.refresh()

    def on_click(self, event: events.Click) -> None:
        at = self._key_at(event.x)
        if at is None:
            return
        binding, enabled, _tooltip = self.keys[at]
        if enabled:
            self.app.simulate_key(binding.key)
        else:
            self.app.bell()
