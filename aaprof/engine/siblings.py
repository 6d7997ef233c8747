"""Learning from siblings: names in one directory that differ only in a number, hex or random part.

nginx writes `client_temp/0000000001`, `…0002`, `…0003`; a profile that allows just those three
denies the fourth request. When at least `MIN_FAMILY` names in one directory share a shape (the
same text around parts that vary in one class of characters), the narrowest glob that covers
the family is proposed (`client_temp/[0-9]*`), checked not to cover any other name recorded in
that directory (names of another shape stay denied).

Learning goes in batches (today's logs, then tomorrow's into the same profiles): the exact rules
a profile already holds are names recorded before, and count as members of a family with the
new ones (two names written yesterday and one today are three), so a batch learns what one run
over every batch would.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence

from aaprof.engine.generalise import volatile
from aaprof.model import profile as m
from aaprof.profiles.aare import compile_aare, escape, unescape

MIN_FAMILY = 3  # fewer names are not a family: two could be any two files
_TOKENS = re.compile(r"[A-Za-z0-9]+|[^A-Za-z0-9]+")
_PARTS = re.compile(r"[0-9]+|[A-Za-z]+")
_BOUNDARY = re.compile(r"[0-9](?=[A-Za-z])|[A-Za-z](?=[0-9])")
_HEX = re.compile(r"[0-9a-f]+")
DIGITS, RANDOM = "[0-9]*", "[A-Za-z0-9]*"
_CLASS_NAMES = {DIGITS: "a number", "[0-9a-f]*": "a hex string", RANDOM: "a random part"}


@dataclasses.dataclass(frozen=True, slots=True)
class Family:
    """Names in one directory of one shape, and the glob rule that covers them."""

    rule: m.FileRule
    members: tuple[str, ...]  # the least rules' paths (and the profile's rules among them)
    varies: str  # "a number", "a hex string", "a random part"
    known: int = 0  # members that are rules of the profile already

    @property
    def why(self) -> str:
        path = self.rule.path or ""
        directory = path.rsplit("/", 2 if path.endswith("/") else 1)[0]
        known = f" ({self.known} in the profile already)" if self.known else ""
        return (
            f"{len(self.members)} names in {directory}/{known} differ only in {self.varies}: "
            "this covers the family, not names of another shape"
        )


def _tokens(name: str) -> list[tuple[str, str]]:
    """(class, text) per token: `D` digits, `X` random alphanumerics, `L` literal text."""
    out: list[tuple[str, str]] = []
    for token in _TOKENS.findall(name):
        if not token[0].isalnum():
            out.append(("L", token))
        elif len(token) >= 6 and len(_BOUNDARY.findall(token)) >= 2:
            out.append(("X", token))  # a mktemp-like draw: letters and digits interleaved
        else:
            out.extend(("D" if p.isdigit() else "L", p) for p in _PARTS.findall(token))
    return out


def _shape(tokens: list[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(text if cls == "L" else cls for cls, text in tokens)


def _split(path: str) -> tuple[str, str, str]:
    """(directory with its `/`, last segment unescaped, `/` or "")."""
    slash = "/" if path.endswith("/") and path != "/" else ""
    head, _, last = path.rstrip("/").rpartition("/")
    return head + "/", unescape(last), slash


def families(
    rules: Iterable[m.FileRule], known: Iterable[m.FileRule] = ()
) -> dict[tuple[str, m.Qualifiers], Family]:
    """The family each least file rule belongs to, by the rule's path and qualifiers (one path
    can be read by anyone and written by its owner: two rules, two families; rules of no family
    are absent). Rules group by directory (volatile parts generalised), qualifiers and exec mode.
    `known`: the profile's exact file rules (`known_rules`), names recorded before: members of
    a family as the new ones are, never given one themselves."""
    new = [r for r in rules if r.path and not r.exec_mode]
    paths = {r.path for r in new}
    old = [r for r in known if r.path and not r.exec_mode and r.path not in paths]
    groups: dict[
        tuple[str, str, m.Qualifiers, tuple[str, ...]],
        list[tuple[m.FileRule, list[tuple[str, str]]]],
    ] = {}
    seen: dict[str, set[str]] = {}  # directory -> every last segment recorded there
    for rule in (*new, *old):
        assert rule.path is not None
        base = volatile(rule.path) or rule.path
        directory, last, slash = _split(base)
        if _split(rule.path)[1] != last:
            continue  # the volatile form already generalises the name itself
        seen.setdefault(directory, set()).add(last + slash)
        tokens = _tokens(last)
        if all(cls == "L" for cls, _ in tokens):
            continue
        key = (directory, slash, rule.qualifiers, _shape(tokens))
        groups.setdefault(key, []).append((rule, tokens))
    out: dict[tuple[str, m.Qualifiers], Family] = {}
    for (directory, slash, _q, _shape_key), members in groups.items():
        names = {_split(r.path or "")[1] for r, _ in members}
        if len(names) < MIN_FAMILY or all(r.path not in paths for r, _ in members):
            continue
        glob, varies = _glob([t for _, t in members])
        if varies is None:
            continue
        others = seen[directory] - {n + slash for n in names}
        pattern = compile_aare(glob + slash)
        if any(pattern.matches(other) for other in others):
            continue  # it would cover a name of another shape: no family glob
        perms = frozenset().union(*(r.perms for r, _ in members))
        first = next(r for r, _ in members if r.path in paths)
        rule = dataclasses.replace(first, path=directory + glob + slash, perms=perms)
        known_members = sum(r.path not in paths for r, _ in members)
        family = Family(
            rule, tuple(sorted(r.path or "" for r, _ in members)), varies, known_members
        )
        for member, _ in members:
            if member.path in paths:
                out[member.path or "", member.qualifiers] = family
    return out


def known_rules(profile: m.Profile | None) -> tuple[m.FileRule, ...]:
    """The exact file rules written in a profile's own body (not its includes): plain allow
    rules on one literal path, what earlier batches learnt."""
    if profile is None:
        return ()
    return tuple(
        item
        for item in profile.body
        if isinstance(item, m.FileRule)
        and item.path
        and item.qualifiers.access is None
        and item.target is None
        and not item.exec_mode
        and compile_aare(item.path).literal
    )


def _glob(members: Sequence[list[tuple[str, str]]]) -> tuple[str, str | None]:
    """The glob of one shape's names, and what varies in it (None: nothing does)."""
    parts: list[str] = []
    varies: list[str] = []
    for position in zip(*members, strict=True):
        cls = position[0][0]
        values: set[str] = {text for _, text in position}
        if cls == "L" or len(values) == 1:
            parts.append(escape(position[0][1]))
        else:
            glob = DIGITS if cls == "D" else RANDOM
            if cls == "X" and all(_HEX.fullmatch(v) for v in values):
                glob = "[0-9a-f]*"
            parts.append(glob)
            varies.append(_CLASS_NAMES[glob])
    if not varies:
        return "", None
    return "".join(parts), " and ".join(dict.fromkeys(varies))
