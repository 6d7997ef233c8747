"""What a review front-end needs on top of a `Session`: the tree, the rows, the keys' decisions.

`aaprof review` (aaprof/tui) is a view over these functions: it holds a `Session` (and the
previous ones, for undo), shows `tree` and `rows`, and turns each key into `Decision`s with
`cycle`, `bulk`, `exec_choices`; `save` compiles before it writes. Nothing here knows Textual.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from aaprof.engine.decisions import Decision, chosen_item, parse_rule
from aaprof.engine.options import AUDIT, EXEC_MODE, GLOB, GLOB_EXT, OWNER, SIBLING, VOLATILE
from aaprof.engine.review_files import check, left_out, open_session, save, unparsable
from aaprof.engine.session import Session
from aaprof.engine.suggest import Suggestion
from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.profiles.check import check_text
from aaprof.profiles.compare import covered_rules

__all__ = [
    "AUDITS",
    "GLOBS",
    "GLOBS_EXT",
    "NO_NEW_PRIVS_REFUSAL",
    "OWNERS",
    "SEVERITIES",
    "ExecChoice",
    "Index",
    "Node",
    "Row",
    "allow",
    "bulk",
    "check",
    "check_rule",
    "covered",
    "cycle",
    "deny",
    "exec_choices",
    "exec_decision",
    "is_exec",
    "left_out",
    "node_count",
    "open_session",
    "rows",
    "save",
    "skip",
    "tree",
    "typed",
    "undecided",
    "unparsable",
]

# The option kinds each key steps through (repeat the key to widen).
GLOBS = frozenset({SIBLING, VOLATILE, GLOB})
GLOBS_EXT = frozenset({GLOB_EXT})
AUDITS = frozenset({AUDIT})
OWNERS = frozenset({OWNER})
SEVERITIES = ("all", "medium", "high")  # the severity filter: at least this rank
NO_NEW_PRIVS_REFUSAL = (
    "refused: the task ran with no_new_privs, where the kernel allows only inherit (ix) "
    "or a stacking transition"
)


@dataclass(frozen=True, slots=True)
class Node:
    """One node of the review tree: a namespace, workload, container or profile.

    `key` identifies the node across sessions (`ns/shop`, `ns/shop/web`, … `profile/NAME`);
    `profiles` are the session's profile names (children `parent//child` included) under it.
    """

    key: str
    kind: str  # namespace | workload | container | profile
    label: str
    profiles: tuple[str, ...]
    children: tuple[Node, ...] = ()

    def walk(self) -> Iterable[Node]:
        """This node, then its descendants depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class Row:
    """One suggestion of one profile as the review lists it: `key` is the suggestion's key,
    `text` the rule it writes now (its option or typed text; the least rule when skipped,
    with `state` saying so)."""

    profile: str
    suggestion: Suggestion
    decision: Decision | None
    key: str
    text: str
    covered: bool = False  # another rule the profile gets allows all of it (`covered`)

    @property
    def state(self) -> str:
        """In words: `new`, `allow`, `deny`, `ignore` (the `i` key: nothing written), `edit`
        (a rule typed by hand), or `covered` (another rule chosen for the profile, a glob,
        allows all of it: it is not written)."""
        if self.decision is not None and self.decision.action == "skip":
            return "ignore"
        if self.covered:
            return "covered"
        if self.decision is None:
            return "new"
        if self.decision.text is not None:
            return "edit"
        return self.decision.action

    @property
    def choice(self) -> int:
        """The option index in force: the decision's, else the suggestion's default."""
        if self.decision is not None and self.decision.choice is not None:
            return self.decision.choice
        return self.suggestion.default


class Index:
    """A session's suggestions with their keys and option texts rendered once (rendering a rule
    is what costs): valid for every session that shares them (`apply` keeps them)."""

    def __init__(self, session: Session) -> None:
        self.suggestions = session.suggestions
        self.entries = tuple(
            (ps.profile, s, s.key) for ps in session.suggestions for s in ps.suggestions
        )
        self._texts: dict[tuple[int, int], str] = {}

    def fits(self, session: Session) -> bool:
        """Whether `session` has the suggestions this index was made for."""
        return session.suggestions is self.suggestions

    def option_text(self, s: Suggestion, choice: int) -> str:
        """The text of option `choice` of `s` (rendered once)."""
        key = (id(s), choice)
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = s.choices[choice].text
        return text

    def row(self, profile: str, s: Suggestion, key: str, decision: Decision | None) -> Row:
        """The row of `s` with `decision` made."""
        if decision is not None and decision.text is not None:
            text = decision.text
        else:
            choice = s.default if decision is None or decision.choice is None else decision.choice
            # option 0 is the least rule, whose text is the key: no alternatives made for it
            text = key if not choice or choice >= len(s.choices) else self.option_text(s, choice)
        return Row(profile, s, decision, key, text)

    def redecided(self, row: Row, decision: Decision | None) -> Row:
        """`row` with `decision` made instead."""
        return self.row(row.profile, row.suggestion, row.key, decision)


