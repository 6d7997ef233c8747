"""Learning from siblings: names in one directory that differ only in a number, hex or random part.

nginx writes `client_temp/0000000001`, `…0002`, `…0003`; a profile that allows just those three
denies the fourth request. When at least `MIN_FAMILY` names in one directory share a shape (the
same text around parts that vary in one class of characters), the narrowest glob that covers
the family is proposed (`client_temp/[0-9]*`), checked not to cover any other name recorded in
that directory (names of another shape stay denied).
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
    members: tuple[str, ...]  # the least rules' paths
    varies: str  # "a number", "a hex string", "a random part"

    @property
    def why(self) -> str:
        path = self.rule.path or ""
        directory = path.rsplit("/", 2 if path.endswith("/") else 1)[0]
        return (
            f"{len(self.members)} names in {directory}/ differ only in {self.varies}: "
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


def families(rules: Iterable[m.FileRule]) -> dict[str, Family]:
    """The family each least file rule belongs to, by the rule's path (rules of no family are
    absent). Rules group by directory (volatile parts generalised), qualifiers and exec mode."""
    rules = [r for r in rules if r.path and not r.exec_mode]
    groups: dict[
        tuple[str, str, m.Qualifiers, tuple[str, ...]],
        list[tuple[m.FileRule, list[tuple[str, str]]]],
    ] = {}
    seen: dict[str, set[str]] = {}  # directory -> every last segment recorded there
    for rule in rules:
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
    out: dict[str, Family] = {}
    for (directory, slash, _q, _shape_key), members in groups.items():
        names = {_split(r.path or "")[1] for r, _ in members}
        if len(names) < MIN_FAMILY:
            continue
        glob, varies = _glob([t for _, t in members])
        if varies is None:
            continue
        others = seen[directory] - {n + slash for n in names}
        pattern = compile_aare(glob + slash)
        if any(pattern.matches(other) for other in others):
            continue  # it would cover a name of another shape: no family glob
        perms = frozenset().union(*(r.perms for r, _ in members))
        first = members[0][0]
        rule = dataclasses.replace(first, path=directory + glob + slash, perms=perms)
        family = Family(rule, tuple(sorted(r.path or "" for r, _ in members)), varies)
        for member, _ in members:
            out[member.path or ""] = family
    return out


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
