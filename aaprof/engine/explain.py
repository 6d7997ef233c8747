"""`aaprof profile explain`: which rule allows or denies a logged access."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aaprof.errors import AaprofError
from aaprof.logs import Unparsed, entry
from aaprof.logs.reader import Reader
from aaprof.logs.select import Selection
from aaprof.logs.sources import expand
from aaprof.model import profile as m
from aaprof.model.event import Event
from aaprof.profiles.compare import profiles_by_name, read_policy
from aaprof.profiles.coverage import decide, event_access, inline_includes
from aaprof.profiles.includes import Includes, Resolved, resolve_includes
from aaprof.profiles.render import render_rule

_VERDICTS = {
    "allowed": "allowed",
    "denied": "denied by a deny rule",
    "unmatched": "not allowed: no rule grants it",
    "no-profile": "no such profile in the file",
    "not-modelled": "not explained",
}


@dataclass(frozen=True, slots=True)
class Answer:
    """What the profile says about one record."""

    event: Event
    profile: str | None
    verdict: str  # allowed, denied, unmatched, or not-modelled / no-profile
    allow_rules: tuple[str, ...] = ()
    deny_rules: tuple[str, ...] = ()
    note: str | None = None

    def to_dict(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "record": self.event.to_dict(),
            "profile": self.profile,
            "verdict": self.verdict,
            "allow_rules": list(self.allow_rules),
            "deny_rules": list(self.deny_rules),
        }
        if self.note:
            doc["note"] = self.note
        return doc

    def text(self) -> str:
        e = self.event
        what = e.name or e.capname or e.peer or ""
        mask = e.requested or e.denied or ""
        head = f"{e.mode} {e.operation or '?'} {what} {mask}".rstrip()
        verdict = _VERDICTS.get(self.verdict, self.verdict)
        lines = [f"{head}  [{self.profile or e.profile or '?'}]: {verdict}"]
        lines += [f"  allowed by: {rule}" for rule in self.allow_rules]
        lines += [f"  denied by:  {rule}" for rule in self.deny_rules]
        if self.note:
            lines.append(f"  {self.note}")
        return "\n".join(lines)


@dataclass(slots=True)
class Explainer:
    """A policy file with its includes resolved, ready to explain records."""

    policy: m.PolicyFile
    resolved: Resolved
    base: Path
    only: str | None = None
    _inlined: dict[str, m.Profile] = field(default_factory=dict)

    @classmethod
    def load(cls, file: str, base: Path, only: str | None = None) -> Explainer:
        """Parse `file` and follow its includes under `base`.

        Raises:
            AaprofError: the file does not parse, or an include is missing.
        """
        policy = read_policy(file)
        includes = Includes((base,))
        if file != "-":
            includes = includes.with_roots(Path(file).resolve().parent)
        return cls(policy, resolve_includes(policy, includes), base, only)

    def explain_all(self, logs: Iterable[str], records: Iterable[str]) -> Iterator[Answer]:
        """Answers for every AppArmor record of the logs, then of the given lines."""
        if logs:
            for record in entry.records(Reader(), expand(list(logs)), Selection()):
                event = record.event()
                if event.mode != "STATUS":  # a profile load: no access to explain
                    yield self.explain(event)
        for line in records:
            result = entry.one_line(line)
            if result is None or isinstance(result, Unparsed):
                reason = result.reason if isinstance(result, Unparsed) else "no AppArmor record"
                raise AaprofError(f"--record {line[:60]!r}: {reason}")
            yield self.explain(result)

    def explain(self, event: Event) -> Answer:
        """What the profile says about one record."""
        name = self.only or event.profile
        profiles = profiles_by_name(self.policy)
        if name is None or name not in profiles:
            return Answer(event, name, "no-profile", note=f"the file has no profile {name!r}")
        profile = self._profile(name, profiles[name])
        if event.capname:
            return _capability(event, name, profile)
        try:
            access = event_access(event)
        except AaprofError as exc:
            return Answer(event, name, "not-modelled", note=f"not a file access ({exc})")
        decision = decide(profile, access, dict(self.resolved.variables))
        return Answer(
            event,
            name,
            decision.verdict,
            tuple(render_rule(r) for r in decision.allow_rules),
            tuple(render_rule(r) for r in decision.deny_rules),
            decision.info,
        )

    def _profile(self, name: str, profile: m.Profile) -> m.Profile:
        if name not in self._inlined:
            self._inlined[name] = inline_includes(profile, self.resolved)
        return self._inlined[name]


def _capability(event: Event, name: str, profile: m.Profile) -> Answer:
    matching = [
        (rule, deny)
        for rule, deny in _capability_rules(profile.body, deny=False)
        if isinstance(rule, m.AllRule) or not rule.names or event.capname in rule.names
    ]
    denying = tuple(render_rule(r) for r, deny in matching if deny)
    allowing = tuple(render_rule(r) for r, deny in matching if not deny)
    verdict = "denied" if denying else "allowed" if allowing else "unmatched"
    return Answer(event, name, verdict, allowing, denying)


def _capability_rules(
    items: Iterable[m.BodyItem], *, deny: bool
) -> Iterator[tuple[m.CapabilityRule | m.AllRule, bool]]:
    """Capability rules (and `all,`, which grants every capability) with whether they deny, a
    `deny { ... }` block's qualifier included."""
    for item in items:
        if isinstance(item, m.CapabilityRule | m.AllRule):
            yield item, deny or item.qualifiers.deny
        elif isinstance(item, m.QualifierBlock):
            yield from _capability_rules(item.body, deny=deny or item.qualifiers.deny)
