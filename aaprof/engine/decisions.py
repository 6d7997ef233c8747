"""The decisions file: the choice made for each suggestion, replayed on new logs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from aaprof.engine.options import Item, as_deny
from aaprof.engine.suggest import ProfileSuggestions, Suggestion
from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.profiles.build import parse_policy
from aaprof.profiles.compare import covered_rules
from aaprof.profiles.render import render_rule

VERSION = 1
ACTIONS = ("allow", "deny", "skip")
# DIR/decisions.yaml, beside DIR/profiles/: where a review keeps its decisions unless told
# otherwise, and where review, generate and `generate --check` find them again
DECISIONS_FILE = "decisions.yaml"


@dataclass(frozen=True, slots=True)
class Decision:
    """The choice for the suggestion whose least rule is `rule` in `profile`.

    `action` is `allow` (the option `choice` indexes, or the rule `text`), `deny` (that option
    as a deny rule) or `skip` (nothing). `choice` 0 is the least rule; None means the default.
    """

    profile: str
    rule: str
    action: str = "allow"
    choice: int | None = None
    text: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(profile, least rule text): what the decision applies to."""
        return (self.profile, self.rule)

    def to_dict(self) -> dict[str, object]:
        """The YAML mapping for this decision (default fields left out)."""
        out: dict[str, object] = {"profile": self.profile, "rule": self.rule}
        if self.action != "allow":
            out["action"] = self.action
        if self.choice is not None:
            out["choice"] = self.choice
        if self.text is not None:
            out["text"] = self.text
        return out

    @classmethod
    def from_dict(cls, data: object, where: str) -> Decision:
        """A decision from its YAML mapping.

        Raises:
            AaprofError: a missing or mistyped key, an unknown action.
        """
        if not isinstance(data, dict):
            raise AaprofError(f"{where}: a decision must be a mapping")
        unknown = set(data) - {"profile", "rule", "action", "choice", "text"}
        if unknown:
            raise AaprofError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        profile, rule = data.get("profile"), data.get("rule")
        action, choice, text = data.get("action", "allow"), data.get("choice"), data.get("text")
        if not isinstance(profile, str) or not isinstance(rule, str):
            raise AaprofError(f"{where}: `profile` and `rule` must be strings")
        if action not in ACTIONS:
            raise AaprofError(f"{where}: action must be one of {', '.join(ACTIONS)}")
        if choice is not None and (type(choice) is not int or choice < 0):
            raise AaprofError(f"{where}: `choice` must be a non-negative integer")
        if text is not None and not isinstance(text, str):
            raise AaprofError(f"{where}: `text` must be a string")
        if choice is not None and text is not None:
            raise AaprofError(f"{where}: give `choice` or `text`, not both")
        return cls(profile, rule, str(action), choice, text)


def decisions_file(out: Path, given: Path | None = None) -> Path:
    """The decisions file of the profiles in `out` (DIR): `given`, else DIR/decisions.yaml."""
    return given if given is not None else out / DECISIONS_FILE


def found_decisions(out: Path, given: Path | None = None) -> Path | None:
    """The decisions file to replay: `given` (which must then exist), else DIR/decisions.yaml
    when it exists, else None."""
    path = decisions_file(out, given)
    return path if given is not None or path.exists() else None


def load_decisions(path: Path | str) -> tuple[Decision, ...]:
    """The decisions of a YAML file (`version: 1`, `decisions: [...]`).

    Raises:
        AaprofError: the file cannot be read, is not YAML, or holds a malformed decision.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AaprofError(f"{path}: {exc.strerror or exc}") from exc
    return parse_decisions(text, str(path))


def parse_decisions(text: str, where: str = "<decisions>") -> tuple[Decision, ...]:
    """The decisions of a YAML document (see `load_decisions`)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AaprofError(f"{where}: not YAML: {exc}") from exc
    if data is None:
        return ()
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise AaprofError(f"{where}: expected a mapping with `version: {VERSION}`")
    items = data.get("decisions")
    items = [] if items is None else items
    if not isinstance(items, list):
        raise AaprofError(f"{where}: `decisions` must be a list")
    return tuple(Decision.from_dict(d, f"{where}: decision {i + 1}") for i, d in enumerate(items))


