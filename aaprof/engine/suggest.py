"""Events → suggestions: the least rule per record, merged per profile, minus what is allowed."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from aaprof.containers.naming import container_from_profile, profile_name
from aaprof.engine.abstractions import abstraction_for
from aaprof.engine.classes.mask import qualifiers_of, with_qualifiers
from aaprof.engine.evidence import Evidence
from aaprof.engine.existing import covered
from aaprof.engine.generalise import file_alternatives, volatile
from aaprof.engine.noise import is_noise
from aaprof.engine.options import (
    ABSTRACTION,
    AUDIT,
    DENY,
    EXACT,
    EXEC_MODE,
    FINE,
    SIBLING,
    Item,
    Option,
    as_deny,
)
from aaprof.engine.rules import rule_for
from aaprof.engine.severity import severity, severity_rank
from aaprof.engine.siblings import Family, families, known_rules
from aaprof.engine.spread import Tallies, Tally
from aaprof.errors import AaprofError
from aaprof.logs.records import Record
from aaprof.model import profile as m
from aaprof.model.event import Container, Event
from aaprof.model.labels import confined_members, in_namespace
from aaprof.profiles.render import render_rule

UNCONFINED = "unconfined"
_EXEC_ALTERNATIVES = ("Px", "Cx", "Ux")
_IGNORED_FIELDS = frozenset({"time", "serial", "pid", "node", "source", "extra"})


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One least rule with its labelled alternatives and the evidence behind it.

    `choices` is the least rule (kind `exact`) followed by the alternatives; `options` the same
    items unlabelled; `default` indexes the option applied without a decision (0; the sibling
    glob or the volatile-part generalisation when there is one). `noise`: every record behind
    it is runtime-start noise. The evidence: `count` records, the first `examples`, the first
    distinct `pids`, `comms` and `names`, `first_seen`/`last_seen`.
    """

    rule: m.Rule
    count: int = 1
    examples: tuple[Event, ...] = ()
    severity: str | None = None
    noise: bool = False
    default: int = 0
    last_seen: datetime | None = None  # the latest record behind it
    first_seen: datetime | None = None
    pids: tuple[int, ...] = ()
    comms: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    # where its records were seen: bit masks of `Tallies.places` (engine.spread)
    nodes: int = 0
    replicas: int = 0
    # what the alternatives are made of; they are made the first time they are asked for
    lazy: _Alternatives | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def alternatives(self) -> tuple[Option, ...]:
        """The labelled alternatives to the least rule (globs, abstractions, modes, deny)."""
        return () if self.lazy is None else self.lazy.get()

    @property
    def choices(self) -> tuple[Option, ...]:
        """The least rule (kind `exact`), then the labelled alternatives."""
        return (Option(self.rule, EXACT, "exactly what was recorded"), *self.alternatives)

    @property
    def options(self) -> tuple[Item, ...]:
        """The least rule, then the alternatives (the items of `choices`)."""
        return (self.rule, *(o.item for o in self.alternatives))

    @property
    def key(self) -> str:
        """The least rule's canonical text: with the profile name, the decision's key."""
        return render_rule(self.rule)

    @property
    def rank(self) -> int:
        """2 for a high severity, 1 for medium, 0 for none: sort with `-rank` first."""
        return severity_rank(self.severity)


class _Alternatives:
    """A suggestion's alternatives, made once when first asked for: a review looks at a few of
    thousands of suggestions, and generate at those whose default is not the least rule."""

    __slots__ = ("_made", "_of")

    def __init__(
        self, rule: m.Rule, no_new_privs: bool, fine: tuple[m.Rule, ...], family: Family | None
    ) -> None:
        self._of = (rule, no_new_privs, fine, family)
        self._made: tuple[Option, ...] | None = None

    def get(self) -> tuple[Option, ...]:
        if self._made is None:
            self._made = _alternatives(*self._of)
        return self._made

    def __getstate__(self) -> tuple[Option, ...]:
        return self.get()

    def __setstate__(self, made: tuple[Option, ...]) -> None:
        self._made = made


@dataclass(frozen=True, slots=True)
class ProfileSuggestions:
    """The suggestions for one profile (a child or hat as `parent//child`)."""

    profile: str
    suggestions: tuple[Suggestion, ...]
    container: Container | None = None

    @property
    def parent(self) -> str:
        """The top-level profile's name."""
        return self.profile.split("//", 1)[0]


