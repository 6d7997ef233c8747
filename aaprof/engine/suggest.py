"""Events → suggestions: the least rule per record, merged per profile, minus what is allowed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aaprof.containers.naming import profile_name
from aaprof.engine.abstractions import abstraction_for
from aaprof.engine.classes.file import NO_NEW_PRIVS, least_perms
from aaprof.engine.classes.mask import qualifiers_of, with_qualifiers
from aaprof.engine.classes.network import fine_network_rule
from aaprof.engine.existing import covered
from aaprof.engine.generalise import file_alternatives, volatile
from aaprof.engine.noise import is_noise
from aaprof.engine.rules import rule_for
from aaprof.engine.severity import severity
from aaprof.errors import AaprofError
from aaprof.model import profile as m
from aaprof.model.event import Container, Event
from aaprof.profiles.render import render_rule

Item = m.Rule | m.Include  # what a suggestion may turn into: a rule or an abstraction
MAX_EXAMPLES = 3
UNCONFINED = "unconfined"
_EXEC_ALTERNATIVES = ("Px", "Cx", "Ux")


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One least rule with its alternatives and evidence.

    `options` is the least rule followed by the alternatives; `default` indexes the option
    applied without a decision (0, or the volatile-part generalisation when there is one).
    `noise`: every record behind it is runtime-start noise.
    """

    rule: m.Rule
    alternatives: tuple[Item, ...] = ()
    count: int = 1
    examples: tuple[Event, ...] = ()
    severity: str | None = None
    noise: bool = False
    default: int = 0

    @property
    def options(self) -> tuple[Item, ...]:
        """The least rule, then the alternatives."""
        return (self.rule, *self.alternatives)

    @property
    def key(self) -> str:
        """The least rule's canonical text: with the profile name, the decision's key."""
        return render_rule(self.rule)


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


def attributed_profile(event: Event, *, per_container: bool = False) -> str | None:
    """The profile an event's rule belongs to, or None (unconfined, no profile).

    `//null-…` learning children fold into their parent (the exec that made them gets `ix`,
    so their accesses happen under the parent); a stack `a//&b` is attributed to `a`; an
    unconfined task that was moved to another profile at exec (`userns`) is attributed to
    the executable (`execpath`). With `per_container`, a record of a known container goes to
    aaprof's name for it, `aaprof.<namespace>.<pod>.<container>`.
    """
    label = event.profile
    if label == UNCONFINED and isinstance(event.extra.get("execpath"), str):
        label = str(event.extra["execpath"])
    if not label or label == UNCONFINED:
        return None
    label = label.split("//&", 1)[0]
    parts = label.split("//")
    kept = [parts[0]]
    for part in parts[1:]:
        if part.startswith("null-"):
            break
        kept.append(part)
    label = "//".join(kept)
    c = event.container
    if per_container and c and c.namespace and c.pod and c.name:
        try:
            return profile_name(c.namespace, c.pod, c.name)
        except AaprofError:
            return label  # not a Kubernetes name: keep the record's own label
    return label


def suggest(
    events: Iterable[Event],
    *,
    existing: Mapping[str, m.Profile] | None = None,
    include_noise: bool = False,
    per_container: bool = False,
) -> tuple[ProfileSuggestions, ...]:
    """Group records by profile, turn each into its least rule, merge, drop what is allowed.

    Args:
        events: Records, in any order.
        existing: Profiles by name whose rules already allow some records (includes inlined
            with `coverage.inline_includes`; unresolved includes count as granting nothing).
        include_noise: Keep runtime-start noise, flagged `noise=True`.
        per_container: Attribute records of known containers to aaprof's per-container name.

    Returns:
        One ProfileSuggestions per profile, sorted by name, suggestions in a stable order.
    """
    groups: dict[str, dict[tuple[object, ...], list[tuple[m.Rule, Event]]]] = {}
    containers: dict[str, Container] = {}
    for event in events:
        name = attributed_profile(event, per_container=per_container)
        if name is None or (not include_noise and is_noise(event)):
            continue
        rule = rule_for(event)
        if rule is None or covered(_lookup(existing, name), rule, event):
            continue
        groups.setdefault(name, {}).setdefault(_merge_key(rule), []).append((rule, event))
        if event.container and name not in containers:
            containers[name] = event.container
    return tuple(
        ProfileSuggestions(name, _suggestions(groups[name]), containers.get(name))
        for name in sorted(groups)
    )


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


def _merged(rules: list[m.Rule]) -> m.Rule:
    first = rules[0]
    if not isinstance(first, m.FileRule):
        return first
    files = [r for r in rules if isinstance(r, m.FileRule)]
    perms = least_perms(frozenset().union(*(r.perms for r in files)))
    mode = next((r.exec_mode for r in files if r.exec_mode), None)
    return dataclasses.replace(first, perms=perms, exec_mode=mode)


def _suggestions(
    groups: Mapping[tuple[object, ...], list[tuple[m.Rule, Event]]],
) -> tuple[Suggestion, ...]:
    out = [_suggestion(pairs) for pairs in groups.values()]
    return tuple(sorted(out, key=lambda s: (s.rule.KIND, s.key)))


def _suggestion(pairs: list[tuple[m.Rule, Event]]) -> Suggestion:
    rule = _merged([r for r, _ in pairs])
    events = [e for _, e in pairs]
    alternatives = _alternatives(rule, events)
    default = 0
    if isinstance(rule, m.FileRule | m.LinkRule) and rule.path and volatile(rule.path):
        default = 1  # the first alternative is the volatile-part generalisation
    return Suggestion(
        rule=rule,
        alternatives=alternatives,
        count=len(events),
        examples=tuple(events[:MAX_EXAMPLES]),
        severity=severity(rule),
        noise=all(is_noise(e) for e in events),
        default=default,
    )


def _alternatives(rule: m.Rule, events: list[Event]) -> tuple[Item, ...]:
    out: list[Item] = []
    if isinstance(rule, m.FileRule | m.LinkRule):
        out.extend(file_alternatives(rule))
        include = abstraction_for(rule)
        if include is not None:
            out.append(include)
    nnp = any(e.info == NO_NEW_PRIVS for e in events)
    if isinstance(rule, m.FileRule) and rule.exec_mode and not nnp:
        # without no_new_privs a transition to another profile also works
        out.extend(dataclasses.replace(rule, exec_mode=x) for x in _EXEC_ALTERNATIVES)
    if isinstance(rule, m.NetworkRule):
        fine = [f for e in events if (f := fine_network_rule(e)) is not None]
        out.extend(dict.fromkeys(fine))
    q = qualifiers_of(rule)
    if q is not None and not q.audit:
        out.append(with_qualifiers(rule, dataclasses.replace(q, audit=True)))
    return tuple(dict.fromkeys(out))