def dump_decisions(decisions: Iterable[Decision]) -> str:
    """The YAML text of `decisions` (what `load_decisions` reads back)."""
    doc = {"version": VERSION, "decisions": [d.to_dict() for d in decisions]}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=False, width=1000)


def save_decisions(path: Path | str, decisions: Iterable[Decision]) -> None:
    """Write `decisions` to `path` atomically (a temporary file renamed over it)."""
    from aaprof.profiles.compare import write_atomically

    write_atomically(Path(path), dump_decisions(decisions))


def defaults(suggestions: Iterable[ProfileSuggestions]) -> tuple[Decision, ...]:
    """A decision for every suggestion, choosing its default: a file to edit and replay."""
    return tuple(
        Decision(ps.profile, s.key, choice=s.default)
        for ps in suggestions
        for s in ps.suggestions
        if not s.noise
    )


def apply(
    suggestions: Iterable[ProfileSuggestions],
    decisions: Sequence[Decision] | None = None,
) -> dict[str, tuple[Item, ...]]:
    """The rules to write per profile: each suggestion's decided option, or its default.

    Without a decision, a suggestion gets its default option (the exact least rule; the
    volatile-part generalisation where one was recognised); noise is left out unless decided.
    A rule another chosen rule allows entirely (`/srv/index.html r,` beside a chosen
    `/srv/* r,`) is left out: it would add nothing.

    Raises:
        AaprofError: a decision's `choice` is out of range or its `text` is not one rule.
    """
    by_key: Mapping[tuple[str, str], Decision] = {d.key: d for d in decisions or ()}
    out: dict[str, tuple[Item, ...]] = {}
    for ps in suggestions:
        chosen: dict[str, Item] = {}
        for s in ps.suggestions:
            item = chosen_item(s, by_key.get((ps.profile, s.key)))
            if item is not None:
                chosen.setdefault(_text(item), item)
        kept = without_covered(tuple(chosen.values()))
        if kept:
            out[ps.profile] = kept
    return out


def without_covered(items: Sequence[Item]) -> tuple[Item, ...]:
    """`items` less the file rules another of them allows entirely (profiles.compare)."""
    files = [i for i in items if isinstance(i, m.FileRule)]
    covered = {id(files[at]) for at in covered_rules(files)}
    return tuple(i for i in items if id(i) not in covered)


def chosen_item(s: Suggestion, decision: Decision | None) -> Item | None:
    """What `decision` makes of `s` (its default without one; None: nothing is written).

    Raises:
        AaprofError: the decision's choice is out of range or its text is not one rule.
    """
    if decision is None:
        return None if s.noise else _option(s, s.default)
    if decision.action == "skip":
        return None
    if decision.text is not None:
        item: Item = parse_rule(decision.text)
    else:
        index = s.default if decision.choice is None else decision.choice
        # (choice 0, the least rule, is always there: its alternatives need not be made)
        if index and index >= len(s.options):
            raise AaprofError(
                f"decision for {decision.rule!r} in {decision.profile}: choice {index} "
                f"is out of range (0–{len(s.options) - 1})"
            )
        item = _option(s, index)
    if decision.action == "deny":
        denied = None if isinstance(item, m.Include) else as_deny(item)
        if denied is None:
            raise AaprofError(f"decision for {decision.rule!r}: only a rule can be denied")
        item = denied
    return item


def _option(s: Suggestion, index: int) -> Item:
    """Option `index` of `s` (0 is the least rule: no alternatives made for it)."""
    return s.rule if index == 0 else s.options[index]


def parse_rule(text: str) -> Item:
    """One rule (or `include <abstraction>`) written in the policy language.

    Raises:
        AaprofError: the text is not exactly one rule or include.
    """
    policy = parse_policy(f"profile decision {{\n{text}\n}}\n", filename="<decision>")
    body = policy.profiles()[0].body if policy.profiles() else ()
    items = [i for i in body if not isinstance(i, m.Comment)]
    if len(items) != 1 or not isinstance(items[0], (*m.RULE_TYPES, m.Include)):
        raise AaprofError(f"decision text {text!r} is not exactly one rule")
    return items[0]


def _text(item: Item) -> str:
    if isinstance(item, m.Include):
        return f"include <{item.path}>"
    return render_rule(item)