@dataclass(frozen=True, slots=True)
class ExecChoice:
    """One exec transition the `x` prompt offers: its label, the rule, why it is refused."""

    key: str
    label: str
    mode: str
    named: bool = False  # asks for the target profile's name (`-> NAME`)
    refused: str | None = None


_EXEC_CHOICES = (
    ExecChoice("i", "inherit: run it under this profile", "ix"),
    ExecChoice("c", "child: a child profile of this one, environment scrubbed", "Cx"),
    ExecChoice("C", "child, environment kept", "cx"),
    ExecChoice("p", "profile: its own profile, environment scrubbed", "Px"),
    ExecChoice("P", "profile, environment kept", "px"),
    ExecChoice("n", "named: a profile you name, environment scrubbed", "Px", named=True),
    ExecChoice("N", "named, environment kept", "px", named=True),
    ExecChoice("u", "unconfined, environment scrubbed (nothing limits it)", "Ux"),
    ExecChoice("U", "unconfined, environment kept", "ux"),
)


# ---- the tree -----------------------------------------------------------------------------


def tree(session: Session) -> tuple[Node, ...]:
    """Namespace → workload → container → profile for the profiles of known containers,
    then each other profile alone (host programs), every level sorted by name."""
    spaces: dict[str, dict[str, dict[str, list[str]]]] = {}
    host: dict[str, list[str]] = {}
    for ps in session.suggestions:
        c = ps.container
        if c is not None and c.namespace and c.pod and c.name:
            pods = spaces.setdefault(c.namespace, {}).setdefault(c.pod, {})
            pods.setdefault(c.name, []).append(ps.profile)
        else:
            host.setdefault(ps.parent, []).append(ps.profile)
    out: list[Node] = []
    for ns, workloads in sorted(spaces.items()):
        wl_nodes = []
        for wl, containers in sorted(workloads.items()):
            c_nodes = []
            for cname, names in sorted(containers.items()):
                key = f"ns/{ns}/{wl}/{cname}"
                profiles = tuple(_profile_nodes(names, key))
                c_nodes.append(Node(key, "container", cname, _all(profiles), profiles))
            wl_nodes.append(Node(f"ns/{ns}/{wl}", "workload", wl, _all(c_nodes), tuple(c_nodes)))
        out.append(Node(f"ns/{ns}", "namespace", ns, _all(wl_nodes), tuple(wl_nodes)))
    for parent, names in sorted(host.items()):
        out.append(Node(f"profile/{parent}", "profile", parent, tuple(sorted(names))))
    return tuple(out)


def _profile_nodes(names: list[str], under: str) -> Iterable[Node]:
    by_parent: dict[str, list[str]] = {}
    for name in names:
        by_parent.setdefault(name.split("//", 1)[0], []).append(name)
    for parent, group in sorted(by_parent.items()):
        yield Node(f"{under}/profile/{parent}", "profile", parent, tuple(sorted(group)))


def _all(nodes: Iterable[Node]) -> tuple[str, ...]:
    return tuple(p for n in nodes for p in n.profiles)


def undecided(session: Session, index: Index | None = None) -> dict[str, int]:
    """The number of suggestions with no decision yet, per profile (noise left out, as
    `Session.pending` does)."""
    index = index if index is not None and index.fits(session) else Index(session)
    made = {d.key for d in session.decisions}
    counts: dict[str, int] = {}
    for profile, s, key in index.entries:
        if not s.noise and (profile, key) not in made:
            counts[profile] = counts.get(profile, 0) + 1
    return counts


def node_count(node: Node, counts: Mapping[str, int]) -> int:
    """The undecided suggestions under `node` (`counts` from `undecided`)."""
    return sum(counts.get(p, 0) for p in node.profiles)


# ---- the rows -----------------------------------------------------------------------------


def rows(
    session: Session,
    profiles: Iterable[str] | None = None,
    *,
    text: str = "",
    severity: str = "all",
    index: Index | None = None,
) -> tuple[Row, ...]:
    """The suggestions of `profiles` (all when None), most severe first, then by profile and
    rule; `text` keeps those whose rule, profile or chosen rule contains it (any case),
    `severity` those of at least that rank (`SEVERITIES`). Noise is left out unless kept.
    `index` (for this session's suggestions) saves rendering the rules again."""
    if severity not in SEVERITIES:
        raise AaprofError(f"severity must be one of {', '.join(SEVERITIES)}")
    least = SEVERITIES.index(severity)
    wanted = set(profiles) if profiles is not None else None
    made = {d.key: d for d in session.decisions}
    needle = text.casefold()
    index = index if index is not None and index.fits(session) else Index(session)
    noise = session.settings.include_noise
    out = []
    for profile, s, key in index.entries:
        if wanted is not None and profile not in wanted:
            continue
        if (s.noise and not noise) or s.rank < least:
            continue
        row = index.row(profile, s, key, made.get((profile, key)))
        if needle and not any(needle in t.casefold() for t in (key, profile, row.text)):
            continue
        out.append(row)
    hidden = covered(session, {row.profile for row in out}, index)
    out = [dataclasses.replace(x, covered=True) if (x.profile, x.key) in hidden else x for x in out]
    return tuple(sorted(out, key=lambda r: (-r.suggestion.rank, r.profile, r.key)))


