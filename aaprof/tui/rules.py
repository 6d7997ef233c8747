"""The list of rules: one line per rule, drawn line by line (Textual's line API), so that a
decision redraws the one line it changed and thousands of rules cost nothing until shown.

The cursor's moves are told to the app by a direct call (`moved`), not by a message: a message
reaches the app only after the screen has drawn the moved cursor, and what the app then
changes (the details) waits for the next frame, one or two frame periods (17-33 ms) later.
One call keeps a key to one frame."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Generic, Self, TypeVar, overload

from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input

from aaprof.tui.text import elide

Cells = tuple[str, str, str, str]  # severity, records, state, rule (plain text, never markup)
HEADER = f"{'sev':<7}{'n':>5}  {'state':<7} rule"


def line_text(cells: Cells, width: int | None = None) -> str:
    """One rule's line; within `width` cells the rule's middle gives way (text.elide), so
    rules that differ only in their names' ends still read apart in a narrow list."""
    sev, n, state, rule = cells
    start = f"{sev:<7}{n:>5}  {state:<7} "
    if width is not None:
        rule = elide(rule, max(1, width - len(start)))
    return start + rule


T = TypeVar("T")


class LinesOf(Sequence[Cells], Generic[T]):
    """The cells of each of `items()` (asked each time: the items as they are now), made when
    the line is drawn: thousands of rules cost nothing until shown."""

    def __init__(self, items: Callable[[], Sequence[T]], cells: Callable[[T], Cells]) -> None:
        self.items = items
        self.cells = cells

    def __len__(self) -> int:
        return len(self.items())

    @overload
    def __getitem__(self, index: int) -> Cells: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Cells]: ...
    def __getitem__(self, index: int | slice) -> Cells | Sequence[Cells]:
        if isinstance(index, slice):
            return [self.cells(x) for x in self.items()[index]]
        return self.cells(self.items()[index])


class RuleList(ScrollView, can_focus=True):
    """Rules as lines; the cursor line in reverse video (not colour alone)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"rule-list--cursor"}
    DEFAULT_CSS = """
    RuleList > .rule-list--cursor { text-style: reverse bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "up", show=False),
        Binding("down,j", "move(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "move(-1000000000)", "first", show=False),
        Binding("end", "move(1000000000)", "last", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=False, init=False)

    def __init__(
        self, *, id: str | None = None, moved: Callable[[int], None] | None = None
    ) -> None:
        """`moved(index)` is called each time the cursor moves (not by `set_rows`)."""
        super().__init__(id=id)
        self.moved = moved
        self.lines: Sequence[Cells] = ()
        self._strips: dict[int, tuple[bool, int, Strip]] = {}

    # ---- content --------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[Cells], cursor: int = 0) -> None:
        """Replace every line (`rows` is read as lines are drawn: `LinesOf`); the cursor goes
        to `cursor` (within the lines), `moved` is not called (the caller shows what the new
        lines need)."""
        self.lines = rows
        self._strips.clear()
        size = Size(self.size.width, len(rows))
        if self.size and size != self.virtual_size:
            # Where the list sits does not depend on its length: set the scroll extent and the
            # scrollbars here rather than by a layout of the whole screen, which redraws all of
            # it and the scrollbars a frame later. (A scrollbar shown or hidden still lays out.)
            self.set_reactive(RuleList.virtual_size, size)
            self._scroll_update(size)
        else:
            self.virtual_size = size
        self.set_reactive(RuleList.cursor, max(0, min(cursor, len(rows) - 1)))
        self.scroll_to(y=max(0, self.cursor - self.size.height // 2), animate=False)
        self.refresh()

    def update_row(self, index: int) -> None:
        """Redraw line `index`, just that line (its cells in `rows` changed)."""
        if 0 <= index < len(self.lines):
            self._strips.pop(index, None)
            self._refresh_index(index)

    # ---- drawing --------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = y + int(self.scroll_offset.y)
        width = self.size.width
        if index >= len(self.lines):
            return Strip.blank(width, self.rich_style)
        at = index == self.cursor
        cached = self._strips.get(index)
        if cached is not None and cached[0] == at and cached[1] == width:
            return cached[2]
        style = self.get_component_rich_style("rule-list--cursor") if at else self.rich_style
        strip = Strip([Segment(line_text(self.lines[index], width), style)])
        strip = strip.adjust_cell_length(width, style)
        self._strips[index] = (at, width, strip)
        return strip

    def _refresh_index(self, index: int) -> None:
        y = index - int(self.scroll_offset.y)
        if 0 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.lines))

    # ---- moving ---------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self._refresh_index(old)
        self._refresh_index(new)
        self.scroll_to_region(Region(0, new, 1, 1), animate=False, immediate=True)
        if self.moved is not None:
            self.moved(new)

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.lines) - 1)) if self.lines else 0

    def action_move(self, delta: int) -> None:
        self.cursor = self.cursor + delta

    def action_page(self, direction: int) -> None:
        self.cursor = self.cursor + direction * max(1, self.size.height - 1)

    def on_click(self, event: events.Click) -> None:
        index = event.y + int(self.scroll_offset.y)
        if 0 <= index < len(self.lines):
            self.cursor = index


class FilterBox(Input):
    """The rules' text filter, at a fixed size (review.tcss). `changed(value)` is called as
    the text changes, so the rules are listed again in the frame that shows the character
    (the `Changed` message would come after it: a second frame). Textual's Input also asks
    for a layout of the whole screen on each character (its virtual width follows the text);
    at a fixed size that changes nothing but costs a full redraw and a second frame, so a
    change of text repaints the box without it."""

    def __init__(
        self, *, id: str | None = None, changed: Callable[[str], None] | None = None
    ) -> None:
        super().__init__(placeholder="filter rules (Enter/Esc)", id=id)
        self.changed = changed
        self._typing = False

    def _watch_value(self, value: str) -> None:
        self._typing = True
        try:
            super()._watch_value(value)
        finally:
            self._typing = False

    def watch_value(self, value: str) -> None:
        if self.changed is not None:
            self.changed(value)

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        return super().refresh(
            *regions, repaint=repaint, layout=layout and not self._typing, recompose=recompose
        )