def owning_member(label: str, foreign: frozenset[str] = frozenset()) -> str | None:
    """The member of a (stacked) label whose profile a record of it teaches, or None.

    A denial in a stack is audited by the member that denied it, so `profile=` is usually one
    member; a whole stack (`label=`, 6.17's `X//&unconfined`) teaches its one confined member
    (never `unconfined`, `unprivileged_userns` or a bare namespace), or of several the one in
    aaprof's naming scheme. A member in `foreign` (a baseline the app is stacked on: `generate
    --stack-on`) is not aaprof's to edit: it is reported, never learned into.
    """
    own = [m for m in confined_members(label) if m.split("//", 1)[0] not in foreign]
    if len(own) == 1:
        return own[0]
    scheme = [m for m in own if container_from_profile(m) is not None]
    return scheme[0] if len(scheme) == 1 else None


def attributed_profile(
    event: Event, *, per_container: bool = False, foreign: frozenset[str] = frozenset()
) -> str | None:
    """The profile an event's rule belongs to, or None (unconfined, no profile, not ours).

    `//null-…` learning children fold into their parent (the exec that made them gets `ix`,
    so their accesses happen under the parent); a stack is attributed to the member that
    `owning_member` finds (None when no one member is aaprof's); a profile in a child policy
    namespace is `:ns:name`; an unconfined task that was moved to another profile at exec
    (`userns`) is attributed to the executable (`execpath`). With `per_container`, a record of
    a known container goes to aaprof's name for it, `aaprof.<namespace>.<pod>.<container>`
    (not a child namespace's profile: that namespace's policy is its owner's).
    """
    label = event.profile
    if label == UNCONFINED and isinstance(event.extra.get("execpath"), str):
        label = str(event.extra["execpath"])
    if not label or label == UNCONFINED:
        return None
    owner = owning_member(in_namespace(label, event.namespace), foreign)
    if owner is None:
        return None
    parts = owner.split("//")
    kept = [parts[0]]
    for part in parts[1:]:
        if part.startswith("null-"):
            break
        kept.append(part)
    label = "//".join(kept)
    c = event.container
    if per_container and c and c.namespace and c.pod and c.name and not label.startswith(":"):
        try:
            return profile_name(c.namespace, c.pod, c.name)
        except AaprofError:
            return label  # not a Kubernetes name: keep the record's own label
    return label


def unowned_label(event: Event, foreign: frozenset[str]) -> str | None:
    """The label of a record that names a profile but teaches none (`attributed_profile` is
    None): a member of `foreign`, or a stack with no one member of aaprof's; else None."""
    label = event.profile
    if not label or label == UNCONFINED or "execpath" in event.extra:
        return None
    label = in_namespace(label, event.namespace)
    if not confined_members(label) or owning_member(label, foreign) is not None:
        return None
    return label


def suggest(
    events: Iterable[Event],
    *,
    existing: Mapping[str, m.Profile] | None = None,
    include_noise: bool = False,
    per_container: bool = False,
    written: Mapping[str, m.Profile] | None = None,
    foreign: frozenset[str] = frozenset(),
    unowned: dict[str, int] | None = None,
) -> tuple[ProfileSuggestions, ...]:
    """`learn` from Events (no copies among them)."""
    return learn(
        (Record.of(e) for e in events),
        existing=existing,
        include_noise=include_noise,
        per_container=per_container,
        written=written,
        foreign=foreign,
        unowned=unowned,
    )


