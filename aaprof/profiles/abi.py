"""Which feature ABI a profile needs, and the warnings `profile check` gives about the one it pins.

A policy's `abi <abi/X>,` says which kernel features it was written for: a class the pinned ABI
does not name is not mediated at all (its allow rules are not needed, its deny rules not
enforced), and a newer ABI switches on mediation of new classes. aaprof pins `abi <abi/3.0>`
(every kernel since 5.x, every parser since 3.0) unless a rule needs more; then it pins the
newest ABI the target parser ships: `abi <abi/4.0>` for AppArmor 4.1 (Debian 13), whose abi/4.0
names userns creation and POSIX message queues. See docs/profile.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyparsing as pp

from aaprof.model import profile as m
from aaprof.profiles.build import PolicySyntaxError, parse_located
from aaprof.profiles.check import Problem
from aaprof.profiles.peers import peer_warnings

BASE = "abi/3.0"
NEWEST = "abi/4.0"  # the newest ABI AppArmor 4.1's apparmor_parser ships (Debian 13)
KNOWN = (BASE, NEWEST)  # oldest first
_NEWER_MODES = frozenset({"prompt", "default_allow"})
_ARTICLE = {"io_uring": "an", "mqueue": "an", "all": "an"}


def rule_needs(rule: m.Rule) -> str | None:
    """Why `rule` needs an ABI newer than abi/3.0 (a short phrase), or None."""
    q = getattr(rule, "qualifiers", m.NO_QUALIFIERS)
    if q.priority is not None:
        return "priority="
    if isinstance(rule, m.UsernsRule | m.IoUringRule | m.MqueueRule | m.AllRule):
        return f"{_ARTICLE.get(rule.KIND, 'a')} {rule.KIND} rule"
    if isinstance(rule, m.NetworkRule) and (rule.access or rule.conds or rule.peer):
        return "a network rule with accesses or ip=/port= conditions"
    return None


def profile_needs(profile: m.Profile) -> str | None:
    """Why `profile` (its children included) needs an ABI newer than abi/3.0, or None."""
    return next((why for _, why in _needs(profile)), None)


def needed(items: Iterable[m.PolicyItem]) -> str:
    """The ABI a file holding `items` should pin: BASE, or NEWEST when a rule or mode needs it."""
    for item in items:
        if isinstance(item, m.Profile) and profile_needs(item):
            return NEWEST
        if isinstance(item, m.RULE_TYPES) and rule_needs(item):
            return NEWEST
    return BASE


def pinned(policy: m.PolicyFile) -> str | None:
    """The ABI a file pins (`abi <x>,` as the path, `abi "x"` too), or None."""
    return next((i.path for i in policy.items if isinstance(i, m.Abi)), None)


def rank(abi: str | None) -> int:
    """Where `abi` sits in KNOWN (-1 for none or one aaprof does not know)."""
    return KNOWN.index(abi) if abi in KNOWN else -1


def _needs(profile: m.Profile) -> Iterator[tuple[object, str]]:
    """(the item, why) for each rule or mode of `profile` and its children needing more than 3.0."""
    modes = sorted(profile.flags & _NEWER_MODES)
    if modes:
        yield profile, f"the {modes[0]} mode"
    for rule in profile.rules():
        why = rule_needs(rule)
        if why:
            yield rule, why
    for child in profile.children():
        yield from _needs(child)


def _unix_via_network(profile: m.Profile) -> Iterator[m.NetworkRule]:
    """The `network` rules that would grant this profile's unix sockets, if it has no unix rule."""
    rules = profile.rules()
    if any(isinstance(r, m.UnixRule | m.AllRule) and not r.qualifiers.deny for r in rules):
        return
    for r in rules:
        plain = isinstance(r, m.NetworkRule) and not (r.qualifiers.deny or r.conds or r.peer)
        if plain and isinstance(r, m.NetworkRule) and r.domain in (None, "unix"):
            yield r


def abi_warnings(policy: m.PolicyFile) -> Iterator[tuple[object, str]]:
    """(the item, the warning) for what the file's ABI pin makes of its rules.

    - a rule or mode that needs a newer ABI than the file pins (or with no pin): the kernel
      does not mediate that class for the profile, so its allow is not needed and its deny
      not enforced;
    - a `network` rule that is a profile's only grant for unix sockets, in a file that does
      not pin abi/3.0: with a newer ABI (or the parser's default one) `network` does not
      imply `unix` (containerd issue 12726), so the profile's unix sockets are denied.
    """
    have = pinned(policy)
    pin = f"this file pins abi <{have}>" if have else "this file pins no abi"
    for item in policy.items:
        if not isinstance(item, m.Profile):
            continue
        for where, why in _needs(item):
            if rank(have) < rank(NEWEST):
                yield (
                    where,
                    (
                        f"{why} needs abi <{NEWEST}> and {pin}: the kernel does not mediate it "
                        "for this profile (an allow is not needed, a deny is not enforced)"
                    ),
                )
        if have != BASE:
            for profile in (item, *_descendants(item)):
                for rule in _unix_via_network(profile):
                    yield (
                        rule,
                        (
                            f"'network' grants unix sockets only under abi <{BASE}> and {pin} "
                            "(containerd issue 12726): pin abi <abi/3.0> or add unix rules"
                        ),
                    )


def _descendants(profile: m.Profile) -> Iterator[m.Profile]:
    for child in profile.children():
        yield child
        yield from _descendants(child)


def check_warnings(text: str, *, filename: str = "<text>") -> tuple[Problem, ...]:
    """`profile check`'s warnings of a file's text, each at its file:line:col (none for invalid
    text): `abi_warnings`, then `peers.peer_warnings` (peer rules a stacked label defeats)."""
    try:
        policy, locs = parse_located(text, filename=filename)
    except PolicySyntaxError:
        return ()
    out = []
    for item, reason in (*abi_warnings(policy), *peer_warnings(policy)):
        loc = locs.get(id(item), 0)
        out.append(Problem(filename, pp.lineno(loc, text), pp.col(loc, text), reason))
    return tuple(dict.fromkeys(out))