def covered(
    session: Session, profiles: Iterable[str], index: Index | None = None
) -> frozenset[tuple[str, str]]:
    """The (profile, rule key) of the suggestions of `profiles` whose rule, as decided now (or
    by default), another rule chosen for the same profile allows entirely: a glob chosen for
    one row covers the exact rules of others, which saving leaves out (engine.decisions)."""
    wanted = set(profiles)
    index = index if index is not None and index.fits(session) else Index(session)
    made = {d.key: d for d in session.decisions}
    files: dict[str, list[tuple[str, m.FileRule]]] = {}
    for profile, s, key in index.entries:
        if profile not in wanted:
            continue
        try:
            item = chosen_item(s, made.get((profile, key)))
        except AaprofError:
            continue
        if isinstance(item, m.FileRule):
            files.setdefault(profile, []).append((key, item))
    out: set[tuple[str, str]] = set()
    for profile, pairs in files.items():
        out |= {(profile, pairs[at][0]) for at in covered_rules([rule for _, rule in pairs])}
    return frozenset(out)


# ---- the keys -----------------------------------------------------------------------------


def allow(row: Row, choice: int | None = None) -> Decision:
    """Allow the row's option `choice` (default: the one in force)."""
    return Decision(row.profile, row.key, "allow", row.choice if choice is None else choice)


def deny(row: Row) -> Decision:
    """Deny the row's option in force (a deny rule: refused on purpose, not logged)."""
    return Decision(row.profile, row.key, "deny", row.choice)


def skip(row: Row) -> Decision:
    """Write nothing for the row (aa-logprof's ignore)."""
    return Decision(row.profile, row.key, "skip")


def typed(row: Row, text: str) -> Decision:
    """Allow the rule `text` typed by hand.

    Raises:
        AaprofError: `text` is not exactly one rule (the message says where).
    """
    parse_rule(text)
    return Decision(row.profile, row.key, "allow", text=text)


def check_rule(text: str) -> str | None:
    """None when `text` is exactly one valid rule or include in the policy language, else why
    not: a syntax error, or what `aaprof profile check` says of it (an unknown signal, `owner`
    on a capability, …) with its column."""
    try:
        parse_rule(text)
    except AaprofError as exc:
        return str(exc)
    problems = check_text(text.strip() + "\n", filename="rule", fragment=True)
    return None if not problems else f"col {problems[0].col}: {problems[0].reason}"


def cycle(row: Row, kinds: frozenset[str]) -> Decision | None:
    """Allow the next option of one of `kinds` after the one in force (wrapping round: the
    globs widen on each press, then start again); None when the row has no such option."""
    choices = row.suggestion.choices
    matching = [i for i, o in enumerate(choices) if o.kind in kinds]
    if not matching:
        return None
    current = row.choice if row.decision is None or row.decision.action == "allow" else -1
    later = [i for i in matching if i > current]
    return allow(row, later[0] if later else matching[0])


def bulk(rows_: Iterable[Row], action: str) -> tuple[Decision, ...]:
    """`action` (`allow` with each default, `deny`, `skip`) for every undecided row."""
    make: Callable[[Row], Decision] = {"allow": allow, "deny": deny, "skip": skip}[action]
    return tuple(make(r) for r in rows_ if r.decision is None)


def is_exec(row: Row) -> bool:
    """Whether the row is an exec (a file rule with an exec transition)."""
    rule = row.suggestion.rule
    return isinstance(rule, m.FileRule) and rule.exec_mode is not None


def exec_choices(row: Row) -> tuple[ExecChoice, ...]:
    """The transitions the exec prompt offers; under no_new_privs (the engine then offers no
    other transition) all but inherit carry why the kernel refuses them."""
    nnp = not any(o.kind == EXEC_MODE for o in row.suggestion.alternatives)
    return tuple(
        dataclasses.replace(c, refused=NO_NEW_PRIVS_REFUSAL) if nnp and c.mode != "ix" else c
        for c in _EXEC_CHOICES
    )


def exec_decision(row: Row, choice: ExecChoice, target: str | None = None) -> Decision:
    """The decision for the exec transition `choice` (`target` for a named one).

    Raises:
        AaprofError: the choice is refused, or a named one lacks a valid target.
    """
    from aaprof.profiles.render import render_rule

    rule = row.suggestion.rule
    if choice.refused:
        raise AaprofError(choice.refused)
    if not isinstance(rule, m.FileRule) or rule.exec_mode is None:
        raise AaprofError(f"{row.key} is not an exec")
    if choice.named and not (target or "").strip():
        raise AaprofError("a named transition needs the profile's name")
    new = dataclasses.replace(
        rule, exec_mode=choice.mode, target=target.strip() if choice.named and target else None
    )
    text = render_rule(new)
    return typed(row, text)