def learn(
    records: Iterable[Record],
    *,
    existing: Mapping[str, m.Profile] | None = None,
    include_noise: bool = False,
    per_container: bool = False,
    written: Mapping[str, m.Profile] | None = None,
    foreign: frozenset[str] = frozenset(),
    unowned: dict[str, int] | None = None,
    tallies: Tallies | None = None,
) -> tuple[ProfileSuggestions, ...]:
    """Group records by profile, turn each into its least rule, merge, drop what is allowed.

    Args:
        records: Records (`logs.entry.records`: selected and attributed), in any order; among
            them copies (a record that only repeats an earlier line but for its stamp and pid:
            `record.key` is not None), which count as their Event would, without one being
            made for each.
        existing: Profiles by name whose rules already allow some records (includes inlined
            with `coverage.inline_includes`; unresolved includes count as granting nothing).
        include_noise: Keep runtime-start noise, flagged `noise=True`.
        per_container: Attribute records of known containers to aaprof's per-container name.
        written: The profiles by name as written (includes not inlined): their exact file
            rules are names recorded by earlier batches, evidence for a sibling glob.
        foreign: Profiles aaprof does not own (a baseline stacked under the app's profile):
            their records teach nothing (`attributed_profile`).
        unowned: Filled with the labels of records that teach no profile of aaprof's (a
            `foreign` member, a stack with no one member of aaprof's): distinct records each.
        tallies: Filled with every profile's records (those `existing` allows too) and where
            they were seen; each suggestion's `nodes` and `replicas` are masks of its places.

    Returns:
        One ProfileSuggestions per profile, sorted by name, suggestions in a stable order.
    """
    groups: dict[str, dict[tuple[object, ...], Evidence]] = {}
    containers: dict[str, Container] = {}
    tallies = tallies if tallies is not None else Tallies()
    bits = tallies.places.bits
    # Records that differ only in time, serial, pid and where they were read give the same
    # answer: decide each distinct record once (a log repeats its accesses many times). Its
    # node and container (but with `per_container`) only say where it was seen.
    seen: dict[tuple[object, ...], _Entry] = {}
    record_key = _record_key_per_container if per_container else _record_key
    # ... and copies of one line are known by the values they share (kept alive here, so that
    # their id is not reused; bounded, as the reader's memo is)
    by_proto: dict[object, tuple[object, _Entry]] = {}
    for record in records:
        mark = record.key
        if mark is not None:
            known = by_proto.get(mark)
            if known is not None:
                tally, found = known[1]
                if tally is not None:
                    tally.add(record.time)  # (its node and container are its line's)
                if found is not None:
                    found[0].add_copy(record)
                continue
        event = record.event()
        key = record_key(event)
        entry = seen.get(key)
        if entry is None:
            name, decided = _decided(
                event, existing, include_noise, per_container, foreign, unowned
            )
            entry = seen[key] = (
                tallies.of(name) if name is not None else None,
                _evidence_of(decided, groups),
            )
        if mark is not None:
            if len(by_proto) >= PROTOS_KEPT:
                by_proto.clear()
            by_proto[mark] = (record.proto, entry)
        tally, found = entry
        if tally is None:
            continue
        node, replica = bits(event)
        tally.add(event.time, node, replica)
        if found is None:
            continue
        evidence, rule, noise = found
        evidence.add(rule, event, noise)
        evidence.nodes |= node
        evidence.replicas |= replica
        if event.container and evidence.profile not in containers:
            containers[evidence.profile] = event.container
    return tuple(
        ProfileSuggestions(
            name,
            _suggestions(groups[name], known_rules(_lookup(written, name))),
            containers.get(name),
        )
        for name in sorted(groups)
    )


PROTOS_KEPT = 8192


# A record's profile and least rule, whether it is noise, and the key of the rules it merges with.
_Decided = tuple[str, m.Rule, bool, tuple[object, ...]]
# Where a record counts: the evidence of its merged rule, its own rule, whether it is noise.
_Found = tuple["Evidence", m.Rule, bool]
# A record's profile's tally (None: no profile) and where its rule counts (None: no rule).
_Entry = tuple[Tally | None, _Found | None]


def _evidence_of(
    decided: _Decided | None, groups: dict[str, dict[tuple[object, ...], Evidence]]
) -> _Found | None:
    """Where the records of one decided kind add up: the evidence of their merged rule."""
    if decided is None:
        return None
    name, rule, noise, merge_key = decided
    group = groups.setdefault(name, {})
    evidence = group.get(merge_key)
    if evidence is None:
        evidence = group[merge_key] = Evidence(rule, name)
    return evidence, rule, noise


# The fields of an Event the engine reads: all but time, serial, pid, node and source (and
# the container, which only names the profile with `per_container`).
_DECIDING = operator.attrgetter(
    *(
        f.name
        for f in dataclasses.fields(Event)
        if f.name not in _IGNORED_FIELDS and f.name != "container"
    )
)


def _record_key(event: Event) -> tuple[object, ...]:
    return (*_DECIDING(event), event.extra.get("execpath"))


def record_key(event: Event) -> tuple[object, ...]:
    """What decides a record's profile and rule: records with equal keys get the same."""
    return _record_key(event)


def _record_key_per_container(event: Event) -> tuple[object, ...]:
    return (*_DECIDING(event), event.extra.get("execpath"), event.container)


def _decided(
    event: Event,
    existing: Mapping[str, m.Profile] | None,
    include_noise: bool,
    per_container: bool,
    foreign: frozenset[str] = frozenset(),
    unowned: dict[str, int] | None = None,
) -> tuple[str | None, _Decided | None]:
    """The profile a record counts for (None: none, or noise left out), and its least rule,
    whether it is noise, and the key of the rules it merges with (None: no suggestion)."""
    name = attributed_profile(event, per_container=per_container, foreign=foreign)
    if name is None and unowned is not None and (label := unowned_label(event, foreign)):
        unowned[label] = unowned.get(label, 0) + 1
    noise = is_noise(event)
    if name is None or (noise and not include_noise):
        return None, None
    rule = needed_rule(event, _lookup(existing, name))
    if rule is None:
        return name, None
    return name, (name, rule, noise, _merge_key(rule))


