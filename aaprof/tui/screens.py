"""The review's dialogs: help, quit without saving, edit a rule, choose an exec transition."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from aaprof.engine.review import ExecChoice, check_rule

# Every key of the review, in the order the help screen lists them.
KEYS: tuple[tuple[str, str], ...] = (
    ("a", "allow the option in force (* in the details)"),
    ("d", "deny it: a deny rule (refused, not logged)"),
    ("i", "ignore it: write nothing for it"),
    ("g", "glob: the next wider glob (repeat to widen)"),
    ("e", "glob keeping the extension (repeat to widen)"),
    ("n", "new: edit the rule (checked as you type)"),
    ("t", "audit: allow it and log every use"),
    ("o", "owner: add or drop the owner qualifier"),
    ("x", "exec: inherit/child/profile/named/unconfined"),
    ("u", "undo the last decision"),
    ("A D I", "allow/deny/ignore all undecided under the node"),
    ("/", "filter the rules by text (Esc: back)"),
    ("s", "severity: all → medium+ → high"),
    ("p", "show/hide the profile being built (its diff)"),
    ("↑ ↓ j k", "previous/next rule (PgUp PgDn Home End; the mouse)"),
    ("tab", "next pane: tree, rules, details"),
    ("F", "save (compiled first) and quit"),
    ("q", "quit (asks when decisions are unsaved)"),
    ("?", "this help"),
)


class HelpScreen(ModalScreen[None]):
    """Every key, one line each."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        width = max(len(k) for k, _ in KEYS)
        lines = [f"{k.ljust(width)}  {what}" for k, what in KEYS]
        lines += [
            "",
            "Undecided rules are saved with their default, as",
            "`aaprof generate` does. Esc closes this help.",
        ]
        with Vertical(id="dialog"):
            yield Static("aaprof review: keys", classes="title")
            yield Static("\n".join(lines))

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(None)


class ConfirmQuit(ModalScreen[bool]):
    """Quit with unsaved decisions? y quits, anything else stays."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "quit"),
        Binding("n,escape", "answer(False)", "stay"),
    ]

    def __init__(self, unsaved: int) -> None:
        super().__init__()
        self.unsaved = unsaved

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(
                f"{self.unsaved} decision(s) are not saved.\n"
                "Quit without saving? y: quit   n/Esc: stay (F saves and quits)"
            )

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class EditRule(ModalScreen[str | None]):
    """Type a rule; the line below says whether it parses, as you type. Enter takes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, text: str, title: str = "new rule") -> None:
        super().__init__()
        self.text = text
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"{self.title_text} (Enter: take it, Esc: cancel)", classes="title")
            yield Input(self.text, id="rule")
            yield Static(self._verdict(self.text), id="verdict")

    @staticmethod
    def _verdict(text: str) -> str:
        problem = check_rule(text) if text.strip() else "empty"
        return "ok: one rule" if problem is None else f"invalid: {problem}"

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#verdict", Static).update(self._verdict(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if check_rule(event.value) is None:
            self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ExecPrompt(ModalScreen[ExecChoice | None]):
    """The exec transitions, each with its key; refused ones say why and cannot be taken."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, rule: str, choices: tuple[ExecChoice, ...]) -> None:
        super().__init__()
        self.rule = rule
        self.choices = choices

    def compose(self) -> ComposeResult:
        lines = []
        for c in self.choices:
            mark = f"  [{c.refused.split(':')[0]}]" if c.refused else ""
            lines.append(f"{c.key}  {c.mode:<3} {c.label}{mark}")
        refused = next((c.refused for c in self.choices if c.refused), None)
        if refused:
            lines += ["", refused]
        with Vertical(id="dialog"):
            yield Static(f"exec {self.rule}", classes="title")
            yield Static("\n".join(lines), markup=False)
            yield Static("", id="verdict")

    def on_key(self, event: events.Key) -> None:
        for c in self.choices:
            if event.character == c.key:
                event.stop()
                if c.refused:
                    self.query_one("#verdict", Static).update(c.refused)
                    return
                self.dismiss(c)
                return

    def action_cancel(self) -> None:
        self.dismiss(None)
