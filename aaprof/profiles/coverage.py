"""Coverage: does a profile's file rules allow an access, which rules decide, is it logged."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from aaprof.errors import AaprofError
from aaprof.model.event import Event
from aaprof.model.profile import (
    NO_QUALIFIERS,
    Abi,
    AllRule,
    BodyItem,
    Conditional,
    FileRule,
    Include,
    LinkRule,
    PolicyFile,
    Profile,
    QualifierBlock,
    Qualifiers,
    Variable,
)
from aaprof.profiles.aare import Variables, compile_aare
from aaprof.profiles.includes import Resolved

PERMS = "rwalkmx"
# The kernel's create and delete requests are granted by `w` (as are chmod, chown, setattr).
_AS_WRITE = frozenset("cd")
_ALL_FILE = frozenset("rwalkm")
_ALL_PATTERN = "/{**,}"  # what `file,` and `all,` cover: every name, `/` included


class XConflictError(AaprofError):
    """Two allow rules give one path different exec modes (apparmor_parser refuses it)."""


@dataclass(frozen=True, slots=True)
class Access:
    """One file access: the object's name (a directory's ends in `/`) and requested letters.

    `perms` holds letters of `rwalkmx` and `c`/`d` (create, delete: granted by `w`). `fsuid`
    is the task's, `ouid` the object's owner (for a new object, the creator's fsuid); `owner`
    rules apply only when both are known and equal. `target` is the existing file for `l`.
    """

    name: str
    perms: frozenset[str]
    fsuid: int | None = None
    ouid: int | None = None
    target: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.perms) - set(PERMS) - _AS_WRITE
        if unknown:
            raise AaprofError(f"unknown file permission(s) {''.join(sorted(unknown))!r}")
        if "l" in self.perms and self.target is None:
            raise AaprofError(f"a link access to {self.name!r} needs its target")

    @property
    def requested(self) -> frozenset[str]:
        """The letters the kernel checks: `c` and `d` become `w`."""
        return frozenset("w" if p in _AS_WRITE else p for p in self.perms)

    @property
    def is_owner(self) -> bool:
        """Whether `owner` rules apply."""
        return self.fsuid is not None and self.fsuid == self.ouid


@dataclass(frozen=True, slots=True)
class Exec:
    """The exec transition an allowed `x` takes: the mode (`ix`, `Px`, `cux` ...), the rule's
    `-> target` (None: the profile attached to the executable's path; for `ix`/`ux` unused)."""

    mode: str
    target: str | None
    rule: FileRule


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules say about an access.

    `allowed` and `denied` split the requested letters (`c`/`d` counted as `w`); `explicit` are
    the denied ones a deny rule names. `audited`: the kernel writes a record (an allowed access
    under an `audit` rule, or a denial not silenced by a plain `deny`). `allow_rules` grant some
    requested letter; `deny_rules` deny one (for `explain`).
    """

    access: Access
    allowed: frozenset[str]
    denied: frozenset[str]
    explicit: frozenset[str]
    audited: bool
    allow_rules: tuple[FileRule | LinkRule, ...] = ()
    deny_rules: tuple[FileRule | LinkRule, ...] = ()
    exec: Exec | None = None
    info: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every requested permission is allowed."""
        return not self.denied

    @property
    def verdict(self) -> str:
        """`allowed`, `denied` (a deny rule refuses something) or `unmatched` (no rule grants)."""
        if not self.denied:
            return "allowed"
        return "denied" if self.explicit else "unmatched"


@dataclass(frozen=True, slots=True)
class _Rule:
    """A file-like rule with its qualifiers merged (blocks, `file,`, `all,` made explicit)."""

    source: FileRule | LinkRule
    qualifiers: Qualifiers
    path: str
    perms: frozenset[str]
    exec_mode: str | None = None
    target: str | None = None
    link_target: str | None = None
    subset: bool = False


def decide(profile: Profile, access: Access, variables: Variables | None = None) -> Decision:
    """Whether `profile`'s own file rules allow `access` (children and hats left out).

    The profile's includes must already be resolved; `variables` expands `@{NAME}` in paths.
    Deny wins over allow; `owner` rules count only when `access.is_owner`; `w` grants `a`;
    exec needs an exec mode, and an exact (glob-free) rule's mode beats a glob's.

    Raises:
        AaprofError: an unresolved include, an `if` block, or a bad pattern in a rule.
        XConflictError: the rules give the path two exec modes.
    """
    rules = file_rules(profile)
    if variables is None or "profile_name" not in variables:
        variables = {**(variables or {}), "profile_name": (profile.name,)}
    if "l" in access.perms:
        return _decide_link(profile, rules, access, variables)
    return _decide(profile, rules, access, access.requested, variables)


def _decide(
    profile: Profile,
    rules: tuple[_Rule, ...],
    access: Access,
    request: frozenset[str],
    variables: Variables | None,
) -> Decision:
    grants = _grants(rules, access, access.name, variables)
    allow = [r for r in grants if not r.qualifiers.deny and r.perms & request]
    deny = [r for r in grants if r.qualifiers.deny and r.perms & request]
    granted = frozenset().union(*(r.perms for r in allow)) & request
    explicit = frozenset().union(*(r.perms for r in deny)) & request
    exec_ = None
    if "x" in request:
        exec_ = _exec(_matching(rules, access.name, variables), access, variables)
        if exec_ is None:
            granted -= {"x"}
    allowed = granted - explicit
    denied = request - allowed
    return Decision(
        access=access,
        allowed=allowed,
        denied=denied,
        explicit=explicit,
        audited=_audited(profile, allow, deny, allowed, denied),
        allow_rules=tuple(r.source for r in allow),
        deny_rules=tuple(r.source for r in deny),
        exec=exec_ if "x" in allowed else None,
    )


def _audited(
    profile: Profile,
    allow: list[_Rule],
    deny: list[_Rule],
    allowed: frozenset[str],
    denied: frozenset[str],
) -> bool:
    if "audit" in profile.flags:
        return True
    if denied:
        quiet = frozenset().union(*(r.perms for r in deny if not r.qualifiers.audit))
        loud = frozenset().union(*(r.perms for r in deny if r.qualifiers.audit))
        return bool(denied - (quiet - loud))
    return any(r.qualifiers.audit and r.perms & allowed for r in allow)


def _exec(matching: list[_Rule], access: Access, variables: Variables | None) -> Exec | None:
    """The exec mode the allow rules give the path (None: no mode), conflicts refused."""
    with_mode = [r for r in matching if not r.qualifiers.deny and r.exec_mode]
    if not with_mode:
        return None
    exact = [r for r in with_mode if compile_aare(r.path, variables).literal]
    # the parser checks every rule, owner or not: its per-owner tables overlap
    deciding = exact or with_mode
    modes = {(r.exec_mode, r.target) for r in deciding}
    if len(modes) > 1:
        shown = ", ".join(f"{r.path} {r.exec_mode}" for r in deciding)
        raise XConflictError(f"conflicting exec modes for {access.name!r}: {shown}")
    applicable = [r for r in deciding if access.is_owner or not r.qualifiers.owner]
    if not applicable:
        return None
    rule = applicable[0]
    assert isinstance(rule.source, FileRule) and rule.exec_mode is not None
    return Exec(rule.exec_mode, rule.target, rule.source)


def _decide_link(
    profile: Profile, rules: tuple[_Rule, ...], access: Access, variables: Variables | None
) -> Decision:
    """`l` on the new name, paired with the target; a subset pairing also needs every other
    permission the new name would have to be held by the target (and the same exec mode)."""
    assert access.target is not None
    rest = _decide(profile, rules, access, access.requested - {"l"}, variables)
    grants = _grants(rules, access, access.name, variables)
    pairs = [r for r in grants if "l" in r.perms and _pairs(r, access.target, variables)]
    allow = [r for r in pairs if not r.qualifiers.deny]
    deny = [r for r in pairs if r.qualifiers.deny]
    info = None
    ok = bool(allow) and not deny
    # The kernel runs the subset test only when the task owns the target: it keeps the subset
    # flag in the owner half of its tables (observed on 6.1; tests/vm/test_coverage_kernel.py).
    if ok and access.is_owner and any(r.subset for r in allow):
        info = _not_subset(profile, rules, access, variables)
        ok = info is None
    link = frozenset("l") if ok else frozenset()
    explicit = rest.explicit | (frozenset("l") if deny else frozenset())
    allowed = rest.allowed | link
    denied = rest.denied | (frozenset("l") - link)
    return Decision(
        access=access,
        allowed=allowed,
        denied=denied,
        explicit=explicit,
        audited=_audited(profile, allow, deny, allowed, denied),
        allow_rules=rest.allow_rules + tuple(r.source for r in allow),
        deny_rules=rest.deny_rules + tuple(r.source for r in deny),
        exec=rest.exec,
        info=info,
    )


def _pairs(rule: _Rule, target: str, variables: Variables | None) -> bool:
    return rule.link_target is None or compile_aare(rule.link_target, variables).matches(target)


def _not_subset(
    profile: Profile, rules: tuple[_Rule, ...], access: Access, variables: Variables | None
) -> str | None:
    """Why the new name's permissions are not a subset of the target's (None: they are)."""
    assert access.target is not None
    at_link = _held(profile, rules, replace(access, perms=frozenset(), target=None), variables)
    at_target = _held(
        profile, rules, Access(access.target, frozenset(), access.fsuid, access.ouid), variables
    )
    if at_link[0] - {"l"} - at_target[0]:
        return "link not subset"
    if "x" in at_link[0] and at_link[1] != at_target[1]:
        return "link not subset"
    return None


def _held(
    profile: Profile, rules: tuple[_Rule, ...], access: Access, variables: Variables | None
) -> tuple[frozenset[str], tuple[str, str | None] | None]:
    """Every letter the rules allow on a name (deny applied), and its exec mode."""
    probe = replace(access, perms=frozenset(PERMS) - {"l"}, target=None)
    d = _decide(profile, rules, probe, probe.perms, variables)
    grants = _grants(rules, access, access.name, variables)
    link = any("l" in r.perms and not r.qualifiers.deny for r in grants) and not any(
        "l" in r.perms and r.qualifiers.deny for r in grants
    )
    held = d.allowed | (frozenset("l") if link else frozenset())
    mode = (d.exec.mode, d.exec.target) if d.exec else None
    return held, mode


def _matching(rules: Iterable[_Rule], name: str, variables: Variables | None) -> list[_Rule]:
    return [r for r in rules if compile_aare(r.path, variables).matches(name)]


def _grants(
    rules: Iterable[_Rule], access: Access, name: str, variables: Variables | None
) -> list[_Rule]:
    """The rules matching `name` that apply to this task (owner rules only for the owner)."""
    return [
        r for r in _matching(rules, name, variables) if access.is_owner or not r.qualifiers.owner
    ]


def file_rules(profile: Profile) -> tuple[_Rule, ...]:
    """The profile's file-like rules, qualifier blocks merged into each rule's qualifiers.

    Raises:
        AaprofError: an include is still in the body, or an `if` block (not evaluated).
    """
    return tuple(_flatten(profile.body, NO_QUALIFIERS))


def _flatten(items: Iterable[object], outer: Qualifiers) -> Iterator[_Rule]:
    for item in items:
        if isinstance(item, QualifierBlock):
            yield from _flatten(item.body, _merge(outer, item.qualifiers))
        elif isinstance(item, Include):
            raise AaprofError(f"include {item.path!r} is not resolved: resolve includes first")
        elif isinstance(item, Conditional):
            raise AaprofError("coverage does not evaluate 'if' blocks")
        elif isinstance(item, FileRule | LinkRule | AllRule):
            yield _normalise(item, _merge(outer, item.qualifiers))


def _merge(outer: Qualifiers, inner: Qualifiers) -> Qualifiers:
    return Qualifiers(
        audit=outer.audit or inner.audit,
        access=inner.access or outer.access,
        owner=outer.owner or inner.owner,
        priority=inner.priority if inner.priority is not None else outer.priority,
    )


def _normalise(rule: FileRule | LinkRule | AllRule, q: Qualifiers) -> _Rule:
    if isinstance(rule, LinkRule):
        return _Rule(
            rule, q, rule.path, frozenset("l"), link_target=rule.target, subset=rule.subset
        )
    if isinstance(rule, AllRule) or rule.path is None:
        source = rule if isinstance(rule, FileRule) else FileRule(q, None, _ALL_FILE, "ix")
        mode = "x" if q.deny else "ix"
        return _Rule(source, q, _ALL_PATTERN, _ALL_FILE | {"x"}, mode, subset=True)
    perms = frozenset(p.lower() for p in rule.perms)
    if "w" in perms:
        perms |= {"a"}
    if rule.exec_mode:
        perms |= {"x"}
    return _Rule(rule, q, rule.path, perms, rule.exec_mode, rule.target, subset="l" in perms)


# ---- from policy files and log records ----------------------------------------------------


def inline_includes(profile: Profile, resolved: Resolved) -> Profile:
    """`profile` with each include in its body replaced by the included files' items.

    `resolved` is `includes.resolve_includes(policy, ...)` for the profile's file, which holds
    the files each include stands for. Nothing is read here.

    Raises:
        AaprofError: an include `resolved` does not hold (and that is not `if exists`).
    """
    files = dict(resolved.files)
    body = tuple(_inline(profile.body, files, resolved, 0))
    return replace(profile, body=body)


def _inline(
    items: Iterable[object], files: dict[str, PolicyFile], resolved: Resolved, depth: int
) -> Iterator[BodyItem]:
    if depth > 64:
        raise AaprofError("includes nest deeper than 64 (a cycle?)")
    for item in items:
        if isinstance(item, Include):
            keys = resolved.expansion(item)
            if keys is None and not item.if_exists:
                raise AaprofError(f"include {item.path!r} is not among the resolved files")
            for key in keys or ():
                yield from _inline(files[key].items, files, resolved, depth + 1)
        elif isinstance(item, QualifierBlock):
            body = tuple(_inline(item.body, files, resolved, depth))
            yield replace(item, body=body)
        elif not isinstance(item, Abi | Variable):
            yield item  # type: ignore[misc]


def policy_variables(policy: PolicyFile) -> dict[str, tuple[str, ...]]:
    """The `@{NAME}` definitions of a policy's preamble (`=` sets, `+=` appends, `?=` ...)."""
    out: dict[str, tuple[str, ...]] = {}
    for item in policy.items:
        if isinstance(item, Variable):
            out[item.name] = item.after(out.get(item.name))
    return out


def find_profile(policy: PolicyFile, name: str) -> Profile:
    """The profile called `name`; a child or hat as `parent//child`."""
    parts = name.split("//")
    candidates = policy.profiles()
    for part in parts:
        found = [p for p in candidates if p.name == part]
        if not found:
            raise AaprofError(f"no profile {name!r} in {policy.filename}")
        profile = found[0]
        candidates = profile.children()
    return profile


def event_access(event: Event) -> Access:
    """The file access a log record describes (its `requested` mask, or `denied` when absent).

    Raises:
        AaprofError: the record names no object, or asks for no file permission.
    """
    mask = event.requested or event.denied
    if not event.name or not mask:
        raise AaprofError(f"record has no file name and mask: operation={event.operation}")
    letters = frozenset(mask) & (frozenset(PERMS) | _AS_WRITE)
    if not letters:
        raise AaprofError(f"record asks no file permission: {mask!r}")
    target = event.target if "l" in letters else None
    if "l" in letters and target is None:
        letters -= {"l"}
    return Access(event.name, letters, event.fsuid, event.ouid, target)