def needed_rule(event: Event, profile: m.Profile | None) -> m.Rule | None:
    """The least rule a record needs that `profile` does not allow yet (None: it allows it,
    or the record needs no rule): what generate proposes, and what makes a record *new*
    (engine/newrules.py)."""
    rule = rule_for(event)
    if rule is None or covered(profile, rule, event):
        return None
    return rule


def profile_in(existing: Mapping[str, m.Profile] | None, name: str) -> m.Profile | None:
    """The profile `name` (`parent//child` included) among `existing`, or None."""
    return _lookup(existing, name)


def _lookup(existing: Mapping[str, m.Profile] | None, name: str) -> m.Profile | None:
    if not existing:
        return None
    if name in existing:
        return existing[name]
    parts = name.split("//")
    profile = existing.get(parts[0])
    for part in parts[1:]:
        if profile is None:
            return None
        profile = next((c for c in profile.children() if c.name == part), None)
    return profile


def _merge_key(rule: m.Rule) -> tuple[object, ...]:
    # File rules on one path with one set of qualifiers merge their permissions.
    if isinstance(rule, m.FileRule):
        return ("file", rule.qualifiers, rule.path)
    return ("rule", render_rule(rule))


def _suggestions(
    groups: Mapping[tuple[object, ...], Evidence], known: tuple[m.FileRule, ...] = ()
) -> tuple[Suggestion, ...]:
    found = families((e.rule for e in groups.values() if isinstance(e.rule, m.FileRule)), known)
    out = [_suggestion(e, _family(found, e.rule)) for e in groups.values()]
    return tuple(sorted(out, key=lambda s: (s.rule.KIND, s.key)))


def _family(found: Mapping[tuple[str, m.Qualifiers], Family], rule: m.Rule) -> Family | None:
    if not isinstance(rule, m.FileRule):
        return None
    return found.get((rule.path or "", rule.qualifiers))


def _suggestion(evidence: Evidence, family: Family | None) -> Suggestion:
    rule = evidence.rule
    fine = tuple(evidence.fine_network)
    default = 0
    if family is not None:
        default = 1  # the first alternative is the sibling glob
    elif isinstance(rule, m.FileRule | m.LinkRule) and rule.path and volatile(rule.path):
        default = 1  # the first alternative is the volatile-part generalisation
    return Suggestion(
        rule=rule,
        count=evidence.count,
        examples=tuple(evidence.examples),
        severity=severity(rule),
        noise=evidence.all_noise,
        default=default,
        last_seen=evidence.last_seen,
        first_seen=evidence.first_seen,
        pids=tuple(evidence.pids),
        comms=tuple(evidence.comms),
        names=tuple(evidence.names),
        nodes=evidence.nodes,
        replicas=evidence.replicas,
        lazy=_Alternatives(rule, evidence.no_new_privs, fine, family),
    )


_EXEC_WHY = {
    "Px": "run it under its own profile (which must exist)",
    "Cx": "run it under a child profile of this one",
    "Ux": "run it unconfined: nothing limits the program",
}


def _alternatives(
    rule: m.Rule, no_new_privs: bool, fine: tuple[m.Rule, ...], family: Family | None
) -> tuple[Option, ...]:
    out: list[Option] = []
    if family is not None:
        out.append(Option(family.rule, SIBLING, family.why))
    if isinstance(rule, m.FileRule | m.LinkRule):
        out.extend(file_alternatives(rule))
        include = abstraction_for(rule)
        if include is not None:
            why = f"<{include.path}> grants this (and what else it lists)"
            out.append(Option(include, ABSTRACTION, why))
    if isinstance(rule, m.FileRule) and rule.exec_mode and not no_new_privs:
        # without no_new_privs a transition to another profile also works
        out.extend(
            Option(dataclasses.replace(rule, exec_mode=x), EXEC_MODE, _EXEC_WHY[x])
            for x in _EXEC_ALTERNATIVES
        )
    if isinstance(rule, m.NetworkRule):
        why = "only these addresses and ports (needs AppArmor 4, not abi/3.0)"
        out.extend(Option(r, FINE, why) for r in fine)
    q = qualifiers_of(rule)
    if q is not None and not q.audit:
        item = with_qualifiers(rule, dataclasses.replace(q, audit=True))
        out.append(Option(item, AUDIT, "allow it and log every use"))
    denied = as_deny(rule) if q is not None and q.access != "deny" else None
    if denied is not None:
        out.append(Option(denied, DENY, "refuse it on purpose (a deny rule, not logged)"))
    unique: dict[Item, Option] = {}
    for option in out:
        if option.item != rule:
            unique.setdefault(option.item, option)
    return tuple(unique.values())
