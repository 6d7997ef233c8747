"""The review session: events → suggestions → decisions → profiles, one immutable state at a time.

Every front-end (`aaprof generate`, the `aaprof review` TUI) drives the same `Session`:

    session = Session.read(inputs, out, selection=selection, attribute=attribute)
    session.suggestions                       # per profile, each with labelled choices
    session = session.apply([Decision(...)])  # a new state; keep the old one to undo
    session.preview("aaprof.shop.web.nginx")  # the text save() would write, and its diff
    session.remaining()                       # what DIR's profiles do not allow yet
    saved = session.save(decisions_file=...)  # profiles (atomic, merged) + decisions

The Kubernetes bundle is a separate step over `Saved.texts` (`aaprof.k8s.write`): the engine
does not know about Kubernetes.
"""

from __future__ import annotations

import dataclasses
import difflib
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aaprof import __version__
from aaprof.engine.assemble import assemble, profile_filename
from aaprof.engine.decisions import Decision, apply, chosen_item, save_decisions
from aaprof.engine.directory import (
    PROFILES,
    by_parent,
    existing_profiles,
    includes_for,
    inlined,
)
from aaprof.engine.gaps import Gap
from aaprof.engine.options import Item
from aaprof.engine.spread import (
    ProfileCoverage,
    Readiness,
    RuleCoverage,
    RuleSeen,
    Tallies,
    Thresholds,
    coverage,
    readiness,
)
from aaprof.engine.suggest import ProfileSuggestions, Suggestion, learn
from aaprof.errors import AaprofError
from aaprof.logs import entry
from aaprof.logs.reader import Reader, ReadStats
from aaprof.logs.records import Record
from aaprof.logs.select import Selection
from aaprof.logs.sources import Input
from aaprof.model import profile as m
from aaprof.model.event import Event
from aaprof.model.labels import confined_members
from aaprof.model.pods import PodsRan
from aaprof.profiles.includes import DEFAULT_PROFILE_DIR

__all__ = ["COVERAGE", "MODES", "PROFILES", "Preview", "Saved", "Session", "Settings"]

MODES = ("complain", "enforce")
COVERAGE = "coverage"  # DIR/coverage/<profile file>.json: where each rule was seen
Key = tuple[str, str]  # (profile, least rule text): what a decision names


def learnt_modes(include_denied: bool) -> frozenset[str]:
    """The record modes generate and review learn from: ALLOWED (complain mode), plus with
    `include_denied` the denials, DENIED and KILLED (a `kill` mode profile's)."""
    return frozenset({"ALLOWED", "DENIED", "KILLED"} if include_denied else {"ALLOWED"})


@dataclass(frozen=True, slots=True)
class Settings:
    """How a session learns and writes: the mode written, per-container names, noise, includes."""

    mode: str = "complain"
    per_container: bool = False
    include_noise: bool = False
    base: Path = DEFAULT_PROFILE_DIR  # where includes of DIR's profiles resolve
    stack_on: tuple[str, ...] = ()  # baselines the app's profiles are stacked on: not learned


@dataclass(frozen=True, slots=True)
class Preview:
    """What `save` would write for one top-level profile, and the change against the disk."""

    profile: str
    path: Path
    text: str
    diff: tuple[str, ...]  # unified diff lines, disk → new ("" file when it does not exist)
    new_rules: int
    exists: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "file": str(self.path),
            "new_rules": self.new_rules,
            "exists": self.exists,
            "diff": "".join(self.diff),
        }


@dataclass(frozen=True, slots=True)
class Saved:
    """What `save` wrote: profile files with their new-rule counts, every profile's text in DIR
    (what the Kubernetes bundle ships), and the decisions file when one was asked for."""

    out: Path
    profiles: tuple[tuple[str, Path, int], ...]
    texts: Mapping[str, str]
    decisions_file: Path | None = None
    # the coverage written beside each profile written (DIR/coverage/<file>.json)
    coverage: Mapping[str, ProfileCoverage] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "profiles": [
                {"profile": name, "file": str(path), "new_rules": n}
                for name, path, n in self.profiles
            ],
            "decisions": str(self.decisions_file) if self.decisions_file else None,
        }


