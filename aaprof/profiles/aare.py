"""AppArmor regular expressions (AARE): path globs compiled to Python regex matchers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from aaprof.errors import AaprofError

# What `*`, `**` and `?` may consume. NUL never occurs in a kernel path name.
_NOT_SLASH = "[^/\\x00]"
_ANY = "[^\\x00]"
# A pattern `/` matches one `/` of the path, or nothing right after one: the parser collapses
# `//` (which variables like `@{HOME}/x` with HOME=`/root/` produce) and kernel names never
# hold two slashes in a row.
_SLASH = "(?:(?<=/)|/)"
# Characters an AARE gives a meaning to; `escape` puts a backslash before each.
# What is special in an AppArmor pattern; a backslash before one of these makes it literal.
AARE_META = frozenset("\\*?[]{}^")
_VAR = re.compile(r"@\{([^}]*)\}")
_SIMPLE_ESCAPES = {"a": "\a", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
Variables = Mapping[str, Iterable[str]]


class AareError(AaprofError):
    """A pattern that is not a valid AppArmor regular expression."""


@dataclass(frozen=True, slots=True)
class Aare:
    """A compiled pattern: `matches(name)` says whether a kernel object name is covered.

    `literal` is True when the pattern (variables expanded) has no glob at all: the parser
    lets such an exact rule win an exec-mode conflict with a glob rule.
    """

    pattern: str
    regex: re.Pattern[str]
    literal: bool

    def matches(self, name: str) -> bool:
        """Whether `name` (a directory's name ends in `/`) is matched by the whole pattern."""
        return self.regex.fullmatch(name) is not None


def escape(literal: str) -> str:
    """`literal` as a pattern that matches exactly that string (metacharacters backslashed).

    `@{` cannot name a variable in the result: its `{` is escaped. This is the one escape the
    renderer and the generator use (`render.aare_escape`).
    """
    return "".join("\\" + ch if ch in AARE_META else ch for ch in literal)


_BACKSLASHED = re.compile(r"\\(.)", re.DOTALL)


def unescape(pattern: str) -> str:
    """The inverse of `escape`: each backslash-escaped character as itself."""
    return _BACKSLASHED.sub(r"\1", pattern)


def compile_aare(pattern: str, variables: Variables | None = None) -> Aare:
    """Compile an AARE, expanding `@{NAME}` from `variables` (several values: alternation).

    Raises:
        AareError: an unbalanced `{}` or `[]`, a dangling `\\`, or an undefined variable.
    """
    frozen = tuple(sorted((k, tuple(v)) for k, v in (variables or {}).items()))
    return _compile(pattern, frozen)


@lru_cache(maxsize=4096)
def _compile(pattern: str, variables: tuple[tuple[str, tuple[str, ...]], ...]) -> Aare:
    parts = [_translate(_collapse(p), pattern) for p in expand_variables(pattern, dict(variables))]
    source = parts[0][0] if len(parts) == 1 else "|".join(f"(?:{src})" for src, _ in parts)
    try:
        regex = re.compile(source, re.DOTALL)
    except re.error as exc:
        raise AareError(f"invalid pattern {pattern!r}: {exc}") from exc
    return Aare(pattern, regex, all(lit for _, lit in parts))


def expand_variables(pattern: str, variables: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Every pattern `pattern` stands for, each `@{NAME}` replaced by each of its values.

    The kernel sees one pattern per combination: `@{H}*/` with H=`/a/ /b/` is `/a/*/` and
    `/b/*/`, each `*` alone in its component (not `{/a/,/b/}*/`, where it could be empty).
    Values may use other variables; a variable that refers to itself is an error.
    """
    return tuple(dict.fromkeys(_expand(pattern, variables, ())))


def _expand(
    pattern: str, variables: Mapping[str, tuple[str, ...]], seen: tuple[str, ...]
) -> list[str]:
    pos = 0
    while (m := _VAR.search(pattern, pos)) is not None and _escaped(pattern, m.start()):
        pos = m.start() + 1
    if m is None:
        return [pattern]
    name = m.group(1)
    if name not in variables:
        raise AareError(f"undefined variable @{{{name}}} in {pattern!r}")
    if name in seen:
        raise AareError(f"variable @{{{name}}} refers to itself")
    if not variables[name]:
        raise AareError(f"variable @{{{name}}} has no value")
    head, tail = pattern[: m.start()], pattern[m.end() :]
    out = []
    for value in variables[name]:
        for v in _expand(value, variables, (*seen, name)):
            out.extend(_expand(head + v + tail, variables, seen))
    return out


def _collapse(pattern: str) -> str:
    """`//` → `/` (the parser's own filtering), a leading `//` kept."""
    return (
        pattern[:1] + re.sub("/{2,}", "/", pattern[1:])
        if pattern.startswith("//")
        else re.sub("/{2,}", "/", pattern)
    )


def _escaped(text: str, index: int) -> bool:
    """Whether the character at `index` follows an odd number of backslashes."""
    count = 0
    while index - count - 1 >= 0 and text[index - count - 1] == "\\":
        count += 1
    return count % 2 == 1


def _translate(aare: str, original: str) -> tuple[str, bool]:
    """The Python regex for an expanded AARE, and whether it was free of globs."""
    out: list[str] = []
    depth, i, literal = 0, 0, True
    while i < len(aare):
        ch = aare[i]
        if ch == "\\":
            text, i = _escape_sequence(aare, i, original)
            out.append(re.escape(text))
            continue
        if ch == "*":
            out.append(_stars(aare, i))
            i += 2 if aare.startswith("**", i) else 1
            literal = False
            continue
        if ch == "[":
            cls, i = _char_class(aare, i, original)
            out.append(cls)
            literal = False
            continue
        i += 1
        if ch == "?":
            out.append(_NOT_SLASH)
        elif ch == "{":
            depth += 1
            out.append("(?:")
        elif ch == "}" and depth:
            depth -= 1
            out.append(")")
        elif ch == "," and depth:
            out.append("|")
        elif ch == "}":
            raise AareError(f"unbalanced '}}' in {original!r}")
        elif ch == "/":
            out.append(_SLASH)
            continue
        else:
            out.append(re.escape(ch))
            continue
        literal = False
    if depth:
        raise AareError(f"unbalanced '{{' in {original!r}")
    return "".join(out), literal


def _stars(aare: str, i: int) -> str:
    """`*` or `**` at `i`. As the only content of a path component (`/*`, `/**/`), the
    run of stars must consume at least one character, so `/tmp/*` does not match `/tmp/`."""
    double = aare.startswith("**", i)
    body = f"{_ANY}*" if double else f"{_NOT_SLASH}*"
    end = i
    while end < len(aare) and aare[end] == "*":
        end += 1
    whole_component = i > 0 and aare[i - 1] == "/" and (end == len(aare) or aare[end] == "/")
    return _NOT_SLASH + body if whole_component else body


def _escape_sequence(aare: str, i: int, original: str) -> tuple[str, int]:
    """The character(s) a backslash sequence at `i` stands for, and the index after it."""
    if i + 1 >= len(aare):
        raise AareError(f"dangling '\\' at the end of {original!r}")
    nxt = aare[i + 1]
    if nxt in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[nxt], i + 2
    if nxt == "x" and (m := re.match(r"[0-9a-fA-F]{1,2}", aare[i + 2 :])):
        return chr(int(m.group(), 16)), i + 2 + m.end()
    if nxt == "d" and (m := re.match(r"[0-9]{1,3}", aare[i + 2 :])):
        return chr(int(m.group())), i + 2 + m.end()
    if m := re.match(r"[0-7]{3}", aare[i + 1 :]):
        return chr(int(m.group(), 8)), i + 1 + m.end()
    return nxt, i + 2


def _char_class(aare: str, i: int, original: str) -> tuple[str, int]:
    """`[...]` at `i` as a Python class and the index after it. `]` first is a member."""
    j = i + 1
    negate = j < len(aare) and aare[j] == "^"
    if negate:
        j += 1
    members: list[str] = []
    first = True
    while j < len(aare) and (aare[j] != "]" or first):
        first = False
        if aare[j] == "\\":
            text, j = _escape_sequence(aare, j, original)
            members.append(_class_char(text))
        elif aare[j] == "-" and members and j + 1 < len(aare) and aare[j + 1] != "]":
            members.append("-")
            j += 1
        else:
            members.append(_class_char(aare[j]))
            j += 1
    if j >= len(aare):
        raise AareError(f"unbalanced '[' in {original!r}")
    # the kernel's DFA takes a negated class over every byte but NUL, `/` included
    return "[" + ("^\\x00" if negate else "") + "".join(members) + "]", j + 1


def _class_char(ch: str) -> str:
    return "\\" + ch if ch in "\\]-^[" else ch
