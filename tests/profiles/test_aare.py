"""AppArmor globbing: every construct, variables, directory names, and escape round trips."""

from __future__ import annotations

import re
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aaprof.errors import AaprofError
from aaprof.profiles.aare import AareError, compile_aare, escape, expand_variables
from aaprof.profiles.render import aare_escape

CASES = [
    # (pattern, name, matches)
    ("/tmp/a", "/tmp/a", True),
    ("/tmp/a", "/tmp/a/", False),
    ("/tmp/a", "/tmp/ab", False),
    ("/tmp/a/", "/tmp/a/", True),
    ("/tmp/a/", "/tmp/a", False),
    ("/tmp/*", "/tmp/a", True),
    ("/tmp/*", "/tmp/", False),  # `*` alone in a component needs a character
    ("/tmp/*", "/tmp/a/", False),
    ("/tmp/*", "/tmp/a/b", False),
    ("/tmp/*/", "/tmp/a/", True),
    ("/tmp/*/", "/tmp/a", False),
    ("/tmp/*/", "/tmp//", False),
    ("/tmp/a*", "/tmp/a", True),  # not alone: may be empty
    ("/tmp/*a", "/tmp/a", True),
    ("/tmp/a*b", "/tmp/ab", True),
    ("/tmp/a*b", "/tmp/axxb", True),
    ("/tmp/a*b", "/tmp/ax/b", False),
    ("/tmp/*/x", "/tmp/a/x", True),
    ("/tmp/*/x", "/tmp/x", False),
    ("/tmp/*/x", "/tmp/a/b/x", False),
    ("/tmp/**", "/tmp/a", True),
    ("/tmp/**", "/tmp/a/", True),
    ("/tmp/**", "/tmp/a/b/c", True),
    ("/tmp/**", "/tmp/", False),
    ("/tmp/**", "/tmp", False),
    ("/tmp/**/", "/tmp/a/b/", True),
    ("/tmp/**/", "/tmp/a/b", False),
    ("/tmp/**/", "/tmp/", False),
    ("/tmp/**/x", "/tmp/a/x", True),
    ("/tmp/**/x", "/tmp/a/b/x", True),
    ("/tmp/**/x", "/tmp/x", False),
    ("/tmp/a**", "/tmp/a", True),
    ("/tmp/a**", "/tmp/a/b/c", True),
    ("/tmp/**.so", "/tmp/lib/x.so", True),
    ("/tmp/**.so", "/tmp/.so", True),
    ("/tmp/?", "/tmp/a", True),
    ("/tmp/?", "/tmp/ab", False),
    ("/tmp/?", "/tmp/", False),
    ("/tmp/a?c", "/tmp/a/c", False),
    ("/tmp/[abc]", "/tmp/b", True),
    ("/tmp/[abc]", "/tmp/d", False),
    ("/tmp/[a-c]x", "/tmp/bx", True),
    ("/tmp/[a-c]x", "/tmp/dx", False),
    ("/tmp/[^a-c]x", "/tmp/dx", True),
    ("/tmp/[^a-c]x", "/tmp/bx", False),
    ("/tmp/[^a-c]x", "/tmp//x", True),  # a negated class takes `/` (as the kernel's DFA does)
    ("/tmp/[a-]", "/tmp/-", True),
    ("/tmp/[]a]", "/tmp/]", True),
    ("/tmp/{a,b}", "/tmp/a", True),
    ("/tmp/{a,b}", "/tmp/b", True),
    ("/tmp/{a,b}", "/tmp/c", False),
    ("/tmp/{a,b}", "/tmp/{a,b}", False),
    ("/tmp/{a,b{c,d}}x", "/tmp/bdx", True),
    ("/tmp/{a,b{c,d}}x", "/tmp/bx", False),
    ("/tmp/x{,.bak}", "/tmp/x", True),
    ("/tmp/x{,.bak}", "/tmp/x.bak", True),
    ("/tmp/{*,**/}y", "/tmp/a/b/y", True),
    ("/tmp/\\*", "/tmp/*", True),
    ("/tmp/\\*", "/tmp/a", False),
    ("/tmp/\\{a,b\\}", "/tmp/{a,b}", True),
    ("/tmp/\\[a\\]", "/tmp/[a]", True),
    ("/tmp/a\\\\b", "/tmp/a\\b", True),
    ("/tmp/a\\040b", "/tmp/a b", True),
    ("/tmp/a\\x41", "/tmp/aA", True),
    ("/tmp/a\\d065", "/tmp/aA", True),
    ("/tmp/a\\tb", "/tmp/a\tb", True),
    ("/tmp/a.b", "/tmp/axb", False),  # regex metacharacters are literal
    ("/tmp/a+", "/tmp/aa", False),
    ("/tmp/(a|b)", "/tmp/(a|b)", True),
    ("/tmp//a", "/tmp/a", True),  # `//` collapses
    ("/tmp/{a/,b/}/c", "/tmp/a/c", True),
    ("/new\nline", "/new\nline", True),
    ("/tmp/*", "/tmp/new\nline", True),
]


@pytest.mark.parametrize(("pattern", "name", "want"), CASES)
def test_globbing(pattern: str, name: str, want: bool) -> None:
    assert compile_aare(pattern).matches(name) is want


VARS = {
    "HOME": ("@{HOMEDIRS}/*/", "/root/"),
    "HOMEDIRS": ("/home/",),
    "pid": ("{[1-9],[1-9][0-9]}",),
    "one": ("/srv/one",),
}