@dataclass(frozen=True, slots=True)
class Session:
    """One review: the suggestions for the records read, against DIR's profiles, and the
    decisions made so far. Immutable: `apply` returns a new Session sharing everything else,
    so undo is keeping the previous one."""

    out: Path
    sources: tuple[str, ...]
    settings: Settings
    suggestions: tuple[ProfileSuggestions, ...]
    existing: Mapping[str, tuple[Path, m.PolicyFile]]
    decisions: tuple[Decision, ...] = ()
    stats: ReadStats = field(default_factory=ReadStats)
    learned: int = 0  # records learned from (after the selection)
    warnings: tuple[str, ...] = ()
    # every profile's records and where they were seen; the pods that ran (engine.spread)
    tallies: Tallies = field(default_factory=Tallies, repr=False)
    ran: PodsRan = field(default_factory=PodsRan, repr=False)
    _index: Mapping[Key, Suggestion] = field(default_factory=dict, repr=False)
    _made: Mapping[Key, Decision] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.decisions and not self._made:  # built with decisions rather than by `apply`
            object.__setattr__(self, "_made", {d.key: d for d in self.decisions})

    # ---- building -------------------------------------------------------------------------

    @classmethod
    def read(
        cls,
        inputs: Sequence[Input],
        out: Path,
        *,
        settings: Settings = Settings(),
        selection: Selection | None = None,
        attribute: Callable[[Event], Event] | None = None,
        reader: Reader | None = None,
        decisions: Sequence[Decision] = (),
        sources: Sequence[str] | None = None,
    ) -> Session:
        """Read `inputs` once (streamed) and suggest what DIR's profiles do not allow yet.

        Args:
            inputs: What to read (`logs.sources.expand` of the command line).
            out: DIR: profiles are read from and written to `DIR/profiles/`.
            settings: Mode, per-container names, noise, where includes resolve.
            selection: The records to learn from (default: ALLOWED ones).
            attribute: Sets `Event.container` (containers.attribute), after the selection.
            reader: The reader to use (its node options and progress callback).
            decisions: Decisions to start from (a decisions file).
            sources: The logs as the user named them, for the profiles' header (default:
                the inputs' names).

        Raises:
            AaprofError: an unreadable log, a profile in DIR that does not parse, a mode
                that is not complain or enforce.
        """
        reader = reader or Reader()
        selection = selection or Selection(modes=learnt_modes(False))
        counted = [0]

        def counting(records: Iterator[Record]) -> Iterator[Record]:
            for record in records:
                counted[0] += 1
                yield record

        with _bulk():
            session = cls.from_records(
                counting(entry.records(reader, inputs, selection, attribute)),
                out,
                sources=[i.name for i in inputs] if sources is None else sources,
                settings=settings,
            )
        if reader.stats.errors:
            raise AaprofError("; ".join(reader.stats.errors))
        session = dataclasses.replace(
            session, stats=reader.stats, learned=counted[0], ran=reader.pods
        )
        return session.apply(decisions) if decisions else session

    @classmethod
    def from_records(
        cls,
        records: Iterable[Record],
        out: Path,
        *,
        sources: Sequence[str] = (),
        settings: Settings = Settings(),
    ) -> Session:
        """A session over `records` (`logs.entry.records`: already selected and attributed),
        against DIR's profiles.

        Raises:
            AaprofError: a profile in DIR that does not parse, an unknown mode.
        """
        if settings.mode not in MODES:
            raise AaprofError(f"mode must be one of {', '.join(MODES)}, not {settings.mode!r}")
        existing = existing_profiles(out / PROFILES, settings.base)
        allowed: dict[str, m.Profile] = {}
        written: dict[str, m.Profile] = {}
        warnings: list[str] = []
        unowned: dict[str, int] = {}
        for name, (path, policy) in existing.items():
            profile = written[name] = next(p for p in policy.profiles() if p.name == name)
            allowed[name] = inlined(profile, policy, path, settings.base, warnings)
        tallies = Tallies()
        suggestions = learn(
            records,
            existing=allowed,
            include_noise=settings.include_noise,
            per_container=settings.per_container,
            written=written,
            foreign=frozenset(settings.stack_on),
            unowned=unowned,
            tallies=tallies,
        )
        for label, count in sorted(unowned.items()):
            warnings.append(_not_learned(label, count, settings.stack_on))
        index = {(ps.profile, s.key): s for ps in suggestions for s in ps.suggestions}
        return cls(
            out,
            tuple(sources),
            settings,
            suggestions,
            existing,
            warnings=tuple(warnings),
            tallies=tallies,
            _index=index,
        )

    # ---- deciding -------------------------------------------------------------------------

    def apply(self, decisions: Iterable[Decision]) -> Session:
        """A new state with `decisions` made (each replaces an earlier one for its key).

        A decision for a suggestion this session does not have is kept (it replays on other
        logs) but changes nothing here.

        Raises:
            AaprofError: a decision's choice is out of range, or its text is not one rule.
        """
        made = dict(self._made)
        for decision in decisions:
            suggestion = self._index.get(decision.key)
            if suggestion is not None:
                chosen_item(suggestion, decision)  # raises on a bad choice or text
            made[decision.key] = decision
        return dataclasses.replace(self, decisions=tuple(made.values()), _made=made)

    def decision_for(self, profile: str, suggestion: Suggestion) -> Decision | None:
        """The decision made for `suggestion` of `profile`, or None (its default applies)."""
        return self._made.get((profile, suggestion.key))

    def pending(self) -> tuple[tuple[str, Suggestion], ...]:
        """(profile, suggestion) for each suggestion with no decision yet, most severe first."""
        made = self._made
        out = [
            (ps.profile, s)
            for ps in self.suggestions
            for s in ps.suggestions
            if (ps.profile, s.key) not in made and not s.noise
        ]
        return tuple(sorted(out, key=lambda p: -p[1].rank))

    def all_decisions(self) -> tuple[Decision, ...]:
        """The decisions made, then the default of every other suggestion: a file that states
        every choice, to edit and replay."""
        defaults = tuple(
            Decision(profile, s.key, choice=s.default) for profile, s in self.pending()
        )
        return (*self.decisions, *sorted(defaults, key=lambda d: d.key))

    def chosen(self, profile: str | None = None) -> dict[str, tuple[Item, ...]]:
        """The rules to add per profile (`parent//child` for children), decisions applied;
        only those of top-level `profile` and its children when it is given."""
        groups = self.suggestions
        if profile is not None:
            groups = tuple(ps for ps in groups if ps.parent == profile)
        return {k: v for k, v in apply(groups, self.decisions).items() if v}

    # ---- looking --------------------------------------------------------------------------

    def profiles(self) -> tuple[str, ...]:
        """The top-level profiles this session would write or has read, sorted."""
        names = {ps.parent for ps in self.suggestions} | set(self.existing)
        return tuple(sorted(names))

    def remaining(self) -> tuple[Gap, ...]:
        """Per profile, the rules its recorded accesses still need (decisions applied), and
        when the last record that needed one was written: empty once DIR allows everything."""
        last: dict[str, datetime] = {}
        for group in self.suggestions:
            for s in group.suggestions:
                if s.last_seen is not None and s.last_seen > last.get(group.profile, s.last_seen):
                    last[group.profile] = s.last_seen
                elif s.last_seen is not None:
                    last.setdefault(group.profile, s.last_seen)
        return tuple(
            Gap(name, tuple(_item_text(r) for r in rules), last.get(name))
            for name, rules in sorted(self.chosen().items())
        )

    def coverage(self, profile: str) -> ProfileCoverage:
        """Top-level `profile`'s records and each proposed rule's (its children's too): on how
        many nodes and replicas seen, of how many ran, first and last seen, the outliers."""
        rules = [
            self._rule_seen(ps.profile, s)
            for ps in self.suggestions
            if ps.parent == profile
            for s in ps.suggestions
            if not s.noise
        ]
        return coverage(profile, self.tallies.seen(profile), rules, self.ran)

    def rule_coverage(self, profile: str, suggestion: Suggestion) -> RuleCoverage:
        """One suggestion's coverage, as `coverage` gives it (a review's details pane)."""
        parent = profile.split("//", 1)[0]
        rule = self._rule_seen(profile, suggestion)
        return coverage(parent, self.tallies.seen(parent), [rule], self.ran).rules[0]

    def _rule_seen(self, profile: str, s: Suggestion) -> RuleSeen:
        places = self.tallies.places
        return RuleSeen(
            profile,
            s.key,
            s.count,
            places.nodes(s.nodes),
            places.replicas(s.replicas),
            s.first_seen,
            s.last_seen,
        )

    def readiness(self, thresholds: Thresholds | None = None) -> tuple[Readiness, ...]:
        """Per top-level profile with records, whether it is ready to enforce and why: no new
        rule (engine/newrules.py: one DIR's profile does not allow, `suggest.needed_rule`;
        new when its first record was written) for
        `thresholds.quiet` before the last record read, enough replicas and records."""
        thresholds = thresholds or Thresholds()
        end = self.tallies.end()
        names = sorted({name.split("//", 1)[0] for name in self.tallies.profiles})
        out = []
        for name in names:
            firsts = [
                s.first_seen
                for ps in self.suggestions
                if ps.parent == name
                for s in ps.suggestions
                if s.first_seen is not None and not s.noise
            ]
            last_new = max(firsts) if firsts else None
            out.append(readiness(self.coverage(name), last_new, end, thresholds))
        return tuple(out)

    def preview(self, profile: str) -> Preview:
        """The text `save` would write for top-level `profile` and its diff against the disk.

        Raises:
            AaprofError: no such profile in this session.
        """
        if profile not in self.profiles():
            raise AaprofError(f"no profile {profile!r} in this session")
        rules, children = by_parent(self.chosen(profile)).get(profile, ((), {}))
        path, policy = self._target(profile)
        before = self._existing_text(path) if policy is not None else ""
        new = len(rules) + sum(len(c) for c in children.values())
        text = self._render(profile, rules, children, policy) if new else before
        diff = difflib.unified_diff(
            before.splitlines(keepends=True),
            text.splitlines(keepends=True),
            str(path) if policy is not None else "/dev/null",
            str(path),
        )
        return Preview(profile, path, text, tuple(diff), new, policy is not None)

    # ---- writing --------------------------------------------------------------------------

    def save(self, *, decisions_file: Path | None = None) -> Saved:
        """Write (merge) DIR/profiles/<file> for every profile with new rules, atomically, and
        the decisions file (`all_decisions`) when one is named.

        Raises:
            AaprofError: a file that cannot be written, or an existing file in DIR that lacks
                the profile it is to merge into.
        """
        from aaprof.profiles.compare import write_atomically

        (self.out / PROFILES).mkdir(parents=True, exist_ok=True)
        written = []
        texts: dict[str, str] = {}
        covered: dict[str, ProfileCoverage] = {}
        for name, (rules, children) in sorted(by_parent(self.chosen()).items()):
            path, policy = self._target(name)
            text = self._render(name, rules, children, policy)
            write_atomically(path, text)
            covered[name] = self._write_coverage(name, path, write_atomically)
            texts[name] = text
            written.append((name, path, len(rules) + sum(len(c) for c in children.values())))
        for name, (path, _policy) in self.existing.items():
            texts.setdefault(name, self._existing_text(path))
        if decisions_file is not None:
            save_decisions(decisions_file, self.all_decisions())
        return Saved(self.out, tuple(written), texts, decisions_file, covered)

    def _write_coverage(
        self, name: str, path: Path, write: Callable[[Path, str], None]
    ) -> ProfileCoverage:
        """DIR/coverage/<profile file>.json: the profile's coverage (docs/generate.md)."""
        import json

        folder = self.out / COVERAGE
        folder.mkdir(exist_ok=True)
        found = self.coverage(name)
        doc = json.dumps(found.to_dict(), indent=2, ensure_ascii=False)
        write(folder / f"{path.name}.json", doc + "\n")
        return found

    def _existing_text(self, path: Path) -> str:
        """The text of a file of DIR/profiles, read as `existing_profiles` read it."""
        return includes_for(self.out / PROFILES, self.settings.base).read(path)

    def _target(self, name: str) -> tuple[Path, m.PolicyFile | None]:
        """Where profile `name` is (or goes), and the file that holds it now.

        Raises:
            AaprofError: the file it would go to exists and holds other profiles (merge or
                refuse: a file in DIR is never replaced by one that drops what it held).
        """
        if name in self.existing:
            return self.existing[name]
        path = self.out / PROFILES / profile_filename(name)
        if path.exists():
            others = sorted(n for n, (p, _) in self.existing.items() if p == path)
            held = ", ".join(others) if others else "no profile"
            raise AaprofError(
                f"{path}: no profile {name!r} to merge into (it holds {held}); "
                "refusing to replace it"
            )
        return path, None

    def _render(
        self,
        name: str,
        rules: tuple[Item, ...],
        children: Mapping[str, tuple[Item, ...]],
        policy: m.PolicyFile | None,
    ) -> str:
        from aaprof.profiles.render import render_policy

        return render_policy(
            assemble(
                name,
                rules,
                mode=self.settings.mode,
                existing=policy,
                header=self._header(),
                children=children,
            )
        )

    def _header(self) -> tuple[str, ...]:
        sources = ", ".join(self.sources[:5]) + (" …" if len(self.sources) > 5 else "")
        # Each line starts with "aaprof" so that a re-run replaces this header (engine.assemble).
        return (
            f"aaprof {__version__} generated this profile from: {sources or 'events'}",
            "aaprof proposed the rules from recorded accesses. Edit freely: re-running",
            "aaprof generate adds new rules and keeps everything written here.",
        )


def _item_text(item: Item) -> str:
    from aaprof.profiles.render import render_item

    return render_item(item)[0]


@contextmanager
def _bulk() -> Iterator[None]:
    """No cyclic garbage collection while a log is read: reading builds objects by the hundred
    thousand and frees them without cycles, and the collector's passes over everything alive
    were about a seventh of the read (docs/performance.md). Collection resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _not_learned(label: str, count: int, stack_on: tuple[str, ...]) -> str:
    """The warning for records of a label that teach no profile of aaprof's."""
    records = f"{count} distinct record{'s' if count != 1 else ''}"
    members = [x.split("//", 1)[0] for x in confined_members(label)]
    if len(members) == 1 and members[0] in stack_on:
        why = f"{members[0]} is the baseline the app is stacked on (--stack-on), not aaprof's"
    else:
        why = f"no one member of the stack {label} is aaprof's to learn into"
    return f"{records} of {label}: reported, not learned ({why})"
