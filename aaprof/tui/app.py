"""`aaprof review`: a Textual view over one review `Session` (aaprof/engine/review.py).

The app holds the session and the sessions before it (undo), shows the engine's tree and rows,
and turns each key into decisions with the engine's functions: it decides nothing itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Static, Tree

from aaprof.engine import Decision, Saved, Session
from aaprof.engine import review as r
from aaprof.errors import AaprofError
from aaprof.tui.changes import Counts, Index, Key, changed
from aaprof.tui.collector import QUIET, Collector
from aaprof.tui.footer import ReviewFooter
from aaprof.tui.frames import OneFrameScreen
from aaprof.tui.rules import HEADER, FilterBox, LinesOf, RuleList
from aaprof.tui.screens import ConfirmQuit, EditRule, ExecPrompt, HelpScreen
from aaprof.tui.text import diff_text, evidence_text, row_cells, status_line
from aaprof.tui.tree import ALL, ReviewTree

Reload = Callable[[], Session | None]  # a newer session (records added), or None


class ReviewApp(App[Saved | None]):
    """Decide a session's suggestions; F saves (compiled first) and quits with what was saved."""

    CSS_PATH = "review.tcss"
    ENABLE_COMMAND_PALETTE = False
    NARROW = 120  # below this width the details go under the rules, not beside them
    TITLE = "aaprof review"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "decide('allow')", "allow"),
        Binding("d", "decide('deny')", "deny"),
        Binding("i", "decide('skip')", "ignore"),
        Binding("g", "cycle('glob')", "glob"),
        Binding("e", "cycle('ext')", "glob ext", show=False),
        Binding("n", "edit", "new", show=False),
        Binding("t", "cycle('audit')", "audit", show=False),
        Binding("o", "cycle('owner')", "owner", show=False),
        Binding("x", "exec", "exec", show=False),
        Binding("u", "undo", "undo"),
        Binding("A", "bulk('allow')", "allow all", show=False),
        Binding("D", "bulk('deny')", "deny all", show=False),
        Binding("I", "bulk('skip')", "ignore all", show=False),
        Binding("slash", "filter", "filter", show=False),
        Binding("s", "severity", "severity", show=False),
        Binding("p", "toggle_diff", "diff"),
        Binding("F", "save", "save+quit"),
        Binding("q", "quit_review", "quit"),
        Binding("question_mark", "help", "help"),
    ]

    def __init__(
        self,
        session: Session,
        *,
        decisions_file: Path | None = None,
        skipped: Sequence[tuple[Path, str]] = (),
        reload: Reload | None = None,
        reload_every: float = 2.0,
    ) -> None:
        super().__init__()
        self.session = session
        self.index = Index(session)
        self.counts = Counts(session, self.index)  # undecided per profile, kept per change
        self.pending = 0  # undecided suggestions (set with the tree's counts)
        self.history: list[Session] = []
        self.saved_decisions = session.decisions
        self.decisions_file = decisions_file
        self.skipped = tuple(skipped)
        self.reload = reload
        self.reload_every = reload_every
        self.reading = False  # a thread is reading new records
        self.node: r.Node | None = None
        self.text_filter = ""
        self.severity = r.SEVERITIES[0]
        self.shown: tuple[r.Row, ...] = ()
        self.position: dict[Key, int] = {}  # each shown row's line
        self._unsaved_of: tuple[Session, tuple[Decision, ...], int] | None = None
        self.message = "; ".join(r.left_out(p, m) for p, m in self.skipped)
        self.message = "; ".join([*session.warnings, self.message]).strip("; ")
        self.collector = Collector()
        self.shown_text: dict[str, str] = {}  # what each text pane shows (`_show`)
        self._diff_of: tuple[Session, str, str] | None = None  # (session, profile, its diff)

    # ---- layout ---------------------------------------------------------------------------

    def get_default_screen(self) -> OneFrameScreen:
        return OneFrameScreen(id="_default")  # a key is drawn in one frame (tui/frames.py)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ReviewTree(id="tree")
            with Vertical(id="centre"):
                yield Static("", id="where", markup=False)
                yield FilterBox(id="filter", changed=self._filtered)
                yield Static(HEADER, id="header", markup=False)
                yield RuleList(id="rules", moved=self._moved)
                with VerticalScroll(id="below", classes="details"):
                    yield Static("", id="evidence-below", markup=False)
            with VerticalScroll(id="beside", classes="details"):
                yield Static("", id="evidence", markup=False)
        with VerticalScroll(id="diff"):
            yield Static("", id="difftext", markup=False)
        yield Static("", id="status", markup=False)
        yield ReviewFooter()

    def on_mount(self) -> None:
        table = self.query_one("#rules", RuleList)
        self.query_one("#filter", Input).display = False
        self.query_one("#diff").display = False
        self._build_tree()
        self._fill_rows()
        table.focus()
        # The session lives as long as the review, and the collector's full passes over what
        # the keys make were the slowest key presses: they run when the keys pause instead.
        self.collector.start()
        self.set_interval(QUIET / 2, self.collector.idle)
        if self.reload is not None:
            self.set_interval(self.reload_every, self._poll)

    def on_unmount(self) -> None:
        self.collector.stop()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.collector.input()
        await super().on_event(event)

    def on_resize(self) -> None:
        narrow = self.size.width < self.NARROW
        if narrow != self.has_class("narrow"):
            self.set_class(narrow, "narrow")
            self._refresh_side()

    def _build_tree(self) -> None:
        self.counts = Counts(self.session, self.index)
        self.pending = sum(self.counts.of.values())
        self.query_one("#tree", ReviewTree).show(r.tree(self.session), self.counts.of)

    def _label_tree(self, old: Session, keys: set[Key]) -> None:
        counts = self.counts.update(old, self.session, keys)
        self.pending = sum(counts.values())
        self.query_one("#tree", ReviewTree).count(counts)

    def _fill_rows(self, keep: Key | None = None) -> None:
        table = self.query_one("#rules", RuleList)
        profiles = self.node.profiles if self.node is not None else None
        self.shown = r.rows(
            self.session,
            profiles,
            text=self.text_filter,
            severity=self.severity,
            index=self.index,
        )
        self.position = {_key(row): i for i, row in enumerate(self.shown)}
        at = self.position.get(keep, 0) if keep is not None else 0
        table.set_rows(LinesOf(lambda: self.shown, row_cells), at)
        self._where()
        self._refresh_side()

    def _where(self) -> None:
        node = self.node
        what = f"{node.kind} {node.label}" if node is not None else ALL
        n = len(self.shown)
        line = f"{what}: {n} rule{'s' if n != 1 else ''}"
        self._show("#where", line)

    # ---- what is selected -----------------------------------------------------------------

    def current(self) -> r.Row | None:
        at = self.query_one("#rules", RuleList).cursor
        if not self.shown or at < 0 or at >= len(self.shown):
            return None
        return self.shown[at]

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[r.Node | None]) -> None:
        if event.node.data is self.node:
            return  # already listed (the root, highlighted as the tree starts)
        self.node = event.node.data
        self._fill_rows()

    def _moved(self, index: int) -> None:
        """The rules' cursor moved: show its rule's details."""
        self._refresh_side()

    def _refresh_side(self) -> None:
        row = self.current()
        if row is not None:
            text = evidence_text(row, self.session.rule_coverage(row.profile, row.suggestion))
        else:
            text = "no rule here"
        # only the pane on screen (beside when wide, below when narrow), at a fixed height
        # (review.tcss): no layout pass, which would redraw the whole screen
        pane = "#evidence-below" if self.has_class("narrow") else "#evidence"
        self._show(pane, text)
        if self.query_one("#diff").display:
            self._refresh_diff(row)
        self._status()

    def _refresh_diff(self, row: r.Row | None) -> None:
        text = "select a rule to see its profile"
        if row is not None:
            name = row.profile.split("//", 1)[0]
            known = self._diff_of  # built once per session and profile, not per cursor move
            if known is not None and known[0] is self.session and known[1] == name:
                text = known[2]
            else:
                try:
                    text = diff_text(self.session.preview(name), self.session.out)
                except AaprofError as exc:
                    text = f"cannot build the profile: {exc}"
                self._diff_of = (self.session, name, text)
        self._show("#difftext", text, layout=True)  # (laid out: its height follows the diff)

    def _status(self) -> None:
        line = status_line(
            self.pending, self._unsaved(), self.text_filter, self.severity, len(self.shown)
        )
        self._show("#status", f"{line} | {self.message}" if self.message else line)

    def _show(self, pane: str, text: str, *, layout: bool = False) -> None:
        """Put `text` in `pane` (of a fixed size, unless `layout`), redrawn only when it changed
        (a key often leaves the details or the counts as they were: a severity filter keeps the
        first rule)."""
        if self.shown_text.get(pane) != text:
            self.shown_text[pane] = text
            self.query_one(pane, Static).update(text, layout=layout)

    def _unsaved(self) -> int:
        known = self._unsaved_of  # counted once per session (every key shows it)
        if known is None or known[0] is not self.session or known[1] is not self.saved_decisions:
            n = len(set(self.session.decisions) ^ set(self.saved_decisions))
            known = self._unsaved_of = (self.session, self.saved_decisions, n)
        return known[2]

    def say(self, message: str) -> None:
        self.message = message
        self._status()

    # ---- deciding -------------------------------------------------------------------------

    def _apply(self, decisions: Sequence[Decision], what: str) -> None:
        if not decisions:
            self.say(f"nothing to {what}")
            return
        row = self.current()
        try:
            new = self.session.apply(decisions)
        except AaprofError as exc:
            self.say(str(exc))
            return
        old, self.session = self.session, new
        self.history.append(old)
        self.message = f"{what}: {len(decisions)} rule(s)" if len(decisions) > 1 else what
        with self.batch_update():
            self._after_change(old, {d.key for d in decisions}, _key(row) if row else None)

    def _after_change(self, old: Session, keys: set[Key], keep: Key | None = None) -> None:
        """Redraw what changing the decisions of `keys` (from `old`) touched: their rows' cells
        and the tree's counts; with one key, the cursor goes from `keep` on to the next rule."""
        shown = list(self.shown)
        table = self.query_one("#rules", RuleList)
        for key in keys:
            i = self.position.get(key)
            if i is None:
                continue  # not listed
            row = shown[i]
            new = self.index.redecided(row, self.session.decision_for(row.profile, row.suggestion))
            if new != row:
                shown[i] = new
                table.update_row(i)
        # a glob chosen (or undone) covers (or uncovers) other rules of its profile
        profiles = {profile for profile, _ in keys}
        hidden = r.covered(self.session, profiles, self.index)
        for i, row in enumerate(shown):
            if row.profile in profiles and row.covered != ((row.profile, row.key) in hidden):
                shown[i] = dataclasses.replace(row, covered=not row.covered)
                table.update_row(i)
        self.shown = tuple(shown)
        self._label_tree(old, keys)
        at = self.position.get(keep) if keep is not None else None
        if at is not None and at + 1 < len(self.shown) and len(keys) == 1:
            before = table.cursor
            table.cursor = at + 1  # on to the next rule, as aa-logprof does
            if table.cursor != before:
                return  # moved: `_moved` showed the new rule
        self._refresh_side()

    def action_decide(self, action: str) -> None:
        row = self.current()
        if row is None:
            return
        make = {"allow": r.allow, "deny": r.deny, "skip": r.skip}[action]
        self._apply([make(row)], "ignore" if action == "skip" else action)

    def action_cycle(self, which: str) -> None:
        row = self.current()
        if row is None:
            return
        kinds = {"glob": r.GLOBS, "ext": r.GLOBS_EXT, "audit": r.AUDITS, "owner": r.OWNERS}
        decision = r.cycle(row, kinds[which])
        if decision is None:
            self.say(f"no {which} option for this rule")
            return
        try:
            new = self.session.apply([decision])
        except AaprofError as exc:
            self.say(str(exc))
            return
        # stay on the row: g widens again on the next press
        old, self.session = self.session, new
        self.history.append(old)
        self.message = f"{which}: {self.index.redecided(row, decision).text}"
        with self.batch_update():
            self._after_change(old, {decision.key})

    def action_edit(self) -> None:
        row = self.current()
        if row is None:
            return

        def done(text: str | None) -> None:
            if text is not None:
                self._apply([r.typed(row, text)], "new rule")

        self.push_screen(EditRule(row.text), done)

    def action_exec(self) -> None:
        row = self.current()
        if row is None or not r.is_exec(row):
            self.say("x: not an exec rule")
            return

        def chosen(choice: r.ExecChoice | None) -> None:
            if choice is None:
                return
            if not choice.named:
                self._apply([r.exec_decision(row, choice)], f"exec {choice.mode}")
                return

            def named(text: str | None) -> None:
                if text is None:
                    return
                try:
                    decision = r.exec_decision(row, choice, _target(text))
                except AaprofError as exc:
                    self.say(str(exc))
                    return
                self._apply([decision], f"exec {choice.mode} -> {_target(text)}")

            template = r.exec_decision(row, dataclasses.replace(choice, named=False)).text or ""
            self.push_screen(EditRule(template.rstrip(",") + " -> NAME,", "named exec"), named)

        self.push_screen(ExecPrompt(row.key, r.exec_choices(row)), chosen)

    def action_bulk(self, action: str) -> None:
        profiles = self.node.profiles if self.node is not None else None
        under = r.rows(self.session, profiles, index=self.index)
        label = self.node.label if self.node is not None else ALL
        what = {"allow": "allow all", "deny": "deny all", "skip": "ignore all"}[action]
        self._apply(r.bulk(under, action), f"{what} under {label}")

    def action_undo(self) -> None:
        if not self.history:
            self.say("nothing to undo")
            return
        old, self.session = self.session, self.history.pop()
        self.message = "undone"
        with self.batch_update():
            self._after_change(old, changed(old, self.session))

    # ---- looking --------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def _filtered(self, value: str) -> None:
        """The filter's text changed (`FilterBox`, as it is typed): list what it keeps."""
        if value != self.text_filter:
            self.text_filter = value
            self._fill_rows()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._filtered(event.value)  # already listed when typed (`_filtered`)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one("#rules", RuleList).focus()

    def on_key(self, event: object) -> None:
        box = self.query_one("#filter", Input)
        if getattr(event, "key", None) == "escape" and box.has_focus:
            box.display = bool(box.value)
            self.query_one("#rules", RuleList).focus()

    def action_severity(self) -> None:
        at = r.SEVERITIES.index(self.severity)
        self.severity = r.SEVERITIES[(at + 1) % len(r.SEVERITIES)]
        self._fill_rows()

    def action_toggle_diff(self) -> None:
        diff = self.query_one("#diff")
        diff.display = not diff.display
        self._refresh_side()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # ---- following ------------------------------------------------------------------------

    def refresh_records(self) -> None:
        """Read newer records now (`reload`), keeping every decision."""
        assert self.reload is not None
        try:
            self.take_records(self.reload())
        except AaprofError as exc:
            self.say(f"reading new records: {exc}")

    def _poll(self) -> None:
        """Every `reload_every` seconds: read new records in a thread, so keys stay quick."""
        if not self.reading:
            self.reading = True
            self.run_worker(self._read_more, thread=True, exclusive=True, group="follow")

    def _read_more(self) -> None:
        assert self.reload is not None
        try:
            fresh = self.reload()
        except AaprofError as exc:
            self.call_from_thread(self.say, f"reading new records: {exc}")
            fresh = None
        self.call_from_thread(self.take_records, fresh)

    def take_records(self, fresh: Session | None) -> None:
        """Replace the session by `fresh` (more records), with the decisions (and the undo
        history's) applied to it; None: nothing new."""
        self.reading = False
        if fresh is None:
            return
        row = self.current()
        self.history = [fresh.apply(s.decisions) for s in self.history]
        self.session = fresh.apply(self.session.decisions)
        self.index = Index(self.session)
        self._build_tree()
        self._fill_rows(_key(row) if row else None)
        self.say("new records read")

    # ---- leaving --------------------------------------------------------------------------

    def action_save(self) -> None:
        try:
            saved = r.save(self.session, decisions_file=self.decisions_file, skipped=self._left())
        except AaprofError as exc:
            self.say(f"not saved: {exc}")
            return
        self.saved_decisions = self.session.decisions
        self.exit(saved)

    def _left(self) -> tuple[Path, ...]:
        return tuple(p for p, _ in self.skipped)

    def action_quit_review(self) -> None:
        unsaved = self._unsaved()
        if not unsaved:
            self.exit(None)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.exit(None)

        self.push_screen(ConfirmQuit(unsaved), answer)


def _key(row: r.Row) -> Key:
    """The row's decision key (profile, suggestion key)."""
    return (row.profile, row.key)


def _target(text: str) -> str:
    """The NAME of a typed `… -> NAME,` line."""
    return text.rpartition("->")[2].strip().rstrip(",").strip()