@pytest.mark.parametrize(
    ("pattern", "name", "want"),
    [
        ("@{HOME}/.cache/", "/home/user/.cache/", True),
        ("@{HOME}/.cache/", "/root/.cache/", True),
        ("@{HOME}/.cache/", "/home/.cache/", False),
        ("@{HOME}/.cache/", "/home/a/b/.cache/", False),
        ("/proc/@{pid}/status", "/proc/42/status", True),
        ("/proc/@{pid}/status", "/proc/420/status", False),
        ("/proc/@{pid}/status", "/proc/04/status", False),
        ("@{one}/**", "/srv/one/x", True),
        ("@{one}/**", "/srv/two/x", False),
        ("\\@\\{one\\}", "@{one}", True),
        ("\\@{one}", "@one", True),
    ],
)
def test_variables(pattern: str, name: str, want: bool) -> None:
    assert compile_aare(pattern, VARS).matches(name) is want


def test_expand_variables_gives_every_combination() -> None:
    got = expand_variables("@{HOME}@{X}", {"HOME": ("/a/", "/b/"), "X": ("1", "@{Y}"), "Y": ("2",)})
    assert got == ("/a/1", "/a/2", "/b/1", "/b/2")


def test_star_after_a_variable_is_alone_in_its_component() -> None:
    # as the kernel has it: `@{H}*/` does not match the directory @{H} itself
    aare = compile_aare("@{H}*/", {"H": ("/a/", "/b/")})
    assert aare.matches("/a/x/") and aare.matches("/b/x/")
    assert not aare.matches("/a/") and not aare.matches("/b/")


@pytest.mark.parametrize(
    ("pattern", "variables", "message"),
    [
        ("/tmp/{a,b", {}, "unbalanced '{'"),
        ("/tmp/a}", {}, "unbalanced '}'"),
        ("/tmp/[ab", {}, "unbalanced '['"),
        ("/tmp/a\\", {}, "dangling"),
        ("@{NOPE}/x", {}, "undefined variable @{NOPE}"),
        ("@{A}", {"A": ("@{B}",), "B": ("@{A}",)}, "refers to itself"),
        ("@{A}", {"A": ()}, "no value"),
    ],
)
def test_errors(pattern: str, variables: dict[str, tuple[str, ...]], message: str) -> None:
    with pytest.raises(AareError, match=re.escape(message)) as info:
        compile_aare(pattern, variables)
    assert isinstance(info.value, AaprofError)


def test_literal_flag() -> None:
    assert compile_aare("/usr/bin/a\\*").literal
    assert compile_aare("@{one}", VARS).literal
    for glob in ("/a*", "/a?", "/[a]", "/{a,b}", "/a/**"):
        assert not compile_aare(glob).literal, glob


def test_compiled_patterns_are_cached() -> None:
    assert compile_aare("/c/*", {"A": ["x"]}) is compile_aare("/c/*", {"A": ("x",)})


# ---- properties ---------------------------------------------------------------------------

NAME_CHARS = st.characters(exclude_characters="\x00")  # surrogates: undecodable bytes
# Kernel names hold no NUL and no `//` (which a pattern collapses).
names = st.text(NAME_CHARS, max_size=30).map(lambda s: "/" + s).filter(lambda s: "//" not in s)


@given(names)
def test_escaped_literal_matches_itself(name: str) -> None:
    assert compile_aare(escape(name)).matches(name)


@given(names, names)
def test_escaped_literal_matches_only_itself(name: str, other: str) -> None:
    assert compile_aare(escape(name)).matches(other) is (name == other)


@given(names)
def test_escaped_literal_is_literal(name: str) -> None:
    assert compile_aare(escape(name)).literal


@given(names, st.integers(min_value=0, max_value=30), NAME_CHARS)
def test_escaped_literal_rejects_one_change(name: str, at: int, ch: str) -> None:
    i = at % len(name)
    changed = name[:i] + ch + name[i + 1 :]
    assert compile_aare(escape(name)).matches(changed) is (changed == name)


# A reference matcher for `*`, `**`, `?` over a small alphabet, written as plain recursion.
small_patterns = st.text(st.sampled_from("ab/*?"), max_size=8).map(lambda s: "/" + s)
small_names = st.text(st.sampled_from("ab/"), max_size=8).map(lambda s: "/" + s)


def reference(pattern: str, name: str) -> bool:
    pattern = _collapse(pattern)

    @cache
    def go(p: int, n: int) -> bool:
        if p == len(pattern):
            return n == len(name)
        ch = pattern[p]
        if ch == "*":
            double = pattern.startswith("**", p)
            step = 2 if double else 1
            end = p
            while end < len(pattern) and pattern[end] == "*":
                end += 1
            need = p > 0 and pattern[p - 1] == "/" and (end == len(pattern) or pattern[end] == "/")
            lo = n + 1 if need else n
            for stop in range(lo, len(name) + 1):
                chunk = name[n:stop]
                fits = (double and not (need and chunk.startswith("/"))) or "/" not in chunk
                if fits and go(p + step, stop):
                    return True
            return False
        if ch == "?":
            return n < len(name) and name[n] != "/" and go(p + 1, n + 1)
        return n < len(name) and name[n] == ch and go(p + 1, n + 1)

    return go(0, 0)


def _collapse(pattern: str) -> str:
    while "//" in pattern:
        pattern = pattern.replace("//", "/")
    return pattern


@given(small_patterns, small_names)
def test_matches_reference(pattern: str, name: str) -> None:
    if "//" in name:
        return
    assert compile_aare(pattern).matches(name) is reference(pattern, name)


@given(names, names)
def test_core_aare_escape_matches_only_itself(name: str, other: str) -> None:
    # the renderer's escaping leaves `@{` alone, so such a name would read as a variable
    if "@{" in name:
        return
    pattern = aare_escape(name)
    assert compile_aare(pattern).matches(name)
    assert compile_aare(pattern).matches(other) is (name == other)
